/* bench_damage.c: what count = all costs on a 100 MB f32 tensor read in 1 MiB pieces, per
 * value mode, next to a memcpy of the same bytes (the least a read costs): mode = noise draws
 * a normal per value and rounds it back, the bitwise modes only touch bytes. Prints seconds
 * of CPU time and MB/s; asserts nothing about time (a busy machine would make it flake). */
#include <stdlib.h>
#include <time.h>

#include "cfg_util.h"
#include "formats/tensors.h"
#include "mc_test.h"

#define MB      1000000ull
#define SIZE    (100 * MB)
#define PIECE   (1u << 20)
#define DATA_AT 64

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* a busy machine's waits left out */
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double timed_read(const struct mc_erule *r, const struct mc_tensor_view *tv,
                         const uint8_t *file, uint8_t *buf, uint64_t *ret_changed)
{
	double start = now_s();
	uint64_t changed = 0;

	for (uint64_t off = 0; off < SIZE; off += PIECE) {
		size_t n = SIZE - off < PIECE ? (size_t)(SIZE - off) : PIECE;

		memcpy(buf + off, file + off, n);
		if (r)
			changed += mc_engine_corrupt_tensors(r, tv, 1, 0, off, buf + off, n, NULL);
	}
	*ret_changed = changed;
	return now_s() - start;
}

int main(void)
{
	static const char *const modes[] = { "mode = noise\nstd = 0.01\n", "mode = sign\n",
		                             "mode = bitflip\nbit = 31\n" };
	uint8_t *file = malloc(SIZE), *buf = malloc(SIZE);
	const struct mc_tensor t = { .off = DATA_AT, .len = SIZE - DATA_AT, .dtype = MC_DT_F32 };
	const struct mc_tensor_map map = {
		.format = MC_TF_SAFETENSORS, .n = 1, .file_size = SIZE, .t = &t, .names = "w"
	};
	const struct mc_tensor_view tv = { .map = &map };
	uint64_t changed;
	char text[512];

	if (!file || !buf)
		return 77;
	for (uint64_t i = 0; i < SIZE; i += 4) {
		float v = (float)(i % 1001) / 1000.0f + 0.5f;
		memcpy(file + i, &v, 4);
	}
	timed_read(NULL, &tv, file, buf, &changed); /* the pages faulted in first */
	double copy = timed_read(NULL, &tv, file, buf, &changed);
	printf("memcpy of 100 MB in 1 MiB pieces: %.3f s\n", copy);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		snprintf(text, sizeof(text),
		         "[mlchaos]\n[fault.all]\nhook = read\naction = corrupt\nregion = tensors\n"
		         "count = all\n%s",
		         modes[m]);
		struct mc_ruleset *rs = build_rules(text);
		MC_CHECK(rs != NULL);
		if (!rs)
			continue;
		double s = timed_read(mc_engine_rule(rs, 0), &tv, file, buf, &changed);
		printf("count = all, %.*s: %.3f s for %" PRIu64
		       " values changed (%.0f MB/s, %.1f x "
		       "memcpy)\n",
		       (int)strcspn(modes[m], "\n"), modes[m], s, changed, SIZE / MB / s, s / copy);
		MC_CHECK(changed > (SIZE - DATA_AT) / 4 * 9 / 10);
		mc_engine_free(rs);
	}
	free(file);
	free(buf);
	return mc_test_done("bench-damage");
}
