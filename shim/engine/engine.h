/* engine.h: the pure fault engine: a compiled, immutable rule set, a call context and a clock
 * in; a decision out. No libc hooks, no I/O, no global state: everything mutable (counters,
 * per-thread selection state) lives in blocks the caller owns and passes in. */
#ifndef MC_ENGINE_H
#define MC_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Request keys longer than this are cut to this length before hashing, by the engine and by
 * `mlchaos select` alike (the shim caps header values at the same length). */
#define MC_KEY_MAX 128

/* Corruption damage is drawn per page of this size of the file. */
#define MC_CORRUPT_PAGE 4096

/* One bit per rule id: which rules' path globs a file matched. */
#define MC_MASK_WORDS (MC_MAX_RULES / 64)
struct mc_rulemask {
	uint64_t w[MC_MASK_WORDS];
};

/* A compiled rule: read-only once built. Field meanings are those of struct mc_rule_spec;
 * times, max_size, offset_hi and the window end are MC_UNLIMITED when absent. */
struct mc_erule {
	uint32_t checks; /* internal: which targeting tests apply */
	uint32_t rate_ppm;
	uint16_t id; /* index in the rule set = position in the config file */
	uint8_t hook, action, select, phase;
	uint16_t port;
	uint64_t min_size, max_size;
	uint64_t start_ns, duration_ns;
	uint64_t after, times;
	uint64_t name_seed;   /* seed ^ XXH3_64bits(name): the selector's per-rule seed */
	uint64_t damage_seed; /* seed ^ XXH3_64bits(damage, or name): corruption's seed */
	uint64_t budget_bytes;
	uint64_t delay_ns, jitter_ns;
	uint64_t max_bytes;
	uint64_t offset_lo, offset_hi;
	int errnos[MC_MAX_ERRNOS];
	uint8_t n_errnos;
	uint8_t oom, mode, byte, scope;
	bool shadow;       /* the rule's own shadow = true, or [mlchaos] shadow = true */
	bool sticky;       /* CUDA: a failure poisons the context (every later call fails) */
	bool enabled;      /* false: enabled = false, or process = did not match this process */
	uint8_t region;    /* enum mc_region */
	bool raw;          /* format = raw: the map is the declared one (mc_tensor_raw_map) */
	uint8_t raw_dtype; /* format = raw: enum mc_dtype */
	/* ambiguous = last: acts by the key read last when several requests are in flight
	 * (struct mc_call's ambiguous); in the padding before count */
	bool ambiguous_last;
	uint32_t count;
	const char *name;
	const char *path;   /* or NULL */
	const char *to;     /* or NULL */
	const char *tensor; /* region = tensors: glob on tensor names, or NULL for all */
	/* replay = / replay_key =: the rule acts on the listed calls and requests only, with
	 * their draws (see replay.c); NULL without them */
	const struct mc_replay_list *replay;
	double std;             /* mode = noise: the Gaussian's standard deviation */
	uint32_t fraction_ppm;  /* fraction = P% of each tensor's values; 0: count decides */
	uint8_t noise;          /* enum mc_noise */
	uint8_t bit;            /* bitflip under region = tensors: bit N of each value, or
	                           MC_BIT_NONE */
	const char *caller;     /* glob on the calling object's file name, or NULL */
	const char *not_caller; /* or NULL */
	uint8_t signo;          /* action = signal: the signal raised */
	uint8_t distribution;   /* enum mc_distribution: how delay_ns is drawn */
	uint32_t processes_ppm; /* processes = P%: MC_RATE_ONE for every process */
	uint64_t bytes;         /* action = leak: bytes per selected call; hog: bytes held */
	uint64_t hog_rate_bps;  /* action = hog: the ramp in bytes per second; 0: at once */
	double dist_a, dist_b;  /* the distribution's parameters (mc_engine_latency_params()) */
	double times_own;       /* scale = N: the call takes N times its own duration; 0: no */
	/* throttle: bytes and calls per second (0: not paced) */
	uint64_t bandwidth, iops;
	/* truncate: the end in bytes, or a share of the file in millionths (at_share) */
	uint64_t at_bytes;
	uint32_t at_ppm;
	bool at_share;
	/* region = json: the JSON pointer of the numbers changed, or NULL for all */
	const char *json_path;
};

struct mc_ruleset;     /* opaque, immutable, one allocation */
struct mc_replay_list; /* a rule's replay lists, in its rule set's allocation */

/* Per-rule counters, for one rule set. Relaxed atomics; lay them out in shared memory if you
 * like: zero-filled memory is a valid initial state. Each rule has its own cache line so
 * that rules never share a written line. */
struct mc_rule_state {
	/* calls that matched the rule's targeting and window (before after/selection); counted
	 * per thread and added here every MC_MATCHED_BATCH, so it lags by less than that per
	 * thread until mc_engine_thread_flush(), plus the calls an express hint passed that the
	 * caller has not yet counted (mc_engine_express_return(), mc_engine_express_count()) */
	_Atomic uint64_t matched;
	_Atomic uint64_t skipped;  /* matching calls skipped by `after` (stops at after) */
	_Atomic uint64_t selected; /* calls that matched, passed `after` and were selected */
	_Atomic uint64_t injected; /* decisions returned (shadow ones included); <= times */
	/* calls the rule would have selected by the key read last, not acted on: the thread had
	 * several requests in flight (struct mc_call's ambiguous; counted by the caller, from
	 * mc_thread_state's withheld) */
	_Atomic uint64_t ambiguous;
	/* action = throttle: the moment (the caller's clock, ns) by which what the rule let
	 * through is paid for (throttle.c); not a counter */
	_Atomic uint64_t paced_until;
} __attribute__((aligned(64)));

struct mc_engine_state {
	_Atomic uint64_t faults __attribute__((aligned(64))); /* all rules, <= max_faults */
	struct mc_rule_state rule[MC_MAX_RULES];
};

/* select = call: a per-thread generator (wyrand). Never libc's rand(). */
struct mc_prng {
	uint64_t s;
};

/* Per-thread state the caller keeps (in TLS): the select = call generator, per rule the
 * thread's exact count of matched calls and its select = call gap, and a memo of the
 * request-key decisions for the current key, so that a hook called many times within one
 * request hashes the key once per rule. */
#define MC_MATCHED_BATCH 64

struct mc_thread_rule {
	uint64_t
	    calls; /* calls of this thread that matched the rule, since mc_engine_thread_init */
	uint64_t counted; /* of them, added to mc_rule_state.matched (in batches of 64 or more) */
	/* select = call: 0 before the first draw, else 1 + the matched calls still to pass
	 * before the next selected one */
	uint64_t gap;
};

struct mc_thread_state {
	struct mc_prng prng;
	uint64_t thread; /* the thread's ordinal, as given to mc_engine_thread_init() */
	const struct mc_ruleset *memo_rs;
	uint64_t memo_gen;
	struct mc_rulemask memo_known, memo_selected;
	struct mc_thread_rule rule[MC_MAX_RULES];
	/* the rule that last did not act on an ambiguous call it would have selected (struct
	 * mc_call's ambiguous), for the caller to count (mc_rule_state's ambiguous) and log; the
	 * caller clears it */
	const struct mc_erule *withheld;
};

/* What the hook knows about one call. Zero-fill it, then set what applies. */
/* Which rules a call is decided by. A read on a stream whose request keys arrive with its
 * bytes (request_key = header) is decided twice: before the bytes, by every rule but its
 * stream rules (corrupt rules that select by request key: MC_NEEDS_STREAM), and after them,
 * by its stream rules alone, with the key those bytes brought; so that corruption by request
 * lands in the request selected, not in the one read before it. Ask for
 * MC_STAGE_AFTER_BYTES only on a hook whose needs include MC_NEEDS_STREAM. */
enum mc_stage {
	MC_STAGE_WHOLE,        /* every rule of the hook: files, and all other calls */
	MC_STAGE_BEFORE_BYTES, /* a stream read, before the bytes: all but the stream rules */
	MC_STAGE_AFTER_BYTES,  /* the same read after them: the stream rules alone */
};

struct mc_call {
	enum mc_hook hook;
	enum mc_stage stage;
	enum mc_phase phase; /* MC_PHASE_ANY when not tracked: only phase = any rules match */
	/* bytes asked (read, send, write: 0 means a zero-length call, which never matches);
	 * size asked (malloc, mmap); unused for sleep and open */
	uint64_t size;
	/* malloc and mmap with a budget rule: live heap bytes before this call */
	uint64_t heap_live_bytes;
	/* memory no budget counts (CUDA's pinned host memory): rules with a budget never match */
	bool unbudgeted;
	/* rules whose path glob matched the file (from mc_engine_match_path(), cached per fd);
	 * NULL when the fd is not a file with a known path: rules with `path` never match */
	const struct mc_rulemask *path_rules;
	/* local and peer TCP ports, 0 when not a TCP socket: rules with `port` never match */
	uint16_t local_port, peer_port;
	/* the fd is known to hold no tensor to damage (not a model file, or one already said to
	 * be malformed, or not a file): corrupt rules with region = tensors never match, so
	 * they spend none of their `times` on it */
	bool no_tensors;
	/* the key is the thread's and the thread has several requests in flight: the key is only
	 * the one read last, and select = request rules do not act on the call unless they say
	 * ambiguous = last (the decisions they would have made are counted as ambiguous) */
	bool ambiguous;
	/* rules with processes = P% that are not enabled in this process (from
	 * mc_engine_process_mask()); NULL: every such rule is enabled */
	const struct mc_rulemask *process_off;
	/* the fd is not a socket: region = json rules never match (zero: a socket, or not an
	 * fd call) */
	bool not_socket;
	/* the current request key, NULL when none; key_gen identifies it: nonzero and
	 * different for every new key (0 = do not memoize) */
	const char *key;
	size_t key_len;
	uint64_t key_gen;
	/* nanoseconds since process start; called only for rules with start or duration, at
	 * most once per decision. NULL reads as time 0. */
	uint64_t (*now_ns)(void *clock_arg);
	void *clock_arg;
	/* the file name of the object whose code made the call (libtorch_cpu.so), or NULL when
	 * not known: rules with caller never match such a call, rules with not_caller always
	 * do. Called only for a rule with either key, at most once per decision; NULL reads as
	 * not known. */
	const char *(*caller)(void *caller_arg);
	void *caller_arg;
};

/* What to do. action == MC_ACTION_NONE: pass through. */
struct mc_decision {
	enum mc_action action;
	const struct mc_erule *rule; /* the rule that acted */
	bool shadow;                 /* log it, but do not apply it */
	bool kill;                   /* fail + budget + oom = kill: SIGKILL the process */
	int err;                     /* fail: the errno to set */
	uint64_t delay_ns;           /* delay: sleep this long (jitter included) */
	uint64_t max_bytes;          /* short: see mc_engine_short_len() */
	uint64_t draw;               /* the selector's 64-bit value, for derived choices */
	uint64_t nonce;              /* corrupt with scope = call: pass to mc_engine_corrupt() */
	const char *to;              /* redirect: open this path instead */
	int signo;                   /* signal: the signal to raise */
	uint64_t bytes;              /* leak: bytes to leak; hog: bytes to hold */
	double times_own; /* delay with scale = N: the call takes N times its own duration */
	uint64_t ordinal; /* the rule's matched calls on this thread so far, this one included */
	uint64_t thread;  /* the thread's ordinal (mc_engine_thread_init) */
	/* Not selected: whether calls like this one may skip the engine. Every call of the same
	 * hook, phase, path (its rules' glob matches) and ports with a size in [express_lo,
	 * express_hi] has the same candidate rules: none (MC_EXPRESS_NONE: it passes), or one
	 * select = call rule with nothing else to test (MC_EXPRESS_RULE + its id: as many as
	 * mc_engine_express_reserve() gives pass). MC_EXPRESS_NO: ask the engine. */
	uint32_t express;
	uint64_t express_lo, express_hi;
};

enum { MC_EXPRESS_NO, MC_EXPRESS_NONE, MC_EXPRESS_RULE };

/* For the calls a not-selected decision's express hint (MC_EXPRESS_RULE + id) covers: takes
 * up to max of rule id's coming not-selected calls off its gap, for the caller to pass
 * without asking the engine, and returns how many (0 when the next call is the selected
 * one). Give back what was not used, and count what was, with mc_engine_express_return()
 * before the engine decides another call of that rule on this thread. */
static inline uint32_t mc_engine_express_reserve(struct mc_thread_state *ts, unsigned id,
                                                 uint32_t max)
{
	struct mc_thread_rule *tr = &ts->rule[id];
	uint64_t k = tr->gap > 1 ? tr->gap - 1 : 0;

	if (k > max)
		k = max;
	tr->gap -= k;
	return (uint32_t)k;
}

static inline void mc_engine_express_return(struct mc_thread_state *ts, unsigned id, uint32_t used,
                                            uint32_t unused)
{
	struct mc_thread_rule *tr = &ts->rule[id];

	tr->calls += used;
	tr->gap += unused;
}

/* Counts used calls of rule id as matched on thread ts, as the engine would have one by one
 * (for calls an express hint passed without taking them off a gap), folded into st's shared
 * count every MC_MATCHED_BATCH. */
static inline void mc_engine_express_count(struct mc_thread_state *ts, struct mc_engine_state *st,
                                           unsigned id, uint32_t used)
{
	struct mc_thread_rule *tr = &ts->rule[id];

	tr->calls += used;
	if (__builtin_expect(tr->calls - tr->counted >= MC_MATCHED_BATCH, 0)) {
		atomic_fetch_add_explicit(&st->rule[id].matched, tr->calls - tr->counted,
		                          memory_order_relaxed);
		tr->counted = tr->calls;
	}
}

/* The process a rule set is built for: rules with `process =` are kept only when the glob
 * matches comm or the basename of argv0 (either may be NULL). Pass NULL for "no process"
 * (mlchaos check/select): every rule is kept. */
struct mc_proc {
	const char *comm;
	const char *argv0;
};

/* Compile cfg (valid, from mc_cfg_parse_*()) into a new immutable rule set: one allocation,
 * freed with mc_engine_free(). Rule ids are positions in the file, the same in every
 * process. Uses malloc; call it outside hot paths (init, reload). Returns 0, -ENOMEM or
 * -EINVAL (more than MC_MAX_RULES rules). */
int mc_engine_build(const struct mc_config *cfg, const struct mc_proc *proc,
                    struct mc_ruleset **ret_rs);

/* Free a rule set; NULL is allowed. No thread may still use it. */
void mc_engine_free(struct mc_ruleset *rs);

/* Hooks that have at least one enabled rule: bit MC_HOOK_BIT(h), for mc_armed_mask. */
uint32_t mc_engine_armed_hooks(const struct mc_ruleset *rs);

/* Rule access: count, rule by id (NULL when out of range), id by name (-ENOENT). */
unsigned mc_engine_rule_count(const struct mc_ruleset *rs);
const struct mc_erule *mc_engine_rule(const struct mc_ruleset *rs, unsigned id);
int mc_engine_rule_id(const struct mc_ruleset *rs, const char *name);

/* The seed the rule set was built with. */
uint64_t mc_engine_seed(const struct mc_ruleset *rs);
uint64_t mc_engine_max_faults(const struct mc_ruleset *rs);

/* What the rules of hook h look at, so that a hook gathers only that: the
 * path mask of the file, the socket's ports, the request key. A call
 * context without them is then decided the same. */
#define MC_NEEDS_PATH    (1u << 0)
#define MC_NEEDS_PORT    (1u << 1)
#define MC_NEEDS_KEY     (1u << 2)
#define MC_NEEDS_TENSORS (1u << 3) /* mc_call.no_tensors */
#define MC_NEEDS_STREAM  (1u << 4) /* stream rules: see enum mc_stage */
#define MC_NEEDS_CALLER  (1u << 5) /* mc_call.caller */
uint32_t mc_engine_hook_needs(const struct mc_ruleset *rs, enum mc_hook h);

/* Seed a thread's state: the select = call generator from the experiment seed and the
 * thread's ordinal (0 for the main thread, then 1, 2, ... in creation order), so that a
 * single-threaded run is exactly reproducible. Clears the memo. */
void mc_engine_thread_init(struct mc_thread_state *ts, uint64_t seed, uint64_t thread_ordinal);

/* Add this thread's pending matched counts to st (at thread or process exit, or before
 * reading the counters from this thread). */
void mc_engine_thread_flush(struct mc_thread_state *ts, struct mc_engine_state *st);

/* Zero all counters (e.g. after fork, for the child's own counts). */
void mc_engine_state_reset(struct mc_engine_state *st);

/* The rules whose path glob matches abs_path, as a mask into *ret (cleared first). Call it
 * once per open() and cache the result with the fd. Returns whether any bit is set. Pure: no
 * allocation, no locks, async-signal-safe. */
bool mc_engine_match_path(const struct mc_ruleset *rs, const char *abs_path,
                          struct mc_rulemask *ret);

/* THE HOT PATH. The rules of call->hook, in file order: the first that matches (targeting,
 * window, phase, budget), is past `after`, is selected, and still has `times` and
 * max_faults left, decides. Returns true and fills *ret, or returns false with
 * ret->action = MC_ACTION_NONE.
 * Selection: select = request is selected iff
 *   XXH3_64bits_withSeed(key, key_len, seed ^ XXH3_64bits(name)) % 1000000 < rate_ppm;
 * with rate 100% the rule selects every call, with or without a key; below 100% a call
 * without a request key is never selected; with key_gen set, each key is hashed once per rule
 * (memo in ts), else on every call. select = call: each matched call of the thread is
 * selected with probability p = mc_call_threshold(rate_ppm) / 2^32 (about rate_ppm / 10^6),
 * independently: the gaps between selected calls are drawn from ts->prng, geometric with
 * parameter p (mc_engine_call_gap()), one draw per selected call rather than one per call
 * (ts NULL: never selected below 100%). A non-selected call of a rule with no targeting test
 * costs about 2.5 ns (see test-harness/unit/bench_decide.c).
 * Never allocates, locks, sleeps or calls libc: safe inside malloc and in signal handlers.
 * Writes shared memory only past `after` bookkeeping and when selected. st must not be NULL;
 * ts may be. */
bool mc_engine_decide(const struct mc_ruleset *rs, struct mc_engine_state *st,
                      struct mc_thread_state *ts, const struct mc_call *call,
                      struct mc_decision *ret);

/* The rule that alone decides every call of hook in the serve phase, by the request key and
 * nothing else, when there is one: the hook's only candidate, a select = request rule below
 * 100% with no size, port, path, window, budget, after, tensors or replay to test. Then a
 * call whose key mc_engine_select_key() does not select is not selected, and its decision
 * only counts it as matched (mc_engine_express_count()): a caller may decide once per key
 * instead of once per call (an express hint MC_EXPRESS_RULE + its id, over sizes
 * [1, UINT64_MAX], that holds while the key does). NULL otherwise. Indexes rs if need be. */
const struct mc_erule *mc_engine_foreseeable(const struct mc_ruleset *rs, enum mc_hook hook);

/* A decision of rule r (of rs) that did nothing after all (a corrupt decision that changed
 * no byte): gives back what it took of `times` and max_faults, so that the rule's next
 * selected call may act instead. Its `selected` count stays. Never below zero, even after a
 * mc_engine_state_reset() in between. */
void mc_engine_unclaim(const struct mc_ruleset *rs, const struct mc_erule *r,
                       struct mc_engine_state *st);

/* Whether a select = request rule selects key: the formula above alone (no counters, no
 * targeting), the function `mlchaos select` prints. Keys longer than MC_KEY_MAX are cut. */
bool mc_engine_select_key(const struct mc_erule *rule, const void *key, size_t key_len);

/* For action = short, the number of bytes the call may move out of n asked: between 1 and
 * min(max_bytes, n), drawn from the selector; n when n == 0. Never 0 for n > 0. */
uint64_t mc_engine_short_len(const struct mc_decision *d, uint64_t n);

/* action = throttle (throttle.c): what one call moving `bytes` costs at rule r's bandwidth
 * and iops, in nanoseconds; and the reservation of that cost in the rule's bucket
 * (st->rule[r->id].paced_until): returns the deadline, on the clock of now_ns, until which
 * the caller waits. Lock-free; callable from any thread and from a signal handler. */
uint64_t mc_engine_throttle_cost(const struct mc_erule *r, uint64_t bytes);
uint64_t mc_engine_throttle(const struct mc_erule *r, struct mc_engine_state *st, uint64_t bytes,
                            uint64_t now_ns);

/* action = truncate (truncate.c): where a file of `size` bytes appears to end under rule r
 * (at = SIZE, or at = P% of size; never past size); and how many of n bytes asked at offset
 * off a read of a file ending at `end` returns (0 at or past the end: end of file). */
uint64_t mc_engine_truncate_end(const struct mc_erule *r, uint64_t size);
uint64_t mc_engine_truncate_len(uint64_t end, uint64_t off, uint64_t n);

/* The file identity corruption is keyed on: a hash of the absolute path. */
uint64_t mc_engine_file_id(const char *abs_path);

/* Damage buf, which holds the file's bytes [file_offset, file_offset + len), as rule (action
 * corrupt) dictates. Every 4 KiB page of the file, cut to the rule's [offset_lo, offset_hi),
 * gets `count` distinct bit (bitflip) or byte positions, drawn from (seed, rule name,
 * file_id, page index) and, for scope = call, nonce; the positions that fall inside buf are
 * damaged. Nothing depends on buf's bounds, so any chunking of the same region, by read or
 * mmap, sees the same damage. Returns the number of positions changed in buf. Pure;
 * async-signal-safe. */
size_t mc_engine_corrupt(const struct mc_erule *rule, uint64_t file_id, uint64_t nonce,
                         uint64_t file_offset, void *buf, size_t len);

/* The same for the read_len bytes one read of a stream (a socket, a pipe) brought, of which
 * buf holds [read_offset, read_offset + len) (a vector read: one call per buffer). They have
 * no file offset, so they are laid out as a file of their own that ends with them: every
 * page, the short last one included, gets min(count, its positions) positions inside the
 * bytes that arrived, so that any read of at least one byte within the rule's offset range
 * is damaged. The same read (same length, same nonce) is damaged alike in every run. Returns
 * the number of positions changed. Pure; async-signal-safe. */
size_t mc_engine_corrupt_stream(const struct mc_erule *rule, uint64_t nonce, uint64_t read_offset,
                                void *buf, size_t len, size_t read_len);

/* ---- the fault kinds of a process (latency.c) ---------------------------------------- */

/* The parameters of rule spec s's delay distribution (struct mc_erule's dist_a, dist_b):
 * uniform: start and width; lognormal: mu (ln of the median in ns) and sigma; pareto: the
 * minimum in ns and alpha; bimodal: the fast and slow delays in ns. From p50 and p99, or from
 * scale and shape. The spec must be valid (p99 > p50). */
void mc_engine_latency_params(const struct mc_rule_spec *s, double *ret_a, double *ret_b);

/* The delay of a decision of rule r with draw, in ns: r's delay_ns for distribution = fixed
 * (jitter apart), else drawn from its distribution, a function of draw alone (the same
 * decision replayed with its draw sleeps the same), cut at 100 times the distribution's p99.
 * Lognormal from one Gaussian (mc_engine_gaussian), pareto and uniform by inversion of one
 * uniform draw, bimodal: the slow mode (p99) on 5% of the draws, p50 on the rest. Pure. */
uint64_t mc_engine_latency_ns(const struct mc_erule *r, uint64_t draw);

/* e^x and ln x (x > 0), the engine's own: the same bits on every machine, no libm. */
double mc_engine_exp(double x);
double mc_engine_ln(double x);

/* processes = P%: whether rule r is enabled in the process of start order `order` (0, 1,
 * 2, ...: see README, "processes"). Of any N consecutive orders, exactly floor(N P) or
 * ceil(N P) enable the rule; which ones is fixed by a hash of the seed and the rule's name.
 * Pure. */
bool mc_engine_process_enabled(const struct mc_erule *r, uint64_t order);

/* The rules of rs with processes = P% not enabled in start order `order`, as a mask into *ret
 * (for mc_call.process_off). Returns whether any bit is set. Pure; no allocation. */
bool mc_engine_process_mask(const struct mc_ruleset *rs, uint64_t order, struct mc_rulemask *ret);

/* ---- region = tensors ---------------------------------------------------------------- */

struct mc_tensor_map; /* formats/tensors.h */

/* A file's tensor map as corruption sees it. */
struct mc_tensor_view {
	const struct mc_tensor_map *map;
	/* bit i (of word i / 64): tensor i's name matches the rule's tensor glob, as filled by
	 * mc_engine_tensor_match(); NULL: the engine matches the names of the tensors a call
	 * touches itself (the same result, slower) */
	const uint64_t *match;
	/* mode = noise on an element cut by the buffer's edge: the new value depends on the whole
	 * old one, so the bytes the buffer does not hold are read from the file (its own bytes,
	 * never damaged) with read_at(read_ctx, off, buf, len), which returns the count read or
	 * -1. NULL, or a short read: such an element is left alone by this call. */
	int64_t (*read_at)(void *read_ctx, uint64_t off, void *buf, size_t len);
	void *read_ctx;
};

/* Words of the bitmap mc_engine_tensor_match() fills for a map of n tensors. */
static inline size_t mc_engine_tensor_match_words(uint32_t n)
{
	return ((size_t)n + 63) / 64;
}

/* Fills bits (mc_engine_tensor_match_words(map->n) words) with which tensors of map the
 * rule's tensor glob selects (all of them when it has none). Pure. */
void mc_engine_tensor_match(const struct mc_erule *rule, const struct mc_tensor_map *map,
                            uint64_t *bits);

/* One value changed by a value mode, or one byte by a byte mode. before and after are the
 * element's bits as a number (byte order undone: f32 1.0 is 0x3f800000 whatever the file's
 * order); only the bytes of that number marked in `held` were in the buffer (an element cut
 * by the buffer's edge is changed in the part the buffer holds), the others read 0. */
struct mc_tensor_change {
	uint64_t index;       /* value modes: element (or block) index in the tensor; byte modes:
	                         byte index */
	uint64_t file_offset; /* the element's (or byte's) first byte in the file */
	uint64_t before, after;
	uint32_t tensor; /* index in the map */
	uint8_t width;   /* bytes of the element: 1 (8-bit floats), 2, 4 or 8; 1 for a byte */
	uint8_t held;    /* bit j: byte j of the number (0 = least significant) was in buf */
	uint8_t value;   /* 1: a value mode's element (index counts elements, or a quantized
	                    tensor's blocks); 0: a byte mode's byte (index counts bytes) */
	uint8_t pad;
};

/* What one call of mc_engine_corrupt_tensors() changed: the first MC_CHANGES_MAX changes,
 * and how many there were in all. */
#define MC_CHANGES_MAX 64
struct mc_corrupt_report {
	uint64_t changed; /* values (value modes) or positions (byte modes) changed in buf */
	uint32_t n;       /* entries of change[] filled: min(changed, MC_CHANGES_MAX) */
	struct mc_tensor_change change[MC_CHANGES_MAX];
};

/* mc_engine_corrupt() for a rule with region = tensors: only bytes of tensor data of the
 * tensors the rule's glob selects are damaged, never headers or metadata.
 * - Value modes (nan, inf, exponent, sign, zero) change whole elements of float tensors (f32,
 *   f16, bf16, f64, either byte order): each tensor's elements (those wholly inside the
 *   rule's offset range) are cut into `count` equal stretches and one element is drawn in
 *   each, from (seed, damage name, file_id, tensor index) and, for scope = call, nonce: the
 *   same elements whatever the reader's buffers. nan sets a quiet NaN and inf an infinity,
 *   both keeping the sign; exponent flips the top bit of the exponent; sign flips the sign;
 *   zero clears every bit. Tensors that are not float are left alone, except by zero, which
 *   zeroes their bytes as the byte mode does.
 * - Byte modes (bitflip, random, byte:0xNN, and zero on tensors that are not float) damage
 *   `count` positions per 4 KiB of each tensor's data (counted from the tensor's first
 *   byte, cut to the offset range), drawn from the same inputs.
 * Only changes are counted and reported (zeroing a zero is not one). They are added to rep
 * (zero it before the first call; calls for the parts of one read, such as the buffers of a
 * readv, add up), which may be NULL. Returns the number this call changed. Pure;
 * async-signal-safe. */
uint64_t mc_engine_corrupt_tensors(const struct mc_erule *rule, const struct mc_tensor_view *tv,
                                   uint64_t file_id, uint64_t nonce, uint64_t file_offset,
                                   void *buf, size_t len, struct mc_corrupt_report *rep);

/* Whether an enabled corrupt rule with region = tensors (hook read or mmap) may damage a file
 * whose path matched the path globs in path_rules (NULL: a file without a known path): one
 * with no path glob, or one whose glob the file matched; format = raw rules do not count (their
 * map is declared, no recogniser reads the file). Walks the rules: call it per open, not per
 * read. */
bool mc_engine_tensor_target(const struct mc_ruleset *rs, const struct mc_rulemask *path_rules);

/* ---- graded damage (floats.c) ---- */

/* A standard normal draw, a pure function of key (Marsaglia's polar method on a counter
 * stream of mc_engine_mix64 values; no libm): mode = noise draws one per value, keyed by
 * (seed, damage name, file, tensor, element index, and nonce for scope = call). */
double mc_engine_gaussian(uint64_t key);

/* A float dtype's bits (dt an enum mc_dtype; the number, byte order undone) as a double:
 * false when dt is not a
 * float dtype or the bits are NaN or infinite. And a double rounded to dt, to nearest even
 * (overflow gives the infinity, or NaN for F8_E4M3, which has none): false when dt is not a
 * float dtype. */
bool mc_engine_float_to_double(unsigned dt, uint64_t bits, double *ret);
bool mc_engine_float_from_double(unsigned dt, double v, uint64_t *ret_bits);

/* mode = noise on one value of dtype dt: bits * (1 + std * N(0, 1)) with noise = relative,
 * bits + std * N(0, 1) with noise = absolute, N drawn with key, rounded to dt. False (no
 * change) when dt is not a float dtype or the value is NaN or infinite. */
bool mc_engine_noise_value(const struct mc_erule *rule, unsigned dt, uint64_t bits, uint64_t key,
                           uint64_t *ret_bits);

/* The generator's step (wyrand) and splitmix64's finalizer, for callers that need a nonce or
 * a mixed value. */
uint64_t mc_engine_prng_next(struct mc_prng *p);
uint64_t mc_engine_mix64(uint64_t x);

/* A select = call gap: how many matched calls pass before the next selected one, when each
 * is selected with probability threshold / 2^32 (the rule's mc_call_threshold()), from one
 * draw of p: floor(ln U / ln(1 - threshold / 2^32)) with U uniform in (0, 1]. Threshold 0:
 * never (2^62); 2^32 or more: 0. */
uint64_t mc_engine_call_gap(struct mc_prng *p, uint64_t threshold);

#endif
