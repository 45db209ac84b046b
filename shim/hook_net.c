/* hook_net.c: the send family (send, sendto, sendmsg, sendmmsg; write and
 * writev on sockets reach the same family from hook_write.c) and the socket
 * entries of the fd table: socket, socketpair, accept, accept4, connect.
 * Never changes what the real call returns or the errno it left. */
#include <sys/socket.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"
#include "request.h"

/* ---- send family ------------------------------------------------------------ */

#define SEND_FLAT (MC_PIPE_FLAT | MC_PIPE_EXPRESS | MC_PIPE_SENT)

MC_FD_ROW(send, MC_HOOK_SEND, SEND_FLAT, mc_real.send(c->fd, mc_fd_buf(c), mc_fd_len(c), c->flags))
MC_FD_ROW(sendto, MC_HOOK_SEND, SEND_FLAT,
          mc_real.sendto(c->fd, mc_fd_buf(c), mc_fd_len(c), c->flags, c->addr, c->alen))
MC_FD_ROW(sendmsg, MC_HOOK_SEND, MC_PIPE_EXPRESS | MC_PIPE_SENT,
          mc_real.sendmsg(c->fd, c->msg, c->flags))

MC_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (MC_PASS(MC_BIT_SEND) || mc_fault_express_fd(MC_HOOK_SEND, fd, n))
		return mc_real.send(fd, buf, n, flags);
	struct iovec one = { .iov_base = (void *)buf, .iov_len = n }; /* never written */
	struct mc_fd_call c = {
		.pc = MC_CALLER_PC, .fd = fd, .flags = flags, .iov = &one, .cnt = 1
	};
	return mc_pipe_fd(&row_send, &c);
}

MC_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                         socklen_t alen)
{
	if (MC_PASS(MC_BIT_SEND) || mc_fault_express_fd(MC_HOOK_SEND, fd, n))
		return mc_real.sendto(fd, buf, n, flags, addr, alen);
	struct iovec one = { .iov_base = (void *)buf, .iov_len = n }; /* never written */
	struct mc_fd_call c = { .pc = MC_CALLER_PC,
		                .fd = fd,

		                .flags = flags,
		                .addr = (struct sockaddr *)addr,
		                .alen = alen,
		                .iov = &one,
		                .cnt = 1 };
	return mc_pipe_fd(&row_sendto, &c);
}

MC_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (MC_PASS(MC_BIT_SEND))
		return mc_real.sendmsg(fd, msg, flags);
	struct mc_fd_call c = { .pc = MC_CALLER_PC,
		                .fd = fd,

		                .flags = flags,
		                .msg = (struct msghdr *)msg, /* never written: see pipeline.h */
		                .iov = msg ? msg->msg_iov : NULL,
		                .cnt = msg ? (int)msg->msg_iovlen : 0 };
	return mc_pipe_fd(&row_sendmsg, &c);
}

static int call_sendmmsg(const struct mc_batch_call *c)
{
	return mc_real.sendmmsg(c->fd, c->v, c->vlen, c->flags);
}

static const struct mc_batch_row row_sendmmsg = { MC_FN_sendmmsg, call_sendmmsg };

MC_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	if (MC_PASS(MC_BIT_SEND))
		return mc_real.sendmmsg(fd, v, vlen, flags);
	struct mc_batch_call c = { .fd = fd, .v = v, .vlen = vlen, .flags = flags };
	return mc_pipe_batch(&row_sendmmsg, &c);
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
