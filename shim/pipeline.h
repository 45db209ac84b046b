/* pipeline.h: the bracket of a hooked call, one per call shape, in one place (pipeline.c).
 * A hook keeps only what cannot be shared: the pass-through test and the express memo
 * (inline, before the guard, so that the common call costs a few loads), then it packs its
 * arguments into the shape's call struct and hands them, with a const table row saying
 * which function it is and how to make the real call, to the shape's pipeline. The pipeline
 * runs the rest in this order: guard enter, context (what the fd is), decide, the
 * unbracketed pass-through when nothing acted and nothing must see the call, before (delay,
 * fail, short), the real call, after (what the row asks for), trace, guard leave with errno
 * as the real call left it or as the rule set it. Outside the guard run only the express
 * memo (its test in the hook, its keep before the pass-through's real call), that real
 * call, and an allocation's trace count: none reaches the config parser or a hooked
 * function. */
#ifndef MC_PIPELINE_H
#define MC_PIPELINE_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common.h"
#include "fault.h"
#include "fn.h"

/* ---- calls on an fd that move bytes: read, send, write and their vector forms --------- */

/* A call on fd, packed by its hook: the buffers as the rules see them (a flat call: one
 * iovec), what its real call needs besides. The pipeline cuts iov/cnt (and msg) for a short
 * call before the real call sees them. */
struct mc_fd_call {
	int fd;
	int flags;
	int64_t off;   /* pread's, pwrite's offset; a read without one: MC_OFF_CURRENT */
	size_t buflen; /* fortified twins: the size the compiler knew */
	struct sockaddr *addr;
	socklen_t *alenp; /* recvfrom */
	socklen_t alen;   /* sendto */
	/* recvmsg, sendmsg: the caller's header (sendmsg's is never written: only recvmsg gets
	 * the kernel's answers copied back into it) */
	struct msghdr *msg;
	const struct iovec *iov;
	int cnt;
	const void *pc; /* the hook's return address: where its caller is (objects.h) */
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

/* mc_pipe_fd()'s two ways (noinline: no stack frame in the hooks for either): the decision
 * and the bracket; and a call while the thread's memo of its family h is a request's (a read,
 * or a write on the socket, whose family is send there) that the hook's own test could not
 * pass. */
ssize_t mc_pipe_fd_decided(const struct mc_fd_row *row, struct mc_fd_call *c)
    __attribute__((noinline));
ssize_t mc_pipe_fd_foreseen(const struct mc_fd_row *row, struct mc_fd_call *c, enum mc_hook h)
    __attribute__((noinline));

/* The pipeline of a call on an fd. Inline in the hook, whose row is a constant: the family
 * is known when compiling, and a call no request's memo is open for pays one thread-local
 * test before the decision. */
static inline ssize_t mc_pipe_fd(const struct mc_fd_row *row, struct mc_fd_call *c)
{
	enum mc_hook h = row->family == MC_HOOK_READ ? MC_HOOK_READ : MC_HOOK_SEND;
	if (mc_fault_foreseen(h))
		return mc_pipe_fd_foreseen(row, c, h);
	return mc_pipe_fd_decided(row, c);
}
/* After a flat read on socket fd that a request's memo let pass in the hook (MC_WAY_SCAN):
 * the r bytes it brought (r > 0) in buf go to the request-key scanner. Returns r; errno as
 * the read left it. */
ssize_t mc_pipe_scanned(int fd, const void *buf, ssize_t r);

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
	size_t n;       /* items asked; cut for a short call (one item at least) */
	size_t ptrlen;  /* __fread_chk */
	const void *pc; /* the hook's return address */
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

/* ---- allocations: malloc, calloc, realloc, posix_memalign, the aligned ones ----------- */

/* What an allocation asks besides its size, for the functions that take more than one (the
 * others, malloc, valloc and pvalloc, pass none: their hooks hand the size on in a register,
 * with nothing to pack). */
struct mc_alloc_call {
	void *p;            /* realloc: the block to move */
	size_t nmemb, size; /* calloc, reallocarray */
	size_t align;
	void **out; /* posix_memalign */
	int err;    /* posix_memalign: what it returns (a failed call: the error) */
};

/* The block moved (realloc): what it held leaves the live heap once the move is done. */
#define MC_PIPE_MOVES (1u << 4)

/* call: the real call for n bytes (calloc: nmemb * size, SIZE_MAX when that overflows) with
 * c (NULL for the functions that take the size alone); the block it gave, or NULL. */
struct mc_alloc_row {
	enum mc_fn fn;
	unsigned what;
	void *(*call)(size_t n, struct mc_alloc_call *c);
};

/* NULL with errno (and c->err, when c is given) set when a rule failed the allocation; pc:
 * the hook's return address (where its caller is). */
void *mc_pipe_alloc(const struct mc_alloc_row *row, size_t n, struct mc_alloc_call *c,
                    const void *pc);

#define MC_ALLOC_ROW(name, what, expr)                              \
	static void *call_##name(size_t n, struct mc_alloc_call *c) \
	{                                                           \
		(void)n;                                            \
		(void)c;                                            \
		return expr;                                        \
	}                                                           \
	static const struct mc_alloc_row row_##name = { MC_FN_##name, what, call_##name };

/* ---- calls that name a file: open, fopen, stat (by path, or on an fd) ----------------- */

struct mc_path_call {
	const char *path; /* as asked; a redirect rule puts its target here */
	int dirfd;        /* AT_FDCWD for plain path calls */
	bool on_fd;       /* fstat, and the *at stat calls with "" and AT_EMPTY_PATH: on fd */
	int fd;
	int flags;
	mode_t mode;
	const char *fmode; /* fopen, freopen */
	FILE *stream;      /* freopen: the stream reopened */
	FILE *opened;      /* fopen, freopen: what the real call gave */
	int ver;           /* __xstat and kin: the structure's version */
	unsigned int mask; /* statx */
	void *out;         /* struct stat, stat64 or statx */
	const void *pc;    /* the hook's return address */
};

/* The call opens path: the fd it gives enters the fd table by that path (a redirect's
 * target), with its tensor map; its stream (MC_PIPE_STDIO) replaces the one reopened. */
#define MC_PIPE_OPENS (1u << 5)
/* fopen, freopen: a NULL path (freopen's "the same file, another mode") is passed on. */
#define MC_PIPE_STDIO (1u << 6)

struct mc_path_row {
	enum mc_fn fn;
	enum mc_hook family;
	unsigned what;
	int (*call)(struct mc_path_call *c); /* the fd opened, or the call's result */
};

/* -1 with errno set when a rule failed the call. */
int mc_pipe_path(const struct mc_path_row *row, struct mc_path_call *c);

#define MC_PATH_ROW(name, family, what, expr)          \
	static int call_##name(struct mc_path_call *c) \
	{                                              \
		return expr;                           \
	}                                              \
	static const struct mc_path_row row_##name = { MC_FN_##name, family, what, call_##name };

/* ---- mappings: mmap (a file, or anonymous memory), mremap ------------------------------ */

struct mc_map_call {
	void *addr; /* mremap: the old mapping */
	size_t len; /* mremap: the new length */
	int prot;
	int flags;
	int fd;
	int64_t off;
	size_t old_len; /* mremap */
	void *new_addr; /* mremap with MREMAP_FIXED */
	const void *pc; /* the hook's return address */
};

/* mremap: judged by what it grows (a mapping that does not grow is never failed). */
#define MC_PIPE_REMAP (1u << 7)

struct mc_map_row {
	enum mc_fn fn;
	unsigned what;
	void *(*call)(const struct mc_map_call *c);
	/* an anonymous mapping was made (guard held): counted toward a budget; may be NULL */
	void (*made)(void *addr, size_t len);
};

/* MAP_FAILED with errno set when a rule failed the call. */
void *mc_pipe_map(const struct mc_map_row *row, struct mc_map_call *c);

/* ---- sleeps: clock_nanosleep, nanosleep, usleep, sleep ------------------------------ */

/* The bracket of a sleep, up to its real call: 0 to go on with it, or the error a rule
 * interrupts it with; errno as it was either way. The real sleep is the hook's, made once
 * the guard is left: it may last, and what a signal handler calls meanwhile meets the rules
 * as any call does. */
int mc_pipe_sleep(enum mc_fn fn, const void *pc);

#endif
