/* safetensors.c: the safetensors recogniser. A u64 little-endian header length N, a JSON
 * object of N bytes ({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {...}}), then the data, offsets relative to byte 8 + N. Every offset is checked against the
 * file and, for known dtypes, against the shape; the JSON is read whole and scanned once. */
#include <string.h>

#include "internal.h"

struct st_dtype {
	const char *name;
	unsigned size;
	enum mc_dtype dt;
};

static const struct st_dtype st_dtypes[] = {
	{ "F64", 8, MC_DT_F64 },   { "F32", 4, MC_DT_F32 },         { "F16", 2, MC_DT_F16 },
	{ "BF16", 2, MC_DT_BF16 }, { "I64", 8, MC_DT_I64 },         { "I32", 4, MC_DT_I32 },
	{ "I16", 2, MC_DT_I16 },   { "I8", 1, MC_DT_I8 },           { "U64", 8, MC_DT_U64 },
	{ "U32", 4, MC_DT_U32 },   { "U16", 2, MC_DT_U16 },         { "U8", 1, MC_DT_U8 },
	{ "BOOL", 1, MC_DT_BOOL }, { "F8_E5M2", 1, MC_DT_F8_E5M2 }, { "F8_E4M3", 1, MC_DT_F8_E4M3 },
};

/* What one tensor entry says. */
struct st_entry {
	const struct st_dtype *dtype; /* NULL: a dtype we do not know (no size check) */
	bool has_dtype, has_shape, has_offsets;
	uint64_t elements;
	bool elements_overflow;
	unsigned ndim; /* all of them; dims keeps the first ones */
	uint64_t dims[MC_TENSOR_DIMS_MAX];
	uint64_t begin, end;
};

struct st_parse {
	struct mc_tf *tf;
	struct mc_tf_json j;
	uint64_t data_start;
};

static int json_fail(struct st_parse *sp, const char *what)
{
	return mc_tf_fail(sp->tf, "header byte %zu: %s", (size_t)(sp->j.p - sp->j.start), what);
}

static const struct st_dtype *find_dtype(const char *raw, size_t len)
{
	for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (mc_tf_json_is(raw, len, st_dtypes[i].name))
			return &st_dtypes[i];
	return NULL;
}

/* "shape": [d0, d1, ...]: the product of the dimensions, overflow noted (it matters only
 * when no dimension is zero). */
static int parse_shape(struct st_parse *sp, struct st_entry *e)
{
	struct mc_tf_json *j = &sp->j;
	uint64_t product = 1;
	bool overflow = false, zero = false;
	if (!mc_tf_json_eat(j, '['))
		return json_fail(sp, "\"shape\" is not an array");
	if (!mc_tf_json_eat(j, ']')) {
		do {
			uint64_t d;
			if (mc_tf_json_u64(j, &d) < 0)
				return json_fail(sp, j->err);
			if (e->ndim < MC_TENSOR_DIMS_MAX)
				e->dims[e->ndim] = d;
			e->ndim += e->ndim < UINT32_MAX;
			zero |= d == 0;
			overflow |= d != 0 && __builtin_mul_overflow(product, d, &product);
		} while (mc_tf_json_eat(j, ','));
		if (!mc_tf_json_eat(j, ']'))
			return json_fail(sp, "expected ',' or ']' in \"shape\"");
	}
	e->elements = zero ? 0 : product;
	e->elements_overflow = overflow && !zero;
	e->has_shape = true;
	return 0;
}

static int parse_offsets(struct st_parse *sp, struct st_entry *e)
{
	struct mc_tf_json *j = &sp->j;
	if (!mc_tf_json_eat(j, '['))
		return json_fail(sp, "\"data_offsets\" is not [begin, end]");
	if (mc_tf_json_u64(j, &e->begin) < 0 || !mc_tf_json_eat(j, ',') ||
	    mc_tf_json_u64(j, &e->end) < 0)
		return json_fail(sp, j->err ? j->err : "\"data_offsets\" is not [begin, end]");
	if (!mc_tf_json_eat(j, ']'))
		return json_fail(sp, "\"data_offsets\" is not [begin, end]");
	e->has_offsets = true;
	return 0;
}

static int parse_field(struct st_parse *sp, struct st_entry *e)
{
	const char *key, *val;
	size_t key_len, val_len;
	if (mc_tf_json_string(&sp->j, &key, &key_len) < 0)
		return json_fail(sp, sp->j.err);
	if (!mc_tf_json_eat(&sp->j, ':'))
		return json_fail(sp, "expected ':'");
	if (mc_tf_json_is(key, key_len, "dtype")) {
		if (mc_tf_json_string(&sp->j, &val, &val_len) < 0)
			return json_fail(sp, "\"dtype\" is not a string");
		e->dtype = find_dtype(val, val_len);
		e->has_dtype = true;
		return 0;
	}
	if (mc_tf_json_is(key, key_len, "shape"))
		return parse_shape(sp, e);
	if (mc_tf_json_is(key, key_len, "data_offsets"))
		return parse_offsets(sp, e);
	return mc_tf_json_skip(&sp->j) < 0 ? json_fail(sp, sp->j.err) : 0;
}

/* Checks one entry against the file and adds it to the map. */
static int add_entry(struct st_parse *sp, const char *name, size_t name_len,
                     const struct st_entry *e)
{
	struct mc_tf *tf = sp->tf;
	uint64_t room = tf->src->size - sp->data_start;
	if (!e->has_dtype || !e->has_shape || !e->has_offsets)
		return mc_tf_fail(tf, "tensor '%s' lacks %s", name,
		                  !e->has_dtype   ? "\"dtype\""
		                  : !e->has_shape ? "\"shape\""
		                                  : "\"data_offsets\"");
	if (e->begin > e->end)
		return mc_tf_fail(tf,
		                  "tensor '%s': data_offsets [%llu, %llu] end before they begin",
		                  name, (unsigned long long)e->begin, (unsigned long long)e->end);
	if (e->end > room)
		return mc_tf_fail(tf,
		                  "tensor '%s': data_offsets end %llu is past the end of the data "
		                  "(%llu bytes)",
		                  name, (unsigned long long)e->end, (unsigned long long)room);
	if (e->dtype) {
		uint64_t bytes;
		if (e->elements_overflow ||
		    __builtin_mul_overflow(e->elements, (uint64_t)e->dtype->size, &bytes) ||
		    bytes != e->end - e->begin)
			return mc_tf_fail(
			    tf, "tensor '%s': shape and dtype %s do not give its %llu bytes", name,
			    e->dtype->name, (unsigned long long)(e->end - e->begin));
	}
	if (mc_tf_add(tf, sp->data_start + e->begin, e->end - e->begin, name, name_len,
	              e->dtype ? e->dtype->dt : MC_DT_OTHER, false) < 0)
		return -1;
	return mc_tf_shape(tf, e->dims, e->ndim);
}

static int parse_tensor(struct st_parse *sp, const char *name, size_t name_len)
{
	struct st_entry e = { 0 };
	if (!mc_tf_json_eat(&sp->j, '{'))
		return json_fail(sp, "a tensor entry is not an object");
	if (!mc_tf_json_eat(&sp->j, '}')) {
		do {
			if (parse_field(sp, &e) < 0)
				return -1;
		} while (mc_tf_json_eat(&sp->j, ','));
		if (!mc_tf_json_eat(&sp->j, '}'))
			return json_fail(sp, "expected ',' or '}' in a tensor entry");
	}
	return add_entry(sp, name, name_len, &e);
}

static int parse_member(struct st_parse *sp)
{
	const char *raw;
	size_t raw_len;
	char name[MC_TENSOR_NAME_MAX + 1];
	if (mc_tf_json_string(&sp->j, &raw, &raw_len) < 0)
		return json_fail(sp, sp->j.err);
	if (!mc_tf_json_eat(&sp->j, ':'))
		return json_fail(sp, "expected ':'");
	if (mc_tf_json_is(raw, raw_len, "__metadata__"))
		return mc_tf_json_skip(&sp->j) < 0 ? json_fail(sp, sp->j.err) : 0;
	size_t n = mc_tf_json_unescape(raw, raw_len, name, MC_TENSOR_NAME_MAX);
	name[n] = '\0';
	return parse_tensor(sp, name, n);
}

static int parse_header(struct st_parse *sp)
{
	struct mc_tf_json *j = &sp->j;
	if (!mc_tf_json_eat(j, '{'))
		return json_fail(sp, "the header is not a JSON object");
	if (!mc_tf_json_eat(j, '}')) {
		do {
			if (parse_member(sp) < 0)
				return -1;
		} while (mc_tf_json_eat(j, ','));
		if (!mc_tf_json_eat(j, '}'))
			return json_fail(sp, "expected ',' or '}'");
	}
	/* Writers pad the header with spaces to align the data. */
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
	if (j->p != j->end)
		return json_fail(sp, "bytes after the header's JSON object");
	return 1;
}

int mc_tf_safetensors(struct mc_tf *tf)
{
	uint8_t len_bytes[8];
	uint64_t size = tf->src->size;
	if (mc_tf_read(tf, 0, len_bytes, sizeof(len_bytes), "the header length") < 0)
		return -1;
	uint64_t n = mc_le64(len_bytes);
	if (n > size - 8)
		return mc_tf_fail(tf, "header length %llu is past the end of the file (%llu bytes)",
		                  (unsigned long long)n, (unsigned long long)size);
	if (n > MC_TENSOR_HEADER_MAX)
		return mc_tf_fail(tf, "header length %llu is larger than the limit (%u bytes)",
		                  (unsigned long long)n, MC_TENSOR_HEADER_MAX);
	char *hdr = mc_tf_read_alloc(tf, 8, n, "the header");
	if (!hdr)
		return -1;
	struct st_parse sp = { .tf = tf, .j = { hdr, hdr, hdr + n, NULL }, .data_start = 8 + n };
	int r = parse_header(&sp);
	mc_tf_free(tf, hdr);
	return r;
}
