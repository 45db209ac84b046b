/* test_kinds.c: the engine's part of the fault kinds of a process: delays drawn from a
 * distribution (p50 and p99 within 10% of those asked over 10,000 draws, for lognormal,
 * pareto, uniform and bimodal; scale and shape; reproducible from the draw), the engine's exp
 * and ln, the share of processes a rule is enabled in (processes = P%), and the decisions of
 * signal, leak, hang and burn rules. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "mc_test.h"

#define DRAWS 10000

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The rule set of text; its rule 0. */
static const struct mc_erule *rule_of(const char *text, struct mc_ruleset **ret_rs)
{
	struct mc_config *cfg = parse_ok(text);
	const struct mc_erule *r = NULL;

	*ret_rs = NULL;
	if (!cfg)
		return NULL;
	if (mc_engine_build(cfg, NULL, ret_rs) == 0)
		r = mc_engine_rule(*ret_rs, 0);
	mc_cfg_free(cfg);
	return r;
}

/* The p50 and p99 of DRAWS delays of rule r, drawn as the decisions of DRAWS calls would be
 * (one draw of the per-thread generator each). */
static void percentiles(const struct mc_erule *r, double *p50, double *p99)
{
	static uint64_t ns[DRAWS];
	struct mc_prng g = { 12345 };

	for (int i = 0; i < DRAWS; i++)
		ns[i] = mc_engine_latency_ns(r, mc_engine_prng_next(&g));
	qsort(ns, DRAWS, sizeof(ns[0]), by_value);
	*p50 = (double)ns[DRAWS / 2];
	*p99 = (double)ns[DRAWS * 99 / 100];
}

static void check_distribution(const char *dist, const char *keys, double want50, double want99)
{
	char text[512];
	struct mc_ruleset *rs;
	const struct mc_erule *r;
	double p50, p99;

	snprintf(text, sizeof(text),
	         "[mlchaos]\nseed = 9\nrequest_key = none\n[fault.d]\nhook = read\naction = "
	         "delay\ndistribution = %s\n%s",
	         dist, keys);
	r = rule_of(text, &rs);
	MC_CHECKF(r != NULL, "%s: the rule did not build", dist);
	if (!r)
		return;
	percentiles(r, &p50, &p99);
	MC_CHECKF(fabs(p50 / want50 - 1) <= 0.10, "%s: p50 %.0f ns, asked %.0f", dist, p50, want50);
	MC_CHECKF(fabs(p99 / want99 - 1) <= 0.10, "%s: p99 %.0f ns, asked %.0f", dist, p99, want99);
	mc_engine_free(rs);
}

static void test_distributions(void)
{
	check_distribution("lognormal", "p50 = 2ms\np99 = 20ms\n", 2e6, 20e6);
	check_distribution("lognormal", "p50 = 100us\np99 = 150us\n", 100e3, 150e3);
	check_distribution("pareto", "p50 = 5ms\np99 = 200ms\n", 5e6, 200e6);
	check_distribution("uniform", "p50 = 10ms\np99 = 15ms\n", 10e6, 15e6);
	check_distribution("bimodal", "p50 = 1ms\np99 = 50ms\n", 1e6, 50e6);
	/* scale and shape: lognormal's median is its scale, its p99 scale * e^(2.326 sigma) */
	check_distribution("lognormal", "scale = 4ms\nshape = 0.5\n", 4e6, 4e6 * exp(2.3263 * 0.5));
	/* pareto: p50 = x_m 2^(1/alpha), p99 = x_m 100^(1/alpha) */
	check_distribution("pareto", "scale = 1ms\nshape = 2\n", 1e6 * sqrt(2.0), 1e6 * 10);
}

/* The same draw gives the same delay; a Pareto tail is cut at 100 times its p99. */
static void test_reproducible_and_capped(void)
{
	struct mc_ruleset *rs;
	const struct mc_erule *r =
	    rule_of("[mlchaos]\nrequest_key = none\n[fault.d]\nhook = read\naction = delay\n"
	            "distribution = pareto\np50 = 1ms\np99 = 10ms\n",
	            &rs);
	struct mc_prng g = { 99 };

	MC_CHECK(r != NULL);
	if (!r)
		return;
	for (int i = 0; i < 1000; i++) {
		uint64_t draw = mc_engine_prng_next(&g);

		MC_CHECK_U64(mc_engine_latency_ns(r, draw), mc_engine_latency_ns(r, draw));
		MC_CHECKF(mc_engine_latency_ns(r, draw) <= 1000000000ull,
		          "a delay of %" PRIu64 " ns passed the cap of 100 x p99",
		          mc_engine_latency_ns(r, draw));
	}
	mc_engine_free(rs);
}

static void test_exp_ln(void)
{
	static const double xs[] = { -700, -30, -1, -1e-9, 0, 1e-9, 0.5, 1, 2.5, 30, 700 };

	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		MC_CHECKF(fabs(mc_engine_exp(xs[i]) / exp(xs[i]) - 1) < 1e-13, "exp(%g): %.17g",
		          xs[i], mc_engine_exp(xs[i]));
	for (double x = 1e-300; x < 1e300; x *= 7.3)
		MC_CHECKF(fabs(mc_engine_ln(x) - log(x)) < 1e-12 * (1 + fabs(log(x))),
		          "ln(%g): %.17g", x, mc_engine_ln(x));
}

/* processes = P%: floor(N P) or ceil(N P) of any N consecutive start orders; another seed
 * picks other processes; 100% all of them. */
static void test_processes(void)
{
	static const char *const shares[] = { "30%", "50%", "1%", "90%" };
	static const double ps[] = { 0.30, 0.50, 0.01, 0.90 };

	for (unsigned s = 0; s < 4; s++) {
		char text[256];
		struct mc_ruleset *rs;
		const struct mc_erule *r;

		snprintf(text, sizeof(text),
		         "[mlchaos]\nseed = 5\nrequest_key = none\n[fault.k]\nhook = send\naction "
		         "= signal\nprocesses = %s\n",
		         shares[s]);
		r = rule_of(text, &rs);
		MC_CHECK(r != NULL);
		if (!r)
			continue;
		for (uint64_t first = 0; first < 40; first += 13) {
			for (uint64_t n = 1; n <= 200; n += 7) {
				unsigned on = 0;

				for (uint64_t k = first; k < first + n; k++)
					on += mc_engine_process_enabled(r, k);
				MC_CHECKF(on >= (unsigned)floor(n * ps[s]) &&
				              on <= (unsigned)ceil(n * ps[s]),
				          "processes = %s: %u of orders %" PRIu64 "..%" PRIu64,
				          shares[s], on, first, first + n - 1);
			}
		}
		mc_engine_free(rs);
	}
}

static void test_process_mask(void)
{
	struct mc_ruleset *rs;
	const struct mc_erule *r = rule_of(
	    "[mlchaos]\nseed = 5\nrequest_key = none\n[fault.k]\nhook = send\naction = signal\n"
	    "processes = 50%\n[fault.all]\nhook = send\naction = delay\ndelay = 1ms\n",
	    &rs);
	struct mc_rulemask m;
	unsigned off = 0;

	MC_CHECK(r != NULL);
	if (!r)
		return;
	for (uint64_t k = 0; k < 10; k++) {
		bool any = mc_engine_process_mask(rs, k, &m);

		MC_CHECK(any == !mc_engine_process_enabled(r, k));
		MC_CHECK((m.w[0] & 2) == 0); /* the rule without processes is never left out */
		off += any;
	}
	MC_CHECK_U64(off, 5);
	mc_engine_free(rs);
}

/* A decision of each kind carries what the library acts on. */
static void test_decisions(void)
{
	struct mc_config *cfg = parse_ok(
	    "[mlchaos]\nrequest_key = none\n[fault.s]\nhook = send\naction = signal\nsignal = "
	    "SEGV\n[fault.l]\nhook = malloc\naction = leak\nbytes = 3MiB\n[fault.h]\nhook = "
	    "sleep\naction = hang\ndelay = 2s\n[fault.b]\nhook = write\naction = burn\n"
	    "distribution = bimodal\np50 = 1ms\np99 = 9ms\n");
	struct mc_ruleset *rs = NULL;
	struct mc_engine_state *st = calloc(1, sizeof(*st));
	struct mc_thread_state *ts = calloc(1, sizeof(*ts));
	struct mc_decision d;
	struct mc_call c = { .size = 10 };

	MC_CHECK(cfg && st && ts && mc_engine_build(cfg, NULL, &rs) == 0);
	if (!rs)
		goto out;
	mc_engine_thread_init(ts, 1, 0);
	c.hook = MC_HOOK_SEND;
	MC_CHECK(mc_engine_decide(rs, st, ts, &c, &d));
	MC_CHECK(d.action == MC_ACTION_SIGNAL && d.signo == SIGSEGV);
	c.hook = MC_HOOK_MALLOC;
	MC_CHECK(mc_engine_decide(rs, st, ts, &c, &d));
	MC_CHECK(d.action == MC_ACTION_LEAK && d.bytes == 3 << 20);
	c.hook = MC_HOOK_SLEEP;
	MC_CHECK(mc_engine_decide(rs, st, ts, &c, &d));
	MC_CHECK(d.action == MC_ACTION_HANG && d.delay_ns == 2000000000ull);
	c.hook = MC_HOOK_WRITE;
	MC_CHECK(mc_engine_decide(rs, st, ts, &c, &d));
	MC_CHECK(d.action == MC_ACTION_BURN &&
	         (d.delay_ns == 1000000ull || d.delay_ns == 9000000ull));
	mc_engine_free(rs);
	rs = NULL;
out:
	mc_cfg_free(cfg);
	free(st);
	free(ts);
}

static void test_not_matched_where_left_out(void)
{
	struct mc_ruleset *rs;
	const struct mc_erule *r = rule_of(
	    "[mlchaos]\nseed = 2\nrequest_key = none\n[fault.k]\nhook = send\naction = signal\n"
	    "processes = 50%\n",
	    &rs);
	struct mc_engine_state *st = calloc(1, sizeof(*st));
	struct mc_thread_state *ts = calloc(1, sizeof(*ts));

	MC_CHECK(r && st && ts);
	if (r && st && ts) {
		for (uint64_t k = 0; k < 6; k++) {
			struct mc_rulemask m;
			struct mc_call c = { .hook = MC_HOOK_SEND, .size = 5, .process_off = &m };
			struct mc_decision d;

			mc_engine_process_mask(rs, k, &m);
			mc_engine_thread_init(ts, 2, 0);
			MC_CHECK(mc_engine_decide(rs, st, ts, &c, &d) ==
			         mc_engine_process_enabled(r, k));
		}
	}
	mc_engine_free(rs);
	free(st);
	free(ts);
}

int main(void)
{
	test_distributions();
	test_reproducible_and_capped();
	test_exp_ln();
	test_processes();
	test_process_mask();
	test_decisions();
	test_not_matched_where_left_out();
	return mc_test_done("unit-kinds");
}
