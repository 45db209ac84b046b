/* test_pickle.c: the plain-pickle and joblib recogniser on files built in memory the way
 * pickle.dump (protocols 3 to 5) and joblib.dump write numpy arrays, and one malformed variant
 * for each check it makes. test_pickle_real.py runs it on real dumps. */
#include "formats_util.h"

/* ---- a pickle writer ---- */

static void op(struct bytes *p, uint8_t o)
{
	put_u8(p, o);
}

static void str(struct bytes *p, const char *s)
{
	op(p, 0x8c); /* SHORT_BINUNICODE */
	put_u8(p, (uint8_t)strlen(s));
	put_str(p, s);
}

static void global(struct bytes *p, const char *module, const char *name)
{
	str(p, module);
	str(p, name);
	op(p, 0x93); /* STACK_GLOBAL */
}

static void int1(struct bytes *p, uint8_t v)
{
	op(p, 'K');
	put_u8(p, v);
}

/* PROTO 4 and a FRAME (its length is not checked against what follows, as pickle does not). */
static void begin(struct bytes *p, uint8_t proto)
{
	op(p, 0x80);
	put_u8(p, proto);
	op(p, 0x95);
	put_u64(p, 0);
}

/* numpy.dtype(kind, False, True) with the BUILD state (3, order, None, ...). */
static void dtype(struct bytes *p, const char *kind, const char *order)
{
	global(p, "numpy", "dtype");
	str(p, kind);
	op(p, 0x89);
	op(p, 0x88);
	op(p, 0x87); /* TUPLE3 */
	op(p, 'R');
	op(p, '(');
	int1(p, 3);
	str(p, order);
	op(p, 'N');
	op(p, 'N');
	op(p, 'N');
	op(p, 't');
	op(p, 'b');
}

static void shape(struct bytes *p, const uint8_t *dims, unsigned ndim)
{
	op(p, '(');
	for (unsigned i = 0; i < ndim; i++)
		int1(p, dims[i]);
	op(p, 't');
}

/* What ndarray.__reduce__ gives for protocols 3 and 4: _reconstruct(ndarray, (0,), b'b') and
 * BUILD (1, shape, dtype, False, data); the data's offset in *ret_data_off. */
static void ndarray(struct bytes *p, const char *kind, const char *order, const uint8_t *dims,
                    unsigned ndim, size_t data_len, size_t *ret_data_off)
{
	global(p, "numpy.core.multiarray", "_reconstruct");
	global(p, "numpy", "ndarray");
	int1(p, 0);
	op(p, 0x85);
	op(p, 'C');
	put_u8(p, 1);
	put_str(p, "b");
	op(p, 0x87);
	op(p, 'R');
	op(p, '(');
	int1(p, 1);
	shape(p, dims, ndim);
	dtype(p, kind, order);
	op(p, 0x89);
	op(p, 'B'); /* BINBYTES */
	put_u32(p, (uint32_t)data_len);
	*ret_data_off = p->n;
	put_fill(p, 0x3f, data_len);
	op(p, 't');
	op(p, 'b');
}

/* Protocol 5: _frombuffer(bytearray, dtype, shape, 'C'). */
static void frombuffer(struct bytes *p, const char *kind, const uint8_t *dims, unsigned ndim,
                       size_t data_len, size_t *ret_data_off)
{
	global(p, "numpy.core.numeric", "_frombuffer");
	op(p, '(');
	op(p, 0x96); /* BYTEARRAY8 */
	put_u64(p, data_len);
	*ret_data_off = p->n;
	put_fill(p, 0x40, data_len);
	dtype(p, kind, "<");
	shape(p, dims, ndim);
	str(p, "C");
	op(p, 't');
	op(p, 'R');
}

/* joblib's NumpyArrayWrapper: NEWOBJ, BUILD with its state dict, then the padding byte, the
 * padding up to 16 and the array's bytes; the data's offset in *ret_data_off. */
static void wrapper(struct bytes *p, const char *kind, const uint8_t *dims, unsigned ndim,
                    size_t data_len, bool with_shape, size_t *ret_data_off)
{
	global(p, "joblib.numpy_pickle", "NumpyArrayWrapper");
	op(p, ')');
	op(p, 0x81); /* NEWOBJ */
	op(p, '}');
	op(p, '(');
	if (with_shape) {
		str(p, "shape");
		shape(p, dims, ndim);
	}
	str(p, "order");
	str(p, "C");
	str(p, "dtype");
	dtype(p, kind, "<");
	str(p, "numpy_array_alignment_bytes");
	int1(p, 16);
	op(p, 'u');
	op(p, 'b');
	uint8_t pad = (uint8_t)(16 - (p->n + 1) % 16);
	put_u8(p, pad);
	put_fill(p, 0xff, pad);
	*ret_data_off = p->n;
	put_fill(p, 0x41, data_len);
}

/* ---- valid files ---- */

static const uint8_t dims23[] = { 2, 3 };

static struct mc_tensor_map *expect_map(struct recog *g, const struct bytes *b, uint32_t format,
                                        uint32_t n)
{
	recognize(g, b);
	CHECK_CONTRACT(g);
	MC_CHECK_U64(g->r, 1);
	if (g->r != 1) {
		fprintf(stderr, "why: %s\n", g->why);
		return NULL;
	}
	MC_CHECK_U64(g->map->format, format);
	MC_CHECK_U64(g->map->n, n);
	return g->map->n == n ? g->map : NULL;
}

static void finish_recog(struct recog *g)
{
	recog_done(g);
	MC_CHECK_U64(g->count.allocs, g->count.frees);
}

/* {'w': f4 (2, 3), 'layers': [>f8 (2,), {'b': f2 (3,)}], 'obj': Model with BUILD {'coef_':
 * i8 (2,)}}: names are keys, indices and attributes; dtypes and byte order numpy's. */
static void test_paths(void)
{
	struct bytes p = { 0 };
	size_t w, l0, b, coef;
	const uint8_t two[] = { 2 }, three[] = { 3 };
	begin(&p, 4);
	op(&p, '}');
	op(&p, '(');
	str(&p, "w");
	ndarray(&p, "f4", "<", dims23, 2, 24, &w);
	str(&p, "layers");
	op(&p, ']');
	op(&p, '(');
	ndarray(&p, "f8", ">", two, 1, 16, &l0);
	op(&p, '}');
	str(&p, "b");
	ndarray(&p, "f2", "<", three, 1, 6, &b);
	op(&p, 's');
	op(&p, 'e');
	str(&p, "obj");
	global(&p, "sklearn.linear_model", "Model");
	op(&p, ')');
	op(&p, 0x81);
	op(&p, '}');
	str(&p, "coef_");
	ndarray(&p, "i8", "<", two, 1, 16, &coef);
	op(&p, 's');
	op(&p, 'b');
	op(&p, 'u');
	op(&p, '.');
	struct recog g;
	struct mc_tensor_map *m = expect_map(&g, &p, MC_TF_PICKLE, 4);
	if (m) {
		CHECK_TENSOR(m, 0, w, 24, "w", MC_DT_F32);
		CHECK_TENSOR(m, 1, l0, 16, "layers[0]", MC_DT_F64);
		MC_CHECK_U64(m->t[1].big_endian, 1);
		CHECK_TENSOR(m, 2, b, 6, "layers[1].b", MC_DT_F16);
		CHECK_TENSOR(m, 3, coef, 16, "obj.coef_", MC_DT_OTHER);
		MC_CHECK_U64(m->t[0].big_endian, 0);
	}
	finish_recog(&g);
	check_torture(&p);
	bytes_free(&p);
}

/* An array alone, and a protocol 5 _frombuffer one: named by ordinal. */
static void test_ordinals(void)
{
	struct bytes p = { 0 };
	size_t a0, a1;
	begin(&p, 5);
	op(&p, '(');
	frombuffer(&p, "f4", dims23, 2, 24, &a0);
	ndarray(&p, "f8", "<", dims23, 2, 48, &a1);
	op(&p, 0x91); /* FROZENSET: its items have no path */
	op(&p, '.');
	struct recog g;
	struct mc_tensor_map *m = expect_map(&g, &p, MC_TF_PICKLE, 2);
	if (m) {
		CHECK_TENSOR(m, 0, a0, 24, "array0", MC_DT_F32);
		CHECK_TENSOR(m, 1, a1, 48, "array1", MC_DT_F64);
	}
	finish_recog(&g);
	bytes_free(&p);
}

/* A = {'x': array}, B = {'a': A}, then A['b'] = B: the cycle is not followed, the array is
 * named through the first holder of each container. */
static void test_cycle(void)
{
	struct bytes p = { 0 };
	size_t x;
	begin(&p, 4);
	op(&p, '}');
	op(&p, 0x94); /* A: memo 0 */
	str(&p, "x");
	ndarray(&p, "f4", "<", dims23, 2, 24, &x);
	op(&p, 's');
	op(&p, '}');
	op(&p, 0x94); /* B: memo 1 (the ndarray's opcodes memoize nothing) */
	str(&p, "a");
	op(&p, 'h');
	put_u8(&p, 0);
	op(&p, 's');
	op(&p, '0');
	str(&p, "b");
	op(&p, 'h');
	put_u8(&p, 1);
	op(&p, 's');
	op(&p, '.');
	struct recog g;
	struct mc_tensor_map *m = expect_map(&g, &p, MC_TF_PICKLE, 1);
	if (m)
		CHECK_TENSOR(m, 0, x, 24, "a.x", MC_DT_F32);
	finish_recog(&g);
	bytes_free(&p);
}

/* A joblib file: {'coef': wrapper f8 (2, 3)}, the bytes right after the wrapper, aligned. */
static void test_joblib(void)
{
	struct bytes p = { 0 };
	size_t coef, tail;
	begin(&p, 4);
	op(&p, '}');
	str(&p, "coef");
	wrapper(&p, "f8", dims23, 2, 48, true, &coef);
	op(&p, 's');
	str(&p, "after");
	wrapper(&p, "f4", dims23, 2, 24, true, &tail);
	op(&p, 's');
	op(&p, '.');
	struct recog g;
	struct mc_tensor_map *m = expect_map(&g, &p, MC_TF_JOBLIB, 2);
	if (m) {
		CHECK_TENSOR(m, 0, coef, 48, "coef", MC_DT_F64);
		CHECK_TENSOR(m, 1, tail, 24, "after", MC_DT_F32);
		MC_CHECK_U64(coef % 16, 0);
	}
	finish_recog(&g);
	check_torture(&p);
	bytes_free(&p);
}

/* A 4 GiB payload is skipped, never read: the walk reaches the end of the file past it in a
 * few reads (the source makes up the payload's bytes, the file ends with it). */
static void test_payload_not_read(void)
{
	struct bytes p = { 0 };
	begin(&p, 4);
	global(&p, "numpy.core.numeric", "_frombuffer");
	op(&p, '(');
	op(&p, 0x96);
	uint64_t big = 4ull << 30;
	put_u64(&p, big);
	struct recog g;
	recognize_sized(&g, p.p, p.n, p.n + big, 0);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, (uint64_t)-1);
	MC_CHECK(strstr(g.why, "pickle opcode (1 bytes at offset 4294967") != NULL);
	MC_CHECK(g.file.reads <= 4);
	recog_done(&g);
	bytes_free(&p);
}

/* ---- not pickles, malformed pickles ---- */

static void test_not_pickles(void)
{
	static const struct {
		const char *bytes;
		size_t n;
	} cases[] = {
		{ "\x80", 1 },
		{ "\x80\x01}.", 4 },               /* protocol 1 has no PROTO */
		{ "\x80\x06\x95", 3 },             /* protocol 6 does not exist */
		{ "\x80\x05}.", 4 },               /* protocol 5 unframed: not pickle.dump's */
		{ "\x80\x03\xff\x00", 4 },         /* not an opcode */
		{ "x\x9c\x80\x04\x95", 5 },        /* a compressed joblib file (zlib) */
		{ "\x04\x22\x4d\x18\x80\x04", 6 }, /* lz4 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct recog g;
		recognize_n(&g, (const uint8_t *)cases[i].bytes, cases[i].n, 0);
		CHECK_CONTRACT(&g);
		MC_CHECK_U64(g.r, 0);
		recog_done(&g);
	}
}

static void expect_rejected(const struct bytes *p, const char *why)
{
	CHECK_REJECTS(p, why);
}

static void test_malformed(void)
{
	struct bytes p = { 0 };
	size_t off;
	begin(&p, 4);
	ndarray(&p, "f4", "<", dims23, 2, 24, &off);
	struct bytes ok = p;

	/* No STOP: the file ends in the walk. */
	expect_rejected(&p, "past the end of the file");
	/* A payload longer than the file. */
	p.n = off - 4;
	put_u32(&p, 1000);
	expect_rejected(&p, "past the end of the file");
	set_le(&p, off - 4, 24, 4);
	/* An unknown opcode, a pop of an empty stack, a MARK never set. */
	p.n = ok.n;
	op(&p, 0xff);
	expect_rejected(&p, "unknown opcode 0xff");
	p.n = ok.n;
	op(&p, 's');
	expect_rejected(&p, "pops an empty stack");
	p.n = ok.n;
	op(&p, 'e');
	expect_rejected(&p, "has no MARK");
	p.n = ok.n;
	for (int i = 0; i < 1100; i++)
		op(&p, '(');
	expect_rejected(&p, "nests deeper than");
	bytes_free(&p);

	/* joblib: a wrapper without its shape, an array past the end, a dtype of unknown size. */
	struct bytes j = { 0 };
	begin(&j, 4);
	wrapper(&j, "f8", dims23, 2, 48, false, &off);
	op(&j, '.');
	expect_rejected(&j, "NumpyArrayWrapper at byte");
	bytes_free(&j);
	begin(&j, 4);
	wrapper(&j, "f8", dims23, 2, 0, true, &off);
	expect_rejected(&j, "past the end of the file");
	bytes_free(&j);
	begin(&j, 4);
	wrapper(&j, "V", dims23, 2, 0, true, &off);
	op(&j, '.');
	expect_rejected(&j, "dtype of unknown size");
	bytes_free(&j);
	const uint8_t huge[] = { 255, 255, 255, 255, 255, 255, 255, 255, 255 };
	begin(&j, 4);
	wrapper(&j, "f8", huge, 9, 0, true, &off);
	op(&j, '.');
	expect_rejected(&j, "array shape overflows");
	bytes_free(&j);
}

int main(void)
{
	test_paths();
	test_ordinals();
	test_cycle();
	test_joblib();
	test_payload_not_read();
	test_not_pickles();
	test_malformed();
	return mc_test_done("unit-pickle");
}
