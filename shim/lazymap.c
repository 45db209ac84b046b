/* lazymap.c: mc_lazy_map (lazymap.h), with the real mmap: the shim's own
 * memory never goes through its hooks or the host's allocator. */
#include <sys/mman.h>

#include "lazymap.h"
#include "real.h"

void *mc_lazy_map_create(_Atomic(void *) *slot, size_t bytes)
{
	void *fresh = mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	void *expected = NULL;
	if (atomic_compare_exchange_strong_explicit(slot, &expected, fresh, memory_order_acq_rel,
	                                            memory_order_acquire))
		return fresh;
	mc_real.munmap(fresh, bytes);
	return expected;
}
