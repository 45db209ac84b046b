/* hook_io.c: the read family — read, pread, readv, preadv, recv, recvfrom,
 * recvmsg, recvmmsg, fread and their fortified __*_chk twins. Every hook is
 * a pass-through unless the read family is armed; all of them then share
 * one slow path per shape (flat buffer, vector, stdio), so a fault applies
 * alike whichever way a loader reads its weights. Not reached, by design of
 * stdio: fgets, getc/fgetc, getline/getdelim, fscanf, which read through
 * libc's internal buffer refill, not through a hookable symbol. */
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "request.h"

/* ---- flat buffers: read, pread, recv, recvfrom and their twins ---------- */

struct read_args {
	int fd;
	int flags;
	off64_t off;
	size_t buflen; /* fortified twins: the size the compiler knew */
	struct sockaddr *addr;
	socklen_t *alen;
};

typedef ssize_t (*read_call_fn)(const struct read_args *a, void *buf, size_t n);

/* What arrived (got bytes of iov, asked bytes asked): shown first to the request-key
 * scanner if it came from a socket (the key as it was sent, before any damage); then damaged
 * if a corrupt rule acted, or, when none did, if a stream rule selects the request those
 * bytes belong to (enum mc_stage). */
static void after_readv(enum mc_fn fn, struct mc_fault *f, const struct mc_fd_info *fdi, int fd,
                        uint64_t asked, const struct iovec *iov, int cnt, size_t got)
{
	if (got > 0 && cnt > 0 && mc_fd_is_socket(fdi) && mc_request_wants_reads()) {
		mc_request_on_read(fd, iov[0].iov_base,
		                   got < iov[0].iov_len ? got : iov[0].iov_len);
		if (f->d.action == MC_ACTION_NONE)
			mc_fault_decide_stream(f, fn, fd, fdi, asked);
	}
	mc_fault_corrupt_iov(f, iov, cnt, got);
}

static void after_read(enum mc_fn fn, struct mc_fault *f, const struct mc_fd_info *fdi, int fd,
                       uint64_t asked, void *buf, size_t got)
{
	struct iovec one = { .iov_base = buf, .iov_len = got };
	after_readv(fn, f, fdi, fd, asked, &one, 1, got);
}

/* A call a rule acted on, or that trace or the request-key scanner must
 * see: the whole bracket, guard held, errno as the call left it. */
static MC_COLD ssize_t read_full(struct mc_hookcall *c, read_call_fn call,
                                 const struct read_args *a, void *buf, size_t n, struct mc_fault *f,
                                 const struct mc_fd_info *fdi)
{
	uint64_t want = n;
	if (f->d.action != MC_ACTION_NONE && !mc_fault_apply_before(f, &want, a->off)) {
		mc_call_end_fd(c, -1);
		return -1;
	}
	ssize_t r = call(a, buf, (size_t)want);
	after_read(c->fn, f, fdi, a->fd, n, buf, r > 0 ? (size_t)r : 0);
	mc_call_end_fd(c, r);
	return r;
}

static MC_COLD ssize_t read_slow(enum mc_fn fn, read_call_fn call, const struct read_args *a,
                                 void *buf, size_t n)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	uint64_t word = mc_fd_lookup_word(a->fd, &fdi);
	mc_call_begin(&c, fn, a->fd); /* the decision, and all that uses it, in the bracket */
	bool acted = mc_fault_fd_quick(&f, MC_HOOK_READ, fn, a->fd, &fdi, n);
	if (mc_likely(!acted && !mc_trace_enabled) &&
	    !(mc_fd_is_socket(&fdi) && mc_request_wants_reads())) {
		mc_call_pass(&c);
		if (word) /* calls like this one need nothing either while its hint holds */
			mc_fault_express_keep(MC_HOOK_READ, word, &f);
		return call(a, buf, n); /* armed, not selected: the real call unbracketed */
	}
	return read_full(&c, call, a, buf, n, &f, &fdi);
}

static ssize_t call_read(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.read(a->fd, buf, n);
}

static ssize_t call_read_chk(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.__read_chk(a->fd, buf, n, a->buflen);
}

static ssize_t call_pread(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.pread(a->fd, buf, n, (off_t)a->off);
}

static ssize_t call_pread64(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.pread64(a->fd, buf, n, a->off);
}

static ssize_t call_pread_chk(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.__pread_chk(a->fd, buf, n, (off_t)a->off, a->buflen);
}

static ssize_t call_pread64_chk(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.__pread64_chk(a->fd, buf, n, a->off, a->buflen);
}

static ssize_t call_recv(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.recv(a->fd, buf, n, a->flags);
}

static ssize_t call_recv_chk(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.__recv_chk(a->fd, buf, n, a->buflen, a->flags);
}

static ssize_t call_recvfrom(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.recvfrom(a->fd, buf, n, a->flags, a->addr, a->alen);
}

static ssize_t call_recvfrom_chk(const struct read_args *a, void *buf, size_t n)
{
	return mc_real.__recvfrom_chk(a->fd, buf, n, a->buflen, a->flags, a->addr, a->alen);
}

MC_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.read(fd, buf, n);
	struct read_args a = { .fd = fd, .off = -1 };
	return read_slow(MC_FN_read, call_read, &a, buf, n);
}

MC_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.__read_chk(fd, buf, n, buflen);
	struct read_args a = { .fd = fd, .off = -1, .buflen = buflen };
	return read_slow(MC_FN___read_chk, call_read_chk, &a, buf, n);
}

MC_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.pread(fd, buf, n, off);
	struct read_args a = { .fd = fd, .off = off };
	return read_slow(MC_FN_pread, call_pread, &a, buf, n);
}

MC_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.pread64(fd, buf, n, off);
	struct read_args a = { .fd = fd, .off = off };
	return read_slow(MC_FN_pread64, call_pread64, &a, buf, n);
}

MC_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.__pread_chk(fd, buf, n, off, buflen);
	struct read_args a = { .fd = fd, .off = off, .buflen = buflen };
	return read_slow(MC_FN___pread_chk, call_pread_chk, &a, buf, n);
}

MC_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.__pread64_chk(fd, buf, n, off, buflen);
	struct read_args a = { .fd = fd, .off = off, .buflen = buflen };
	return read_slow(MC_FN___pread64_chk, call_pread64_chk, &a, buf, n);
}

MC_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.recv(fd, buf, n, flags);
	struct read_args a = { .fd = fd, .off = -1, .flags = flags };
	return read_slow(MC_FN_recv, call_recv, &a, buf, n);
}

MC_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.__recv_chk(fd, buf, n, buflen, flags);
	struct read_args a = { .fd = fd, .off = -1, .flags = flags, .buflen = buflen };
	return read_slow(MC_FN___recv_chk, call_recv_chk, &a, buf, n);
}

MC_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                           socklen_t *alen)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.recvfrom(fd, buf, n, flags, addr, alen);
	struct read_args a = { .fd = fd, .off = -1, .flags = flags, .addr = addr, .alen = alen };
	return read_slow(MC_FN_recvfrom, call_recvfrom, &a, buf, n);
}

MC_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *addr, socklen_t *alen)
{
	if (MC_PASS(MC_BIT_READ) || mc_fault_express_fd(MC_HOOK_READ, fd, n))
		return mc_real.__recvfrom_chk(fd, buf, n, buflen, flags, addr, alen);
	struct read_args a = {
		.fd = fd, .off = -1, .flags = flags, .buflen = buflen, .addr = addr, .alen = alen
	};
	return read_slow(MC_FN___recvfrom_chk, call_recvfrom_chk, &a, buf, n);
}

/* ---- vectors: readv, preadv*, recvmsg ------------------------------------ */

struct readv_args {
	int fd;
	int flags;
	off64_t off;
	struct msghdr *msg;     /* recvmsg: iov lives in msg */
	struct msghdr *msg_cut; /* recvmsg with a short read: the copy to pass */
};

typedef ssize_t (*readv_call_fn)(const struct readv_args *a, const struct iovec *iov, int cnt);

static MC_COLD ssize_t readv_slow(enum mc_fn fn, readv_call_fn call, struct readv_args *a,
                                  const struct iovec *iov, int cnt)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	mc_call_begin(&c, fn, a->fd);
	mc_fd_lookup(a->fd, &fdi);
	uint64_t total = mc_iov_bytes(iov, cnt);
	uint64_t want = total;
	if (!mc_fault_fd_gate(&f, MC_HOOK_READ, fn, a->fd, &fdi, &want, a->off)) {
		mc_call_end_fd(&c, -1);
		return -1;
	}
	struct iovec cut[MC_SHORT_IOV_MAX];
	struct msghdr msg_copy;
	if (want < total) {
		cnt = mc_iov_cut(iov, (size_t)cnt, want, cut);
		iov = cut;
		if (a->msg) { /* recvmsg: the same header, the shorter vector */
			msg_copy = *a->msg;
			msg_copy.msg_iov = cut;
			msg_copy.msg_iovlen = (size_t)cnt;
			a->msg_cut = &msg_copy;
		}
	}
	ssize_t r = call(a, iov, cnt);
	if (a->msg_cut && r >= 0) { /* what the kernel reported back */
		a->msg->msg_flags = msg_copy.msg_flags;
		a->msg->msg_controllen = msg_copy.msg_controllen;
		a->msg->msg_namelen = msg_copy.msg_namelen;
	}
	after_readv(fn, &f, &fdi, a->fd, total, iov, cnt, r > 0 ? (size_t)r : 0);
	mc_call_end_fd(&c, r);
	return r;
}

static ssize_t call_readv(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.readv(a->fd, iov, cnt);
}

static ssize_t call_preadv(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.preadv(a->fd, iov, cnt, (off_t)a->off);
}

static ssize_t call_preadv64(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.preadv64(a->fd, iov, cnt, a->off);
}

static ssize_t call_preadv2(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.preadv2(a->fd, iov, cnt, (off_t)a->off, a->flags);
}

static ssize_t call_preadv64v2(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	return mc_real.preadv64v2(a->fd, iov, cnt, a->off, a->flags);
}

static ssize_t call_recvmsg(const struct readv_args *a, const struct iovec *iov, int cnt)
{
	(void)iov;
	(void)cnt;
	return mc_real.recvmsg(a->fd, a->msg_cut ? a->msg_cut : a->msg, a->flags);
}

MC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.readv(fd, iov, cnt);
	struct readv_args a = { .fd = fd, .off = -1 };
	return readv_slow(MC_FN_readv, call_readv, &a, iov, cnt);
}

MC_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.preadv(fd, iov, cnt, off);
	struct readv_args a = { .fd = fd, .off = off };
	return readv_slow(MC_FN_preadv, call_preadv, &a, iov, cnt);
}

MC_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.preadv64(fd, iov, cnt, off);
	struct readv_args a = { .fd = fd, .off = off };
	return readv_slow(MC_FN_preadv64, call_preadv64, &a, iov, cnt);
}

MC_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.preadv2(fd, iov, cnt, off, flags);
	struct readv_args a = { .fd = fd, .off = off, .flags = flags };
	return readv_slow(MC_FN_preadv2, call_preadv2, &a, iov, cnt);
}

MC_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.preadv64v2(fd, iov, cnt, off, flags);
	struct readv_args a = { .fd = fd, .off = off, .flags = flags };
	return readv_slow(MC_FN_preadv64v2, call_preadv64v2, &a, iov, cnt);
}

MC_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.recvmsg(fd, msg, flags);
	struct readv_args a = { .fd = fd, .off = -1, .flags = flags, .msg = msg };
	return readv_slow(MC_FN_recvmsg, call_recvmsg, &a, msg ? msg->msg_iov : NULL,
	                  msg ? (int)msg->msg_iovlen : 0);
}

MC_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags,
                       struct timespec *tmo)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.recvmmsg(fd, v, vlen, flags, tmo);
	struct mc_hookcall c;
	mc_call_begin(&c, MC_FN_recvmmsg, fd);
	int r = mc_real.recvmmsg(fd, v, vlen, flags, tmo);
	uint64_t bytes = 0;
	for (int i = 0; i < r; i++)
		bytes += v[i].msg_len;
	mc_call_end_fd(&c, r > 0 ? (long long)bytes : r);
	return r;
}

/* ---- stdio: fread and its twins ------------------------------------------ */

struct fread_args {
	FILE *f;
	size_t ptrlen;
};

typedef size_t (*fread_call_fn)(const struct fread_args *a, void *ptr, size_t size, size_t n);

/* A failed fread sets the stream's error indicator, as a real read error
 * would, so that ferror() tells the program what happened. */
static void set_stream_error(FILE *f)
{
#ifdef _IO_ERR_SEEN
	if (f)
		f->_flags |= _IO_ERR_SEEN;
#else
	(void)f;
#endif
}

static MC_COLD size_t fread_slow(enum mc_fn fn, fread_call_fn call, const struct fread_args *a,
                                 void *ptr, size_t size, size_t n)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	/* fileno_unlocked: the stream's lock is not ours to take here. */
	int fd = a->f ? fileno_unlocked(a->f) : -1;
	mc_call_begin(&c, fn, fd);
	mc_fd_lookup(fd, &fdi);
	uint64_t bytes = (uint64_t)size * n;
	uint64_t want = bytes;
	/* The stream's logical position, not the fd's: stdio reads ahead. */
	int64_t off = MC_OFF_UNKNOWN;
	if (a->f && mc_fault_has(MC_HOOK_READ)) {
		int saved = errno;
		off = ftello(a->f);
		errno = saved;
		if (off < 0)
			off = MC_OFF_UNKNOWN;
	}
	f.d.action = MC_ACTION_NONE;
	if (size != 0 && !mc_fault_fd_gate(&f, MC_HOOK_READ, fn, fd, &fdi, &want, off)) {
		set_stream_error(a->f);
		mc_call_end_fd(&c, -1);
		return 0;
	}
	if (want < bytes) /* short: fewer items, at least one */
		n = want / size ? (size_t)(want / size) : 1;
	size_t r = call(a, ptr, size, n);
	mc_fault_corrupt(&f, ptr, r * size);
	mc_call_end_fd(&c, (long long)(r * size));
	return r;
}

static size_t call_fread(const struct fread_args *a, void *ptr, size_t size, size_t n)
{
	return mc_real.fread(ptr, size, n, a->f);
}

static size_t call_fread_unlocked(const struct fread_args *a, void *ptr, size_t size, size_t n)
{
	return mc_real.fread_unlocked(ptr, size, n, a->f);
}

static size_t call_fread_chk(const struct fread_args *a, void *ptr, size_t size, size_t n)
{
	return mc_real.__fread_chk(ptr, a->ptrlen, size, n, a->f);
}

static size_t call_fread_unlocked_chk(const struct fread_args *a, void *ptr, size_t size, size_t n)
{
	return mc_real.__fread_unlocked_chk(ptr, a->ptrlen, size, n, a->f);
}

MC_EXPORT size_t fread(void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.fread(ptr, size, n, f);
	struct fread_args a = { .f = f };
	return fread_slow(MC_FN_fread, call_fread, &a, ptr, size, n);
}

MC_EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.fread_unlocked(ptr, size, n, f);
	struct fread_args a = { .f = f };
	return fread_slow(MC_FN_fread_unlocked, call_fread_unlocked, &a, ptr, size, n);
}

MC_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.__fread_chk(ptr, ptrlen, size, n, f);
	struct fread_args a = { .f = f, .ptrlen = ptrlen };
	return fread_slow(MC_FN___fread_chk, call_fread_chk, &a, ptr, size, n);
}

MC_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	if (MC_PASS(MC_BIT_READ))
		return mc_real.__fread_unlocked_chk(ptr, ptrlen, size, n, f);
	struct fread_args a = { .f = f, .ptrlen = ptrlen };
	return fread_slow(MC_FN___fread_unlocked_chk, call_fread_unlocked_chk, &a, ptr, size, n);
}
