/* yamlsplice.h: YAML edited in place. A stream is parsed with libyaml and every node keeps the
 * byte range it came from, so a change is a splice of the input's text: what is not changed,
 * comments included, is copied through byte for byte, and what is added is made by libyaml's
 * emitter (yb_* below), never by pasting strings. Used by `mlchaos inject` only; the library
 * never links libyaml. */
#ifndef MC_CLI_YAMLSPLICE_H
#define MC_CLI_YAMLSPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* The input: its text, the name messages give it, and where each line starts. */
struct ys_src {
	const char *name;
	const char *text;
	size_t len;
	size_t *line_start;
	size_t n_lines;
};

struct ys_doc {
	yaml_document_t doc;
	size_t start; /* byte offset of the document (its "---" when written) */
	size_t end;   /* where the next document starts, or the end of the text */
};

struct ys_stream {
	struct ys_src src;
	struct ys_doc *docs;
	size_t n_docs;
};

/* Parses text (not copied; must outlive the stream). 0, or -1 after printing
 * "NAME:LINE: problem" on stderr (then nothing is left to free). */
int ys_load(struct ys_stream *s, const char *name, const char *text, size_t len);
void ys_free(struct ys_stream *s);

/* The byte offset of a libyaml mark (whose index counts characters, not bytes). */
size_t ys_offset(const struct ys_src *src, yaml_mark_t mark);

yaml_node_t *ys_node(struct ys_doc *d, int id);
/* The value of key in mapping node m (a scalar key), or NULL. */
yaml_node_t *ys_get(struct ys_doc *d, yaml_node_t *m, const char *key);
/* The pair of key in mapping m, or NULL. */
yaml_node_pair_t *ys_pair(struct ys_doc *d, yaml_node_t *m, const char *key);
/* Whether n is a scalar equal to s. */
bool ys_is(const yaml_node_t *n, const char *s);
bool ys_block(const yaml_node_t *n);
size_t ys_count(const yaml_node_t *n); /* items of a sequence, pairs of a mapping */

/* Where n's own text ends: after a scalar or a flow collection's closing bracket, after the
 * last such piece inside a block collection (not after the comments that follow it). */
size_t ys_content_end(const struct ys_src *src, struct ys_doc *d, yaml_node_t *n);
/* The start of the line holding offset at, and the offset after the line break that ends
 * the line holding at (the text's length on a last line without one). */
size_t ys_line_begin(const struct ys_src *src, size_t at);
size_t ys_line_after(const struct ys_src *src, size_t at);
/* The column of the first key (mapping) or of the first item's '-' (sequence) of a block
 * collection that has one. */
size_t ys_block_column(const struct ys_src *src, struct ys_doc *d, yaml_node_t *n);

/* ---- edits ---------------------------------------------------------------------------- */

/* Replace del bytes at at with ins (owned, may be NULL). Of insertions at one offset, the
 * deeper goes first (it belongs to the lines above it), then the order they were added;
 * deletions must not overlap insertions. */
struct ys_edit {
	size_t at, del;
	size_t depth;
	char *ins;
};

struct ys_edits {
	struct ys_edit *v;
	size_t n, cap;
};

/* depth: twice the column of block lines inserted, plus one for a sequence's items (an
 * indentless sequence's items belong to the key at their column); 0 for flow text. */
void ys_insert(struct ys_edits *e, size_t at, size_t depth, char *ins);
void ys_delete(struct ys_edits *e, size_t from, size_t to);
/* Drops the edits without applying them. */
void ys_edits_free(struct ys_edits *e);
/* The text with every edit applied (overlapping deletions merged), or NULL (out of memory).
 * Frees the edits. */
char *ys_apply(struct ys_edits *e, const char *text, size_t len, size_t *ret_len);

/* ---- building what is added (a libyaml document, emitted) ------------------------------- */

/* A scalar: plain when the text reads as a string in plain style, else double quoted. */
int yb_str(yaml_document_t *d, const char *s);
int yb_int(yaml_document_t *d, long v);
int yb_bool(yaml_document_t *d, bool v);
int yb_map(yaml_document_t *d);
int yb_seq(yaml_document_t *d);
void yb_put(yaml_document_t *d, int map, const char *key, int value);
void yb_push(yaml_document_t *d, int seq, int item);
/* A copy of node n of src (scalars keep their style), into d. */
int yb_copy(yaml_document_t *d, struct ys_doc *src, yaml_node_t *n);

/* Emits d (whose root is node 1) and destroys it. block: block style, each line prefixed by
 * indent spaces; else flow style without the root's brackets, to go inside existing ones.
 * Returns malloc'd text, or NULL. */
char *yb_emit(yaml_document_t *d, bool block, size_t indent);

#endif
