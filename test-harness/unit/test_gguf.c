/* test_gguf.c: the GGUF recogniser on files built in memory: key-values of every type (skipped
 * with bounds), general.alignment, tensor sizes from ggml types (float, integer, quantized,
 * unknown), and one malformed variant for every check it makes. */
#include "formats_util.h"

enum { U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };
enum { G_F32 = 0, G_F16 = 1, G_Q8_0 = 8, G_Q4_K = 12, G_I8 = 24, G_BF16 = 30, G_UNKNOWN = 39 };

static void gstr(struct bytes *b, const char *s)
{
	put_u64(b, strlen(s));
	put_str(b, s);
}

static void preamble(struct bytes *b, uint32_t version, uint64_t tensors, uint64_t kvs)
{
	memset(b, 0, sizeof(*b));
	put_str(b, "GGUF");
	put_u32(b, version);
	put_u64(b, tensors);
	put_u64(b, kvs);
}

struct ti {
	const char *name;
	uint32_t n_dims;
	uint64_t dims[4];
	uint32_t type;
	uint64_t offset;
};

static void tensor_info(struct bytes *b, const struct ti *t)
{
	gstr(b, t->name);
	put_u32(b, t->n_dims);
	for (uint32_t d = 0; d < t->n_dims; d++)
		put_u64(b, t->dims[d]);
	put_u32(b, t->type);
	put_u64(b, t->offset);
}

/* Thirteen key-values of every type, arrays of strings and of arrays included. */
#define N_KVS 14
static void all_kvs(struct bytes *b, uint32_t alignment)
{
	gstr(b, "general.architecture");
	put_u32(b, STRING);
	gstr(b, "llama");
	gstr(b, "tokenizer.tokens");
	put_u32(b, ARRAY);
	put_u32(b, STRING);
	put_u64(b, 3);
	gstr(b, "<s>");
	gstr(b, "");
	gstr(b, "hello");
	gstr(b, "nested");
	put_u32(b, ARRAY);
	put_u32(b, ARRAY);
	put_u64(b, 2);
	put_u32(b, U32);
	put_u64(b, 2);
	put_u32(b, 1);
	put_u32(b, 2);
	put_u32(b, F64);
	put_u64(b, 1);
	put_u64(b, 0x3ff0000000000000ull);
	static const struct {
		const char *key;
		uint32_t type;
		int width;
	} scalars[] = { { "a.u8", U8, 1 },     { "a.i8", I8, 1 },   { "a.u16", U16, 2 },
		        { "a.i16", I16, 2 },   { "a.i32", I32, 4 }, { "a.f32", F32, 4 },
		        { "a.bool", BOOL, 1 }, { "a.u64", U64, 8 }, { "a.i64", I64, 8 },
		        { "a.f64", F64, 8 } };
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		gstr(b, scalars[i].key);
		put_u32(b, scalars[i].type);
		put_le(b, 0x0102030405060708ull, scalars[i].width);
	}
	gstr(b, "general.alignment");
	put_u32(b, U32);
	put_u32(b, alignment);
}

static const struct ti valid_tensors[] = {
	{ "tok.f32", 2, { 4, 2 }, G_F32, 0 },       { "w.f16", 1, { 8 }, G_F16, 64 },
	{ "w.q8", 1, { 64 }, G_Q8_0, 128 },         { "w.bf16", 1, { 3 }, G_BF16, 256 },
	{ "w.unknown", 1, { 10 }, G_UNKNOWN, 320 }, { "w.q4k", 2, { 256, 2 }, G_Q4_K, 384 },
	{ "w.empty", 3, { 4, 0, 2 }, G_F32, 704 },  { "w.i8", 4, { 2, 2, 2, 2 }, G_I8, 704 },
};
#define N_VALID    (sizeof(valid_tensors) / sizeof(valid_tensors[0]))
#define DATA_BYTES 720

/* The valid file; *ret_data is where its data starts. */
static void valid_file(struct bytes *b, uint32_t version, uint64_t *ret_data)
{
	preamble(b, version, N_VALID, N_KVS);
	all_kvs(b, 64);
	for (size_t i = 0; i < N_VALID; i++)
		tensor_info(b, &valid_tensors[i]);
	pad_to(b, 64, 0);
	*ret_data = b->n;
	put_fill(b, 0x3c, DATA_BYTES);
}

static void check_valid_map(const struct mc_tensor_map *m, uint64_t data)
{
	MC_CHECK_U64(m->format, MC_TF_GGUF);
	MC_CHECK_U64(m->n, 7);
	CHECK_TENSOR(m, 0, data + 0, 32, "tok.f32", MC_DT_F32);
	CHECK_TENSOR(m, 1, data + 64, 16, "w.f16", MC_DT_F16);
	CHECK_TENSOR(m, 2, data + 128, 68, "w.q8", MC_DT_Q8_0); /* the block type kept */
	CHECK_TENSOR(m, 3, data + 256, 6, "w.bf16", MC_DT_BF16);
	CHECK_TENSOR(m, 4, data + 320, 64, "w.unknown", MC_DT_OTHER); /* up to w.q4k */
	CHECK_TENSOR(m, 5, data + 384, 288, "w.q4k", MC_DT_Q4_K);
	CHECK_TENSOR(m, 6, data + 704, 16, "w.i8", MC_DT_I8);
	/* shapes outermost first: GGUF's ne[] reversed ({4, 2} is 2 rows of 4) */
	CHECK_SHAPE(m, 0, 2, 2, 4);
	CHECK_SHAPE(m, 1, 1, 8);
	CHECK_SHAPE(m, 4, 1, 10);
	CHECK_SHAPE(m, 5, 2, 2, 256);
	CHECK_SHAPE(m, 6, 4, 2, 2, 2, 2);
}

static void test_valid(void)
{
	for (uint32_t version = 2; version <= 3; version++) {
		struct bytes b;
		uint64_t data;
		valid_file(&b, version, &data);
		MC_CHECK_U64(data % 64, 0);
		struct recog g;
		recognize(&g, &b);
		CHECK_CONTRACT(&g);
		MC_CHECK_U64(g.r, 1);
		if (g.map)
			check_valid_map(g.map, data);
		recog_done(&g);
		MC_CHECK_U64(g.count.allocs, g.count.frees);
		if (version == 3) {
			check_torture(&b);
			check_truncations(&b, 3);
		}
		bytes_free(&b);
	}
}

/* Default alignment 32; an unknown type last runs to the end of the file; F64 and a long
 * name. */
static void test_defaults(void)
{
	struct bytes b;
	char name[1500];
	memset(name, 'w', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct ti ts[] = { { "f64", 1, { 3 }, 28, 0 },
		           { name, 1, { 1 }, G_F32, 32 },
		           { "tail", 1, { 5 }, 99, 64 } };
	preamble(&b, 3, 3, 0);
	for (size_t i = 0; i < 3; i++)
		tensor_info(&b, &ts[i]);
	pad_to(&b, 32, 0);
	uint64_t data = b.n;
	put_fill(&b, 1, 64 + 100);
	struct recog g;
	recognize(&g, &b);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->n, 3);
		CHECK_TENSOR(g.map, 0, data, 24, "f64", MC_DT_F64);
		MC_CHECK_U64(strlen(g.map->names + g.map->t[1].name), MC_TENSOR_NAME_MAX);
		CHECK_TENSOR(g.map, 2, data + 64, 100, "tail", MC_DT_OTHER);
	}
	recog_done(&g);
	bytes_free(&b);

	/* No tensors at all (a vocabulary-only file): an empty map. */
	preamble(&b, 3, 0, 1);
	gstr(&b, "general.name");
	put_u32(&b, STRING);
	gstr(&b, "vocab");
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 1);
	MC_CHECK(g.map && g.map->n == 0);
	recog_done(&g);
	bytes_free(&b);
}

/* One tensor after the given key-value bytes; the kv count is 1 when kv is not NULL. */
static void one_tensor_file(struct bytes *b, const struct bytes *kv, const struct ti *t,
                            size_t data_bytes)
{
	preamble(b, 3, 1, kv ? 1 : 0);
	if (kv)
		put(b, kv->p, kv->n);
	tensor_info(b, t);
	pad_to(b, 32, 0);
	put_fill(b, 7, data_bytes);
}

static void expect_kv_rejected(void (*build)(struct bytes *kv), const char *why)
{
	struct bytes kv = { 0 }, b;
	struct ti t = { "t", 1, { 4 }, G_F32, 0 };
	build(&kv);
	one_tensor_file(&b, &kv, &t, 16);
	CHECK_REJECTS(&b, why);
	bytes_free(&b);
	bytes_free(&kv);
}

static void kv_unknown_type(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, 13);
}

static void kv_array_unknown(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, ARRAY);
	put_u32(kv, 200);
	put_u64(kv, 1);
}

static void kv_deep_arrays(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, ARRAY);
	for (int i = 0; i < 12; i++) {
		put_u32(kv, ARRAY);
		put_u64(kv, 1);
	}
	put_u32(kv, U8);
	put_u64(kv, 0);
}

static void kv_huge_array(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, ARRAY);
	put_u32(kv, U64);
	put_u64(kv, UINT64_MAX / 4);
}

static void kv_long_array(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, ARRAY);
	put_u32(kv, U32);
	put_u64(kv, 1000000);
}

static void kv_many_strings(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, ARRAY);
	put_u32(kv, STRING);
	put_u64(kv, UINT64_MAX);
}

static void kv_huge_key(struct bytes *kv)
{
	put_u64(kv, UINT64_MAX - 3);
}

static void kv_huge_string(struct bytes *kv)
{
	gstr(kv, "k");
	put_u32(kv, STRING);
	put_u64(kv, 1ull << 40);
}

static void kv_align_zero(struct bytes *kv)
{
	gstr(kv, "general.alignment");
	put_u32(kv, U32);
	put_u32(kv, 0);
}

static void kv_align_odd(struct bytes *kv)
{
	gstr(kv, "general.alignment");
	put_u32(kv, U32);
	put_u32(kv, 48);
}

static void kv_align_string(struct bytes *kv)
{
	gstr(kv, "general.alignment");
	put_u32(kv, STRING);
	gstr(kv, "32");
}

static void test_bad_kvs(void)
{
	expect_kv_rejected(kv_unknown_type, "unknown value type 13");
	expect_kv_rejected(kv_array_unknown, "array of unknown value type 200");
	expect_kv_rejected(kv_deep_arrays, "arrays nested deeper than 8");
	expect_kv_rejected(kv_huge_array, "array count 4611686018427387903 is too large");
	expect_kv_rejected(kv_long_array, "truncated: an array (4000000 bytes at offset");
	expect_kv_rejected(kv_many_strings, "is past the end of the header");
	expect_kv_rejected(kv_huge_key, "truncated: a key (18446744073709551612 bytes");
	expect_kv_rejected(kv_huge_string, "truncated: a string (1099511627776 bytes");
	expect_kv_rejected(kv_align_zero, "general.alignment 0 is not a power of two");
	expect_kv_rejected(kv_align_odd, "general.alignment 48 is not a power of two");
	expect_kv_rejected(kv_align_string, "general.alignment has value type 8, not an integer");
}

static void expect_tensor_rejected(const struct ti *t, size_t data, const char *why)
{
	struct bytes b;
	one_tensor_file(&b, NULL, t, data);
	CHECK_REJECTS(&b, why);
	bytes_free(&b);
}

static void test_bad_tensors(void)
{
	struct ti five = { "t", 5, { 1, 1, 1, 1 }, G_F32, 0 };
	struct bytes b;
	preamble(&b, 3, 1, 0);
	tensor_info(&b, &five);
	put_u64(&b, 1); /* the fifth dimension */
	CHECK_REJECTS(&b, "tensor 't' has 5 dimensions (at most 4)");
	bytes_free(&b);

	struct ti big = { "t", 3, { 1ull << 32, 1ull << 32, 16 }, G_F32, 0 };
	expect_tensor_rejected(&big, 16, "tensor 't' has too many elements");
	struct ti huge = { "t", 2, { 1ull << 32, 1ull << 31 }, G_F32, 0 };
	expect_tensor_rejected(&huge, 16, "tensor 't' is too large");
	struct ti q8 = { "q", 1, { 33 }, G_Q8_0, 0 };
	expect_tensor_rejected(&q8, 64,
	                       "33 elements per row is not a multiple of its type's "
	                       "block of 32");
	struct ti unaligned = { "t", 1, { 1 }, G_F32, 4 };
	expect_tensor_rejected(&unaligned, 64, "offset 4 is not a multiple of the alignment 32");
	struct ti far = { "t", 1, { 1 }, G_F32, 1ull << 40 };
	expect_tensor_rejected(&far, 64, "offset 1099511627776 is past the end of the file");
	struct ti past = { "t", 1, { 100 }, G_F32, 0 };
	expect_tensor_rejected(&past, 64, "tensor 't' (400 bytes at offset");

	/* Two tensors over the same bytes. */
	struct ti a = { "a", 1, { 16 }, G_F32, 0 }, c = { "c", 1, { 4 }, G_F32, 32 };
	preamble(&b, 3, 2, 0);
	tensor_info(&b, &a);
	tensor_info(&b, &c);
	pad_to(&b, 32, 0);
	put_fill(&b, 0, 64);
	CHECK_REJECTS(&b, "tensors 'a' (bytes ");
	bytes_free(&b);

	/* The infos end at the end of the file: no room for the aligned data. */
	struct ti t = { "t", 1, { 1 }, G_F32, 0 };
	preamble(&b, 3, 1, 0);
	tensor_info(&b, &t);
	if (b.n % 32 == 0)
		put_u8(&b, 0);
	CHECK_REJECTS(&b, "is past the end of the file");
	bytes_free(&b);
}

static void test_bad_preamble(void)
{
	struct bytes b;
	uint64_t data;
	valid_file(&b, 1, &data);
	CHECK_REJECTS(&b, "gguf: version 1 is not supported (2 and 3 are)");
	set_le(&b, 4, 0x03000000u, 4); /* 3, big-endian */
	CHECK_REJECTS(&b, "gguf: big-endian file (version 3) is not supported");
	set_le(&b, 4, 3, 4);
	set_le(&b, 8, MC_TENSOR_MAX + 1ull, 8);
	CHECK_REJECTS(&b, "1048577 tensors (more than 1048576)");
	set_le(&b, 8, N_VALID, 8);
	set_le(&b, 16, UINT64_MAX, 8);
	CHECK_REJECTS(&b, "18446744073709551615 key-values cannot fit in the file");
	set_le(&b, 16, N_KVS, 8);
	struct recog g;
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 1);
	recog_done(&g);
	bytes_free(&b);

	/* Only the magic and part of the version. */
	b = (struct bytes){ 0 };
	put_str(&b, "GGUF\x03");
	CHECK_REJECTS(&b, "truncated: the preamble (24 bytes at offset 0)");
	bytes_free(&b);

	/* A header larger than the limit, in a file larger still. */
	preamble(&b, 3, 0, 1);
	gstr(&b, "k");
	put_u32(&b, STRING);
	put_u64(&b, 150ull << 20);
	recognize_sized(&g, b.p, b.n, 200ull << 20, 0);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, (uint64_t)-1);
	MC_CHECK(strstr(g.why, "header is larger than 104857600 bytes") != NULL);
	MC_CHECK(g.count.largest <= (64u << 10)); /* read through the window only */
	recog_done(&g);
	bytes_free(&b);
}

/* A header longer than the reader's 64 KiB window, with a value straddling its edge: the
 * window refills and the bytes on both sides join. */
static void test_long_header(void)
{
	struct bytes b;
	preamble(&b, 3, 2, 2);
	gstr(&b, "tokenizer.blob");
	put_u32(&b, STRING);
	size_t edge = 64u << 10;
	size_t len = edge - 3 - (b.n + 8);
	put_u64(&b, len);
	put_fill(&b, 'v', len);
	MC_CHECK_U64(b.n, edge - 3); /* the next key's length straddles the edge */
	gstr(&b, "general.alignment");
	put_u32(&b, U32);
	put_u32(&b, 128);
	struct ti t1 = { "first", 1, { 4 }, G_F32, 0 }, t2 = { "second", 1, { 64 }, G_Q8_0, 128 };
	tensor_info(&b, &t1);
	tensor_info(&b, &t2);
	pad_to(&b, 128, 0);
	uint64_t data = b.n;
	put_fill(&b, 9, 128 + 68);
	struct recog g;
	recognize(&g, &b);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->n, 2);
		CHECK_TENSOR(g.map, 0, data, 16, "first", MC_DT_F32);
		CHECK_TENSOR(g.map, 1, data + 128, 68, "second", MC_DT_Q8_0);
	}
	MC_CHECK(g.count.largest <= (64u << 10)); /* the window, not the header, in memory */
	recog_done(&g);
	bytes_free(&b);
}

int main(void)
{
	test_long_header();
	test_valid();
	test_defaults();
	test_bad_kvs();
	test_bad_tensors();
	test_bad_preamble();
	return mc_test_done("unit-gguf");
}
