/* test-preload.c: LD_PRELOAD composition and sanitizer detection, case by
 * case, plus $MLCHAOS_LIB lookup. Works in a private temporary directory and
 * never touches the environment of anything but itself. */
#include "mc_test.h"
#include "preload.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIB "/opt/mc/libmlchaos.so"

static void expect_compose(const char *existing, const char *lib, const char *want)
{
	char *got = NULL;
	int r = mc_preload_compose(existing, lib, &got);

	MC_CHECKF(r == 0 && strcmp(got, want) == 0,
	          "compose(LD_PRELOAD=\"%s\", lib=%s): got \"%s\" (r=%d), want \"%s\"",
	          existing ? existing : "(unset)", lib, got ? got : "", r, want);
	free(got);
}

static void expect_sanitizer(const char *entry, int want)
{
	int got = mc_preload_is_sanitizer(entry, strlen(entry));

	MC_CHECKF(got == want, "is_sanitizer(%s) = %d, want %d", entry, got, want);
}

static void test_compose_strings(void)
{
	expect_compose(NULL, LIB, LIB);
	expect_compose("", LIB, LIB);
	expect_compose(" : :", LIB, LIB);
	expect_compose("/a/liba.so", LIB, LIB ":/a/liba.so");
	expect_compose("/a/liba.so:/b/libb.so", LIB, LIB ":/a/liba.so:/b/libb.so");
	/* ld.so splits on spaces too; the result is joined with ':' */
	expect_compose("/a/liba.so /b/libb.so::libc.so", LIB, LIB ":/a/liba.so:/b/libb.so:libc.so");
	/* sanitizer runtimes stay first, in their order */
	expect_compose("/usr/lib/x86_64-linux-gnu/libasan.so.8:/a/liba.so", LIB,
	               "/usr/lib/x86_64-linux-gnu/libasan.so.8:" LIB ":/a/liba.so");
	expect_compose("/a/liba.so libclang_rt.asan-x86_64.so /b/libubsan.so.1", LIB,
	               "libclang_rt.asan-x86_64.so:/b/libubsan.so.1:" LIB ":/a/liba.so");
	expect_compose("libtsan.so.2", LIB, "libtsan.so.2:" LIB);
	/* our own library is not repeated, wherever it was */
	expect_compose(LIB, LIB, LIB);
	expect_compose("/a/liba.so:" LIB ":/b/libb.so", LIB, LIB ":/a/liba.so:/b/libb.so");
	expect_compose(LIB " " LIB, LIB, LIB);
	/* a different file with the same base name is someone else's */
	expect_compose("/other/libmlchaos.so", LIB, LIB ":/other/libmlchaos.so");
}

static void test_sanitizer_names(void)
{
	expect_sanitizer("libasan.so.8", 1);
	expect_sanitizer("/usr/lib/x86_64-linux-gnu/libasan.so.8", 1);
	expect_sanitizer("/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.asan-x86_64.so",
	                 1);
	expect_sanitizer("libubsan.so.1", 1);
	expect_sanitizer("liblsan.so.0", 1);
	expect_sanitizer("libhwasan.so.0", 1);
	expect_sanitizer("/opt/libasan/libfoo.so", 0); /* only the file name counts */
	expect_sanitizer("mylibasan.so", 0);
	expect_sanitizer("libjemalloc.so.2", 0);
	expect_sanitizer("", 0);
}

/* The same file reached through a symlink is recognised and dropped. */
static void test_dedup_through_symlink(const char *dir)
{
	char lib[PATH_MAX], link[PATH_MAX], existing[2 * PATH_MAX + 8], want[2 * PATH_MAX];
	char *real;
	FILE *f;
	int ok;

	snprintf(lib, sizeof(lib), "%s/libmlchaos.so", dir);
	snprintf(link, sizeof(link), "%s/alias.so", dir);
	f = fopen(lib, "w");
	ok = f && fclose(f) == 0 && symlink(lib, link) == 0;
	MC_CHECKF(ok, "cannot create %s and %s: %s", lib, link, strerror(errno));
	if (!ok)
		return;
	real = realpath(lib, NULL);
	snprintf(existing, sizeof(existing), "%s:/a/liba.so", link);
	snprintf(want, sizeof(want), "%s:/a/liba.so", real);
	expect_compose(existing, real, want);
	free(real);
}

static void expect_lookup(const char *env, int want_r, const char *want_path)
{
	struct mc_lib_lookup l;
	int r;

	setenv("MLCHAOS_LIB", env, 1);
	r = mc_preload_find_library(&l);
	MC_CHECKF(r == want_r && (!want_path || strcmp(l.path, want_path) == 0) &&
	              (want_r != 0 || l.source == MC_LIB_FROM_ENV) &&
	              (want_r >= 0 || l.env_error != 0),
	          "MLCHAOS_LIB=%s: r=%d path=%s source=%d env_error=%d, want r=%d path=%s", env, r,
	          l.path, (int)l.source, l.env_error, want_r, want_path ? want_path : "-");
	unsetenv("MLCHAOS_LIB");
}

/* $MLCHAOS_LIB: relative becomes absolute; missing or a directory is an
 * error with no fallback to another library. */
static void test_lookup_env(const char *dir)
{
	char lib[PATH_MAX], cwd[PATH_MAX];
	char *real;
	int ok;

	snprintf(lib, sizeof(lib), "%s/libmlchaos.so", dir);
	real = realpath(lib, NULL);
	ok = real && getcwd(cwd, sizeof(cwd)) && chdir(dir) == 0;
	MC_CHECKF(ok, "setting up the lookup test in %s", dir);
	if (!ok) {
		free(real);
		return;
	}
	expect_lookup("./libmlchaos.so", 0, real);
	expect_lookup(real, 0, real);
	expect_lookup("./nope.so", -ENOENT, NULL);
	expect_lookup(".", -ENOENT, NULL);
	MC_CHECKF(chdir(cwd) == 0, "back to %s", cwd);
	free(real);
}

int main(void)
{
	char tmpl[] = "/tmp/mc-test-preload-XXXXXX";
	char *dir = mkdtemp(tmpl);
	char cmd[PATH_MAX + 16];

	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	test_compose_strings();
	test_sanitizer_names();
	test_dedup_through_symlink(dir);
	test_lookup_env(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", dir);
	return mc_test_done("cli-preload-unit");
}
