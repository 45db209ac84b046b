/* decide.c: the per-call decision, run on every call of an armed hook, inside malloc and
 * possibly in signal handlers. It must never allocate, lock, sleep or call into libc, and
 * must write no shared cache line on the common not-selected path. */
#include "internal.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

#define RELAXED memory_order_relaxed

struct clock_memo {
	bool valid;
	uint64_t now_ns;
};

static uint64_t now_ns(const struct mc_call *call, struct clock_memo *memo)
{
	if (!memo->valid) {
		memo->now_ns = call->now_ns ? call->now_ns(call->clock_arg) : 0;
		memo->valid = true;
	}
	return memo->now_ns;
}

static bool mask_has(const struct mc_rulemask *m, unsigned id)
{
	return (m->w[id / 64] >> (id % 64)) & 1;
}

/* The targeting tests, cheapest first; only those in r->checks apply. */
static bool targets(const struct mc_erule *r, const struct mc_call *call, struct clock_memo *memo)
{
	uint32_t c = r->checks;

	if ((c & MC_CHECK_NONZERO) && call->size == 0)
		return false;
	if ((c & MC_CHECK_SIZE) && (call->size < r->min_size || call->size > r->max_size))
		return false;
	if ((c & MC_CHECK_PORT) && call->local_port != r->port && call->peer_port != r->port)
		return false;
	if ((c & MC_CHECK_PATH) && (!call->path_rules || !mask_has(call->path_rules, r->id)))
		return false;
	if ((c & MC_CHECK_PHASE) && (uint8_t)call->phase != r->phase)
		return false;
	/* Fail only once the live heap would exceed the budget with this allocation. */
	if ((c & MC_CHECK_BUDGET) && call->heap_live_bytes <= r->budget_bytes &&
	    call->size <= r->budget_bytes - call->heap_live_bytes)
		return false;
	if (c & MC_CHECK_WINDOW) {
		uint64_t now = now_ns(call, memo);

		if (now < r->start_ns || now - r->start_ns >= r->duration_ns)
			return false;
	}
	return true;
}

/* Take one unit of *counter if it is below limit; false when the limit is reached. Exact
 * under any number of threads: the CAS never lets the counter pass the limit. */
static bool take(_Atomic uint64_t *counter, uint64_t limit)
{
	uint64_t v = atomic_load_explicit(counter, RELAXED);

	do {
		if (v >= limit)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(counter, &v, v + 1, RELAXED, RELAXED));
	return true;
}

bool mc_engine_select_key(const struct mc_erule *rule, const void *key, size_t key_len)
{
	if (key_len > MC_KEY_MAX)
		key_len = MC_KEY_MAX;
	return XXH3_64bits_withSeed(key, key_len, rule->name_seed) % MC_RATE_ONE < rule->rate_ppm;
}

static uint64_t key_hash(const struct mc_erule *r, const struct mc_call *call)
{
	size_t len = call->key_len > MC_KEY_MAX ? MC_KEY_MAX : call->key_len;

	return XXH3_64bits_withSeed(call->key, len, r->name_seed);
}

/* The memo of the current key's decisions, reset when the key or the rule set changes. */
static bool memo_usable(const struct mc_ruleset *rs, struct mc_thread_state *ts,
                        const struct mc_call *call)
{
	if (!ts || call->key_gen == 0)
		return false;
	if (ts->memo_rs != rs || ts->memo_gen != call->key_gen) {
		ts->memo_rs = rs;
		ts->memo_gen = call->key_gen;
		for (unsigned i = 0; i < MC_MASK_WORDS; i++)
			ts->memo_known.w[i] = ts->memo_selected.w[i] = 0;
	}
	return true;
}

/* select = call: the top 32 bits of the thread's next draw against a precomputed threshold
 * (no division or scaling on the hot path). */
static inline bool call_selects(uint64_t draw, uint64_t threshold)
{
	return (draw >> 32) < threshold;
}

static bool select_request(const struct mc_ruleset *rs, const struct mc_erule *r,
                           struct mc_thread_state *ts, const struct mc_call *call,
                           uint64_t *ret_draw)
{
	uint64_t bit = 1ull << (r->id % 64);
	unsigned word = r->id / 64;
	bool memo, selected;
	uint64_t h;

	if (r->rate_ppm >= MC_RATE_ONE) {
		/* Every key is selected, and so is a call without one. */
		if (call->key)
			*ret_draw = key_hash(r, call);
		else
			*ret_draw = ts ? mc_prng_next(&ts->prng) : mc_mix64(r->name_seed);
		return true;
	}
	if (!call->key || r->rate_ppm == 0)
		return false;
	memo = memo_usable(rs, ts, call);
	if (memo && (ts->memo_known.w[word] & bit) && !(ts->memo_selected.w[word] & bit))
		return false;
	h = key_hash(r, call);
	selected = h % MC_RATE_ONE < r->rate_ppm;
	if (memo) {
		ts->memo_known.w[word] |= bit;
		if (selected)
			ts->memo_selected.w[word] |= bit;
	}
	*ret_draw = h;
	return selected;
}

static bool select_call(const struct mc_erule *r, struct mc_thread_state *ts, uint64_t *ret_draw)
{
	if (!ts) {
		*ret_draw = mc_mix64(r->name_seed);
		return r->rate_ppm >= MC_RATE_ONE;
	}
	*ret_draw = mc_prng_next(&ts->prng);
	return call_selects(*ret_draw, mc_call_threshold(r->rate_ppm));
}

/* Count the matching calls `after` skips; true while skipping. Stops writing once past. */
static bool skip_after(const struct mc_erule *r, struct mc_rule_state *st)
{
	return take(&st->skipped, r->after);
}

/* Reserve one injection under max_faults and times; never exceeds either. */
static bool claim(const struct mc_ruleset *rs, const struct mc_erule *r, struct mc_engine_state *st)
{
	_Atomic uint64_t *injected = &st->rule[r->id].injected;

	if (rs->max_faults != MC_UNLIMITED && !take(&st->faults, rs->max_faults))
		return false;
	if (r->times == MC_UNLIMITED) {
		atomic_fetch_add_explicit(injected, 1, RELAXED);
		return true;
	}
	if (take(injected, r->times))
		return true;
	if (rs->max_faults != MC_UNLIMITED)
		atomic_fetch_sub_explicit(&st->faults, 1, RELAXED);
	return false;
}

static void fill(struct mc_decision *d, const struct mc_erule *r, struct mc_thread_state *ts,
                 uint64_t draw)
{
	d->action = (enum mc_action)r->action;
	d->rule = r;
	d->shadow = r->shadow;
	d->draw = draw;
	switch (r->action) {
	case MC_ACTION_DELAY: {
		uint64_t jitter = r->jitter_ns ? mc_mix64(draw ^ MC_SALT_JITTER) % r->jitter_ns : 0;

		d->delay_ns =
		    r->delay_ns + jitter < r->delay_ns ? MC_UNLIMITED : r->delay_ns + jitter;
		break;
	}
	case MC_ACTION_FAIL:
		d->err =
		    r->errnos[r->n_errnos > 1 ? mc_mix64(draw ^ MC_SALT_ERRNO) % r->n_errnos : 0];
		d->kill = r->budget_bytes && r->oom == MC_OOM_KILL;
		break;
	case MC_ACTION_SHORT:
		d->max_bytes = r->max_bytes;
		break;
	case MC_ACTION_CORRUPT:
		if (r->scope == MC_SCOPE_CALL)
			d->nonce = ts ? mc_prng_next(&ts->prng) : mc_mix64(draw ^ MC_SALT_NONCE);
		break;
	case MC_ACTION_REDIRECT:
		d->to = r->to;
		break;
	default:
		break;
	}
}

static void clear(struct mc_decision *d)
{
	*d = (struct mc_decision){ .action = MC_ACTION_NONE };
}

enum quick { QUICK_REJECT, QUICK_SELECTED, QUICK_MAYBE };

/* One more call matched rule id: a per-thread count, folded into the shared counter every
 * MC_MATCHED_BATCH calls so that an unselected call writes no shared cache line. */
static inline void note_matched(struct mc_thread_state *ts, struct mc_engine_state *st, unsigned id)
{
	if (!ts) {
		atomic_fetch_add_explicit(&st->rule[id].matched, 1, RELAXED);
		return;
	}
	if (++ts->matched_pending[id] == MC_MATCHED_BATCH) {
		atomic_fetch_add_explicit(&st->rule[id].matched, MC_MATCHED_BATCH, RELAXED);
		ts->matched_pending[id] = 0;
	}
}

/* The common case in a few instructions, without side effects beyond the select = call
 * draw: a rule with no targeting test (or only "not zero-length") that is not selected.
 * QUICK_SELECTED carries the draw; QUICK_MAYBE means "ask decide_slow()", nothing drawn. */
static inline enum quick quick_check(const struct mc_ruleset *rs, struct mc_engine_state *st,
                                     const struct mc_slot *slot, struct mc_thread_state *ts,
                                     const struct mc_call *call, uint64_t *ret_draw)
{
	uint32_t checks = slot->checks;

	if (checks & ~(uint32_t)MC_CHECK_NONZERO)
		return QUICK_MAYBE;
	if (checks && call->size == 0)
		return QUICK_REJECT;
	if (slot->rate_ppm >= MC_RATE_ONE)
		return QUICK_MAYBE;
	note_matched(ts, st, slot->id);
	if (slot->select == MC_SELECT_CALL) {
		if (!ts)
			return QUICK_REJECT;
		*ret_draw = mc_prng_next(&ts->prng);
		return call_selects(*ret_draw, slot->call_threshold) ? QUICK_SELECTED
		                                                     : QUICK_REJECT;
	}
	if (!call->key || slot->rate_ppm == 0)
		return QUICK_REJECT;
	if (ts && call->key_gen && ts->memo_rs == rs && ts->memo_gen == call->key_gen) {
		uint64_t bit = 1ull << (slot->id % 64);
		unsigned word = slot->id / 64;

		if ((ts->memo_known.w[word] & bit) && !(ts->memo_selected.w[word] & bit))
			return QUICK_REJECT;
	}
	return QUICK_MAYBE;
}

/* Whether quick_check() already counted slot as matched before answering QUICK_MAYBE. */
static inline bool slot_counted(const struct mc_slot *slot)
{
	return !(slot->checks & ~(uint32_t)MC_CHECK_NONZERO) && slot->rate_ppm < MC_RATE_ONE;
}

/* The full decision, from slot onward: targeting, after, selection, limits. q is what
 * quick_check() said of the first slot (QUICK_SELECTED: its draw is in draw). Out of line so
 * that the hot loop of mc_engine_decide() needs no stack frame. */
static __attribute__((noinline)) bool
decide_slow(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
            const struct mc_call *call, struct mc_decision *ret, const struct mc_slot *slot,
            enum quick q, uint64_t draw)
{
	const struct mc_slot *end = &rs->slots[rs->hook_start[call->hook + 1]];
	struct clock_memo memo = { false, 0 };

	/* Only the first slot went through quick_check(), which may have counted it. */
	bool quick_counted = q == QUICK_SELECTED || slot_counted(slot);

	for (; slot < end; slot++, q = QUICK_MAYBE, quick_counted = false) {
		const struct mc_erule *r = &rs->rules[slot->id];

		if (q != QUICK_SELECTED) {
			if (r->checks && !targets(r, call, &memo))
				continue;
			if (!quick_counted)
				note_matched(ts, st, r->id);
			if ((r->checks & MC_CHECK_AFTER) && skip_after(r, &st->rule[r->id]))
				continue;
			if (!(r->select == MC_SELECT_CALL ? select_call(r, ts, &draw)
			                                  : select_request(rs, r, ts, call, &draw)))
				continue;
		}
		atomic_fetch_add_explicit(&st->rule[r->id].selected, 1, RELAXED);
		if (!claim(rs, r, st))
			continue;
		fill(ret, r, ts, draw);
		return true;
	}
	clear(ret);
	return false;
}

bool mc_engine_decide(const struct mc_ruleset *rs, struct mc_engine_state *st,
                      struct mc_thread_state *ts, const struct mc_call *call,
                      struct mc_decision *ret)
{
	unsigned hook = (unsigned)call->hook;

	if (hook < MC_HOOK_COUNT) {
		const struct mc_slot *slot = &rs->slots[rs->hook_start[hook]];
		const struct mc_slot *end = &rs->slots[rs->hook_start[hook + 1]];

		for (; slot < end; slot++) {
			uint64_t draw = 0;
			enum quick q = quick_check(rs, st, slot, ts, call, &draw);

			if (q != QUICK_REJECT)
				return decide_slow(rs, st, ts, call, ret, slot, q, draw);
		}
	}
	clear(ret);
	return false;
}
