/* common.h: what every file of the shim shares: hook families, the armed
 * mask that keeps the pass-through path to one load and one branch, and the
 * attributes of interposed symbols. Never include libc-hooking logic here. */
#ifndef MC_COMMON_H
#define MC_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "families.h"

#define mc_likely(x)   __builtin_expect(!!(x), 1)
#define mc_unlikely(x) __builtin_expect(!!(x), 0)

/* The interposed libc names are the only symbols libmlchaos.so exports
 * (everything else is hidden by -fvisibility=hidden and shim.map). */
#define MC_EXPORT __attribute__((visibility("default")))
#define MC_COLD   __attribute__((noinline, cold))

/* Hook families, as named by `hook =` in the INI language: one row each in families.h. */
#define MC_HOOK_ENUM(id, ...) MC_HOOK_##id,
enum mc_hook { MC_FAMILIES(MC_HOOK_ENUM) MC_HOOK_COUNT };
#undef MC_HOOK_ENUM

#define MC_HOOK_BIT(h) (1u << (h))

/* The CUDA families' bits: any of them armed sends every CUDA call to its slow path (a
 * poisoned context fails them all). */
#define MC_HOOKS_CUDA                                                         \
	(MC_HOOK_BIT(MC_HOOK_CUDA_ALLOC) | MC_HOOK_BIT(MC_HOOK_CUDA_LAUNCH) | \
	 MC_HOOK_BIT(MC_HOOK_CUDA_COPY) | MC_HOOK_BIT(MC_HOOK_CUDA_INIT))

static inline bool mc_hook_is_cuda(enum mc_hook h)
{
	return (unsigned)h < MC_HOOK_COUNT && (MC_HOOK_BIT(h) & MC_HOOKS_CUDA);
}

/* Bit h is set when family h has work to do: trace mode, or at least one
 * rule for it. Written at init (and on reload); read with one relaxed load
 * on every hooked call. Zero means pure pass-through. */
extern _Atomic uint32_t mc_armed_mask;

static inline bool mc_armed(uint32_t bits)
{
	return (atomic_load_explicit(&mc_armed_mask, memory_order_relaxed) & bits) != 0;
}

/* Moves whenever something the express memos of the hooks depend on changes
 * (a reload of the rules, the host's phase): every memo of every thread is
 * then stale. Never 0 once rules are armed, so a zeroed memo never holds. */
extern _Atomic uint32_t mc_express_epoch;

static inline void mc_express_invalidate(void)
{
	atomic_fetch_add_explicit(&mc_express_epoch, 1, memory_order_release);
}

/* True when the shim does anything at all in this process. */
static inline bool mc_armed_mask_any(void)
{
	return atomic_load_explicit(&mc_armed_mask, memory_order_relaxed) != 0;
}

#endif
