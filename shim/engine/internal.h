/* internal.h: the layout of a compiled rule set, shared by the files of shim/engine/ only.
 * Everything here is immutable once mc_engine_build() returns. */
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

/* What the hot loop of mc_engine_decide() reads per rule, 24 bytes, packed by hook so
 * that the rules of one hook share a cache line or two; the rest lives in rules[id]. */
struct mc_slot {
	uint32_t checks;
	uint32_t rate_ppm;
	uint64_t call_threshold; /* select = call: mc_call_threshold(rate_ppm) */
	uint16_t id;
	uint8_t select;
	uint8_t pad[5];
};

struct mc_ruleset {
	uint64_t seed;
	uint64_t max_faults;
	uint32_t n_rules;
	uint32_t armed;
	/* the enabled rules of hook h, in file order: slots[hook_start[h] .. hook_start[h + 1]) */
	uint16_t hook_start[MC_HOOK_COUNT + 1];
	uint32_t hook_needs[MC_HOOK_COUNT]; /* MC_NEEDS_* of the enabled rules of each hook */
	struct mc_slot slots[MC_MAX_RULES];
	/* ids of the enabled rules with a path glob */
	uint16_t n_path;
	uint16_t path_ids[MC_MAX_RULES];
	struct mc_erule rules[]; /* n_rules, then their strings */
};

#endif
