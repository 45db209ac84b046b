/* null_preload.c: the cheapest possible interposer of the bench's functions, each one a
 * single jump to libc. scripts/bench preloads it as the floor that any LD_PRELOAD hook
 * pays; it must never do anything but forward, or the floor is no longer a floor. */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define MCN_EXPORT __attribute__((visibility("default")))

/* glibc's own entry points serve malloc and free until dlsym has resolved
 * them (dlsym may allocate); then all hooks here are the same single
 * indirect jump through a pointer that a real interposer makes. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

static void *(*mcn_malloc)(size_t) = __libc_malloc;
static void (*mcn_free)(void *) = __libc_free;

static ssize_t (*mcn_read)(int, void *, size_t);
static ssize_t (*mcn_send)(int, const void *, size_t, int);
static void *(*mcn_mmap)(void *, size_t, int, int, int, off_t);
static int (*mcn_munmap)(void *, size_t);
static int (*mcn_clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);

/* ISO C has no conversion from dlsym's object pointer to a function pointer:
 * copy the bits, as POSIX guarantees they are the same. */
static void mcn_bind(void *ret_fn, const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);

	memcpy(ret_fn, &sym, sizeof(sym));
}

/* Resolved before main; the bench calls none of these before main. */
__attribute__((constructor)) static void mcn_resolve(void)
{
	mcn_bind(&mcn_malloc, "malloc");
	mcn_bind(&mcn_free, "free");
	mcn_bind(&mcn_read, "read");
	mcn_bind(&mcn_send, "send");
	mcn_bind(&mcn_mmap, "mmap");
	mcn_bind(&mcn_munmap, "munmap");
	mcn_bind(&mcn_clock_nanosleep, "clock_nanosleep");
}

MCN_EXPORT void *malloc(size_t size);
MCN_EXPORT void *malloc(size_t size)
{
	return mcn_malloc(size);
}

MCN_EXPORT void free(void *ptr);
MCN_EXPORT void free(void *ptr)
{
	mcn_free(ptr);
}

MCN_EXPORT ssize_t read(int fd, void *buf, size_t n);
MCN_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	return mcn_read(fd, buf, n);
}

MCN_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags);
MCN_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return mcn_send(fd, buf, n, flags);
}

MCN_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
MCN_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mcn_mmap(addr, len, prot, flags, fd, off);
}

/* The bench is built with 64-bit file offsets, so it calls mmap64. */
MCN_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
MCN_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mcn_mmap(addr, len, prot, flags, fd, off);
}

MCN_EXPORT int munmap(void *addr, size_t len);
MCN_EXPORT int munmap(void *addr, size_t len)
{
	return mcn_munmap(addr, len);
}

MCN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                               struct timespec *rem);
MCN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                               struct timespec *rem)
{
	return mcn_clock_nanosleep(clock, flags, req, rem);
}
