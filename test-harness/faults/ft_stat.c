/* ft_stat.c: the stat family under the real library: fail and delay on stat, lstat, fstat,
 * fstatat, statx and the __xstat entry points of binaries built before glibc 2.33, with
 * `path` globs choosing the files (an fd is judged by the file it was opened on); and
 * redirect, the stat half of a stale model: a path call answers for the file the open rule
 * really opens, a call on an fd is not redirected (its file is the one it opened) and is
 * logged so. The event log and the counters say what happened. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ft.h"

/* Exported by glibc for old binaries, declared by it no more. */
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);

#define STAT_VER 1 /* _STAT_VER_LINUX on x86-64 */

enum fn {
	FN_STAT,
	FN_LSTAT,
	FN_FSTAT,
	FN_FSTATAT,
	FN_FSTATAT_EMPTY,
	FN_STATX,
	FN_XSTAT,
	FN_LXSTAT,
	FN_FXSTAT,
	FN_FXSTATAT,
	FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
	"stat",  "lstat",   "fstat",    "fstatat",  "fstatat (AT_EMPTY_PATH)",
	"statx", "__xstat", "__lxstat", "__fxstat", "__fxstatat",
};

/* The size fn says dir/sub/name has, or -1 with errno. */
static long long size_by(enum fn fn, const char *dir, const char *sub, const char *name)
{
	char path[4096 + 256];
	struct stat st;
	struct statx stx;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	int r = -1, fd = -1;
	switch (fn) {
	case FN_STAT:
		r = stat(path, &st);
		break;
	case FN_LSTAT:
		r = lstat(path, &st);
		break;
	case FN_FSTAT:
	case FN_FSTATAT_EMPTY:
	case FN_FXSTAT:
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		r = fn == FN_FSTAT    ? fstat(fd, &st)
		    : fn == FN_FXSTAT ? __fxstat(STAT_VER, fd, &st)
		                      : fstatat(fd, "", &st, AT_EMPTY_PATH);
		break;
	case FN_FSTATAT:
		r = fstatat(AT_FDCWD, path, &st, 0);
		break;
	case FN_STATX:
		r = statx(AT_FDCWD, path, 0, STATX_SIZE, &stx);
		st.st_size = (off_t)stx.stx_size;
		break;
	case FN_XSTAT:
		r = __xstat(STAT_VER, path, &st);
		break;
	case FN_LXSTAT:
		r = __lxstat(STAT_VER, path, &st);
		break;
	case FN_FXSTATAT:
		r = __fxstatat(STAT_VER, AT_FDCWD, path, &st, 0);
		break;
	default:
		break;
	}
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return r == 0 ? (long long)st.st_size : -1;
}

static bool on_fd(enum fn fn)
{
	return fn == FN_FSTAT || fn == FN_FSTATAT_EMPTY || fn == FN_FXSTAT;
}

static void expect_size(enum fn fn, const char *dir, const char *sub, const char *name,
                        long long want)
{
	errno = 0;
	long long got = size_by(fn, dir, sub, name);
	FT_CHECKF(got == want, "%s of %s/%s: size %lld (%s), expected %lld", fn_names[fn], sub,
	          name, got, got < 0 ? strerror(errno) : "", want);
}

static void expect_errno(enum fn fn, const char *dir, const char *sub, const char *name, int err)
{
	errno = 0;
	long long got = size_by(fn, dir, sub, name);
	int e = errno;
	FT_CHECKF(got < 0 && e == err, "%s of %s/%s: %lld errno %d, expected errno %d",
	          fn_names[fn], sub, name, got, e, err);
}

/* child: DIR ERRNO: the .bin files of models/ fail with ERRNO through every function (an fd opened
 * on one, too); models/a.txt and elsewhere/a.bin do not. */
static void child_fail(int argc, char **argv)
{
	const char *dir = argv[1];
	int err = (int)ft_arg_ll(argc, argv, 2);
	for (int fn = 0; fn < FN_COUNT; fn++) {
		expect_errno(fn, dir, "models", "current.bin", err);
		expect_size(fn, dir, "models", "a.txt", 5);
		expect_size(fn, dir, "elsewhere", "a.bin", 10);
	}
}

/* child: DIR: models/current.bin answers for models/previous.bin (9 bytes) through every
 * path call; calls on an fd opened on it see its own 8 bytes. */
static void child_redirect(int argc, char **argv)
{
	(void)argc;
	const char *dir = argv[1];
	for (int fn = 0; fn < FN_COUNT; fn++) {
		expect_size(fn, dir, "models", "current.bin", on_fd(fn) ? 8 : 9);
		expect_size(fn, dir, "models", "other.bin", 6);
	}
}

/* child: DIR: stats of the .bin files of models/ take 30 ms longer, others do not. */
static void child_delay(int argc, char **argv)
{
	(void)argc;
	const char *dir = argv[1];
	for (int fn = 0; fn < FN_COUNT; fn++) {
		uint64_t t0 = ft_now_ns();
		expect_size(fn, dir, "models", "current.bin", 8);
		uint64_t dt = ft_now_ns() - t0;
		FT_CHECKF(dt >= 30000000u, "%s of models/current.bin took %.3f ms", fn_names[fn],
		          (double)dt / 1e6);
		uint64_t best = UINT64_MAX;
		for (int i = 0; i < FT_UNDELAYED_TRIES && best >= 30000000u; i++) {
			t0 = ft_now_ns();
			expect_size(fn, dir, "elsewhere", "a.bin", 10);
			dt = ft_now_ns() - t0;
			best = dt < best ? dt : best;
		}
		FT_CHECKF(best < 30000000u, "%s of elsewhere/a.bin: %.3f ms at best, delay 30 ms",
		          fn_names[fn], (double)best / 1e6);
	}
}

/* ---- parent ---------------------------------------------------------------------------- */

/* Lines of the event log at path holding every one of the strings (NULL-terminated). */
static int log_lines_with(const char *path, ...)
{
	size_t len = 0;
	char *text = ft_slurp(path, &len);
	int n = 0;
	for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		va_list ap;
		va_start(ap, path);
		bool all = true;
		for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
			all = all && strstr(line, s);
		va_end(ap);
		n += all;
	}
	free(text);
	return n;
}

static void test_fail(void)
{
	char err[16];
	ft_models_tree();
	snprintf(err, sizeof(err), "%d", ENOENT);
	ft_run_child(ft_config("c.ini", "[fault.gone]\nhook = stat\naction = fail\n"
	                                "path = */models/*.bin\n"),
	             "fail", err);
	snprintf(err, sizeof(err), "%d", EACCES);
	ft_run_child(ft_config("d.ini", "[fault.no-access]\nhook = stat\naction = fail\n"
	                                "path = */models/*.bin\nerrno = EACCES\n"),
	             "fail", err);
}

static void test_redirect(void)
{
	ft_models_tree();
	const char *log = ft_path("events.jsonl");
	ft_run_child(ft_config("c.ini",
	                       "[mlchaos]\nlog = %s\n"
	                       "[fault.stale-size]\nhook = stat\naction = redirect\n"
	                       "path = */models/current.bin\nto = %s\n",
	                       log, ft_path("models/previous.bin")),
	             "redirect", "");
	/* every call on a path: applied; the three on an fd: logged, not applied */
	int applied = log_lines_with(log, "\"event\":\"fault\"", "\"hook\":\"stat\"",
	                             "\"action\":\"redirect\"", "\"applied\":true", NULL);
	int not_applied = log_lines_with(log, "\"event\":\"fault\"", "\"applied\":false",
	                                 "its file is the one it opened", NULL);
	FT_CHECKF(applied == FN_COUNT - 3, "%d redirects applied, expected %d", applied,
	          FN_COUNT - 3);
	FT_CHECKF(not_applied == 3, "%d redirects on fds logged as not applied, expected 3",
	          not_applied);
}

static void test_delay(void)
{
	ft_models_tree();
	ft_run_child(ft_config("c.ini", "[fault.slow-stat]\nhook = stat\naction = delay\n"
	                                "path = */models/*.bin\ndelay = 30ms\n"),
	             "delay", "");
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "fail", child_fail },
		{ "redirect", child_redirect },
		{ "delay", child_delay },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "fail", test_fail },
		{ "redirect", test_redirect },
		{ "delay", test_delay },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
