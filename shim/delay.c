/* delay.c: mc_delay_ns (delay.h). Uses the real clock_nanosleep, never the
 * hooked one, so an injected delay is never itself delayed or counted. */
#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

#include "delay.h"
#include "real.h"

uint64_t mc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mc_delay_ns(uint64_t ns)
{
	if (ns == 0)
		return 0;
	int saved = errno;
	int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (old_slack > 1)
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	uint64_t start = mc_now_ns();
	uint64_t deadline = start + ns;
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
		               .tv_nsec = (long)(deadline % 1000000000ull) };
	while (mc_real.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		; /* a signal handler ran; the deadline has not moved */
	if (old_slack > 1)
		prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
	uint64_t slept = mc_now_ns() - start;
	errno = saved;
	return slept;
}
