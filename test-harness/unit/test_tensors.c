/* test_tensors.c: region = tensors on a hand-made tensor map: damage lands only in
 * the data of the tensors the glob selects, is the same for any chunking of the reads (an
 * element cut by a buffer's edge included), every value mode does what it says on every
 * float type and byte order, `count` is per tensor (value modes) or per 4 KiB of a tensor
 * (byte modes), and the report lists exactly what changed. */
#include <math.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "formats/tensors.h"
#include "mc_test.h"
#include "tensor_fixture.h"

#define FILE_SIZE 40000

/* Sorted, non-overlapping, with gaps (the "headers"). */
static const struct fixture_tensor layout[] = {
	{ "layers.0.attn.weight", MC_DT_F32, false, 104, 4000 },
	{ "layers.0.attn.bias", MC_DT_F16, false, 4300, 64 },
	{ "layers.0.mlp.weight", MC_DT_BF16, false, 5000, 20000 },
	{ "layers.1.attn.weight", MC_DT_F64, false, 25000, 8000 },
	{ "layers.1.ids", MC_DT_OTHER, false, 33000, 3000 },
	{ "be.weight", MC_DT_F32, true, 36000, 400 },
	{ "tiny", MC_DT_F32, false, 36500, 8 },
	{ "odd.f16", MC_DT_F16, false, 36601, 7 }, /* 3 whole elements and a stray byte */
};
#define N_TENSORS (sizeof(layout) / sizeof(layout[0]))

static struct mc_tensor tensors[N_TENSORS];
static char names[512];
static struct mc_tensor_map map;
static uint8_t original[FILE_SIZE];

static unsigned width_of(enum mc_dtype dt)
{
	return mc_dtype_size(dt);
}

/* Element e of tensor i as a number, in the given bytes of the file. */
static uint64_t element(const uint8_t *file, unsigned i, uint64_t e)
{
	return fixture_element(&layout[i], file, e);
}

/* A finite, nonzero value below 1 in magnitude, of either sign, as the bits of dtype dt. */
static uint64_t small_value(enum mc_dtype dt, unsigned seed)
{
	float f = (float)((seed % 997) + 1) / 1000.0f * (seed & 1 ? -1.0f : 1.0f);
	double d = f;
	uint32_t u32;
	uint64_t u64;

	memcpy(&u32, &f, 4);
	memcpy(&u64, &d, 8);
	switch (dt) {
	case MC_DT_F32:
		return u32;
	case MC_DT_BF16:
		return u32 >> 16;
	case MC_DT_F64:
		return u64;
	case MC_DT_F16: /* sign, exponent 1..14 (below 1), mantissa */
		return (seed & 1 ? 0x8000u : 0) | ((seed % 14 + 1) << 10) | (seed * 37 % 1024);
	default:
		return 0;
	}
}

static void build_map(void)
{
	for (size_t i = 0; i < FILE_SIZE; i++)
		original[i] = (uint8_t)(i * 13 + 5) | 1; /* never 0: zeroing always changes */
	for (unsigned i = 0; i < N_TENSORS; i++) {
		unsigned w = width_of(layout[i].dt);

		for (uint64_t e = 0; w && e < layout[i].len / w; e++)
			fixture_put_element(&layout[i], original, e,
			                    small_value(layout[i].dt, (unsigned)(e * 7 + i)));
	}
	fixture_map(layout, N_TENSORS, FILE_SIZE, tensors, names, &map);
}

static int tensor_of(uint64_t off)
{
	return fixture_tensor_of(layout, N_TENSORS, off);
}

/* Reads [from, to) in chunks of `chunk` bytes (0: random sizes), damaging each chunk; the
 * report of the last call is left in *rep when rep is given. */
static uint64_t read_in_chunks(const struct mc_erule *r, const struct mc_tensor_view *tv,
                               uint64_t nonce, size_t from, size_t to, size_t chunk, uint8_t *out)
{
	uint64_t changed = 0;
	unsigned seed = 7;

	memcpy(out, original, FILE_SIZE);
	for (size_t off = from; off < to;) {
		size_t n = chunk ? chunk : (size_t)(rand_r(&seed) % 5000) + 1;

		if (n > to - off)
			n = to - off;
		changed += mc_engine_corrupt_tensors(r, tv, 42, nonce, off, out + off, n, NULL);
		off += n;
	}
	return changed;
}

static struct mc_ruleset *rules_for(const char *mode, unsigned count, const char *extra)
{
	char text[512];

	snprintf(text, sizeof(text),
	         "[mlchaos]\nseed = 5\n[fault.t]\nhook = read\naction = corrupt\n"
	         "region = tensors\nmode = %s\ncount = %u\n%s",
	         mode, count, extra);
	return build_rules(text);
}

static const char *const all_modes[] = { "nan",  "inf",     "exponent", "sign",
	                                 "zero", "bitflip", "random",   "byte:0x00" };
#define N_MODES (sizeof(all_modes) / sizeof(all_modes[0]))

/* Any chunking of the file, and the same file read again, gives the same bytes; nothing
 * outside the tensors changes. */
static void test_chunkings(void)
{
	static uint8_t whole[FILE_SIZE], part[FILE_SIZE];
	static const size_t chunks[] = { 1, 3, 100, 4096, 4095, 0 };
	struct mc_tensor_view tv = { .map = &map };

	for (size_t m = 0; m < N_MODES; m++) {
		struct mc_ruleset *rs = rules_for(all_modes[m], 3, "");
		const struct mc_erule *r = rs ? mc_engine_rule(rs, 0) : NULL;
		unsigned outside = 0, differ = 0;

		MC_CHECK(r != NULL);
		if (!r)
			continue;
		MC_CHECK(read_in_chunks(r, &tv, 0, 0, FILE_SIZE, FILE_SIZE, whole) > 0);
		for (size_t i = 0; i < FILE_SIZE; i++)
			outside += whole[i] != original[i] && tensor_of(i) < 0;
		MC_CHECK_U64(outside, 0);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			read_in_chunks(r, &tv, 0, 0, FILE_SIZE, chunks[c], part);
			differ += memcmp(whole, part, FILE_SIZE) != 0;
		}
		/* a region read alone (pread, a mapping at an offset) matches too */
		read_in_chunks(r, &tv, 0, 4999, 25003, 777, part);
		differ += memcmp(whole + 4999, part + 4999, 25003 - 4999) != 0;
		if (differ)
			fprintf(stderr, "mode %s: %u chunkings differ\n", all_modes[m], differ);
		MC_CHECK_U64(differ, 0);
		mc_engine_free(rs);
	}
}

/* Each value mode on each float type and byte order: count values per tensor, each the
 * expected bits; the tensor that is not float untouched (zero: its bytes zeroed). */
static void test_value_modes(void)
{
	static uint8_t out[FILE_SIZE];
	static const struct {
		const char *mode;
		/* after as a function of before, for a width of 2, 4 or 8 bytes and the type */
		int kind;
	} modes[] = { { "nan", 0 }, { "inf", 1 }, { "exponent", 2 }, { "sign", 3 }, { "zero", 4 } };
	struct mc_tensor_view tv = { .map = &map };

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct mc_ruleset *rs = rules_for(modes[m].mode, 5, "");
		const struct mc_erule *r = rs ? mc_engine_rule(rs, 0) : NULL;
		uint64_t total = 0;

		MC_CHECK(r != NULL);
		if (!r)
			continue;
		uint64_t changed = read_in_chunks(r, &tv, 0, 0, FILE_SIZE, 1000, out);
		for (unsigned i = 0; i < N_TENSORS; i++) {
			unsigned w = width_of(layout[i].dt);
			uint64_t n = w ? layout[i].len / w : 0, hit = 0, bad = 0;
			uint64_t sign = w == 2 ? 0x8000 : w == 4 ? 0x80000000u : 1ull << 63;
			uint64_t exp = layout[i].dt == MC_DT_F16    ? 0x7c00
			               : layout[i].dt == MC_DT_BF16 ? 0x7f80
			               : w == 4                     ? 0x7f800000u
			                                            : 0x7ffull << 52;
			uint64_t quiet = layout[i].dt == MC_DT_F16    ? 0x200
			                 : layout[i].dt == MC_DT_BF16 ? 0x40
			                 : w == 4                     ? 0x400000u
			                                              : 1ull << 51;
			uint64_t top = w == 2 ? 0x4000 : w == 4 ? 0x40000000u : 1ull << 62;

			if (!w) { /* not float: only zero touches it, bytes per 4 KiB chunk */
				unsigned zeroed = 0, other = 0;

				for (uint64_t b = layout[i].off; b < layout[i].off + layout[i].len;
				     b++) {
					zeroed += out[b] == 0 && original[b] != 0;
					other += out[b] != original[b] && out[b] != 0;
				}
				MC_CHECK_U64(other, 0);
				/* 3000 bytes: one chunk, 5 positions */
				MC_CHECK_U64(zeroed, modes[m].kind == 4 ? 5 : 0);
				total += zeroed;
				continue;
			}
			for (uint64_t e = 0; e < n; e++) {
				uint64_t before = element(original, i, e),
				         after = element(out, i, e);
				uint64_t want;

				if (before == after)
					continue;
				hit++;
				switch (modes[m].kind) {
				case 0:
					want = (before & sign) | exp | quiet;
					break;
				case 1:
					want = (before & sign) | exp;
					break;
				case 2:
					want = before ^ top;
					break;
				case 3:
					want = before ^ sign;
					break;
				default:
					want = 0;
				}
				bad += after != want;
			}
			if (hit != (n < 5 ? n : 5) || bad)
				fprintf(stderr,
				        "mode %s tensor %s: %" PRIu64 " changed, %" PRIu64
				        " wrong\n",
				        modes[m].mode, layout[i].name, hit, bad);
			MC_CHECK_U64(hit, n < 5 ? n : 5); /* tiny has 2, odd.f16 3 */
			MC_CHECK_U64(bad, 0);
			total += hit;
		}
		/* chunks of 1000 split some elements in two: each part counts once */
		MC_CHECK(changed >= total);
		MC_CHECK_U64(read_in_chunks(r, &tv, 0, 0, FILE_SIZE, FILE_SIZE, out), total);
		/* the stray byte of odd.f16 after its 3 elements is never touched */
		MC_CHECK(out[36607] == original[36607]);
		mc_engine_free(rs);
	}
	/* NaN and Inf as the bytes of the file, both byte orders */
	struct mc_ruleset *rs = rules_for("nan", 100, "tensor = be.weight\n");
	if (rs) {
		read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, FILE_SIZE, out);
		for (uint64_t b = 36000; b < 36400; b += 4)
			MC_CHECK((out[b] & 0x7f) == 0x7f && out[b + 1] == 0xc0 && out[b + 2] == 0 &&
			         out[b + 3] == 0);
		mc_engine_free(rs);
	}
	rs = rules_for("inf", 100, "tensor = tiny\n");
	if (rs) {
		read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, FILE_SIZE, out);
		float f[2];
		memcpy(f, out + 36500, 8);
		MC_CHECK(isinf(f[0]) && isinf(f[1]));
		mc_engine_free(rs);
	}
}

/* Byte modes: count positions per 4 KiB chunk of each tensor, in every tensor, float or not
 * (random always changes its byte, bitflip its bit). */
static void test_byte_modes(void)
{
	static uint8_t out[FILE_SIZE];
	struct mc_tensor_view tv = { .map = &map };
	struct mc_ruleset *rs = rules_for("random", 2, "");

	if (!rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, 333, out);
	for (unsigned i = 0; i < N_TENSORS; i++) {
		uint64_t chunks = (layout[i].len + 4095) / 4096, changed = 0;

		for (uint64_t b = layout[i].off; b < layout[i].off + layout[i].len; b++)
			changed += out[b] != original[b];
		MC_CHECK_U64(changed, 2 * chunks);
	}
	mc_engine_free(rs);
	rs = rules_for("bitflip", 3, "");
	if (!rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, 0, out);
	for (unsigned i = 0; i < N_TENSORS; i++) {
		uint64_t bits = 0;

		for (uint64_t b = layout[i].off; b < layout[i].off + layout[i].len; b++)
			bits += (unsigned)__builtin_popcount(out[b] ^ original[b]);
		MC_CHECK_U64(bits, 3 * ((layout[i].len + 4095) / 4096));
	}
	mc_engine_free(rs);
}

/* tensor = GLOB: only the named tensors; a precomputed match bitmap gives the same bytes. */
static void test_glob(void)
{
	static uint8_t a[FILE_SIZE], b[FILE_SIZE];
	struct mc_ruleset *rs = rules_for("sign", 4, "tensor = *.attn.*\n");
	const struct mc_erule *r = rs ? mc_engine_rule(rs, 0) : NULL;
	uint64_t bits[1];
	struct mc_tensor_view plain = { .map = &map }, cached = { .map = &map, .match = bits };
	unsigned hit[N_TENSORS] = { 0 };

	MC_CHECK(r != NULL);
	if (!r)
		return;
	MC_CHECK_U64(mc_engine_tensor_match_words(N_TENSORS), 1);
	mc_engine_tensor_match(r, &map, bits);
	MC_CHECK_U64(bits[0], (1u << 0) | (1u << 1) | (1u << 3));
	read_in_chunks(r, &plain, 0, 0, FILE_SIZE, 512, a);
	read_in_chunks(r, &cached, 0, 0, FILE_SIZE, 512, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0);
	for (size_t i = 0; i < FILE_SIZE; i++)
		if (a[i] != original[i])
			hit[tensor_of(i)]++;
	MC_CHECK(hit[0] == 4 && hit[1] == 4 && hit[3] == 4); /* one byte (the sign's) each */
	MC_CHECK(hit[2] == 0 && hit[4] == 0 && hit[5] == 0 && hit[6] == 0 && hit[7] == 0);
	mc_engine_free(rs);
	/* a rule without a glob matches every tensor */
	rs = rules_for("sign", 1, "");
	if (rs) {
		mc_engine_tensor_match(mc_engine_rule(rs, 0), &map, bits);
		MC_CHECK_U64(bits[0], (1u << N_TENSORS) - 1);
		mc_engine_free(rs);
	}
}

/* The report lists exactly the values that changed, with their bits; an element split by
 * two buffers is reported by both, each with the bytes it held. */
static void clear(struct mc_corrupt_report *rep)
{
	rep->changed = 0;
	rep->n = 0;
}

static void test_report(void)
{
	static uint8_t out[FILE_SIZE];
	struct mc_tensor_view tv = { .map = &map };
	struct mc_corrupt_report rep;
	struct mc_ruleset *rs = rules_for("exponent", 3, "");
	const struct mc_erule *r = rs ? mc_engine_rule(rs, 0) : NULL;
	unsigned matched = 0;

	if (!r)
		return;
	memcpy(out, original, FILE_SIZE);
	clear(&rep);
	MC_CHECK_U64(mc_engine_corrupt_tensors(r, &tv, 42, 0, 0, out, FILE_SIZE, &rep), 20);
	MC_CHECK_U64(rep.changed, 20);
	MC_CHECK_U64(rep.n, 20); /* 3 in each of 6 float tensors, 2 in tiny */
	for (uint32_t k = 0; k < rep.n; k++) {
		const struct mc_tensor_change *c = &rep.change[k];
		unsigned i = c->tensor, w = width_of(layout[i].dt);

		matched += c->width == w && c->held == (1u << w) - 1 &&
		           c->file_offset == layout[i].off + c->index * w &&
		           c->before == element(original, i, c->index) &&
		           c->after == element(out, i, c->index) && c->before != c->after;
	}
	MC_CHECK_U64(matched, rep.n);
	/* the parts of one read (a readv's buffers) add up in one report */
	memcpy(out, original, FILE_SIZE);
	clear(&rep);
	MC_CHECK_U64(mc_engine_corrupt_tensors(r, &tv, 42, 0, 0, out, 20000, &rep) +
	                 mc_engine_corrupt_tensors(r, &tv, 42, 0, 20000, out + 20000,
	                                           FILE_SIZE - 20000, &rep),
	             rep.changed);
	MC_CHECK(rep.changed >= 20 && rep.n == rep.changed); /* an element cut counts twice */
	/* report past its capacity: counted, not listed */
	mc_engine_free(rs);
	rs = rules_for("sign", 50, "");
	if (!rs)
		return;
	memcpy(out, original, FILE_SIZE);
	clear(&rep);
	MC_CHECK_U64(
	    mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &tv, 42, 0, 0, out, FILE_SIZE, &rep),
	    50 * 4 + 32 + 2 + 3); /* the bias has 32 values, tiny 2, odd.f16 3 */
	MC_CHECK_U64(rep.n, MC_CHANGES_MAX);
	/* split every element of layers.1.attn.weight (f64) in two: 4 + 4 bytes */
	memcpy(out, original, FILE_SIZE);
	uint64_t first = 0, second = 0;
	struct mc_corrupt_report rep2;
	for (uint64_t off = 25000; off < 33000; off += 8) {
		clear(&rep);
		clear(&rep2);
		first += mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &tv, 42, 0, off,
		                                   out + off, 4, &rep);
		second += mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &tv, 42, 0, off + 4,
		                                    out + off + 4, 4, &rep2);
		if (rep.n)
			MC_CHECK(rep.change[0].held == 0x0f && rep.change[0].width == 8);
		if (rep2.n)
			MC_CHECK(rep2.change[0].held == 0xf0 &&
			         rep2.change[0].index == (off - 25000) / 8);
	}
	/* sign lives in the top byte: only the second halves change */
	MC_CHECK_U64(first, 0);
	MC_CHECK_U64(second, 50);
	mc_engine_free(rs);
}

/* scope = call: another nonce, other values; scope = file ignores the nonce. Another seed or
 * file: other values. offset narrows value modes to the elements wholly inside it. */
static void test_keys_and_offsets(void)
{
	static uint8_t a[FILE_SIZE], b[FILE_SIZE];
	struct mc_tensor_view tv = { .map = &map };
	struct mc_ruleset *rs = rules_for("nan", 2, "scope = call\n");
	struct mc_ruleset *file_rs = rules_for("nan", 2, "");

	if (!rs || !file_rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 1, 0, FILE_SIZE, 999, a);
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 2, 0, FILE_SIZE, 999, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) != 0);
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 1, 0, FILE_SIZE, 4096, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0);
	read_in_chunks(mc_engine_rule(file_rs, 0), &tv, 1, 0, FILE_SIZE, 999, a);
	read_in_chunks(mc_engine_rule(file_rs, 0), &tv, 2, 0, FILE_SIZE, 999, b);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0);
	mc_engine_free(rs);
	mc_engine_free(file_rs);

	/* offset 110-4000 in layers.0.attn.weight (data from 104): elements 2..973 only */
	rs = rules_for("zero", 1000, "offset = 110-4000\ntensor = layers.0.attn.weight\n");
	if (!rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, 64, a);
	unsigned zeroed = 0, outside = 0;
	for (uint64_t e = 0; e < 1000; e++) {
		bool z = element(a, 0, e) == 0;
		zeroed += z;
		outside += z && (e < 2 || e >= 974);
	}
	MC_CHECK_U64(zeroed, 972);
	MC_CHECK_U64(outside, 0);
	mc_engine_free(rs);

	/* no map, or an empty one: nothing */
	rs = rules_for("nan", 1, "");
	if (!rs)
		return;
	struct mc_tensor_map empty = {
		.format = MC_TF_NPY, .file_size = FILE_SIZE, .t = tensors, .names = names
	};
	struct mc_tensor_view none = { .map = &empty };
	memcpy(a, original, FILE_SIZE);
	MC_CHECK_U64(
	    mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), NULL, 1, 0, 0, a, FILE_SIZE, NULL), 0);
	MC_CHECK_U64(
	    mc_engine_corrupt_tensors(mc_engine_rule(rs, 0), &none, 1, 0, 0, a, FILE_SIZE, NULL),
	    0);
	MC_CHECK(memcmp(a, original, FILE_SIZE) == 0);
	mc_engine_free(rs);
}

static uint64_t zero_clock(void *arg)
{
	(void)arg;
	return 0;
}

/* format = raw: the rule carries its layout; the declared map damages whole f32 elements
 * counted from the declared offset and nothing before it; the rule does not wait for a
 * recogniser (a file known to hold no tensors still matches it) and asks none at open. */
static void test_raw(void)
{
	static uint8_t a[FILE_SIZE];
	struct mc_ruleset *rs = rules_for("nan", 10, "format = raw\ndtype = f32\noffset = 66-\n");
	struct mc_ruleset *recognised = rules_for("nan", 10, "");
	if (!rs || !recognised)
		return;
	const struct mc_erule *r = mc_engine_rule(rs, 0);
	MC_CHECK(r->raw && !mc_engine_rule(recognised, 0)->raw);
	MC_CHECK_U64(r->raw_dtype, MC_DT_F32);
	MC_CHECK_U64(r->offset_lo, 66);
	MC_CHECK(!mc_engine_tensor_target(rs, NULL));
	MC_CHECK(mc_engine_tensor_target(recognised, NULL));

	struct mc_engine_state *st = calloc(1, sizeof(*st));
	struct mc_call call = { .hook = MC_HOOK_READ, .size = 4096, .now_ns = zero_clock };
	struct mc_decision d;
	call.no_tensors = true; /* no recogniser knows the file */
	MC_CHECK(st && mc_engine_decide(rs, st, NULL, &call, &d));
	if (st)
		mc_engine_state_reset(st);
	MC_CHECK(st && !mc_engine_decide(recognised, st, NULL, &call, &d));
	free(st);

	struct mc_tensor_raw raw;
	char why[128];
	MC_CHECK_U64(mc_tensor_raw_map(&raw, FILE_SIZE, r->offset_lo, r->offset_hi,
	                               (enum mc_dtype)r->raw_dtype, why, sizeof(why)),
	             1);
	struct mc_tensor_view tv = { .map = &raw.map };
	read_in_chunks(r, &tv, 0, 0, FILE_SIZE, 1000, a);
	MC_CHECK(memcmp(a, original, 66) == 0);
	unsigned nans = 0, others = 0;
	for (size_t off = 66; off + 4 <= FILE_SIZE; off += 4) {
		float f;
		memcpy(&f, a + off, 4);
		bool changed = memcmp(a + off, original + off, 4) != 0;
		nans += changed && isnan(f);
		others += changed && !isnan(f);
	}
	MC_CHECK_U64(nans, 10);
	MC_CHECK_U64(others, 0);
	MC_CHECK(memcmp(a + FILE_SIZE - 2, original + FILE_SIZE - 2, 2) == 0); /* a stray tail */
	mc_engine_free(rs);
	mc_engine_free(recognised);

	/* a byte mode on an integer dtype: damage only from the declared offset */
	rs = rules_for("bitflip", 64, "format = raw\ndtype = i16\noffset = 1000-2000\n");
	if (!rs)
		return;
	MC_CHECK_U64(mc_tensor_raw_map(&raw, FILE_SIZE, 1000, 2000, MC_DT_I16, why, sizeof(why)),
	             1);
	read_in_chunks(mc_engine_rule(rs, 0), &tv, 0, 0, FILE_SIZE, 333, a);
	MC_CHECK(memcmp(a, original, 1000) == 0);
	MC_CHECK(memcmp(a + 2000, original + 2000, FILE_SIZE - 2000) == 0);
	MC_CHECK(memcmp(a + 1000, original + 1000, 1000) != 0);
	mc_engine_free(rs);
}

int main(void)
{
	build_map();
	test_chunkings();
	test_value_modes();
	test_byte_modes();
	test_glob();
	test_report();
	test_keys_and_offsets();
	test_raw();
	return mc_test_done("tensors");
}
