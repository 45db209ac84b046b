/* gguf.c: the GGUF recogniser (versions 2 and 3, little-endian). Magic, version, tensor and
 * key-value counts, the key-values (skipped with bounds, general.alignment kept), the tensor
 * infos, and the data from the aligned end of the infos. The header is read through a window,
 * so a large vocabulary costs a few reads, not its size in memory; no count from the file is
 * trusted before the bytes it needs are known to be there. */
#include <string.h>

#include "internal.h"

#define GGUF_WINDOW        (64u << 10)
#define GGUF_MAX_DIMS      4
#define GGUF_ARRAY_DEPTH   8 /* nested arrays deeper than this are malformed */
#define GGUF_DEFAULT_ALIGN 32
#define GGUF_ALIGN_MAX     (1u << 20)

enum gguf_kv_type {
	KV_U8,
	KV_I8,
	KV_U16,
	KV_I16,
	KV_U32,
	KV_I32,
	KV_F32,
	KV_BOOL,
	KV_STRING,
	KV_ARRAY,
	KV_U64,
	KV_I64,
	KV_F64,
	KV_TYPES
};

/* Bytes of a fixed-size value type; 0 for strings and arrays. */
static const uint8_t kv_size[KV_TYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* ggml types: elements per block and bytes per block (0 = a type we do not size). */
struct ggml_type {
	uint16_t block;
	uint16_t bytes;
	enum mc_dtype dt;
};

static const struct ggml_type ggml_types[] = {
	[0] = { 1, 4, MC_DT_F32 },       /* F32 */
	[1] = { 1, 2, MC_DT_F16 },       /* F16 */
	[2] = { 32, 18, MC_DT_Q4_0 },    /* Q4_0 */
	[3] = { 32, 20, MC_DT_Q4_1 },    /* Q4_1 */
	[6] = { 32, 22, MC_DT_Q5_0 },    /* Q5_0 */
	[7] = { 32, 24, MC_DT_Q5_1 },    /* Q5_1 */
	[8] = { 32, 34, MC_DT_Q8_0 },    /* Q8_0 */
	[9] = { 32, 36, MC_DT_Q8_1 },    /* Q8_1 */
	[10] = { 256, 84, MC_DT_Q2_K },  /* Q2_K */
	[11] = { 256, 110, MC_DT_Q3_K }, /* Q3_K */
	[12] = { 256, 144, MC_DT_Q4_K }, /* Q4_K */
	[13] = { 256, 176, MC_DT_Q5_K }, /* Q5_K */
	[14] = { 256, 210, MC_DT_Q6_K }, /* Q6_K */
	[15] = { 256, 292, MC_DT_Q8_K }, /* Q8_K */
	[24] = { 1, 1, MC_DT_I8 },       /* I8 */
	[25] = { 1, 2, MC_DT_I16 },      /* I16 */
	[26] = { 1, 4, MC_DT_I32 },      /* I32 */
	[27] = { 1, 8, MC_DT_I64 },      /* I64 */
	[28] = { 1, 8, MC_DT_F64 },      /* F64 */
	[30] = { 1, 2, MC_DT_BF16 },     /* BF16 */
};

struct gguf {
	struct mc_tf *tf;
	struct mc_tf_cur c;
	uint64_t alignment;
};

static int read_string_len(struct gguf *g, uint64_t *ret, const char *what)
{
	return mc_tf_cur_u64(&g->c, ret, what);
}

static int skip_value(struct gguf *g, uint32_t type, int depth);

/* An array: element type, count, elements. Fixed-size elements are skipped in one step;
 * strings and nested arrays one by one, each at least 8 bytes, so the loop is bounded by
 * the bytes actually present. */
static int skip_array(struct gguf *g, int depth)
{
	uint32_t type;
	uint64_t count, bytes;
	if (depth >= GGUF_ARRAY_DEPTH)
		return mc_tf_fail(g->tf, "arrays nested deeper than %d", GGUF_ARRAY_DEPTH);
	if (mc_tf_cur_u32(&g->c, &type, "an array's type") < 0 ||
	    mc_tf_cur_u64(&g->c, &count, "an array's count") < 0)
		return -1;
	if (type >= KV_TYPES)
		return mc_tf_fail(g->tf, "array of unknown value type %u at offset %llu", type,
		                  (unsigned long long)g->c.pos);
	if (kv_size[type]) {
		if (__builtin_mul_overflow(count, (uint64_t)kv_size[type], &bytes))
			return mc_tf_fail(g->tf, "array count %llu is too large",
			                  (unsigned long long)count);
		return mc_tf_cur_skip(&g->c, bytes, "an array");
	}
	/* Each string or array takes at least 8 bytes: refuse a count the file cannot hold. */
	if (count > (g->c.limit - g->c.pos) / 8)
		return mc_tf_fail(g->tf, "array count %llu is past the end of the header",
		                  (unsigned long long)count);
	for (uint64_t i = 0; i < count; i++)
		if (skip_value(g, type, depth + 1) < 0)
			return -1;
	return 0;
}

static int skip_value(struct gguf *g, uint32_t type, int depth)
{
	uint64_t len;
	if (type >= KV_TYPES)
		return mc_tf_fail(g->tf, "unknown value type %u at offset %llu", type,
		                  (unsigned long long)g->c.pos);
	if (type == KV_STRING)
		return read_string_len(g, &len, "a string's length") < 0
		           ? -1
		           : mc_tf_cur_skip(&g->c, len, "a string");
	if (type == KV_ARRAY)
		return skip_array(g, depth);
	return mc_tf_cur_skip(&g->c, kv_size[type], "a value");
}

/* general.alignment: an unsigned integer, a power of two. */
static int read_alignment(struct gguf *g, uint32_t type)
{
	uint8_t b[8] = { 0 };
	if (type != KV_U32 && type != KV_U64 && type != KV_U16 && type != KV_U8)
		return mc_tf_fail(g->tf, "general.alignment has value type %u, not an integer",
		                  type);
	if (mc_tf_cur_get(&g->c, b, kv_size[type], "general.alignment") < 0)
		return -1;
	uint64_t a = mc_le64(b);
	if (a == 0 || a > GGUF_ALIGN_MAX || (a & (a - 1)))
		return mc_tf_fail(g->tf, "general.alignment %llu is not a power of two up to %u",
		                  (unsigned long long)a, GGUF_ALIGN_MAX);
	g->alignment = a;
	return 0;
}

static int read_kv(struct gguf *g)
{
	static const char key_alignment[] = "general.alignment";
	char key[sizeof(key_alignment)];
	uint64_t key_len;
	uint32_t type;
	if (read_string_len(g, &key_len, "a key's length") < 0)
		return -1;
	bool is_alignment = key_len == sizeof(key_alignment) - 1;
	if (is_alignment) {
		if (mc_tf_cur_get(&g->c, key, (size_t)key_len, "a key") < 0)
			return -1;
		is_alignment = memcmp(key, key_alignment, (size_t)key_len) == 0;
	} else if (mc_tf_cur_skip(&g->c, key_len, "a key") < 0) {
		return -1;
	}
	if (mc_tf_cur_u32(&g->c, &type, "a value type") < 0)
		return -1;
	return is_alignment ? read_alignment(g, type) : skip_value(g, type, 0);
}

/* One tensor info; its offset is relative to the data start, known only after the last. */
struct gguf_info {
	char name[MC_TENSOR_NAME_MAX + 1];
	size_t name_len;
	uint64_t elements;
	uint64_t ne0;
	/* the shape, outermost first as NumPy and PyTorch show it: GGUF's ne[] reversed (ne[0],
	 * the row, is innermost) */
	uint64_t dims[GGUF_MAX_DIMS];
	uint32_t n_dims;
	uint32_t type;
	uint64_t offset;
};

static int read_dims(struct gguf *g, struct gguf_info *ti)
{
	uint32_t n_dims;
	if (mc_tf_cur_u32(&g->c, &n_dims, "a tensor's dimension count") < 0)
		return -1;
	if (n_dims > GGUF_MAX_DIMS)
		return mc_tf_fail(g->tf, "tensor '%s' has %u dimensions (at most %d)", ti->name,
		                  n_dims, GGUF_MAX_DIMS);
	ti->elements = 1;
	ti->ne0 = 1;
	ti->n_dims = n_dims;
	for (uint32_t d = 0; d < n_dims; d++) {
		uint64_t ne;
		if (mc_tf_cur_u64(&g->c, &ne, "a tensor's dimension") < 0)
			return -1;
		ti->dims[n_dims - 1 - d] = ne;
		if (d == 0)
			ti->ne0 = ne;
		if (__builtin_mul_overflow(ti->elements, ne, &ti->elements))
			return mc_tf_fail(g->tf, "tensor '%s' has too many elements", ti->name);
	}
	return 0;
}

static int read_info(struct gguf *g, struct gguf_info *ti)
{
	uint64_t name_len;
	if (read_string_len(g, &name_len, "a tensor name's length") < 0)
		return -1;
	ti->name_len = name_len < MC_TENSOR_NAME_MAX ? (size_t)name_len : MC_TENSOR_NAME_MAX;
	if (mc_tf_cur_get(&g->c, ti->name, ti->name_len, "a tensor name") < 0 ||
	    mc_tf_cur_skip(&g->c, name_len - ti->name_len, "a tensor name") < 0)
		return -1;
	ti->name[ti->name_len] = '\0';
	if (read_dims(g, ti) < 0 || mc_tf_cur_u32(&g->c, &ti->type, "a tensor's type") < 0 ||
	    mc_tf_cur_u64(&g->c, &ti->offset, "a tensor's offset") < 0)
		return -1;
	return 0;
}

/* The bytes of a tensor of a known type, or MC_TF_LEN_TO_NEXT for a type we do not size. */
static int tensor_bytes(struct gguf *g, const struct gguf_info *ti, enum mc_dtype *ret_dt,
                        uint64_t *ret)
{
	const struct ggml_type *t = NULL;
	if (ti->type < sizeof(ggml_types) / sizeof(ggml_types[0]) && ggml_types[ti->type].bytes)
		t = &ggml_types[ti->type];
	if (!t) {
		*ret_dt = MC_DT_OTHER;
		*ret = MC_TF_LEN_TO_NEXT;
		return 0;
	}
	if (ti->ne0 % t->block)
		return mc_tf_fail(g->tf,
		                  "tensor '%s': %llu elements per row is not a multiple of "
		                  "its type's block of %u",
		                  ti->name, (unsigned long long)ti->ne0, t->block);
	if (__builtin_mul_overflow(ti->elements / t->block, (uint64_t)t->bytes, ret))
		return mc_tf_fail(g->tf, "tensor '%s' is too large", ti->name);
	*ret_dt = t->dt;
	return 0;
}

/* The infos are read twice: once to find where the data starts, once to add the tensors.
 * The second pass rereads through the same window (the bytes are in the cursor's range). */
static int add_tensors(struct gguf *g, uint64_t infos_at, uint64_t n_tensors, uint64_t data)
{
	struct gguf_info ti;
	g->c.pos = infos_at;
	for (uint64_t i = 0; i < n_tensors; i++) {
		uint64_t len = 0;
		enum mc_dtype dt = MC_DT_OTHER;
		if (read_info(g, &ti) < 0 || tensor_bytes(g, &ti, &dt, &len) < 0)
			return -1;
		if (ti.offset % g->alignment)
			return mc_tf_fail(g->tf,
			                  "tensor '%s': offset %llu is not a multiple of the "
			                  "alignment %llu",
			                  ti.name, (unsigned long long)ti.offset,
			                  (unsigned long long)g->alignment);
		if (ti.offset > g->tf->src->size - data)
			return mc_tf_fail(g->tf,
			                  "tensor '%s': offset %llu is past the end of the file",
			                  ti.name, (unsigned long long)ti.offset);
		if (mc_tf_add(g->tf, data + ti.offset, len, ti.name, ti.name_len, dt, false) < 0 ||
		    mc_tf_shape(g->tf, ti.dims, ti.n_dims) < 0)
			return -1;
	}
	return 1;
}

static int read_preamble(struct gguf *g, uint64_t *ret_tensors, uint64_t *ret_kvs)
{
	uint8_t b[24];
	if (mc_tf_cur_get(&g->c, b, sizeof(b), "the preamble") < 0)
		return -1;
	uint32_t version = mc_le32(b + 4);
	uint32_t swapped = __builtin_bswap32(version);
	if (swapped == 2 || swapped == 3)
		return mc_tf_fail(g->tf, "big-endian file (version %u) is not supported", swapped);
	if (version != 2 && version != 3)
		return mc_tf_fail(g->tf, "version %u is not supported (2 and 3 are)", version);
	*ret_tensors = mc_le64(b + 8);
	*ret_kvs = mc_le64(b + 16);
	if (*ret_tensors > MC_TENSOR_MAX)
		return mc_tf_fail(g->tf, "%llu tensors (more than %u)",
		                  (unsigned long long)*ret_tensors, MC_TENSOR_MAX);
	/* A key-value takes at least 12 bytes (key length and value type). */
	if (*ret_kvs > g->tf->src->size / 12)
		return mc_tf_fail(g->tf, "%llu key-values cannot fit in the file",
		                  (unsigned long long)*ret_kvs);
	return 0;
}

int mc_tf_gguf(struct mc_tf *tf)
{
	struct gguf g = { .tf = tf, .alignment = GGUF_DEFAULT_ALIGN };
	uint64_t n_tensors = 0, n_kvs = 0;
	uint64_t size = tf->src->size;
	g.c =
	    (struct mc_tf_cur){ .tf = tf,
		                .limit = size < MC_TENSOR_HEADER_MAX ? size : MC_TENSOR_HEADER_MAX,
		                .cap = GGUF_WINDOW };
	g.c.buf = mc_tf_alloc(tf, g.c.cap);
	if (!g.c.buf)
		return -1;
	int r = read_preamble(&g, &n_tensors, &n_kvs);
	for (uint64_t i = 0; r == 0 && i < n_kvs; i++)
		r = read_kv(&g);
	uint64_t infos_at = g.c.pos;
	struct gguf_info ti;
	for (uint64_t i = 0; r == 0 && i < n_tensors; i++)
		r = read_info(&g, &ti);
	if (r == 0) {
		uint64_t end = g.c.pos,
		         data = end + (g.alignment - end % g.alignment) % g.alignment;
		if (data > size && n_tensors > 0)
			r = mc_tf_fail(tf,
			               "the data start %llu is past the end of the file (%llu "
			               "bytes)",
			               (unsigned long long)data, (unsigned long long)size);
		else
			r = add_tensors(&g, infos_at, n_tensors, data);
	}
	mc_tf_free(tf, g.c.buf);
	return r;
}
