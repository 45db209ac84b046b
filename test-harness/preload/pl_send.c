/* pl_send.c: calls every function of the send family (send, sendto, sendmsg, sendmmsg, and
 * write/writev on sockets) over TCP, UDP and unix sockets, checks what arrives, the results
 * and errno (EPIPE, ENOTSOCK, EAGAIN, EDESTADDRREQ) exactly as without the shim. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned char out[8192];
static unsigned char in[8192];

static void sent(const char *fn, const char *target, ssize_t got, ssize_t want)
{
	pl_ret(fn, (long)got, errno);
	PL_EQ(got, want);
	pl_rec(fn, target, got);
}

/* Receives exactly n bytes and checks they are the pattern from off. */
static void expect_bytes(int fd, const char *target, size_t n, size_t off)
{
	ssize_t r = recv(fd, in, n, MSG_WAITALL);
	PL_EQ(r, n);
	if (r > 0)
		PL_CHECK(pl_pattern_ok(in, (size_t)r, off));
	pl_rec("recv", target, r);
}

/* Every send-family call on a connected stream socket tx, read back on rx. */
static void test_stream(int tx, int rx, const char *target)
{
	struct iovec iov[2] = { { out + 3000, 500 }, { out + 3500, 500 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	sent("send", target, send(tx, out, 1000, 0), 1000);
	sent("sendto", target, sendto(tx, out + 1000, 1000, 0, NULL, 0), 1000);
	sent("write", target, write(tx, out + 2000, 1000), 1000);
	sent("sendmsg", target, sendmsg(tx, &msg, 0), 1000);
	iov[0].iov_base = out + 4000;
	iov[1].iov_base = out + 4500;
	sent("writev", target, writev(tx, iov, 2), 1000);
	expect_bytes(rx, target, 5000, 0);

	/* pwrite on a socket is ESPIPE, whatever the shim does with it. */
	ssize_t r = pwrite(tx, out, 10, 0);
	pl_ret("pwrite(socket)", (long)r, errno);
	PL_ERR(r, -1, ESPIPE);
	pl_rec("pwrite", target, 0);

	/* Fill the socket buffer without blocking: the last send is EAGAIN. */
	int sent_calls = 0;
	long long sent_bytes = 0;
	for (;;) {
		r = send(tx, out, sizeof(out), MSG_DONTWAIT);
		sent_calls++;
		if (r < 0)
			break;
		sent_bytes += r;
	}
	PL_ERR(r, -1, EAGAIN);
	pl_say("send until full = %ld (%s)", (long)r, strerrorname_np(errno));
	for (int i = 0; i < sent_calls; i++)
		pl_rec("send", target, i == 0 ? sent_bytes : 0);

	/* The reader goes away: EPIPE (MSG_NOSIGNAL: no SIGPIPE). */
	close(rx);
	for (;;) {
		r = send(tx, out, 100, MSG_NOSIGNAL);
		pl_rec("send", target, r);
		if (r < 0)
			break;
	}
	/* TCP may report the reset (ECONNRESET) before EPIPE: either is right, so the
	 * transcript says only that it failed. */
	int err = errno;
	pl_say("send(closed peer) failed = %d", r < 0);
	PL_CHECK(err == EPIPE || err == ECONNRESET);
}

static void test_datagrams(void)
{
	char target[64];
	int tx, rx;
	int port = pl_udp_pair(&tx, &rx);
	pl_target(target, sizeof(target), "udp", port);

	sent("send", target, send(tx, out, 100, 0), 100);
	sent("sendto", target, sendto(tx, out + 100, 200, 0, NULL, 0), 200);
	sent("write", target, write(tx, out + 300, 300), 300);
	struct iovec iov[2] = { { out + 600, 50 }, { out + 650, 50 } };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
		                 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };
	int n = sendmmsg(tx, mm, 2, 0);
	pl_ret("sendmmsg", n, errno);
	PL_EQ(n, 2);
	PL_EQ(mm[0].msg_len + mm[1].msg_len, 100);
	pl_rec("sendmmsg", target, (long long)mm[0].msg_len + mm[1].msg_len);

	static const size_t sizes[] = { 100, 200, 300, 50, 50 };
	size_t off = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ssize_t r = recv(rx, in, sizeof(in), 0);
		PL_EQ(r, sizes[i]);
		PL_CHECK(r > 0 && pl_pattern_ok(in, (size_t)r, off));
		pl_rec("recv", target, r);
		off += sizes[i];
	}
	close(tx);
	close(rx);

	/* An unconnected datagram socket with no address: EDESTADDRREQ. */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t r = send(fd, out, 10, 0);
	pl_ret("send(unconnected udp)", (long)r, errno);
	PL_ERR(r, -1, EDESTADDRREQ);
	close(fd);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_send");
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pl_pattern(i);

	char target[64];
	int client, server;
	int port = pl_tcp_pair(&client, &server);
	pl_target(target, sizeof(target), "tcp", port);
	test_stream(client, server, target); /* connected end sends */
	close(client);
	port = pl_tcp_pair(&client, &server);
	pl_target(target, sizeof(target), "tcp", port);
	test_stream(server, client, target); /* accepted end sends */
	close(server);

	int sv[2];
	PL_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	test_stream(sv[0], sv[1], "socket:unix");
	close(sv[0]);

	test_datagrams();

	/* send on a regular file: ENOTSOCK, the file is the target. */
	const char *path = pl_path("data.bin");
	int fd = open(path, O_RDWR);
	ssize_t r = send(fd, out, 10, 0);
	pl_ret("send(file)", (long)r, errno);
	PL_ERR(r, -1, ENOTSOCK);
	pl_rec_file("send", path, 0);
	close(fd);
	return pl_finish();
}
