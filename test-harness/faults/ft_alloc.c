/* ft_alloc.c: allocation failure under the real library: fail on malloc, calloc, realloc (the
 * old block intact), posix_memalign, aligned_alloc, memalign, valloc, reallocarray; a budget
 * on the live heap (first failure within 5% of it); oom = kill; the same on anonymous mmap.
 * Built with -fno-builtin: the compiler must not pair away the allocations it can see. Never
 * touches the memory it maps: the budget is on what is asked, not on what is resident. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ft.h"

#define MIB        (1024 * 1024)
#define BUDGET_MIB 64
#define MAX_BLOCKS 200 /* a bound on the loops: 3 times the budget */

/* ---- children ------------------------------------------------------------------------------ */

/* Hides a pointer's origin from the compiler, which cannot know that a failed realloc left the
 * old block alive and would warn about a use after free. */
static void *opaque(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* child: under `min_size = 3MiB` fail: each entry point fails a 4 MiB request as its man page
 * says, and serves small ones. */
static void child_fail(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errno = 0;
	FT_ERRNO(malloc(4 * MIB), NULL, ENOMEM);
	errno = 0;
	FT_ERRNO(calloc(1, 4 * MIB), NULL, ENOMEM);
	errno = 0;
	FT_ERRNO(calloc(4, MIB), NULL, ENOMEM);
	errno = 0;
	FT_ERRNO(aligned_alloc(64, 4 * MIB), NULL, ENOMEM);
	errno = 0;
	FT_ERRNO(memalign(4096, 4 * MIB), NULL, ENOMEM);
	errno = 0;
	FT_ERRNO(valloc(4 * MIB), NULL, ENOMEM);

	/* realloc and reallocarray: NULL, ENOMEM, and the old block untouched and usable */
	char *p = malloc(1000);
	FT_CHECK(p != NULL);
	if (p) {
		for (int i = 0; i < 1000; i++)
			p[i] = (char)ft_pattern((uint64_t)i);
		errno = 0;
		FT_ERRNO(realloc(opaque(p), 4 * MIB), NULL, ENOMEM);
		errno = 0;
		FT_ERRNO(reallocarray(opaque(p), 4, MIB), NULL, ENOMEM);
		int wrong = 0;
		for (int i = 0; i < 1000; i++)
			wrong += (uint8_t)p[i] != ft_pattern((uint64_t)i);
		FT_EQ(wrong, 0);
		char *q = realloc(p, 2000); /* below min_size: served */
		FT_CHECK(q != NULL);
		free(q ? q : p);
	}

	/* posix_memalign returns the error and leaves errno and *ret alone */
	void *sentinel = (void *)&sentinel, *ret = sentinel;
	errno = EBADF;
	int r = posix_memalign(&ret, 64, 4 * MIB);
	FT_EQ(r, ENOMEM);
	FT_EQ(errno, EBADF);
	FT_CHECK(ret == sentinel);

	/* below min_size, everything is served */
	void *small[6];
	small[0] = malloc(100);
	small[1] = calloc(10, 10);
	small[2] = aligned_alloc(64, 2 * MIB);
	small[3] = malloc(2 * MIB);
	small[4] = NULL;
	FT_EQ(posix_memalign(&small[4], 64, 1000), 0);
	small[5] = realloc(NULL, 2 * MIB);
	for (int i = 0; i < 6; i++) {
		FT_CHECKF(small[i] != NULL, "allocation %d below min_size failed", i);
		free(small[i]);
	}
}

/* child: allocate 1 MiB blocks with malloc (or anonymous mmap: argv[1] = "mmap") until the
 * first failure, bounded; print "blocks N" and check the failure's errno. With `kill`, each
 * block is announced before the next is asked, so that the parent sees where it died. */
static void child_blocks(int argc, char **argv)
{
	static void *blocks[MAX_BLOCKS];
	bool use_mmap = argc > 1 && strcmp(argv[1], "mmap") == 0;
	int n = 0, err = 0;
	for (; n < MAX_BLOCKS; n++) {
		void *p;
		errno = 0;
		if (use_mmap) {
			p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			         0);
			if (p == MAP_FAILED)
				p = NULL;
		} else {
			p = malloc(MIB);
		}
		if (!p) {
			err = errno;
			break;
		}
		blocks[n] = p;
		char line[32];
		int len = snprintf(line, sizeof(line), "block %d\n", n + 1);
		ft_write_full(STDOUT_FILENO, line, (size_t)len);
	}
	char line[32];
	int len = snprintf(line, sizeof(line), "blocks %d\n", n);
	ft_write_full(STDOUT_FILENO, line, (size_t)len);
	FT_CHECKF(n < MAX_BLOCKS, "no allocation failed in %d blocks of 1 MiB", MAX_BLOCKS);
	if (n < MAX_BLOCKS)
		FT_EQ(err, ENOMEM);
	/* The budget is on the live heap: once the blocks are freed, there is room again. */
	for (int i = 0; i < n; i++) {
		if (use_mmap)
			munmap(blocks[i], MIB);
		else
			free(blocks[i]);
	}
	void *again =
	    use_mmap ? mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
	             : malloc(MIB);
	FT_CHECKF(again != NULL && again != MAP_FAILED,
	          "after freeing everything, a 1 MiB allocation still fails");
}

/* child: under `hook = mmap min_size = 1MiB` fail: anonymous mappings of 2 MiB fail with
 * ENOMEM, small ones and file mappings below the size are served. */
static void child_mmap_fail(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errno = 0;
	FT_ERRNO(mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
	         MAP_FAILED, ENOMEM);
	errno = 0;
	FT_ERRNO(mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0), MAP_FAILED,
	         ENOMEM);
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FT_CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED)
		munmap(p, 65536);
	/* malloc is another family: a 2 MiB malloc is served */
	void *m = malloc(2 * MIB);
	FT_CHECK(m != NULL);
	free(m);
}

/* child: under delay rules of 30 ms on allocations and anonymous maps of 3 MiB and more,
 * those take 30 ms longer; smaller ones do not. */
static void child_delay(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const uint64_t ms = 1000000;
	uint64_t t0 = ft_now_ns();
	void *p = malloc(4 * MIB);
	uint64_t dt = ft_now_ns() - t0;
	FT_CHECKF(p && dt >= 30 * ms, "malloc(4 MiB) took %.3f ms", (double)dt / 1e6);
	free(p);
	t0 = ft_now_ns();
	p = mmap(NULL, 4 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dt = ft_now_ns() - t0;
	FT_CHECKF(p != MAP_FAILED && dt >= 30 * ms, "mmap(4 MiB) took %.3f ms", (double)dt / 1e6);
	munmap(p, 4 * MIB);
	/* not delayed: the fastest of a few tries beats the delay (see FT_UNDELAYED_TRIES) */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < FT_UNDELAYED_TRIES && best >= 30 * ms; i++) {
		t0 = ft_now_ns();
		p = malloc(MIB);
		void *q = mmap(NULL, MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		dt = ft_now_ns() - t0;
		best = dt < best ? dt : best;
		FT_CHECK(p != NULL && q != MAP_FAILED);
		free(p);
		munmap(q, MIB);
	}
	FT_CHECKF(best < 30 * ms,
	          "a small malloc and mmap took %.3f ms at best, the delay is 30 ms",
	          (double)best / 1e6);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static void test_fail(void)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config =
	    ft_config("c.ini", "[mlchaos]\nrequest_key = none\n"
	                       "[fault.big]\nhook = malloc\naction = fail\nmin_size = 3MiB\n");
	ft_run(&r, "fail", NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

/* The number after the last "word N" line of out, or -1. */
static int last_count(const char *out, const char *word)
{
	int n = -1;
	size_t wl = strlen(word);
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, word, wl) == 0 && l[wl] == ' ')
			n = atoi(l + wl + 1);
	return n;
}

/* The first failure comes within 5% of the budget: N blocks of 1 MiB were served. */
static void check_near_budget(int blocks, const char *what)
{
	double got = blocks, lo = BUDGET_MIB * 0.95, hi = BUDGET_MIB * 1.05;
	FT_CHECKF(got >= lo && got <= hi,
	          "%s: the first failure came after %d MiB, the budget is %d MiB (5%%: %.1f..%.1f)",
	          what, blocks, BUDGET_MIB, lo, hi);
}

static void run_budget(const char *hook, const char *family)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.budget]\nhook = %s\naction = fail\nbudget = %dMiB\n",
	                     hook, BUDGET_MIB);
	ft_run(&r, "blocks", family, NULL);
	FT_RUN_OK(&r);
	check_near_budget(last_count(r.out, "blocks"), family);
	ft_run_free(&r);
}

static void test_budget(void)
{
	run_budget("malloc", "malloc");
}

static void test_mmap_budget(void)
{
	run_budget("mmap", "mmap");
}

static void run_oom_kill(const char *hook, const char *family)
{
	const char *cfg = ft_config("c.ini",
	                            "[fault.oom]\nhook = %s\naction = fail\nbudget = %dMiB\n"
	                            "oom = kill\n",
	                            hook, BUDGET_MIB);
	/* preloaded directly: killed by SIGKILL at the budget */
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, "blocks", family, NULL);
	FT_CHECKF(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL,
	          "%s: status 0x%x, expected death by SIGKILL", family, (unsigned)r.status);
	FT_EQ(last_count(r.out, "blocks"), -1); /* it never got to the end */
	check_near_budget(last_count(r.out, "block"), family);
	ft_run_free(&r);
	/* through mlchaos run: exit status 137, as after the kernel's OOM killer */
	struct ft_run m = { .how = FT_MLCHAOS_RUN, .config = cfg };
	int status = ft_run(&m, "blocks", family, NULL);
	FT_CHECKF(WIFEXITED(m.status) && status == 137, "mlchaos run exited %d, expected 137",
	          status);
	ft_run_free(&m);
}

static void test_oom_kill(void)
{
	run_oom_kill("malloc", "malloc");
}

static void test_mmap_oom_kill(void)
{
	run_oom_kill("mmap", "mmap");
}

static void test_delay(void)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.slow-heap]\nhook = malloc\naction = delay\n"
	                              "min_size = 3MiB\ndelay = 30ms\n"
	                              "[fault.slow-maps]\nhook = mmap\naction = delay\n"
	                              "min_size = 3MiB\ndelay = 30ms\n");
	ft_run(&r, "delay", NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_mmap_fail(void)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.big-maps]\nhook = mmap\naction = fail\n"
	                              "min_size = 1MiB\n");
	ft_run(&r, "mmap-fail", NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "fail", child_fail },
		{ "blocks", child_blocks },
		{ "mmap-fail", child_mmap_fail },
		{ "delay", child_delay },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "fail", test_fail },
		{ "budget", test_budget },
		{ "oom-kill", test_oom_kill },
		{ "delay", test_delay },
		{ "mmap-fail", test_mmap_fail },
		{ "mmap-budget", test_mmap_budget },
		{ "mmap-oom-kill", test_mmap_oom_kill },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
