/* real.h: the table of real libc functions, resolved with dlsym(RTLD_NEXT)
 * in one place (real.c). Every pointer starts as a stub that resolves the
 * whole table on first use, so hooks never test "resolved yet?". Calls that
 * arrive while this thread is resolving (dlsym's own calloc) are served by a
 * bootstrap arena whose memory is never handed to the real free. */
#ifndef MC_REAL_H
#define MC_REAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

struct mmsghdr;

/* glibc may define these as macros over the locked functions; the shim
 * needs the real symbols. */
#undef fread_unlocked
#undef fwrite_unlocked

/* The fortified twins that -D_FORTIFY_SOURCE builds call; glibc declares
 * them only in its fortify headers. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
                       socklen_t *alen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);

/* The stat entry points of binaries built before glibc 2.33, which glibc keeps exporting but
 * no longer declares. */
struct stat;
struct stat64;
struct statx;
int __xstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);

/* X(return type, name, parameter list, argument list) for every function
 * with a fixed parameter list. The variadic ones are listed apart. */
#define MC_REAL_FIXED(X)                                                                           \
	/* read family */                                                                          \
	X(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))                              \
	X(ssize_t, __read_chk, (int fd, void *buf, size_t n, size_t buflen), (fd, buf, n, buflen)) \
	X(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off))             \
	X(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t off), (fd, buf, n, off))         \
	X(ssize_t, __pread_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen),           \
	  (fd, buf, n, off, buflen))                                                               \
	X(ssize_t, __pread64_chk, (int fd, void *buf, size_t n, off64_t off, size_t buflen),       \
	  (fd, buf, n, off, buflen))                                                               \
	X(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))              \
	X(ssize_t, preadv, (int fd, const struct iovec *iov, int cnt, off_t off),                  \
	  (fd, iov, cnt, off))                                                                     \
	X(ssize_t, preadv64, (int fd, const struct iovec *iov, int cnt, off64_t off),              \
	  (fd, iov, cnt, off))                                                                     \
	X(ssize_t, preadv2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags),      \
	  (fd, iov, cnt, off, flags))                                                              \
	X(ssize_t, preadv64v2, (int fd, const struct iovec *iov, int cnt, off64_t off, int flags), \
	  (fd, iov, cnt, off, flags))                                                              \
	X(size_t, fread, (void *ptr, size_t size, size_t n, FILE *f), (ptr, size, n, f))           \
	X(size_t, fread_unlocked, (void *ptr, size_t size, size_t n, FILE *f), (ptr, size, n, f))  \
	X(size_t, __fread_chk, (void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f),         \
	  (ptr, ptrlen, size, n, f))                                                               \
	X(size_t, __fread_unlocked_chk,                                                            \
	  (void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f), (ptr, ptrlen, size, n, f))   \
	X(ssize_t, recv, (int fd, void *buf, size_t n, int flags), (fd, buf, n, flags))            \
	X(ssize_t, __recv_chk, (int fd, void *buf, size_t n, size_t buflen, int flags),            \
	  (fd, buf, n, buflen, flags))                                                             \
	X(ssize_t, recvfrom,                                                                       \
	  (int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen),        \
	  (fd, buf, n, flags, addr, alen))                                                         \
	X(ssize_t, __recvfrom_chk,                                                                 \
	  (int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,           \
	   socklen_t *alen),                                                                       \
	  (fd, buf, n, buflen, flags, addr, alen))                                                 \
	X(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags))             \
	X(int, recvmmsg,                                                                           \
	  (int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *tmo),         \
	  (fd, v, vlen, flags, tmo))                                                               \
	/* send family */                                                                          \
	X(ssize_t, send, (int fd, const void *buf, size_t n, int flags), (fd, buf, n, flags))      \
	X(ssize_t, sendto,                                                                         \
	  (int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,              \
	   socklen_t alen),                                                                        \
	  (fd, buf, n, flags, addr, alen))                                                         \
	X(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags))       \
	X(int, sendmmsg, (int fd, struct mmsghdr *v, unsigned int vlen, int flags),                \
	  (fd, v, vlen, flags))                                                                    \
	/* write family */                                                                         \
	X(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))                       \
	X(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))             \
	X(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off))      \
	X(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off))  \
	X(ssize_t, pwritev, (int fd, const struct iovec *iov, int cnt, off_t off),                 \
	  (fd, iov, cnt, off))                                                                     \
	X(ssize_t, pwritev64, (int fd, const struct iovec *iov, int cnt, off64_t off),             \
	  (fd, iov, cnt, off))                                                                     \
	X(ssize_t, pwritev2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags),     \
	  (fd, iov, cnt, off, flags))                                                              \
	X(ssize_t, pwritev64v2,                                                                    \
	  (int fd, const struct iovec *iov, int cnt, off64_t off, int flags),                      \
	  (fd, iov, cnt, off, flags))                                                              \
	X(size_t, fwrite, (const void *ptr, size_t size, size_t n, FILE *f), (ptr, size, n, f))    \
	X(size_t, fwrite_unlocked, (const void *ptr, size_t size, size_t n, FILE *f),              \
	  (ptr, size, n, f))                                                                       \
	/* mmap family */                                                                          \
	X(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd, off_t off),          \
	  (addr, len, prot, flags, fd, off))                                                       \
	X(void *, mmap64, (void *addr, size_t len, int prot, int flags, int fd, off64_t off),      \
	  (addr, len, prot, flags, fd, off))                                                       \
	X(int, munmap, (void *addr, size_t len), (addr, len))                                      \
	/* sleep family */                                                                         \
	X(int, clock_nanosleep,                                                                    \
	  (clockid_t clk, int flags, const struct timespec *req, struct timespec *rem),            \
	  (clk, flags, req, rem))                                                                  \
	X(int, nanosleep, (const struct timespec *req, struct timespec *rem), (req, rem))          \
	X(int, usleep, (useconds_t usec), (usec))                                                  \
	X(unsigned int, sleep, (unsigned int sec), (sec))                                          \
	/* open family and the fd table */                                                         \
	X(int, __open_2, (const char *path, int flags), (path, flags))                             \
	X(int, __open64_2, (const char *path, int flags), (path, flags))                           \
	X(int, __openat_2, (int dirfd, const char *path, int flags), (dirfd, path, flags))         \
	X(int, __openat64_2, (int dirfd, const char *path, int flags), (dirfd, path, flags))       \
	X(int, creat, (const char *path, mode_t mode), (path, mode))                               \
	X(int, creat64, (const char *path, mode_t mode), (path, mode))                             \
	X(FILE *, fopen, (const char *path, const char *mode), (path, mode))                       \
	X(FILE *, fopen64, (const char *path, const char *mode), (path, mode))                     \
	X(FILE *, freopen, (const char *path, const char *mode, FILE *f), (path, mode, f))         \
	X(FILE *, freopen64, (const char *path, const char *mode, FILE *f), (path, mode, f))       \
	X(int, close, (int fd), (fd))                                                              \
	X(int, fclose, (FILE * f), (f))                                                            \
	X(int, dup, (int fd), (fd))                                                                \
	X(int, dup2, (int fd, int fd2), (fd, fd2))                                                 \
	X(int, dup3, (int fd, int fd2, int flags), (fd, fd2, flags))                               \
	X(int, close_range, (unsigned int first, unsigned int last, int flags),                    \
	  (first, last, flags))                                                                    \
	X(int, socket, (int domain, int type, int proto), (domain, type, proto))                   \
	X(int, socketpair, (int domain, int type, int proto, int sv[2]),                           \
	  (domain, type, proto, sv))                                                               \
	X(int, accept, (int fd, struct sockaddr *addr, socklen_t *alen), (fd, addr, alen))         \
	X(int, accept4, (int fd, struct sockaddr *addr, socklen_t *alen, int flags),               \
	  (fd, addr, alen, flags))                                                                 \
	X(int, connect, (int fd, const struct sockaddr *addr, socklen_t alen), (fd, addr, alen))   \
	X(int, bind, (int fd, const struct sockaddr *addr, socklen_t alen), (fd, addr, alen))      \
	/* stat family */                                                                          \
	X(int, stat, (const char *path, struct stat *st), (path, st))                              \
	X(int, stat64, (const char *path, struct stat64 *st), (path, st))                          \
	X(int, lstat, (const char *path, struct stat *st), (path, st))                             \
	X(int, lstat64, (const char *path, struct stat64 *st), (path, st))                         \
	X(int, fstat, (int fd, struct stat *st), (fd, st))                                         \
	X(int, fstat64, (int fd, struct stat64 *st), (fd, st))                                     \
	X(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags),                 \
	  (dirfd, path, st, flags))                                                                \
	X(int, fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags),             \
	  (dirfd, path, st, flags))                                                                \
	X(int, statx,                                                                              \
	  (int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx),          \
	  (dirfd, path, flags, mask, stx))                                                         \
	X(int, __xstat, (int ver, const char *path, struct stat *st), (ver, path, st))             \
	X(int, __xstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st))         \
	X(int, __lxstat, (int ver, const char *path, struct stat *st), (ver, path, st))            \
	X(int, __lxstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st))        \
	X(int, __fxstat, (int ver, int fd, struct stat *st), (ver, fd, st))                        \
	X(int, __fxstat64, (int ver, int fd, struct stat64 *st), (ver, fd, st))                    \
	X(int, __fxstatat, (int ver, int dirfd, const char *path, struct stat *st, int flags),     \
	  (ver, dirfd, path, st, flags))                                                           \
	X(int, __fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *st, int flags), \
	  (ver, dirfd, path, st, flags))

/* The malloc family: its stubs serve the bootstrap arena while this thread
 * is resolving, instead of recursing into dlsym. */
#define MC_REAL_ALLOC(X)                                                                \
	X(void *, malloc, (size_t n), (n))                                              \
	X(void *, calloc, (size_t nmemb, size_t size), (nmemb, size))                   \
	X(void *, realloc, (void *p, size_t n), (p, n))                                 \
	X(void *, reallocarray, (void *p, size_t nmemb, size_t size), (p, nmemb, size)) \
	X(int, posix_memalign, (void **ret, size_t align, size_t n), (ret, align, n))   \
	X(void *, aligned_alloc, (size_t align, size_t n), (align, n))                  \
	X(void *, memalign, (size_t align, size_t n), (align, n))                       \
	X(void *, valloc, (size_t n), (n))                                              \
	X(void *, pvalloc, (size_t n), (n))                                             \
	X(size_t, malloc_usable_size, (void *p), (p))

#define MC_REAL_MEMBER(ret, name, params, args) ret(*name) params;

struct dl_find_object;

/* The C++ runtime's operator new (hook_new.c), found on its first use: the runtime may be
 * loaded after the library, and outside the global scope (a Python extension's dependency),
 * where RTLD_NEXT does not reach: then by its soname (libstdc++.so.6, libc++.so.1). */
struct mc_real_cxx {
	void *(*new_)(size_t n);
	void *(*new_array)(size_t n);
	void *(*new_nothrow)(size_t n, const void *tag);
	void *(*new_array_nothrow)(size_t n, const void *tag);
	void *(*new_aligned)(size_t n, size_t align);
	void *(*new_array_aligned)(size_t n, size_t align);
	void *(*new_aligned_nothrow)(size_t n, size_t align, const void *tag);
	void *(*new_array_aligned_nothrow)(size_t n, size_t align, const void *tag);
	void (*throw_bad_alloc)(void) __attribute__((noreturn));
};

struct mc_real_fns {
	MC_REAL_FIXED(MC_REAL_MEMBER)
	MC_REAL_ALLOC(MC_REAL_MEMBER)
	void (*free)(void *p);
	void (*_exit)(int status) __attribute__((noreturn));
	void (*_Exit)(int status) __attribute__((noreturn));
	/* variadic in libc: called with the optional argument always supplied */
	int (*open)(const char *path, int flags, ...);
	int (*open64)(const char *path, int flags, ...);
	int (*openat)(int dirfd, const char *path, int flags, ...);
	int (*openat64)(int dirfd, const char *path, int flags, ...);
	int (*fcntl)(int fd, int cmd, ...);
	int (*fcntl64)(int fd, int cmd, ...);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, ...);
	long (*syscall)(long nr, ...);
	/* the loader's lock-free lookup of the object holding an address (glibc 2.35), or NULL
	 * where the loader has none (objects.c then knows no caller) */
	int (*dl_find_object)(void *address, struct dl_find_object *ret);
	struct mc_real_cxx cxx; /* mc_real_cxx() */
	_Atomic bool cxx_ready;
};

extern struct mc_real_fns mc_real;

const struct mc_real_cxx *mc_real_cxx(void);

/* Resolves every entry of mc_real. Idempotent and safe from any thread;
 * entries libc lacks become functions failing with ENOSYS. */
void mc_real_resolve(void);

/* True when p was served by the bootstrap arena (it must never reach the
 * real free or realloc). Inline: free() asks it on every call. */
#define MC_BOOT_ARENA_BYTES (256u * 1024u)
extern struct mc_boot_arena {
	_Alignas(64) unsigned char bytes[MC_BOOT_ARENA_BYTES];
	_Atomic size_t used; /* bytes handed out, headers and padding included */
} mc_boot_arena;

static inline bool mc_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)mc_boot_arena.bytes < MC_BOOT_ARENA_BYTES;
}

/* Usable size of a bootstrap block. */
size_t mc_boot_size(const void *p);

#endif
