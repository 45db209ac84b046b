/* pl_open.c: the open family and the fd table, observed through trace targets: every open
 * variant (relative, normalised, *at, fortified __open_2 names), fopen/freopen, dup, dup2,
 * dup3, fcntl(F_DUPFD), close then reuse, close_range, raw-syscall fds, sockets from socket,
 * socketpair, accept, accept4, connect, and fork (each child reports only its own calls). */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The fortified open entry points (declared by <bits/fcntl2.h> only under _FORTIFY_SOURCE). */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);

static const char *data;
static char other[4096];
static char parent_only[4096];
static unsigned char buf[4096];

/* pread at offset 0 (independent of the shared file position) from fd, which must be data.bin
 * (pattern) or other.bin (pattern from 1000). */
static void read_via(const char *what, int fd, const char *path)
{
	ssize_t r = pread(fd, buf, 100, 0);
	pl_ret(what, (long)r, errno);
	PL_EQ(r, 100);
	PL_CHECK(pl_pattern_ok(buf, 100, path == data ? 0 : 1000));
	pl_rec_file("pread", path, r);
}

static void make_file(const char *path, size_t off, int fd)
{
	unsigned char out[4096];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pl_pattern(off + i);
	ssize_t w = write(fd, out, sizeof(out));
	PL_EQ(w, sizeof(out));
	pl_rec_file("write", path, w);
	PL_EQ(close(fd), 0);
}

/* fd was just opened by fn on path: the trace counts the open (0 bytes) under the path made
 * absolute and normalised, and later reads under the same name. */
static void opened(const char *fn, int fd, const char *path)
{
	PL_CHECK(fd >= 0);
	pl_rec_file(fn, path, 0);
	read_via(fn, fd, path);
	PL_EQ(close(fd), 0);
}

static void test_open_variants(const char *workdir)
{
	int dirfd = open(workdir, O_RDONLY | O_DIRECTORY);
	PL_CHECK(dirfd >= 0);
	pl_rec_file("open", workdir, 0);
	opened("open", open(data, O_RDONLY), data);
	opened("open64", open64(data, O_RDONLY), data);
	opened("openat", openat(dirfd, "data.bin", O_RDONLY), data);
	opened("openat64", openat64(AT_FDCWD, data, O_RDONLY), data);
	opened("__open_2", __open_2(data, O_RDONLY), data);
	opened("__open64_2", __open64_2(data, O_RDONLY), data);
	opened("__openat_2", __openat_2(dirfd, "data.bin", O_RDONLY), data);
	opened("__openat64_2", __openat64_2(dirfd, "sub/../data.bin", O_RDONLY), data);

	/* Relative paths are made absolute against the working directory, or dirfd, and
	 * lexically normalised. */
	PL_EQ(chdir(workdir), 0);
	opened("open", open("data.bin", O_RDONLY), data);
	opened("open", open("./sub/./../data.bin", O_RDONLY), data);
	int subfd = open("sub", O_RDONLY | O_DIRECTORY);
	pl_rec_file("open", pl_path("sub"), 0);
	opened("openat", openat(subfd, "../data.bin", O_RDONLY), data);
	close(subfd);
	close(dirfd);

	make_file(other, 1000, creat(other, 0600));
	pl_rec_file("creat", other, 0);
	make_file(parent_only, 0, creat64(parent_only, 0600));
	pl_rec_file("creat64", parent_only, 0);

	/* Failed opens count too, under the path asked for. */
	const char *missing = pl_path("missing");
	int r = open(missing, O_RDONLY);
	pl_ret("open(missing)", r, errno);
	PL_ERR(r, -1, ENOENT);
	pl_rec_file("open", missing, 0);
	r = open(data, O_RDWR | O_CREAT | O_EXCL, 0600);
	pl_ret("open(O_EXCL, existing)", r, errno);
	PL_ERR(r, -1, EEXIST);
	pl_rec_file("open", data, 0);
	r = __open_2(data, O_RDONLY | O_DIRECTORY);
	pl_ret("__open_2(O_DIRECTORY on a file)", r, errno);
	PL_ERR(r, -1, ENOTDIR);
	pl_rec_file("__open_2", data, 0);
}

static void stdio_read(const char *fn, FILE *f, const char *path)
{
	PL_CHECK(f != NULL);
	if (!f)
		return;
	pl_rec_file(fn, path, 0);
	const char *what = fn;
	size_t n = fread(buf, 1, 100, f);
	pl_ret(what, (long)n, 0);
	PL_EQ(n, 100);
	PL_CHECK(pl_pattern_ok(buf, 100, path == data ? 0 : 1000));
	pl_rec_file("fread", path, (long long)n);
}

static void test_stdio(void)
{
	FILE *f = fopen(data, "r");
	stdio_read("fopen", f, data);
	/* freopen: the same FILE (often the same fd number) now names other.bin. */
	f = freopen(other, "r", f);
	stdio_read("freopen", f, other);
	f = freopen64(data, "r", f);
	stdio_read("freopen64", f, data);
	PL_EQ(fclose(f), 0);
	f = fopen64(other, "r");
	stdio_read("fopen64", f, other);
	PL_EQ(fclose(f), 0);
	const char *missing = pl_path("missing");
	f = fopen(missing, "r");
	pl_say("fopen(missing) = %s (%s)", f ? "FILE" : "NULL", strerrorname_np(errno));
	PL_CHECK(f == NULL && errno == ENOENT);
	pl_rec_file("fopen", missing, 0);
}

static void test_dups(void)
{
	int fd = open(data, O_RDONLY);
	pl_rec_file("open", data, 0);
	int d = dup(fd);
	read_via("dup", d, data);
	PL_EQ(dup2(fd, 40), 40);
	read_via("dup2", 40, data);
	PL_EQ(dup3(fd, 41, O_CLOEXEC), 41);
	read_via("dup3", 41, data);
	int f1 = fcntl(fd, F_DUPFD, 42);
	PL_CHECK(f1 >= 42);
	read_via("fcntl(F_DUPFD)", f1, data);
	int f2 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	PL_CHECK(f2 >= 50);
	read_via("fcntl(F_DUPFD_CLOEXEC)", f2, data);
	int f3 = fcntl64(fd, F_DUPFD, 55);
	PL_CHECK(f3 >= 55);
	read_via("fcntl64(F_DUPFD)", f3, data);
	PL_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);

	/* Closed, then the lowest free number is reused for another file. */
	PL_EQ(close(d), 0);
	int o = open(other, O_RDONLY);
	pl_rec_file("open", other, 0);
	PL_EQ(o, d);
	read_via("reused fd", o, other);

	/* dup2 over a live descriptor: 40 now names other.bin. */
	PL_EQ(dup2(o, 40), 40);
	read_via("dup2 over data.bin", 40, other);

	int r = dup(-1);
	pl_ret("dup(-1)", r, errno);
	PL_ERR(r, -1, EBADF);
	r = dup2(fd, -1);
	pl_ret("dup2(fd, -1)", r, errno);
	PL_ERR(r, -1, EBADF);
	r = dup3(fd, fd, 0);
	pl_ret("dup3(fd, fd)", r, errno);
	PL_ERR(r, -1, EINVAL);
	r = fcntl(-1, F_GETFD);
	pl_ret("fcntl(-1)", r, errno);
	PL_ERR(r, -1, EBADF);

	/* close_range forgets 40..60; a descriptor made there by a raw system call (which the
	 * shim does not see) is classified afresh, not taken for what was closed. */
	r = close_range(40, 60, 0);
	pl_ret("close_range(40, 60)", r, errno);
	PL_EQ(r, 0);
	PL_EQ(fcntl(f1, F_GETFD), -1);
	long s = syscall(SYS_dup2, o, 50);
	PL_EQ(s, 50);
	pl_rec("syscall", "syscall:" PL_STR(SYS_dup2), 0);
	read_via("raw dup2 after close_range", 50, other);
	close(50);
	/* The same, reusing a number freed by close. */
	PL_EQ(close(o), 0);
	s = syscall(SYS_dup2, fd, o);
	PL_EQ(s, o);
	pl_rec("syscall", "syscall:" PL_STR(SYS_dup2), 0);
	read_via("raw dup2 after close", o, data);
	close(o);
	close(fd);
}

static void sock_bytes(const char *fn, int tx, int rx, const char *target)
{
	ssize_t w = send(tx, "ping", 4, 0);
	PL_EQ(w, 4);
	pl_rec("send", target, w);
	ssize_t r = recv(rx, buf, 4, MSG_WAITALL);
	PL_EQ(r, 4);
	pl_rec("recv", target, r);
	pl_say("%s: %zd bytes", fn, r);
}

static void test_sockets(void)
{
	char target[64];
	int client, server;
	int port = pl_tcp_pair(&client, &server);
	pl_target(target, sizeof(target), "tcp", port);
	sock_bytes("accept/connect", client, server, target);
	/* A duplicate of a socket is the same socket. */
	int d = dup(server);
	sock_bytes("dup of accepted", d, client, target);
	/* dup2 of a file over the socket's number: now a file. */
	int fd = open(data, O_RDONLY);
	pl_rec_file("open", data, 0);
	PL_EQ(dup2(fd, d), d);
	read_via("file dup2'd over a socket", d, data);
	close(d);
	close(fd);
	close(client);
	close(server);

	/* accept4, and a listener made with SOCK_CLOEXEC. */
	struct sockaddr_in sin = { .sin_family = AF_INET,
		                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	PL_EQ(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	PL_EQ(listen(lfd, 1), 0);
	port = pl_local_port(lfd);
	sin.sin_port = htons((uint16_t)port);
	client = socket(AF_INET, SOCK_STREAM, 0);
	PL_EQ(connect(client, (struct sockaddr *)&sin, sizeof(sin)), 0);
	server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	PL_CHECK(server >= 0);
	pl_target(target, sizeof(target), "tcp", port);
	sock_bytes("accept4", server, client, target);
	close(client);
	close(server);
	close(lfd);

	/* connect to a port nobody listens on (the one just closed): ECONNREFUSED. */
	client = socket(AF_INET, SOCK_STREAM, 0);
	int r = connect(client, (struct sockaddr *)&sin, sizeof(sin));
	pl_ret("connect(closed port)", r, errno);
	PL_ERR(r, -1, ECONNREFUSED);
	close(client);

	int sv[2];
	PL_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sock_bytes("socketpair", sv[0], sv[1], "socket:unix");
	close(sv[0]);
	close(sv[1]);
	r = socket(AF_INET, 12345, 0);
	pl_ret("socket(bad type)", r, errno);
	PL_ERR(r, -1, EINVAL);
}

/* A child reads data.bin through the parent's descriptor and other.bin through its own; its
 * trace must hold only these, never the parent's earlier calls. */
static void child(int fd, bool use_exit)
{
	pl_forked_child();
	read_via("child: inherited fd", fd, data);
	int o = open(other, O_RDONLY);
	pl_rec_file("open", other, 0);
	read_via("child: own fd", o, other);
	close(o);
	char t[4200];
	snprintf(t, sizeof(t), "file:%s", parent_only);
	pl_absent_target(t);
	pl_absent("write", t);
	int status = pl_finish();
	if (use_exit)
		exit(status);
	_exit(status);
}

static void test_fork(void)
{
	int fd = open(data, O_RDONLY);
	pl_rec_file("open", data, 0);
	read_via("parent before fork", fd, data);
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork();
		if (pid == 0)
			child(fd, i == 0);
		int status = -1;
		PL_EQ(waitpid(pid, &status, 0), pid);
		PL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		pl_say("child %d: %s %d", i, WIFEXITED(status) ? "exit" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	read_via("parent after fork", fd, data);
	close(fd);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_open");
	data = pl_path("data.bin");
	snprintf(other, sizeof(other), "%s", pl_path("other.bin"));
	snprintf(parent_only, sizeof(parent_only), "%s", pl_path("parent-only.bin"));
	test_open_variants(argv[1]);
	test_stdio();
	test_dups();
	test_sockets();
	test_fork();
	return pl_finish();
}
