/* hook_write.c: write, writev, pwrite*, pwritev*, fwrite. On a socket,
 * write and writev belong to the send family (node and many servers answer
 * with writev, never send); on files, to the write family (checkpoint
 * saves). Never alters the bytes written. */
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "record.h"

#define WRITE_OR_SEND (MC_BIT_WRITE | MC_BIT_SEND)

struct write_args {
	int fd;
	int flags;
	off64_t off;
};

typedef ssize_t (*write_call_fn)(const struct write_args *a, const void *buf, size_t n);
typedef ssize_t (*writev_call_fn)(const struct write_args *a, const struct iovec *iov, int cnt);

/* The family a write belongs to: send on sockets, write on the rest. */
static enum mc_hook family_of(const struct mc_fd_info *fdi)
{
	bool socket = mc_fd_is_socket(fdi);
	return socket ? MC_HOOK_SEND : MC_HOOK_WRITE;
}

/* The express lane of write and pwrite: the family is the fd's. */
static inline bool write_express(int fd, size_t n)
{
	uint64_t w = mc_fd_word(fd);
	struct mc_fd_info fdi;
	if (!w)
		return false;
	mc_fd_decode(w, &fdi);
	return mc_fault_express(family_of(&fdi), w, n);
}

static MC_COLD ssize_t write_full(struct mc_hookcall *c, write_call_fn call,
                                  const struct write_args *a, const void *buf, size_t n,
                                  struct mc_fault *f, const struct mc_fd_info *fdi)
{
	uint64_t want = n;
	if (f->d.action != MC_ACTION_NONE && !mc_fault_apply_before(f, &want, MC_OFF_UNKNOWN)) {
		mc_call_end_fd(c, -1);
		return -1;
	}
	ssize_t r = call(a, buf, (size_t)want);
	if (family_of(fdi) == MC_HOOK_SEND && mc_rec_watches_responses()) {
		int e = errno;
		mc_rec_response(buf, (size_t)want, r, e);
		errno = e;
	}
	mc_call_end_fd(c, r);
	return r;
}

static MC_COLD ssize_t write_slow(enum mc_fn fn, write_call_fn call, const struct write_args *a,
                                  const void *buf, size_t n)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	uint64_t word = mc_fd_lookup_word(a->fd, &fdi);
	enum mc_hook h = family_of(&fdi);
	mc_call_begin(&c, fn, a->fd); /* the decision, and all that uses it, in the bracket */
	bool acted = mc_fault_fd_quick(&f, h, fn, a->fd, &fdi, n);
	if (mc_likely(!acted && !mc_trace_enabled) &&
	    !(h == MC_HOOK_SEND && mc_rec_watches_responses())) {
		mc_call_pass(&c);
		if (word) /* calls like this one need nothing either while its hint holds */
			mc_fault_express_keep(h, word, &f);
		return call(a, buf, n); /* armed, not selected: the real call unbracketed */
	}
	return write_full(&c, call, a, buf, n, &f, &fdi);
}

static MC_COLD ssize_t writev_slow(enum mc_fn fn, writev_call_fn call, const struct write_args *a,
                                   const struct iovec *iov, int cnt)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	mc_call_begin(&c, fn, a->fd);
	mc_fd_lookup(a->fd, &fdi);
	uint64_t total = mc_iov_bytes(iov, cnt);
	uint64_t want = total;
	if (!mc_fault_fd_gate(&f, family_of(&fdi), fn, a->fd, &fdi, &want, MC_OFF_UNKNOWN)) {
		mc_call_end_fd(&c, -1);
		return -1;
	}
	struct iovec cut[MC_SHORT_IOV_MAX];
	if (want < total) { /* short: the first iovecs, the last one cut */
		cnt = mc_iov_cut(iov, (size_t)cnt, want, cut);
		iov = cut;
	}
	ssize_t r = call(a, iov, cnt);
	if (family_of(&fdi) == MC_HOOK_SEND && mc_rec_watches_responses() && cnt > 0) {
		int e = errno;
		mc_rec_response(iov[0].iov_base, iov[0].iov_len, r, e);
		errno = e;
	}
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
	if (MC_PASS(WRITE_OR_SEND) || write_express(fd, n))
		return mc_real.write(fd, buf, n);
	struct write_args a = { .fd = fd, .off = -1 };
	return write_slow(MC_FN_write, call_write, &a, buf, n);
}

MC_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (MC_PASS(MC_BIT_WRITE) || write_express(fd, n))
		return mc_real.pwrite(fd, buf, n, off);
	struct write_args a = { .fd = fd, .off = off };
	return write_slow(MC_FN_pwrite, call_pwrite, &a, buf, n);
}

MC_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (MC_PASS(MC_BIT_WRITE) || write_express(fd, n))
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
	struct mc_hookcall c;
	struct mc_fault fault;
	struct mc_fd_info fdi;
	int fd = f ? fileno_unlocked(f) : -1;
	mc_call_begin(&c, fn, fd);
	mc_fd_lookup(fd, &fdi);
	uint64_t bytes = (uint64_t)size * n;
	uint64_t want = bytes;
	if (size != 0 &&
	    !mc_fault_fd_gate(&fault, family_of(&fdi), fn, fd, &fdi, &want, MC_OFF_UNKNOWN)) {
#ifdef _IO_ERR_SEEN
		if (f)
			f->_flags |= _IO_ERR_SEEN; /* ferror() must see it, as after a real error */
#endif
		mc_call_end_fd(&c, -1);
		return 0;
	}
	if (want < bytes) /* short: fewer items, at least one */
		n = want / size ? (size_t)(want / size) : 1;
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
