/* real.c: the only file that calls dlsym. Owns the table of real functions
 * and the bootstrap arena that serves allocations made while this thread is
 * inside dlsym (glibc's dlsym may calloc its error state). Never frees
 * bootstrap memory: it is a few KiB for the life of the process. */
#include <dlfcn.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dlsym.h"
#include "guard.h"
#include "real.h"

/* dlsym returns an object pointer that POSIX guarantees converts to a
 * function pointer; ISO C does not, hence no -Wpedantic in this file. */
#pragma GCC diagnostic ignored "-Wpedantic"

/* ---- bootstrap arena ------------------------------------------------- */

#define BOOT_ARENA_BYTES MC_BOOT_ARENA_BYTES
#define BOOT_HEADER      16u

struct mc_boot_arena mc_boot_arena;

size_t mc_boot_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - BOOT_HEADER, sizeof(n));
	return n;
}

/* Bump allocation, lock-free; the block size sits in the 16 bytes before
 * the pointer. Exhaustion fails like malloc (ENOMEM), it never aborts. */
static void *boot_alloc(size_t n, size_t align)
{
	if (align < BOOT_HEADER)
		align = BOOT_HEADER;
	if (n > BOOT_ARENA_BYTES || (align & (align - 1)) != 0 || align > 4096) {
		errno = ENOMEM;
		return NULL;
	}
	size_t want = n + BOOT_HEADER + align;
	size_t start = atomic_fetch_add_explicit(&mc_boot_arena.used, want, memory_order_relaxed);
	if (start + want > BOOT_ARENA_BYTES) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t base = (uintptr_t)(mc_boot_arena.bytes + start + BOOT_HEADER);
	uintptr_t user = (base + align - 1) & ~(uintptr_t)(align - 1);
	memcpy((void *)(user - BOOT_HEADER), &n, sizeof(n));
	return (void *)user; /* .bss: already zeroed, as calloc needs */
}

/* ---- resolution ------------------------------------------------------- */

static __thread bool resolving_here __attribute__((tls_model("initial-exec")));
static _Atomic bool resolved_all;

static void *lookup(const char *name)
{
	return mc_dlsym_real_next(name);
}

/* Failing replacements for functions this libc does not have. A host only
 * calls them if it linked against them, so this is for odd libcs. */
#define MC_FAIL_VALUE(ret) _Generic((ret)0, FILE * : (ret)0, size_t : (ret)0, default : (ret)-1)
#define MISSING(ret, name, params, args)   \
	static ret missing_##name params   \
	{                                  \
		errno = ENOSYS;            \
		return MC_FAIL_VALUE(ret); \
	}
MC_REAL_FIXED(MISSING)
#undef MISSING

/* Stubs: the initial value of each entry. The first call through any of
 * them resolves the whole table, then proceeds with the real function. */
#define STUB(ret, name, params, args)                                                 \
	static ret stub_##name params;                                                \
	static ret stub_##name params                                                 \
	{                                                                             \
		mc_real_resolve();                                                    \
		if (mc_real.name == stub_##name) { /* re-entered during resolution */ \
			void *p = lookup(#name);                                      \
			mc_real.name = p ? (ret(*) params)p : missing_##name;         \
		}                                                                     \
		return mc_real.name args;                                             \
	}
MC_REAL_FIXED(STUB)
#undef STUB

static void *stub_malloc(size_t n)
{
	if (resolving_here)
		return boot_alloc(n, 16);
	mc_real_resolve();
	return mc_real.malloc(n);
}

static void *stub_calloc(size_t nmemb, size_t size)
{
	if (resolving_here) {
		size_t n;
		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(n, 16);
	}
	mc_real_resolve();
	return mc_real.calloc(nmemb, size);
}

static void *stub_realloc(void *p, size_t n)
{
	if (resolving_here) {
		void *q = boot_alloc(n, 16);
		if (q && p) {
			size_t old = mc_boot_owns(p) ? mc_boot_size(p) : 0;
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	mc_real_resolve();
	return mc_real.realloc(p, n);
}

static void *stub_reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (resolving_here)
		return stub_realloc(p, n);
	mc_real_resolve();
	return mc_real.reallocarray(p, nmemb, size);
}

static int stub_posix_memalign(void **ret, size_t align, size_t n)
{
	if (resolving_here) {
		void *p = boot_alloc(n, align);
		if (!p)
			return ENOMEM;
		*ret = p;
		return 0;
	}
	mc_real_resolve();
	return mc_real.posix_memalign(ret, align, n);
}

static void *stub_aligned_alloc(size_t align, size_t n)
{
	if (resolving_here)
		return boot_alloc(n, align);
	mc_real_resolve();
	return mc_real.aligned_alloc(align, n);
}

static void *stub_memalign(size_t align, size_t n)
{
	if (resolving_here)
		return boot_alloc(n, align);
	mc_real_resolve();
	return mc_real.memalign(align, n);
}

static void *stub_valloc(size_t n)
{
	if (resolving_here)
		return boot_alloc(n, 4096);
	mc_real_resolve();
	return mc_real.valloc(n);
}

static void *stub_pvalloc(size_t n)
{
	if (resolving_here)
		return boot_alloc((n + 4095) & ~(size_t)4095, 4096);
	mc_real_resolve();
	return mc_real.pvalloc(n);
}

static size_t stub_malloc_usable_size(void *p)
{
	mc_real_resolve();
	return mc_real.malloc_usable_size(p);
}

static void stub_free(void *p)
{
	if (resolving_here)
		return; /* only bootstrap memory can exist on this path */
	mc_real_resolve();
	mc_real.free(p);
}

static __attribute__((noreturn)) void stub__exit(int status)
{
	mc_real_resolve();
	mc_real._exit(status);
}

static __attribute__((noreturn)) void stub__Exit(int status)
{
	mc_real_resolve();
	mc_real._Exit(status);
}

#define VARIADIC_STUB3(name, t0)                              \
	static int stub_##name(t0 a0, int a1, ...)            \
	{                                                     \
		va_list ap;                                   \
		va_start(ap, a1);                             \
		unsigned long a2 = va_arg(ap, unsigned long); \
		va_end(ap);                                   \
		mc_real_resolve();                            \
		return mc_real.name(a0, a1, a2);              \
	}

#include <stdarg.h>
VARIADIC_STUB3(open, const char *)
VARIADIC_STUB3(open64, const char *)
VARIADIC_STUB3(fcntl, int)
VARIADIC_STUB3(fcntl64, int)

#define VARIADIC_STUB_AT(name)                                              \
	static int stub_##name(int dirfd, const char *path, int flags, ...) \
	{                                                                   \
		va_list ap;                                                 \
		va_start(ap, flags);                                        \
		unsigned long mode = va_arg(ap, unsigned long);             \
		va_end(ap);                                                 \
		mc_real_resolve();                                          \
		return mc_real.name(dirfd, path, flags, mode);              \
	}
VARIADIC_STUB_AT(openat)
VARIADIC_STUB_AT(openat64)

static void *stub_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *new_addr = va_arg(ap, void *);
	va_end(ap);
	mc_real_resolve();
	return mc_real.mremap(old, old_len, new_len, flags, new_addr);
}

static long stub_syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	mc_real_resolve();
	return mc_real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- the C++ runtime's operator new ------------------------------------------------- */

/* Where no runtime could be found (a program that calls operator new has one: only a
 * library that names another would get here): the allocator itself, and abort() for
 * bad_alloc, which C cannot throw. */
static void *cxx_new(size_t n)
{
	return mc_real.malloc(n ? n : 1);
}

static void *cxx_new_nothrow(size_t n, const void *tag)
{
	(void)tag;
	return cxx_new(n);
}

static void *cxx_new_aligned(size_t n, size_t align)
{
	void *p = NULL;
	return mc_real.posix_memalign(&p, align, n ? n : 1) == 0 ? p : NULL;
}

static void *cxx_new_aligned_nothrow(size_t n, size_t align, const void *tag)
{
	(void)tag;
	return cxx_new_aligned(n, align);
}

static __attribute__((noreturn)) void cxx_throw(void)
{
	abort();
}

#define INIT(ret, name, params, args) .name = stub_##name,
struct mc_real_fns mc_real = {
	MC_REAL_FIXED(INIT) MC_REAL_ALLOC(INIT).free = stub_free,
	._exit = stub__exit,
	._Exit = stub__Exit,
	.open = stub_open,
	.open64 = stub_open64,
	.openat = stub_openat,
	.openat64 = stub_openat64,
	.fcntl = stub_fcntl,
	.fcntl64 = stub_fcntl64,
	.mremap = stub_mremap,
	.syscall = stub_syscall,
	.cxx = { cxx_new, cxx_new, cxx_new_nothrow, cxx_new_nothrow, cxx_new_aligned,
	         cxx_new_aligned, cxx_new_aligned_nothrow, cxx_new_aligned_nothrow, cxx_throw },
};
#undef INIT

/* Stores with relaxed atomics: another thread may be reading the entry; it
 * sees either the stub (which resolves again, harmlessly) or the real one. */
#define SET(field, value) __atomic_store_n(&mc_real.field, (value), __ATOMIC_RELAXED)

static void resolve_alloc_family(void)
{
#define RESOLVE_ALLOC(ret, name, params, args)       \
	{                                            \
		void *p = lookup(#name);             \
		if (p)                               \
			SET(name, (ret(*) params)p); \
	}
	MC_REAL_ALLOC(RESOLVE_ALLOC)
#undef RESOLVE_ALLOC
	void *p = lookup("free");
	if (p)
		SET(free, (void (*)(void *))p);
}

static void resolve_fixed(void)
{
#define RESOLVE_FIXED(ret, name, params, args)                    \
	{                                                         \
		void *p = lookup(#name);                          \
		SET(name, p ? (ret(*) params)p : missing_##name); \
	}
	MC_REAL_FIXED(RESOLVE_FIXED)
#undef RESOLVE_FIXED
}

static void resolve_variadic(void)
{
	void *p;
	if ((p = lookup("_exit")))
		SET(_exit, (void (*)(int))p);
	if ((p = lookup("_Exit")))
		SET(_Exit, (void (*)(int))p);
	if ((p = lookup("open")))
		SET(open, (int (*)(const char *, int, ...))p);
	if ((p = lookup("open64")))
		SET(open64, (int (*)(const char *, int, ...))p);
	if ((p = lookup("openat")))
		SET(openat, (int (*)(int, const char *, int, ...))p);
	if ((p = lookup("openat64")))
		SET(openat64, (int (*)(int, const char *, int, ...))p);
	if ((p = lookup("fcntl")))
		SET(fcntl, (int (*)(int, int, ...))p);
	if ((p = lookup("fcntl64")))
		SET(fcntl64, (int (*)(int, int, ...))p);
	if ((p = lookup("mremap")))
		SET(mremap, (void *(*)(void *, size_t, size_t, int, ...))p);
	if ((p = lookup("syscall")))
		SET(syscall, (long (*)(long, ...))p);
	SET(dl_find_object, (int (*)(void *, struct dl_find_object *))lookup("_dl_find_object"));
}

void mc_real_resolve(void)
{
	if (atomic_load_explicit(&resolved_all, memory_order_acquire) || resolving_here)
		return;
	int saved_errno = errno;
	resolving_here = true;
	mc_guard_enter();
	(void)mc_dlsym_real_next("free"); /* the real dlsym found while the arena serves */
	/* The allocator first: once it is real, dlsym's own allocations in the
	 * rest of the loop no longer need the arena. */
	resolve_alloc_family();
	resolving_here = false;
	resolve_fixed();
	resolve_variadic();
	mc_guard_leave();
	atomic_store_explicit(&resolved_all, true, memory_order_release);
	errno = saved_errno;
}

/* name in the global scope after the library, else in a runtime loaded by soname only. */
static void *cxx_lookup(const char *name)
{
	static const char *const runtimes[] = { "libstdc++.so.6", "libc++.so.1" };
	void *p = lookup(name);
	for (unsigned i = 0; !p && i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		void *h = dlopen(runtimes[i], RTLD_LAZY | RTLD_NOLOAD);
		if (h) {
			p = dlsym(h, name);
			dlclose(h);
		}
	}
	return p;
}

#define CXX_SET(field, name, type)                                                       \
	{                                                                                \
		void *p = cxx_lookup(name);                                              \
		if (p)                                                                   \
			__atomic_store_n(&mc_real.cxx.field, (type)p, __ATOMIC_RELAXED); \
	}

static MC_COLD void resolve_cxx(void)
{
	int saved = errno;
	mc_guard_enter();
	CXX_SET(new_, "_Znwm", void *(*)(size_t));
	CXX_SET(new_array, "_Znam", void *(*)(size_t));
	CXX_SET(new_nothrow, "_ZnwmRKSt9nothrow_t", void *(*)(size_t, const void *));
	CXX_SET(new_array_nothrow, "_ZnamRKSt9nothrow_t", void *(*)(size_t, const void *));
	CXX_SET(new_aligned, "_ZnwmSt11align_val_t", void *(*)(size_t, size_t));
	CXX_SET(new_array_aligned, "_ZnamSt11align_val_t", void *(*)(size_t, size_t));
	CXX_SET(new_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t",
	        void *(*)(size_t, size_t, const void *));
	CXX_SET(new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t",
	        void *(*)(size_t, size_t, const void *));
	CXX_SET(throw_bad_alloc, "_ZSt17__throw_bad_allocv", void (*)(void));
	mc_guard_leave();
	errno = saved;
	atomic_store_explicit(&mc_real.cxx_ready, true, memory_order_release);
}

const struct mc_real_cxx *mc_real_cxx(void)
{
	if (mc_unlikely(!atomic_load_explicit(&mc_real.cxx_ready, memory_order_acquire)))
		resolve_cxx();
	return &mc_real.cxx;
}
