/* families.h: the hook families, one row each, and everything the config language and the
 * library need to know of a family: its name, the actions it takes, what its calls have
 * (which says which rule keys apply to it), and the errnos it can fail with. The enum
 * mc_hook (common.h), the names of `hook =`, the actions allowed, the keys allowed, the errno
 * lists and the default errno (config/) are all made from this table.
 *
 * Adding a family: a row here and its system calls in MC_FAMILY_SYSCALLS below, its functions
 * in fn.h (which family each belongs to) and real.h (where the real one is found), their names
 * in shim.map, and a hook file. The suite's
 * symbols-families test (test-harness/symbols/check_families.py) fails when those lists
 * disagree with this table or with each other.
 *
 * Columns of MC_FAMILIES(X), X(ID, name, actions, traits, default errno, (errnos...)):
 *   ID        MC_HOOK_<ID>
 *   name      its name in `hook =`, in logs, stats and traces
 *   actions   what `action =` it takes: MC_FAM_ACT(x) for MC_ACTION_x
 *   traits    what its calls have (MC_FAM_TRAIT(x) for MC_TRAIT_x), each opening rule keys:
 *             FILE, a file (`path`); PORT, a TCP socket (`port`); SIZED, a count of bytes
 *             or a size (`min_size`, `max_size`); HEAP, memory the process allocates
 *             (`budget`, `oom`). Keys of one action (`max_bytes`, `mode`, `to`...) apply to
 *             the families that take the action.
 *   errno     what action = fail injects when the rule names none
 *   errnos    every errno its functions can fail with, from their manual pages; EAGAIN
 *             stands for EWOULDBLOCK too (the same value on Linux)
 * Uses of the table expand only the columns they need: errno names are known where the
 * errno lists are expanded (config/errnos.c), action names where actions are. */
#ifndef MC_FAMILIES_H
#define MC_FAMILIES_H

#include <sys/syscall.h> /* SYS_* of MC_FAMILY_SYSCALLS: only macros */

#define MC_FAM_ACT(a)   (1u << MC_ACTION_##a)
#define MC_FAM_TRAIT(t) MC_TRAIT_##t
/* The actions on the process rather than on the call, which any family's call can trigger:
 * a signal, a hang, a leak, a CPU burn, memory held. */
#define MC_FAM_ANY_CALL                                                                \
	(MC_FAM_ACT(SIGNAL) | MC_FAM_ACT(HANG) | MC_FAM_ACT(LEAK) | MC_FAM_ACT(BURN) | \
	 MC_FAM_ACT(HOG))

enum mc_trait {
	MC_TRAIT_FILE = 1u << 0,
	MC_TRAIT_PORT = 1u << 1,
	MC_TRAIT_SIZED = 1u << 2,
	MC_TRAIT_HEAP = 1u << 3,
	MC_TRAIT_CUDA = 1u << 4,   /* a CUDA call: fails with a CUDA error (`error`), not errno */
	MC_TRAIT_POISON = 1u << 5, /* a CUDA error that can poison the context (`sticky`) */
};

/* clang-format off */
#define MC_FAMILIES(X)                                                                          \
	X(READ, "read",                                                                         \
	  MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(SHORT) | MC_FAM_ACT(CORRUPT) |      \
	      MC_FAM_ACT(THROTTLE) | MC_FAM_ACT(TRUNCATE) | MC_FAM_ANY_CALL,                    \
	  MC_FAM_TRAIT(FILE) | MC_FAM_TRAIT(PORT) | MC_FAM_TRAIT(SIZED), EIO,                   \
	  (EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EIO, EISDIR, /* read(2) */                     \
	   ENXIO, EOVERFLOW, ESPIPE, /* pread(2) */                                             \
	   ECONNREFUSED, ENOMEM, ENOTCONN, ENOTSOCK, /* recv(2) */                              \
	   ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ESTALE /* tcp(7), nfs */))         \
	X(SEND, "send",                                                                         \
	  MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(SHORT) | MC_FAM_ACT(THROTTLE) |     \
	      MC_FAM_ACT(CORRUPT) | MC_FAM_ANY_CALL,                                            \
	  MC_FAM_TRAIT(PORT) | MC_FAM_TRAIT(SIZED), ECONNRESET,                                 \
	  (EACCES, EAGAIN, EALREADY, EBADF, ECONNRESET, EDESTADDRREQ, EFAULT, EINTR, EINVAL,    \
	   EISCONN, EMSGSIZE, ENOBUFS, ENOMEM, ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPIPE,           \
	   /* send(2) */                                                                        \
	   EIO, ETIMEDOUT, EHOSTUNREACH, ENETDOWN, ENETUNREACH, ECONNREFUSED /* write(2),      \
	                                                                       tcp(7) */))      \
	X(WRITE, "write",                                                                       \
	  MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(SHORT) | MC_FAM_ACT(THROTTLE) |     \
	      MC_FAM_ANY_CALL,                                                                  \
	  MC_FAM_TRAIT(FILE) | MC_FAM_TRAIT(SIZED), ENOSPC,                                     \
	  (EAGAIN, EBADF, EDESTADDRREQ, EDQUOT, EFAULT, EFBIG, EINTR, EINVAL, EIO, ENOSPC,      \
	   EPERM, EPIPE, /* write(2) */                                                         \
	   ENXIO, EOVERFLOW, ESPIPE, /* pwrite(2) */                                            \
	   ESTALE /* nfs */))                                                                   \
	X(MALLOC, "malloc", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) |                              \
	  MC_FAM_ANY_CALL,                                                                      \
	  MC_FAM_TRAIT(SIZED) | MC_FAM_TRAIT(HEAP), ENOMEM, (ENOMEM))                           \
	X(MMAP, "mmap",                                                                         \
	  MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(CORRUPT) | MC_FAM_ACT(THROTTLE) |   \
	      MC_FAM_ACT(TRUNCATE) | MC_FAM_ANY_CALL,                                           \
	  MC_FAM_TRAIT(FILE) | MC_FAM_TRAIT(SIZED) | MC_FAM_TRAIT(HEAP), ENOMEM,                \
	  (EACCES, EAGAIN, EBADF, EEXIST, EINVAL, ENFILE, ENODEV, ENOMEM, EOVERFLOW, EPERM,     \
	   ETXTBSY, EFAULT /* mremap(2) */))                                                    \
	X(SLEEP, "sleep", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) |                                \
	  MC_FAM_ANY_CALL, 0, EINTR,                                                            \
	  (EFAULT, EINTR, EINVAL, ENOTSUP))                                                     \
	X(OPEN, "open", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(REDIRECT) |           \
	  MC_FAM_ANY_CALL,                                                                      \
	  MC_FAM_TRAIT(FILE), ENOENT,                                                           \
	  (EACCES, EBADF, EBUSY, EDQUOT, EEXIST, EFAULT, EFBIG, EINTR, EINVAL, EISDIR, ELOOP,   \
	   EMFILE, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOTDIR, ENXIO,        \
	   EOPNOTSUPP, EOVERFLOW, EPERM, EROFS, ETXTBSY, EAGAIN, ESTALE /* open(2),            \
	                                                                   fopen(3) */))        \
	X(STAT, "stat",                                                                         \
	  MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL) | MC_FAM_ACT(REDIRECT) | MC_FAM_ACT(TRUNCATE) |  \
	      MC_FAM_ANY_CALL,                                                                  \
	  MC_FAM_TRAIT(FILE), ENOENT,                                                           \
	  (EACCES, EBADF, EFAULT, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOMEM, ENOTDIR,         \
	   EOVERFLOW, /* stat(2), statx(2) */                                                   \
	   EIO, ESTALE /* nfs */))                                                              \
	/* The CUDA families fail with a CUDA error (`error =`, config/cudaerr.c), the same    \
	 * number in the runtime and the driver API; the errno columns hold its default. */    \
	X(CUDA_ALLOC, "cuda_alloc", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL),                       \
	  MC_FAM_TRAIT(SIZED) | MC_FAM_TRAIT(HEAP) | MC_FAM_TRAIT(CUDA), 2, (0))                \
	X(CUDA_LAUNCH, "cuda_launch", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL),                     \
	  MC_FAM_TRAIT(CUDA) | MC_FAM_TRAIT(POISON), 700, (0))                                  \
	X(CUDA_COPY, "cuda_copy", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL),                         \
	  MC_FAM_TRAIT(SIZED) | MC_FAM_TRAIT(CUDA) | MC_FAM_TRAIT(POISON), 700, (0))            \
	X(CUDA_INIT, "cuda_init", MC_FAM_ACT(DELAY) | MC_FAM_ACT(FAIL), MC_FAM_TRAIT(CUDA), 100, \
	  (0))

/* The system calls that do each family's work, X(ID, number): a program that makes them through
 * syscall() goes around the family's hooks, and `mlchaos trace` says so. Then the calls that go
 * around libc's I/O altogether (io_uring, aio, in-kernel copies) or around the fd table (close).
 * Expanded where <sys/syscall.h> is included (shim/trace.c); a number this architecture lacks
 * is MC_SYS_MISSING. */
#define MC_FAMILY_SYSCALLS(X)                                                                   \
	X(READ, SYS_read) X(READ, SYS_pread64) X(READ, SYS_readv) X(READ, SYS_preadv)          \
	X(READ, SYS_preadv2) X(READ, SYS_recvfrom) X(READ, SYS_recvmsg) X(READ, SYS_recvmmsg)  \
	X(SEND, SYS_sendto) X(SEND, SYS_sendmsg) X(SEND, SYS_sendmmsg)                         \
	X(WRITE, SYS_write) X(WRITE, SYS_pwrite64) X(WRITE, SYS_writev) X(WRITE, SYS_pwritev)  \
	X(WRITE, SYS_pwritev2)                                                                 \
	X(MALLOC, SYS_brk)                                                                     \
	X(MMAP, SYS_mmap) X(MMAP, SYS_mremap)                                                  \
	X(SLEEP, SYS_nanosleep) X(SLEEP, SYS_clock_nanosleep)                                  \
	X(OPEN, MC_SYS_open) X(OPEN, SYS_openat) X(OPEN, MC_SYS_openat2)                       \
	X(STAT, MC_SYS_stat) X(STAT, MC_SYS_lstat) X(STAT, SYS_fstat) X(STAT, SYS_newfstatat)  \
	X(STAT, SYS_statx)
/* The families whose work no system call of their own does (the CUDA ones: ioctls on the
 * driver's device files, which no rule could read), X(ID). */
#define MC_FAMILIES_WITHOUT_SYSCALLS(X) X(CUDA_ALLOC) X(CUDA_LAUNCH) X(CUDA_COPY) X(CUDA_INIT)
#define MC_AROUND_LIBC_SYSCALLS(X)                                                              \
	X(SYS_io_uring_setup) X(SYS_io_uring_enter) X(SYS_io_setup) X(SYS_io_submit)           \
	X(SYS_sendfile) X(SYS_splice) X(SYS_copy_file_range) X(SYS_close)
/* clang-format on */

#define MC_SYS_MISSING (-1L)
#ifdef SYS_open /* x86_64; newer architectures have openat alone */
#define MC_SYS_open SYS_open
#else
#define MC_SYS_open MC_SYS_MISSING
#endif
#ifdef SYS_openat2
#define MC_SYS_openat2 SYS_openat2
#else
#define MC_SYS_openat2 MC_SYS_MISSING
#endif
#ifdef SYS_stat
#define MC_SYS_stat  SYS_stat
#define MC_SYS_lstat SYS_lstat
#else
#define MC_SYS_stat  MC_SYS_MISSING
#define MC_SYS_lstat MC_SYS_MISSING
#endif

#endif
