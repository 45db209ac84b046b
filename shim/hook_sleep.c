/* hook_sleep.c: clock_nanosleep, nanosleep, usleep, sleep (glibc's usleep
 * and sleep reach the kernel without going through the other two, so each
 * is hooked). A delay rule lengthens the sleep; a fail rule interrupts it
 * at once with EINTR (or the rule's errno), as a signal would, reporting
 * the whole request as remaining. Async-signal-safe. */
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"

/* Straight to libc: the family is not armed, the library's own call, or the thread's express
 * memo says sleeps need nothing now (fault.h: a sleep is a call of size 0, with no fd). */
#define SLEEP_PASS (MC_PASS(MC_BIT_SLEEP) || mc_fault_express_anon(MC_HOOK_SLEEP, 0))

static void whole_request_remains(const struct timespec *req, struct timespec *rem)
{
	if (req && rem)
		*rem = *req;
}

/* Each hook passes with a tail call; what a rule does is in its _slow half (no stack frame in
 * the hook). mc_pipe_sleep() leaves errno as it was: a sleep that fails sets it itself. */
static MC_COLD int clock_nanosleep_slow(clockid_t clk, int flags, const struct timespec *req,
                                        struct timespec *rem)
{
	int err = mc_pipe_sleep(MC_FN_clock_nanosleep, MC_CALLER_PC);
	if (!err)
		return mc_real.clock_nanosleep(clk, flags, req, rem);
	if (!(flags & TIMER_ABSTIME))
		whole_request_remains(req, rem);
	return err; /* clock_nanosleep returns its error, errno untouched */
}

MC_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                              struct timespec *rem)
{
	if (SLEEP_PASS)
		return mc_real.clock_nanosleep(clk, flags, req, rem);
	return clock_nanosleep_slow(clk, flags, req, rem);
}

static MC_COLD int nanosleep_slow(const struct timespec *req, struct timespec *rem)
{
	int err = mc_pipe_sleep(MC_FN_nanosleep, MC_CALLER_PC);
	if (!err)
		return mc_real.nanosleep(req, rem);
	whole_request_remains(req, rem);
	errno = err;
	return -1;
}

MC_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (SLEEP_PASS)
		return mc_real.nanosleep(req, rem);
	return nanosleep_slow(req, rem);
}

static MC_COLD int usleep_slow(useconds_t usec)
{
	int err = mc_pipe_sleep(MC_FN_usleep, MC_CALLER_PC);
	if (!err)
		return mc_real.usleep(usec);
	errno = err;
	return -1;
}

MC_EXPORT int usleep(useconds_t usec)
{
	if (SLEEP_PASS)
		return mc_real.usleep(usec);
	return usleep_slow(usec);
}

static MC_COLD unsigned int sleep_slow(unsigned int sec)
{
	if (mc_pipe_sleep(MC_FN_sleep, MC_CALLER_PC))
		return sec; /* interrupted at once: every second remains */
	return mc_real.sleep(sec);
}

MC_EXPORT unsigned int sleep(unsigned int sec)
{
	if (SLEEP_PASS)
		return mc_real.sleep(sec);
	return sleep_slow(sec);
}
