/* ft_open.c: the open family under the real library: redirect (a stale model: the program
 * reads the other file's bytes) and fail on open, openat and fopen, with `path` globs choosing
 * the files; a file the glob does not match is untouched. Never writes the model files: the
 * parent checks they still hold what it put there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ft.h"

enum fn { FN_OPEN, FN_OPENAT, FN_FOPEN, FN_OPEN_RELATIVE, FN_COUNT };

static const char *const fn_names[FN_COUNT] = { "open", "openat", "fopen", "open (relative path)" };

/* Opens dir/sub/name with fn and returns its first line (static buffer), or NULL with errno. */
static const char *open_and_read(enum fn fn, const char *dir, const char *sub, const char *name)
{
	static char line[128];
	char path[4096 + 256], subdir[4096];
	snprintf(subdir, sizeof(subdir), "%s/%s", dir, sub);
	snprintf(path, sizeof(path), "%s/%s", subdir, name);
	int fd = -1;
	switch (fn) {
	case FN_OPEN:
		fd = open(path, O_RDONLY);
		break;
	case FN_OPENAT: {
		int dfd = open(subdir, O_RDONLY | O_DIRECTORY);
		fd = openat(dfd, name, O_RDONLY);
		int e = errno;
		close(dfd);
		errno = e;
		break;
	}
	case FN_FOPEN: {
		FILE *f = fopen(path, "r");
		if (!f)
			return NULL;
		char *got = fgets(line, sizeof(line), f);
		fclose(f);
		return got ? line : "";
	}
	case FN_OPEN_RELATIVE:
		if (chdir(subdir) != 0)
			return NULL;
		fd = open(name, O_RDONLY);
		break;
	default:
		break;
	}
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	char *nl = strchr(line, '\n');
	if (nl)
		nl[1] = '\0';
	return line;
}

static void expect_text(enum fn fn, const char *dir, const char *sub, const char *name,
                        const char *want)
{
	errno = 0;
	const char *got = open_and_read(fn, dir, sub, name);
	FT_CHECKF(got && strcmp(got, want) == 0, "%s of %s/%s: read '%s' (%s), expected '%s'",
	          fn_names[fn], sub, name, got ? got : "(failed)", got ? "" : strerror(errno),
	          want);
}

static void expect_errno(enum fn fn, const char *dir, const char *sub, const char *name, int err)
{
	errno = 0;
	const char *got = open_and_read(fn, dir, sub, name);
	int e = errno;
	FT_CHECKF(!got && e == err, "%s of %s/%s: %s '%s' errno %d, expected errno %d",
	          fn_names[fn], sub, name, got ? "read" : "failed", got ? got : "", e, err);
}

/* child: DIR TIMES: models/current.bin opens models/previous.bin through every function, the
 * first TIMES opens only (0: always); models/other.bin opens itself. */
static void child_redirect(int argc, char **argv)
{
	const char *dir = argv[1];
	long times = (long)ft_arg_ll(argc, argv, 2);
	long opens = 0;
	for (int round = 0; round < 2; round++) {
		for (int fn = 0; fn < FN_COUNT; fn++) {
			bool redirected = times == 0 || opens < times;
			expect_text(fn, dir, "models", "current.bin",
			            redirected ? "previous\n" : "current\n");
			opens++;
			expect_text(fn, dir, "models", "other.bin", "other\n");
		}
	}
}

/* child: DIR ERRNO: files under models/ ending in .bin fail to open with ERRNO; models/a.txt
 * and elsewhere/a.bin open. */
static void child_fail(int argc, char **argv)
{
	const char *dir = argv[1];
	int err = (int)ft_arg_ll(argc, argv, 2);
	for (int fn = 0; fn < FN_COUNT; fn++) {
		expect_errno(fn, dir, "models", "current.bin", err);
		expect_errno(fn, dir, "models", "other.bin", err);
		expect_text(fn, dir, "models", "a.txt", "text\n");
		expect_text(fn, dir, "elsewhere", "a.bin", "elsewhere\n");
	}
}

/* child: DIR: opens of the models' .bin files take 30 ms longer, other opens do not. */
static void child_delay(int argc, char **argv)
{
	(void)argc;
	const char *dir = argv[1];
	for (int fn = 0; fn < FN_COUNT; fn++) {
		uint64_t t0 = ft_now_ns();
		expect_text(fn, dir, "models", "current.bin", "current\n");
		uint64_t dt = ft_now_ns() - t0;
		FT_CHECKF(dt >= 30000000u, "%s of models/current.bin took %.3f ms", fn_names[fn],
		          (double)dt / 1e6);
		/* not delayed: the fastest of a few tries beats the delay (FT_UNDELAYED_TRIES) */
		uint64_t best = UINT64_MAX;
		for (int i = 0; i < FT_UNDELAYED_TRIES && best >= 30000000u; i++) {
			t0 = ft_now_ns();
			expect_text(fn, dir, "elsewhere", "a.bin", "elsewhere\n");
			dt = ft_now_ns() - t0;
			best = dt < best ? dt : best;
		}
		FT_CHECKF(best < 30000000u, "%s of elsewhere/a.bin: %.3f ms at best, delay 30 ms",
		          fn_names[fn], (double)best / 1e6);
	}
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static void test_redirect(void)
{
	ft_models_tree();
	ft_run_child(ft_config("c.ini",
	                       "[fault.stale-model]\nhook = open\naction = redirect\n"
	                       "path = */models/current.bin\nto = %s\n",
	                       ft_path("models/previous.bin")),
	             "redirect", "0");
	/* the files themselves are untouched */
	size_t n = 0;
	char *cur = ft_slurp(ft_path("models/current.bin"), &n);
	FT_CHECK(cur && strcmp(cur, "current\n") == 0);
	free(cur);
}

static void test_redirect_times(void)
{
	ft_models_tree();
	ft_run_child(ft_config("c.ini",
	                       "[fault.stale-once]\nhook = open\naction = redirect\n"
	                       "path = */current.bin\nto = %s\ntimes = 3\n",
	                       ft_path("models/previous.bin")),
	             "redirect", "3");
}

static void test_fail(void)
{
	char err[16];
	ft_models_tree();
	snprintf(err, sizeof(err), "%d", ENOENT);
	ft_run_child(ft_config("c.ini", "[fault.missing-model]\nhook = open\naction = fail\n"
	                                "path = */models/*.bin\n"),
	             "fail", err);
	snprintf(err, sizeof(err), "%d", EACCES);
	ft_run_child(ft_config("d.ini", "[fault.no-access]\nhook = open\naction = fail\n"
	                                "path = */models/*.bin\nerrno = EACCES\n"),
	             "fail", err);
}

static void test_delay(void)
{
	ft_models_tree();
	ft_run_child(ft_config("c.ini", "[fault.slow-open]\nhook = open\naction = delay\n"
	                                "path = */models/*.bin\ndelay = 30ms\n"),
	             "delay", "0");
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "redirect", child_redirect },
		{ "fail", child_fail },
		{ "delay", child_delay },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "redirect", test_redirect },
		{ "redirect-times", test_redirect_times },
		{ "fail", test_fail },
		{ "delay", test_delay },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
