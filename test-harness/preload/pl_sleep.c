/* pl_sleep.c: calls every function of the sleep family (clock_nanosleep, nanosleep, usleep,
 * sleep) with zero, short, absolute and invalid times, and checks results and errno (or the
 * returned error number, for clock_nanosleep) exactly as without the shim. */
#include "pl.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleeps must last at least what was asked: the shim adds nothing and removes nothing. */
static void at_least(const char *what, long long start_ns, long long min_ns)
{
	long long took = now_ns(CLOCK_MONOTONIC) - start_ns;
	if (took < min_ns)
		pl_fail(__FILE__, __LINE__, "%s slept %lld ns, asked %lld ns", what, took, min_ns);
}

static void test_clock_nanosleep(void)
{
	struct timespec zero = { 0, 0 }, ms = { 0, 1000000 }, rem = { 7, 7 };
	long long t0 = now_ns(CLOCK_MONOTONIC);
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL);
	pl_ret("clock_nanosleep(0)", r, 0);
	PL_EQ(r, 0);
	pl_rec("clock_nanosleep", "other", 0);

	t0 = now_ns(CLOCK_MONOTONIC);
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, &rem);
	at_least("clock_nanosleep(1 ms)", t0, 1000000);
	pl_ret("clock_nanosleep(1 ms)", r, 0);
	PL_EQ(r, 0);
	pl_rec("clock_nanosleep", "other", 0);

	/* An absolute time 1 ms ahead, then one in the past (returns at once). */
	long long until = now_ns(CLOCK_REALTIME) + 1000000;
	struct timespec abs = { until / 1000000000LL, until % 1000000000LL };
	r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL);
	PL_CHECK(now_ns(CLOCK_REALTIME) >= until);
	pl_ret("clock_nanosleep(abs)", r, 0);
	PL_EQ(r, 0);
	pl_rec("clock_nanosleep", "other", 0);
	r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &zero, NULL);
	pl_ret("clock_nanosleep(abs past)", r, 0);
	PL_EQ(r, 0);
	pl_rec("clock_nanosleep", "other", 0);

	/* Errors are returned, not put in errno, which stays as it was. */
	struct timespec bad = { 0, 1000000000 };
	errno = 1234;
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL);
	pl_ret("clock_nanosleep(nsec=1e9)", r, 0);
	PL_EQ(r, EINVAL);
	PL_EQ(errno, 1234);
	pl_rec("clock_nanosleep", "other", 0);
	r = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &zero, NULL);
	pl_ret("clock_nanosleep(thread cpu clock)", r, 0);
	PL_EQ(r, EINVAL);
	PL_EQ(errno, 1234);
	pl_rec("clock_nanosleep", "other", 0);
}

static void test_others(void)
{
	struct timespec zero = { 0, 0 }, us = { 0, 50000 }, bad = { 0, -1 };
	long long t0 = now_ns(CLOCK_MONOTONIC);
	int r = nanosleep(&us, NULL);
	at_least("nanosleep(50 us)", t0, 50000);
	pl_ret("nanosleep(50 us)", r, errno);
	PL_EQ(r, 0);
	pl_rec("nanosleep", "other", 0);
	r = nanosleep(&zero, NULL);
	pl_ret("nanosleep(0)", r, errno);
	PL_EQ(r, 0);
	pl_rec("nanosleep", "other", 0);
	r = nanosleep(&bad, NULL);
	pl_ret("nanosleep(nsec=-1)", r, errno);
	PL_ERR(r, -1, EINVAL);
	pl_rec("nanosleep", "other", 0);

	t0 = now_ns(CLOCK_MONOTONIC);
	r = usleep(200);
	at_least("usleep(200)", t0, 200000);
	pl_ret("usleep(200)", r, errno);
	PL_EQ(r, 0);
	pl_rec("usleep", "other", 0);
	r = usleep(0);
	pl_ret("usleep(0)", r, errno);
	PL_EQ(r, 0);
	pl_rec("usleep", "other", 0);

	unsigned left = sleep(0);
	pl_ret("sleep(0)", (long)left, 0);
	PL_EQ(left, 0);
	pl_rec("sleep", "other", 0);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_sleep");
	test_clock_nanosleep();
	test_others();
	return pl_finish();
}
