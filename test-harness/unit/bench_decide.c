/* bench_decide.c: what mc_engine_decide() costs on the not-selected path, next to a native
 * malloc(64)+free pair: the engine's share of the "armed rule, rate 1%" budget (<= 1.25x
 * native on malloc). Prints ns per call; run with `meson test --benchmark --suite unit`. */
#include <stdlib.h>
#include <time.h>

#include "cfg_util.h"

#define N_CALLS 20000000u

static struct mc_engine_state st;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double native_ns(void)
{
	double t0 = now_s();

	for (unsigned i = 0; i < N_CALLS; i++) {
		void *volatile p = malloc(64);

		free(p);
	}
	return (now_s() - t0) * 1e9 / N_CALLS;
}

/* ns per decide on a malloc call; key: a request key memoized per request (key_gen). */
static double decide_ns(const struct mc_ruleset *rs, const char *key, uint64_t key_gen,
                        unsigned *ret_hits)
{
	struct mc_thread_state ts;
	struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 64 };
	unsigned hits = 0;
	double t0;

	mc_engine_thread_init(&ts, 1, 0);
	call.key = key;
	call.key_len = key ? strlen(key) : 0;
	call.key_gen = key_gen;
	t0 = now_s();
	for (unsigned i = 0; i < N_CALLS; i++) {
		struct mc_decision d;

		hits += mc_engine_decide(rs, &st, &ts, &call, &d);
	}
	*ret_hits = hits;
	return (now_s() - t0) * 1e9 / N_CALLS;
}

static struct mc_ruleset *rules(const char *select, unsigned n_other, unsigned n_malloc)
{
	static char text[128 * 96];
	size_t len = 0;

	for (unsigned i = 0; i < n_other; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.o%u]\nhook = read\naction = fail\nrate = 1%%\n", i);
	for (unsigned i = 0; i < n_malloc; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.m%u]\nhook = malloc\naction = fail\nrate = 1%%\n"
		                        "select = %s\n",
		                        i, select);
	return build_rules(text);
}

static void report(const char *what, const struct mc_ruleset *rs, const char *key, uint64_t gen,
                   double native)
{
	unsigned hits;
	double ns = decide_ns(rs, key, gen, &hits);

	printf("%-52s %6.2f ns  (+%.2fx of native malloc+free; %.2f%% selected)\n", what, ns,
	       ns / native, 100.0 * hits / N_CALLS);
}

int main(void)
{
	double native = native_ns();
	struct mc_ruleset *call1 = rules("call", 0, 1);
	struct mc_ruleset *req1 = rules("request", 0, 1);
	struct mc_ruleset *call100 = rules("call", 99, 1);
	struct mc_ruleset *req100 = rules("request", 99, 1);
	struct mc_ruleset *callall = rules("call", 0, 100);
	const char *key = "6f1c9b0e-8f51-4a8c-9a59-0b3f1d2c7e44";

	if (!call1 || !req1 || !call100 || !req100 || !callall)
		return 1;
	printf("native malloc(64)+free                               %6.2f ns\n", native);
	report("1 malloc rule, select = call", call1, NULL, 0, native);
	report("1 malloc rule, select = request, key memoized", req1, key, 7, native);
	report("1 malloc rule, select = request, key hashed each call", req1, key, 0, native);
	report("1 malloc rule, select = request, no key", req1, NULL, 0, native);
	report("100 rules (99 on read), select = call", call100, NULL, 0, native);
	report("100 rules (99 on read), select = request, memoized", req100, key, 7, native);
	report("100 malloc rules, select = call (worst case)", callall, NULL, 0, native);
	mc_engine_free(call1);
	mc_engine_free(req1);
	mc_engine_free(call100);
	mc_engine_free(req100);
	mc_engine_free(callall);
	return 0;
}
