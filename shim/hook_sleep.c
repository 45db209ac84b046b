/* hook_sleep.c: clock_nanosleep, nanosleep, usleep, sleep (glibc's usleep
 * and sleep reach the kernel without going through the other two, so each
 * is hooked). A delay rule lengthens the sleep; a fail rule interrupts it
 * at once with EINTR (or the rule's errno), as a signal would, reporting
 * the whole request as remaining. Async-signal-safe. */
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "pipeline.h"

static void whole_request_remains(const struct timespec *req, struct timespec *rem)
{
	if (req && rem)
		*rem = *req;
}

MC_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                              struct timespec *rem)
{
	if (!MC_PASS(MC_BIT_SLEEP)) {
		int saved = errno;
		int err = mc_pipe_sleep(MC_FN_clock_nanosleep);
		errno = saved; /* clock_nanosleep returns its error, errno untouched */
		if (err) {
			if (!(flags & TIMER_ABSTIME))
				whole_request_remains(req, rem);
			return err;
		}
	}
	return mc_real.clock_nanosleep(clk, flags, req, rem);
}

MC_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!MC_PASS(MC_BIT_SLEEP)) {
		int saved = errno;
		int err = mc_pipe_sleep(MC_FN_nanosleep);
		if (err) {
			whole_request_remains(req, rem);
			errno = err;
			return -1;
		}
		errno = saved;
	}
	return mc_real.nanosleep(req, rem);
}

MC_EXPORT int usleep(useconds_t usec)
{
	if (!MC_PASS(MC_BIT_SLEEP)) {
		int saved = errno;
		int err = mc_pipe_sleep(MC_FN_usleep);
		if (err) {
			errno = err;
			return -1;
		}
		errno = saved;
	}
	return mc_real.usleep(usec);
}

MC_EXPORT unsigned int sleep(unsigned int sec)
{
	if (!MC_PASS(MC_BIT_SLEEP)) {
		int saved = errno;
		int err = mc_pipe_sleep(MC_FN_sleep);
		errno = saved;
		if (err)
			return sec; /* interrupted at once: every second remains */
	}
	return mc_real.sleep(sec);
}
