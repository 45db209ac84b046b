/* test_threads.c: the per-process limits hold under concurrency: with 8 threads racing on
 * one rule set, `times` and max_faults are never exceeded and `after` skips exactly its
 * count. */
#include <pthread.h>

#include "cfg_util.h"
#include "mc_test.h"

#define N_THREADS 8
#define N_CALLS   200000

struct worker {
	const struct mc_ruleset *rs;
	struct mc_engine_state *st;
	enum mc_hook hook;
	unsigned ordinal;
	unsigned hits;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct mc_thread_state ts;

	mc_engine_thread_init(&ts, 1, w->ordinal);
	for (unsigned i = 0; i < N_CALLS; i++) {
		struct mc_call call = { .hook = w->hook, .size = 64 };
		struct mc_decision d;

		w->hits += mc_engine_decide(w->rs, w->st, &ts, &call, &d);
	}
	return NULL;
}

/* Run N_THREADS workers on hook; the total of decisions returned. */
static unsigned race(const struct mc_ruleset *rs, struct mc_engine_state *st, enum mc_hook hook)
{
	pthread_t tid[N_THREADS];
	struct worker w[N_THREADS];
	unsigned total = 0;

	for (unsigned i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ rs, st, hook, i + 1, 0 };
		MC_CHECK(pthread_create(&tid[i], NULL, work, &w[i]) == 0);
	}
	for (unsigned i = 0; i < N_THREADS; i++) {
		pthread_join(tid[i], NULL);
		total += w[i].hits;
	}
	return total;
}

int main(void)
{
	static struct mc_engine_state st;
	struct mc_ruleset *rs = build_rules("[mlchaos]\nrequest_key = none\nmax_faults = 5000\n"
	                                    "[fault.t]\nhook = malloc\naction = fail\n"
	                                    "after = 777\ntimes = 1000\n"
	                                    "[fault.half]\nhook = read\naction = fail\nrate = 50%\n"
	                                    "[fault.rest]\nhook = read\naction = delay\n"
	                                    "delay = 1us\n");
	unsigned hits;

	MC_CHECK(rs != NULL);
	if (!rs)
		return mc_test_done("threads");
	hits = race(rs, &st, MC_HOOK_MALLOC);
	MC_CHECK_U64(hits, 1000);
	MC_CHECK_U64(st.rule[0].injected, 1000);
	MC_CHECK_U64(st.rule[0].skipped, 777);
	/* max_faults: 1000 used above, 4000 left for the read rules together */
	hits = race(rs, &st, MC_HOOK_READ);
	MC_CHECK_U64(hits, 4000);
	MC_CHECK_U64(st.faults, 5000);
	MC_CHECK_U64(st.rule[1].injected + st.rule[2].injected, 4000);
	mc_engine_free(rs);
	return mc_test_done("threads");
}
