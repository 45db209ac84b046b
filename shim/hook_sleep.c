/* hook_sleep.c: clock_nanosleep, nanosleep, usleep, sleep (glibc's usleep
 * and sleep call the kernel without going through the other two, so each
 * is hooked). Async-signal-safe: sleeps happen in signal handlers too. */
#include <time.h>
#include <unistd.h>

#include "hook.h"

static uint64_t ts_ns(const struct timespec *ts)
{
	return ts ? (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec : 0;
}

static MC_COLD void count_sleep(enum mc_fn fn, uint64_t ns)
{
	struct mc_call c;
	mc_call_begin(&c, fn, -1);
	(void)ns; /* sleeps count calls; bytes stay 0 */
	mc_call_end_target(&c, MC_TGT_OTHER, 0);
}

MC_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                              struct timespec *rem)
{
	if (!MC_PASS(MC_BIT_SLEEP))
		count_sleep(MC_FN_clock_nanosleep, ts_ns(req));
	return mc_real.clock_nanosleep(clk, flags, req, rem);
}

MC_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!MC_PASS(MC_BIT_SLEEP))
		count_sleep(MC_FN_nanosleep, ts_ns(req));
	return mc_real.nanosleep(req, rem);
}

MC_EXPORT int usleep(useconds_t usec)
{
	if (!MC_PASS(MC_BIT_SLEEP))
		count_sleep(MC_FN_usleep, (uint64_t)usec * 1000);
	return mc_real.usleep(usec);
}

MC_EXPORT unsigned int sleep(unsigned int sec)
{
	if (!MC_PASS(MC_BIT_SLEEP))
		count_sleep(MC_FN_sleep, (uint64_t)sec * 1000000000ull);
	return mc_real.sleep(sec);
}
