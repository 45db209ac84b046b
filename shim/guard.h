/* guard.h: the per-thread "inside the shim" depth. While it is held, every
 * hook goes straight to the real function, so the shim's own calls (dlsym,
 * inih, formatting, logging) never re-enter it. Initial-exec TLS: one load,
 * no __tls_get_addr call, no allocation. */
#ifndef MC_GUARD_H
#define MC_GUARD_H

#include <stdbool.h>

extern __thread unsigned mc_guard_depth __attribute__((tls_model("initial-exec")));

static inline bool mc_guard_held(void)
{
	return mc_guard_depth != 0;
}

static inline void mc_guard_enter(void)
{
	mc_guard_depth++;
}

static inline void mc_guard_leave(void)
{
	mc_guard_depth--;
}

#endif
