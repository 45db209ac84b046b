/* ft_sleep.c: the sleep family under the real library: a delay lengthens nanosleep,
 * clock_nanosleep and usleep; a failure interrupts nanosleep, clock_nanosleep, usleep and
 * sleep at once with EINTR, the whole request remaining, as a signal would. Bounds are wide:
 * never a check that a loaded machine could miss. */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "ft.h"

#define DELAY_MS 50
#define MS       1000000ull

static void check_took(const char *what, uint64_t t0, uint64_t min_ns, uint64_t max_ns)
{
	uint64_t dt = ft_now_ns() - t0;
	FT_CHECKF(dt >= min_ns && dt < max_ns, "%s took %.3f ms, expected %.3f..%.3f ms", what,
	          (double)dt / 1e6, (double)min_ns / 1e6, (double)max_ns / 1e6);
}

/* child: a 1 ms sleep lasts at least DELAY_MS + 1 ms with each function. */
static void child_delay(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const uint64_t min = (DELAY_MS + 1) * MS, max = 2000 * MS;
	struct timespec req = { 0, 1000000 };
	uint64_t t0 = ft_now_ns();
	FT_EQ(nanosleep(&req, NULL), 0);
	check_took("nanosleep(1 ms)", t0, min, max);
	t0 = ft_now_ns();
	FT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0);
	check_took("clock_nanosleep(1 ms)", t0, min, max);
	t0 = ft_now_ns();
	FT_EQ(usleep(1000), 0);
	check_took("usleep(1000)", t0, min, max);
	/* an absolute deadline 1 ms ahead: the delay comes first, then the deadline has passed */
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	t0 = ft_now_ns();
	FT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
	check_took("clock_nanosleep(TIMER_ABSTIME, +1 ms)", t0, DELAY_MS * MS, max);
}

/* child: a 10 s sleep returns at once, interrupted. */
static void child_fail(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const uint64_t max = 1000 * MS;
	struct timespec req = { 10, 0 }, rem = { 0, 0 };
	uint64_t t0 = ft_now_ns();
	errno = 0;
	FT_ERRNO(nanosleep(&req, &rem), -1, EINTR);
	FT_CHECKF(rem.tv_sec == 10 && rem.tv_nsec == 0, "nanosleep: rem is %ld.%09ld",
	          (long)rem.tv_sec, rem.tv_nsec);
	check_took("nanosleep(10 s)", t0, 0, max);

	rem.tv_sec = 0;
	t0 = ft_now_ns();
	errno = EBADF; /* clock_nanosleep returns its error and leaves errno alone */
	FT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
	FT_EQ(errno, EBADF);
	FT_EQ(rem.tv_sec, 10);
	check_took("clock_nanosleep(10 s)", t0, 0, max);

	t0 = ft_now_ns();
	errno = 0;
	FT_ERRNO(usleep(10000000), -1, EINTR);
	check_took("usleep(10 s)", t0, 0, max);

	t0 = ft_now_ns();
	FT_EQ(sleep(10), 10);
	check_took("sleep(10)", t0, 0, max);
}

static void run_child(const char *cfg, const char *name)
{
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, name, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_delay(void)
{
	run_child(ft_config("c.ini",
	                    "[fault.slow-timers]\nhook = sleep\naction = delay\n"
	                    "delay = %dms\n",
	                    DELAY_MS),
	          "delay");
}

static void test_fail(void)
{
	run_child(ft_config("c.ini", "[fault.wake]\nhook = sleep\naction = fail\n"), "fail");
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "delay", child_delay },
		{ "fail", child_fail },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "delay", test_delay },
		{ "fail", test_fail },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
