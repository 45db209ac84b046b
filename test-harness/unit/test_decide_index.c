/* test_decide_index.c: mc_engine_decide(), indexed (at build or lazily) or not, decides as a
 * plain reading of the rules does: same decisions, draws, counters and generator state, over
 * random rule sets and calls; and the index leaves out rules a call cannot match. */
#include <stdarg.h>

#include "cfg_util.h"
#include "engine/internal.h"
#include "mc_test.h"

#define N_CONFIGS     400
#define CALLS_PER_CFG 3000
#define MS            1000000ull

/* ---- a small deterministic generator for the test's own choices ----------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return mc_engine_mix64(rng_state);
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

/* ---- the reference: the rules read in file order, no index, no memo, no batching ------- */

struct ref_state {
	uint64_t matched[MC_MAX_RULES], skipped[MC_MAX_RULES];
	uint64_t selected[MC_MAX_RULES], injected[MC_MAX_RULES];
	uint64_t faults;
};

/* The targeting that depends on the call's context alone (size, port, path, phase): what an
 * express hint may rely on. */
static bool ref_context_matches(const struct mc_erule *r, const struct mc_call *call)
{
	bool sized = r->hook == MC_HOOK_READ || r->hook == MC_HOOK_SEND || r->hook == MC_HOOK_WRITE;
	uint64_t id_bit = 1ull << (r->id % 64);

	if (sized && call->size == 0)
		return false;
	if (call->size < r->min_size || call->size > r->max_size)
		return false;
	if (r->port && call->local_port != r->port && call->peer_port != r->port)
		return false;
	if (r->path && (!call->path_rules || !(call->path_rules->w[r->id / 64] & id_bit)))
		return false;
	return r->phase == MC_PHASE_ANY || (uint8_t)call->phase == r->phase;
}

static bool ref_targets(const struct mc_erule *r, const struct mc_call *call, uint64_t now)
{
	if (!ref_context_matches(r, call))
		return false;
	if (r->budget_bytes && call->heap_live_bytes + call->size <= r->budget_bytes)
		return false;
	if (r->start_ns > 0 || r->duration_ns != MC_UNLIMITED)
		return now >= r->start_ns && now - r->start_ns < r->duration_ns;
	return true;
}

/* select = call: each matched call selected with probability threshold / 2^32, threshold =
 * ceil(rate_ppm * 2^32 / 10^6), as engine.h states it: the thread's gap to the next selected
 * call drawn first and after each selected call, the selected call drawing its own value. */
static bool ref_select(const struct mc_erule *r, struct mc_thread_state *ts,
                       const struct mc_call *call, uint64_t *draw)
{
	size_t len = call->key_len > MC_KEY_MAX ? MC_KEY_MAX : call->key_len;

	if (r->select == MC_SELECT_CALL) {
		if (!ts) {
			*draw = mc_engine_mix64(r->name_seed);
			return r->rate_ppm >= MC_RATE_ONE;
		}
		uint64_t threshold =
		    (((uint64_t)r->rate_ppm << 32) + MC_RATE_ONE - 1) / MC_RATE_ONE;
		uint64_t *gap = &ts->rule[r->id].gap;

		if (*gap == 0)
			*gap = 1 + mc_engine_call_gap(&ts->prng, threshold);
		if (*gap > 1) {
			--*gap;
			return false;
		}
		*draw = mc_engine_prng_next(&ts->prng);
		*gap = 1 + mc_engine_call_gap(&ts->prng, threshold);
		return true;
	}
	if (r->rate_ppm >= MC_RATE_ONE) {
		if (call->key)
			*draw = XXH3_64bits_withSeed(call->key, len, r->name_seed);
		else
			*draw = ts ? mc_engine_prng_next(&ts->prng) : mc_engine_mix64(r->name_seed);
		return true;
	}
	if (!call->key || r->rate_ppm == 0)
		return false;
	*draw = XXH3_64bits_withSeed(call->key, len, r->name_seed);
	return *draw % MC_RATE_ONE < r->rate_ppm;
}

static bool ref_claim(const struct mc_ruleset *rs, const struct mc_erule *r, struct ref_state *st)
{
	uint64_t max = mc_engine_max_faults(rs);

	if (max != MC_UNLIMITED && st->faults >= max)
		return false;
	if (r->times != MC_UNLIMITED && st->injected[r->id] >= r->times)
		return false;
	if (max != MC_UNLIMITED)
		st->faults++;
	st->injected[r->id]++;
	return true;
}

static void ref_fill(struct mc_decision *d, const struct mc_erule *r, struct mc_thread_state *ts,
                     uint64_t draw)
{
	*d = (struct mc_decision){ .action = (enum mc_action)r->action, .rule = r };
	d->shadow = r->shadow;
	d->draw = draw;
	if (r->action == MC_ACTION_DELAY) {
		uint64_t j =
		    r->jitter_ns ? mc_engine_mix64(draw ^ MC_SALT_JITTER) % r->jitter_ns : 0;

		d->delay_ns = r->delay_ns + j < r->delay_ns ? MC_UNLIMITED : r->delay_ns + j;
	} else if (r->action == MC_ACTION_FAIL) {
		unsigned i =
		    r->n_errnos > 1 ? mc_engine_mix64(draw ^ MC_SALT_ERRNO) % r->n_errnos : 0;

		d->err = r->errnos[i];
		d->kill = r->budget_bytes && r->oom == MC_OOM_KILL;
	} else if (r->action == MC_ACTION_SHORT) {
		d->max_bytes = r->max_bytes;
	} else if (r->action == MC_ACTION_CORRUPT && r->scope == MC_SCOPE_CALL) {
		d->nonce = mc_engine_mix64(draw ^ MC_SALT_NONCE);
	} else if (r->action == MC_ACTION_REDIRECT) {
		d->to = r->to;
	}
}

static bool ref_decide(const struct mc_ruleset *rs, struct ref_state *st,
                       struct mc_thread_state *ts, const struct mc_call *call, uint64_t now,
                       struct mc_decision *d)
{
	for (unsigned id = 0; id < mc_engine_rule_count(rs); id++) {
		const struct mc_erule *r = mc_engine_rule(rs, id);
		uint64_t draw = 0;

		if (!r->enabled || r->hook != call->hook || !ref_targets(r, call, now))
			continue;
		st->matched[id]++;
		if (st->skipped[id] < r->after) {
			st->skipped[id]++;
			continue;
		}
		if (!ref_select(r, ts, call, &draw))
			continue;
		st->selected[id]++;
		if (!ref_claim(rs, r, st))
			continue;
		ref_fill(d, r, ts, draw);
		d->ordinal = ts ? st->matched[id] : 0; /* one thread: its count is the process's */
		return true;
	}
	*d = (struct mc_decision){ .action = MC_ACTION_NONE };
	return false;
}

/* ---- random rule sets ------------------------------------------------------------------- */

struct text {
	char buf[64 * 1024];
	size_t len;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0 && t->len + (size_t)n < sizeof(t->buf))
		t->len += (size_t)n;
}

/* Bounds, as written in the INI language and as numbers; powers of two and others, so that
 * both the exact size classes and the in-class tests are exercised. */
static const char *const size_text[] = { "1", "7", "64", "100", "4KiB", "5000", "1GiB" };
static const uint64_t size_value[] = { 1, 7, 64, 100, 4096, 5000, 1ull << 30 };
#define N_SIZES (sizeof(size_value) / sizeof(size_value[0]))

static const char *action_for(enum mc_hook h)
{
	static const char *const per_hook[MC_HOOK_COUNT][4] = {
		[MC_HOOK_READ] = { "delay", "fail", "short", "corrupt" },
		[MC_HOOK_SEND] = { "delay", "fail", "short", "fail" },
		[MC_HOOK_WRITE] = { "delay", "fail", "short", "fail" },
		[MC_HOOK_MALLOC] = { "delay", "fail", "fail", "fail" },
		[MC_HOOK_MMAP] = { "delay", "fail", "corrupt", "fail" },
		[MC_HOOK_SLEEP] = { "delay", "fail", "delay", "fail" },
		[MC_HOOK_OPEN] = { "delay", "fail", "redirect", "fail" },
		[MC_HOOK_STAT] = { "delay", "fail", "redirect", "fail" },
		[MC_HOOK_CUDA_ALLOC] = { "delay", "fail", "delay", "fail" },
		[MC_HOOK_CUDA_LAUNCH] = { "delay", "fail", "delay", "fail" },
		[MC_HOOK_CUDA_COPY] = { "delay", "fail", "delay", "fail" },
		[MC_HOOK_CUDA_INIT] = { "delay", "fail", "delay", "fail" },
	};
	_Static_assert(MC_HOOK_CUDA_INIT + 1 == MC_HOOK_COUNT, "a family without actions here");
	return per_hook[h][pick(4)];
}

static void put_action(struct text *t, enum mc_hook h, const char *action)
{
	put(t, "action = %s\n", action);
	if (strcmp(action, "delay") == 0)
		put(t, "delay = %ums\n%s", 1 + pick(3), chance(50) ? "jitter = 2ms\n" : "");
	else if (strcmp(action, "short") == 0)
		put(t, "max_bytes = %u\n", 1 + pick(100));
	else if (strcmp(action, "redirect") == 0)
		put(t, "to = /data/old.bin\n");
	else if (strcmp(action, "corrupt") == 0 && chance(50))
		put(t, "scope = call\n");
	else if (strcmp(action, "fail") == 0 && (h == MC_HOOK_MALLOC || h == MC_HOOK_MMAP) &&
	         chance(25))
		put(t, "budget = %s\n%s", chance(50) ? "1MiB" : "64KiB",
		    chance(30) ? "oom = kill\n" : "");
	else if (strcmp(action, "fail") == 0 && h == MC_HOOK_READ && chance(30))
		put(t, "errno = EIO, EINTR, EAGAIN\n");
}

static void put_targeting(struct text *t, enum mc_hook h)
{
	bool sized = h != MC_HOOK_SLEEP && h != MC_HOOK_OPEN;
	unsigned lo = pick(N_SIZES), hi = lo + pick((unsigned)N_SIZES - lo);

	if (sized && chance(40))
		put(t, "min_size = %s\n", size_text[lo]);
	if (sized && chance(25))
		put(t, "max_size = %s\n", size_text[hi]);
	if ((h == MC_HOOK_READ || h == MC_HOOK_WRITE || h == MC_HOOK_MMAP || h == MC_HOOK_OPEN) &&
	    chance(30))
		put(t, "path = %s\n", chance(50) ? "/data/*.bin" : "/other/*");
	if ((h == MC_HOOK_READ || h == MC_HOOK_SEND) && chance(30))
		put(t, "port = %u\n", chance(50) ? 8080 : 9090);
	if (chance(15))
		put(t, "phase = %s\n", chance(50) ? "load" : "serve");
}

static void put_selection(struct text *t)
{
	static const char *const rates[] = { "0%", "1%", "30%", "100%", "99.9999%" };

	if (chance(85))
		put(t, "rate = %s\n", rates[pick(5)]);
	if (chance(50))
		put(t, "select = %s\n", chance(50) ? "call" : "request");
	if (chance(15))
		put(t, "after = %u\n", 1 + pick(5));
	if (chance(15))
		put(t, "times = %u\n", 1 + pick(8));
	if (chance(10))
		put(t, "start = %ums\n", 1 + pick(3));
	if (chance(10))
		put(t, "duration = %ums\n", 2 + pick(4));
	if (chance(5))
		put(t, "shadow = true\n");
}

/* A config of n rules on a few hooks (so that hooks hold several rules). */
static void random_config(struct text *t, unsigned n)
{
	enum mc_hook hooks[3] = { pick(MC_HOOK_COUNT), pick(MC_HOOK_COUNT), pick(MC_HOOK_COUNT) };

	t->len = 0;
	put(t, "[mlchaos]\nseed = %u\n", pick(1000));
	if (chance(20))
		put(t, "max_faults = %u\n", 5 + pick(40));
	for (unsigned i = 0; i < n; i++) {
		enum mc_hook h = hooks[pick(3)];

		put(t, "\n[fault.r%u]\nhook = %s\n", i, mc_hook_name(h));
		put_action(t, h, action_for(h));
		put_targeting(t, h);
		put_selection(t);
	}
}

/* ---- random calls ------------------------------------------------------------------------ */

static const char *const paths[] = { "/data/m.bin", "/other/x", "/nowhere/y" };

struct call_gen {
	struct mc_rulemask masks[3];
	char key[16];
	uint64_t key_gen;
	uint64_t now;
};

static uint64_t random_size(void)
{
	static const uint64_t edges[] = { 0,  1,   2,   3,    6,    7,    8,    63,   64,        65,
		                          99, 100, 101, 4095, 4096, 4097, 5000, 5001, 1ull << 30 };

	if (chance(80))
		return edges[pick(sizeof(edges) / sizeof(edges[0]))];
	return rnd() >> pick(64);
}

static void random_call(struct call_gen *g, struct mc_call *call)
{
	static const uint16_t ports[] = { 0, 0, 8080, 9090, 1234 };
	static const uint64_t heaps[] = { 0, 60 * 1024, 900 * 1024, 4 << 20 };

	*call = (struct mc_call){ .hook = (enum mc_hook)pick(MC_HOOK_COUNT) };
	call->size = random_size();
	call->phase = (enum mc_phase)pick(3);
	if (chance(3)) /* not a phase: compared as its low byte, as targets() does */
		call->phase = (enum mc_phase)(chance(50) ? 3 : 257);
	call->heap_live_bytes = heaps[pick(4)];
	if (chance(70))
		call->path_rules = &g->masks[pick(3)];
	call->local_port = ports[pick(5)];
	call->peer_port = ports[pick(5)];
	if (chance(25)) { /* a new request: several calls follow with the same key */
		snprintf(g->key, sizeof(g->key), "k%u", pick(50));
		g->key_gen++;
	}
	if (g->key_gen && chance(85)) {
		call->key = g->key;
		call->key_len = strlen(g->key);
		call->key_gen = chance(90) ? g->key_gen : 0;
	}
	g->now += pick(400) * 1000;
}

static uint64_t fake_clock(void *arg)
{
	return *(const uint64_t *)arg;
}

/* ---- comparing ----------------------------------------------------------------------------- */

static bool same_decision(bool a, const struct mc_decision *da, bool b,
                          const struct mc_decision *db)
{
	if (a != b || da->action != db->action || da->rule != db->rule)
		return false;
	if (!a)
		return true;
	return da->draw == db->draw && da->ordinal == db->ordinal && da->err == db->err &&
	       da->kill == db->kill && da->shadow == db->shadow && da->delay_ns == db->delay_ns &&
	       da->max_bytes == db->max_bytes && da->nonce == db->nonce && da->to == db->to;
}

static bool same_counters(const struct mc_engine_state *st, const struct ref_state *ref, unsigned n,
                          bool with_matched)
{
	if (atomic_load(&st->faults) != ref->faults)
		return false;
	for (unsigned i = 0; i < n; i++) {
		const struct mc_rule_state *r = &st->rule[i];

		if (atomic_load(&r->skipped) != ref->skipped[i] ||
		    atomic_load(&r->selected) != ref->selected[i] ||
		    atomic_load(&r->injected) != ref->injected[i] ||
		    (with_matched && atomic_load(&r->matched) != ref->matched[i]))
			return false;
	}
	return true;
}

struct run_stats {
	unsigned configs, calls, decisions, mismatches, counter_mismatches, prng_mismatches;
	unsigned hints, hint_rules, bad_hints;
};

/* A decision's express hint, against the reference: for sizes at both ends of
 * its stretch and inside, the same context must give no candidate (NONE) or exactly the
 * hinted rule, a select = call rule with nothing but its context to test (RULE). */
static bool hint_holds(const struct mc_ruleset *rs, const struct mc_call *call,
                       const struct mc_decision *d)
{
	uint64_t span = d->express_hi - d->express_lo;
	uint64_t inside = span == UINT64_MAX ? rnd() : d->express_lo + rnd() % (span + 1);
	uint64_t sizes[3] = { d->express_lo, d->express_hi, inside };

	if (call->size < d->express_lo || call->size > d->express_hi)
		return false;
	for (unsigned k = 0; k < 3; k++) {
		struct mc_call c2 = *call;
		unsigned n = 0, id = 0;

		c2.size = sizes[k];
		for (unsigned i = 0; i < mc_engine_rule_count(rs); i++) {
			const struct mc_erule *r = mc_engine_rule(rs, i);

			if (r->enabled && r->hook == call->hook && ref_context_matches(r, &c2)) {
				n++;
				id = i;
			}
		}
		if (d->express == MC_EXPRESS_NONE && n != 0)
			return false;
		if (d->express >= MC_EXPRESS_RULE) {
			const struct mc_erule *r = mc_engine_rule(rs, id);

			if (n != 1 || id != d->express - MC_EXPRESS_RULE ||
			    r->select != MC_SELECT_CALL || r->after || r->budget_bytes ||
			    r->start_ns || r->duration_ns != MC_UNLIMITED ||
			    r->rate_ppm >= MC_RATE_ONE)
				return false;
		}
	}
	return true;
}

static struct mc_engine_state engine_st;

/* One rule set against the reference, CALLS_PER_CFG calls; use_ts: with a thread state. */
static void run_one(const struct mc_ruleset *rs, bool use_ts, uint64_t calls_seed,
                    struct run_stats *stats)
{
	static struct ref_state ref;
	struct mc_thread_state ts, ts_ref;
	struct call_gen g = { .key_gen = 0 };
	uint64_t saved = rng_state;

	rng_state = calls_seed;
	memset(&ref, 0, sizeof(ref));
	mc_engine_state_reset(&engine_st);
	mc_engine_thread_init(&ts, mc_engine_seed(rs), 0);
	mc_engine_thread_init(&ts_ref, mc_engine_seed(rs), 0);
	for (unsigned i = 0; i < 3; i++)
		mc_engine_match_path(rs, paths[i], &g.masks[i]);
	for (unsigned i = 0; i < CALLS_PER_CFG; i++) {
		struct mc_call call;
		struct mc_decision d, dr;
		bool a, b;

		random_call(&g, &call);
		call.now_ns = fake_clock;
		call.clock_arg = &g.now;
		a = mc_engine_decide(rs, &engine_st, use_ts ? &ts : NULL, &call, &d);
		b = ref_decide(rs, &ref, use_ts ? &ts_ref : NULL, &call, g.now, &dr);
		stats->calls++;
		stats->decisions += b;
		stats->mismatches += !same_decision(a, &d, b, &dr);
		stats->prng_mismatches += use_ts && ts.prng.s != ts_ref.prng.s;
		if (d.express != MC_EXPRESS_NO) { /* selected or not: the calls after it */
			stats->hints++;
			stats->hint_rules += d.express >= MC_EXPRESS_RULE;
			stats->bad_hints += !hint_holds(rs, &call, &d);
		}
		if (i % 97 == 0 || i == CALLS_PER_CFG - 1) {
			if (use_ts)
				mc_engine_thread_flush(&ts, &engine_st);
			stats->counter_mismatches +=
			    !same_counters(&engine_st, &ref, mc_engine_rule_count(rs), true);
		} else {
			stats->counter_mismatches +=
			    !same_counters(&engine_st, &ref, mc_engine_rule_count(rs), false);
		}
	}
	rng_state = saved;
}

/* The full path alone: what mc_engine_decide() does while another thread indexes (the
 * index is marked built, so nothing indexes it again). */
static void drop_index(struct mc_ruleset *rs)
{
	for (unsigned h = 0; h < MC_HOOK_COUNT; h++)
		atomic_store(&rs->hooks[h].flags, 0);
}

static void check_random(void)
{
	static struct text t;
	struct run_stats indexed = { 0 }, unindexed = { 0 };
	unsigned lazily_indexed = 0;

	for (unsigned c = 0; c < N_CONFIGS; c++) {
		unsigned n = c % 10 == 9 ? 70 + pick(58) : 1 + pick(24);
		struct mc_ruleset *rs = NULL;
		struct mc_config *cfg;
		struct diags d;
		uint64_t calls_seed = rnd();
		bool use_ts = chance(85);

		random_config(&t, n);
		cfg = parse_text(t.buf, &d);
		if (!cfg || mc_engine_build(cfg, NULL, &rs) < 0) {
			mc_cfg_free(cfg);
			continue; /* a combination the validator refuses */
		}
		mc_cfg_free(cfg);
		/* Indexed by mc_engine_build(), or by the first decision that needs it. */
		indexed.configs++;
		run_one(rs, use_ts, calls_seed, &indexed);
		lazily_indexed += atomic_load(&rs->index_state) == MC_INDEX_BUILT;
		drop_index(rs);
		unindexed.configs++;
		run_one(rs, use_ts, calls_seed, &unindexed);
		mc_engine_free(rs);
	}
	printf("indexed: %u configs, %u calls, %u decisions, %u express hints (%u for a rule); "
	       "unindexed: %u configs\n",
	       indexed.configs, indexed.calls, indexed.decisions, indexed.hints, indexed.hint_rules,
	       unindexed.configs);
	MC_CHECK(indexed.configs >= N_CONFIGS / 2);
	MC_CHECK_U64(lazily_indexed, indexed.configs);
	MC_CHECK(indexed.decisions >= indexed.calls / 50);
	MC_CHECK_U64(indexed.mismatches, 0);
	MC_CHECK_U64(indexed.counter_mismatches, 0);
	MC_CHECK_U64(indexed.prng_mismatches, 0);
	MC_CHECK(indexed.hint_rules >= 100 && indexed.hints >= 1000);
	MC_CHECK_U64(indexed.bad_hints, 0);
	MC_CHECK_U64(unindexed.hints, 0); /* no index, no hint */
	MC_CHECK_U64(unindexed.mismatches, 0);
	MC_CHECK_U64(unindexed.counter_mismatches, 0);
	MC_CHECK_U64(unindexed.prng_mismatches, 0);
}

/* ---- the index itself ------------------------------------------------------------------------ */

static void check_size_classes(void)
{
	MC_CHECK_U64(mc_size_class(0), 0);
	MC_CHECK_U64(mc_size_class(1), 0);
	MC_CHECK_U64(mc_size_class(2), 1);
	MC_CHECK_U64(mc_size_class(3), 1);
	MC_CHECK_U64(mc_size_class(4), 2);
	MC_CHECK_U64(mc_size_class(4096), 12);
	MC_CHECK_U64(mc_size_class(UINT64_MAX), 63);
}

/* The index's size mask for size, read as mc_engine_decide() reads it: the class, then the
 * last cut at or below size. */
static const struct mc_rulemask *index_size_mask(const struct mc_ruleset *rs, uint64_t size)
{
	const struct mc_size_class *sc = &rs->size_class[mc_size_class(size)];
	const struct mc_rulemask *m = &sc->rules;

	for (unsigned k = 0; k < sc->n_cuts && rs->cuts[sc->first_cut + k].from <= size; k++)
		m = &rs->cuts[sc->first_cut + k].rules;
	return m;
}

/* The size masks are exact: for sizes at and around every bound, a rule is in the mask iff
 * its range holds the size. */
static void check_size_masks(void)
{
	static const char *const bounds[] = {
		"min_size = 65\nmax_size = 1000", "max_size = 64",   "min_size = 1GiB",
		"min_size = 100\nmax_size = 100", "min_size = 4KiB", "max_size = 4097"
	};
	static char text[4096];
	size_t len = (size_t)snprintf(text, sizeof(text), "[mlchaos]\nseed = 1\n");
	struct mc_ruleset *rs;
	unsigned wrong = 0, checked = 0;

	for (unsigned i = 0; i < 6; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.s%u]\nhook = %s\naction = fail\n%s\n", i,
		                        i % 2 ? "malloc" : "read", bounds[i]);
	rs = build_rules(text);
	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_index(rs);
	for (uint64_t base = 0; base < 64; base++) {
		static const uint64_t points[] = {
			0, 1, 64, 65, 100, 1000, 4096, 4097, 1ull << 30
		};

		for (unsigned p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
			uint64_t size =
			    points[p] + base - 32; /* around each point, wrapping at 0 */
			const struct mc_rulemask *m = index_size_mask(rs, size);

			for (unsigned id = 0; id < 6; id++) {
				const struct mc_erule *r = mc_engine_rule(rs, id);
				bool sized = r->hook == MC_HOOK_READ;
				bool holds = size >= r->min_size && size <= r->max_size &&
				             !(sized && size == 0);

				wrong += holds != (bool)((m->w[0] >> id) & 1);
				checked++;
			}
		}
	}
	MC_CHECK(checked > 3000);
	MC_CHECK_U64(wrong, 0);
	mc_engine_free(rs);
}

/* Rules a call cannot match are not candidates at all: 99 malloc rules with min_size = 1GiB
 * and a 64-byte call leave one candidate; indexing twice changes nothing. */
static void check_candidates(void)
{
	static char text[128 * 80];
	size_t len = 0;
	struct mc_ruleset *rs;
	struct mc_size_class before[MC_SIZE_CLASSES];

	len += (size_t)snprintf(text + len, sizeof(text) - len, "[mlchaos]\nseed = 1\n");
	for (unsigned i = 0; i < 99; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.p%u]\nhook = malloc\naction = fail\n"
		                        "min_size = 1GiB\n",
		                        i);
	snprintf(text + len, sizeof(text) - len,
	         "[fault.hit]\nhook = malloc\naction = fail\nrate = 1%%\nselect = call\n");
	rs = build_rules(text);
	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_index(rs);
	const struct mc_rulemask *c = index_size_mask(rs, 64);
	const struct mc_rulemask *h = &rs->hooks[MC_HOOK_MALLOC].rules;
	MC_CHECK_U64(
	    __builtin_popcountll(c->w[0] & h->w[0]) + __builtin_popcountll(c->w[1] & h->w[1]), 1);
	MC_CHECK(((c->w[1] & h->w[1]) >> (99 - 64)) & 1);
	MC_CHECK_U64(rs->n_cuts, 0); /* 1GiB starts a class; no rule tests size 0 */
	MC_CHECK_U64(rs->fast[99].kind, MC_FAST_CALL);
	MC_CHECK_U64(rs->fast[99].plain, MC_FAST_PLAIN);
	memcpy(before, rs->size_class, sizeof(before));
	mc_engine_index(rs);
	MC_CHECK(memcmp(before, rs->size_class, sizeof(before)) == 0);
	mc_engine_free(rs);
}

int main(void)
{
	check_size_classes();
	check_size_masks();
	check_candidates();
	check_random();
	return mc_test_done("unit-decide-index");
}
