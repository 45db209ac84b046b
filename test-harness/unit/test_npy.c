/* test_npy.c: the .npy recogniser on files built in memory: versions 1, 2 and 3, every kind
 * of descr, scalars and empty arrays, and one malformed variant for every check it makes. */
#include "formats_util.h"

/* A .npy file: magic, version, header length, the dict padded with spaces and '\n' so the
 * data starts 64-aligned (as numpy writes it), then data bytes. */
static void npy_file(struct bytes *b, unsigned major, const char *dict, size_t data)
{
	memset(b, 0, sizeof(*b));
	put_str(b, "\x93NUMPY");
	put_u8(b, (uint8_t)major);
	put_u8(b, 0);
	size_t prefix = major == 1 ? 10 : 12;
	size_t len = strlen(dict) + 1;
	len += (64 - (prefix + len) % 64) % 64;
	put_le(b, len, major == 1 ? 2 : 4);
	put_str(b, dict);
	put_fill(b, ' ', len - strlen(dict) - 1);
	put_u8(b, '\n');
	for (size_t i = 0; i < data; i++)
		put_u8(b, (uint8_t)(i * 7));
}

struct valid_case {
	const char *dict;
	size_t data;  /* bytes in the file after the header */
	uint64_t len; /* bytes the map gives */
	uint8_t dtype;
	uint8_t big;
};

static void test_valid(void)
{
	static const struct valid_case cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 48, 48, MC_DT_F32,
		  0 },
		{ "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 16, MC_DT_F32,
		  1 },
		{ "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", 10, 10, MC_DT_F16,
		  0 },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, 8, MC_DT_F64, 0 },
		{ "{'descr': '|i1', 'fortran_order': False, 'shape': (7,), }", 7, 7, MC_DT_I8, 0 },
		{ "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", 8, 8, MC_DT_I32, 1 },
		{ "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 3, 3, MC_DT_U8, 0 },
		{ "{'descr': '<V2', 'fortran_order': False, 'shape': (4,), }", 8, 8, MC_DT_OTHER,
		  0 },
		{ "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24, 24, MC_DT_OTHER,
		  0 },
		{ "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }", 16, 16,
		  MC_DT_OTHER, 0 },
		{ "{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", 16, 16, MC_DT_OTHER,
		  0 },
		{ "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}", 30, 24,
		  MC_DT_F32, 0 },
	};
	for (unsigned major = 1; major <= 3; major++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct bytes b;
			npy_file(&b, major, cases[i].dict, cases[i].data);
			uint64_t data = b.n - cases[i].data;
			MC_CHECK_U64(data % 64, 0);
			struct recog g;
			recognize(&g, &b);
			CHECK_CONTRACT(&g);
			MC_CHECK_U64(g.r, 1);
			if (g.map) {
				MC_CHECK_U64(g.map->format, MC_TF_NPY);
				MC_CHECK_U64(g.map->n, 1);
				CHECK_TENSOR(g.map, 0, data, cases[i].len, "array", cases[i].dtype);
				MC_CHECK_U64(g.map->t[0].big_endian, cases[i].big);
			}
			recog_done(&g);
			if (i == 0) {
				check_torture(&b);
				check_truncations(&b, 1);
			}
			bytes_free(&b);
		}
	}

	/* An empty array: recognised, no tensor. */
	struct bytes b;
	npy_file(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 0);
	struct recog g;
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 1);
	MC_CHECK(g.map && g.map->n == 0);
	recog_done(&g);
	bytes_free(&b);
}

static void test_malformed(void)
{
	static const struct {
		const char *dict;
		size_t data;
		const char *why;
	} cases[] = {
		{ "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16,
		  "npy: object array (a pickle, not a tensor)" },
		{ "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8,
		  "structured dtypes are not supported" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 47,
		  "truncated: the data (48 bytes from offset 128) is past the end of the file (175 "
		  "bytes)" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }",
		  8, "shape has too many elements" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 1073741824), }",
		  8, "the array is too large" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
		  "dimension too large" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 8,
		  "expected a dimension" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 8,
		  "'shape' is not a tuple" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }", 8,
		  "expected ',' or ')' in 'shape'" },
		{ "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", 12,
		  "'fortran_order' is not True or False" },
		{ "{'descr': '<f4', 'shape': (3,), }", 12, "the header lacks 'fortran_order'" },
		{ "{'fortran_order': False, 'shape': (3,), }", 12, "the header lacks 'descr'" },
		{ "{'descr': '<f4', 'fortran_order': False}", 12, "the header lacks 'shape'" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12,
		  "unexpected key" },
		{ "{'descr': '<f', 'fortran_order': False, 'shape': (3,), }", 12,
		  "descr '<f' is not understood" },
		{ "{'descr': '<f0', 'fortran_order': False, 'shape': (3,), }", 12,
		  "is not understood" },
		{ "{'descr': '<f4x', 'fortran_order': False, 'shape': (3,), }", 12,
		  "is not understood" },
		{ "{'descr': '<f4\\n', 'fortran_order': False, 'shape': (3,), }", 12,
		  "unexpected byte in a string" },
		{ "{'descr: '<f4', 'fortran_order': False, 'shape': (3,), }", 12, "expected ':'" },
		{ "{'descr': '<f4' 'fortran_order': False, 'shape': (3,), }", 12,
		  "expected ',' or '}'" },
		{ "['descr', '<f4']", 12, "the header is not a dict" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", 12,
		  "bytes after the dict" },
		{ "{descr: 1}", 12, "expected a quoted string" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bytes b;
		npy_file(&b, 1, cases[i].dict, cases[i].data);
		CHECK_REJECTS(&b, cases[i].why);
		bytes_free(&b);
	}

	struct bytes b;
	npy_file(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4);
	b.p[6] = 4;
	CHECK_REJECTS(&b, "npy: version 4.0 is not supported");
	b.p[6] = 1;
	set_le(&b, 8, 0xffff, 2);
	CHECK_REJECTS(&b, "truncated: the header (65535 bytes at offset 10)");
	bytes_free(&b);

	npy_file(&b, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4);
	set_le(&b, 8, 0xffffffffu, 4);
	CHECK_REJECTS(&b, "header length 4294967295 is larger than the limit");
	bytes_free(&b);

	/* A header that ends inside a string (no padding, no newline). */
	b = (struct bytes){ 0 };
	put_str(&b, "\x93NUMPY\x01");
	put_u8(&b, 0);
	put_u16(&b, 14);
	put_str(&b, "{'descr': '<f4");
	CHECK_REJECTS(&b, "header byte 14: unterminated string");
	bytes_free(&b);

	put_str(&b, "\x93NUMPY\x01");
	CHECK_REJECTS(&b, "truncated: the preamble (10 bytes at offset 0)");
	bytes_free(&b);
}

/* The shape as written, outermost first (Fortran order changes the layout, not the shape). */
static void test_shapes(void)
{
	static const struct {
		const char *dict;
		size_t data;
		int ndim;
		uint64_t dims[3];
		uint8_t dtype;
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }",
		  96,
		  3,
		  { 2, 3, 4 },
		  MC_DT_F32 },
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }",
		  24,
		  2,
		  { 3, 2 },
		  MC_DT_F32 },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
		  8,
		  0,
		  { 0 },
		  MC_DT_F64 },
		{ "{'descr': '<u2', 'fortran_order': False, 'shape': (5,), }",
		  10,
		  1,
		  { 5 },
		  MC_DT_U16 },
		{ "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 9), }",
		  9,
		  2,
		  { 1, 9 },
		  MC_DT_BOOL },
		{ "{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 1L), }",
		  16,
		  2,
		  { 2, 1 },
		  MC_DT_I64 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bytes b;
		npy_file(&b, 1, cases[i].dict, cases[i].data);
		struct recog g;
		recognize(&g, &b);
		CHECK_CONTRACT(&g);
		MC_CHECK_U64(g.r, 1);
		if (g.map) {
			const uint64_t *dims;
			MC_CHECK_U64(g.map->t[0].dtype, cases[i].dtype);
			MC_CHECK_U64((uint64_t)mc_tensor_shape(g.map, 0, &dims),
			             (uint64_t)cases[i].ndim);
			for (int d = 0; d < cases[i].ndim; d++)
				MC_CHECK_U64(dims[d], cases[i].dims[d]);
			MC_CHECK_STR(g.map->names + g.map->t[0].name, "array");
		}
		recog_done(&g);
		bytes_free(&b);
	}
}

int main(void)
{
	test_valid();
	test_shapes();
	test_malformed();
	return mc_test_done("unit-npy");
}
