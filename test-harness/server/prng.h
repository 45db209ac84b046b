/* prng.h: splitmix64, the one deterministic generator of the harness (weights, data set,
 * inputs of the load client). Same seed, same numbers on every platform; never seeded from
 * the clock, so every file the generator writes can be written again bit for bit. */
#ifndef MC_PRNG_H
#define MC_PRNG_H

#include <stdint.h>

static inline uint64_t mc_prng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi), from the top 24 bits: exactly representable as a float. */
static inline float mc_prng_float(uint64_t *state, float lo, float hi)
{
	float u = (float)(mc_prng_next(state) >> 40) / 16777216.0f;

	return lo + (hi - lo) * u;
}

#endif
