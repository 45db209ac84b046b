/* pl_malloc.c: calls every function of the malloc family (malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size,
 * free), checks alignment, contents, results and errno. Uses no stdio, so that every
 * allocation the trace counts is one of these (free and malloc_usable_size count no row). Built
 * with -fno-builtin so none is elided. */
#include "pl.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7u + seed);
}

static bool filled(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7u + seed))
			return false;
	return true;
}

static bool zeroed(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Transcript line for an allocation; the trace counts the size asked, even when it failed. */
static void got(const char *what, const void *p, int err, size_t asked_bytes, const char *fn)
{
	pl_say("%s = %s%s%s", what, p ? "ptr" : "NULL", p ? "" : " ",
	       p ? "" : (strerrorname_np(err) ? strerrorname_np(err) : "?"));
	pl_rec(fn, "anon", (long long)asked_bytes);
}

static void test_basic(void)
{
	unsigned char *p = malloc(100);
	got("malloc(100)", p, errno, 100, "malloc");
	PL_CHECK(p != NULL);
	fill(p, 100, 1);
	PL_CHECK(malloc_usable_size(p) >= 100);

	p = realloc(p, 5000);
	got("realloc(5000)", p, errno, 5000, "realloc");
	PL_CHECK(p && filled(p, 100, 1)); /* contents kept up to the old size */
	free(p);

	unsigned char *z = calloc(10, 20);
	got("calloc(10, 20)", z, errno, 200, "calloc");
	PL_CHECK(z && zeroed(z, 200));
	z = reallocarray(z, 30, 10);
	got("reallocarray(30, 10)", z, errno, 300, "reallocarray");
	PL_CHECK(z && zeroed(z, 200));
	free(z);

	/* realloc(NULL, n) is malloc(n); malloc(0) is a unique pointer in glibc. */
	p = realloc(NULL, 64);
	got("realloc(NULL, 64)", p, errno, 64, "realloc");
	free(p);
	p = malloc(0);
	got("malloc(0)", p, errno, 0, "malloc");
	free(p);
	free(NULL);
}

static void test_aligned(void)
{
	void *p = NULL;
	int r = posix_memalign(&p, 64, 1000);
	pl_ret("posix_memalign(64, 1000)", r, 0);
	PL_EQ(r, 0);
	PL_EQ((uintptr_t)p % 64, 0);
	pl_rec("posix_memalign", "anon", 1000);
	free(p);

	p = aligned_alloc(256, 1024);
	got("aligned_alloc(256, 1024)", p, errno, 1024, "aligned_alloc");
	PL_EQ((uintptr_t)p % 256, 0);
	free(p);

	p = memalign(128, 300);
	got("memalign(128, 300)", p, errno, 300, "memalign");
	PL_EQ((uintptr_t)p % 128, 0);
	free(p);

	long page = sysconf(_SC_PAGESIZE);
	p = valloc(100);
	got("valloc(100)", p, errno, 100, "valloc");
	PL_EQ((uintptr_t)p % (uintptr_t)page, 0);
	free(p);

	p = pvalloc(100);
	got("pvalloc(100)", p, errno, 100, "pvalloc");
	PL_EQ((uintptr_t)p % (uintptr_t)page, 0);
	PL_CHECK(malloc_usable_size(p) >= (size_t)page);
	free(p);
}

/* Failures keep the errno (or return value) glibc gives them. A failed call still counts
 * the size it asked for. 2^62 bytes can never be had, and keeps the sums of sizes in range. */
static void test_failures(void)
{
	/* volatile: hides the sizes from -Walloc-size-larger-than and from the optimiser. */
	volatile size_t huge = (size_t)1 << 62;

	errno = 0;
	void *p = malloc(huge);
	got("malloc(2^62)", p, errno, huge, "malloc");
	PL_ERR(p, 0, ENOMEM);

	errno = 0;
	p = calloc(huge / 4, 2);
	got("calloc(2^60, 2)", p, errno, huge / 2, "calloc");
	PL_ERR(p, 0, ENOMEM);

	errno = 0;
	p = reallocarray(NULL, huge / 4, 2);
	got("reallocarray(NULL, 2^60, 2)", p, errno, huge / 2, "reallocarray");
	PL_ERR(p, 0, ENOMEM);

	errno = 0;
	unsigned char *keep = malloc(32);
	got("malloc(32)", keep, errno, 32, "malloc");
	fill(keep, 32, 9);
	p = realloc(keep, huge);
	got("realloc(2^62)", p, errno, huge, "realloc");
	PL_ERR(p, 0, ENOMEM);
	PL_CHECK(filled(keep, 32, 9)); /* a failed realloc leaves the block alone */
	free(keep);

	/* posix_memalign returns the error and leaves errno and *ret alone. */
	errno = 0;
	p = &p;
	volatile size_t bad_align = 24;
	int r = posix_memalign(&p, bad_align, 10);
	pl_ret("posix_memalign(24, 10)", r, 0);
	pl_say("errno after posix_memalign = %d", errno);
	PL_EQ(r, EINVAL);
	PL_CHECK(p == &p);
	pl_rec("posix_memalign", "anon", 10);

	errno = 0;
	p = aligned_alloc(64, huge);
	got("aligned_alloc(64, 2^62)", p, errno, huge, "aligned_alloc");
	PL_ERR(p, 0, ENOMEM);
}

/* nmemb * size overflowing: ENOMEM. In a child of its own, whose trace rows are not checked:
 * what "bytes asked" means for a product that does not fit is not specified. */
static void test_overflow(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pl_forked_child();
		volatile size_t big = SIZE_MAX / 2;
		errno = 0;
		void *p = calloc(big, 16);
		PL_ERR(p, 0, ENOMEM);
		errno = 0;
		p = reallocarray(NULL, big, 16);
		PL_ERR(p, 0, ENOMEM);
		_exit(pl_finish());
	}
	int status = -1;
	PL_EQ(waitpid(pid, &status, 0), pid);
	PL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pl_say("overflow child: %s",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_malloc");
	test_basic();
	test_aligned();
	test_failures();
	test_overflow();
	return pl_finish();
}
