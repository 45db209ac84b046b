/* internal.h: what the recognisers of shim/formats/ share: the state of one recognition (the
 * file, the allocator, the message, the map being built), bounded reads, a windowed cursor for
 * headers of unknown length, a sort that never allocates, and the small parsers (JSON for
 * safetensors). Nothing here keeps global state or calls a hooked libc function. */
#ifndef MC_FORMATS_INTERNAL_H
#define MC_FORMATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensors.h"

/* A length that mc_tf_add() resolves in mc_tf_finish(): up to the next tensor's first byte,
 * or to the end of the file (GGUF tensors of a type whose size we do not know). */
#define MC_TF_LEN_TO_NEXT UINT64_MAX

/* One recognition: the file, the allocator, the message and the map being built. */
struct mc_tf {
	const struct mc_tensor_src *src;
	const struct mc_tensor_alloc *a;
	const char *format; /* prefix of every message: "safetensors", "gguf", ... */
	char *why;
	size_t why_len;
	struct mc_tensor *t; /* growing; names are offsets into names */
	uint32_t n, cap;
	char *names;
	size_t names_len, names_cap;
	bool last_added; /* the last mc_tf_add() added a tensor (mc_tf_shape() applies) */
};

/* Writes "FORMAT: MESSAGE" into why (one line: control bytes become '?') and returns -1.
 * Supports %s %.*s %c %d %u %x with the modifiers l, ll and z; nothing else. */
int mc_tf_fail(struct mc_tf *tf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation through the caller's allocator; on failure why says so and NULL is returned. */
void *mc_tf_alloc(struct mc_tf *tf, size_t n);
void mc_tf_free(struct mc_tf *tf, void *p);

/* Reads exactly len bytes at off, or fails (-1, why says "WHAT ... past the end of the file"
 * or "read error"). */
int mc_tf_read(struct mc_tf *tf, uint64_t off, void *buf, size_t len, const char *what);

/* Reads len bytes at off into a new buffer with a NUL after them; the caller has checked
 * len against MC_TENSOR_HEADER_MAX. NULL on failure (why is set). */
char *mc_tf_read_alloc(struct mc_tf *tf, uint64_t off, uint64_t len, const char *what);

/* Adds a tensor: len 0 is skipped, off + len must lie inside the file (overflow checked);
 * len may be MC_TF_LEN_TO_NEXT. Names longer than MC_TENSOR_NAME_MAX are cut. 0 or -1. */
int mc_tf_add(struct mc_tf *tf, uint64_t off, uint64_t len, const char *name, size_t name_len,
              enum mc_dtype dt, bool big_endian);

/* Sets the shape (ndim dims, outermost first) of the tensor the last mc_tf_add() added; a
 * no-op when that call added none (len 0). 0, or -1 when out of memory. */
int mc_tf_shape(struct mc_tf *tf, const uint64_t *dims, unsigned ndim);

/* Grows the array *p of *cap elements of elem bytes to hold need of them (doubling, through
 * the caller's allocator; the old contents are kept). 0, or -1 when out of memory. */
int mc_tf_grow(struct mc_tf *tf, void **p, size_t *cap, size_t elem, size_t need);

/* Sorts the tensors by offset, resolves MC_TF_LEN_TO_NEXT, drops what came out empty,
 * refuses overlaps and builds the one-allocation map. 1 (success) or -1. */
int mc_tf_finish(struct mc_tf *tf, enum mc_tensor_format format, struct mc_tensor_map **ret);

/* The recognisers: each is called once the magic matched, returns 1, 0 or -1 as
 * mc_tensor_recognize does, and leaves the tensors in tf (the caller finishes the map). */
int mc_tf_safetensors(struct mc_tf *tf);
int mc_tf_gguf(struct mc_tf *tf);
int mc_tf_npy(struct mc_tf *tf);
int mc_tf_torchzip(struct mc_tf *tf);
int mc_tf_onnx(struct mc_tf *tf);
/* Plain pickles and joblib files (pickle.c): *ret_format says which (MC_TF_JOBLIB once a
 * joblib NumpyArrayWrapper was seen, else MC_TF_PICKLE). */
int mc_tf_pickle(struct mc_tf *tf, enum mc_tensor_format *ret_format);

/* In-place heapsort: O(n log n) on any input, no allocation (qsort may call malloc). */
void mc_tf_sort(void *base, size_t n, size_t size,
                int (*cmp)(const void *a, const void *b, void *ctx), void *ctx);

/* A forward reader over [0, min(file size, limit)) through a window of cap bytes, for headers
 * whose length is known only once they are parsed (GGUF). */
struct mc_tf_cur {
	struct mc_tf *tf;
	uint64_t pos;
	uint64_t limit; /* reading past it fails: the end of the file or the header limit */
	uint8_t *buf;
	size_t cap;
	uint64_t buf_off;
	size_t buf_len;
};

/* 0, or -1 with why set ("truncated: WHAT at offset X is past the end of the file"). */
int mc_tf_cur_get(struct mc_tf_cur *c, void *dst, size_t n, const char *what);
int mc_tf_cur_skip(struct mc_tf_cur *c, uint64_t n, const char *what);
int mc_tf_cur_u32(struct mc_tf_cur *c, uint32_t *ret, const char *what);
int mc_tf_cur_u64(struct mc_tf_cur *c, uint64_t *ret, const char *what);

static inline uint16_t mc_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t mc_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t mc_le64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)mc_le32(b) | (uint64_t)mc_le32(b + 4) << 32;
}

/* ---- JSON (safetensors headers): a bounded scanner over [p, end) ---- */

#define MC_TF_JSON_DEPTH_MAX 64 /* nesting skipped inside a value; deeper is malformed */

struct mc_tf_json {
	const char *start, *p, *end;
	const char *err; /* what was wrong, at p */
};

/* Skips blanks; true when the next byte is c (then consumed). */
bool mc_tf_json_eat(struct mc_tf_json *j, char c);
/* A string: *ret_raw points at its body (escapes still in), validated. 0 or -1. */
int mc_tf_json_string(struct mc_tf_json *j, const char **ret_raw, size_t *ret_raw_len);
/* Decodes a validated string body into out (at most cap bytes, cut at a character); returns
 * the bytes written. \u0000 becomes '?' so names stay C strings. */
size_t mc_tf_json_unescape(const char *raw, size_t raw_len, char *out, size_t cap);
/* True when a validated body equals the plain ASCII word s (no escapes in s). */
bool mc_tf_json_is(const char *raw, size_t raw_len, const char *s);
/* A non-negative integer that fits in 64 bits (no sign, fraction or exponent). 0 or -1. */
int mc_tf_json_u64(struct mc_tf_json *j, uint64_t *ret);
/* Any value, nested at most MC_TF_JSON_DEPTH_MAX deep. 0 or -1. */
int mc_tf_json_skip(struct mc_tf_json *j);

/* ---- pickle (PyTorch data.pkl, plain pickles, joblib): a walk that executes nothing ---- */

/* What the walk reports. storage(): a persistent id ('storage', torch.<X>Storage, key, ...)
 * was seen; returns the caller's index for key, or -1 when no record has it. name(): a value
 * holding storage index idx was stored in a dict under the string key. shape(): optional. */
struct mc_pickle_hooks {
	int32_t (*storage)(void *ctx, const char *key, size_t key_len, enum mc_dtype dt);
	void (*name)(void *ctx, int32_t idx, const char *key, size_t key_len);
	void *ctx;
	/* right after name() for the same value, or at STOP for a pickle of one tensor: the
	 * tensor built on storage idx (_rebuild_tensor_v2) has storage offset 0 and the size
	 * dims[0, ndim), ndim at most MC_PICKLE_NDIM_MAX (dims: the walk's, valid during the
	 * call only; NULL when ndim is 0) */
	void (*shape)(void *ctx, int32_t idx, const uint64_t *dims, unsigned ndim);
};

#define MC_PICKLE_MARKS_MAX      1024u      /* nesting of MARKs; deeper is malformed */
#define MC_PICKLE_STACK_MAX      (1u << 18) /* values on the stack at once */
#define MC_PICKLE_MEMO_MAX       (1u << 18) /* memo slots kept; later ones read as "unknown" */
#define MC_PICKLE_NDIM_MAX       32         /* dims of an array shape (numpy's own limit is 64) */
#define MC_PICKLE_DIMS_MAX       (1u << 20) /* int tuples' items kept as shapes; later: no shape */
#define MC_PICKLE_NODES_MAX      (1u << 20) /* containers kept for naming; later: ordinal names */
#define MC_PICKLE_PATH_MAX       64         /* containers named in a path, innermost kept */
#define MC_PICKLE_PATH_STEPS_MAX 256        /* links followed up from an array to name it */

/* True when op is a pickle opcode this walker knows (the recogniser's cheap first test). */
bool mc_pickle_opcode_known(uint8_t op);

/* Walks the pickle p[0, n) to its STOP. 0, or -1 with why set (unknown opcode, truncated,
 * stack underflow, nested too deep, out of memory). Time and memory are linear in n. */
int mc_pickle_walk(struct mc_tf *tf, const uint8_t *p, size_t n, const struct mc_pickle_hooks *h);

#endif
