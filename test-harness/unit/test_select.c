/* test_select.c: selection. select = request is exactly the documented formula, computed here
 * independently with xxHash; 10,000 keys at 10% give 9% to 11%; another seed or rule name
 * gives another set; select = call is reproducible per (seed, thread ordinal); the per-key
 * memo never changes an answer. */
#include <math.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "mc_test.h"

#define N_KEYS 10000

static const char config_seed42[] = "[mlchaos]\nseed = 42\n"
                                    "[fault.pick]\nhook = read\naction = fail\nrate = 10%\n";
static const char config_seed43[] = "[mlchaos]\nseed = 43\n"
                                    "[fault.pick]\nhook = read\naction = fail\nrate = 10%\n";
static const char config_other_name[] = "[mlchaos]\nseed = 42\n"
                                        "[fault.pick2]\nhook = read\naction = fail\nrate = 10%\n";

static void key_of(unsigned i, char *buf, size_t size)
{
	snprintf(buf, size, "req-%05u-%08x", i, i * 2654435761u);
}

/* The documented formula, written out independently of the engine. */
static bool formula(uint64_t seed, const char *name, const char *key, uint32_t rate_ppm)
{
	uint64_t rule_seed = seed ^ hash_string(name);

	return XXH3_64bits_withSeed(key, strlen(key), rule_seed) % 1000000 < rate_ppm;
}

/* Select every key through the hot path, as the shim would. */
static unsigned select_all(const struct mc_ruleset *rs, bool *selected)
{
	static struct mc_engine_state st;
	struct mc_thread_state ts;
	unsigned count = 0;

	mc_engine_thread_init(&ts, mc_engine_seed(rs), 0);
	for (unsigned i = 0; i < N_KEYS; i++) {
		struct mc_call call = { .hook = MC_HOOK_READ, .size = 100 };
		struct mc_decision d;
		char key[64];

		key_of(i, key, sizeof(key));
		call.key = key;
		call.key_len = strlen(key);
		call.key_gen = i + 1;
		selected[i] = mc_engine_decide(rs, &st, &ts, &call, &d);
		count += selected[i];
	}
	return count;
}

static void test_formula_and_rate(void)
{
	static bool a[N_KEYS], b[N_KEYS], c[N_KEYS], again[N_KEYS];
	struct mc_ruleset *rs42 = build_rules(config_seed42);
	struct mc_ruleset *rs42b = build_rules(config_seed42);
	struct mc_ruleset *rs43 = build_rules(config_seed43);
	struct mc_ruleset *rs_name = build_rules(config_other_name);
	unsigned na, nb, nc, same_b = 0, same_c = 0, mismatches = 0;

	MC_CHECK(rs42 && rs42b && rs43 && rs_name);
	if (!rs42 || !rs42b || !rs43 || !rs_name)
		return;
	na = select_all(rs42, a);
	nb = select_all(rs43, b);
	nc = select_all(rs_name, c);
	select_all(rs42b, again);
	for (unsigned i = 0; i < N_KEYS; i++) {
		char key[64];

		key_of(i, key, sizeof(key));
		if (a[i] != formula(42, "pick", key, 100000))
			mismatches++;
		if (a[i] != mc_engine_select_key(mc_engine_rule(rs42, 0), key, strlen(key)))
			mismatches++;
		if (a[i] != again[i])
			mismatches++;
		same_b += a[i] && b[i];
		same_c += a[i] && c[i];
	}
	MC_CHECK_U64(mismatches, 0);
	printf("seed 42: %u of %d selected; seed 43: %u (%u in common); other name: %u (%u)\n", na,
	       N_KEYS, nb, same_b, nc, same_c);
	MC_CHECK(na >= 900 && na <= 1100);
	MC_CHECK(nb >= 900 && nb <= 1100);
	MC_CHECK(nc >= 900 && nc <= 1100);
	/* independent sets overlap by about 10% of 10%: far from identical */
	MC_CHECK(same_b < na / 2);
	MC_CHECK(same_c < na / 2);
	mc_engine_free(rs42);
	mc_engine_free(rs42b);
	mc_engine_free(rs43);
	mc_engine_free(rs_name);
}

/* At 100% every call is selected, key or not; below, a call without a key never is. */
static void test_no_key(void)
{
	struct mc_ruleset *full = build_rules("[fault.a]\nhook = malloc\naction = fail\n");
	struct mc_ruleset *part = build_rules("[fault.a]\nhook = malloc\naction = fail\n"
	                                      "rate = 99.9999%\n");
	struct mc_ruleset *zero = build_rules("[fault.a]\nhook = malloc\naction = fail\n"
	                                      "rate = 0%\n");
	static struct mc_engine_state st;
	struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 16 };
	struct mc_decision d;

	MC_CHECK(full && part && zero);
	if (!full || !part || !zero)
		return;
	MC_CHECK(mc_engine_decide(full, &st, NULL, &call, &d));
	MC_CHECK(d.action == MC_ACTION_FAIL && d.err == ENOMEM);
	MC_CHECK(!mc_engine_decide(part, &st, NULL, &call, &d));
	MC_CHECK(d.action == MC_ACTION_NONE);
	call.key = "some-request";
	call.key_len = strlen(call.key);
	MC_CHECK(mc_engine_decide(full, &st, NULL, &call, &d));
	MC_CHECK(!mc_engine_decide(zero, &st, NULL, &call, &d));
	mc_engine_free(full);
	mc_engine_free(part);
	mc_engine_free(zero);
}

/* Keys are cut at MC_KEY_MAX bytes, by the engine and by mc_engine_select_key alike. */
static void test_long_keys(void)
{
	struct mc_ruleset *rs = build_rules("[fault.a]\nhook = read\naction = fail\nrate = 50%\n");
	char key[300];
	unsigned differ = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	for (unsigned i = 0; i < 200; i++) {
		const struct mc_erule *r = mc_engine_rule(rs, 0);

		memset(key, 'k', sizeof(key));
		snprintf(key, 16, "%u", i);
		key[strlen(key)] = '-';
		if (mc_engine_select_key(r, key, sizeof(key)) !=
		    mc_engine_select_key(r, key, MC_KEY_MAX))
			differ++;
	}
	MC_CHECK_U64(differ, 0);
	mc_engine_free(rs);
}

/* The memo (key_gen) gives the same answers as hashing every time, across key changes,
 * repeated calls within a key, and a change of rule set. */
static void test_memo(void)
{
	struct mc_ruleset *rs = build_rules("[fault.a]\nhook = read\naction = fail\nrate = 30%\n"
	                                    "[fault.b]\nhook = read\naction = delay\n"
	                                    "delay = 1ms\nrate = 30%\n");
	struct mc_ruleset *rs2 = build_rules("[mlchaos]\nseed = 9\n"
	                                     "[fault.a]\nhook = read\naction = fail\nrate = 30%\n");
	static struct mc_engine_state st;
	struct mc_thread_state with, without;
	unsigned mismatches = 0;

	MC_CHECK(rs && rs2);
	if (!rs || !rs2)
		return;
	mc_engine_thread_init(&with, 0, 0);
	mc_engine_thread_init(&without, 0, 0);
	for (unsigned i = 0; i < 3000; i++) {
		const struct mc_ruleset *cur = (i / 7) % 2 ? rs2 : rs;
		struct mc_call call = { .hook = MC_HOOK_READ, .size = 10 };
		struct mc_decision d1, d2;
		char key[32];
		bool s1, s2;

		snprintf(key, sizeof(key), "k%u", i / 3); /* three calls per request */
		call.key = key;
		call.key_len = strlen(key);
		call.key_gen = i / 3 + 1;
		s1 = mc_engine_decide(cur, &st, &with, &call, &d1);
		call.key_gen = 0;
		s2 = mc_engine_decide(cur, &st, &without, &call, &d2);
		if (s1 != s2 || d1.action != d2.action || d1.rule != d2.rule || d1.draw != d2.draw)
			mismatches++;
	}
	MC_CHECK_U64(mismatches, 0);
	mc_engine_free(rs);
	mc_engine_free(rs2);
}

static unsigned call_sequence(const struct mc_ruleset *rs, uint64_t seed, uint64_t ordinal,
                              bool *out, unsigned n)
{
	static struct mc_engine_state st;
	struct mc_thread_state ts;
	unsigned count = 0;

	mc_engine_thread_init(&ts, seed, ordinal);
	for (unsigned i = 0; i < n; i++) {
		struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 64 };
		struct mc_decision d;

		out[i] = mc_engine_decide(rs, &st, &ts, &call, &d);
		count += out[i];
	}
	return count;
}

static void test_select_call(void)
{
	enum { N = 100000 };
	static bool a[N], b[N], c[N], e[N];
	struct mc_ruleset *rs =
	    build_rules("[mlchaos]\nseed = 5\nrequest_key = none\n"
	                "[fault.a]\nhook = malloc\naction = fail\nrate = 10%\n");
	static struct mc_engine_state st;
	unsigned na, same_c = 0, same_e = 0, diff_b = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	MC_CHECK(mc_engine_rule(rs, 0)->select == MC_SELECT_CALL);
	na = call_sequence(rs, 5, 0, a, N);
	call_sequence(rs, 5, 0, b, N);
	call_sequence(rs, 5, 1, c, N);
	call_sequence(rs, 6, 0, e, N);
	for (unsigned i = 0; i < N; i++) {
		diff_b += a[i] != b[i];
		same_c += a[i] && c[i];
		same_e += a[i] && e[i];
	}
	MC_CHECK_U64(diff_b, 0); /* same seed and ordinal: the same calls */
	MC_CHECK(na >= N * 9 / 100 && na <= N * 11 / 100);
	MC_CHECK(same_c < na / 2); /* another thread draws another sequence */
	MC_CHECK(same_e < na / 2); /* and so does another seed */
	/* without a thread state, select = call never selects below 100% */
	{
		struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 64 };
		struct mc_decision d;
		unsigned hits = 0;

		for (unsigned i = 0; i < 1000; i++)
			hits += mc_engine_decide(rs, &st, NULL, &call, &d);
		MC_CHECK_U64(hits, 0);
	}
	mc_engine_free(rs);
}

/* The gaps between selected calls follow the law of independent per-call draws: for each
 * threshold, P(gap >= k) = (1 - p)^k, checked at the mean and at three points. */
static void test_call_gaps(void)
{
	static const uint64_t thresholds[] = { 42950, 42949673, 1288490189, 4294967295u };
	enum { N = 400000 };

	for (unsigned t = 0; t < sizeof(thresholds) / sizeof(thresholds[0]); t++) {
		double p = (double)thresholds[t] / 4294967296.0, sum = 0;
		double mean = (1 - p) / p, k[3] = { mean / 4, mean, 2 * mean };
		unsigned at_least[3] = { 0, 0, 0 };
		struct mc_prng prng = { 7 + t };

		for (unsigned i = 0; i < N; i++) {
			uint64_t g = mc_engine_call_gap(&prng, thresholds[t]);

			sum += (double)g;
			for (unsigned j = 0; j < 3; j++)
				at_least[j] += (double)g >= k[j];
		}
		/* the standard error of the mean is mean / sqrt(N) = 0.16% of it */
		MC_CHECK(fabs(sum / N - mean) <= 0.01 * mean + 0.01);
		for (unsigned j = 0; j < 3; j++) {
			double want = pow(1 - p, ceil(k[j]));

			MC_CHECK(fabs((double)at_least[j] / N - want) <= 0.005);
		}
	}
	{
		struct mc_prng prng = { 1 };

		MC_CHECK_U64(mc_engine_call_gap(&prng, 0), 1ull << 62); /* rate 0: never */
		MC_CHECK_U64(mc_engine_call_gap(&prng, 1ull << 32), 0); /* 100%: every call */
		MC_CHECK_U64(prng.s, 1);                                /* neither draws */
	}
}

/* Calls an express hint passes (reserved off the gap, then given back in part) leave the
 * thread's counts and its next selected call where deciding each call would have: the same
 * sequence of selected calls, the same ordinals. */
static void test_express_reservation(void)
{
	enum { N = 20000 };
	struct mc_ruleset *rs = build_rules("[mlchaos]\nseed = 9\nrequest_key = none\n"
	                                    "[fault.a]\nhook = malloc\naction = fail\nrate = 2%\n");
	static struct mc_engine_state st;
	struct mc_thread_state plain, express;
	uint64_t picked_plain[1000], picked_express[1000];
	unsigned n_plain = 0, n_express = 0, hints = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_thread_init(&plain, 9, 0);
	mc_engine_thread_init(&express, 9, 0);
	for (unsigned i = 0; i < N; i++) {
		struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 64 };
		struct mc_decision d;

		if (mc_engine_decide(rs, &st, &plain, &call, &d) && n_plain < 1000)
			picked_plain[n_plain++] = d.ordinal;
	}
	for (unsigned i = 0; i < N;) {
		struct mc_call call = { .hook = MC_HOOK_MALLOC, .size = 64 };
		struct mc_decision d;
		uint32_t k, used;

		i++;
		if (mc_engine_decide(rs, &st, &express, &call, &d) && n_express < 1000)
			picked_express[n_express++] = d.ordinal;
		if (d.express < MC_EXPRESS_RULE)
			continue;
		MC_CHECK(d.express_lo <= 64 && d.express_hi >= 64);
		hints++;
		/* pass up to 37 calls without the engine, then give back what was not used */
		k = mc_engine_express_reserve(&express, d.express - MC_EXPRESS_RULE, 37);
		used = k < N - i ? k / 2 + (i % 2) * (k - k / 2) : 0;
		i += used;
		mc_engine_express_return(&express, d.express - MC_EXPRESS_RULE, used, k - used);
	}
	MC_CHECK(hints > 100);
	MC_CHECK(n_plain > N / 100 && n_plain < N / 25);
	MC_CHECK_U64(n_express, n_plain);
	for (unsigned i = 0; i < n_plain && i < n_express; i++)
		MC_CHECK_U64(picked_express[i], picked_plain[i]);
	MC_CHECK_U64(express.rule[0].calls, plain.rule[0].calls);
	mc_engine_free(rs);
}

/* A select = request rule that alone decides its hook by the key is foreseeable: for every
 * key it does not select, the engine selects no call of that hook, whatever the size; every
 * other shape of rules is not (each call must be asked). The calls a foresight passed, counted
 * with mc_engine_express_count(), give the same matched count as asking for each. */
static void test_foreseeable(void)
{
	static const char *const not_foreseeable[] = {
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nselect = call\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nmin_size = 10\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nport = 8080\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\npath = /m/*\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 100%\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nafter = 3\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nstart = 1s\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\nphase = load\n",
		"[fault.a]\nhook = read\naction = fail\nrate = 10%\n"
		"[fault.b]\nhook = read\naction = delay\ndelay = 1ms\nrate = 5%\n",
	};
	static struct mc_engine_state st;
	struct mc_ruleset *rs = build_rules("[mlchaos]\nseed = 5\n"
	                                    "[fault.a]\nhook = read\naction = fail\nrate = 10%\n"
	                                    "phase = serve\n"
	                                    "[fault.b]\nhook = send\naction = delay\ndelay = 1ms\n"
	                                    "rate = 30%\n");
	struct mc_thread_state asked, foreseen;
	unsigned passed = 0, kept = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	const struct mc_erule *r = mc_engine_foreseeable(rs, MC_HOOK_READ);
	MC_CHECK(r == mc_engine_rule(rs, 0));
	MC_CHECK(mc_engine_foreseeable(rs, MC_HOOK_SEND) == mc_engine_rule(rs, 1));
	MC_CHECK(mc_engine_foreseeable(rs, MC_HOOK_MALLOC) == NULL);
	mc_engine_thread_init(&asked, 5, 0);
	mc_engine_thread_init(&foreseen, 5, 0);
	for (unsigned i = 0; r && i < 2000; i++) {
		char key[64];
		key_of(i, key, sizeof(key));
		bool foresees = !mc_engine_select_key(r, key, strlen(key));
		for (unsigned k = 0; k < 3; k++) {
			struct mc_call call = { .hook = MC_HOOK_READ,
				                .phase = MC_PHASE_SERVE,
				                .size = k == 0   ? 1
				                        : k == 1 ? 4096
				                                 : UINT64_MAX,
				                .key = key,
				                .key_len = strlen(key),
				                .key_gen = i + 1 };
			struct mc_decision d;
			bool selected = mc_engine_decide(rs, &st, &asked, &call, &d);
			if (foresees)
				MC_CHECK(!selected);
			else
				MC_CHECK(selected);
		}
		if (foresees) {
			passed += 3;
			mc_engine_express_count(&foreseen, &st, r->id, 3);
		} else {
			kept++;
		}
	}
	MC_CHECK(kept > 100 && kept < 300); /* about 10% of 2,000 keys */
	MC_CHECK_U64(foreseen.rule[0].calls, passed);
	MC_CHECK(foreseen.rule[0].calls - foreseen.rule[0].counted < MC_MATCHED_BATCH);
	mc_engine_free(rs);
	for (unsigned i = 0; i < sizeof(not_foreseeable) / sizeof(not_foreseeable[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "[mlchaos]\nseed = 5\n%s", not_foreseeable[i]);
		struct mc_ruleset *other = build_rules(text);
		MC_CHECK(other != NULL);
		if (!other)
			continue;
		MC_CHECKF(mc_engine_foreseeable(other, MC_HOOK_READ) == NULL,
		          "foreseeable, but must not be: %s", not_foreseeable[i]);
		mc_engine_free(other);
	}
}

int main(void)
{
	test_call_gaps();
	test_express_reservation();
	test_foreseeable();
	test_formula_and_rate();
	test_no_key();
	test_long_keys();
	test_memo();
	test_select_call();
	return mc_test_done("select");
}
