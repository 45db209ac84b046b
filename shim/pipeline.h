/* pipeline.h: the bracket of a hooked call, one per call shape, in one place (pipeline.c).
 * A hook keeps only what cannot be shared: the pass-through test and the express memo
 * (inline, before the guard, so that the common call costs a few loads), then it packs its
 * arguments into the shape's call struct and hands them, with a const table row saying
 * which function it is and how to make the real call, to the shape's pipeline. The pipeline
 * runs the rest in this order: guard enter, context (what the fd is), decide, the
 * unbracketed pass-through when nothing acted and nothing must see the call, before (delay,
 * fail, short), the real call, after (what the row asks for), trace, guard leave with errno
 * as the real call left it or as the rule set it. Nothing in a pipeline runs outside the
 * guard but the real call of that pass-through. */
#ifndef MC_PIPELINE_H
#define MC_PIPELINE_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common.h"
#include "fn.h"

/* ---- calls on an fd that move bytes: read, send, write and their vector forms --------- */

/* A call on fd, packed by its hook: the buffers as the rules see them (a flat call: one
 * iovec), what its real call needs besides. The pipeline cuts iov/cnt (and msg) for a short
 * call before the real call sees them. */
struct mc_fd_call {
	int fd;
	int flags;
	int64_t off;   /* pread's offset; MC_OFF_CURRENT (read), MC_OFF_UNKNOWN (no file offset) */
	size_t buflen; /* fortified twins: the size the compiler knew */
	struct sockaddr *addr;
	socklen_t *alenp; /* recvfrom */
	socklen_t alen;   /* sendto */
	/* recvmsg, sendmsg: the caller's header (sendmsg's is never written: only recvmsg gets
	 * the kernel's answers copied back into it) */
	struct msghdr *msg;
	const struct iovec *iov;
	int cnt;
};

/* The buffer of a flat call (read, send, write...): iov[0], cut for a short call. */
static inline void *mc_fd_buf(const struct mc_fd_call *c)
{
	return c->iov[0].iov_base;
}

static inline size_t mc_fd_len(const struct mc_fd_call *c)
{
	return c->iov[0].iov_len;
}

/* What a row asks of the pipeline. */
enum {
	/* nothing acted, no trace, nothing to see: the real call unbracketed, the call's
	 * express hint kept (the calls whose hook takes the express memo) */
	MC_PIPE_EXPRESS = 1u << 0,
	/* the bytes that arrived: shown to the request-key scanner (sockets), then to the
	 * stream rules and to a corrupt rule */
	MC_PIPE_ARRIVED = 1u << 1,
	/* the bytes sent on a socket: their HTTP status seen by halt_on_error_rate */
	MC_PIPE_SENT = 1u << 2,
	/* one buffer (read, send, write...): a short call cuts its length, to 0 if so */
	MC_PIPE_FLAT = 1u << 3,
};

/* The family of a write: send on sockets, write on the rest. */
#define MC_FAMILY_BY_FD MC_HOOK_COUNT

/* One row per hooked function: which it is, its family (or MC_FAMILY_BY_FD), what the
 * pipeline does around it (MC_PIPE_*), and its real call (c->iov, c->cnt, c->msg as cut). */
struct mc_fd_row {
	enum mc_fn fn;
	enum mc_hook family;
	unsigned what;
	ssize_t (*call)(const struct mc_fd_call *c);
};

ssize_t mc_pipe_fd(const struct mc_fd_row *row, struct mc_fd_call *c);

/* A row and its real call, as an expression of c (struct mc_fd_call *). */
#define MC_FD_ROW(name, family, what, expr)                    \
	static ssize_t call_##name(const struct mc_fd_call *c) \
	{                                                      \
		return expr;                                   \
	}                                                      \
	static const struct mc_fd_row row_##name = { MC_FN_##name, family, what, call_##name };

/* ---- stdio: fread, fwrite (items, not bytes) ------------------------------------------- */

struct mc_items_call {
	FILE *stream;
	void *ptr; /* fwrite: never written */
	size_t size;
	size_t n;      /* items asked; cut for a short call (one item at least) */
	size_t ptrlen; /* __fread_chk */
};

/* family: MC_HOOK_READ or MC_FAMILY_BY_FD; what: MC_PIPE_ARRIVED for reads. */
struct mc_items_row {
	enum mc_fn fn;
	enum mc_hook family;
	unsigned what;
	size_t (*call)(const struct mc_items_call *c);
};

size_t mc_pipe_items(const struct mc_items_row *row, struct mc_items_call *c);

#define MC_ITEMS_ROW(name, family, what, expr)                   \
	static size_t call_##name(const struct mc_items_call *c) \
	{                                                        \
		return expr;                                     \
	}                                                        \
	static const struct mc_items_row row_##name = { MC_FN_##name, family, what, call_##name };

/* ---- many messages at once: recvmmsg, sendmmsg (traced, never decided on) -------------- */

struct mc_batch_call {
	int fd;
	int flags;
	struct mmsghdr *v;
	unsigned int vlen;
	struct timespec *tmo; /* recvmmsg */
};

struct mc_batch_row {
	enum mc_fn fn;
	int (*call)(const struct mc_batch_call *c);
};

int mc_pipe_batch(const struct mc_batch_row *row, const struct mc_batch_call *c);

#endif
