/* test_formats.c: what the recognisers share (shim/formats/tensors.c, json.c): dispatch on the
 * first bytes, the map builder (sorting, lengths up to the next tensor, overlaps, bounds), the
 * binary search, the message formatter and its bounds, the sort and the JSON scanner. */
#include "formats_util.h"
#include "internal.h"

static void test_dispatch(void)
{
	static const struct {
		const char *bytes;
		size_t n;
		int r;
	} cases[] = {
		{ "", 0, 0 },
		{ "GGU", 3, 0 },
		{ "GGUF", 4, -1 },      /* GGUF, truncated */
		{ "\x93NUMPY", 6, -1 }, /* npy, truncated */
		{ "\x93NUMPX\x01\x00", 8, 0 },
		{ "PK\x03\x04", 4, -1 }, /* a zip without its end */
		{ "PK\x05\x06", 4, 0 },  /* an empty zip: nothing in it */
		{ "\x02\x00\x00\x00\x00\x00\x00\x00{}", 10, 1 },
		{ "\x02\x00\x00\x00\x00\x00\x00\x00{x", 10, 0 }, /* '{' then not JSON */
		{ "\x02\x00\x00\x00\x00\x00\x00\x00[]", 10, 0 },
		{ "\x80\x02}q\x00.", 6, 1 },  /* a pickle of an empty dict: no tensors */
		{ "\x80\x02}q\x00", 5, -1 },  /* ... without its STOP */
		{ "\x80\x04}.", 4, 0 },       /* protocol 4 without its FRAME: not a pickle */
		{ "\x80\x02\x07\x00", 4, 0 }, /* PROTO 2, then no opcode: not a pickle */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct recog g;
		recognize_n(&g, (const uint8_t *)cases[i].bytes, cases[i].n, 0);
		CHECK_CONTRACT(&g);
		MC_CHECK_U64(g.r, (uint64_t)(int64_t)cases[i].r);
		recog_done(&g);
		MC_CHECK_U64(g.count.allocs, g.count.frees);
	}
}

static int64_t failing_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	(void)off;
	(void)buf;
	(void)len;
	return -1;
}

static void test_read_errors_and_why(void)
{
	struct counting_alloc count = { 0 };
	struct mc_tensor_alloc a = { counting_alloc, counting_free, &count };
	struct mc_tensor_src src = { failing_read, NULL, 100 };
	struct mc_tensor_map *map = (struct mc_tensor_map *)&count; /* must become NULL */
	char why[128];
	MC_CHECK_U64(mc_tensor_recognize(&src, &a, &map, why, sizeof(why)), (uint64_t)-1);
	MC_CHECK(map == NULL);
	MC_CHECK_STR(why, "tensors: read error at offset 0 (the first bytes)");

	/* A short buffer is cut, never overrun; no buffer at all is fine. */
	struct bytes b = { 0 };
	put_u64(&b, UINT64_MAX);
	put_str(&b, "{}");
	struct mem_file f = { b.p, b.n, b.n, false, 0 };
	src = (struct mc_tensor_src){ mem_read_at, &f, b.n };
	char small[12];
	memset(small, 'x', sizeof(small));
	MC_CHECK_U64(mc_tensor_recognize(&src, &a, &map, small, sizeof(small)), (uint64_t)-1);
	MC_CHECK_STR(small, "safetensors");
	char one = 'x';
	MC_CHECK_U64(mc_tensor_recognize(&src, &a, &map, &one, 1), (uint64_t)-1);
	MC_CHECK_U64(one, 0);
	MC_CHECK_U64(mc_tensor_recognize(&src, &a, &map, NULL, 0), (uint64_t)-1);
	MC_CHECK_U64(count.allocs, count.frees);
	mc_tensor_map_free(NULL, &a);
	bytes_free(&b);
}

/* Builds a map from hand-placed tensors through the builder itself. */
struct built {
	struct mc_tf tf;
	struct mem_file f;
	struct counting_alloc count;
	struct mc_tensor_alloc a;
	struct mc_tensor_src src;
	char why[200];
};

static void built_init(struct built *b, uint64_t size)
{
	memset(b, 0, sizeof(*b));
	b->f = (struct mem_file){ NULL, 0, size, false, 0 };
	b->a = (struct mc_tensor_alloc){ counting_alloc, counting_free, &b->count };
	b->src = (struct mc_tensor_src){ mem_read_at, &b->f, size };
	b->tf = (struct mc_tf){ .src = &b->src,
		                .a = &b->a,
		                .format = "test",
		                .why = b->why,
		                .why_len = sizeof(b->why) };
}

static void built_free(struct built *b)
{
	mc_tf_free(&b->tf, b->tf.t);
	mc_tf_free(&b->tf, b->tf.names);
}

static void test_builder(void)
{
	struct built b;
	struct mc_tensor_map *map = NULL;
	built_init(&b, 1000);
	MC_CHECK_U64(mc_tf_add(&b.tf, 500, 100, "c", 1, MC_DT_F32, false), 0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 100, MC_TF_LEN_TO_NEXT, "a-to-next", 9, MC_DT_OTHER, false),
	             0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 300, 0, "empty", 5, MC_DT_F32, false), 0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 200, 50, "b", 1, MC_DT_F16, true), 0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 900, MC_TF_LEN_TO_NEXT, "tail", 4, MC_DT_OTHER, false), 0);
	MC_CHECK_U64(mc_tf_finish(&b.tf, MC_TF_GGUF, &map), 1);
	if (map) {
		MC_CHECK_U64(map->n, 4);
		CHECK_TENSOR(map, 0, 100, 100, "a-to-next", MC_DT_OTHER);
		CHECK_TENSOR(map, 1, 200, 50, "b", MC_DT_F16);
		MC_CHECK_U64(map->t[1].big_endian, 1);
		CHECK_TENSOR(map, 2, 500, 100, "c", MC_DT_F32);
		CHECK_TENSOR(map, 3, 900, 100, "tail", MC_DT_OTHER);
		MC_CHECK(map_invariants_hold(map, 1000));
		/* The binary search: the first tensor ending after an offset. */
		static const struct {
			uint64_t off;
			uint32_t want;
		} at[] = { { 0, 0 },   { 99, 0 },  { 100, 0 },  { 199, 0 },
			   { 200, 1 }, { 249, 1 }, { 250, 2 },  { 599, 2 },
			   { 600, 3 }, { 999, 3 }, { 1000, 4 }, { UINT64_MAX, 4 } };
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
			MC_CHECK_U64(mc_tensor_at_or_after(map, at[i].off), at[i].want);
	}
	mc_tensor_map_free(map, &b.a);
	built_free(&b);
	MC_CHECK_U64(b.count.allocs, b.count.frees);

	built_init(&b, 1000);
	MC_CHECK_U64(mc_tf_add(&b.tf, 900, 101, "past", 4, MC_DT_F32, false), (uint64_t)-1);
	MC_CHECK_STR(b.why, "test: tensor 'past' (101 bytes at offset 900) is past the end of the "
	                    "file (1000 bytes)");
	MC_CHECK_U64(mc_tf_add(&b.tf, UINT64_MAX, 2, "wrap", 4, MC_DT_F32, false), (uint64_t)-1);
	MC_CHECK_U64(mc_tf_add(&b.tf, 10, 20, "x\ny", 3, MC_DT_F32, false), 0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 29, 2, "z", 1, MC_DT_F32, false), 0);
	MC_CHECK_U64(mc_tf_finish(&b.tf, MC_TF_GGUF, &map), (uint64_t)-1);
	MC_CHECK_STR(b.why, "test: tensors 'x?y' (bytes 10..30) and 'z' (from byte 29) overlap");
	built_free(&b);
	MC_CHECK_U64(b.count.allocs, b.count.frees);

	/* A tensor of unknown length at the start of another overlaps it. */
	built_init(&b, 1000);
	MC_CHECK_U64(mc_tf_add(&b.tf, 200, MC_TF_LEN_TO_NEXT, "u", 1, MC_DT_OTHER, false), 0);
	MC_CHECK_U64(mc_tf_add(&b.tf, 200, 50, "k", 1, MC_DT_F16, false), 0);
	MC_CHECK_U64(mc_tf_finish(&b.tf, MC_TF_GGUF, &map), (uint64_t)-1);
	MC_CHECK_STR(b.why, "test: tensors 'k' (bytes 200..250) and 'u' (from byte 200) overlap");
	built_free(&b);

	/* An empty map is still a map. */
	built_init(&b, 0);
	MC_CHECK_U64(mc_tf_finish(&b.tf, MC_TF_NPY, &map), 1);
	MC_CHECK(map && map->n == 0 && map->names[0] == '\0');
	MC_CHECK_U64(mc_tensor_at_or_after(map, 0), 0);
	mc_tensor_map_free(map, &b.a);
	built_free(&b);
}

static void test_formatter(void)
{
	struct built b;
	built_init(&b, 0);
	mc_tf_fail(&b.tf, "%s|%.*s|%c|%d|%d|%u|%lu|%llu|%zu|%x|%llx|100%%", "str", 3, "abcdef", 'c',
	           -42, 0, 7u, 123456789012ul, 18446744073709551615ull, (size_t)5, 0xbeefu,
	           0xdeadbeefcafeull);
	MC_CHECK_STR(b.why, "test: str|abc|c|-42|0|7|123456789012|18446744073709551615|5|beef|"
	                    "deadbeefcafe|100%");
	long long min = -9223372036854775807ll - 1;
	mc_tf_fail(&b.tf, "%lld %s", min, "\x01\x7f\t");
	MC_CHECK_STR(b.why, "test: -9223372036854775808 ???");
	b.tf.why_len = 8;
	mc_tf_fail(&b.tf, "%s", "a long message");
	MC_CHECK_STR(b.why, "test: a");
}

static int cmp_u32(const void *a, const void *b, void *ctx)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	(*(unsigned *)ctx)++;
	return (x > y) - (x < y);
}

static void test_sort(void)
{
	static uint32_t v[5000];
	for (size_t n = 0; n <= 5000; n = n ? n * 3 : 1) {
		uint64_t s = n;
		for (size_t i = 0; i < n; i++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			v[i] = (uint32_t)(s >> 40) % (n / 2 + 1); /* duplicates too */
		}
		unsigned compares = 0;
		mc_tf_sort(v, n, sizeof(v[0]), cmp_u32, &compares);
		bool sorted = true;
		for (size_t i = 1; i < n; i++)
			sorted &= v[i - 1] <= v[i];
		MC_CHECK(sorted);
		MC_CHECK(compares <= 3 * n * 13 + 1); /* n log n, not n^2 */
	}
}

static void test_json(void)
{
	char out[16];
	const char *raw;
	size_t len;
	struct mc_tf_json j = { 0 };
	const char *s = " \"a\\u00e9\\ud83d\\ude00\\n\" ";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_string(&j, &raw, &len), 0);
	size_t n = mc_tf_json_unescape(raw, len, out, sizeof(out));
	MC_CHECK_U64(n, 8);
	MC_CHECK(memcmp(out, "a\xc3\xa9\xf0\x9f\x98\x80\n", 8) == 0);
	/* Cut at a whole character. */
	MC_CHECK_U64(mc_tf_json_unescape(raw, len, out, 4), 3);
	/* A lone surrogate and \u0000 stay printable and NUL-free. */
	s = "\"\\ud800x\\u0000\"";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_string(&j, &raw, &len), 0);
	n = mc_tf_json_unescape(raw, len, out, sizeof(out));
	MC_CHECK_U64(n, 5);
	MC_CHECK(memchr(out, '\0', n) == NULL);

	uint64_t v;
	s = "18446744073709551615";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_u64(&j, &v), 0);
	MC_CHECK_U64(v, UINT64_MAX);
	s = "18446744073709551616";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_u64(&j, &v), (uint64_t)-1);

	/* Skipping: every kind of value, and the depth limit exactly. */
	s = "{\"a\":[1,-2.5e-3,true,false,null,\"x\",{},[]],\"b\":{\"c\":\"\\\"\"}} rest";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_skip(&j), 0);
	MC_CHECK_STR(j.p, " rest");
	char deep[2 * (MC_TF_JSON_DEPTH_MAX + 2) + 1];
	for (int depth = MC_TF_JSON_DEPTH_MAX; depth <= MC_TF_JSON_DEPTH_MAX + 1; depth++) {
		size_t k = 0;
		for (int i = 0; i <= depth; i++)
			deep[k++] = '[';
		for (int i = 0; i <= depth; i++)
			deep[k++] = ']';
		j = (struct mc_tf_json){ deep, deep, deep + k, NULL };
		MC_CHECK_U64(mc_tf_json_skip(&j), depth == MC_TF_JSON_DEPTH_MAX ? 0 : (uint64_t)-1);
	}
	s = "[1,]";
	j = (struct mc_tf_json){ s, s, s + strlen(s), NULL };
	MC_CHECK_U64(mc_tf_json_skip(&j), (uint64_t)-1);
}

static void test_names_and_sizes(void)
{
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_SAFETENSORS), "safetensors");
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_GGUF), "gguf");
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_NPY), "npy");
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_TORCH_ZIP), "torch-zip");
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_NONE), "none");
	MC_CHECK_U64(mc_dtype_size(MC_DT_F32), 4);
	MC_CHECK_U64(mc_dtype_size(MC_DT_F16), 2);
	MC_CHECK_U64(mc_dtype_size(MC_DT_BF16), 2);
	MC_CHECK_U64(mc_dtype_size(MC_DT_F64), 8);
	MC_CHECK_U64(mc_dtype_size(MC_DT_OTHER), 0);
	MC_CHECK_U64(mc_dtype_size(MC_DT_I8), 1);
	MC_CHECK_U64(mc_dtype_size(MC_DT_U16), 2);
	MC_CHECK_U64(mc_dtype_size(MC_DT_I32), 4);
	MC_CHECK_U64(mc_dtype_size(MC_DT_U64), 8);
	MC_CHECK_U64(mc_dtype_size(MC_DT_BOOL), 1);
	MC_CHECK(mc_dtype_is_float(MC_DT_BF16) && !mc_dtype_is_float(MC_DT_I32));
	MC_CHECK(!mc_dtype_is_float(MC_DT_OTHER));
	MC_CHECK_STR(mc_dtype_name(MC_DT_F32), "f32");
	MC_CHECK_STR(mc_dtype_name(MC_DT_BF16), "bf16");
	MC_CHECK_STR(mc_dtype_name(MC_DT_I8), "i8");
	MC_CHECK_STR(mc_dtype_name(MC_DT_BOOL), "bool");
	MC_CHECK_STR(mc_dtype_name(MC_DT_OTHER), "other");
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_RAW), "raw");
	/* every dtype has a distinct name, and the list ends */
	int n = 0;
	for (int dt = 0; mc_dtype_name((enum mc_dtype)dt) && n < 256; dt++, n++)
		for (int other = 0; other < dt; other++)
			MC_CHECK(strcmp(mc_dtype_name((enum mc_dtype)dt),
			                mc_dtype_name((enum mc_dtype)other)) != 0);
	MC_CHECK(n > (int)MC_DT_BOOL && n < 256);
}

/* Shapes: stored before each name, kept across the sort, none for a tensor never given one,
 * a no-op after an add of nothing, unknown past MC_TENSOR_DIMS_MAX; torture as the rest. */
static void test_shapes(void)
{
	static const uint64_t two[] = { 3, 5 }, four[] = { 1, 2, 3, 4 };
	uint64_t many[MC_TENSOR_DIMS_MAX + 1];
	for (unsigned i = 0; i <= MC_TENSOR_DIMS_MAX; i++)
		many[i] = 1;
	for (unsigned fail_at = 0; fail_at < 16; fail_at++) {
		struct built b;
		struct mc_tensor_map *map = NULL;
		built_init(&b, 1000);
		b.count.fail_at = fail_at;
		int r = 0;
		r |= mc_tf_add(&b.tf, 500, 60, "later", 5, MC_DT_F32, false);
		r |= mc_tf_shape(&b.tf, two, 2);
		r |= mc_tf_add(&b.tf, 100, 8, "odd-name-len", 12, MC_DT_F64, false);
		r |= mc_tf_shape(&b.tf, four, 1);
		r |= mc_tf_add(&b.tf, 300, 0, "empty", 5, MC_DT_F32, false);
		r |= mc_tf_shape(&b.tf, four, 4); /* the add added nothing: a no-op */
		r |= mc_tf_add(&b.tf, 200, 4, "scalar", 6, MC_DT_F32, false);
		r |= mc_tf_shape(&b.tf, NULL, 0);
		r |= mc_tf_add(&b.tf, 700, 16, "plain", 5, MC_DT_I32, false);
		r |= mc_tf_add(&b.tf, 800, 1, "deep", 4, MC_DT_U8, false);
		r |= mc_tf_shape(&b.tf, many, MC_TENSOR_DIMS_MAX + 1);
		r |= mc_tf_add(&b.tf, 900, 8, "again", 5, MC_DT_U8, false);
		r |= mc_tf_shape(&b.tf, four, 4);
		r |= mc_tf_shape(&b.tf, two, 2); /* the last word counts */
		if (r == 0)
			r = mc_tf_finish(&b.tf, MC_TF_SAFETENSORS, &map) == 1 ? 0 : -1;
		if (r < 0) {
			MC_CHECK(fail_at != 0 && strstr(b.why, "out of memory") != NULL);
			built_free(&b);
			MC_CHECK_U64(b.count.allocs, b.count.frees);
			continue;
		}
		MC_CHECK(map != NULL);
		if (map) {
			MC_CHECK_U64(map->n, 6);
			MC_CHECK(map_invariants_hold(map, 1000));
			CHECK_TENSOR(map, 0, 100, 8, "odd-name-len", MC_DT_F64);
			CHECK_SHAPE(map, 0, 1, 1);
			CHECK_TENSOR(map, 1, 200, 4, "scalar", MC_DT_F32);
			CHECK_SHAPE(map, 1, 0, 0);
			CHECK_TENSOR(map, 2, 500, 60, "later", MC_DT_F32);
			CHECK_SHAPE(map, 2, 2, 3, 5);
			CHECK_TENSOR(map, 3, 700, 16, "plain", MC_DT_I32);
			CHECK_SHAPE(map, 3, -1, 0);
			CHECK_TENSOR(map, 4, 800, 1, "deep", MC_DT_U8);
			CHECK_SHAPE(map, 4, -1, 0);
			CHECK_TENSOR(map, 5, 900, 8, "again", MC_DT_U8);
			CHECK_SHAPE(map, 5, 2, 3, 5);
		}
		mc_tensor_map_free(map, &b.a);
		built_free(&b);
		MC_CHECK_U64(b.count.allocs, b.count.frees);
	}
}

/* format = raw: the declared range as one tensor, cut at the end of the file, refused when
 * the file ends before it starts. */
static void test_raw_map(void)
{
	struct mc_tensor_raw raw;
	char why[128];
	const uint64_t *dims;
	MC_CHECK_U64(mc_tensor_raw_map(&raw, 4160, 64, UINT64_MAX, MC_DT_F32, why, sizeof(why)), 1);
	MC_CHECK_U64(raw.map.format, MC_TF_RAW);
	MC_CHECK_U64(raw.map.n, 1);
	MC_CHECK_U64(raw.map.file_size, 4160);
	CHECK_TENSOR(&raw.map, 0, 64, 4096, "raw", MC_DT_F32);
	MC_CHECK_U64((uint64_t)mc_tensor_shape(&raw.map, 0, &dims), 1);
	MC_CHECK_U64(dims[0], 1024);
	MC_CHECK(map_invariants_hold(&raw.map, 4160));
	MC_CHECK_U64(mc_tensor_at_or_after(&raw.map, 63), 0);
	MC_CHECK_U64(mc_tensor_at_or_after(&raw.map, 4160), 1);
	/* a range that ends inside the file; 10 bytes of f64 hold one whole element */
	MC_CHECK_U64(mc_tensor_raw_map(&raw, 100, 10, 20, MC_DT_F64, why, sizeof(why)), 1);
	CHECK_TENSOR(&raw.map, 0, 10, 10, "raw", MC_DT_F64);
	MC_CHECK_U64((uint64_t)mc_tensor_shape(&raw.map, 0, &dims), 1);
	MC_CHECK_U64(dims[0], 1);
	/* the file ends at or before the declared start */
	MC_CHECK_U64(mc_tensor_raw_map(&raw, 64, 64, UINT64_MAX, MC_DT_U8, why, sizeof(why)),
	             (uint64_t)-1);
	MC_CHECK(strncmp(why, "raw: ", 5) == 0 && strstr(why, "offset 64") != NULL);
	MC_CHECK_U64(mc_tensor_raw_map(&raw, 0, 0, UINT64_MAX, MC_DT_U8, why, sizeof(why)),
	             (uint64_t)-1);
}

int main(void)
{
	test_dispatch();
	test_read_errors_and_why();
	test_builder();
	test_formatter();
	test_sort();
	test_json();
	test_names_and_sizes();
	test_shapes();
	test_raw_map();
	return mc_test_done("unit-formats");
}
