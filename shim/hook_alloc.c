/* hook_alloc.c: the malloc family. Never allocates except through mc_real,
 * never locks, never uses stdio; runs with the guard held on its slow path.
 * free() and realloc() recognise bootstrap memory (served while dlsym ran)
 * and never hand it to the real allocator. C++ new reaches malloc. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "hook.h"

/* Families whose rules need to see allocations: malloc rules, and any
 * budget (which counts the live heap). */
#define ALLOC_BITS (MC_BIT_MALLOC | MC_ARM_HEAP)

/* A rule acted on this allocation: apply it (it may log, sleep or kill). False when the
 * allocation must fail. Guard held. */
static MC_COLD bool alloc_fault(struct mc_hookcall *c, struct mc_fault *f)
{
	bool proceed = mc_fault_before(f, NULL);
	c->saved_errno = errno;
	return proceed;
}

/* Before the real allocation: counts it (trace) and asks the rules, with the guard held
 * for as long as the decision is used (runtime.h). Nothing here touches errno unless a rule
 * acted. Returns false when it must fail: c->saved_errno is then ENOMEM (or the rule's). */
static inline __attribute__((always_inline)) bool alloc_gate(struct mc_hookcall *c, enum mc_fn fn,
                                                             size_t n)
{
	if (mc_unlikely(mc_trace_enabled))
		mc_trace_target(fn, MC_TGT_ANON, 0, n);
	struct mc_fault f;
	if (mc_likely(!mc_fault_has(MC_HOOK_MALLOC)))
		return true;
	mc_guard_enter();
	bool acted = mc_fault_decide_anon(&f, MC_HOOK_MALLOC, fn, n);
	bool proceed = !acted || alloc_fault(c, &f);
	mc_guard_leave();
	if (!mc_armed(MC_ARM_HEAP)) /* with a budget, every allocation is counted */
		mc_fault_express_keep(MC_HOOK_MALLOC, 0, &f);
	return proceed;
}

/* Calls that need neither the rules nor the heap count go straight to libc.
 * The express lane comes before the guard: the library's own allocations
 * (with the guard held) pass either way, and the common call is spared a
 * second thread-local load. */
#define ALLOC_PASS(n)                                                                    \
	(mc_likely(!mc_armed(ALLOC_BITS)) || mc_fault_express_anon(MC_HOOK_MALLOC, n) || \
	 mc_guard_held())

/* After it: the live heap grows by what the allocator really gave. */
static inline void alloc_done(struct mc_hookcall *c, void *p)
{
	(void)c;
	if (p && mc_unlikely(mc_armed(MC_ARM_HEAP)))
		mc_heap_note((int64_t)mc_real.malloc_usable_size(p));
}

static void *alloc_failed(struct mc_hookcall *c)
{
	errno = c->saved_errno;
	return NULL;
}

static void heap_forget(void *p)
{
	if (p && mc_armed(MC_ARM_HEAP))
		mc_heap_note(-(int64_t)mc_real.malloc_usable_size(p));
}

static MC_COLD void *malloc_slow(size_t n)
{
	struct mc_hookcall c;
	if (!alloc_gate(&c, MC_FN_malloc, n))
		return alloc_failed(&c);
	void *p = mc_real.malloc(n);
	alloc_done(&c, p);
	return p;
}

MC_EXPORT void *malloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.malloc(n);
	return malloc_slow(n);
}

static MC_COLD void *calloc_slow(size_t nmemb, size_t size, size_t n)
{
	struct mc_hookcall c;
	if (!alloc_gate(&c, MC_FN_calloc, n))
		return alloc_failed(&c);
	void *p = mc_real.calloc(nmemb, size);
	alloc_done(&c, p);
	return p;
}

MC_EXPORT void *calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		n = SIZE_MAX; /* the real calloc fails it with ENOMEM */
	if (ALLOC_PASS(n))
		return mc_real.calloc(nmemb, size);
	return calloc_slow(nmemb, size, n);
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

/* A failed realloc leaves the old block untouched, as realloc(3) does. */
static MC_COLD void *realloc_slow(enum mc_fn fn, void *p, size_t n)
{
	struct mc_hookcall c;
	if (!alloc_gate(&c, fn, n))
		return alloc_failed(&c);
	size_t old = p && mc_armed(MC_ARM_HEAP) ? mc_real.malloc_usable_size(p) : 0;
	void *q = mc_real.realloc(p, n);
	if (q || n == 0)
		mc_heap_note(-(int64_t)old);
	alloc_done(&c, q);
	return q;
}

MC_EXPORT void *realloc(void *p, size_t n)
{
	if (mc_unlikely(p && mc_boot_owns(p)))
		return realloc_from_boot(p, n);
	if (ALLOC_PASS(n))
		return mc_real.realloc(p, n);
	return realloc_slow(MC_FN_realloc, p, n);
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
	return realloc_slow(MC_FN_reallocarray, p, n);
}

static MC_COLD int posix_memalign_slow(void **ret, size_t align, size_t n)
{
	struct mc_hookcall c;
	if (!alloc_gate(&c, MC_FN_posix_memalign, n)) {
		return c.saved_errno; /* posix_memalign returns the error, errno untouched */
	}
	int r = mc_real.posix_memalign(ret, align, n);
	alloc_done(&c, r == 0 ? *ret : NULL);
	return r;
}

MC_EXPORT int posix_memalign(void **ret, size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.posix_memalign(ret, align, n);
	int saved = errno;
	int r = posix_memalign_slow(ret, align, n);
	errno = saved;
	return r;
}

typedef void *(*aligned_fn)(size_t align, size_t n);

static MC_COLD void *aligned_slow(enum mc_fn fn, aligned_fn real, size_t align, size_t n)
{
	struct mc_hookcall c;
	if (!alloc_gate(&c, fn, n))
		return alloc_failed(&c);
	void *p = real(align, n);
	alloc_done(&c, p);
	return p;
}

MC_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.aligned_alloc(align, n);
	return aligned_slow(MC_FN_aligned_alloc, mc_real.aligned_alloc, align, n);
}

MC_EXPORT void *memalign(size_t align, size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.memalign(align, n);
	return aligned_slow(MC_FN_memalign, mc_real.memalign, align, n);
}

static void *call_valloc(size_t align, size_t n)
{
	(void)align;
	return mc_real.valloc(n);
}

static void *call_pvalloc(size_t align, size_t n)
{
	(void)align;
	return mc_real.pvalloc(n);
}

MC_EXPORT void *valloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.valloc(n);
	return aligned_slow(MC_FN_valloc, call_valloc, 0, n);
}

MC_EXPORT void *pvalloc(size_t n)
{
	if (ALLOC_PASS(n))
		return mc_real.pvalloc(n);
	return aligned_slow(MC_FN_pvalloc, call_pvalloc, 0, n);
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
