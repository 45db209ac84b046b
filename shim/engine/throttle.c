/* throttle.c: action = throttle, a token bucket per rule and process, kept as a virtual clock:
 * the rule's paced_until is the moment by which every byte and call already let through has
 * been paid for at the rule's bandwidth and iops. A call reserves its own cost after that
 * moment with one compare-and-swap (lock-free; the threads of a process share the bucket) and
 * its caller waits until the end of its slot, so the calls of all threads together never go
 * faster than the rule allows. An idle bucket lends no credit: a call that finds the bucket
 * empty starts paying now (no burst), as a disk that has been idle reads no faster. */
#include "engine.h"

#define NS_PER_S 1000000000ull

__extension__ typedef unsigned __int128 u128;

/* The time one call of `bytes` costs, in nanoseconds: its bytes at the bandwidth, plus one
 * call at iops; capped at a quarter of the clock's range so that deadlines never wrap. */
uint64_t mc_engine_throttle_cost(const struct mc_erule *r, uint64_t bytes)
{
	const u128 cap = UINT64_MAX / 4;
	u128 ns = 0;

	if (r->bandwidth)
		ns += ((u128)bytes * NS_PER_S + r->bandwidth - 1) / r->bandwidth;
	if (r->iops)
		ns += (NS_PER_S + r->iops - 1) / r->iops;
	return (uint64_t)(ns < cap ? ns : cap);
}

uint64_t mc_engine_throttle(const struct mc_erule *r, struct mc_engine_state *st, uint64_t bytes,
                            uint64_t now_ns)
{
	_Atomic uint64_t *until = &st->rule[r->id].paced_until;
	uint64_t cost = mc_engine_throttle_cost(r, bytes);
	uint64_t seen = atomic_load_explicit(until, memory_order_relaxed), end;

	do {
		uint64_t start = seen > now_ns ? seen : now_ns;
		end = start + cost;
	} while (!atomic_compare_exchange_weak_explicit(until, &seen, end, memory_order_relaxed,
	                                                memory_order_relaxed));
	return end;
}
