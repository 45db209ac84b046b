/* selector.h: the request selector's formula, in one place. A select = request rule selects
 * a key when XXH3-64 of its first MC_KEY_MAX bytes, seeded with the rule's name_seed, taken
 * modulo MC_RATE_ONE, is below the rule's rate: the same key, the same answer, in every
 * process and thread (`mlchaos select` prints it). Inline, for the engine's decisions and
 * for the path that decides a request once (fault.c's foresight), which runs every
 * request. Pure. */
#ifndef MC_ENGINE_SELECTOR_H
#define MC_ENGINE_SELECTOR_H

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

#include "engine.h"

/* The selector's 64-bit value for key under rule r (also the selected call's draw). */
static inline uint64_t mc_selector_hash(const struct mc_erule *r, const void *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len > MC_KEY_MAX ? MC_KEY_MAX : len, r->name_seed);
}

static inline bool mc_selector_selects(const struct mc_erule *r, const void *key, size_t len)
{
	return mc_selector_hash(r, key, len) % MC_RATE_ONE < r->rate_ppm;
}

#endif
