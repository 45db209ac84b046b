/* hook_net.c: the send family (send, sendto, sendmsg, sendmmsg; write and
 * writev on sockets reach the same family from hook_write.c) and the socket
 * entries of the fd table: socket, socketpair, accept, accept4, connect.
 * Never changes what the real call returns or the errno it left. */
#include <sys/socket.h>

#include "fault.h"
#include "hook.h"
#include "record.h"
#include "request.h"

/* ---- send family ------------------------------------------------------------ */

struct send_args {
	int fd;
	int flags;
	const struct sockaddr *addr;
	socklen_t alen;
	const struct msghdr *msg;
	const struct msghdr *msg_cut; /* sendmsg with a short send: the copy to pass */
};

typedef ssize_t (*send_call_fn)(const struct send_args *a, const void *buf, size_t n);

/* sendmsg cut short: the first iovecs covering at most want bytes. */
static void cut_msg(const struct msghdr *msg, uint64_t want, struct msghdr *out, struct iovec *iov)
{
	*out = *msg;
	out->msg_iov = iov;
	out->msg_iovlen = (size_t)mc_iov_cut(msg->msg_iov, msg->msg_iovlen, want, iov);
}

static MC_COLD ssize_t send_full(struct mc_hookcall *c, send_call_fn call, struct send_args *a,
                                 const void *buf, size_t n, struct mc_fault *f)
{
	uint64_t want = n;
	if (f->d.action != MC_ACTION_NONE && !mc_fault_apply_before(f, &want, MC_OFF_UNKNOWN)) {
		mc_call_end_fd(c, -1);
		return -1;
	}
	struct msghdr msg_copy;
	struct iovec iov[MC_SHORT_IOV_MAX];
	if (want < n && a->msg) {
		cut_msg(a->msg, want, &msg_copy, iov);
		a->msg_cut = &msg_copy;
	}
	ssize_t r = call(a, buf, (size_t)want);
	if (mc_rec_watches_responses()) {
		int e = errno;
		const struct msghdr *m = a->msg;
		const void *head = m && m->msg_iovlen ? m->msg_iov[0].iov_base : buf;
		size_t head_len = m && m->msg_iovlen ? m->msg_iov[0].iov_len : (size_t)want;
		mc_rec_response(head, head_len, r, e);
		errno = e;
	}
	mc_call_end_fd(c, r);
	return r;
}

static MC_COLD ssize_t send_slow(enum mc_fn fn, send_call_fn call, struct send_args *a,
                                 const void *buf, size_t n)
{
	struct mc_hookcall c;
	struct mc_fault f;
	struct mc_fd_info fdi;
	uint64_t word = mc_fd_lookup_word(a->fd, &fdi);
	mc_call_begin(&c, fn, a->fd); /* the decision, and all that uses it, in the bracket */
	bool acted = mc_fault_fd_quick(&f, MC_HOOK_SEND, fn, a->fd, &fdi, n);
	if (mc_likely(!acted && !mc_trace_enabled && !mc_rec_watches_responses())) {
		mc_call_pass(&c);
		if (word) /* calls like this one need nothing either while its hint holds */
			mc_fault_express_keep(MC_HOOK_SEND, word, &f);
		return call(a, buf, n); /* armed, not selected: the real call unbracketed */
	}
	return send_full(&c, call, a, buf, n, &f);
}

static ssize_t call_send(const struct send_args *a, const void *buf, size_t n)
{
	return mc_real.send(a->fd, buf, n, a->flags);
}

static ssize_t call_sendto(const struct send_args *a, const void *buf, size_t n)
{
	return mc_real.sendto(a->fd, buf, n, a->flags, a->addr, a->alen);
}

static ssize_t call_sendmsg(const struct send_args *a, const void *buf, size_t n)
{
	(void)buf;
	(void)n;
	return mc_real.sendmsg(a->fd, a->msg_cut ? a->msg_cut : a->msg, a->flags);
}

MC_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (MC_PASS(MC_BIT_SEND) || mc_fault_express_fd(MC_HOOK_SEND, fd, n))
		return mc_real.send(fd, buf, n, flags);
	struct send_args a = { .fd = fd, .flags = flags };
	return send_slow(MC_FN_send, call_send, &a, buf, n);
}

MC_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                         socklen_t alen)
{
	if (MC_PASS(MC_BIT_SEND) || mc_fault_express_fd(MC_HOOK_SEND, fd, n))
		return mc_real.sendto(fd, buf, n, flags, addr, alen);
	struct send_args a = { .fd = fd, .flags = flags, .addr = addr, .alen = alen };
	return send_slow(MC_FN_sendto, call_sendto, &a, buf, n);
}

MC_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (MC_PASS(MC_BIT_SEND))
		return mc_real.sendmsg(fd, msg, flags);
	struct send_args a = { .fd = fd, .flags = flags, .msg = msg };
	return send_slow(MC_FN_sendmsg, call_sendmsg, &a, NULL,
	                 msg ? mc_iov_bytes(msg->msg_iov, (int)msg->msg_iovlen) : 0);
}

MC_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	if (MC_PASS(MC_BIT_SEND))
		return mc_real.sendmmsg(fd, v, vlen, flags);
	struct mc_hookcall c;
	mc_call_begin(&c, MC_FN_sendmmsg, fd);
	int r = mc_real.sendmmsg(fd, v, vlen, flags);
	uint64_t bytes = 0;
	for (int i = 0; i < r; i++)
		bytes += v[i].msg_len;
	mc_call_end_fd(&c, r > 0 ? (long long)bytes : r);
	return r;
}

/* ---- sockets in the fd table ------------------------------------------------ */

MC_EXPORT int socket(int domain, int type, int proto)
{
	int fd = mc_real.socket(domain, type, proto);
	if (fd >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_socket(fd, domain, type));
	return fd;
}

MC_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	int r = mc_real.socketpair(domain, type, proto, sv);
	if (r == 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_socket(sv[0], domain, type);
		          mc_fd_set_socket(sv[1], domain, type));
	return r;
}

MC_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	int nfd = mc_real.accept(fd, addr, alen);
	if (nfd >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_accepted(fd, nfd); mc_request_on_accept(nfd));
	return nfd;
}

MC_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int nfd = mc_real.accept4(fd, addr, alen, flags);
	if (nfd >= 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_accepted(fd, nfd); mc_request_on_accept(nfd));
	return nfd;
}

MC_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t alen)
{
	int r = mc_real.bind(fd, addr, alen);
	if (r == 0 && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_bound(fd));
	return r;
}

MC_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
	int r = mc_real.connect(fd, addr, alen);
	if ((r == 0 || errno == EINPROGRESS) && !MC_PASS(MC_BIT_OPEN))
		FD_UPDATE(mc_fd_set_connected(fd, addr, alen));
	return r;
}
