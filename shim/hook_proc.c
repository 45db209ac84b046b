/* hook_proc.c: process-level exits and escapes: _exit and _Exit (which skip
 * destructors, so a trace must be reported here: gunicorn and Python's
 * os._exit leave this way) and libc's syscall(), which bypasses every hook:
 * it is counted by number in a trace so the user learns that faults cannot
 * reach those calls. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"

/* _exit skips destructors: the trace is reported and the counters'
 * segment removed here, or they would be lost or left behind. */
static MC_COLD void before_exit(void)
{
	mc_guard_enter();
	if (mc_trace_enabled)
		mc_trace_report();
	mc_fault_exit();
	mc_guard_leave();
}

MC_EXPORT void _exit(int status)
{
	if (mc_unlikely(mc_armed_mask_any()))
		before_exit();
	mc_real._exit(status);
}

MC_EXPORT void _Exit(int status)
{
	if (mc_unlikely(mc_armed_mask_any()))
		before_exit();
	mc_real._Exit(status);
}

/* Six arguments are passed on whatever the caller gave, as glibc's own syscall() does: the
 * kernel reads only those the call has. The sixth comes from the caller's stack, past what a
 * call with fewer arguments pushed: a read of its frame the sanitizer would report, so it is
 * not instrumented. */
MC_EXPORT __attribute__((no_sanitize_address)) long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (mc_unlikely(mc_trace_enabled) && !mc_guard_held()) {
		int saved = errno;
		mc_guard_enter();
		mc_trace_target(MC_FN_syscall, MC_TGT_SYSCALL, (uint32_t)nr, 0);
		mc_guard_leave();
		errno = saved;
	}
	return mc_real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
