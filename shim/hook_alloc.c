/* hook_alloc.c: the malloc family. Never allocates except through mc_real,
 * never locks, never uses stdio; runs with the guard held on its slow path.
 * free() and realloc() recognise bootstrap memory (served while dlsym ran)
 * and never hand it to the real allocator. C++ new reaches malloc. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"

/* Families whose rules need to see allocations: malloc rules, and any
 * budget (which counts the live heap). */
#define ALLOC_BITS (MC_BIT_MALLOC | MC_ARM_HEAP)

/* Calls that need neither the rules nor the heap count go straight to libc.
 * The express lane comes before the guard: the library's own allocations
 * (with the guard held) pass either way, and the common call is spared a
 * second thread-local load. */
#define ALLOC_PASS(n)                                                                    \
	(mc_likely(!mc_armed(ALLOC_BITS)) || mc_fault_express_anon(MC_HOOK_MALLOC, n) || \
	 mc_guard_held())

static void heap_forget(void *p)
{
	if (p && mc_armed(MC_ARM_HEAP))
		mc_heap_note(-(int64_t)mc_real.malloc_usable_size(p));
}

MC_ALLOC_ROW(malloc, 0, mc_real.malloc(n))
MC_ALLOC_ROW(calloc, 0, mc_real.calloc(c->nmemb, c->size))
MC_ALLOC_ROW(realloc, MC_PIPE_MOVES, mc_real.realloc(c->p, n))
MC_ALLOC_ROW(reallocarray, MC_PIPE_MOVES, mc_real.realloc(c->p, n))
MC_ALLOC_ROW(aligned_alloc, 0, mc_real.aligned_alloc(c->align, n))
MC_ALLOC_ROW(memalign, 0, mc_real.memalign(c->align, n))
MC_ALLOC_ROW(valloc, 0, mc_real.valloc(n))
MC_ALLOC_ROW(pvalloc, 0, mc_real.pvalloc(n))
MC_ALLOC_ROW(posix_memalign, 0,
             (c->err = mc_real.posix_memalign(c->out, c->align, n)) == 0 ? *c->out : NULL)

MC_EXPORT void *malloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.malloc(n);
	return mc_pipe_alloc(&row_malloc, n, NULL, MC_CALLER_PC);
}

MC_EXPORT void *calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		n = SIZE_MAX; /* the real calloc fails it with ENOMEM */
	if (ALLOC_PASS(n))
		return mc_real.calloc(nmemb, size);
	struct mc_alloc_call c = { .nmemb = nmemb, .size = size };
	return mc_pipe_alloc(&row_calloc, n, &c, MC_CALLER_PC);
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
	if (ALLOC_PASS(n))
		return mc_real.realloc(p, n);
	struct mc_alloc_call c = { .p = p };
	return mc_pipe_alloc(&row_realloc, n, &c, MC_CALLER_PC);
}

MC_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (mc_unlikely(p && mc_boot_owns(p))) {
		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc_from_boot(p, n);
	}
	if (MC_PASS(ALLOC_BITS))
		return mc_real.reallocarray(p, nmemb, size);
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM; /* what reallocarray(3) does on overflow */
		return NULL;
	}
	struct mc_alloc_call c = { .p = p };
	return mc_pipe_alloc(&row_reallocarray, n, &c, MC_CALLER_PC);
}

MC_EXPORT int posix_memalign(void **ret, size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.posix_memalign(ret, align, n);
	int saved = errno; /* posix_memalign returns the error, errno untouched */
	struct mc_alloc_call c = { .align = align, .out = ret };
	mc_pipe_alloc(&row_posix_memalign, n, &c, MC_CALLER_PC);
	errno = saved;
	return c.err;
}

MC_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.aligned_alloc(align, n);
	struct mc_alloc_call c = { .align = align };
	return mc_pipe_alloc(&row_aligned_alloc, n, &c, MC_CALLER_PC);
}

MC_EXPORT void *memalign(size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.memalign(align, n);
	struct mc_alloc_call c = { .align = align };
	return mc_pipe_alloc(&row_memalign, n, &c, MC_CALLER_PC);
}

MC_EXPORT void *valloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.valloc(n);
	return mc_pipe_alloc(&row_valloc, n, NULL, MC_CALLER_PC);
}

MC_EXPORT void *pvalloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.pvalloc(n);
	return mc_pipe_alloc(&row_pvalloc, n, NULL, MC_CALLER_PC);
}

static MC_COLD void free_slow(void *p)
{
	int saved = errno;
	heap_forget(p);
	errno = saved;
	mc_real.free(p);
}

MC_EXPORT void free(void *p)
{
	if (mc_unlikely(mc_boot_owns(p)))
		return;
	if (mc_unlikely(mc_armed(MC_ARM_HEAP)) && !mc_guard_held())
		return free_slow(p);
	mc_real.free(p);
}

MC_EXPORT size_t malloc_usable_size(void *p)
{
	if (mc_unlikely(p && mc_boot_owns(p)))
		return mc_boot_size(p);
	return mc_real.malloc_usable_size(p);
}
