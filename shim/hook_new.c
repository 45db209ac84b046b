/* hook_new.c: C++ operator new, seen only to know who called it. The allocation stays the C++
 * runtime's (its new_handler loop, bad_alloc); while a malloc rule is armed, the hooks here
 * note the caller of operator new for the malloc hook that the real operator new reaches, so
 * that a rule's caller is the object whose code said `new` (libtorch_cpu.so), not
 * libstdc++.so.6. Never allocates, and never lets an exception pass with the note still set:
 * the throwing forms call the real nothrow form and throw bad_alloc themselves (through the
 * runtime's std::__throw_bad_alloc) once the note is cleared. A new_handler that throws
 * something else than bad_alloc is then seen as bad_alloc: the one difference. */
#include <stdint.h>

#include "hook.h"

/* The forms of operator new, by their mangled names (C has no other). */
void *_Znwm(size_t n);
void *_Znam(size_t n);
void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag);
void *_ZnamRKSt9nothrow_t(size_t n, const void *tag);
void *_ZnwmSt11align_val_t(size_t n, size_t align);
void *_ZnamSt11align_val_t(size_t n, size_t align);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *tag);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *tag);

/* Whether operator new passes straight to the runtime: no malloc rule, the library's own
 * call, or a new inside a new (the nothrow forms call the throwing ones: the outer caller is
 * noted already). */
#define NEW_PASS() \
	(mc_likely(!mc_armed(MC_BIT_MALLOC)) || mc_guard_held() || mc_inside.new_caller != NULL)

/* What nothrow forms take: the runtime never reads it. */
static const char nothrow_tag;

static void *noted(void *(*nothrow)(size_t, const void *), size_t n, const void *pc)
{
	mc_inside.new_caller = pc;
	void *p = nothrow(n, &nothrow_tag);
	mc_inside.new_caller = NULL;
	return p;
}

static void *noted_aligned(void *(*nothrow)(size_t, size_t, const void *), size_t n, size_t align,
                           const void *pc)
{
	mc_inside.new_caller = pc;
	void *p = nothrow(n, align, &nothrow_tag);
	mc_inside.new_caller = NULL;
	return p;
}

/* A throwing form whose allocation failed: bad_alloc, as the real one would throw. */
static void *or_throw(void *p, const struct mc_real_cxx *cxx)
{
	if (mc_unlikely(!p))
		cxx->throw_bad_alloc();
	return p;
}

MC_EXPORT void *_Znwm(size_t n)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_(n);
	return or_throw(noted(cxx->new_nothrow, n, MC_CALLER_PC), cxx);
}

MC_EXPORT void *_Znam(size_t n)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_array(n);
	return or_throw(noted(cxx->new_array_nothrow, n, MC_CALLER_PC), cxx);
}

MC_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_nothrow(n, tag);
	return noted(cxx->new_nothrow, n, MC_CALLER_PC);
}

MC_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *tag)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_array_nothrow(n, tag);
	return noted(cxx->new_array_nothrow, n, MC_CALLER_PC);
}

MC_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t align)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_aligned(n, align);
	return or_throw(noted_aligned(cxx->new_aligned_nothrow, n, align, MC_CALLER_PC), cxx);
}

MC_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t align)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_array_aligned(n, align);
	return or_throw(noted_aligned(cxx->new_array_aligned_nothrow, n, align, MC_CALLER_PC), cxx);
}

MC_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *tag)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_aligned_nothrow(n, align, tag);
	return noted_aligned(cxx->new_aligned_nothrow, n, align, MC_CALLER_PC);
}

MC_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *tag)
{
	const struct mc_real_cxx *cxx = mc_real_cxx();
	if (NEW_PASS())
		return cxx->new_array_aligned_nothrow(n, align, tag);
	return noted_aligned(cxx->new_array_aligned_nothrow, n, align, MC_CALLER_PC);
}
