/* test_throttle.c: action = throttle: its keys as the parser reads them, what one call costs
 * at a bandwidth and an iops, and the bucket (engine/throttle.c) on a fake clock, from one
 * thread and from several at once. */
#include <pthread.h>

#include "cfg_util.h"
#include "mc_test.h"

#define MS  1000000ull
#define S   1000000000ull
#define MiB (1024ull * 1024)

static struct mc_engine_state st;

static void test_keys(void)
{
	struct mc_config *cfg = parse_ok("[fault.slow]\nhook = read\naction = throttle\n"
	                                 "bandwidth = 50MiB/s\niops = 200\n"
	                                 "[fault.plain]\nhook = send\naction = throttle\n"
	                                 "bandwidth = 1MB\n");

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	MC_CHECK(cfg->rules[0].action == MC_ACTION_THROTTLE);
	MC_CHECK_U64(cfg->rules[0].bandwidth, 50 * MiB);
	MC_CHECK_U64(cfg->rules[0].iops, 200);
	MC_CHECK_U64(cfg->rules[1].bandwidth, 1000000);
	MC_CHECK_U64(cfg->rules[1].iops, 0);
	MC_CHECK_STR(mc_action_name(MC_ACTION_THROTTLE), "throttle");
	mc_cfg_free(cfg);
}

static void test_cost(void)
{
	struct mc_ruleset *rs = build_rules("[fault.b]\nhook = read\naction = throttle\n"
	                                    "bandwidth = 50MiB/s\n"
	                                    "[fault.i]\nhook = write\naction = throttle\n"
	                                    "iops = 100\n"
	                                    "[fault.both]\nhook = send\naction = throttle\n"
	                                    "bandwidth = 1MB/s\niops = 1000\n");

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	const struct mc_erule *b = mc_engine_rule(rs, 0), *i = mc_engine_rule(rs, 1),
	                      *both = mc_engine_rule(rs, 2);
	MC_CHECK_U64(mc_engine_throttle_cost(b, 100 * MiB), 2 * S);
	MC_CHECK_U64(mc_engine_throttle_cost(b, 0), 0);
	MC_CHECK_U64(mc_engine_throttle_cost(i, 1 << 20), 10 * MS); /* bytes are free */
	MC_CHECK_U64(mc_engine_throttle_cost(both, 1000), 1 * MS + 1 * MS);
	/* a size the clock cannot hold is capped, never wrapped */
	MC_CHECK_U64(mc_engine_throttle_cost(b, UINT64_MAX), UINT64_MAX / 4);
	mc_engine_free(rs);
}

static void test_bucket(void)
{
	struct mc_ruleset *rs = build_rules("[fault.b]\nhook = read\naction = throttle\n"
	                                    "bandwidth = 1MB/s\n");

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	const struct mc_erule *r = mc_engine_rule(rs, 0);
	mc_engine_state_reset(&st);
	/* an idle bucket: the call pays from now */
	MC_CHECK_U64(mc_engine_throttle(r, &st, 1000, 10 * S), 10 * S + 1 * MS);
	/* a call right behind it queues after it */
	MC_CHECK_U64(mc_engine_throttle(r, &st, 1000, 10 * S), 10 * S + 2 * MS);
	/* an idle second lends no credit: the next call still pays in full */
	MC_CHECK_U64(mc_engine_throttle(r, &st, 500000, 12 * S), 12 * S + 500 * MS);
	mc_engine_state_reset(&st);
	MC_CHECK_U64(mc_engine_throttle(r, &st, 1000, 1 * S), 1 * S + 1 * MS);
	mc_engine_free(rs);
}

/* Threads share the bucket: every reservation gets its own slot, so that N calls of the same
 * cost end exactly N costs after the start, whatever the interleaving. */
#define THREADS 4
#define CALLS   10000

struct worker {
	const struct mc_erule *r;
	uint64_t latest;
};

static void *reserve(void *arg)
{
	struct worker *w = arg;
	for (int k = 0; k < CALLS; k++) {
		uint64_t end = mc_engine_throttle(w->r, &st, 4096, 0);
		if (end > w->latest)
			w->latest = end;
	}
	return NULL;
}

static void test_threads(void)
{
	struct mc_ruleset *rs = build_rules("[fault.b]\nhook = read\naction = throttle\n"
	                                    "bandwidth = 4096B/s\n");
	pthread_t t[THREADS];
	struct worker w[THREADS];
	uint64_t latest = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	for (int k = 0; k < THREADS; k++) {
		w[k] = (struct worker){ .r = mc_engine_rule(rs, 0) };
		pthread_create(&t[k], NULL, reserve, &w[k]);
	}
	for (int k = 0; k < THREADS; k++) {
		pthread_join(t[k], NULL);
		if (w[k].latest > latest)
			latest = w[k].latest;
	}
	MC_CHECK_U64(latest, (uint64_t)THREADS * CALLS * S);
	mc_engine_free(rs);
}

int main(void)
{
	test_keys();
	test_cost();
	test_bucket();
	test_threads();
	return mc_test_done("throttle");
}
