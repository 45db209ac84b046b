/* internal.h: the layout of a compiled rule set, shared by the files of shim/engine/ only.
 * Everything here is immutable once mc_engine_build() returns, except the index, written
 * once (by mc_engine_build() or by the first decision needing it) and published by flags. */
#ifndef MC_ENGINE_INTERNAL_H
#define MC_ENGINE_INTERNAL_H

#include "engine.h"

/* Bits of mc_erule.checks: the targeting tests a rule needs. A rule with none (malloc, no
 * filter) goes straight to selection. */
enum {
	MC_CHECK_NONZERO = 1u << 0, /* read, send, write: zero-length calls pass through */
	MC_CHECK_SIZE = 1u << 1,
	MC_CHECK_PATH = 1u << 2,
	MC_CHECK_PORT = 1u << 3,
	MC_CHECK_PHASE = 1u << 4,
	MC_CHECK_BUDGET = 1u << 5,
	MC_CHECK_WINDOW = 1u << 6,
	MC_CHECK_AFTER = 1u << 7,
	MC_CHECK_TENSORS = 1u << 8,    /* region = tensors: not a file known to have none */
	MC_CHECK_CALLER = 1u << 9,     /* caller, not_caller: the object that made the call */
	MC_CHECK_PROCESSES = 1u << 10, /* processes = P%: enabled in this process? */
	MC_CHECK_SOCKET = 1u << 11,    /* region = json: a socket */
};

/* Salts that keep the choices drawn from one selector value independent of each other. */
#define MC_SALT_JITTER 0x6a09e667f3bcc908ull
#define MC_SALT_ERRNO  0xbb67ae8584caa73bull
#define MC_SALT_SHORT  0x3c6ef372fe94f82bull
#define MC_SALT_NONCE  0xa54ff53a5f1d36f1ull

/* splitmix64's finalizer, and wyrand (one 64x64->128 multiply per step) for the per-thread
 * generator; mc_engine_mix64() and mc_engine_prng_next() are the exported twins. */
static inline uint64_t mc_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline uint64_t mc_prng_next(struct mc_prng *p)
{
	__extension__ typedef unsigned __int128 u128;
	u128 t;

	p->s += 0xa0761d6478bd642full;
	t = (u128)p->s * (p->s ^ 0xe7037ed1a0b428dbull);
	return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* select = call is selected iff the draw's top 32 bits are below this: rate_ppm / 10^6 of
 * 2^32, rounded up, so that it equals floor(top32 * 10^6 / 2^32) < rate_ppm. */
static inline uint64_t mc_call_threshold(uint32_t rate_ppm)
{
	return (((uint64_t)rate_ppm << 32) + MC_RATE_ONE - 1) / MC_RATE_ONE;
}

/* select = call gaps (mc_engine_call_gap()): ln(1 - threshold / 2^32), the log of a call's
 * chance not to be selected, computed once per rule; and a gap drawn with it. */
double mc_log_keep(uint64_t threshold);

/* Natural logarithm of x in (0, 1] (engine.c): our own, so that the engine needs no libm and
 * draws the same numbers everywhere. */
double mc_ln_unit(double x);
uint64_t mc_gap_draw(struct mc_prng *p, double log_keep);

/* The enabled rules of each hook in file order, as mc_engine_build() lists them; read by the
 * full path only when the index below was not built. */
struct mc_slot {
	uint32_t checks;
	uint32_t rate_ppm;
	uint64_t call_threshold; /* select = call: mc_call_threshold(rate_ppm) */
	uint16_t id;
	uint8_t select;
	uint8_t pad[5];
};

/* The index mc_engine_decide() reads first (filled by mc_engine_index()): it turns "which
 * rules could match this call" into a few AND operations on bit masks indexed by rule id, so
 * that rules a call cannot match cost nothing per rule. Rule ids are file order, so walking
 * the set bits upward visits candidates in file order. A rule left out of a mask is one that
 * targets() would reject: leaving it out changes no decision, count or draw. */

/* Size classes: class 0 holds sizes 0 and 1, class c (1..63) holds [2^c, 2^(c+1) - 1]: the
 * index of the top bit, two instructions. Zero-length calls differ from 1-byte ones by a cut
 * in class 0. */
#define MC_SIZE_CLASSES 64

static inline unsigned mc_size_class(uint64_t size)
{
	return 63u - (unsigned)__builtin_clzll(size | 1);
}

/* The rules whose size range (min_size..max_size, 1.. for the zero-length test) holds the
 * call's size, exactly: per class, the mask of its first stretch, and when some range starts
 * or ends inside the class, the cuts where the mask changes (first_cut..first_cut+n_cuts-1
 * in mc_ruleset.cuts, ascending). Each rule makes at most two cuts in all. */
struct mc_size_class {
	struct mc_rulemask rules;
	uint16_t first_cut, n_cuts;
	/* without cuts: the classes around this one, without cuts and with the same rules */
	uint8_t run_first, run_last;
	uint8_t pad[10];
};

struct mc_size_cut {
	uint64_t from; /* sizes from here up to the next cut, or the end of the class */
	struct mc_rulemask rules;
};

/* mc_ruleset.index_state */
enum { MC_INDEX_NONE, MC_INDEX_BUILDING, MC_INDEX_BUILT };

/* mc_hook_index.flags: the index was built, and which call-dependent masks apply. */
enum {
	MC_HX_INDEXED = 1u << 0,
	MC_HX_PATH = 1u << 1,   /* some rule of the hook has a path glob */
	MC_HX_PORT = 1u << 2,   /* some rule has a port */
	MC_HX_PHASE = 1u << 3,  /* some rule has a phase */
	MC_HX_WIDE = 1u << 4,   /* some rule id is 64 or more: the second mask word is used */
	MC_HX_STREAM = 1u << 5, /* some rule is a stream rule (enum mc_stage) */
};

struct mc_hook_index {
	struct mc_rulemask rules; /* enabled rules of the hook that can match some call */
	struct mc_rulemask path;  /* of those, the ones with a path glob */
	struct mc_rulemask port;  /* the ones with a port */
	_Atomic uint32_t flags;   /* published last, with release: 0 until indexed */
	uint32_t pad[3];          /* 64 bytes: indexing by hook is a shift */
};

/* mc_fast.kind: what the hot loop does with a candidate that passed its tests. */
enum {
	MC_FAST_CALL,    /* select = call, rate < 100%: count matched, draw, compare */
	MC_FAST_REQUEST, /* select = request, 0 < rate < 100%: count, then the memo or the hash */
	MC_FAST_COUNT,   /* select = request, rate 0: count matched, never selected */
	MC_FAST_FULL,    /* budget, window, after or rate 100%: the full path decides */
};

/* Per rule id, 16 bytes, four to a cache line. */
struct mc_fast {
	uint32_t call_threshold; /* MC_FAST_CALL: mc_call_threshold(rate_ppm), below 2^32 */
	uint16_t port;           /* nonzero: the local or the peer port must equal it */
	uint8_t kind;
	uint8_t plain;   /* MC_FAST_PLAIN: kind MC_FAST_CALL and no port, the hot path's case;
	                  * MC_FAST_PLAIN_REQUEST: kind MC_FAST_REQUEST and no port */
	double log_keep; /* MC_FAST_CALL: mc_log_keep(call_threshold) */
};

/* Not 0, so that a zero-filled (unindexed) entry is never taken for plain. */
#define MC_FAST_PLAIN         0xa5
#define MC_FAST_PLAIN_REQUEST 0x5a /* kind MC_FAST_REQUEST and no port: decide_request() */

struct mc_ruleset {
	uint64_t seed;
	uint64_t max_faults;
	uint32_t n_rules;
	uint32_t armed;
	/* the enabled rules of hook h, in file order: slots[hook_start[h] .. hook_start[h + 1]) */
	uint16_t hook_start[MC_HOOK_COUNT + 1];
	uint32_t hook_needs[MC_HOOK_COUNT]; /* MC_NEEDS_* of the enabled rules of each hook */
	struct mc_rulemask stream;          /* the enabled stream rules (enum mc_stage) */
	struct mc_slot slots[MC_MAX_RULES];
	/* ids of the enabled rules with a path glob */
	uint16_t n_path;
	uint16_t path_ids[MC_MAX_RULES];
	/* mc_engine_index(): all zero until it runs, which mc_engine_decide() notices */
	_Atomic uint32_t index_state; /* MC_INDEX_* */
	struct mc_hook_index hooks[MC_HOOK_COUNT];
	struct mc_size_class size_class[MC_SIZE_CLASSES];
	uint16_t n_cuts;
	struct mc_size_cut cuts[2 * MC_MAX_RULES];
	struct mc_rulemask phase_ok[MC_PHASE_SERVE + 1]; /* rules a call in phase p passes */
	struct mc_fast fast[MC_MAX_RULES];
	struct mc_erule rules[]; /* n_rules, then their strings */
};

/* A rule's replay lists (replay.c), laid out after the rules in the rule set's allocation. */
struct mc_replay_hkey {
	uint64_t hash;     /* the key's selector hash: XXH3_64bits_withSeed(key, len, name_seed) */
	const char *bytes; /* the key, len bytes */
	uint32_t len;
};

struct mc_replay_list {
	uint32_t n_calls, n_keys;
	const struct mc_replay_call *calls; /* sorted by (thread, call), no duplicates */
	const struct mc_replay_hkey *keys;  /* sorted by hash */
};

/* Bytes a rule's lists take in a rule set (0 without lists); a multiple of 8. */
size_t mc_replay_size(const struct mc_rule_spec *s);

/* Lays out the lists of s at *pool (advanced past them, mc_replay_size(s) bytes, 8-aligned)
 * for the rule whose selector seed is name_seed; NULL without lists. */
const struct mc_replay_list *mc_replay_compile(const struct mc_rule_spec *s, uint64_t name_seed,
                                               char **pool);

/* The selection of a rule with replay lists (r->replay set): a call with a request key is
 * selected iff the rule has replay keys and lists that key (draw: the key's hash, as
 * select = request draws it); any other call iff (thread, the rule's call number on it) is
 * listed (draw: the listed one). Without thread state nothing is selected. Pure: no
 * allocation, no libc. */
bool mc_replay_select(const struct mc_erule *r, const struct mc_thread_state *ts,
                      const struct mc_call *call, uint64_t *ret_draw);

/* Fill the index of rs (hooks, size_class, phase_ok, fast) from its compiled rules, once:
 * later calls, and calls racing with the first, return at once. mc_engine_build() may call
 * it before rs is shared; otherwise mc_engine_decide() does on the first call that needs it,
 * and calls decided meanwhile on other threads take the full path. Pure: no allocation, no
 * lock, async-signal-safe. */
void mc_engine_index(struct mc_ruleset *rs);

#endif
