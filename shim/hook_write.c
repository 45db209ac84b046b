/* hook_write.c: write, writev, pwrite*, pwritev*, fwrite. On a socket,
 * write and writev belong to the send family (node and many servers answer
 * with writev, never send); on files, to the write family (checkpoint
 * saves). Never alters the bytes written. */
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

#define WRITE_OR_SEND (MC_BIT_WRITE | MC_BIT_SEND)

struct write_args {
	int fd;
	int flags;
	off64_t off;
};

typedef ssize_t (*write_call_fn)(const struct write_args *a, const void *buf, size_t n);
typedef ssize_t (*writev_call_fn)(const struct write_args *a, const struct iovec *iov, int cnt);

static MC_COLD ssize_t write_slow(enum mc_fn fn, write_call_fn call, const struct write_args *a,
                                  const void *buf, size_t n)
{
	struct mc_call c;
	mc_call_begin(&c, fn, a->fd);
	ssize_t r = call(a, buf, n);
	mc_call_end_fd(&c, r);
	return r;
}

static MC_COLD ssize_t writev_slow(enum mc_fn fn, writev_call_fn call, const struct write_args *a,
                                   const struct iovec *iov, int cnt)
{
	struct mc_call c;
	mc_call_begin(&c, fn, a->fd);
	ssize_t r = call(a, iov, cnt);
	mc_call_end_fd(&c, r);
	return r;
}

static ssize_t call_write(const struct write_args *a, const void *buf, size_t n)
{
	return mc_real.write(a->fd, buf, n);
}

static ssize_t call_pwrite(const struct write_args *a, const void *buf, size_t n)
{
	return mc_real.pwrite(a->fd, buf, n, (off_t)a->off);
}

static ssize_t call_pwrite64(const struct write_args *a, const void *buf, size_t n)
{
	return mc_real.pwrite64(a->fd, buf, n, a->off);
}

static ssize_t call_writev(const struct write_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.writev(a->fd, iov, cnt);
}

static ssize_t call_pwritev(const struct write_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.pwritev(a->fd, iov, cnt, (off_t)a->off);
}

static ssize_t call_pwritev64(const struct write_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.pwritev64(a->fd, iov, cnt, a->off);
}

static ssize_t call_pwritev2(const struct write_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.pwritev2(a->fd, iov, cnt, (off_t)a->off, a->flags);
}

static ssize_t call_pwritev64v2(const struct write_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.pwritev64v2(a->fd, iov, cnt, a->off, a->flags);
}

MC_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (MC_PASS(WRITE_OR_SEND))
		return mc_real.write(fd, buf, n);
	struct write_args a = { .fd = fd, .off = -1 };
	return write_slow(MC_FN_write, call_write, &a, buf, n);
}

MC_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwrite(fd, buf, n, off);
	struct write_args a = { .fd = fd, .off = off };
	return write_slow(MC_FN_pwrite, call_pwrite, &a, buf, n);
}

MC_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwrite64(fd, buf, n, off);
	struct write_args a = { .fd = fd, .off = off };
	return write_slow(MC_FN_pwrite64, call_pwrite64, &a, buf, n);
}

MC_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (MC_PASS(WRITE_OR_SEND))
		return mc_real.writev(fd, iov, cnt);
	struct write_args a = { .fd = fd, .off = -1 };
	return writev_slow(MC_FN_writev, call_writev, &a, iov, cnt);
}

MC_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwritev(fd, iov, cnt, off);
	struct write_args a = { .fd = fd, .off = off };
	return writev_slow(MC_FN_pwritev, call_pwritev, &a, iov, cnt);
}

MC_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwritev64(fd, iov, cnt, off);
	struct write_args a = { .fd = fd, .off = off };
	return writev_slow(MC_FN_pwritev64, call_pwritev64, &a, iov, cnt);
}

MC_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwritev2(fd, iov, cnt, off, flags);
	struct write_args a = { .fd = fd, .off = off, .flags = flags };
	return writev_slow(MC_FN_pwritev2, call_pwritev2, &a, iov, cnt);
}

MC_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.pwritev64v2(fd, iov, cnt, off, flags);
	struct write_args a = { .fd = fd, .off = off, .flags = flags };
	return writev_slow(MC_FN_pwritev64v2, call_pwritev64v2, &a, iov, cnt);
}

/* ---- stdio ------------------------------------------------------------------- */

static MC_COLD size_t fwrite_slow(enum mc_fn fn, const void *ptr, size_t size, size_t n, FILE *f,
                                  bool unlocked)
{
	struct mc_call c;
	mc_call_begin(&c, fn, f ? fileno_unlocked(f) : -1);
	size_t r =
	    unlocked ? mc_real.fwrite_unlocked(ptr, size, n, f) : mc_real.fwrite(ptr, size, n, f);
	mc_call_end_fd(&c, (long long)(r * size));
	return r;
}

MC_EXPORT size_t fwrite(const void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.fwrite(ptr, size, n, f);
	return fwrite_slow(MC_FN_fwrite, ptr, size, n, f, false);
}

MC_EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_WRITE))
		return mc_real.fwrite_unlocked(ptr, size, n, f);
	return fwrite_slow(MC_FN_fwrite_unlocked, ptr, size, n, f, true);
}
