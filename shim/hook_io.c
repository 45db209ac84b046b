/* hook_io.c: the read family — read, pread, readv, preadv, recv, recvfrom,
 * recvmsg, recvmmsg, fread and their fortified __*_chk twins. Every hook is
 * a pass-through unless the read family is armed; all of them then share
 * pipeline.c's bracket for their shape (fd call, stdio call), so a fault applies
 * alike whichever way a loader reads its weights. Not reached, by design of
 * stdio: fgets, getc/fgetc, getline/getdelim, fscanf, which read through
 * libc's internal buffer refill, not through a hookable symbol. */
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"

/* ---- flat buffers: read, pread, recv, recvfrom and their twins ---------- */

#define READ_ROW(name, expr) MC_FD_ROW(name, MC_HOOK_READ, READ_FLAT, expr)
#define READ_FLAT            (MC_PIPE_FLAT | MC_PIPE_EXPRESS | MC_PIPE_ARRIVED)
#define BUF                  mc_fd_buf(c), mc_fd_len(c)

READ_ROW(read, mc_real.read(c->fd, BUF))
READ_ROW(__read_chk, mc_real.__read_chk(c->fd, BUF, c->buflen))
READ_ROW(pread, mc_real.pread(c->fd, BUF, (off_t)c->off))
READ_ROW(pread64, mc_real.pread64(c->fd, BUF, c->off))
READ_ROW(__pread_chk, mc_real.__pread_chk(c->fd, BUF, (off_t)c->off, c->buflen))
READ_ROW(__pread64_chk, mc_real.__pread64_chk(c->fd, BUF, c->off, c->buflen))
READ_ROW(recv, mc_real.recv(c->fd, BUF, c->flags))
READ_ROW(__recv_chk, mc_real.__recv_chk(c->fd, BUF, c->buflen, c->flags))
READ_ROW(recvfrom, mc_real.recvfrom(c->fd, BUF, c->flags, c->addr, c->alenp))
READ_ROW(__recvfrom_chk, mc_real.__recvfrom_chk(c->fd, BUF, c->buflen, c->flags, c->addr, c->alenp))

/* The hook of a flat read: pass-through test and express memo, then the pipeline with the
 * call's arguments (the named fields of struct mc_fd_call). */
#define READ_HOOK(name, args, ...)                                            \
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n)) \
		return mc_real.name args;                                     \
	READ_PIPE(name, __VA_ARGS__)
#define READ_PIPE(name, ...)                                                     \
	struct iovec one = { .iov_base = buf, .iov_len = n };                    \
	struct mc_fd_call c = {                                                  \
		.pc = MC_CALLER_PC, .fd = fd, .iov = &one, .cnt = 1, __VA_ARGS__ \
	};                                                                       \
	return mc_pipe_fd(&row_##name, &c)

/* The same for the reads a request can arrive by (read, recv, recvfrom): a request's memo
 * lets them pass in the hook too, their bytes then shown to the scanner by scanned_NAME. The
 * three ways out before the pipeline are tail calls with the hook's own arguments, so that
 * the hook needs no stack frame on them; only the pipeline's way builds the call's struct. */
#define SOCKET_READ_HOOK(name, args, ...)       \
	if (MC_PASS(MC_BIT_READ))               \
		return mc_real.name args;       \
	switch (mc_fault_express_read(fd, n)) { \
	case MC_WAY_PASS:                       \
		return mc_real.name args;       \
	case MC_WAY_SCAN:                       \
		return scanned_##name args;     \
	case MC_WAY_DECIDE:                     \
		break;                          \
	}                                       \
	READ_PIPE(name, __VA_ARGS__)

/* A read a request's memo let pass: the real call, then what it brought to the scanner. */
#define SCANNED(name, params, args)                                    \
	static __attribute__((noinline)) ssize_t scanned_##name params \
	{                                                              \
		ssize_t r = mc_real.name args;                         \
		return r > 0 ? mc_pipe_scanned(fd, buf, r) : r;        \
	}

SCANNED(read, (int fd, void *buf, size_t n), (fd, buf, n))
SCANNED(__read_chk, (int fd, void *buf, size_t n, size_t buflen), (fd, buf, n, buflen))
SCANNED(recv, (int fd, void *buf, size_t n, int flags), (fd, buf, n, flags))
SCANNED(__recv_chk, (int fd, void *buf, size_t n, size_t buflen, int flags),
        (fd, buf, n, buflen, flags))
SCANNED(recvfrom, (int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen),
        (fd, buf, n, flags, addr, alen))
SCANNED(__recvfrom_chk,
        (int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
         socklen_t *alen),
        (fd, buf, n, buflen, flags, addr, alen))

MC_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	SOCKET_READ_HOOK(read, (fd, buf, n), .off = MC_OFF_CURRENT);
}

MC_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	SOCKET_READ_HOOK(__read_chk, (fd, buf, n, buflen), .off = MC_OFF_CURRENT, .buflen = buflen);
}

MC_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	READ_HOOK(pread, (fd, buf, n, off), .off = off);
}

MC_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	READ_HOOK(pread64, (fd, buf, n, off), .off = off);
}

MC_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	READ_HOOK(__pread_chk, (fd, buf, n, off, buflen), .off = off, .buflen = buflen);
}

MC_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	READ_HOOK(__pread64_chk, (fd, buf, n, off, buflen), .off = off, .buflen = buflen);
}

MC_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	SOCKET_READ_HOOK(recv, (fd, buf, n, flags), .off = MC_OFF_CURRENT, .flags = flags);
}

MC_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	SOCKET_READ_HOOK(__recv_chk, (fd, buf, n, buflen, flags), .off = MC_OFF_CURRENT,
	                 .flags = flags, .buflen = buflen);
}

MC_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                           socklen_t *alen)
{
	SOCKET_READ_HOOK(recvfrom, (fd, buf, n, flags, addr, alen), .off = MC_OFF_CURRENT,
	                 .flags = flags, .addr = addr, .alenp = alen);
}

MC_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *addr, socklen_t *alen)
{
	SOCKET_READ_HOOK(__recvfrom_chk, (fd, buf, n, buflen, flags, addr, alen),
	                 .off = MC_OFF_CURRENT, .flags = flags, .buflen = buflen, .addr = addr,
	                 .alenp = alen);
}

/* ---- vectors: readv, preadv*, recvmsg ------------------------------------ */

#define READV_ROW(name, expr) MC_FD_ROW(name, MC_HOOK_READ, MC_PIPE_ARRIVED, expr)

READV_ROW(readv, mc_real.readv(c->fd, c->iov, c->cnt))
READV_ROW(preadv, mc_real.preadv(c->fd, c->iov, c->cnt, (off_t)c->off))
READV_ROW(preadv64, mc_real.preadv64(c->fd, c->iov, c->cnt, c->off))
READV_ROW(preadv2, mc_real.preadv2(c->fd, c->iov, c->cnt, (off_t)c->off, c->flags))
READV_ROW(preadv64v2, mc_real.preadv64v2(c->fd, c->iov, c->cnt, c->off, c->flags))
READV_ROW(recvmsg, mc_real.recvmsg(c->fd, c->msg, c->flags))

#define READV_HOOK(name, args, ...)                                               \
	if (MC_PASS(MC_BIT_READ))                                                 \
		return mc_real.name args;                                         \
	struct mc_fd_call c = {                                                   \
		.pc = MC_CALLER_PC, .fd = fd, .iov = iov, .cnt = cnt, __VA_ARGS__ \
	};                                                                        \
	return mc_pipe_fd(&row_##name, &c)

MC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	READV_HOOK(readv, (fd, iov, cnt), .off = MC_OFF_CURRENT);
}

MC_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	READV_HOOK(preadv, (fd, iov, cnt, off), .off = off);
}

MC_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	READV_HOOK(preadv64, (fd, iov, cnt, off), .off = off);
}

MC_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	READV_HOOK(preadv2, (fd, iov, cnt, off, flags), .off = off, .flags = flags);
}

MC_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	READV_HOOK(preadv64v2, (fd, iov, cnt, off, flags), .off = off, .flags = flags);
}

MC_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.recvmsg(fd, msg, flags);
	struct mc_fd_call c = { .pc = MC_CALLER_PC,
		                .fd = fd,
		                .off = MC_OFF_CURRENT,
		                .flags = flags,
		                .msg = msg,
		                .iov = msg ? msg->msg_iov : NULL,
		                .cnt = msg ? (int)msg->msg_iovlen : 0 };
	return mc_pipe_fd(&row_recvmsg, &c);
}

static int call_recvmmsg(const struct mc_batch_call *c)
{
	return mc_real.recvmmsg(c->fd, c->v, c->vlen, c->flags, c->tmo);
}

static const struct mc_batch_row row_recvmmsg = { MC_FN_recvmmsg, call_recvmmsg };

MC_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags,
                       struct timespec *tmo)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.recvmmsg(fd, v, vlen, flags, tmo);
	struct mc_batch_call c = { .fd = fd, .v = v, .vlen = vlen, .flags = flags, .tmo = tmo };
	return mc_pipe_batch(&row_recvmmsg, &c);
}

/* ---- stdio: fread and its twins ------------------------------------------ */

#define FREAD_ROW(name, expr) MC_ITEMS_ROW(name, MC_HOOK_READ, MC_PIPE_ARRIVED, expr)

FREAD_ROW(fread, mc_real.fread(c->ptr, c->size, c->n, c->stream))
FREAD_ROW(fread_unlocked, mc_real.fread_unlocked(c->ptr, c->size, c->n, c->stream))
FREAD_ROW(__fread_chk, mc_real.__fread_chk(c->ptr, c->ptrlen, c->size, c->n, c->stream))
FREAD_ROW(__fread_unlocked_chk,
          mc_real.__fread_unlocked_chk(c->ptr, c->ptrlen, c->size, c->n, c->stream))

#define FREAD_HOOK(name, args, ...)                                                            \
	if (MC_PASS(MC_BIT_READ))                                                              \
		return mc_real.name args;                                                      \
	struct mc_items_call c = {                                                             \
		.pc = MC_CALLER_PC, .stream = f, .ptr = ptr, .size = size, .n = n, __VA_ARGS__ \
	};                                                                                     \
	return mc_pipe_items(&row_##name, &c)

MC_EXPORT size_t fread(void *ptr, size_t size, size_t n, FILE *f)
{
	FREAD_HOOK(fread, (ptr, size, n, f));
}

MC_EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t n, FILE *f)
{
	FREAD_HOOK(fread_unlocked, (ptr, size, n, f));
}

MC_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	FREAD_HOOK(__fread_chk, (ptr, ptrlen, size, n, f), .ptrlen = ptrlen);
}

MC_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	FREAD_HOOK(__fread_unlocked_chk, (ptr, ptrlen, size, n, f), .ptrlen = ptrlen);
}
