/* lazymap.h: memory mapped on first use and kept for the life of the
 * process: the fd table's chunks, the connection keys, the table of
 * anonymous mappings. Lock-free, allocation-free, async-signal-safe. */
#ifndef MC_LAZYMAP_H
#define MC_LAZYMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The zero-filled memory behind *slot, bytes long: mapped the first time it
 * is asked for with create set (racing threads agree on one mapping, the
 * others unmap theirs). NULL when it does not exist and create is false,
 * or when mmap fails. Never unmapped. */
void *mc_lazy_map_create(_Atomic(void *) *slot, size_t bytes);

/* Inline: once mapped, the memory costs one load, on paths that run for every request. */
static inline void *mc_lazy_map(_Atomic(void *) *slot, size_t bytes, bool create)
{
	void *mem = atomic_load_explicit(slot, memory_order_acquire);
	if (__builtin_expect(mem != NULL, 1) || !create)
		return mem;
	return mc_lazy_map_create(slot, bytes);
}

#endif
