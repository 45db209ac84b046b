/* hook_alloc.c: the malloc family. Never allocates except through mc_real,
 * never locks, never uses stdio; runs with the guard held on its slow path.
 * free() and realloc() recognise bootstrap memory (served while dlsym ran)
 * and never hand it to the real allocator. C++ new reaches malloc. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"

static MC_COLD void count_alloc(enum mc_fn fn, size_t n)
{
	struct mc_call c;
	mc_call_begin(&c, fn, -1);
	mc_call_end_target(&c, MC_TGT_ANON, n);
}

MC_EXPORT void *malloc(size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.malloc(n);
	count_alloc(MC_FN_malloc, n);
	return mc_real.malloc(n);
}

MC_EXPORT void *calloc(size_t nmemb, size_t size)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.calloc(nmemb, size);
	count_alloc(MC_FN_calloc, nmemb * size);
	return mc_real.calloc(nmemb, size);
}

/* Moves a bootstrap block to the real heap; the old block stays where it
 * is, unused (the arena is never freed). */
static MC_COLD void *realloc_from_boot(void *p, size_t n)
{
	void *q = mc_real.malloc(n);
	if (q) {
		size_t old = mc_boot_size(p);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

MC_EXPORT void *realloc(void *p, size_t n)
{
	if (mc_unlikely(p && mc_boot_owns(p)))
		return realloc_from_boot(p, n);
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.realloc(p, n);
	count_alloc(MC_FN_realloc, n);
	return mc_real.realloc(p, n);
}

MC_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	if (mc_unlikely(p && mc_boot_owns(p))) {
		size_t n;
		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc_from_boot(p, n);
	}
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.reallocarray(p, nmemb, size);
	count_alloc(MC_FN_reallocarray, nmemb * size);
	return mc_real.reallocarray(p, nmemb, size);
}

MC_EXPORT int posix_memalign(void **ret, size_t align, size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.posix_memalign(ret, align, n);
	count_alloc(MC_FN_posix_memalign, n);
	return mc_real.posix_memalign(ret, align, n);
}

MC_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.aligned_alloc(align, n);
	count_alloc(MC_FN_aligned_alloc, n);
	return mc_real.aligned_alloc(align, n);
}

MC_EXPORT void *memalign(size_t align, size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.memalign(align, n);
	count_alloc(MC_FN_memalign, n);
	return mc_real.memalign(align, n);
}

MC_EXPORT void *valloc(size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.valloc(n);
	count_alloc(MC_FN_valloc, n);
	return mc_real.valloc(n);
}

MC_EXPORT void *pvalloc(size_t n)
{
	if (MC_PASS(MC_BIT_MALLOC))
		return mc_real.pvalloc(n);
	count_alloc(MC_FN_pvalloc, n);
	return mc_real.pvalloc(n);
}

MC_EXPORT void free(void *p)
{
	if (mc_unlikely(mc_boot_owns(p)))
		return;
	mc_real.free(p);
}

MC_EXPORT size_t malloc_usable_size(void *p)
{
	if (mc_unlikely(p && mc_boot_owns(p)))
		return mc_boot_size(p);
	return mc_real.malloc_usable_size(p);
}
