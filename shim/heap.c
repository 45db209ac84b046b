/* heap.c: the live heap (heap.h). */
#include <stdatomic.h>

#include "heap.h"

/* Large budgets fold every 64 KiB; smaller ones every 1/32 of the smallest. A batching grain
 * only, so a reload that changes it may reach the other threads a little later than the
 * rules. */
#define HEAP_FOLD_BYTES (64 * 1024)

/* The live heap as folded from every thread's delta, and the grain of a fold. */
static struct {
	_Atomic int64_t live;
	_Atomic int64_t fold_bytes;
} heap = { .fold_bytes = HEAP_FOLD_BYTES };
static __thread int64_t heap_delta __attribute__((tls_model("initial-exec")));

void mc_heap_note(int64_t delta)
{
	heap_delta += delta;
	int64_t fold = atomic_load_explicit(&heap.fold_bytes, memory_order_relaxed);
	if (heap_delta > fold || heap_delta < -fold) {
		atomic_fetch_add_explicit(&heap.live, heap_delta, memory_order_relaxed);
		heap_delta = 0;
	}
}

uint64_t mc_heap_live_bytes(void)
{
	int64_t v = atomic_load_explicit(&heap.live, memory_order_relaxed) + heap_delta;
	return v > 0 ? (uint64_t)v : 0;
}

uint32_t mc_heap_arm_for(const struct mc_ruleset *rs)
{
	uint64_t smallest = 0;
	for (unsigned i = 0; i < mc_engine_rule_count(rs); i++) {
		const struct mc_erule *r = mc_engine_rule(rs, i);
		if (r->hook == MC_HOOK_CUDA_ALLOC)
			continue; /* device memory: hook_cuda.c's own table */
		if (r->enabled && r->budget_bytes && (!smallest || r->budget_bytes < smallest))
			smallest = r->budget_bytes;
	}
	if (!smallest)
		return 0;
	if (smallest / 32 < HEAP_FOLD_BYTES)
		atomic_store_explicit(&heap.fold_bytes, (int64_t)(smallest / 32),
		                      memory_order_relaxed);
	return MC_ARM_HEAP;
}

void mc_heap_after_fork(void)
{
	atomic_store(&heap.live, 0);
	heap_delta = 0;
}
