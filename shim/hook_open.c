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
#include "pipeline.h"
#include "request.h"

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

static int fd_of(FILE *f)
{
	return f ? fileno_unlocked(f) : -1;
}

#define OPEN_ROW(name, expr)  MC_PATH_ROW(name, MC_HOOK_OPEN, MC_PIPE_OPENS, expr)
#define FOPEN_ROW(name, expr) MC_PATH_ROW(name, MC_HOOK_OPEN, FOPEN, fd_of(c->opened = expr))
#define FOPEN                 (MC_PIPE_OPENS | MC_PIPE_STDIO)

OPEN_ROW(open, mc_real.open(c->path, c->flags, c->mode))
OPEN_ROW(open64, mc_real.open64(c->path, c->flags, c->mode))
OPEN_ROW(openat, mc_real.openat(c->dirfd, c->path, c->flags, c->mode))
OPEN_ROW(openat64, mc_real.openat64(c->dirfd, c->path, c->flags, c->mode))
OPEN_ROW(__open_2, mc_real.__open_2(c->path, c->flags))
OPEN_ROW(__open64_2, mc_real.__open64_2(c->path, c->flags))
OPEN_ROW(__openat_2, mc_real.__openat_2(c->dirfd, c->path, c->flags))
OPEN_ROW(__openat64_2, mc_real.__openat64_2(c->dirfd, c->path, c->flags))
OPEN_ROW(creat, mc_real.creat(c->path, c->mode))
OPEN_ROW(creat64, mc_real.creat64(c->path, c->mode))
FOPEN_ROW(fopen, mc_real.fopen(c->path, c->fmode))
FOPEN_ROW(fopen64, mc_real.fopen64(c->path, c->fmode))
FOPEN_ROW(freopen, mc_real.freopen(c->path, c->fmode, c->stream))
FOPEN_ROW(freopen64, mc_real.freopen64(c->path, c->fmode, c->stream))

/* The hook of an open: the pass-through test, then the pipeline with the call's arguments
 * (the named fields of struct mc_path_call). */
#define OPEN_PIPE(name, at, args, ...)                                                          \
	if (MC_PASS(MC_BIT_OPEN))                                                               \
		return mc_real.name args;                                                       \
	struct mc_path_call c = { .pc = MC_CALLER_PC, .path = path, .dirfd = at, __VA_ARGS__ }; \
	return mc_pipe_path(&row_##name, &c)

#define FOPEN_PIPE(name, args, ...)                                                             \
	if (MC_PASS(MC_BIT_OPEN))                                                               \
		return mc_real.name args;                                                       \
	struct mc_path_call c = {                                                               \
		.pc = MC_CALLER_PC, .path = path, .dirfd = AT_FDCWD, .fmode = mode, __VA_ARGS__ \
	};                                                                                      \
	mc_pipe_path(&row_##name, &c);                                                          \
	return c.opened

/* open(2): the mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(mode)                                              \
	mode_t mode = 0;                                             \
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) { \
		va_list ap;                                          \
		va_start(ap, flags);                                 \
		mode = (mode_t)va_arg(ap, unsigned int);             \
		va_end(ap);                                          \
	}

MC_EXPORT int open(const char *path, int flags, ...)
{
	OPEN_MODE(mode);
	OPEN_PIPE(open, AT_FDCWD, (path, flags, mode), .flags = flags, .mode = mode);
}

MC_EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_MODE(mode);
	OPEN_PIPE(open64, AT_FDCWD, (path, flags, mode), .flags = flags, .mode = mode);
}

MC_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(mode);
	OPEN_PIPE(openat, dirfd, (dirfd, path, flags, mode), .flags = flags, .mode = mode);
}

MC_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(mode);
	OPEN_PIPE(openat64, dirfd, (dirfd, path, flags, mode), .flags = flags, .mode = mode);
}

MC_EXPORT int __open_2(const char *path, int flags)
{
	OPEN_PIPE(__open_2, AT_FDCWD, (path, flags), .flags = flags);
}

MC_EXPORT int __open64_2(const char *path, int flags)
{
	OPEN_PIPE(__open64_2, AT_FDCWD, (path, flags), .flags = flags);
}

MC_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	OPEN_PIPE(__openat_2, dirfd, (dirfd, path, flags), .flags = flags);
}

MC_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	OPEN_PIPE(__openat64_2, dirfd, (dirfd, path, flags), .flags = flags);
}

MC_EXPORT int creat(const char *path, mode_t mode)
{
	OPEN_PIPE(creat, AT_FDCWD, (path, mode), .mode = mode);
}

MC_EXPORT int creat64(const char *path, mode_t mode)
{
	OPEN_PIPE(creat64, AT_FDCWD, (path, mode), .mode = mode);
}

MC_EXPORT FILE *fopen(const char *path, const char *mode)
{
	FOPEN_PIPE(fopen, (path, mode));
}

MC_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	FOPEN_PIPE(fopen64, (path, mode));
}

/* freopen closes the stream's old fd and opens path (usually on the same
 * number); with a NULL path it only changes the mode of the same file. */
MC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	FOPEN_PIPE(freopen, (path, mode, f), .stream = f);
}

MC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	FOPEN_PIPE(freopen64, (path, mode, f), .stream = f);
}

/* ---- closing and duplicating ------------------------------------------------- */

/* The entry and the connection's request key are cleared after the real
 * close, and only if they still hold what they held before: another thread
 * may have been given the same number for a new file or connection in
 * between. Linux closes the fd even when close fails with
 * EINTR, so the entry goes whatever close returns. */
MC_EXPORT int close(int fd)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.close(fd);
	uint64_t snap = mc_fd_snapshot(fd);
	uint32_t key_snap = mc_request_close_snapshot(fd);
	int r = mc_real.close(fd);
	FD_UPDATE(mc_fd_forget_snapshot(fd, snap); mc_request_on_close(fd, key_snap));
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
