/* hook_open.c: the open family (open, openat, creat, fopen, freopen and the
 * fortified __open_2 twins) and the calls that keep the fd table right:
 * close, fclose, dup, dup2, dup3, fcntl(F_DUPFD*), close_range. The table is
 * only maintained while some family is armed; an fd it does not know is
 * classified on first use, so nothing here is needed for correctness of the
 * host, only for naming files by the path the program used. */
#define _FCNTL_H_NO_OPEN_OVERLOADS
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "hook.h"

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* open(2): the mode argument exists only with O_CREAT or O_TMPFILE. */
static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static MC_COLD void note_open(enum mc_fn fn, int dirfd, const char *path, int fd)
{
	int saved = errno;
	mc_guard_enter();
	uint32_t id = mc_path_intern_at(dirfd, path, fd);
	if (fd >= 0)
		mc_fd_set_file(fd, id);
	if (mc_trace_enabled)
		mc_trace_file_path(fn, id, 0);
	mc_guard_leave();
	errno = saved;
}

#define OPEN_HOOK(name)                                              \
	MC_EXPORT int name(const char *path, int flags, ...)         \
	{                                                            \
		mode_t mode = 0;                                     \
		if (needs_mode(flags)) {                             \
			va_list ap;                                  \
			va_start(ap, flags);                         \
			mode = (mode_t)va_arg(ap, unsigned int);     \
			va_end(ap);                                  \
		}                                                    \
		int fd = mc_real.name(path, flags, mode);            \
		if (!MC_PASS(MC_BIT_OPEN))                           \
			note_open(MC_FN_##name, AT_FDCWD, path, fd); \
		return fd;                                           \
	}

#define OPENAT_HOOK(name)                                               \
	MC_EXPORT int name(int dirfd, const char *path, int flags, ...) \
	{                                                               \
		mode_t mode = 0;                                        \
		if (needs_mode(flags)) {                                \
			va_list ap;                                     \
			va_start(ap, flags);                            \
			mode = (mode_t)va_arg(ap, unsigned int);        \
			va_end(ap);                                     \
		}                                                       \
		int fd = mc_real.name(dirfd, path, flags, mode);        \
		if (!MC_PASS(MC_BIT_OPEN))                              \
			note_open(MC_FN_##name, dirfd, path, fd);       \
		return fd;                                              \
	}

OPEN_HOOK(open)
OPEN_HOOK(open64)
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)

MC_EXPORT int __open_2(const char *path, int flags)
{
	int fd = mc_real.__open_2(path, flags);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN___open_2, AT_FDCWD, path, fd);
	return fd;
}

MC_EXPORT int __open64_2(const char *path, int flags)
{
	int fd = mc_real.__open64_2(path, flags);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN___open64_2, AT_FDCWD, path, fd);
	return fd;
}

MC_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd = mc_real.__openat_2(dirfd, path, flags);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN___openat_2, dirfd, path, fd);
	return fd;
}

MC_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd = mc_real.__openat64_2(dirfd, path, flags);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN___openat64_2, dirfd, path, fd);
	return fd;
}

MC_EXPORT int creat(const char *path, mode_t mode)
{
	int fd = mc_real.creat(path, mode);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN_creat, AT_FDCWD, path, fd);
	return fd;
}

MC_EXPORT int creat64(const char *path, mode_t mode)
{
	int fd = mc_real.creat64(path, mode);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN_creat64, AT_FDCWD, path, fd);
	return fd;
}

static int fd_of(FILE *f)
{
	return f ? fileno_unlocked(f) : -1;
}

MC_EXPORT FILE *fopen(const char *path, const char *mode)
{
	FILE *f = mc_real.fopen(path, mode);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN_fopen, AT_FDCWD, path, fd_of(f));
	return f;
}

MC_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	FILE *f = mc_real.fopen64(path, mode);
	if (!MC_PASS(MC_BIT_OPEN))
		note_open(MC_FN_fopen64, AT_FDCWD, path, fd_of(f));
	return f;
}

/* freopen closes the stream's old fd and opens path (usually on the same
 * number); with a NULL path it only changes the mode of the same file. */
static MC_COLD FILE *freopen_slow(enum mc_fn fn, const char *path, const char *mode, FILE *f)
{
	int old_fd = fd_of(f);
	uint64_t snap = mc_fd_snapshot(old_fd);
	FILE *r =
	    fn == MC_FN_freopen ? mc_real.freopen(path, mode, f) : mc_real.freopen64(path, mode, f);
	if (path) {
		mc_fd_forget_snapshot(old_fd, snap);
		note_open(fn, AT_FDCWD, path, fd_of(r));
	}
	return r;
}

MC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.freopen(path, mode, f);
	return freopen_slow(MC_FN_freopen, path, mode, f);
}

MC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.freopen64(path, mode, f);
	return freopen_slow(MC_FN_freopen64, path, mode, f);
}

/* ---- closing and duplicating ------------------------------------------------- */

/* The entry is cleared after the real close, and only if it still holds
 * what it held before: another thread may have been given the same number
 * for a new file in between. Linux closes the fd even when close fails with
 * EINTR, so the entry goes whatever close returns. */
MC_EXPORT int close(int fd)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.close(fd);
	uint64_t snap = mc_fd_snapshot(fd);
	int r = mc_real.close(fd);
	FD_UPDATE(mc_fd_forget_snapshot(fd, snap));
	return r;
}

MC_EXPORT int fclose(FILE *f)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.fclose(f);
	int fd = fd_of(f);
	uint64_t snap = mc_fd_snapshot(fd);
	int r = mc_real.fclose(f);
	FD_UPDATE(mc_fd_forget_snapshot(fd, snap));
	return r;
}

MC_EXPORT int dup(int fd)
{
	int r = mc_real.dup(fd);
	if (r >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_copy(fd, r));
	return r;
}

MC_EXPORT int dup2(int fd, int fd2)
{
	int r = mc_real.dup2(fd, fd2);
	if (r >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_copy(fd, r));
	return r;
}

MC_EXPORT int dup3(int fd, int fd2, int flags)
{
	int r = mc_real.dup3(fd, fd2, flags);
	if (r >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_copy(fd, r));
	return r;
}

static bool is_dupfd(int cmd)
{
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

/* fcntl's third argument is an int or a pointer depending on cmd; it is
 * passed through as a word, as the kernel's own prototype does. */
MC_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	int r = mc_real.fcntl(fd, cmd, arg);
	if (r >= 0 && is_dupfd(cmd) && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_copy(fd, r));
	return r;
}

MC_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	int r = mc_real.fcntl64(fd, cmd, arg);
	if (r >= 0 && is_dupfd(cmd) && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_copy(fd, r));
	return r;
}

MC_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int r = mc_real.close_range(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_forget_range(first, last));
	return r;
}
