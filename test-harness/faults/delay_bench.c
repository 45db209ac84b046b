/* delay_bench.c: how accurate injected delays are. A preloaded child times 1-byte preads of a
 * file a delay rule targets against preads of a file it does not; the extra latency is the
 * difference from the untargeted median. `bench` prints p50/p99 for 10 ms and 100 us as
 * ratios to the delay asked; `accuracy` is the test, with bounds a loaded 2-core machine meets:
 * never early, the median close, and the thread's own timer slack restored. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "ft.h"

#define MAX_SAMPLES  4000
#define OWN_SLACK_NS 123456 /* the child's own timer slack, which the library must restore */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t timed_pread(int fd)
{
	char c;
	uint64_t t0 = ft_now_ns();
	if (pread(fd, &c, 1, 0) != 1)
		ft_fail(__FILE__, __LINE__, "pread: %s", strerror(errno));
	return ft_now_ns() - t0;
}

static uint64_t percentile(const uint64_t *sorted, int n, int pct)
{
	int i = (int)(((long)n * pct + 99) / 100) - 1;
	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* child: DIR N: N delayed and N plain preads, interleaved; prints "min p50 p99 max" of the
 * extra latency in ns (a delayed call less the plain calls' median), then the shortest
 * delayed call whole, and checks that the thread's timer slack survived. */
static void child_measure(int argc, char **argv)
{
	static uint64_t base[MAX_SAMPLES], slow[MAX_SAMPLES];
	int n = (int)ft_arg_ll(argc, argv, 2);
	if (n < 1 || n > MAX_SAMPLES)
		exit(2);
	char path[4096];
	snprintf(path, sizeof(path), "%s/slow.bin", argv[1]);
	int sfd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/fast.bin", argv[1]);
	int ffd = open(path, O_RDONLY);
	if (sfd < 0 || ffd < 0)
		exit(2);
	prctl(PR_SET_TIMERSLACK, OWN_SLACK_NS, 0, 0, 0);
	for (int i = 0; i < 3; i++) { /* warm the caches and the fd table */
		timed_pread(ffd);
		timed_pread(sfd);
	}
	for (int i = 0; i < n; i++) {
		base[i] = timed_pread(ffd);
		slow[i] = timed_pread(sfd);
	}
	FT_EQ(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), OWN_SLACK_NS);
	qsort(base, (size_t)n, sizeof(base[0]), cmp_u64);
	uint64_t median = percentile(base, n, 50);
	qsort(slow, (size_t)n, sizeof(slow[0]), cmp_u64);
	uint64_t shortest = slow[0];
	for (int i = 0; i < n; i++)
		slow[i] = slow[i] > median ? slow[i] - median : 0;
	printf("%llu %llu %llu %llu %llu\n", (unsigned long long)slow[0],
	       (unsigned long long)percentile(slow, n, 50),
	       (unsigned long long)percentile(slow, n, 99), (unsigned long long)slow[n - 1],
	       (unsigned long long)shortest);
	close(sfd);
	close(ffd);
}

/* child: NS N: the machine's own floor, without the library: the overshoot of N plain
 * clock_nanosleep(TIMER_ABSTIME) of NS with a 1 ns timer slack; prints "min p50 p99 max". */
static void child_native(int argc, char **argv)
{
	static uint64_t extra[MAX_SAMPLES];
	uint64_t ns = (uint64_t)ft_arg_ll(argc, argv, 1);
	int n = (int)ft_arg_ll(argc, argv, 2);
	if (n < 1 || n > MAX_SAMPLES)
		exit(2);
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	for (int i = 0; i < n; i++) {
		uint64_t t0 = ft_now_ns(), deadline = t0 + ns;
		struct timespec ts = { (time_t)(deadline / 1000000000u),
			               (long)(deadline % 1000000000u) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		extra[i] = ft_now_ns() - t0;
	}
	qsort(extra, (size_t)n, sizeof(extra[0]), cmp_u64);
	printf("%llu %llu %llu %llu\n", (unsigned long long)extra[0],
	       (unsigned long long)percentile(extra, n, 50),
	       (unsigned long long)percentile(extra, n, 99), (unsigned long long)extra[n - 1]);
}

struct stats {
	double min, p50, p99, max; /* ns */
	double whole_min;          /* the shortest call, delay and all (min when not given) */
};

static bool parse_stats(const struct ft_run *r, struct stats *ret)
{
	int got = sscanf(r->out, "%lf %lf %lf %lf %lf", &ret->min, &ret->p50, &ret->p99, &ret->max,
	                 &ret->whole_min);
	if (got == 4)
		ret->whole_min = ret->min;
	bool ok = got >= 4;
	FT_CHECKF(ok, "no figures from the child: '%s'", r->out);
	return ok;
}

/* The same figures for a plain sleep of delay_ns, without the library. */
static bool measure_native(uint64_t delay_ns, int n, struct stats *ret)
{
	char ns[24], samples[16];
	snprintf(ns, sizeof(ns), "%llu", (unsigned long long)delay_ns);
	snprintf(samples, sizeof(samples), "%d", n);
	struct ft_run r = { .how = FT_PLAIN };
	ft_run(&r, "native", ns, samples, NULL);
	FT_RUN_OK(&r);
	bool ok = parse_stats(&r, ret);
	ft_run_free(&r);
	return ok;
}

static bool measure(uint64_t delay_ns, int n, struct stats *ret)
{
	ft_pattern_file("slow.bin", 16);
	ft_pattern_file("fast.bin", 16);
	char samples[16];
	snprintf(samples, sizeof(samples), "%d", n);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini",
	                     "[mlchaos]\nrequest_key = none\n"
	                     "[fault.slow-disk]\nhook = read\naction = delay\npath = */slow.bin\n"
	                     "delay = %lluns\n",
	                     (unsigned long long)delay_ns);
	ft_run(&r, "measure", ft_dir(), samples, NULL);
	FT_RUN_OK(&r);
	bool ok = parse_stats(&r, ret);
	ft_run_free(&r);
	return ok;
}

static void report(const char *what, double asked, const struct stats *s, const char *spec,
                   bool met)
{
	printf("%-13s p50 %9.1f us (x%.4f)  p99 %9.1f us (x%.4f)  min %9.1f us  "
	       "max %9.1f us  [spec: %s: %s]\n",
	       what, s->p50 / 1e3, s->p50 / asked, s->p99 / 1e3, s->p99 / asked, s->min / 1e3,
	       s->max / 1e3, spec, met ? "met" : "NOT met");
}

/* The benchmark: the figures, whether they meet the spec (reported, not failed), and the
 * machine's floor: a plain absolute clock_nanosleep of the same length. */
static void bench(void)
{
	struct stats s;
	if (measure(10000000, 300, &s))
		report("delay 10ms", 1e7, &s, "p99 within 2%", s.p99 <= 1.02e7 && s.p99 >= 0.98e7);
	if (measure_native(10000000, 300, &s))
		report("native 10ms", 1e7, &s, "p99 within 2%", s.p99 <= 1.02e7 && s.p99 >= 0.98e7);
	if (measure(100000, 3000, &s))
		report("delay 100us", 1e5, &s, "p99 within 20 us",
		       s.p99 <= 1.2e5 && s.p99 >= 0.8e5);
	if (measure_native(100000, 3000, &s))
		report("native 100us", 1e5, &s, "p99 within 20 us",
		       s.p99 <= 1.2e5 && s.p99 >= 0.8e5);
	fflush(stdout);
}

/* The test: never early (the deadline is absolute: every delayed call lasts at least the
 * delay, measured whole, since the plain calls' median it is compared with elsewhere may be
 * longer than a delayed call's own part on a noisy machine); the median within 10% + 100 us
 * even on a loaded machine. The p99 the spec asks for is the benchmark's to report, not a
 * flaky test's. */
static void accuracy(void)
{
	static const struct {
		uint64_t ns;
		int n;
	} cases[] = { { 10000000, 30 }, { 100000, 300 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stats s;
		double asked = (double)cases[i].ns;
		if (!measure(cases[i].ns, cases[i].n, &s))
			continue;
		FT_CHECKF(s.whole_min >= asked, "delay %.0f us: a delayed call of %.1f us only",
		          asked / 1e3, s.whole_min / 1e3);
		FT_CHECKF(s.p50 <= asked * 1.1 + 100000, "delay %.0f us: median extra %.1f us",
		          asked / 1e3, s.p50 / 1e3);
		report(i == 0 ? "delay 10ms" : "delay 100us", asked, &s,
		       "median within 10% + 100 us", s.p50 <= asked * 1.1 + 100000);
	}
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "measure", child_measure },
		{ "native", child_native },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "accuracy", accuracy },
		{ "bench", bench },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
