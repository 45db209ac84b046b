/* pl_fortify.c: ordinary calls (read, pread, recv, recvfrom, fread, fread_unlocked, open,
 * openat) compiled with -O2 -D_FORTIFY_SOURCE=2, so that the compiler itself emits the
 * fortified entry points (__read_chk, __open_2, ...) that a hardened server build calls. Built
 * twice: with and without _FILE_OFFSET_BITS=64, which picks the *64 names. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if !defined(_FORTIFY_SOURCE) || _FORTIFY_SOURCE < 2 || !defined(__OPTIMIZE__)
#error "pl_fortify.c must be built with -O2 -D_FORTIFY_SOURCE=2"
#endif

#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#define SFX64 "64"
#else
#define SFX64 ""
#endif

/* Lengths the compiler cannot see, so that it calls the checking variant rather than proving
 * the call safe. */
static volatile size_t len_100 = 100;
static volatile int rdonly = O_RDONLY;

static void file_calls(const char *data, const char *workdir)
{
	unsigned char buf[256];
	int fd = open(data, rdonly);
	PL_CHECK(fd >= 0);
	pl_ret("open", fd >= 0 ? 0 : -1, errno);
	pl_rec_file("__open" SFX64 "_2", data, 0);

	ssize_t r = read(fd, buf, len_100);
	pl_ret("read", (long)r, errno);
	PL_EQ(r, 100);
	PL_CHECK(pl_pattern_ok(buf, 100, 0));
	pl_rec_file("__read_chk", data, r);

	r = pread(fd, buf, len_100, 1000);
	pl_ret("pread", (long)r, errno);
	PL_EQ(r, 100);
	PL_CHECK(pl_pattern_ok(buf, 100, 1000));
	pl_rec_file("__pread" SFX64 "_chk", data, r);
	close(fd);

	/* Constant flags without O_CREAT: the plain name, even fortified. */
	int dirfd = open(workdir, O_RDONLY | O_DIRECTORY);
	pl_rec_file("open" SFX64, workdir, 0);
	fd = openat(dirfd, "data.bin", rdonly);
	PL_CHECK(fd >= 0);
	pl_rec_file("__openat" SFX64 "_2", data, 0);
	r = read(fd, buf, len_100);
	PL_EQ(r, 100);
	pl_rec_file("__read_chk", data, r);
	close(fd);
	close(dirfd);

	FILE *f = fopen(data, "r");
	PL_CHECK(f != NULL);
	if (!f)
		return;
	pl_rec_file("fopen" SFX64, data, 0);
	size_t n = fread(buf, 1, len_100, f);
	pl_ret("fread", (long)n, 0);
	PL_EQ(n, 100);
	PL_CHECK(pl_pattern_ok(buf, 100, 0));
	pl_rec_file("__fread_chk", data, (long long)n);
	n = fread_unlocked(buf, 2, len_100, f);
	pl_ret("fread_unlocked", (long)n, 0);
	PL_EQ(n, 100);
	PL_CHECK(pl_pattern_ok(buf, 200, 100));
	pl_rec_file("__fread_unlocked_chk", data, (long long)n * 2);
	fclose(f);
}

static void socket_calls(void)
{
	unsigned char buf[256];
	int sv[2];
	PL_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	PL_EQ(send(sv[1], "0123456789", 10, 0), 10);
	pl_rec("send", "socket:unix", 10);
	ssize_t r = recv(sv[0], buf, len_100, MSG_DONTWAIT);
	pl_ret("recv", (long)r, errno);
	PL_EQ(r, 10);
	pl_rec("__recv_chk", "socket:unix", r);
	PL_EQ(send(sv[1], "abcdef", 6, 0), 6);
	pl_rec("send", "socket:unix", 6);
	r = recvfrom(sv[0], buf, len_100, 0, NULL, NULL);
	pl_ret("recvfrom", (long)r, errno);
	PL_EQ(r, 6);
	PL_CHECK(memcmp(buf, "abcdef", 6) == 0);
	pl_rec("__recvfrom_chk", "socket:unix", r);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_fortify");
	const char *data = pl_path("data.bin");
	file_calls(data, argv[1]);
	socket_calls();
	return pl_finish();
}
