/* test_corrupt.c: corruption is a pure function of (seed, rule, file, offset): reading a
 * region in 1-byte, 100-byte, 64 KiB or uneven chunks gives identical damage; `count`
 * applies per 4 KiB page; offset ranges, modes and scopes behave as documented. */
#include <stdlib.h>

#include "cfg_util.h"
#include "mc_test.h"

#define FILE_SIZE (256 * 1024 + 123) /* not a whole number of pages */
#define PAGE      4096

static uint8_t original[FILE_SIZE];

static void fill_original(void)
{
	for (size_t i = 0; i < FILE_SIZE; i++)
		original[i] = (uint8_t)(i * 31 + (i >> 9));
}

/* Read [from, to) of the file in chunks of `chunk` bytes (0: random sizes), damaging each
 * chunk as the read hook would, into out. */
static size_t read_in_chunks(const struct mc_erule *r, uint64_t file_id, uint64_t nonce,
                             size_t from, size_t to, size_t chunk, uint8_t *out)
{
	size_t changed = 0;
	unsigned seed = 1;

	memcpy(out + from, original + from, to - from);
	for (size_t off = from; off < to;) {
		size_t n = chunk ? chunk : (size_t)(rand_r(&seed) % 9000) + 1;

		if (n > to - off)
			n = to - off;
		changed += mc_engine_corrupt(r, file_id, nonce, off, out + off, n);
		off += n;
	}
	return changed;
}

static unsigned count_bits(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
	unsigned bits = 0;

	for (size_t i = from; i < to; i++)
		bits += (unsigned)__builtin_popcount(a[i] ^ b[i]);
	return bits;
}

static unsigned count_bytes(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
	unsigned n = 0;

	for (size_t i = from; i < to; i++)
		n += a[i] != b[i];
	return n;
}

static void test_chunkings(void)
{
	static uint8_t whole[FILE_SIZE], part[FILE_SIZE];
	static const size_t chunks[] = { 1, 100, 65536, 4096, 4095, 0 };
	struct mc_ruleset *rs =
	    build_rules("[mlchaos]\nseed = 99\n"
	                "[fault.c]\nhook = read\naction = corrupt\ncount = 3\n");
	const struct mc_erule *r;
	uint64_t id = mc_engine_file_id("/models/w.bin");
	unsigned full_pages = FILE_SIZE / PAGE, bad_pages = 0, tail_bits;
	size_t changed;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	r = mc_engine_rule(rs, 0);
	changed = read_in_chunks(r, id, 0, 0, FILE_SIZE, FILE_SIZE, whole);
	/* exactly 3 distinct bits in every whole page; the engine does not know where the file
	 * ends, so the last, partial page only gets those of its 3 that fall before the end */
	for (unsigned p = 0; p < full_pages; p++)
		bad_pages += count_bits(whole, original, p * PAGE, (p + 1) * PAGE) != 3;
	MC_CHECK_U64(bad_pages, 0);
	tail_bits = count_bits(whole, original, full_pages * PAGE, FILE_SIZE);
	MC_CHECK(tail_bits <= 3);
	MC_CHECK_U64(changed, 3 * full_pages + tail_bits);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		MC_CHECK_U64(read_in_chunks(r, id, 0, 0, FILE_SIZE, chunks[i], part), changed);
		MC_CHECK(memcmp(whole, part, FILE_SIZE) == 0);
	}
	/* a region read alone (as pread or a mapping at an offset would) matches too */
	read_in_chunks(r, id, 0, 10000, 70001, 777, part);
	MC_CHECK(memcmp(whole + 10000, part + 10000, 60001) == 0);
	/* another file, another seed: other damage */
	read_in_chunks(r, mc_engine_file_id("/models/other.bin"), 0, 0, FILE_SIZE, 0, part);
	MC_CHECK(memcmp(whole, part, FILE_SIZE) != 0);
	mc_engine_free(rs);
	rs = build_rules("[mlchaos]\nseed = 100\n"
	                 "[fault.c]\nhook = read\naction = corrupt\ncount = 3\n");
	MC_CHECK(rs != NULL);
	if (rs)
		read_in_chunks(mc_engine_rule(rs, 0), id, 0, 0, FILE_SIZE, 0, part);
	MC_CHECK(memcmp(whole, part, FILE_SIZE) != 0);
	mc_engine_free(rs);
}

static void test_scope_call(void)
{
	static uint8_t a[FILE_SIZE], b[FILE_SIZE], c[FILE_SIZE];
	struct mc_ruleset *rs = build_rules("[fault.c]\nhook = mmap\naction = corrupt\n"
	                                    "scope = call\ncount = 2\n");
	uint64_t id = mc_engine_file_id("/models/w.bin");

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	read_in_chunks(mc_engine_rule(rs, 0), id, 1, 0, FILE_SIZE, 1000, a);
	read_in_chunks(mc_engine_rule(rs, 0), id, 1, 0, FILE_SIZE, 3000, b);
	read_in_chunks(mc_engine_rule(rs, 0), id, 2, 0, FILE_SIZE, 1000, c);
	MC_CHECK(memcmp(a, b, FILE_SIZE) == 0); /* same nonce: same damage */
	MC_CHECK(memcmp(a, c, FILE_SIZE) != 0); /* another call: another draw */
	mc_engine_free(rs);
}

static void test_offsets_and_modes(void)
{
	static uint8_t out[FILE_SIZE];
	struct mc_ruleset *rs = build_rules("[fault.first]\nhook = read\naction = corrupt\n"
	                                    "offset = 0-4096\ncount = 5\nmode = zero\n"
	                                    "[fault.narrow]\nhook = read\naction = corrupt\n"
	                                    "offset = 5000-5010\ncount = 4\nmode = byte:0xAA\n"
	                                    "[fault.rand]\nhook = read\naction = corrupt\n"
	                                    "mode = random\ncount = 4096\n"
	                                    "[fault.tail]\nhook = read\naction = corrupt\n"
	                                    "offset = 200KiB-\ncount = 1\n");
	uint64_t id = mc_engine_file_id("/f");
	unsigned zeros = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	memset(original, 0xff, sizeof(original));

	read_in_chunks(mc_engine_rule(rs, 0), id, 0, 0, FILE_SIZE, 100, out);
	MC_CHECK_U64(count_bytes(out, original, 0, PAGE), 5);
	MC_CHECK_U64(count_bytes(out, original, PAGE, FILE_SIZE), 0);
	for (size_t i = 0; i < PAGE; i++)
		zeros += out[i] == 0;
	MC_CHECK_U64(zeros, 5);

	/* a 10-byte range still gets its 4 positions, all inside it */
	MC_CHECK_U64(read_in_chunks(mc_engine_rule(rs, 1), id, 0, 0, FILE_SIZE, 1, out), 4);
	MC_CHECK_U64(count_bytes(out, original, 5000, 5010), 4);
	MC_CHECK_U64(count_bytes(out, original, 0, FILE_SIZE), 4);
	for (size_t i = 5000; i < 5010; i++)
		MC_CHECK(out[i] == 0xff || out[i] == 0xaa);

	/* random: every byte of every whole page changes (count = 4096) */
	read_in_chunks(mc_engine_rule(rs, 2), id, 0, 0, FILE_SIZE, 65536, out);
	MC_CHECK_U64(count_bytes(out, original, 0, FILE_SIZE), FILE_SIZE);

	/* open-ended range: nothing before 200 KiB, one bit per page after */
	read_in_chunks(mc_engine_rule(rs, 3), id, 0, 0, FILE_SIZE, 4096, out);
	MC_CHECK_U64(count_bits(out, original, 0, 200 * 1024), 0);
	MC_CHECK_U64(count_bits(out, original, 200 * 1024, FILE_SIZE / PAGE * PAGE),
	             (FILE_SIZE / PAGE * PAGE - 200 * 1024) / PAGE);
	MC_CHECK(count_bits(out, original, FILE_SIZE / PAGE * PAGE, FILE_SIZE) <= 1);

	/* not a corrupt rule, empty buffer: nothing */
	MC_CHECK_U64(mc_engine_corrupt(NULL, id, 0, 0, out, 10), 0);
	MC_CHECK_U64(mc_engine_corrupt(mc_engine_rule(rs, 0), id, 0, 0, out, 0), 0);
	/* offsets at the top of the range do not overflow (one bit per page at most) */
	MC_CHECK(mc_engine_corrupt(mc_engine_rule(rs, 3), id, 0, UINT64_MAX - 5000, out, 100) <= 1);
	MC_CHECK(mc_engine_corrupt(mc_engine_rule(rs, 3), id, 0, UINT64_MAX - 100, out, 100) <= 1);
	mc_engine_free(rs);
	fill_original();
}

int main(void)
{
	fill_original();
	test_chunkings();
	test_scope_call();
	test_offsets_and_modes();
	return mc_test_done("corrupt");
}
