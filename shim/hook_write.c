/* hook_write.c: write, writev, pwrite*, pwritev*, fwrite. On a socket,
 * write and writev belong to the send family (node and many servers answer
 * with writev, never send); on files, to the write family (checkpoint
 * saves). Never alters the bytes written. */
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"

#define WRITE_OR_SEND (MC_BIT_WRITE | MC_BIT_SEND)

/* The express lane of write and pwrite: the family is the fd's. */
static inline bool write_express(int fd, size_t n)
{
	uint64_t w = mc_fd_word(fd);
	struct mc_fd_info fdi;
	if (!w)
		return false;
	mc_fd_decode(w, &fdi);
	return mc_fault_express(mc_fd_is_socket(&fdi) ? MC_HOOK_SEND : MC_HOOK_WRITE, w, n);
}

#define WRITE_FLAT (MC_PIPE_FLAT | MC_PIPE_EXPRESS | MC_PIPE_SENT)
#define BUF        mc_fd_buf(c), mc_fd_len(c)

MC_FD_ROW(write, MC_FAMILY_BY_FD, WRITE_FLAT, mc_real.write(c->fd, BUF))
MC_FD_ROW(pwrite, MC_FAMILY_BY_FD, WRITE_FLAT, mc_real.pwrite(c->fd, BUF, (off_t)c->off))
MC_FD_ROW(pwrite64, MC_FAMILY_BY_FD, WRITE_FLAT, mc_real.pwrite64(c->fd, BUF, c->off))

#define VEC(name, expr) MC_FD_ROW(name, MC_FAMILY_BY_FD, MC_PIPE_SENT, expr)

VEC(writev, mc_real.writev(c->fd, c->iov, c->cnt))
VEC(pwritev, mc_real.pwritev(c->fd, c->iov, c->cnt, (off_t)c->off))
VEC(pwritev64, mc_real.pwritev64(c->fd, c->iov, c->cnt, c->off))
VEC(pwritev2, mc_real.pwritev2(c->fd, c->iov, c->cnt, (off_t)c->off, c->flags))
VEC(pwritev64v2, mc_real.pwritev64v2(c->fd, c->iov, c->cnt, c->off, c->flags))

#define WRITE_HOOK(name, bits, args, ...)                                                 \
	if (MC_PASS(bits) || write_express(fd, n))                                        \
		return mc_real.name args;                                                 \
	struct iovec one = { .iov_base = (void *)buf, .iov_len = n }; /* never written */ \
	struct mc_fd_call c = {                                                           \
		.pc = MC_CALLER_PC, .fd = fd, .iov = &one, .cnt = 1, __VA_ARGS__          \
	};                                                                                \
	return mc_pipe_fd(&row_##name, &c)

#define WRITEV_HOOK(name, bits, args, ...)                                        \
	if (MC_PASS(bits))                                                        \
		return mc_real.name args;                                         \
	struct mc_fd_call c = {                                                   \
		.pc = MC_CALLER_PC, .fd = fd, .iov = iov, .cnt = cnt, __VA_ARGS__ \
	};                                                                        \
	return mc_pipe_fd(&row_##name, &c)

MC_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	WRITE_HOOK(write, WRITE_OR_SEND, (fd, buf, n));
}

MC_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	WRITE_HOOK(pwrite, MC_BIT_WRITE, (fd, buf, n, off), .off = off);
}

MC_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	WRITE_HOOK(pwrite64, MC_BIT_WRITE, (fd, buf, n, off), .off = off);
}

MC_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	WRITEV_HOOK(writev, WRITE_OR_SEND, (fd, iov, cnt));
}

MC_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	WRITEV_HOOK(pwritev, MC_BIT_WRITE, (fd, iov, cnt, off), .off = off);
}

MC_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	WRITEV_HOOK(pwritev64, MC_BIT_WRITE, (fd, iov, cnt, off), .off = off);
}

MC_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	WRITEV_HOOK(pwritev2, MC_BIT_WRITE, (fd, iov, cnt, off, flags), .off = off, .flags = flags);
}

MC_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	WRITEV_HOOK(pwritev64v2, MC_BIT_WRITE, (fd, iov, cnt, off, flags), .off = off,
	            .flags = flags);
}

/* ---- stdio ------------------------------------------------------------------- */

MC_ITEMS_ROW(fwrite, MC_FAMILY_BY_FD, 0, mc_real.fwrite(c->ptr, c->size, c->n, c->stream))
MC_ITEMS_ROW(fwrite_unlocked, MC_FAMILY_BY_FD, 0,
             mc_real.fwrite_unlocked(c->ptr, c->size, c->n, c->stream))

MC_EXPORT size_t fwrite(const void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.fwrite(ptr, size, n, f);
	struct mc_items_call c = {
		.pc = MC_CALLER_PC, .stream = f, .ptr = (void *)ptr, .size = size, .n = n
	};
	return mc_pipe_items(&row_fwrite, &c);
}

MC_EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.fwrite_unlocked(ptr, size, n, f);
	struct mc_items_call c = {
		.pc = MC_CALLER_PC, .stream = f, .ptr = (void *)ptr, .size = size, .n = n
	};
	return mc_pipe_items(&row_fwrite_unlocked, &c);
}
