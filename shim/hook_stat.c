/* hook_stat.c: the stat family: stat, lstat, fstat, fstatat, statx, their 64-bit names, and
 * the __xstat entry points that binaries built before glibc 2.33 call. A rule delays or
 * fails the call (a file that is not there, a volume that stalls), or with action = redirect
 * answers for another file, path calls only: paired with the open rule of a stale model, a
 * loader that sizes its buffer by stat sees the size and the time of the file it really
 * reads. A call on an fd is judged by the fd's file (`path` globs match the path it was
 * opened by). */
#include <fcntl.h>
#include <sys/stat.h>

#include "fault.h"
#include "hook.h"

/* One call, whatever its shape. */
struct stat_args {
	enum mc_fn fn;
	int ver;          /* __xstat and kin: the structure's version */
	int dirfd;        /* AT_FDCWD for plain path calls */
	const char *path; /* the path given (NULL for fstat) */
	bool on_fd;       /* fstat, and the *at calls with "" and AT_EMPTY_PATH: on fd */
	int fd;
	int flags;
	unsigned int mask; /* statx */
	void *out;         /* struct stat, stat64 or statx */
};

typedef int (*stat_call_fn)(const struct stat_args *a, const char *path);

/* The *at calls with an empty path and AT_EMPTY_PATH are calls on dirfd. */
static void at_call(struct stat_args *a)
{
	if (a->path && a->path[0] == '\0' && (a->flags & AT_EMPTY_PATH)) {
		a->on_fd = true;
		a->fd = a->dirfd;
	}
}

/* The interned path of a path call (0 when there is none to be had: a NULL path fails with
 * EFAULT in the real call). */
static uint32_t path_id(const struct stat_args *a)
{
	return a->path ? mc_path_intern_at(a->dirfd, a->path, -1) : 0;
}

/* The rules' verdict: false when the call must fail (errno set); *path changes when a
 * redirect rule answers for another file. Guard held. */
static bool stat_gate(const struct stat_args *a, const char **path)
{
	struct mc_fault f;
	bool acted;
	if (a->on_fd) {
		struct mc_fd_info fdi;
		mc_fd_lookup(a->fd, &fdi);
		acted = mc_fault_decide_fd(&f, MC_HOOK_STAT, a->fn, a->fd, &fdi, 0);
	} else {
		acted = mc_fault_decide_path(&f, MC_HOOK_STAT, a->fn, path_id(a));
	}
	if (!acted)
		return true;
	if (!mc_fault_before(&f, NULL))
		return false;
	if (f.d.action == MC_ACTION_REDIRECT && a->on_fd)
		mc_fault_not_applied(&f, "a call on an fd: its file is the one it opened");
	else if (mc_fault_redirect(&f))
		*path = f.d.to; /* absolute: the validator requires it */
	return true;
}

static MC_COLD int stat_slow(stat_call_fn call, const struct stat_args *a)
{
	struct mc_hookcall c;
	const char *path = a->path;
	mc_call_begin(&c, a->fn, a->on_fd ? a->fd : -1);
	if (mc_fault_has(MC_HOOK_STAT) && !stat_gate(a, &path)) {
		mc_call_end_fd(&c, -1);
		return -1;
	}
	int r = call(a, path);
	if (mc_trace_enabled && !a->on_fd) {
		int e = errno;
		mc_trace_file_path(a->fn, path_id(a), 0);
		errno = e;
	}
	mc_call_end_fd(&c, r < 0 ? -1 : 0);
	return r;
}

/* ---- the entry points ----
 * STAT_HOOK(name, parameters, its arguments, the real call's arguments from a and path,
 * the fields of struct stat_args): path is the one to look at (a redirect's target). */

#define STAT_HOOK(name, params, args, call_args, ...)                       \
	static int call_##name(const struct stat_args *a, const char *path) \
	{                                                                   \
		(void)path;                                                 \
		return mc_real.name call_args;                              \
	}                                                                   \
	MC_EXPORT int name params                                           \
	{                                                                   \
		if (MC_PASS(MC_BIT_STAT))                                   \
			return mc_real.name args;                           \
		struct stat_args a = { .fn = MC_FN_##name, __VA_ARGS__ };   \
		at_call(&a);                                                \
		return stat_slow(call_##name, &a);                          \
	}

#define PATH_ARGS .dirfd = AT_FDCWD, .path = path, .out = st
#define FD_ARGS   .on_fd = true, .fd = fd, .out = st
#define AT_ARGS   .dirfd = dirfd, .path = path, .flags = flags, .out = st

STAT_HOOK(stat, (const char *path, struct stat *st), (path, st), (path, a->out), PATH_ARGS)
STAT_HOOK(stat64, (const char *path, struct stat64 *st), (path, st), (path, a->out), PATH_ARGS)
STAT_HOOK(lstat, (const char *path, struct stat *st), (path, st), (path, a->out), PATH_ARGS)
STAT_HOOK(lstat64, (const char *path, struct stat64 *st), (path, st), (path, a->out), PATH_ARGS)
STAT_HOOK(fstat, (int fd, struct stat *st), (fd, st), (a->fd, a->out), FD_ARGS)
STAT_HOOK(fstat64, (int fd, struct stat64 *st), (fd, st), (a->fd, a->out), FD_ARGS)
STAT_HOOK(fstatat, (int dirfd, const char *path, struct stat *st, int flags),
          (dirfd, path, st, flags), (a->dirfd, path, a->out, a->flags), AT_ARGS)
STAT_HOOK(fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags),
          (dirfd, path, st, flags), (a->dirfd, path, a->out, a->flags), AT_ARGS)
STAT_HOOK(statx, (int dirfd, const char *path, int flags, unsigned int mask, struct statx *st),
          (dirfd, path, flags, mask, st), (a->dirfd, path, a->flags, a->mask, a->out), AT_ARGS,
          .mask = mask)
STAT_HOOK(__xstat, (int ver, const char *path, struct stat *st), (ver, path, st),
          (a->ver, path, a->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__xstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st),
          (a->ver, path, a->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__lxstat, (int ver, const char *path, struct stat *st), (ver, path, st),
          (a->ver, path, a->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__lxstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st),
          (a->ver, path, a->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__fxstat, (int ver, int fd, struct stat *st), (ver, fd, st), (a->ver, a->fd, a->out),
          .ver = ver, FD_ARGS)
STAT_HOOK(__fxstat64, (int ver, int fd, struct stat64 *st), (ver, fd, st), (a->ver, a->fd, a->out),
          .ver = ver, FD_ARGS)
STAT_HOOK(__fxstatat, (int ver, int dirfd, const char *path, struct stat *st, int flags),
          (ver, dirfd, path, st, flags), (a->ver, a->dirfd, path, a->out, a->flags), .ver = ver,
          AT_ARGS)
STAT_HOOK(__fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *st, int flags),
          (ver, dirfd, path, st, flags), (a->ver, a->dirfd, path, a->out, a->flags), .ver = ver,
          AT_ARGS)
