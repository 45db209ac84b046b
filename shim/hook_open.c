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

#include "fault.h"
#include "hook.h"
#include "request.h"

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* open(2): the mode argument exists only with O_CREAT or O_TMPFILE. */
static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* One open call of any kind: the path decided on, then the real call. */
struct open_args {
	enum mc_fn fn;
	int dirfd;
	int flags;
	mode_t mode;
	const char *fmode; /* fopen/freopen */
	FILE *stream;      /* freopen */
};

static int real_open(const struct open_args *a, const char *path)
{
	switch (a->fn) {
	case MC_FN_open:
		return mc_real.open(path, a->flags, a->mode);
	case MC_FN_open64:
		return mc_real.open64(path, a->flags, a->mode);
	case MC_FN_openat:
		return mc_real.openat(a->dirfd, path, a->flags, a->mode);
	case MC_FN_openat64:
		return mc_real.openat64(a->dirfd, path, a->flags, a->mode);
	case MC_FN___open_2:
		return mc_real.__open_2(path, a->flags);
	case MC_FN___open64_2:
		return mc_real.__open64_2(path, a->flags);
	case MC_FN___openat_2:
		return mc_real.__openat_2(a->dirfd, path, a->flags);
	case MC_FN___openat64_2:
		return mc_real.__openat64_2(a->dirfd, path, a->flags);
	case MC_FN_creat:
		return mc_real.creat(path, a->mode);
	case MC_FN_creat64:
		return mc_real.creat64(path, a->mode);
	default:
		errno = ENOSYS;
		return -1;
	}
}

static FILE *real_fopen(const struct open_args *a, const char *path)
{
	switch (a->fn) {
	case MC_FN_fopen:
		return mc_real.fopen(path, a->fmode);
	case MC_FN_fopen64:
		return mc_real.fopen64(path, a->fmode);
	case MC_FN_freopen:
		return mc_real.freopen(path, a->fmode, a->stream);
	case MC_FN_freopen64:
		return mc_real.freopen64(path, a->fmode, a->stream);
	default:
		errno = ENOSYS;
		return NULL;
	}
}

static int fd_of(FILE *f)
{
	return f ? fileno_unlocked(f) : -1;
}

/* The rules' verdict on opening path: false when the open must fail (errno
 * set); *path and *id change when a redirect rule sends it elsewhere. */
static bool open_gate(const struct open_args *a, const char **path, uint32_t *id)
{
	*id = mc_path_intern_at(a->dirfd, *path, -1);
	struct mc_fault f;
	if (!mc_fault_has(MC_HOOK_OPEN) || !mc_fault_decide_path(&f, MC_HOOK_OPEN, a->fn, *id))
		return true;
	if (!mc_fault_before(&f, NULL))
		return false;
	if (mc_fault_redirect(&f)) {
		*path = f.d.to; /* absolute: the validator requires it */
		*id = mc_path_intern_at(AT_FDCWD, f.d.to, -1);
	}
	return true;
}

static void opened(const struct open_args *a, int fd, uint32_t id)
{
	if (fd >= 0) {
		mc_fd_set_file(fd, id);
		mc_fault_file_opened(fd, id); /* region = tensors: the file's tensor map */
	}
	if (mc_trace_enabled)
		mc_trace_file_path(a->fn, id, 0);
}

static MC_COLD int open_slow(const struct open_args *a, const char *path)
{
	uint32_t id;
	mc_guard_enter();
	if (!open_gate(a, &path, &id)) {
		int e = errno;
		mc_guard_leave();
		errno = e;
		return -1;
	}
	int fd = real_open(a, path);
	int e = errno;
	opened(a, fd, id);
	mc_guard_leave();
	errno = e;
	return fd;
}

static MC_COLD FILE *fopen_slow(const struct open_args *a, const char *path)
{
	uint32_t id = 0;
	int old_fd = fd_of(a->stream);
	uint64_t snap = mc_fd_snapshot(old_fd);
	mc_guard_enter();
	/* freopen(NULL, ...) reopens the same file with another mode */
	if (path && !open_gate(a, &path, &id)) {
		int e = errno;
		mc_guard_leave();
		errno = e;
		return NULL;
	}
	FILE *f = real_fopen(a, path);
	int e = errno;
	if (path) {
		if (a->stream)
			mc_fd_forget_snapshot(old_fd, snap);
		opened(a, fd_of(f), id);
	}
	mc_guard_leave();
	errno = e;
	return f;
}

#define OPEN_HOOK(name)                                                                     \
	MC_EXPORT int name(const char *path, int flags, ...)                                \
	{                                                                                   \
		mode_t mode = 0;                                                            \
		if (needs_mode(flags)) {                                                    \
			va_list ap;                                                         \
			va_start(ap, flags);                                                \
			mode = (mode_t)va_arg(ap, unsigned int);                            \
			va_end(ap);                                                         \
		}                                                                           \
		if (MC_PASS(MC_BIT_OPEN))                                                   \
			return mc_real.name(path, flags, mode);                             \
		struct open_args a = {                                                      \
			.fn = MC_FN_##name, .dirfd = AT_FDCWD, .flags = flags, .mode = mode \
		};                                                                          \
		return open_slow(&a, path);                                                 \
	}

#define OPENAT_HOOK(name)                                                                \
	MC_EXPORT int name(int dirfd, const char *path, int flags, ...)                  \
	{                                                                                \
		mode_t mode = 0;                                                         \
		if (needs_mode(flags)) {                                                 \
			va_list ap;                                                      \
			va_start(ap, flags);                                             \
			mode = (mode_t)va_arg(ap, unsigned int);                         \
			va_end(ap);                                                      \
		}                                                                        \
		if (MC_PASS(MC_BIT_OPEN))                                                \
			return mc_real.name(dirfd, path, flags, mode);                   \
		struct open_args a = {                                                   \
			.fn = MC_FN_##name, .dirfd = dirfd, .flags = flags, .mode = mode \
		};                                                                       \
		return open_slow(&a, path);                                              \
	}

OPEN_HOOK(open)
OPEN_HOOK(open64)
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)

MC_EXPORT int __open_2(const char *path, int flags)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.__open_2(path, flags);
	struct open_args a = { .fn = MC_FN___open_2, .dirfd = AT_FDCWD, .flags = flags };
	return open_slow(&a, path);
}

MC_EXPORT int __open64_2(const char *path, int flags)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.__open64_2(path, flags);
	struct open_args a = { .fn = MC_FN___open64_2, .dirfd = AT_FDCWD, .flags = flags };
	return open_slow(&a, path);
}

MC_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.__openat_2(dirfd, path, flags);
	struct open_args a = { .fn = MC_FN___openat_2, .dirfd = dirfd, .flags = flags };
	return open_slow(&a, path);
}

MC_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.__openat64_2(dirfd, path, flags);
	struct open_args a = { .fn = MC_FN___openat64_2, .dirfd = dirfd, .flags = flags };
	return open_slow(&a, path);
}

MC_EXPORT int creat(const char *path, mode_t mode)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.creat(path, mode);
	struct open_args a = { .fn = MC_FN_creat, .dirfd = AT_FDCWD, .mode = mode };
	return open_slow(&a, path);
}

MC_EXPORT int creat64(const char *path, mode_t mode)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.creat64(path, mode);
	struct open_args a = { .fn = MC_FN_creat64, .dirfd = AT_FDCWD, .mode = mode };
	return open_slow(&a, path);
}

MC_EXPORT FILE *fopen(const char *path, const char *mode)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.fopen(path, mode);
	struct open_args a = { .fn = MC_FN_fopen, .dirfd = AT_FDCWD, .fmode = mode };
	return fopen_slow(&a, path);
}

MC_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.fopen64(path, mode);
	struct open_args a = { .fn = MC_FN_fopen64, .dirfd = AT_FDCWD, .fmode = mode };
	return fopen_slow(&a, path);
}

/* freopen closes the stream's old fd and opens path (usually on the same
 * number); with a NULL path it only changes the mode of the same file. */
MC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.freopen(path, mode, f);
	struct open_args a = { .fn = MC_FN_freopen, .dirfd = AT_FDCWD, .fmode = mode, .stream = f };
	return fopen_slow(&a, path);
}

MC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	if (MC_PASS(MC_BIT_OPEN))
		return mc_real.freopen64(path, mode, f);
	struct open_args a = {
		.fn = MC_FN_freopen64, .dirfd = AT_FDCWD, .fmode = mode, .stream = f
	};
	return fopen_slow(&a, path);
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
