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
	return mc_test_done("unit-formats");
}
