/* hook.h: what the hook files share: the shape of the pass-through test
 * and the bracket every slow path runs in (guard held, errno preserved as
 * the real call left it). */
#ifndef MC_HOOK_H
#define MC_HOOK_H

#include <errno.h>
#include <sys/uio.h>

#include "common.h"
#include "fdtable.h"
#include "fn.h"
#include "guard.h"
#include "real.h"
#include "trace.h"

/* True when the call must go straight to the real function: no family in
 * `bits` is armed (one relaxed load), or the shim itself is calling. */
#define MC_PASS(bits) (mc_likely(!mc_armed(bits)) || mc_guard_held())

#define MC_BIT_READ   MC_HOOK_BIT(MC_HOOK_READ)
#define MC_BIT_SEND   MC_HOOK_BIT(MC_HOOK_SEND)
#define MC_BIT_WRITE  MC_HOOK_BIT(MC_HOOK_WRITE)
#define MC_BIT_MALLOC MC_HOOK_BIT(MC_HOOK_MALLOC)
#define MC_BIT_MMAP   MC_HOOK_BIT(MC_HOOK_MMAP)
#define MC_BIT_SLEEP  MC_HOOK_BIT(MC_HOOK_SLEEP)
#define MC_BIT_OPEN   MC_HOOK_BIT(MC_HOOK_OPEN)
#define MC_BIT_STAT   MC_HOOK_BIT(MC_HOOK_STAT)

/* One hooked call on its slow path. */
struct mc_hookcall {
	enum mc_fn fn;
	int fd; /* -1 when the call has none */
	int saved_errno;
};

static inline void mc_call_begin(struct mc_hookcall *c, enum mc_fn fn, int fd)
{
	c->fn = fn;
	c->fd = fd;
	mc_guard_enter();
}

/* Leaves the bracket before the real call: nothing of the decision is used from here on
 * and nothing is to be traced (errno as it is). */
static inline void mc_call_pass(struct mc_hookcall *c)
{
	(void)c;
	mc_guard_leave();
}

/* Ends an fd call that moved `ret` bytes (negative: failed). Leaves errno
 * exactly as the real call did. */
static inline void mc_call_end_fd(struct mc_hookcall *c, long long ret)
{
	int e = errno;
	if (mc_trace_enabled && c->fd >= 0)
		mc_trace_fd(c->fn, c->fd, ret > 0 ? (uint64_t)ret : 0);
	mc_guard_leave();
	errno = e;
}

static inline void mc_call_end_target(struct mc_hookcall *c, enum mc_target_kind kind,
                                      uint64_t bytes)
{
	int e = errno;
	if (mc_trace_enabled)
		mc_trace_target(c->fn, kind, 0, bytes);
	mc_guard_leave();
	errno = e;
}

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

/* A short call on a vector: the first iovecs of iov[0, cnt), the last one
 * cut, so that they hold at most want bytes; copied into out, at most
 * MC_SHORT_IOV_MAX entries. Returns how many. */
#define MC_SHORT_IOV_MAX 64

static inline int mc_iov_cut(const struct iovec *iov, size_t cnt, uint64_t want,
                             struct iovec out[MC_SHORT_IOV_MAX])
{
	int k = 0;
	for (size_t i = 0; i < cnt && k < MC_SHORT_IOV_MAX && want > 0; i++, k++) {
		out[k] = iov[i];
		if (out[k].iov_len > want)
			out[k].iov_len = (size_t)want;
		want -= out[k].iov_len;
	}
	return k;
}

/* Bytes described by an iovec array (saturating). */
static inline uint64_t mc_iov_bytes(const struct iovec *iov, int cnt)
{
	uint64_t n = 0;
	for (int i = 0; iov && i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

#endif
