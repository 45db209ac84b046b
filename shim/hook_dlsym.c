/* hook_dlsym.c: dlsym, interposed so that a program (or libcudart) that finds a CUDA
 * function on a dlopen handle gets the library's wrapper (hook_cuda.c); and the real dlsym,
 * which the library's own lookups (real.c) use.
 *
 * dlsym(RTLD_NEXT, ...) answers relative to the object that called it, which glibc reads off
 * its return address: a C wrapper calling the real dlsym would make every caller's "next"
 * this library's. So dlsym's entry is a few instructions of assembly that jump to the real
 * dlsym, the caller's return address untouched, unless the name starts with "cu" (cuda*,
 * cu*): those reach mc_dlsym_cuda() in C, and with RTLD_NEXT only when the program itself
 * asks (mc_dlsym_from_main). Nothing is
 * read or allocated on the way: dlsym may be called before the library's constructor, and
 * from inside dlsym (its calloc). */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/auxv.h>

#include "common.h"
#include "cuda.h"
#include "dlsym.h"
#include "guard.h"

/* dlsym returns an object pointer that POSIX guarantees converts to a function pointer. */
#pragma GCC diagnostic ignored "-Wpedantic"

typedef mc_dlsym_fn dlsym_fn;

static MC_DLSYM_EARLY void *no_dlsym(void *handle, const char *name)
{
	(void)handle;
	(void)name;
	return NULL;
}

/* Finds the real dlsym through dlvsym, which the library does not interpose: by the version
 * of today's glibc, else the first one. Returns it (never NULL). */
__attribute__((visibility("hidden"))) MC_DLSYM_EARLY dlsym_fn mc_dlsym_resolve(void)
{
	dlsym_fn f = mc_dlsym_next();
	if (f)
		return f;
	/* an allocation of dlvsym's that comes back here through the library's malloc finds
	 * real.c resolving, and is served by its arena: no loop */
	void *p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
	if (!p)
		p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
	f = p ? (dlsym_fn)p : no_dlsym;
	mc_dlsym_found(f);
	return f;
}

__attribute__((visibility("hidden"))) void *mc_dlsym_real(void *handle, const char *name)
{
	return mc_dlsym_resolve()(handle, name);
}

/* The definition of name after this library's (its own lookups' RTLD_NEXT). */
__attribute__((visibility("hidden"))) void *mc_dlsym_real_next(const char *name)
{
	return mc_dlsym_resolve()(RTLD_NEXT, name);
}

/* A "cu" name on a handle (or RTLD_DEFAULT): the real answer, then the wrapper for it. */
__attribute__((visibility("hidden"))) void *mc_dlsym_cuda(void *handle, const char *name)
{
	void *p = mc_dlsym_real(handle, name);
	return p ? mc_cuda_substitute(name, p) : NULL;
}

/* dlsym(RTLD_NEXT, "cu...") from the program itself: what comes after the program is the
 * preloaded libraries, this one included, so the answer is this library's wrapper when a
 * real function exists after it, and nothing when none does (no CUDA library loaded). From
 * any other object the real dlsym answers, for that object. */
__attribute__((visibility("hidden"))) int mc_dlsym_from_main(const void *caller)
{
	Dl_info at, program;
	const void *phdr = (const void *)getauxval(AT_PHDR);
	return phdr && dladdr(caller, &at) && dladdr(phdr, &program) &&
	       at.dli_fbase == program.dli_fbase;
}

__attribute__((visibility("hidden"))) void *mc_dlsym_cuda_next(void *handle, const char *name)
{
	(void)handle;
	void *p = mc_dlsym_real_next(name);
	return p ? mc_cuda_substitute(name, p) : NULL;
}

/* clang-format off */
#if defined(__x86_64__)
/* dlsym's two arguments kept across a call, the stack aligned for it */
#define SAVE_ARGS                                                                          \
	"	pushq %rdi\n	.cfi_adjust_cfa_offset 8\n"                                        \
	"	pushq %rsi\n	.cfi_adjust_cfa_offset 8\n"                                        \
	"	subq $8, %rsp\n	.cfi_adjust_cfa_offset 8\n"
#define RESTORE_ARGS                                                                       \
	"	addq $8, %rsp\n	.cfi_adjust_cfa_offset -8\n"                                       \
	"	popq %rsi\n	.cfi_adjust_cfa_offset -8\n"                                           \
	"	popq %rdi\n	.cfi_adjust_cfa_offset -8\n"
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        "dlsym:\n"
        "	.cfi_startproc\n"
        "	endbr64\n"
        "	testq %rsi, %rsi\n"
        "	je 1f\n"
        "	cmpb $0x63, (%rsi)\n"        /* 'c' */
        "	jne 1f\n"
        "	cmpb $0x75, 1(%rsi)\n"       /* 'u' */
        "	jne 1f\n"
        "	cmpq $-1, %rdi\n"            /* RTLD_NEXT */
        "	je 3f\n"
        "	jmp mc_dlsym_cuda\n"
        "1:	movq mc_cuda(%rip), %rax\n"  /* the real dlsym, once found */
        "	testq %rax, %rax\n"
        "	je 2f\n"
        "	jmp *%rax\n"
        "2:\n"
        SAVE_ARGS
        "	call mc_dlsym_resolve\n"
        RESTORE_ARGS
        "	jmp *%rax\n"
        "3:\n"
        SAVE_ARGS
        "	movq 24(%rsp), %rdi\n"       /* the caller's return address */
        "	call mc_dlsym_from_main\n"
        RESTORE_ARGS
        "	testl %eax, %eax\n"
        "	je 1b\n"
        "	jmp mc_dlsym_cuda_next\n"
        "	.cfi_endproc\n"
        ".size dlsym, .-dlsym\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym, %function\n"
        "dlsym:\n"
        "	cbz x1, 1f\n"
        "	ldrb w9, [x1]\n"
        "	cmp w9, #0x63\n"
        "	b.ne 1f\n"
        "	ldrb w9, [x1, #1]\n"
        "	cmp w9, #0x75\n"
        "	b.ne 1f\n"
        "	cmn x0, #1\n"
        "	b.eq 3f\n"
        "	b mc_dlsym_cuda\n"
        "1:	adrp x9, mc_cuda\n"
        "	ldr x9, [x9, :lo12:mc_cuda]\n"
        "	cbz x9, 2f\n"
        "	br x9\n"
        "2:	stp x29, x30, [sp, #-32]!\n"
        "	stp x0, x1, [sp, #16]\n"
        "	bl mc_dlsym_resolve\n"
        "	mov x9, x0\n"
        "	ldp x0, x1, [sp, #16]\n"
        "	ldp x29, x30, [sp], #32\n"
        "	br x9\n"
        "3:	stp x29, x30, [sp, #-32]!\n"
        "	stp x0, x1, [sp, #16]\n"
        "	mov x0, x30\n"
        "	bl mc_dlsym_from_main\n"
        "	mov w9, w0\n"
        "	ldp x0, x1, [sp, #16]\n"
        "	ldp x29, x30, [sp], #32\n"
        "	cbz w9, 1b\n"
        "	b mc_dlsym_cuda_next\n"
        ".size dlsym, .-dlsym\n");
#else
#error "dlsym's entry is written for x86_64 and aarch64"
#endif
/* clang-format on */
