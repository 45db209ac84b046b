/* hook_stat.c: the stat family: stat, lstat, fstat, fstatat, statx, their 64-bit names, and
 * the __xstat entry points that binaries built before glibc 2.33 call. A rule delays or
 * fails the call (a file that is not there, a volume that stalls), or with action = redirect
 * answers for another file, path calls only: paired with the open rule of a stale model, a
 * loader that sizes its buffer by stat sees the size and the time of the file it really
 * reads. A call on an fd is judged by the fd's file (`path` globs match the path it was
 * opened by). */
#include <fcntl.h>
#include <sys/stat.h>

#include "hook.h"
#include "pipeline.h"

/* The *at calls with an empty path and AT_EMPTY_PATH are calls on dirfd. */
static void at_call(struct mc_path_call *c)
{
	if (c->path && c->path[0] == '\0' && (c->flags & AT_EMPTY_PATH)) {
		c->on_fd = true;
		c->fd = c->dirfd;
	}
}

/* ---- the entry points ----
 * STAT_HOOK(name, parameters, its arguments, the real call's arguments from c, the fields of
 * struct mc_path_call): c->path is the one to look at (a redirect's target). */

#define STAT_HOOK(name, params, args, call_args, ...)                        \
	MC_PATH_ROW(name, MC_HOOK_STAT, 0, mc_real.name call_args)           \
	MC_EXPORT int name params                                            \
	{                                                                    \
		if (MC_PASS(MC_BIT_STAT))                                    \
			return mc_real.name args;                            \
		struct mc_path_call c = { .pc = MC_CALLER_PC, __VA_ARGS__ }; \
		at_call(&c);                                                 \
		return mc_pipe_path(&row_##name, &c);                        \
	}

#define PATH_ARGS .dirfd = AT_FDCWD, .path = path, .out = st
#define FD_ARGS   .on_fd = true, .fd = fd, .out = st
#define AT_ARGS   .dirfd = dirfd, .path = path, .flags = flags, .out = st

STAT_HOOK(stat, (const char *path, struct stat *st), (path, st), (c->path, c->out), PATH_ARGS)
STAT_HOOK(stat64, (const char *path, struct stat64 *st), (path, st), (c->path, c->out), PATH_ARGS)
STAT_HOOK(lstat, (const char *path, struct stat *st), (path, st), (c->path, c->out), PATH_ARGS)
STAT_HOOK(lstat64, (const char *path, struct stat64 *st), (path, st), (c->path, c->out), PATH_ARGS)
STAT_HOOK(fstat, (int fd, struct stat *st), (fd, st), (c->fd, c->out), FD_ARGS)
STAT_HOOK(fstat64, (int fd, struct stat64 *st), (fd, st), (c->fd, c->out), FD_ARGS)
STAT_HOOK(fstatat, (int dirfd, const char *path, struct stat *st, int flags),
          (dirfd, path, st, flags), (c->dirfd, c->path, c->out, c->flags), AT_ARGS)
STAT_HOOK(fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags),
          (dirfd, path, st, flags), (c->dirfd, c->path, c->out, c->flags), AT_ARGS)
STAT_HOOK(statx, (int dirfd, const char *path, int flags, unsigned int mask, struct statx *st),
          (dirfd, path, flags, mask, st), (c->dirfd, c->path, c->flags, c->mask, c->out), AT_ARGS,
          .mask = mask)
STAT_HOOK(__xstat, (int ver, const char *path, struct stat *st), (ver, path, st),
          (c->ver, c->path, c->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__xstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st),
          (c->ver, c->path, c->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__lxstat, (int ver, const char *path, struct stat *st), (ver, path, st),
          (c->ver, c->path, c->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__lxstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st),
          (c->ver, c->path, c->out), .ver = ver, PATH_ARGS)
STAT_HOOK(__fxstat, (int ver, int fd, struct stat *st), (ver, fd, st), (c->ver, c->fd, c->out),
          .ver = ver, FD_ARGS)
STAT_HOOK(__fxstat64, (int ver, int fd, struct stat64 *st), (ver, fd, st), (c->ver, c->fd, c->out),
          .ver = ver, FD_ARGS)
STAT_HOOK(__fxstatat, (int ver, int dirfd, const char *path, struct stat *st, int flags),
          (ver, dirfd, path, st, flags), (c->ver, c->dirfd, c->path, c->out, c->flags), .ver = ver,
          AT_ARGS)
STAT_HOOK(__fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *st, int flags),
          (ver, dirfd, path, st, flags), (c->ver, c->dirfd, c->path, c->out, c->flags), .ver = ver,
          AT_ARGS)
