/* test_safetensors.c: the safetensors recogniser on files built in memory: exact ranges,
 * names and dtypes of a valid file, and one malformed variant for every check it makes. */
#include "formats_util.h"

/* u64 header length, the JSON, then data_len bytes of data (byte i = i). */
static void st_file(struct bytes *b, const char *json, size_t data_len)
{
	memset(b, 0, sizeof(*b));
	put_u64(b, strlen(json));
	put_str(b, json);
	for (size_t i = 0; i < data_len; i++)
		put_u8(b, (uint8_t)i);
}

static void test_valid(void)
{
	/* 8 + 376 = 384: the data starts 8-aligned, as writers pad it. */
	const char *json =
	    "{\"__metadata__\":{\"format\":\"pt\",\"x\":[1,{\"y\":null}]},"
	    "\"b\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
	    "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	    "\"z\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[28,28]},"
	    "\"q\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]},"
	    "\"d\" : { \"shape\" : [1], \"dtype\" : \"F64\", \"data_offsets\":[32,40]},"
	    "\"u\":{\"dtype\":\"F8_E8M0\",\"shape\":[3],\"data_offsets\":[40,43],"
	    "\"extra\":[true,false,-1.5e3]}}                 ";
	struct bytes b;
	st_file(&b, json, 43);
	uint64_t data = 8 + strlen(json);
	struct recog g;
	recognize(&g, &b);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->format, MC_TF_SAFETENSORS);
		MC_CHECK_U64(g.map->n, 5);
		MC_CHECK_U64(g.map->file_size, b.n);
		CHECK_TENSOR(g.map, 0, data + 0, 16, "a", MC_DT_F32);
		CHECK_TENSOR(g.map, 1, data + 16, 12, "b", MC_DT_F16);
		CHECK_TENSOR(g.map, 2, data + 28, 4, "q", MC_DT_BF16);
		CHECK_TENSOR(g.map, 3, data + 32, 8, "d", MC_DT_F64);
		CHECK_TENSOR(g.map, 4, data + 40, 3, "u", MC_DT_OTHER);
		MC_CHECK_U64(g.map->t[0].big_endian, 0);
		CHECK_SHAPE(g.map, 0, 1, 4);
		CHECK_SHAPE(g.map, 1, 2, 2, 3);
		CHECK_SHAPE(g.map, 2, 1, 2);
		CHECK_SHAPE(g.map, 3, 1, 1);
		CHECK_SHAPE(g.map, 4, 1, 3);
	}
	recog_done(&g);
	MC_CHECK_U64(g.count.allocs, g.count.frees);
	check_torture(&b);
	check_truncations(&b, 1);
	bytes_free(&b);
}

static void test_names(void)
{
	struct bytes b;
	/* Escapes decoded, a surrogate pair joined, \u0000 kept out of the C string. */
	st_file(&b,
	        "{\"na\\u00efve\\\"x\\n\\ud83d\\ude00\\u0000\":{\"dtype\":\"U8\",\"shape\":[2],"
	        "\"data_offsets\":[0,2]}}",
	        2);
	struct recog g;
	recognize(&g, &b);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map)
		CHECK_TENSOR(g.map, 0, b.n - 2, 2, "na\xc3\xafve\"x\n\xf0\x9f\x98\x80?", MC_DT_U8);
	recog_done(&g);
	bytes_free(&b);

	/* A name longer than MC_TENSOR_NAME_MAX is cut to it. */
	struct bytes json = { 0 };
	put_str(&json, "{\"");
	put_fill(&json, 'n', 3000);
	put_str(&json, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
	put_u8(&json, 0);
	st_file(&b, (const char *)json.p, 4);
	recognize(&g, &b);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map)
		MC_CHECK_U64(strlen(g.map->names + g.map->t[0].name), MC_TENSOR_NAME_MAX);
	recog_done(&g);
	bytes_free(&b);
	bytes_free(&json);

	/* An empty header is a file without tensors. */
	st_file(&b, "{}", 0);
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 1);
	MC_CHECK(g.map && g.map->n == 0);
	recog_done(&g);
	bytes_free(&b);
}

static void test_not_recognised(void)
{
	struct bytes b = { 0 };
	put_str(&b, "not a model file at all");
	struct recog g;
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 0);
	MC_CHECK(g.map == NULL && g.why[0] == '\0');
	bytes_free(&b);

	/* Too short to hold a length and a '{'. */
	put_u64(&b, 1);
	put_str(&b, "{");
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 0);
	bytes_free(&b);

	recognize_n(&g, NULL, 0, 0);
	MC_CHECK_U64(g.r, 0);
}

#define T(name) "{\"t\":" name "}"

static void test_malformed(void)
{
	struct bytes b;
	static const struct {
		const char *json;
		size_t data;
		const char *why;
	} cases[] = {
		{ T("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1000]}"), 16,
		  "data_offsets end 1000 is past the end of the data (16 bytes)" },
		{ T("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}"), 16,
		  "end before they begin" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
		  24, "tensors 'a' (bytes " },
		{ T("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}"), 16,
		  "shape and dtype F32 do not give its 16 bytes" },
		{ T("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,16]}"),
		  16, "do not give" },
		{ T("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}"), 4,
		  "expected a non-negative integer" },
		{ T("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}"),
		  4, "integer larger than 2^64-1" },
		{ T("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}"), 4,
		  "not a fraction" },
		{ T("{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}"), 4,
		  "leading zero" },
		{ T("{\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "tensor 't' lacks \"dtype\"" },
		{ T("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), 4, "lacks \"shape\"" },
		{ T("{\"dtype\":\"F32\",\"shape\":[1]}"), 4, "lacks \"data_offsets\"" },
		{ T("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}"), 8,
		  "\"data_offsets\" is not [begin, end]" },
		{ T("{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}"), 4,
		  "\"dtype\" is not a string" },
		{ T("{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}"), 4,
		  "\"shape\" is not an array" },
		{ T("5"), 0, "a tensor entry is not an object" },
		{ "{\"__metadata__\":{}} x", 0, "bytes after the header's JSON object" },
		{ "{\"t\" {}}", 0, "expected ':'" },
		{ "{\"__metadata__\":{}  ", 0, "expected ',' or '}'" },
		{ "{\"t\\q\":{}}", 0, "bad escape in a string" },
		{ "{\"t\\u12G4\":{}}", 0, "bad \\u escape" },
		{ "{\"t\x01\":{}}", 0, "control byte in a string" },
		{ "{\"t", 0, "unterminated string" },
		{ "{\"__metadata__\":{\"a\":tru}}", 0, "expected a value" },
		{ "{\"__metadata__\":{\"a\":[1,2}}", 0, "expected ',' or ']'" },
		{ "{\"__metadata__\":-}", 0, "expected a value" },
		{ "{ \"t\":{\"dtype\":\"F32\",\"shape\":[1 2],\"data_offsets\":[0,4]}}", 4,
		  "expected ',' or ']' in \"shape\"" },
		{ "{ 5:1}", 0, "expected a string" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_file(&b, cases[i].json, cases[i].data);
		CHECK_REJECTS(&b, cases[i].why);
		bytes_free(&b);
	}

	/* Metadata nested deeper than the scanner's limit. */
	struct bytes json = { 0 };
	put_str(&json, "{\"__metadata__\":");
	put_fill(&json, '[', 200);
	put_fill(&json, ']', 200);
	put_str(&json, "}");
	put_u8(&json, 0);
	st_file(&b, (const char *)json.p, 0);
	CHECK_REJECTS(&b, "nested too deep");
	bytes_free(&b);
	bytes_free(&json);

	/* A header length past the end of the file, and one past the limit. */
	b = (struct bytes){ 0 };
	put_u64(&b, UINT64_MAX);
	put_str(&b, "{\"t\":{}}");
	CHECK_REJECTS(&b, "safetensors: header length 18446744073709551615 is past the end of the "
	                  "file (16 bytes)");
	set_le(&b, 0, 9, 8);
	CHECK_REJECTS(&b, "header length 9 is past the end of the file (16 bytes)");
	set_le(&b, 0, MC_TENSOR_HEADER_MAX + 1ull, 8);
	struct recog g;
	recognize_sized(&g, b.p, b.n, 200ull << 20, 0);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, (uint64_t)-1);
	MC_CHECK(strstr(g.why, "is larger than the limit") != NULL);
	MC_CHECK(g.count.largest < 1024); /* refused before reading it */
	bytes_free(&b);
}

int main(void)
{
	test_valid();
	test_names();
	test_not_recognised();
	test_malformed();
	return mc_test_done("unit-safetensors");
}
