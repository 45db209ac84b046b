/* yamlsplice.c: a YAML stream parsed with libyaml, its nodes mapped back to byte ranges of the
 * input, and the splices that change it. Never re-emits what it does not change: that is how
 * comments, quoting and key order survive. */
#include "yamlsplice.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("mlchaos inject: out of memory\n", stderr);
		exit(2);
	}
	return q;
}

static int index_lines(struct ys_src *src)
{
	size_t cap = 64;
	src->line_start = xrealloc(NULL, cap * sizeof(size_t));
	src->n_lines = 0;
	src->line_start[src->n_lines++] = 0;
	for (size_t i = 0; i < src->len; i++) {
		if (src->text[i] != '\n')
			continue;
		if (src->n_lines == cap) {
			cap *= 2;
			src->line_start = xrealloc(src->line_start, cap * sizeof(size_t));
		}
		src->line_start[src->n_lines++] = i + 1;
	}
	return 0;
}

size_t ys_offset(const struct ys_src *src, yaml_mark_t mark)
{
	if (mark.line >= src->n_lines)
		return src->len;
	size_t at = src->line_start[mark.line];
	/* libyaml counts columns in characters: step over UTF-8 sequences, not bytes. */
	for (size_t col = 0; col < mark.column && at < src->len; col++) {
		unsigned char c = (unsigned char)src->text[at];
		at += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	}
	return at < src->len ? at : src->len;
}

static void parse_error(const struct ys_src *src, const yaml_parser_t *p)
{
	fprintf(stderr, "%s:%zu: %s", src->name, p->problem_mark.line + 1,
	        p->problem ? p->problem : "malformed YAML");
	if (p->context)
		fprintf(stderr, " (%s at line %zu)", p->context, p->context_mark.line + 1);
	fputs("\n", stderr);
}

int ys_load(struct ys_stream *s, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	s->src.name = name;
	s->src.text = text;
	s->src.len = len;
	index_lines(&s->src);
	if (!yaml_parser_initialize(&parser)) {
		fputs("mlchaos inject: out of memory\n", stderr);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			parse_error(&s->src, &parser);
			yaml_parser_delete(&parser);
			ys_free(s);
			return -1;
		}
		if (!yaml_document_get_root_node(&doc)) {
			yaml_document_delete(&doc);
			break;
		}
		if (s->n_docs == cap) {
			cap = cap ? 2 * cap : 8;
			s->docs = xrealloc(s->docs, cap * sizeof(*s->docs));
		}
		s->docs[s->n_docs].doc = doc;
		s->docs[s->n_docs].start = ys_offset(&s->src, doc.start_mark);
		s->n_docs++;
	}
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < s->n_docs; i++)
		s->docs[i].end = i + 1 < s->n_docs ? s->docs[i + 1].start : len;
	return 0;
}

void ys_free(struct ys_stream *s)
{
	for (size_t i = 0; i < s->n_docs; i++)
		yaml_document_delete(&s->docs[i].doc);
	free(s->docs);
	free(s->src.line_start);
	memset(s, 0, sizeof(*s));
}

yaml_node_t *ys_node(struct ys_doc *d, int id)
{
	return id ? yaml_document_get_node(&d->doc, id) : NULL;
}

bool ys_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

yaml_node_pair_t *ys_pair(struct ys_doc *d, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (ys_is(ys_node(d, p->key), key))
			return p;
	return NULL;
}

yaml_node_t *ys_get(struct ys_doc *d, yaml_node_t *m, const char *key)
{
	yaml_node_pair_t *p = ys_pair(d, m, key);
	return p ? ys_node(d, p->value) : NULL;
}

bool ys_block(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.style != YAML_FLOW_SEQUENCE_STYLE;
	if (n->type == YAML_MAPPING_NODE)
		return n->data.mapping.style != YAML_FLOW_MAPPING_STYLE;
	return false;
}

size_t ys_count(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

size_t ys_content_end(const struct ys_src *src, struct ys_doc *d, yaml_node_t *n)
{
	size_t end = 0;

	if (!ys_block(n) || ys_count(n) == 0)
		return ys_offset(src, n->end_mark);
	if (n->type == YAML_SEQUENCE_NODE)
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			end = max_size(end, ys_content_end(src, d, ys_node(d, *i)));
	else
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++)
			end = max_size(end, ys_content_end(src, d, ys_node(d, p->value)));
	return end;
}

size_t ys_line_begin(const struct ys_src *src, size_t at)
{
	while (at > 0 && src->text[at - 1] != '\n')
		at--;
	return at;
}

size_t ys_line_after(const struct ys_src *src, size_t at)
{
	if (at > 0 && at <= src->len && src->text[at - 1] == '\n')
		return at; /* a block scalar ends after its line break */
	while (at < src->len && src->text[at] != '\n')
		at++;
	return at < src->len ? at + 1 : src->len;
}

size_t ys_block_column(const struct ys_src *src, struct ys_doc *d, yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return ys_node(d, n->data.mapping.pairs.start->key)->start_mark.column;
	/* The item starts after "- " (or more spaces, or a line break): its dash is the first
	 * character before it that is not white space. */
	yaml_node_t *item = ys_node(d, *n->data.sequence.items.start);
	size_t at = ys_offset(src, item->start_mark);
	while (at > 0 && strchr(" \t\r\n", src->text[at - 1]))
		at--;
	if (at == 0 || src->text[at - 1] != '-')
		return item->start_mark.column;
	return at - 1 - ys_line_begin(src, at - 1);
}

/* ---- edits ---------------------------------------------------------------------------- */

static void add_edit(struct ys_edits *e, size_t at, size_t del, size_t depth, char *ins)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 16;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n++] = (struct ys_edit){ .at = at, .del = del, .depth = depth, .ins = ins };
}

void ys_insert(struct ys_edits *e, size_t at, size_t depth, char *ins)
{
	add_edit(e, at, 0, depth, ins);
}

void ys_edits_free(struct ys_edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].ins);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

void ys_delete(struct ys_edits *e, size_t from, size_t to)
{
	if (to > from)
		add_edit(e, from, to - from, 0, NULL);
}

/* By offset, the deeper first at one offset; insertion sort keeps the order of the rest. */
static bool before(const struct ys_edit *a, const struct ys_edit *b)
{
	return a->at < b->at || (a->at == b->at && a->depth > b->depth);
}

static void sort_edits(struct ys_edits *e)
{
	for (size_t i = 1; i < e->n; i++) {
		struct ys_edit x = e->v[i];
		size_t j = i;
		while (j > 0 && before(&x, &e->v[j - 1])) {
			e->v[j] = e->v[j - 1];
			j--;
		}
		e->v[j] = x;
	}
}

char *ys_apply(struct ys_edits *e, const char *text, size_t len, size_t *ret_len)
{
	size_t cap = len + 1, n = 0, from = 0;
	char *out;

	for (size_t i = 0; i < e->n; i++)
		cap += e->v[i].ins ? strlen(e->v[i].ins) : 0;
	out = xrealloc(NULL, cap);
	sort_edits(e);
	for (size_t i = 0; i < e->n; i++) {
		struct ys_edit *x = &e->v[i];
		if (x->at > from) {
			memcpy(out + n, text + from, x->at - from);
			n += x->at - from;
			from = x->at;
		}
		if (x->ins) {
			size_t k = strlen(x->ins);
			memcpy(out + n, x->ins, k);
			n += k;
		}
		/* Overlapping deletions merge: a span already deleted is not copied again. */
		if (x->at + x->del > from)
			from = x->at + x->del;
		free(x->ins);
	}
	memcpy(out + n, text + from, len - from);
	n += len - from;
	out[n] = '\0';
	free(e->v);
	memset(e, 0, sizeof(*e));
	*ret_len = n;
	return out;
}

/* ---- building ------------------------------------------------------------------------- */

/* Plain text that a YAML 1.1 or 1.2 reader (Kubernetes' included) would take for something
 * other than a string: null, booleans (yes/no/on/off too), numbers in any of their forms
 * (0x1F, 0o17, 1_000, 1:20, 1e3, .inf). Errs on the side of quoting: "0.0.0.0:9464" is
 * quoted though it would read as a string. */
static bool reads_as_non_string(const char *s)
{
	static const char *const words[] = {
		"",      "~",     "null", "Null",  "NULL",  "true", "True", "TRUE", "false",
		"False", "FALSE", "yes",  "Yes",   "YES",   "no",   "No",   "NO",   "on",
		"On",    "ON",    "off",  "Off",   "OFF",   "y",    "Y",    "n",    "N",
		".inf",  ".Inf",  ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return strchr("0123456789+-.", s[0]) &&
	       strspn(s, "0123456789+-._:xXoObBeEaAcCdDfF") == strlen(s);
}

/* libyaml refuses text that is not UTF-8 (returns 0, which would fail an assertion later). */
static int checked(int id)
{
	if (id <= 0) {
		fputs("mlchaos inject: a value is not valid UTF-8 text\n", stderr);
		exit(2);
	}
	return id;
}

int yb_str(yaml_document_t *d, const char *s)
{
	return checked(yaml_document_add_scalar(
	    d, NULL, (yaml_char_t *)s, -1,
	    reads_as_non_string(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE));
}

int yb_int(yaml_document_t *d, long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%ld", v);
	return yaml_document_add_scalar(d, NULL, (yaml_char_t *)buf, -1, YAML_PLAIN_SCALAR_STYLE);
}

int yb_bool(yaml_document_t *d, bool v)
{
	return yaml_document_add_scalar(d, NULL, (yaml_char_t *)(v ? "true" : "false"), -1,
	                                YAML_PLAIN_SCALAR_STYLE);
}

int yb_map(yaml_document_t *d)
{
	return yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
}

int yb_seq(yaml_document_t *d)
{
	return yaml_document_add_sequence(d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
}

void yb_put(yaml_document_t *d, int map, const char *key, int value)
{
	yaml_document_append_mapping_pair(d, map, yb_str(d, key), value);
}

void yb_push(yaml_document_t *d, int seq, int item)
{
	yaml_document_append_sequence_item(d, seq, item);
}

int yb_copy(yaml_document_t *d, struct ys_doc *src, yaml_node_t *n)
{
	int id;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		return yaml_document_add_scalar(d, NULL, n->data.scalar.value,
		                                (int)n->data.scalar.length, n->data.scalar.style);
	case YAML_SEQUENCE_NODE:
		id = yb_seq(d);
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			yb_push(d, id, yb_copy(d, src, ys_node(src, *i)));
		return id;
	case YAML_MAPPING_NODE:
		id = yb_map(d);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++)
			yaml_document_append_mapping_pair(d, id,
			                                  yb_copy(d, src, ys_node(src, p->key)),
			                                  yb_copy(d, src, ys_node(src, p->value)));
		return id;
	default:
		return yaml_document_add_scalar(d, NULL, (yaml_char_t *)"", 0,
		                                YAML_ANY_SCALAR_STYLE);
	}
}

struct out_buf {
	char *p;
	size_t n, cap;
};

static int write_out(void *data, unsigned char *buf, size_t size)
{
	struct out_buf *o = data;
	if (o->n + size + 1 > o->cap) {
		o->cap = 2 * (o->n + size + 1);
		o->p = xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->n, buf, size);
	o->n += size;
	o->p[o->n] = '\0';
	return 1;
}

/* Each line of text prefixed by indent spaces. */
static char *indent_lines(const char *text, size_t indent)
{
	size_t lines = 0, len = strlen(text), n = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	char *out = xrealloc(NULL, len + (lines + 1) * indent + 1);
	for (size_t i = 0; i < len; i++) {
		if (i == 0 || text[i - 1] == '\n') {
			memset(out + n, ' ', indent);
			n += indent;
		}
		out[n++] = text[i];
	}
	out[n] = '\0';
	return out;
}

char *yb_emit(yaml_document_t *d, bool block, size_t indent)
{
	yaml_emitter_t emitter;
	struct out_buf o = { 0 };
	yaml_node_t *root = yaml_document_get_root_node(d);

	if (!block && root->type == YAML_MAPPING_NODE)
		root->data.mapping.style = YAML_FLOW_MAPPING_STYLE;
	else if (!block)
		root->data.sequence.style = YAML_FLOW_SEQUENCE_STYLE;
	if (!yaml_emitter_initialize(&emitter)) {
		yaml_document_delete(d);
		return NULL;
	}
	yaml_emitter_set_output(&emitter, write_out, &o);
	yaml_emitter_set_indent(&emitter, 2);
	yaml_emitter_set_width(&emitter, -1);
	yaml_emitter_set_unicode(&emitter, 1);
	if (!yaml_emitter_open(&emitter) || !yaml_emitter_dump(&emitter, d) ||
	    !yaml_emitter_close(&emitter)) {
		yaml_emitter_delete(&emitter);
		free(o.p);
		return NULL;
	}
	yaml_emitter_delete(&emitter);
	if (!o.p)
		return NULL;
	if (block) {
		char *out = indent_lines(o.p, indent);
		free(o.p);
		return out;
	}
	/* "[a, b]\n" or "{k: v}\n": the entries only, to go between existing brackets. */
	while (o.n > 0 && (o.p[o.n - 1] == '\n' || o.p[o.n - 1] == ' '))
		o.n--;
	if (o.n < 2) {
		free(o.p);
		return NULL;
	}
	memmove(o.p, o.p + 1, o.n - 2);
	o.p[o.n - 2] = '\0';
	return o.p;
}
