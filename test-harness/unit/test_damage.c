/* test_damage.c: graded damage under region = tensors on a hand-made tensor map: the normal
 * draw's statistics, rounding to every float type (f32, f16, bf16, f64, the two 8-bit
 * floats), mode = noise (relative and absolute, the same bytes for any chunking of the reads,
 * NaN and Inf left alone), count = all and fraction, bit = N per type, and the value modes on
 * the scales of GGUF's quantized blocks. */
#include <math.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "formats/tensors.h"
#include "formats_util.h"
#include "mc_test.h"
#include "tensor_fixture.h"

#define FILE_SIZE 24000

/* Sorted, non-overlapping, with gaps (the "headers"). */
static const struct fixture_tensor layout[] = {
	{ "w.f32", MC_DT_F32, false, 100, 4000 },
	{ "w.f16", MC_DT_F16, false, 4200, 2000 },
	{ "w.bf16", MC_DT_BF16, false, 6300, 2000 },
	{ "w.f64", MC_DT_F64, false, 8400, 4000 },
	{ "w.e4m3", MC_DT_F8_E4M3, false, 12500, 999 },
	{ "w.e5m2", MC_DT_F8_E5M2, false, 13600, 1000 },
	{ "w.be", MC_DT_F32, true, 14700, 400 },
	{ "ids", MC_DT_OTHER, false, 15200, 300 },
	{ "q4_0", MC_DT_Q4_0, false, 15600, 18 * 40 },
	{ "q6_k", MC_DT_Q6_K, false, 16400, 210 * 10 },
	{ "q8_k", MC_DT_Q8_K, false, 18600, 292 * 10 },
};
#define N_TENSORS (sizeof(layout) / sizeof(layout[0]))
enum { T_F32, T_F16, T_BF16, T_F64, T_E4M3, T_E5M2, T_BE, T_IDS, T_Q4_0, T_Q6_K, T_Q8_K };

static struct mc_tensor tensors[N_TENSORS];
static char names[512];
static struct mc_tensor_map map;
static uint8_t original[FILE_SIZE];

static uint64_t element(const uint8_t *file, unsigned i, uint64_t e)
{
	return fixture_element(&layout[i], file, e);
}

/* Values between -2 and 2, never zero, as the bits of each type. */
static void build_map(void)
{
	for (size_t i = 0; i < FILE_SIZE; i++)
		original[i] = (uint8_t)(i * 13 + 5) | 1;
	for (unsigned i = 0; i < N_TENSORS; i++) {
		unsigned w = mc_dtype_size(layout[i].dt);
		uint64_t bits;

		for (uint64_t e = 0; w && e < layout[i].len / w; e++) {
			double v = ((double)((e * 7919 + i * 31) % 1999) - 999.5) / 500.0;

			MC_CHECK(mc_engine_float_from_double(layout[i].dt, v, &bits));
			fixture_put_element(&layout[i], original, e, bits);
		}
	}
	fixture_map(layout, N_TENSORS, FILE_SIZE, tensors, names, &map);
}

static int tensor_of(uint64_t off)
{
	return fixture_tensor_of(layout, N_TENSORS, off);
}

/* The file's own bytes, as the library reads them for a value cut by a buffer's edge. */
static int64_t read_original(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (off > FILE_SIZE || len > FILE_SIZE - off)
		return -1;
	memcpy(buf, original + off, len);
	return (int64_t)len;
}

static const struct mc_tensor_view view = { .map = &map, .read_at = read_original };

/* Reads the whole file in chunks of `chunk` bytes, damaging each; returns the changes. */
static uint64_t read_in_chunks(const struct mc_erule *r, const struct mc_tensor_view *tv,
                               uint64_t nonce, size_t chunk, uint8_t *out)
{
	uint64_t changed = 0;

	memcpy(out, original, FILE_SIZE);
	for (size_t off = 0; off < FILE_SIZE; off += chunk) {
		size_t n = chunk < FILE_SIZE - off ? chunk : FILE_SIZE - off;

		changed += mc_engine_corrupt_tensors(r, tv, 42, nonce, off, out + off, n, NULL);
	}
	return changed;
}

static struct mc_ruleset *rules(const char *keys)
{
	char text[512];

	snprintf(text, sizeof(text),
	         "[mlchaos]\nseed = 11\n[fault.t]\nhook = read\naction = corrupt\n"
	         "region = tensors\n%s",
	         keys);
	return build_rules(text);
}

/* 10^6 draws: mean 0, variance 1 and the normal's tails, within a few standard errors (the
 * draws are a pure function of the keys: the figures are the same on every run). */
static void test_gaussian(void)
{
	const unsigned n = 1000000;
	double sum = 0, sum2 = 0, sum4 = 0;
	unsigned beyond1 = 0, beyond2 = 0, beyond3 = 0, beyond4 = 0;

	for (unsigned i = 0; i < n; i++) {
		double z = mc_engine_gaussian(mc_engine_mix64(i + 1));

		sum += z;
		sum2 += z * z;
		sum4 += z * z * z * z;
		beyond1 += fabs(z) > 1;
		beyond2 += fabs(z) > 2;
		beyond3 += fabs(z) > 3;
		beyond4 += fabs(z) > 4;
	}
	double mean = sum / n, var = sum2 / n - mean * mean, kurt = sum4 / n;
	printf("gaussian: mean %.5f variance %.5f fourth moment %.4f; beyond 1, 2, 3, 4 sd: "
	       "%.5f %.5f %.6f %.7f\n",
	       mean, var, kurt, beyond1 / (double)n, beyond2 / (double)n, beyond3 / (double)n,
	       beyond4 / (double)n);
	MC_CHECKF(fabs(mean) < 0.004, "mean %g", mean);       /* se 0.001 */
	MC_CHECKF(fabs(var - 1) < 0.006, "variance %g", var); /* se 0.0014 */
	MC_CHECKF(fabs(kurt - 3) < 0.05, "fourth moment %g", kurt);
	MC_CHECKF(fabs(beyond1 / (double)n - 0.317311) < 0.002, "beyond 1: %u", beyond1);
	MC_CHECKF(fabs(beyond2 / (double)n - 0.0455003) < 0.0009, "beyond 2: %u", beyond2);
	MC_CHECKF(fabs(beyond3 / (double)n - 0.0026998) < 0.0003, "beyond 3: %u", beyond3);
	MC_CHECKF(beyond4 >= 25 && beyond4 <= 110, "beyond 4: %u (expected about 63)", beyond4);
	/* a pure function of the key */
	MC_CHECK(mc_engine_gaussian(12345) == mc_engine_gaussian(12345));
	MC_CHECK(mc_engine_gaussian(12345) != mc_engine_gaussian(12346));
}

static uint64_t to_bits(unsigned dt, double v)
{
	uint64_t bits = 0xdead;

	MC_CHECK(mc_engine_float_from_double(dt, v, &bits));
	return bits;
}

static double of_bits(unsigned dt, uint64_t bits)
{
	double v = -12345;

	MC_CHECK(mc_engine_float_to_double(dt, bits, &v));
	return v;
}

/* Round to nearest even on every type: ties, subnormals, overflow; and the way back. */
static void test_rounding(void)
{
	/* f16: ties go to the even mantissa */
	MC_CHECK_U64(to_bits(MC_DT_F16, 1.0 + 0x1p-11), 0x3c00);
	MC_CHECK_U64(to_bits(MC_DT_F16, 1.0 + 3 * 0x1p-11), 0x3c02);
	MC_CHECK_U64(to_bits(MC_DT_F16, 1.0 + 0x1p-11 + 0x1p-30), 0x3c01);
	MC_CHECK_U64(to_bits(MC_DT_F16, -2.0), 0xc000);
	MC_CHECK_U64(to_bits(MC_DT_F16, 65504), 0x7bff);
	MC_CHECK_U64(to_bits(MC_DT_F16, 65519.9), 0x7bff);
	MC_CHECK_U64(to_bits(MC_DT_F16, 65520), 0x7c00); /* the tie past the largest: Inf */
	MC_CHECK_U64(to_bits(MC_DT_F16, -1e10), 0xfc00);
	MC_CHECK_U64(to_bits(MC_DT_F16, 0x1p-24), 0x0001);             /* smallest subnormal */
	MC_CHECK_U64(to_bits(MC_DT_F16, 0x1p-25), 0x0000);             /* tie: to even, zero */
	MC_CHECK_U64(to_bits(MC_DT_F16, 0x1.8p-24), 0x0002);           /* tie: to even, two */
	MC_CHECK_U64(to_bits(MC_DT_F16, 0x3ffp-24 + 0x1p-25), 0x0400); /* up into the normals */
	MC_CHECK_U64(to_bits(MC_DT_F16, -0.0), 0x8000);
	MC_CHECK(of_bits(MC_DT_F16, 0x3555) == 0x1.554p-2);
	MC_CHECK(of_bits(MC_DT_F16, 0x8001) == -0x1p-24);
	/* bf16 */
	MC_CHECK_U64(to_bits(MC_DT_BF16, 1.0 + 0x1p-8), 0x3f80);
	MC_CHECK_U64(to_bits(MC_DT_BF16, 1.0 + 3 * 0x1p-8), 0x3f82);
	MC_CHECK_U64(to_bits(MC_DT_BF16, 3.0e38), 0x7f62);
	MC_CHECK_U64(to_bits(MC_DT_BF16, 3.4e38), 0x7f80);
	MC_CHECK(of_bits(MC_DT_BF16, 0xbfc0) == -1.5);
	/* f32 agrees with the compiler's conversion (round to nearest even) on many doubles */
	unsigned differ = 0;
	for (uint64_t i = 1; i < 200000; i++) {
		uint64_t u = mc_engine_mix64(i);
		double d;
		float f;
		uint32_t fb;

		u = (u & 0x800fffffffffffffull) | ((uint64_t)(0x3ff + (int)(u >> 52 & 0x1ff) - 256)
		                                   << 52); /* exponents 2^-256..2^255 */
		memcpy(&d, &u, 8);
		f = (float)d;
		memcpy(&fb, &f, 4);
		differ +=
		    to_bits(MC_DT_F32, d) != fb || (isfinite(f) && of_bits(MC_DT_F32, fb) != f);
	}
	MC_CHECK_U64(differ, 0);
	/* f64 is itself */
	MC_CHECK_U64(to_bits(MC_DT_F64, 0.1), 0x3fb999999999999aull);
	/* E4M3FN: 448 is the largest, 464 ties to it (even), 480 and beyond are NaN */
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 1.0), 0x38);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 448), 0x7e);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 464), 0x7e);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 480), 0x7f);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, -1e6), 0xff);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 0x1p-9), 0x01);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 0x1p-10), 0x00);
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 1.0625), 0x38); /* tie: to even */
	MC_CHECK_U64(to_bits(MC_DT_F8_E4M3, 1.1875), 0x3a);
	MC_CHECK(of_bits(MC_DT_F8_E4M3, 0x7e) == 448);
	MC_CHECK(of_bits(MC_DT_F8_E4M3, 0x78) == 256); /* the all-ones exponent holds numbers */
	double v;
	MC_CHECK(!mc_engine_float_to_double(MC_DT_F8_E4M3, 0x7f, &v));
	MC_CHECK(!mc_engine_float_to_double(MC_DT_F8_E4M3, 0xff, &v));
	/* E5M2: IEEE-like */
	MC_CHECK_U64(to_bits(MC_DT_F8_E5M2, 1.0), 0x3c);
	MC_CHECK_U64(to_bits(MC_DT_F8_E5M2, 57344), 0x7b);
	MC_CHECK_U64(to_bits(MC_DT_F8_E5M2, 61440), 0x7c); /* tie past the largest: Inf */
	MC_CHECK_U64(to_bits(MC_DT_F8_E5M2, 0x1p-16), 0x01);
	MC_CHECK(!mc_engine_float_to_double(MC_DT_F8_E5M2, 0x7c, &v));
	MC_CHECK(!mc_engine_float_to_double(MC_DT_F8_E5M2, 0xfe, &v));
	MC_CHECK(!mc_engine_float_to_double(MC_DT_OTHER, 0, &v));
	uint64_t bits;
	MC_CHECK(!mc_engine_float_from_double(MC_DT_Q4_0, 1.0, &bits));
}

/* Noise: the same bytes for reads of 1, 7, 4096 bytes and the whole file; without the file's
 * own bytes, a value cut by the buffer's edge is left alone; scope = call draws anew. */
static void test_noise_chunkings(void)
{
	static uint8_t whole[FILE_SIZE], part[FILE_SIZE];
	static const size_t chunks[] = { 1, 7, 4096, 333 };
	struct mc_ruleset *rs = rules("mode = noise\nstd = 0.05\ncount = all\n");
	struct mc_ruleset *call = rules("mode = noise\nstd = 0.05\ncount = 7\nscope = call\n");
	const struct mc_erule *r = rs ? mc_engine_rule(rs, 0) : NULL;
	struct mc_tensor_view blind = { .map = &map };
	unsigned outside = 0;

	if (!r || !call)
		return;
	MC_CHECK(read_in_chunks(r, &view, 0, FILE_SIZE, whole) > 3000);
	for (size_t i = 0; i < FILE_SIZE; i++) {
		int t = tensor_of(i);
		outside += whole[i] != original[i] && (t < 0 || t == T_IDS);
	}
	MC_CHECK_U64(outside, 0); /* neither headers nor the tensor that is not float */
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		read_in_chunks(r, &view, 0, chunks[c], part);
		MC_CHECKF(memcmp(whole, part, FILE_SIZE) == 0, "chunks of %zu differ", chunks[c]);
	}
	/* 1-byte reads without read_at: the 8-bit floats only */
	read_in_chunks(r, &blind, 0, 1, part);
	unsigned wide = 0, narrow = 0;
	for (size_t i = layout[0].off; i < layout[T_BE].off + layout[T_BE].len; i++) {
		bool f8 = i >= layout[T_E4M3].off && i < layout[T_E5M2].off + layout[T_E5M2].len;
		wide += !f8 && part[i] != original[i];
		narrow += f8 && part[i] != whole[i];
	}
	MC_CHECK_U64(wide, 0);
	MC_CHECK_U64(narrow, 0);
	/* scope = call: another nonce, other values; the same nonce, the same */
	uint8_t *a = whole, *b = part;
	read_in_chunks(mc_engine_rule(call, 0), &view, 1, 4096, a);
	read_in_chunks(mc_engine_rule(call, 0), &view, 2, 4096, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) != 0);
	read_in_chunks(mc_engine_rule(call, 0), &view, 1, 7, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0);
	mc_engine_free(rs);
	mc_engine_free(call);
}

/* Relative noise moves f64 values by std relative, f32 by as much after rounding; absolute
 * noise adds std; NaN and Inf stay; the report lists the values with their bits. */
static void test_noise_values(void)
{
	static uint8_t out[FILE_SIZE];
	struct mc_ruleset *rs = rules("mode = noise\nstd = 0.01\ncount = all\n");
	struct mc_ruleset *abs_rs = rules("mode = noise\nstd = 0.25\nnoise = absolute\n"
	                                  "count = all\ntensor = w.f64\n");

	if (!rs || !abs_rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &view, 0, 1000, out);
	static const unsigned checked[] = { T_F64, T_F32, T_BE };
	for (size_t k = 0; k < 3; k++) {
		unsigned i = checked[k], w = mc_dtype_size(layout[i].dt);
		uint64_t n = layout[i].len / w;
		double sum = 0, sum2 = 0;

		for (uint64_t e = 0; e < n; e++) {
			double before = of_bits(layout[i].dt, element(original, i, e));
			double after = of_bits(layout[i].dt, element(out, i, e));
			double rel = after / before - 1;

			sum += rel;
			sum2 += rel * rel;
		}
		double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
		printf("noise std 0.01 on %s (%" PRIu64 " values): relative change mean %.5f, "
		       "sd %.5f\n",
		       layout[i].name, n, mean, sd);
		MC_CHECKF(fabs(mean) < 0.002, "%s: mean %g", layout[i].name, mean);
		MC_CHECKF(sd > 0.009 && sd < 0.011, "%s: sd %g", layout[i].name, sd);
	}
	/* absolute: after - before is N(0, 0.25) */
	read_in_chunks(mc_engine_rule(abs_rs, 0), &view, 0, 4096, out);
	double sum = 0, sum2 = 0;
	for (uint64_t e = 0; e < 500; e++) {
		double d = of_bits(MC_DT_F64, element(out, T_F64, e)) -
		           of_bits(MC_DT_F64, element(original, T_F64, e));
		sum += d;
		sum2 += d * d;
	}
	MC_CHECKF(fabs(sum / 500) < 0.05 && fabs(sqrt(sum2 / 500) - 0.25) < 0.03,
	          "absolute noise: mean %g sd %g", sum / 500, sqrt(sum2 / 500));
	/* NaN, Inf and (relative) zero stay as they are */
	memcpy(out, original, FILE_SIZE);
	fixture_put_element(&layout[T_F32], out, 0, 0x7fc00000);
	fixture_put_element(&layout[T_F32], out, 1, 0xff800000);
	fixture_put_element(&layout[T_F32], out, 2, 0x00000000);
	fixture_put_element(&layout[T_E4M3], out, 0, 0x7f);
	struct mc_corrupt_report rep = { .changed = 0, .n = 0 };
	mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &view, 42, 0, 100, out + 100, 12, &rep);
	MC_CHECK_U64(element(out, T_F32, 0), 0x7fc00000);
	MC_CHECK_U64(element(out, T_F32, 1), 0xff800000);
	MC_CHECK_U64(element(out, T_F32, 2), 0);
	MC_CHECK_U64(rep.changed, 0);
	mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &view, 42, 0, 12500, out + 12500, 1, &rep);
	MC_CHECK_U64(out[12500], 0x7f);
	/* the report: every value changed, bits before and after */
	memcpy(out, original, FILE_SIZE);
	rep = (struct mc_corrupt_report){ .changed = 0, .n = 0 };
	mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &view, 42, 0, 100, out + 100, 4000, &rep);
	MC_CHECK(rep.changed > 900 && rep.n == MC_CHANGES_MAX);
	unsigned good = 0;
	for (uint32_t k = 0; k < rep.n; k++) {
		const struct mc_tensor_change *c = &rep.change[k];
		good += c->tensor == T_F32 && c->width == 4 && c->held == 0xf &&
		        c->before == element(original, T_F32, c->index) &&
		        c->after == element(out, T_F32, c->index) &&
		        c->file_offset == 100 + 4 * c->index;
	}
	MC_CHECK_U64(good, rep.n);
	mc_engine_free(rs);
	mc_engine_free(abs_rs);
}

static uint64_t values_changed(const uint8_t *out, unsigned i)
{
	unsigned w = mc_dtype_size(layout[i].dt);
	uint64_t changed = 0;

	for (uint64_t e = 0; e < layout[i].len / w; e++)
		changed += element(out, i, e) != element(original, i, e);
	return changed;
}

/* count = all changes every value of each selected tensor; fraction that share of them, the
 * same ones for any chunking. */
static void test_count_all_and_fraction(void)
{
	static uint8_t a[FILE_SIZE], b[FILE_SIZE];
	struct mc_ruleset *all = rules("mode = sign\ncount = all\n");
	struct mc_ruleset *frac = rules("mode = sign\nfraction = 10%\n");
	struct mc_ruleset *tiny = rules("mode = sign\nfraction = 0.01%\n");

	if (!all || !frac || !tiny)
		return;
	read_in_chunks(mc_engine_rule(all, 0), &view, 0, 999, a);
	for (unsigned i = 0; i <= T_BE; i++)
		MC_CHECK_U64(values_changed(a, i), layout[i].len / mc_dtype_size(layout[i].dt));
	for (size_t i = layout[T_IDS].off; i < layout[T_IDS].off + layout[T_IDS].len; i++)
		MC_CHECK(a[i] == original[i]);
	read_in_chunks(mc_engine_rule(frac, 0), &view, 0, 999, a);
	read_in_chunks(mc_engine_rule(frac, 0), &view, 0, 1, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0);
	MC_CHECK_U64(values_changed(a, T_F32), 100);  /* 1000 values */
	MC_CHECK_U64(values_changed(a, T_F16), 100);  /* 1000 */
	MC_CHECK_U64(values_changed(a, T_E4M3), 100); /* 999: 99.9, rounded */
	MC_CHECK_U64(values_changed(a, T_BE), 10);    /* 100 */
	/* a share below one value still damages one */
	read_in_chunks(mc_engine_rule(tiny, 0), &view, 0, 4096, a);
	MC_CHECK_U64(values_changed(a, T_F64), 1);
	/* byte modes: count = all is every byte of each tensor */
	mc_engine_free(all);
	all = rules("mode = byte:0x00\ncount = all\ntensor = ids\n");
	if (all) {
		read_in_chunks(mc_engine_rule(all, 0), &view, 0, 77, a);
		unsigned zero = 0, other = 0;
		for (size_t i = 0; i < FILE_SIZE; i++) {
			bool in =
			    i >= layout[T_IDS].off && i < layout[T_IDS].off + layout[T_IDS].len;
			zero += in && a[i] == 0;
			other += !in && a[i] != original[i];
		}
		MC_CHECK_U64(zero, layout[T_IDS].len);
		MC_CHECK_U64(other, 0);
	}
	mc_engine_free(all);
	/* and fraction that share of the positions of each 4 KiB (ids: 300 bytes, one chunk) */
	all = rules("mode = random\nfraction = 50%\ntensor = ids\n");
	if (all) {
		read_in_chunks(mc_engine_rule(all, 0), &view, 0, 77, a);
		unsigned changed = 0;
		for (size_t i = 0; i < FILE_SIZE; i++)
			changed += a[i] != original[i];
		MC_CHECK_U64(changed, 150);
	}
	mc_engine_free(all);
	mc_engine_free(frac);
	mc_engine_free(tiny);
}

/* bit = N flips exactly that bit of each selected value; types narrower than N + 1 bits are
 * left alone. */
static void test_bit(void)
{
	static uint8_t out[FILE_SIZE];
	static const struct {
		unsigned bit;
		uint64_t changed[T_BE + 1]; /* values changed per float tensor */
	} cases[] = {
		{ 31, { 1000, 0, 0, 500, 0, 0, 100 } },
		{ 15, { 1000, 1000, 1000, 500, 0, 0, 100 } },
		{ 7, { 1000, 1000, 1000, 500, 999, 1000, 100 } },
		{ 63, { 0, 0, 0, 500, 0, 0, 0 } },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char keys[128];
		snprintf(keys, sizeof(keys), "mode = bitflip\nbit = %u\ncount = all\n",
		         cases[c].bit);
		struct mc_ruleset *rs = rules(keys);
		if (!rs)
			continue;
		read_in_chunks(mc_engine_rule(rs, 0), &view, 0, 3, out);
		for (unsigned i = 0; i <= T_BE; i++) {
			unsigned w = mc_dtype_size(layout[i].dt);
			uint64_t wrong = 0;

			MC_CHECK_U64(values_changed(out, i), cases[c].changed[i]);
			for (uint64_t e = 0; e < layout[i].len / w; e++) {
				uint64_t x = element(out, i, e) ^ element(original, i, e);
				wrong += x && x != 1ull << cases[c].bit;
			}
			MC_CHECK_U64(wrong, 0);
		}
		/* not float: left alone */
		MC_CHECK(memcmp(out + layout[T_IDS].off, original + layout[T_IDS].off,
		                layout[T_IDS].len) == 0);
		mc_engine_free(rs);
	}
	/* an 8-bit float is reported as a value (its index counts elements), a byte mode's byte
	 * as a byte */
	struct mc_ruleset *sign8 = rules("mode = bitflip\nbit = 7\ntensor = w.e4m3\n");
	struct mc_ruleset *bytes = rules("mode = random\ntensor = w.e4m3\n");
	if (sign8 && bytes) {
		struct mc_corrupt_report a = { .changed = 0, .n = 0 }, b = { .changed = 0, .n = 0 };

		memcpy(out, original, FILE_SIZE);
		mc_engine_corrupt_tensors(mc_engine_rule(sign8, 0), &view, 42, 0, 0, out, FILE_SIZE,
		                          &a);
		memcpy(out, original, FILE_SIZE);
		mc_engine_corrupt_tensors(mc_engine_rule(bytes, 0), &view, 42, 0, 0, out, FILE_SIZE,
		                          &b);
		MC_CHECK(a.n == 1 && a.change[0].value == 1 && a.change[0].width == 1 &&
		         (a.change[0].before ^ a.change[0].after) == 0x80);
		MC_CHECK(b.n == 1 && b.change[0].value == 0 && b.change[0].width == 1);
	}
	mc_engine_free(sign8);
	mc_engine_free(bytes);
	/* f32 bit 31 is the sign: every value negated, in both byte orders */
	struct mc_ruleset *rs = rules("mode = bitflip\nbit = 31\ncount = all\n");
	if (rs) {
		read_in_chunks(mc_engine_rule(rs, 0), &view, 0, 4096, out);
		unsigned negated = 0;
		for (uint64_t e = 0; e < 100; e++)
			negated += of_bits(MC_DT_F32, element(out, T_BE, e)) ==
			           -of_bits(MC_DT_F32, element(original, T_BE, e));
		MC_CHECK_U64(negated, 100);
		mc_engine_free(rs);
	}
}

/* The scale d of every quantized block, at its place in the block, and nothing else. */
static void test_block_scales(void)
{
	static uint8_t out[FILE_SIZE];
	static const struct {
		unsigned tensor;
		uint64_t block, scale_off;
		unsigned width;
	} blocks[] = { { T_Q4_0, 18, 0, 2 }, { T_Q6_K, 210, 208, 2 }, { T_Q8_K, 292, 0, 4 } };
	struct mc_ruleset *rs = rules("mode = sign\ncount = all\ntensor = q*\n");
	struct mc_ruleset *nan = rules("mode = nan\ncount = 2\ntensor = q8_k\n");

	if (!rs || !nan)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &view, 0, 100, out);
	for (size_t k = 0; k < 3; k++) {
		unsigned i = blocks[k].tensor;
		uint64_t n = layout[i].len / blocks[k].block, wrong = 0, flipped = 0;

		for (uint64_t off = layout[i].off; off < layout[i].off + layout[i].len; off++) {
			uint64_t in_block = (off - layout[i].off) % blocks[k].block;
			bool sign_byte = in_block == blocks[k].scale_off + blocks[k].width - 1;

			flipped += sign_byte && (out[off] ^ original[off]) == 0x80;
			wrong += !sign_byte && out[off] != original[off];
		}
		MC_CHECKF(flipped == n && wrong == 0,
		          "%s: %" PRIu64 " of %" PRIu64 " scales negated, %" PRIu64
		          " other bytes changed",
		          layout[i].name, flipped, n, wrong);
	}
	/* nan on Q8_K's f32 d: two blocks, the report names the block and the scale's bits */
	struct mc_corrupt_report rep = { .changed = 0, .n = 0 };
	memcpy(out, original, FILE_SIZE);
	mc_engine_corrupt_tensors(mc_engine_rule(nan, 0), &view, 42, 0, 0, out, FILE_SIZE, &rep);
	MC_CHECK_U64(rep.changed, 2);
	for (uint32_t k = 0; k < rep.n; k++) {
		const struct mc_tensor_change *c = &rep.change[k];
		uint64_t at = layout[T_Q8_K].off + c->index * 292;
		MC_CHECK(c->tensor == T_Q8_K && c->width == 4 && c->file_offset == at);
		MC_CHECK((c->after & 0x7fc00000) == 0x7fc00000 && out[at + 3] >= 0x7f);
	}
	mc_engine_free(rs);
	mc_engine_free(nan);
}

/* End to end: a GGUF file with a Q8_0 and a Q6_K tensor, recognised, then damaged: the
 * recogniser keeps the block types, and sign flips each block's d and nothing else. */
static void gguf_string(struct bytes *b, const char *s)
{
	put_u64(b, strlen(s));
	put_str(b, s);
}

static void gguf_tensor(struct bytes *b, const char *name, uint64_t elements, uint32_t type,
                        uint64_t offset)
{
	gguf_string(b, name);
	put_u32(b, 1); /* dimensions */
	put_u64(b, elements);
	put_u32(b, type);
	put_u64(b, offset);
}

static void test_gguf_file(void)
{
	struct bytes b;
	struct recog g;
	uint64_t data;

	memset(&b, 0, sizeof(b));
	put_str(&b, "GGUF");
	put_u32(&b, 3);
	put_u64(&b, 2); /* tensors */
	put_u64(&b, 0); /* key-values */
	gguf_tensor(&b, "blk.0.q8", 64, 8 /* Q8_0: 2 blocks of 34 bytes */, 0);
	gguf_tensor(&b, "blk.0.q6k", 512, 14 /* Q6_K: 2 blocks of 210 bytes */, 96);
	pad_to(&b, 32, 0);
	data = b.n;
	put_fill(&b, 0x11, 96 + 420);
	recognize(&g, &b);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		static uint8_t out[1024];
		struct mc_tensor_view tv = { .map = g.map };
		struct mc_ruleset *rs = rules("mode = sign\ncount = all\n");
		uint64_t flipped = 0, other = 0;

		MC_CHECK(g.map->n == 2 && g.map->t[0].dtype == MC_DT_Q8_0 &&
		         g.map->t[1].dtype == MC_DT_Q6_K);
		MC_CHECK(b.n <= sizeof(out));
		memcpy(out, b.p, b.n);
		if (rs)
			MC_CHECK_U64(mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &tv, 1, 0, 0,
			                                       out, b.n, NULL),
			             4);
		for (uint64_t i = 0; i < b.n; i++) {
			/* the high byte of each f16 d: Q8_0 at 0 of 34, Q6_K at 208 of 210 */
			bool sign = i == data + 1 || i == data + 35 || i == data + 96 + 209 ||
			            i == data + 96 + 210 + 209;
			flipped += sign && (out[i] ^ b.p[i]) == 0x80;
			other += !sign && out[i] != b.p[i];
		}
		MC_CHECK_U64(flipped, 4);
		MC_CHECK_U64(other, 0);
		mc_engine_free(rs);
	}
	recog_done(&g);
	bytes_free(&b);
}

/* The block layouts the GGUF recogniser's types carry. */
static void test_block_layouts(void)
{
	static const struct {
		enum mc_dtype dt;
		unsigned bytes, scale_off;
		enum mc_dtype scale;
	} want[] = {
		{ MC_DT_Q4_0, 18, 0, MC_DT_F16 },    { MC_DT_Q4_1, 20, 0, MC_DT_F16 },
		{ MC_DT_Q5_0, 22, 0, MC_DT_F16 },    { MC_DT_Q5_1, 24, 0, MC_DT_F16 },
		{ MC_DT_Q8_0, 34, 0, MC_DT_F16 },    { MC_DT_Q8_1, 36, 0, MC_DT_F16 },
		{ MC_DT_Q2_K, 84, 80, MC_DT_F16 },   { MC_DT_Q3_K, 110, 108, MC_DT_F16 },
		{ MC_DT_Q4_K, 144, 0, MC_DT_F16 },   { MC_DT_Q5_K, 176, 0, MC_DT_F16 },
		{ MC_DT_Q6_K, 210, 208, MC_DT_F16 }, { MC_DT_Q8_K, 292, 0, MC_DT_F32 },
	};
	struct mc_dtype_block b;

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		MC_CHECK(mc_dtype_block(want[k].dt, &b));
		MC_CHECK(b.bytes == want[k].bytes && b.scale_off == want[k].scale_off &&
		         b.scale_dtype == want[k].scale);
		MC_CHECK_U64(mc_dtype_size(want[k].dt), 0);
	}
	MC_CHECK(!mc_dtype_block(MC_DT_F32, &b));
	MC_CHECK(!mc_dtype_block(MC_DT_OTHER, &b));
	MC_CHECK_U64(mc_dtype_size(MC_DT_F8_E4M3), 1);
	MC_CHECK_U64(mc_dtype_size(MC_DT_F8_E5M2), 1);
}

/* The decimal numbers of std: by hand, whatever the locale. */
static void test_decimal(void)
{
	static const struct {
		const char *text;
		int ret;
		double value;
	} cases[] = {
		{ "0.01", 0, 0.01 },    { "1e-4", 0, 1e-4 },     { "2.5E+3", 0, 2500 },
		{ "0.5 ", 0, 0.5 },     { "3", 0, 3 },           { "1e-300", 0, 1e-300 },
		{ "1e", -EINVAL, 0 },   { ".", -EINVAL, 0 },     { "-1", -EINVAL, 0 },
		{ "0.1x", -EINVAL, 0 }, { "1e401", -ERANGE, 0 }, { "", -EINVAL, 0 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		double v = -1;
		int r = mc_cfg_parse_decimal(cases[k].text, &v);

		MC_CHECKF(r == cases[k].ret && (r < 0 || fabs(v / cases[k].value - 1) < 1e-15),
		          "'%s': %d, %.17g", cases[k].text, r, v);
	}
}

int main(void)
{
	build_map();
	test_decimal();
	test_gaussian();
	test_rounding();
	test_noise_chunkings();
	test_noise_values();
	test_count_all_and_fraction();
	test_bit();
	test_block_scales();
	test_block_layouts();
	test_gguf_file();
	return mc_test_done("damage");
}
