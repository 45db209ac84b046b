/* ft_repro.c: reproducibility through the real library. select = call: a single-threaded run
 * of 10,000 calls at rate 10% fails the same call ordinals every run, other ordinals with
 * another seed. And the host's own rand()/random() sequences are the same with the library
 * injecting faults (whose random choices never come from libc) as without it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ft.h"

#define N_CALLS   10000
#define DATA_SIZE 4096

static int open_data(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", dir);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		exit(2);
	return fd;
}

/* child: DIR: N_CALLS preads; prints "failed I J K ..." (ordinals from 0) and "count N". */
static void child_ordinals(int argc, char **argv)
{
	(void)argc;
	int fd = open_data(argv[1]);
	char buf[64];
	int n = 0;
	printf("failed");
	for (int i = 0; i < N_CALLS; i++) {
		if (pread(fd, buf, sizeof(buf), 0) < 0) {
			printf(" %d", i);
			n++;
		}
	}
	printf("\ncount %d\n", n);
	close(fd);
}

/* child: DIR: rand() from its default seed, then srand/srandom sequences, with reads and
 * sleeps in between that the rules act on. Prints the sequences ("rand ..." lines), then
 * "faults N" (what the calls saw, which differs with and without the library). */
static void child_rand(int argc, char **argv)
{
	(void)argc;
	int fd = open_data(argv[1]);
	static uint8_t buf[DATA_SIZE];
	long faults = 0;
	unsigned long long sum = 0;
	printf("rand default %d\n", rand());
	srand(12345);
	srandom(777);
	for (int i = 0; i < 1000; i++) {
		int a = rand();
		ssize_t r = pread(fd, buf, sizeof(buf), 0);
		if (r != DATA_SIZE)
			faults++;
		for (ssize_t k = 0; k < r; k++)
			if (buf[k] != ft_pattern((uint64_t)k)) {
				faults++;
				break;
			}
		long b = random();
		struct timespec zero = { 0, 0 };
		nanosleep(&zero, NULL);
		sum = sum * 1000003u + (unsigned)a * 31u + (unsigned long)b;
		if (i % 100 == 0)
			printf("rand %d %d %ld\n", i, a, b);
	}
	printf("rand sum %llu\n", sum);
	printf("faults %ld\n", faults);
	close(fd);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static const char call_cfg[] = "[mlchaos]\nseed = %d\n%s"
                               "[fault.flaky-disk]\nhook = read\naction = fail\n"
                               "path = */data.bin\nrate = 10%%\n%s";

static char *ordinals(int seed, const char *head, const char *tail)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", call_cfg, seed, head, tail);
	ft_run(&r, "ordinals", ft_dir(), NULL);
	FT_RUN_OK(&r);
	const char *c = strstr(r.out, "count ");
	int n = c ? atoi(c + 6) : -1;
	FT_CHECKF(n >= N_CALLS * 9 / 100 && n <= N_CALLS * 11 / 100,
	          "seed %d: %d of %d calls failed, expected 9%%..11%%", seed, n, N_CALLS);
	char *out = r.out;
	r.out = NULL;
	ft_run_free(&r);
	return out;
}

static void check_call_selection(const char *head, const char *tail)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	char *a = ordinals(42, head, tail);
	char *b = ordinals(42, head, tail);
	char *c = ordinals(43, head, tail);
	FT_CHECKF(strcmp(a, b) == 0, "two runs with seed 42 failed different calls");
	FT_CHECKF(strcmp(a, c) != 0, "seeds 42 and 43 failed the same calls");
	free(a);
	free(b);
	free(c);
}

static void test_select_call(void)
{
	/* select = call is the default with request_key = none ... */
	check_call_selection("request_key = none\n", "");
	/* ... and can be asked for explicitly beside a request key */
	check_call_selection("request_key = header:X-Request-Id\n", "select = call\n");
}

static const char rand_cfg[] = "[mlchaos]\nseed = 11\nrequest_key = none\n"
                               "[fault.flaky]\nhook = read\naction = fail\npath = */data.bin\n"
                               "errno = EIO,EINTR\nrate = 20%\n"
                               "[fault.trickle]\nhook = read\naction = short\n"
                               "path = */data.bin\nmax_bytes = 100\nrate = 30%\n"
                               "[fault.rot]\nhook = read\naction = corrupt\npath = */data.bin\n"
                               "scope = call\nrate = 50%\n"
                               "[fault.jitter]\nhook = sleep\naction = delay\ndelay = 1us\n"
                               "jitter = 20us\nrate = 50%\n";

/* The "rand ..." lines of out (malloc'ed). */
static char *rand_lines(const char *out)
{
	char *lines = calloc(1, strlen(out) + 1);
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "rand ", 5) != 0)
			continue;
		const char *end = strchr(l, '\n');
		strncat(lines, l, end ? (size_t)(end - l + 1) : strlen(l));
	}
	return lines;
}

static void test_host_rand(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	const char *cfg = ft_config("c.ini", "%s", rand_cfg);
	struct ft_run plain = { .how = FT_PLAIN };
	struct ft_run chaos = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&plain, "rand", ft_dir(), NULL);
	ft_run(&chaos, "rand", ft_dir(), NULL);
	FT_RUN_OK(&plain);
	FT_RUN_OK(&chaos);
	char *p = rand_lines(plain.out), *c = rand_lines(chaos.out);
	FT_CHECKF(strlen(p) > 0 && strcmp(p, c) == 0,
	          "rand()/random() differ under the library:\n%s---\n%s", p, c);
	const char *fp = strstr(plain.out, "faults "), *fc = strstr(chaos.out, "faults ");
	FT_CHECKF(fp && atoi(fp + 7) == 0, "faults without the library: %s", fp ? fp : "?");
	FT_CHECKF(fc && atoi(fc + 7) > 300, "too few faults under the library: %s", fc ? fc : "?");
	free(p);
	free(c);
	ft_run_free(&plain);
	ft_run_free(&chaos);
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "ordinals", child_ordinals },
		{ "rand", child_rand },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "select-call", test_select_call },
		{ "host-rand", test_host_rand },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
