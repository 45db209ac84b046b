/* truncate.c: action = truncate: where a file that really holds `size` bytes appears to end,
 * and how much of a read it leaves, as a file cut there would. Pure arithmetic. */
#include "engine.h"

__extension__ typedef unsigned __int128 u128;

uint64_t mc_engine_truncate_end(const struct mc_erule *r, uint64_t size)
{
	uint64_t end = r->at_share ? (uint64_t)((u128)size * r->at_ppm / MC_RATE_ONE) : r->at_bytes;

	return end < size ? end : size;
}

uint64_t mc_engine_truncate_len(uint64_t end, uint64_t off, uint64_t n)
{
	if (off >= end)
		return 0;
	return end - off < n ? end - off : n;
}
