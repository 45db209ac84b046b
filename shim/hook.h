/* hook.h: what the hook files share: the pass-through test that comes
 * before everything, and the fd table updates of the calls no rule decides
 * on. The bracket of a decided call is pipeline.c's. */
#ifndef MC_HOOK_H
#define MC_HOOK_H

#include <errno.h>

#include "common.h"
#include "fdtable.h"
#include "fn.h"
#include "guard.h"
#include "real.h"
#include "trace.h"

/* True when the call must go straight to the real function: no family in
 * `bits` is armed (one relaxed load), or the shim itself is calling. */
#define MC_PASS(bits) (mc_likely(!mc_armed(bits)) || mc_guard_held())

/* MC_BIT_READ, MC_BIT_SEND...: each family's bit of the armed mask, from the family table. */
#define MC_BIT_ENUM(id, ...) MC_BIT_##id = MC_HOOK_BIT(MC_HOOK_##id),
enum { MC_FAMILIES(MC_BIT_ENUM) };
#undef MC_BIT_ENUM

/* Where the hooked call came from: the hook's return address, for rules with caller keys and
 * the log (objects.h). Read on the slow path only: the frame pointer (the library keeps one)
 * or the stack holds it already. Only in the exported hook itself, never in a helper. */
#define MC_CALLER_PC __builtin_return_address(0)

/* Runs a table update with the guard held and errno as the real call left
 * it: the update's own system calls (getsockname...) must not leak errno. */
#define FD_UPDATE(stmt)                   \
	do {                              \
		int saved_errno_ = errno; \
		mc_guard_enter();         \
		stmt;                     \
		mc_guard_leave();         \
		errno = saved_errno_;     \
	} while (0)

#endif
