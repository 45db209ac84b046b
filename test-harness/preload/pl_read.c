/* pl_read.c: calls every function of the read family (read, pread, readv, preadv*, fread*,
 * recv*, and their __*_chk twins, called directly) on a file, TCP, UDP and unix sockets, and
 * checks results and errno. Built without _FILE_OFFSET_BITS so each name is the one called. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* The fortified entry points, as glibc exports them (declared by <bits/unistd.h> and friends
 * only under _FORTIFY_SOURCE). */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                              struct sockaddr *addr, socklen_t *alen);
extern size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);
extern size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);

static unsigned char buf[16384];
static const char *data;

/* One call on the data file: checks the count, the bytes (pattern at off) and records it. */
static void file_result(const char *fn, ssize_t got, ssize_t want, size_t off)
{
	int err = errno;
	pl_ret(fn, (long)got, err);
	PL_EQ(got, want);
	if (got > 0)
		PL_CHECK(pl_pattern_ok(buf, (size_t)got, off));
	pl_rec_file(fn, data, got);
}

static void test_read_fd(int fd)
{
	errno = 0;
	file_result("read", read(fd, buf, 4096), 4096, 0);
	file_result("__read_chk", __read_chk(fd, buf, 1000, sizeof(buf)), 1000, 4096);
	file_result("pread", pread(fd, buf, 4096, 8192), 4096, 8192);
	file_result("pread64", pread64(fd, buf, 4096, 12288), 4096, 12288);
	file_result("__pread_chk", __pread_chk(fd, buf, 512, 100, sizeof(buf)), 512, 100);
	file_result("__pread64_chk", __pread64_chk(fd, buf, 700, 300, sizeof(buf)), 700, 300);
	/* Short read at end of file, then end of file itself. */
	file_result("pread", pread(fd, buf, 4096, PL_DATA_SIZE - 10), 10, PL_DATA_SIZE - 10);
	file_result("pread64", pread64(fd, buf, 4096, PL_DATA_SIZE), 0, 0);

	/* Errors keep their errno: a negative offset is EINVAL, a NULL buffer EFAULT. */
	ssize_t r = pread(fd, buf, 10, -1);
	pl_ret("pread(off=-1)", (long)r, errno);
	PL_ERR(r, -1, EINVAL);
	pl_rec_file("pread", data, 0);
	void *volatile no_buf = NULL; /* hidden from -Wnonnull: the kernel must say EFAULT */
	r = read(fd, no_buf, 10);
	pl_ret("read(NULL)", (long)r, errno);
	PL_ERR(r, -1, EFAULT);
	pl_rec_file("read", data, 0);
}

static void test_vectors(int fd)
{
	struct iovec iov[3] = { { buf, 100 }, { buf + 100, 200 }, { buf + 300, 700 } };
	lseek(fd, 0, SEEK_SET);
	file_result("readv", readv(fd, iov, 3), 1000, 0);
	file_result("preadv", preadv(fd, iov, 3, 2000), 1000, 2000);
	file_result("preadv64", preadv64(fd, iov, 3, 3000), 1000, 3000);
	file_result("preadv2", preadv2(fd, iov, 3, 4000, 0), 1000, 4000);
	file_result("preadv64v2", preadv64v2(fd, iov, 3, 5000, 0), 1000, 5000);
	/* preadv2 with offset -1 reads at the file position, which readv left at 1000. */
	file_result("preadv2", preadv2(fd, iov, 3, -1, 0), 1000, 1000);
	ssize_t r = preadv2(fd, iov, 3, 0, 0x7fff0000); /* unknown RWF_ flags */
	pl_ret("preadv2(bad flags)", (long)r, errno);
	PL_ERR(r, -1, EOPNOTSUPP);
	pl_rec_file("preadv2", data, 0);
}

static void stdio_result(const char *fn, size_t got, size_t want, size_t size, size_t off)
{
	pl_ret(fn, (long)got, 0);
	PL_EQ(got, want);
	PL_CHECK(pl_pattern_ok(buf, got * size, off));
	pl_rec_file(fn, data, (long long)(got * size));
}

static void test_stdio(void)
{
	FILE *f = fopen(data, "r");
	PL_CHECK(f != NULL);
	if (!f)
		return;
	stdio_result("fread", fread(buf, 1, 1000, f), 1000, 1, 0);
	stdio_result("fread", fread(buf, 100, 5, f), 5, 100, 1000);
	stdio_result("fread_unlocked", fread_unlocked(buf, 10, 30, f), 30, 10, 1500);
	stdio_result("__fread_chk", __fread_chk(buf, sizeof(buf), 4, 250, f), 250, 4, 1800);
	stdio_result("__fread_unlocked_chk", __fread_unlocked_chk(buf, sizeof(buf), 1, 200, f), 200,
	             1, 2800);
	/* Past the end: a short count and the end-of-file flag, as without the shim. */
	fseek(f, PL_DATA_SIZE - 10, SEEK_SET);
	stdio_result("fread", fread(buf, 1, 100, f), 10, 1, PL_DATA_SIZE - 10);
	PL_CHECK(feof(f));
	pl_say("feof = %d", feof(f) != 0);
	fclose(f);
}

/* recv on connected sockets: the peer sends the pattern with send(). */
static void recv_result(const char *fn, const char *target, ssize_t got, ssize_t want, size_t off)
{
	pl_ret(fn, (long)got, errno);
	PL_EQ(got, want);
	if (got > 0)
		PL_CHECK(pl_pattern_ok(buf, (size_t)got, off));
	pl_rec(fn, target, got);
}

static void send_pattern(int fd, const char *target, size_t off, size_t n)
{
	unsigned char out[4096];
	for (size_t i = 0; i < n; i++)
		out[i] = pl_pattern(off + i);
	ssize_t w = send(fd, out, n, 0);
	PL_EQ(w, n);
	pl_rec("send", target, w);
}

static void test_stream(int rx, int tx, const char *target)
{
	send_pattern(tx, target, 0, 4000);
	recv_result("recv", target, recv(rx, buf, 1000, MSG_WAITALL), 1000, 0);
	recv_result("__recv_chk", target, __recv_chk(rx, buf, 1000, sizeof(buf), MSG_WAITALL), 1000,
	            1000);
	recv_result("recvfrom", target, recvfrom(rx, buf, 500, MSG_WAITALL, NULL, NULL), 500, 2000);
	recv_result("__recvfrom_chk", target,
	            __recvfrom_chk(rx, buf, 500, sizeof(buf), MSG_WAITALL, NULL, NULL), 500, 2500);
	struct iovec iov[2] = { { buf, 600 }, { buf + 600, 400 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	recv_result("recvmsg", target, recvmsg(rx, &msg, MSG_WAITALL), 1000, 3000);
	/* Nothing left: EAGAIN without blocking. */
	errno = 0;
	ssize_t r = recv(rx, buf, 10, MSG_DONTWAIT);
	pl_ret("recv(empty)", (long)r, errno);
	PL_ERR(r, -1, EAGAIN);
	pl_rec("recv", target, 0);
	/* The peer closed: 0, end of stream. */
	shutdown(tx, SHUT_WR);
	recv_result("recv", target, recv(rx, buf, 10, 0), 0, 0);
}

static void test_sockets(void)
{
	char target[64];
	int client, server;
	int port = pl_tcp_pair(&client, &server);
	pl_target(target, sizeof(target), "tcp", port);
	test_stream(client, server, target); /* accepted end sends, connected end receives */
	close(client);
	close(server);

	int sv[2];
	PL_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	test_stream(sv[0], sv[1], "socket:unix");
	close(sv[0]);
	close(sv[1]);

	/* recv on a file is ENOTSOCK, with the file as target. */
	int fd = open(data, O_RDONLY);
	ssize_t r = recv(fd, buf, 10, 0);
	pl_ret("recv(file)", (long)r, errno);
	PL_ERR(r, -1, ENOTSOCK);
	pl_rec_file("recv", data, 0);
	close(fd);
}

static void test_datagrams(void)
{
	char target[64];
	int tx, rx;
	int port = pl_udp_pair(&tx, &rx);
	pl_target(target, sizeof(target), "udp", port);
	send_pattern(tx, target, 0, 300);
	send_pattern(tx, target, 300, 200);
	send_pattern(tx, target, 500, 100);
	recv_result("recvfrom", target, recvfrom(rx, buf, sizeof(buf), 0, NULL, NULL), 300, 0);
	struct iovec iov[2] = { { buf, 200 }, { buf + 200, 100 } };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
		                 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };
	int n = recvmmsg(rx, mm, 2, 0, NULL);
	pl_ret("recvmmsg", n, errno);
	PL_EQ(n, 2);
	PL_EQ(mm[0].msg_len, 200);
	PL_EQ(mm[1].msg_len, 100);
	PL_CHECK(pl_pattern_ok(buf, 200, 300) && pl_pattern_ok(buf + 200, 100, 500));
	pl_rec("recvmmsg", target, (long long)mm[0].msg_len + mm[1].msg_len);
	close(tx);
	close(rx);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_read");
	data = pl_path("data.bin");
	int fd = open(data, O_RDONLY);
	PL_CHECK(fd >= 0);
	test_read_fd(fd);
	test_vectors(fd);
	close(fd);

	/* A descriptor opened for writing only: EBADF, and the file is still its target. */
	fd = open(data, O_WRONLY);
	ssize_t r = read(fd, buf, 10);
	pl_ret("read(O_WRONLY)", (long)r, errno);
	PL_ERR(r, -1, EBADF);
	pl_rec_file("read", data, 0);
	close(fd);

	/* A closed descriptor: EBADF. */
	r = read(fd, buf, 10);
	pl_ret("read(closed)", (long)r, errno);
	PL_ERR(r, -1, EBADF);

	test_stdio();
	test_sockets();
	test_datagrams();
	return pl_finish();
}
