/* ft_send.c: the send family under the real library: delay, fail and short on send, sendto,
 * sendmsg, and on write/writev when the fd is a socket; and the border between the send and
 * write families (a send rule leaves files alone, a write rule leaves sockets alone). Only
 * socketpairs and 127.0.0.1, never another address. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ft.h"

#define SEND_BYTES 16384

enum fn { FN_SEND, FN_SENDTO, FN_SENDMSG, FN_WRITE, FN_WRITEV, FN_COUNT };

static const char *const fn_names[FN_COUNT] = { "send", "sendto", "sendmsg", "write", "writev" };

static ssize_t send_once(enum fn fn, int fd, const void *buf, size_t n)
{
	const char *b = buf;
	struct iovec v[2] = { { (void *)b, n / 2 }, { (void *)(b + n / 2), n - n / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	switch (fn) {
	case FN_SEND:
		return send(fd, buf, n, 0);
	case FN_SENDTO:
		return sendto(fd, buf, n, 0, NULL, 0);
	case FN_SENDMSG:
		return sendmsg(fd, &m, 0);
	case FN_WRITE:
		return write(fd, buf, n);
	case FN_WRITEV:
		return writev(fd, v, 2);
	default:
		return -1;
	}
}

static int pending(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

/* The bytes a peer received, checked against the pattern; returns how many. */
static size_t receive_all(int fd, size_t expect)
{
	static uint8_t buf[SEND_BYTES];
	size_t got = ft_read_full(fd, buf, expect);
	size_t wrong = 0;
	for (size_t i = 0; i < got; i++)
		wrong += buf[i] != ft_pattern(i);
	FT_CHECKF(wrong == 0, "the peer received %zu wrong bytes", wrong);
	return got;
}

static void check_delay(int fd, int peer, long delay_ms)
{
	uint8_t buf[1024];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = ft_pattern(i);
	for (int fn = 0; fn < FN_COUNT; fn++) {
		uint64_t t0 = ft_now_ns();
		ssize_t r = send_once(fn, fd, buf, sizeof(buf));
		uint64_t dt = ft_now_ns() - t0;
		FT_CHECKF(r == (ssize_t)sizeof(buf), "%s: returned %zd", fn_names[fn], r);
		FT_CHECKF(dt >= (uint64_t)delay_ms * 1000000u,
		          "%s: took %.3f ms, the delay is %ld ms", fn_names[fn], (double)dt / 1e6,
		          delay_ms);
		FT_EQ(receive_all(peer, sizeof(buf)), sizeof(buf));
	}
}

static void check_fail(int fd, int peer, int err)
{
	uint8_t buf[1024] = { 0 };
	for (int fn = 0; fn < FN_COUNT; fn++) {
		errno = 0;
		ssize_t r = send_once(fn, fd, buf, sizeof(buf));
		int e = errno;
		FT_CHECKF(r == -1 && e == err, "%s: returned %zd errno %d, expected errno %d",
		          fn_names[fn], r, e, err);
		FT_CHECKF(pending(peer) == 0, "%s: the peer received bytes of a failed send",
		          fn_names[fn]);
	}
}

/* The peer takes each piece as it is sent (small sends cost socket buffer space far beyond
 * their size), and the whole stream must be the pattern, in order. */
static void check_short(int fd, int peer, long max)
{
	static uint8_t buf[SEND_BYTES], got[SEND_BYTES];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = ft_pattern(i);
	for (int fn = 0; fn < FN_COUNT; fn++) {
		size_t put = 0;
		long calls = 0, bad = 0;
		memset(got, 0, sizeof(got));
		while (put < sizeof(buf) && calls++ < SEND_BYTES + 10) {
			ssize_t r = send_once(fn, fd, buf + put, sizeof(buf) - put);
			if (r <= 0 || r > max)
				bad++;
			if (r <= 0 || ft_read_full(peer, got + put, (size_t)r) != (size_t)r)
				break;
			put += (size_t)r;
		}
		FT_CHECKF(bad == 0, "%s: %ld calls outside 1..%ld bytes", fn_names[fn], bad, max);
		FT_CHECKF(calls >= SEND_BYTES / max, "%s: %ld calls for %d bytes", fn_names[fn],
		          calls, SEND_BYTES);
		FT_EQ(put, sizeof(buf));
		FT_CHECKF(memcmp(buf, got, sizeof(buf)) == 0, "%s: the peer received other bytes",
		          fn_names[fn]);
	}
}

/* A write() and a writev() to a file move every byte, at once, whatever the send rule. */
static void check_file_untouched(const char *dir)
{
	char path[4096];
	uint8_t buf[4096] = { 0 };
	struct iovec v[2] = { { buf, 100 }, { buf + 100, sizeof(buf) - 100 } };
	snprintf(path, sizeof(path), "%s/untouched.bin", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	/* not delayed: the fastest of a few tries beats the 30 ms delay (FT_UNDELAYED_TRIES) */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < FT_UNDELAYED_TRIES && best >= 30000000u; i++) {
		uint64_t t0 = ft_now_ns();
		FT_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
		FT_EQ(writev(fd, v, 2), sizeof(buf));
		uint64_t dt = ft_now_ns() - t0;
		best = dt < best ? dt : best;
	}
	FT_CHECKF(best < 30000000u, "writes to a file took %.3f ms at best, the delay is 30 ms",
	          (double)best / 1e6);
	close(fd);
}

static void socket_pair(int kind, int *ret_fd, int *ret_peer)
{
	if (kind == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			exit(2);
		*ret_fd = sv[0];
		*ret_peer = sv[1];
		return;
	}
	int port, lfd = ft_listen_tcp(&port);
	ft_tcp_pair(lfd, port, ret_fd, ret_peer);
	close(lfd);
}

/* child: ACTION DIR PARAM, ACTION delay|fail|short, on a socketpair and a TCP connection. */
static void child_send(int argc, char **argv)
{
	long param = (long)ft_arg_ll(argc, argv, 3);
	for (int kind = 0; kind < 2; kind++) {
		int fd, peer;
		socket_pair(kind, &fd, &peer);
		if (strcmp(argv[1], "delay") == 0)
			check_delay(fd, peer, param);
		else if (strcmp(argv[1], "fail") == 0)
			check_fail(fd, peer, (int)param);
		else
			check_short(fd, peer, param);
		close(fd);
		close(peer);
	}
	check_file_untouched(argv[2]);
}

/* child: DIR: under a write rule (fail, min_size 2000), sockets are untouched and a file
 * write of 4096 bytes fails with ENOSPC. */
static void child_write_rule(int argc, char **argv)
{
	(void)argc;
	static uint8_t buf[4096];
	for (int kind = 0; kind < 2; kind++) {
		int fd, peer;
		socket_pair(kind, &fd, &peer);
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = ft_pattern(i);
		FT_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
		FT_EQ(receive_all(peer, sizeof(buf)), sizeof(buf));
		struct iovec v[2] = { { buf, 1000 }, { buf + 1000, sizeof(buf) - 1000 } };
		FT_EQ(writev(fd, v, 2), sizeof(buf));
		FT_EQ(receive_all(peer, sizeof(buf)), sizeof(buf));
		close(fd);
		close(peer);
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/out.bin", argv[1]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	errno = 0;
	FT_ERRNO(write(fd, buf, sizeof(buf)), -1, ENOSPC);
	close(fd);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static void run_send(const char *cfg, const char *action, const char *param)
{
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, "send", action, ft_dir(), param, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_delay(void)
{
	run_send(ft_config("c.ini", "[fault.slow]\nhook = send\naction = delay\ndelay = 30ms\n"),
	         "delay", "30");
}

static void test_fail(void)
{
	char err[16];
	snprintf(err, sizeof(err), "%d", ECONNRESET);
	/* ECONNRESET is the send family's default errno */
	run_send(ft_config("c.ini", "[fault.reset]\nhook = send\naction = fail\n"), "fail", err);
	snprintf(err, sizeof(err), "%d", EPIPE);
	run_send(ft_config("d.ini", "[fault.pipe]\nhook = send\naction = fail\nerrno = EPIPE\n"),
	         "fail", err);
}

static void test_short(void)
{
	run_send(ft_config("c.ini", "[fault.trickle]\nhook = send\naction = short\n"
	                            "max_bytes = 100\n"),
	         "short", "100");
	run_send(ft_config("d.ini", "[fault.one-byte]\nhook = send\naction = short\n"
	                            "max_bytes = 1\n"),
	         "short", "1");
}

static void test_write_rule_spares_sockets(void)
{
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.disk-full]\nhook = write\naction = fail\n"
	                              "min_size = 2000\n");
	ft_run(&r, "write-rule", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "send", child_send },
		{ "write-rule", child_write_rule },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "delay", test_delay },
		{ "fail", test_fail },
		{ "short", test_short },
		{ "write-rule-spares-sockets", test_write_rule_spares_sockets },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
