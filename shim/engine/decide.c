/* decide.c: the per-call decision and the index that keeps it cheap, run on every call of
 * an armed hook, inside malloc and in signal handlers. It must never allocate, lock, sleep or
 * call into libc, nor write shared memory on a not-selected call but the matched-count fold. */
#include "internal.h"
#include "selector.h"

#define RELAXED memory_order_relaxed

/* What a decision asks of the caller at most once: the clock, the calling object. */
struct clock_memo {
	bool valid;
	uint64_t now_ns;
	bool caller_asked;
	const char *caller;
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

static const char *caller_name(const struct mc_call *call, struct clock_memo *memo)
{
	if (!memo->caller_asked) {
		memo->caller = call->caller ? call->caller(call->caller_arg) : NULL;
		memo->caller_asked = true;
	}
	return memo->caller;
}

/* caller = GLOB: the calling object is known and its file name matches; not_caller = GLOB:
 * it is not known, or its name does not match. */
static bool caller_matches(const struct mc_erule *r, const char *caller)
{
	if (r->caller && (!caller || !mc_glob_match(r->caller, caller)))
		return false;
	return !r->not_caller || !caller || !mc_glob_match(r->not_caller, caller);
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
	if ((c & MC_CHECK_TENSORS) && call->no_tensors)
		return false;
	if ((c & MC_CHECK_SOCKET) && call->not_socket)
		return false;
	if ((c & MC_CHECK_PROCESSES) && call->process_off && mask_has(call->process_off, r->id))
		return false;
	if ((c & MC_CHECK_CALLER) && !caller_matches(r, caller_name(call, memo)))
		return false;
	/* Fail only once the live heap would exceed the budget with this allocation. */
	if ((c & MC_CHECK_BUDGET) &&
	    (call->unbudgeted || (call->heap_live_bytes <= r->budget_bytes &&
	                          call->size <= r->budget_bytes - call->heap_live_bytes)))
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
	return mc_selector_selects(rule, key, key_len);
}

static uint64_t key_hash(const struct mc_erule *r, const struct mc_call *call)
{
	return mc_selector_hash(r, call->key, call->key_len);
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

/* A call of a thread with several requests in flight belongs to no single request: the rule
 * does not act on it (unless ambiguous = last); a call the key read last would have selected
 * is left in ts->withheld, for the caller to count and log as ambiguous, so that the user sees
 * what could not be attributed. Out of line: the plain path does not pay for it. */
static __attribute__((noinline)) bool withhold(const struct mc_erule *r, struct mc_thread_state *ts,
                                               bool selected)
{
	if (selected && ts)
		ts->withheld = r;
	return false;
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
	selected = h % MC_RATE_ONE < r->rate_ppm; /* mc_selector_selects(), h computed once */
	if (memo) {
		ts->memo_known.w[word] |= bit;
		if (selected)
			ts->memo_selected.w[word] |= bit;
	}
	if (mc_unlikely(call->ambiguous) && !r->ambiguous_last)
		return withhold(r, ts, selected);
	*ret_draw = h;
	return selected;
}

/* select = call, one matched call of rule id on thread ts: whether it is selected, by the
 * rule's gap (drawn on the first call, then after each selected one). A selected call takes
 * one more draw, the decision's own, for the choices derived from it. */
static bool gap_selects(struct mc_thread_state *ts, unsigned id, double log_keep,
                        uint64_t *ret_draw)
{
	struct mc_thread_rule *tr = &ts->rule[id];
	uint64_t v = tr->gap ? tr->gap : 1 + mc_gap_draw(&ts->prng, log_keep);

	if (v > 1) {
		tr->gap = v - 1;
		return false;
	}
	*ret_draw = mc_prng_next(&ts->prng);
	tr->gap = 1 + mc_gap_draw(&ts->prng, log_keep);
	return true;
}

static bool select_call(const struct mc_erule *r, struct mc_thread_state *ts, uint64_t *ret_draw)
{
	if (!ts) {
		*ret_draw = mc_mix64(r->name_seed);
		return r->rate_ppm >= MC_RATE_ONE;
	}
	return gap_selects(ts, r->id, mc_log_keep(mc_call_threshold(r->rate_ppm)), ret_draw);
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

/* Give back one unit of *counter, never below 0 (a reset may have come in between). */
static void give_back(_Atomic uint64_t *counter)
{
	uint64_t v = atomic_load_explicit(counter, RELAXED);

	while (v > 0 &&
	       !atomic_compare_exchange_weak_explicit(counter, &v, v - 1, RELAXED, RELAXED))
		;
}

void mc_engine_unclaim(const struct mc_ruleset *rs, const struct mc_erule *r,
                       struct mc_engine_state *st)
{
	give_back(&st->rule[r->id].injected);
	if (rs->max_faults != MC_UNLIMITED)
		give_back(&st->faults);
}

/* Every field is set: callers may keep a decision around and read any of them. */
static void fill(struct mc_decision *d, const struct mc_erule *r, struct mc_thread_state *ts,
                 uint64_t draw)
{
	*d = (struct mc_decision){ .action = (enum mc_action)r->action };
	d->rule = r;
	d->shadow = r->shadow;
	d->draw = draw;
	d->ordinal = ts ? ts->rule[r->id].calls : 0;
	d->thread = ts ? ts->thread : 0;
	switch (r->action) {
	case MC_ACTION_DELAY:
	case MC_ACTION_HANG:
	case MC_ACTION_BURN: {
		uint64_t jitter = r->jitter_ns ? mc_mix64(draw ^ MC_SALT_JITTER) % r->jitter_ns : 0;

		if (r->distribution != MC_DIST_FIXED)
			d->delay_ns = mc_engine_latency_ns(r, draw);
		else
			d->delay_ns = r->delay_ns + jitter < r->delay_ns ? MC_UNLIMITED
			                                                 : r->delay_ns + jitter;
		d->times_own = r->times_own;
		break;
	}
	case MC_ACTION_SIGNAL:
		d->signo = r->signo;
		break;
	case MC_ACTION_LEAK:
	case MC_ACTION_HOG:
		d->bytes = r->bytes;
		break;
	case MC_ACTION_FAIL:
		d->err =
		    r->errnos[r->n_errnos > 1 ? mc_mix64(draw ^ MC_SALT_ERRNO) % r->n_errnos : 0];
		d->kill = r->budget_bytes && r->oom == MC_OOM_KILL;
		break;
	case MC_ACTION_SHORT:
		d->max_bytes = r->max_bytes;
		break;
	case MC_ACTION_CORRUPT:
		/* from the draw alone, so that a decision replayed with its draw damages alike */
		if (r->scope == MC_SCOPE_CALL)
			d->nonce = mc_mix64(draw ^ MC_SALT_NONCE);
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
	*d = (struct mc_decision){ .action = MC_ACTION_NONE, .express = MC_EXPRESS_NO };
}

static uint64_t class_start(unsigned c)
{
	return c ? 1ull << c : 0;
}

static uint64_t class_end(unsigned c)
{
	return c == 63 ? UINT64_MAX : (2ull << c) - 1;
}

/* The sizes around size that the size index gives the same rules: the stretch of its class
 * between two cuts, or the run of classes without cuts and with the same rules. */
static void size_stretch(const struct mc_ruleset *rs, uint64_t size, uint64_t *lo, uint64_t *hi)
{
	unsigned c = mc_size_class(size);
	const struct mc_size_class *sc = &rs->size_class[c];
	const struct mc_size_cut *cut = &rs->cuts[sc->first_cut];

	if (!sc->n_cuts) {
		*lo = class_start(sc->run_first);
		*hi = class_end(sc->run_last);
		return;
	}
	*lo = class_start(c);
	*hi = class_end(c);
	for (unsigned k = 0; k < sc->n_cuts; k++) {
		if (size < cut[k].from) {
			*hi = cut[k].from - 1;
			break;
		}
		*lo = cut[k].from;
	}
}

/* Whether calls like this one stay like it: not while a hook with phase rules is in the
 * load phase, which ends at a moment no hint can foresee (serve is for good). */
static bool hint_lasts(const struct mc_ruleset *rs, const struct mc_call *call)
{
	uint32_t flags = atomic_load_explicit(&rs->hooks[call->hook].flags, memory_order_relaxed);

	return !(flags & MC_HX_PHASE) || (uint8_t)call->phase == MC_PHASE_SERVE;
}

/* Sets the express hint express (MC_EXPRESS_NONE or MC_EXPRESS_RULE + id) for the calls of
 * the call's context whose size is in its stretch, when it lasts. */
static void set_hint(const struct mc_ruleset *rs, const struct mc_call *call,
                     struct mc_decision *ret, uint32_t express)
{
	if (!hint_lasts(rs, call))
		return;
	ret->express = express;
	size_stretch(rs, call->size, &ret->express_lo, &ret->express_hi);
}

/* Not selected, with the express hint express. */
static __attribute__((noinline)) bool pass_express(const struct mc_ruleset *rs,
                                                   const struct mc_call *call,
                                                   struct mc_decision *ret, uint32_t express)
{
	clear(ret);
	set_hint(rs, call, ret, express);
	return false;
}

/* One more call matched rule id: an exact per-thread count, folded into the shared counter
 * once MC_MATCHED_BATCH calls (or more: express calls count without folding) are pending,
 * so that unselected calls write a shared line only that often. */
static inline void note_matched(struct mc_thread_state *ts, struct mc_engine_state *st, unsigned id)
{
	if (!ts) {
		atomic_fetch_add_explicit(&st->rule[id].matched, 1, RELAXED);
		return;
	}
	mc_engine_express_count(ts, st, id, 1);
}

/* What the hot loop already did for the first candidate it hands to decide_slow(). */
enum first { FIRST_FRESH, FIRST_SELECTED };

/* The full decision over the candidates c[0], c[1] from the lowest set bit on: targeting,
 * matched count, after, selection, limits, for each in file order. first says what the hot
 * loop did for the first one (FIRST_SELECTED: its draw is in draw). */
static __attribute__((noinline)) bool
decide_slow(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
            const struct mc_call *call, struct mc_decision *ret, uint64_t c0, uint64_t c1,
            enum first first, uint64_t draw)
{
	struct clock_memo memo = { false, 0, false, NULL };
	uint64_t c[MC_MASK_WORDS] = { c0, c1 };

	_Static_assert(MC_MASK_WORDS == 2, "two mask words");
	for (unsigned w = 0; w < MC_MASK_WORDS; w++) {
		for (uint64_t m = c[w]; m; m &= m - 1, first = FIRST_FRESH) {
			const struct mc_erule *r =
			    &rs->rules[w * 64 + (unsigned)__builtin_ctzll(m)];

			if (first != FIRST_SELECTED) {
				if (r->checks && !targets(r, call, &memo))
					continue;
				note_matched(ts, st, r->id);
				if ((r->checks & MC_CHECK_AFTER) && skip_after(r, &st->rule[r->id]))
					continue;
				if (!(r->replay ? mc_replay_select(r, ts, call, &draw)
				      : r->select == MC_SELECT_CALL
				          ? select_call(r, ts, &draw)
				          : select_request(rs, r, ts, call, &draw)))
					continue;
			}
			atomic_fetch_add_explicit(&st->rule[r->id].selected, 1, RELAXED);
			if (!claim(rs, r, st))
				continue;
			fill(ret, r, ts, draw);
			return true;
		}
	}
	clear(ret);
	return false;
}

/* The rules of word w that the call's stage lets decide (enum mc_stage). */
static inline uint64_t stage_keep(const struct mc_ruleset *rs, const struct mc_call *call,
                                  unsigned w)
{
	switch (call->stage) {
	case MC_STAGE_BEFORE_BYTES:
		return ~rs->stream.w[w];
	case MC_STAGE_AFTER_BYTES:
		return rs->stream.w[w];
	default:
		return ~0ull;
	}
}

/* What the call passes of the phase, path glob, port and stage tests, as a mask for word w. */
static inline uint64_t narrow(const struct mc_ruleset *rs, const struct mc_hook_index *hx,
                              uint32_t flags, const struct mc_call *call, unsigned w)
{
	unsigned phase = (uint8_t)call->phase; /* the cast targets() compares with */
	uint64_t keep = ~0ull;

	if (flags & MC_HX_PHASE) {
		/* No rule has a phase past SERVE: then only rules without one pass. */
		keep &= rs->phase_ok[phase > MC_PHASE_SERVE ? MC_PHASE_ANY : phase].w[w];
	}
	if (flags & MC_HX_PATH)
		keep &= ~hx->path.w[w] | (call->path_rules ? call->path_rules->w[w] : 0);
	/* A port rule matches when either port equals its own, never when both are 0. */
	if ((flags & MC_HX_PORT) && call->local_port == 0 && call->peer_port == 0)
		keep &= ~hx->port.w[w];
	if (flags & MC_HX_STREAM)
		keep &= stage_keep(rs, call, w);
	return keep;
}

static inline bool port_matches(const struct mc_fast *f, const struct mc_call *call)
{
	return !f->port || call->local_port == f->port || call->peer_port == f->port;
}

/* The stretch of a class with cuts that holds size: after the last cut at or below it. */
static __attribute__((noinline)) const struct mc_rulemask *
size_rules_cut(const struct mc_ruleset *rs, const struct mc_size_class *sc, uint64_t size)
{
	const struct mc_size_cut *cut = &rs->cuts[sc->first_cut];
	const struct mc_rulemask *m = &sc->rules;

	for (const struct mc_size_cut *end = cut + sc->n_cuts; cut < end && size >= cut->from;
	     cut++)
		m = &cut->rules;
	return m;
}

/* The rules whose size range holds size. */
static inline const struct mc_rulemask *size_rules(const struct mc_ruleset *rs, uint64_t size)
{
	const struct mc_size_class *sc = &rs->size_class[mc_size_class(size)];

	return mc_likely(!sc->n_cuts) ? &sc->rules : size_rules_cut(rs, sc, size);
}

#define SCAN_DONE (-1)

/* The candidates a scan let through the port test: how many, and the last one's id. */
struct scanned {
	unsigned n, id;
};

/* The candidates of one mask word (rule ids base + bit, upward), any kind: each passes its
 * remaining tests, is counted, and is selected or not when its kind allows (select = call by
 * its gap, select = request by the key's memo or hash), else is handed to the full path. Returns
 * SCAN_DONE when none needs the full path (*seen then tells the candidates that passed the port
 * test); else the enum first for decide_slow(), with *ret_m the word from that candidate on and
 * *ret_draw its draw. */
static inline __attribute__((always_inline)) int
scan_word(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
          const struct mc_call *call, uint64_t m, unsigned base, uint64_t *ret_m,
          uint64_t *ret_draw, struct scanned *seen)
{
	for (; m; m &= m - 1) {
		unsigned id = base + (unsigned)__builtin_ctzll(m);
		const struct mc_fast *f = &rs->fast[id];

		if (!port_matches(f, call))
			continue;
		seen->n++;
		seen->id = id;
		*ret_m = m;
		if (f->kind == MC_FAST_FULL)
			return FIRST_FRESH;
		note_matched(ts, st, id);
		if (f->kind == MC_FAST_CALL) {
			if (ts && gap_selects(ts, id, f->log_keep, ret_draw))
				return FIRST_SELECTED;
			continue;
		}
		if (f->kind == MC_FAST_REQUEST &&
		    select_request(rs, &rs->rules[id], ts, call, ret_draw))
			return FIRST_SELECTED;
	}
	return SCAN_DONE;
}

/* Not selected after a scan of candidates: the express hint is NONE when the call's ports
 * admitted none of them, RULE + id when they admitted one and it is a select = call rule (the
 * index tested all it has), else NO (a rule to count or a key to look at on every call). */
static bool pass_scanned(const struct mc_ruleset *rs, const struct mc_call *call,
                         struct mc_decision *ret, const struct scanned *seen)
{
	if (seen->n == 0)
		return pass_express(rs, call, ret, MC_EXPRESS_NONE);
	if (seen->n == 1 && rs->fast[seen->id].kind == MC_FAST_CALL)
		return pass_express(rs, call, ret, MC_EXPRESS_RULE + seen->id);
	clear(ret);
	return false;
}

static uint32_t hook_flags(const struct mc_hook_index *hx)
{
	/* Acquire: the masks were written before the flags that publish them. */
	return atomic_load_explicit(&hx->flags, memory_order_acquire);
}

/* A rule set's index is built the first time a call needs it, unless mc_engine_build() did
 * it. The rule set was allocated writable by mc_engine_build(); indexing writes only memory
 * that no thread reads before the flags publishing it (the full path reads the rules and
 * the slots, which indexing does not touch). Returns the hook's flags. */
static __attribute__((cold)) uint32_t index_now(const struct mc_ruleset *rs,
                                                const struct mc_hook_index *hx)
{
	if (atomic_load_explicit(&rs->index_state, memory_order_relaxed) == MC_INDEX_NONE)
		mc_engine_index((struct mc_ruleset *)rs);
	return hook_flags(hx);
}

/* Everything but the plain case: a rule set not indexed, a hook with path, port or phase
 * rules, several candidates, a candidate of another kind than a plain select = call rule, or
 * no thread state. Nothing was counted or drawn for this call before it comes here. */
static __attribute__((noinline)) bool
decide_general(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
               const struct mc_call *call, struct mc_decision *ret)
{
	const struct mc_hook_index *hx;
	const struct mc_rulemask *sizes;
	struct scanned seen = { 0, 0 };
	uint64_t c[MC_MASK_WORDS] = { 0 }, draw = 0;
	uint32_t flags;

	if ((unsigned)call->hook >= MC_HOOK_COUNT) {
		clear(ret);
		return false;
	}
	hx = &rs->hooks[call->hook];
	flags = hook_flags(hx);
	if (mc_unlikely(!(flags & MC_HX_INDEXED)))
		flags = index_now(rs, hx);
	if (!(flags & MC_HX_INDEXED)) {
		/* Another thread is indexing: every enabled rule of the hook, each fully tested. */
		for (unsigned i = rs->hook_start[call->hook]; i < rs->hook_start[call->hook + 1];
		     i++)
			c[rs->slots[i].id / 64] |= 1ull << (rs->slots[i].id % 64);
		c[0] &= stage_keep(rs, call, 0);
		c[1] &= stage_keep(rs, call, 1);
		return decide_slow(rs, st, ts, call, ret, c[0], c[1], FIRST_FRESH, 0);
	}
	sizes = size_rules(rs, call->size);
	c[0] = hx->rules.w[0] & sizes->w[0] & narrow(rs, hx, flags, call, 0);
	if (flags & MC_HX_WIDE)
		c[1] = hx->rules.w[1] & sizes->w[1] & narrow(rs, hx, flags, call, 1);
	if (!(c[0] | c[1])) /* the common case here: the call matches none of the hook's rules */
		return pass_express(rs, call, ret, MC_EXPRESS_NONE);
	for (unsigned w = 0; w < MC_MASK_WORDS; w++) {
		int first = scan_word(rs, st, ts, call, c[w], w * 64, &c[w], &draw, &seen);

		if (first != SCAN_DONE)
			return decide_slow(rs, st, ts, call, ret, w ? 0 : c[0], c[1],
			                   (enum first)first, draw);
	}
	return pass_scanned(rs, call, ret, &seen);
}

/* The plain path's candidate id was selected; its draw is in ret->draw (six arguments keep
 * the plain path's calls tail calls). */
static __attribute__((noinline)) bool
decide_selected(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
                const struct mc_call *call, struct mc_decision *ret, unsigned id)
{
	uint64_t bit = 1ull << (id % 64);

	if (!decide_slow(rs, st, ts, call, ret, id < 64 ? bit : 0, id < 64 ? 0 : bit,
	                 FIRST_SELECTED, ret->draw))
		return pass_express(rs, call, ret,
		                    MC_EXPRESS_RULE + id); /* times or max_faults spent */
	/* The calls after it are as before: the hint holds for them (its gap was drawn anew). */
	set_hint(rs, call, ret, MC_EXPRESS_RULE + id);
	return true;
}

/* The plain case of a select = request rule: the candidates (m0, m1 as for decide_plain()) are
 * one select = request rule with no port, on a thread with its state: counted, then selected
 * by the key's memo or hash, with no hint (the next call may carry another key). Anything else
 * goes to decide_general(). Out of line: the select = call case must not pay for it. */
static __attribute__((noinline)) bool
decide_request(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
               const struct mc_call *call, struct mc_decision *ret, uint64_t m0, uint64_t m1)
{
	uint64_t m = m0 ? m0 : m1;
	unsigned id = (m0 ? 0 : 64) + (unsigned)__builtin_ctzll(m);
	uint64_t draw;

	if (rs->fast[id].plain != MC_FAST_PLAIN_REQUEST || (m & (m - 1)) || (m0 && m1) || !ts)
		return decide_general(rs, st, ts, call, ret);
	note_matched(ts, st, id);
	if (!select_request(rs, &rs->rules[id], ts, call, &draw)) {
		clear(ret);
		return false;
	}
	return decide_slow(rs, st, ts, call, ret, id < 64 ? m : 0, id < 64 ? 0 : m, FIRST_SELECTED,
	                   draw);
}

/* The plain case: the candidates (m0: ids 0..63, m1: 64..127) are at most one, a select =
 * call rule with nothing left to test (a rule armed on malloc, read or send at some rate,
 * whatever other rules the hook has that this call cannot match). It costs a bit scan, one
 * per-thread byte and one draw: rules that cannot match cost nothing. Anything else goes to
 * decide_general() before any side effect. */
static inline __attribute__((always_inline)) bool
decide_plain(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
             const struct mc_call *call, struct mc_decision *ret, uint64_t m0, uint64_t m1)
{
	uint64_t m = m0 ? m0 : m1;
	const struct mc_fast *f;
	uint64_t id; /* 64 bits: no widening on the way to an address */

	if (!m)
		return pass_express(rs, call, ret, MC_EXPRESS_NONE);
	id = (m0 ? 0 : 64) + (uint64_t)__builtin_ctzll(m);
	f = &rs->fast[id];
	if (mc_unlikely(f->plain != MC_FAST_PLAIN) || mc_unlikely(m & (m - 1)) ||
	    mc_unlikely(m0 && m1) || mc_unlikely(!ts))
		return f->plain == MC_FAST_PLAIN_REQUEST
		           ? decide_request(rs, st, ts, call, ret, m0, m1)
		           : decide_general(rs, st, ts, call, ret);
	note_matched(ts, st, (unsigned)id);
	if (mc_unlikely(gap_selects(ts, (unsigned)id, f->log_keep, &ret->draw)))
		return decide_selected(rs, st, ts, call, ret, (unsigned)id);
	return pass_express(rs, call, ret, MC_EXPRESS_RULE + (uint32_t)id);
}

/* The plain case on a hook with rule ids past 63 (out of line: the second word would cost
 * every other hook registers). */
static __attribute__((noinline)) bool
decide_wide(const struct mc_ruleset *rs, struct mc_engine_state *st, struct mc_thread_state *ts,
            const struct mc_call *call, struct mc_decision *ret)
{
	const struct mc_rulemask *sc = size_rules(rs, call->size);
	const struct mc_hook_index *hx = &rs->hooks[call->hook];

	return decide_plain(rs, st, ts, call, ret, hx->rules.w[0] & sc->w[0],
	                    hx->rules.w[1] & sc->w[1]);
}

/* THE HOT PATH: the masks of the call's hook and size class give the candidates; the plain
 * case on one mask word is decided inline. */
bool mc_engine_decide(const struct mc_ruleset *rs, struct mc_engine_state *st,
                      struct mc_thread_state *ts, const struct mc_call *call,
                      struct mc_decision *ret)
{
	unsigned hook = (unsigned)call->hook;
	const struct mc_size_class *sc = &rs->size_class[mc_size_class(call->size)];
	const struct mc_hook_index *hx;
	uint32_t flags;

	if (mc_unlikely(hook >= MC_HOOK_COUNT))
		return decide_general(rs, st, ts, call, ret);
	hx = &rs->hooks[hook];
	flags = hook_flags(hx);
	/* Every way out is a return or a tail call: no call in the middle to save values around. */
	if (mc_likely(flags == MC_HX_INDEXED) && mc_likely(!sc->n_cuts))
		return decide_plain(rs, st, ts, call, ret, hx->rules.w[0] & sc->rules.w[0], 0);
	if (flags == (MC_HX_INDEXED | MC_HX_WIDE))
		return decide_wide(rs, st, ts, call, ret);
	return decide_general(rs, st, ts, call, ret);
}

const struct mc_erule *mc_engine_foreseeable(const struct mc_ruleset *rs, enum mc_hook hook)
{
	const struct mc_hook_index *hx;
	uint32_t flags;
	uint64_t m;
	unsigned id;

	if ((unsigned)hook >= MC_HOOK_COUNT)
		return NULL;
	hx = &rs->hooks[hook];
	flags = hook_flags(hx);
	if (!flags)
		flags = index_now(rs, hx);
	/* serve is for good, so a phase is no test there; the other flags ask for tests on
	 * each call */
	if ((flags & ~MC_HX_PHASE) != MC_HX_INDEXED)
		return NULL;
	m = hx->rules.w[0];
	if (!m || (m & (m - 1)))
		return NULL;
	id = (unsigned)__builtin_ctzll(m);
	if (rs->fast[id].plain != MC_FAST_PLAIN_REQUEST || (rs->rules[id].checks & MC_CHECK_SIZE) ||
	    !mask_has(&rs->phase_ok[MC_PHASE_SERVE], id))
		return NULL;
	return &rs->rules[id];
}

/* ---- the index ------------------------------------------------------------------------- */

static void mask_set(struct mc_rulemask *m, unsigned id)
{
	m->w[id / 64] |= 1ull << (id % 64);
}

/* The sizes r's targeting accepts, as [*lo, *hi]; false when none (min_size > max_size). */
static bool size_range(const struct mc_erule *r, uint64_t *lo, uint64_t *hi)
{
	*lo = (r->checks & MC_CHECK_SIZE) ? r->min_size : 0;
	*hi = (r->checks & MC_CHECK_SIZE) ? r->max_size : UINT64_MAX;
	if ((r->checks & MC_CHECK_NONZERO) && *lo == 0)
		*lo = 1;
	return *lo <= *hi;
}

/* The rules of rs whose size range meets [lo, hi], into *ret. */
static void rules_meeting(const struct mc_ruleset *rs, uint64_t lo, uint64_t hi,
                          struct mc_rulemask *ret)
{
	*ret = (struct mc_rulemask){ { 0 } };
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct mc_erule *r = &rs->rules[i];
		uint64_t rlo, rhi;

		if (r->enabled && size_range(r, &rlo, &rhi) && rlo <= hi && rhi >= lo)
			mask_set(ret, r->id);
	}
}

/* Add v to the ascending, duplicate-free cuts of class sc, the last ones of rs->cuts. */
static void add_cut(struct mc_ruleset *rs, struct mc_size_class *sc, uint64_t v)
{
	struct mc_size_cut *cut = &rs->cuts[sc->first_cut];
	unsigned i = 0;

	while (i < sc->n_cuts && cut[i].from < v)
		i++;
	if (i < sc->n_cuts && cut[i].from == v)
		return;
	for (unsigned j = sc->n_cuts; j > i; j--)
		cut[j].from = cut[j - 1].from;
	cut[i].from = v;
	sc->n_cuts++;
	rs->n_cuts++;
}

/* Class c: where rule ranges start (lo) or end (hi + 1) strictly inside it, and the mask of
 * each stretch between. */
static void index_class(struct mc_ruleset *rs, unsigned c)
{
	struct mc_size_class *sc = &rs->size_class[c];
	uint64_t cs = class_start(c), ce = class_end(c);

	sc->first_cut = rs->n_cuts;
	sc->n_cuts = 0;
	for (unsigned i = 0; i < rs->n_rules; i++) {
		uint64_t lo, hi;

		if (!rs->rules[i].enabled || !size_range(&rs->rules[i], &lo, &hi))
			continue;
		if (lo > cs && lo <= ce)
			add_cut(rs, sc, lo);
		if (hi >= cs && hi < ce)
			add_cut(rs, sc, hi + 1);
	}
	for (unsigned k = 0; k < sc->n_cuts; k++) {
		struct mc_size_cut *cut = &rs->cuts[sc->first_cut + k];
		uint64_t last = k + 1 < sc->n_cuts ? cut[1].from - 1 : ce;

		rules_meeting(rs, cut->from, last, &cut->rules);
	}
	rules_meeting(rs, cs, sc->n_cuts ? rs->cuts[sc->first_cut].from - 1 : ce, &sc->rules);
}

static bool same_rules(const struct mc_size_class *a, const struct mc_size_class *b)
{
	for (unsigned i = 0; i < MC_MASK_WORDS; i++)
		if (a->rules.w[i] != b->rules.w[i])
			return false;
	return true;
}

/* The runs of adjacent classes without cuts and with the same rules: an express hint covers
 * a whole run (one memo for every size a rule without size limits sees). */
static void index_runs(struct mc_ruleset *rs)
{
	unsigned first = 0;

	for (unsigned c = 0; c < MC_SIZE_CLASSES; c++) {
		struct mc_size_class *sc = &rs->size_class[c];

		if (sc->n_cuts || c == 0 || rs->size_class[c - 1].n_cuts ||
		    !same_rules(sc, &rs->size_class[c - 1]))
			first = c;
		sc->run_first = (uint8_t)first;
	}
	for (unsigned c = MC_SIZE_CLASSES; c-- > 0;) {
		struct mc_size_class *sc = &rs->size_class[c];

		sc->run_last = (uint8_t)(c + 1 < MC_SIZE_CLASSES &&
		                                 rs->size_class[c + 1].run_first == sc->run_first
		                             ? rs->size_class[c + 1].run_last
		                             : c);
	}
}

static uint8_t fast_kind(const struct mc_erule *r)
{
	/* a caller test differs call by call: no index, no express hint covers it */
	if ((r->checks & (MC_CHECK_BUDGET | MC_CHECK_WINDOW | MC_CHECK_AFTER | MC_CHECK_TENSORS |
	                  MC_CHECK_CALLER | MC_CHECK_PROCESSES | MC_CHECK_SOCKET)) ||
	    r->rate_ppm >= MC_RATE_ONE || r->replay)
		return MC_FAST_FULL;
	if (r->select == MC_SELECT_CALL)
		return MC_FAST_CALL;
	return r->rate_ppm ? MC_FAST_REQUEST : MC_FAST_COUNT;
}

static void index_rule(struct mc_ruleset *rs, const struct mc_erule *r, uint32_t *flags)
{
	struct mc_hook_index *hx = &rs->hooks[r->hook];
	struct mc_fast *f = &rs->fast[r->id];
	uint64_t lo, hi;

	if (!size_range(r, &lo, &hi))
		return; /* matches no call: never a candidate */
	mask_set(&hx->rules, r->id);
	for (unsigned p = 0; p <= MC_PHASE_SERVE; p++)
		if (!(r->checks & MC_CHECK_PHASE) || r->phase == p)
			mask_set(&rs->phase_ok[p], r->id);
	if (r->checks & MC_CHECK_PHASE)
		*flags |= MC_HX_PHASE;
	if (r->id >= 64)
		*flags |= MC_HX_WIDE;
	if (r->checks & MC_CHECK_PATH) {
		mask_set(&hx->path, r->id);
		*flags |= MC_HX_PATH;
	}
	if (r->checks & MC_CHECK_PORT) {
		mask_set(&hx->port, r->id);
		*flags |= MC_HX_PORT;
		f->port = r->port;
	}
	if (mask_has(&rs->stream, r->id))
		*flags |= MC_HX_STREAM;
	f->kind = fast_kind(r);
	f->plain = f->port                      ? 0
	           : f->kind == MC_FAST_CALL    ? MC_FAST_PLAIN
	           : f->kind == MC_FAST_REQUEST ? MC_FAST_PLAIN_REQUEST
	                                        : 0;
	f->call_threshold = f->kind == MC_FAST_CALL ? (uint32_t)mc_call_threshold(r->rate_ppm) : 0;
	f->log_keep = f->kind == MC_FAST_CALL ? mc_log_keep(f->call_threshold) : 0;
}

void mc_engine_index(struct mc_ruleset *rs)
{
	uint32_t flags[MC_HOOK_COUNT];
	uint32_t none = MC_INDEX_NONE;

	/* One indexer; the others keep to the full path until the flags are published. */
	if (!atomic_compare_exchange_strong_explicit(&rs->index_state, &none, MC_INDEX_BUILDING,
	                                             memory_order_relaxed, memory_order_relaxed))
		return;
	for (unsigned h = 0; h < MC_HOOK_COUNT; h++)
		flags[h] = MC_HX_INDEXED;
	for (unsigned i = 0; i < rs->n_rules; i++)
		if (rs->rules[i].enabled && rs->rules[i].hook < MC_HOOK_COUNT)
			index_rule(rs, &rs->rules[i], &flags[rs->rules[i].hook]);
	for (unsigned c = 0; c < MC_SIZE_CLASSES; c++)
		index_class(rs, c);
	index_runs(rs);
	for (unsigned h = 0; h < MC_HOOK_COUNT; h++)
		atomic_store_explicit(&rs->hooks[h].flags, flags[h], memory_order_release);
	atomic_store_explicit(&rs->index_state, MC_INDEX_BUILT, memory_order_release);
}
