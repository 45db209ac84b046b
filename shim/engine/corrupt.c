/* corrupt.c: the damage of action = corrupt and the length of action = short, as pure
 * functions of the rule, the file and the file offset: any reader, with any buffer size,
 * through read or mmap, sees the same damage. No allocation, no libc: async-signal-safe. */
#include "internal.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

uint64_t mc_engine_short_len(const struct mc_decision *d, uint64_t n)
{
	uint64_t cap;

	if (n == 0)
		return 0;
	cap = d->max_bytes && d->max_bytes < n ? d->max_bytes : n;
	return 1 + mc_mix64(d->draw ^ MC_SALT_SHORT) % cap;
}

/* A keyed bijection on [0, 2^bits), bits >= 1. Each step (xor with a key part, multiply by
 * an odd number mod 2^bits, xorshift right by at least 1) is invertible. */
static uint32_t permute(uint32_t x, uint64_t key, unsigned bits)
{
	static const uint32_t mult[4] = { 0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu };
	const uint32_t mask = (1u << bits) - 1;
	const unsigned shift = (bits + 1) / 2;

	for (unsigned round = 0; round < 4; round++) {
		x = (x ^ (uint32_t)(key >> (16 * round))) & mask;
		x = (x * mult[round]) & mask;
		x ^= x >> shift;
	}
	return x;
}

/* A keyed bijection on [0, n), n <= 32768, by cycle walking: apply permute() on the smallest
 * power of two >= n until the value falls below n (fewer than 2 steps on average). Being a
 * bijection, positions 0..count-1 map to distinct places without any bookkeeping. */
static uint32_t permute_below(uint32_t i, uint64_t key, uint32_t n)
{
	unsigned bits = n <= 1 ? 0 : 32 - (unsigned)__builtin_clz(n - 1);
	uint32_t x = i;

	if (bits == 0)
		return 0;
	do
		x = permute(x, key, bits);
	while (x >= n);
	return x;
}

/* The key of one page's damage: (seed, damage name) through damage_seed, file, page, nonce. */
static uint64_t page_key(const struct mc_erule *r, uint64_t file_id, uint64_t page, uint64_t nonce)
{
	uint64_t words[3] = { file_id, page, r->scope == MC_SCOPE_CALL ? nonce : 0 };

	return XXH3_64bits_withSeed(words, sizeof(words), r->damage_seed);
}

static void damage(const struct mc_erule *r, uint8_t *b, uint32_t pos, uint64_t key)
{
	switch (r->mode) {
	case MC_CORRUPT_BITFLIP:
		*b ^= (uint8_t)(1u << (pos & 7));
		break;
	case MC_CORRUPT_ZERO:
		*b = 0;
		break;
	case MC_CORRUPT_RANDOM:
		/* xor with a nonzero value: the byte always changes */
		*b ^= (uint8_t)(1 + mc_mix64(key ^ pos) % 255);
		break;
	default:
		*b = r->byte;
		break;
	}
}

/* One page: `count` positions drawn in the page's span [span_lo, span_hi) (the page cut to
 * the rule's offset range; it does not depend on the reader's buffer), of which those in
 * [lo, hi) (the part held by buf, which starts at file_offset) are damaged. */
static size_t corrupt_page(const struct mc_erule *r, uint64_t key, uint64_t span_lo,
                           uint64_t span_hi, uint64_t lo, uint64_t hi, uint8_t *buf,
                           uint64_t file_offset)
{
	bool bits = r->mode == MC_CORRUPT_BITFLIP;
	uint32_t n = (uint32_t)(span_hi - span_lo) * (bits ? 8 : 1);
	uint32_t count = r->count < n ? r->count : n;
	size_t changed = 0;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t pos = permute_below(i, key, n);
		uint64_t off = span_lo + (bits ? pos >> 3 : pos);

		if (off < lo || off >= hi)
			continue;
		damage(r, &buf[off - file_offset], pos, key);
		changed++;
	}
	return changed;
}

size_t mc_engine_corrupt(const struct mc_erule *rule, uint64_t file_id, uint64_t nonce,
                         uint64_t file_offset, void *buf, size_t len)
{
	uint64_t lo = file_offset, hi;
	size_t changed = 0;

	if (!rule || rule->action != MC_ACTION_CORRUPT || len == 0)
		return 0;
	hi = UINT64_MAX - file_offset < len ? UINT64_MAX : file_offset + len;
	if (lo < rule->offset_lo)
		lo = rule->offset_lo;
	if (hi > rule->offset_hi)
		hi = rule->offset_hi;
	if (lo >= hi)
		return 0;
	for (uint64_t page = lo / MC_CORRUPT_PAGE; page <= (hi - 1) / MC_CORRUPT_PAGE; page++) {
		uint64_t span_lo = page * MC_CORRUPT_PAGE;
		uint64_t span_hi =
		    span_lo > UINT64_MAX - MC_CORRUPT_PAGE ? UINT64_MAX : span_lo + MC_CORRUPT_PAGE;
		uint64_t key = page_key(rule, file_id, page, nonce);

		if (span_lo < rule->offset_lo)
			span_lo = rule->offset_lo;
		if (span_hi > rule->offset_hi)
			span_hi = rule->offset_hi;
		changed += corrupt_page(rule, key, span_lo, span_hi, lo > span_lo ? lo : span_lo,
		                        hi < span_hi ? hi : span_hi, buf, file_offset);
	}
	return changed;
}
