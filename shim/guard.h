/* guard.h: the per-thread "inside the shim" depth. While it is held, every
 * hook goes straight to the real function, so the shim's own calls (dlsym,
 * inih, formatting, logging) never re-enter it. Initial-exec TLS: one load,
 * no __tls_get_addr call, no allocation. */
#ifndef MC_GUARD_H
#define MC_GUARD_H

#include <stdbool.h>

/* What this thread is inside of: the library (the guard's depth), an interposed CUDA call
 * (hook_cuda.c: the driver calls libcudart makes while serving it are part of it), and C++
 * operator new (hook_new.c: the code that called it, so that the allocation counts as that
 * caller's; NULL outside). One object for the three, defined in init.c. */
struct mc_inside {
	unsigned guard;
	unsigned cuda;
	const void *new_caller;
};
extern __thread struct mc_inside mc_inside __attribute__((tls_model("initial-exec")));

static inline bool mc_guard_held(void)
{
	return mc_inside.guard != 0;
}

static inline void mc_guard_enter(void)
{
	mc_inside.guard++;
}

static inline void mc_guard_leave(void)
{
	mc_inside.guard--;
}

#endif
