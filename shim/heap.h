/* heap.h: the live heap, for rules with a `budget` (malloc and anonymous mmap): bytes
 * allocated and not yet freed, as the allocation hooks report them. Per-thread deltas are
 * folded into the shared total in batches, so that a malloc/free pair writes no shared cache
 * line; the batch is small enough that it never hides more than 1/32 of the smallest budget.
 * Lock-free and allocation-free: it runs inside malloc. */
#ifndef MC_HEAP_H
#define MC_HEAP_H

#include <stdint.h>

#include "engine.h"

/* Bit of mc_armed_mask, beside the families: the live heap is tracked (some malloc or mmap
 * rule has a budget), so free must be seen too. */
#define MC_ARM_HEAP (1u << 16)

/* An allocation (delta > 0) or a release (delta < 0) of the calling thread, in bytes. */
void mc_heap_note(int64_t delta);

/* The live heap as far as this thread can tell: the shared total and its own batch. */
uint64_t mc_heap_live_bytes(void);

/* MC_ARM_HEAP when a rule of rs has a budget (the batches then sized for the smallest),
 * else 0. At init and reload, guard held. */
uint32_t mc_heap_arm_for(const struct mc_ruleset *rs);

/* In a forked child: its heap is its own from zero. */
void mc_heap_after_fork(void);

#endif
