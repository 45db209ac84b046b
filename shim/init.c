/* init.c: the shim's start. The constructor only calls mc_init(), which is
 * idempotent and also safe if a hook needs it earlier. Until it has run,
 * every hook is a pure pass-through (the armed mask is zero). In secure-
 * execution mode (setuid, AT_SECURE) it never arms anything. */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "common.h"
#include "delay.h"
#include "fault.h"
#include "fdtable.h"
#include "fmt.h"
#include "guard.h"
#include "init.h"
#include "real.h"
#include "trace.h"

_Atomic uint32_t mc_armed_mask;
__thread struct mc_inside mc_inside __attribute__((tls_model("initial-exec")));

static _Atomic int init_state; /* 0 not started, 1 running, 2 done */

static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] && strcmp(v, "0") != 0;
}

static uint32_t all_families(void)
{
	return MC_HOOK_BIT(MC_HOOK_COUNT) - 1;
}

void mc_init(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&init_state, &expected, 1))
		return;
	mc_guard_enter();
	mc_real_resolve();
	uint32_t armed = 0;
	if (getauxval(AT_SECURE)) {
		/* setuid/setgid/capabilities: the environment is not the
		 * user's to trust; do nothing at all. */
	} else if (env_flag("MLCHAOS_TRACE")) {
		/* trace observes; it never injects, whatever the config says */
		mc_fd_init();
		if (mc_trace_init() == 0)
			armed |= all_families();
		else
			mc_say("trace: cannot map the counter table; tracing is off");
	} else {
		armed |= mc_fault_init(mc_now_ns());
		if (armed)
			mc_fd_init();
	}
	atomic_store_explicit(&mc_armed_mask, armed, memory_order_release);
	atomic_store(&init_state, 2);
	mc_guard_leave();
}

__attribute__((constructor)) static void mc_constructor(void)
{
	mc_init();
}

__attribute__((destructor)) static void mc_destructor(void)
{
	if (!mc_armed_mask_any())
		return;
	mc_guard_enter();
	if (mc_trace_enabled)
		mc_trace_report();
	mc_fault_exit();
	mc_guard_leave();
}
