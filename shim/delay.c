/* delay.c: mc_delay_ns (delay.h). Uses the real clock_nanosleep, never the
 * hooked one, so an injected delay is never itself delayed or counted. */
#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

#include "delay.h"
#include "real.h"

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mc_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t mc_unix_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* The last stretch before the deadline is spun, not slept: a wake-up on a
 * busy or virtual machine comes tens of microseconds late, which would make
 * a 100 us delay 20% longer. The spin is bounded by this margin. */
#define SPIN_MARGIN_NS 50000u

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

uint64_t mc_delay_ns(uint64_t ns)
{
	if (ns == 0)
		return 0;
	int saved = errno;
	uint64_t start = mc_now_ns();
	uint64_t deadline = start + ns;
	if (ns > SPIN_MARGIN_NS) {
		int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
		if (old_slack > 1)
			prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		uint64_t wake = deadline - SPIN_MARGIN_NS;
		struct timespec ts = { .tv_sec = (time_t)(wake / 1000000000ull),
			               .tv_nsec = (long)(wake % 1000000000ull) };
		while (mc_real.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			; /* a signal handler ran; the deadline has not moved */
		if (old_slack > 1)
			prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
	}
	while (mc_now_ns() < deadline)
		cpu_relax();
	uint64_t slept = mc_now_ns() - start;
	errno = saved;
	return slept;
}

uint64_t mc_burn_ns(uint64_t ns)
{
	uint64_t start = mc_now_ns(), now = start;

	/* the thread stays runnable the whole time, as a CPU-starved call or a noisy neighbour
	 * on the same core keeps it, where a sleep would leave the core to others */
	while (now - start < ns) {
		for (int i = 0; i < 64; i++)
			cpu_relax();
		now = mc_now_ns();
	}
	return now - start;
}
