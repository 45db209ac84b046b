/* pl_write.c: calls every function of the write family (write, pwrite*, writev, pwritev*,
 * fwrite*) on regular files and /dev/full, checks results, errno and the file's final bytes
 * exactly as without the shim. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned char out[8192];
static unsigned char back[8192];

static void wrote(const char *fn, const char *path, ssize_t got, ssize_t want)
{
	pl_ret(fn, (long)got, errno);
	PL_EQ(got, want);
	pl_rec_file(fn, path, got);
}

static void test_fd(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	PL_CHECK(fd >= 0);
	struct iovec iov[2] = { { out + 1000, 300 }, { out + 1300, 700 } };

	wrote("write", path, write(fd, out, 1000), 1000);
	wrote("writev", path, writev(fd, iov, 2), 1000);
	wrote("pwrite", path, pwrite(fd, out + 2000, 1000, 2000), 1000);
	wrote("pwrite64", path, pwrite64(fd, out + 3000, 1000, 3000), 1000);
	iov[0].iov_base = out + 4000;
	iov[1].iov_base = out + 4300;
	wrote("pwritev", path, pwritev(fd, iov, 2, 4000), 1000);
	iov[0].iov_base = out + 5000;
	iov[1].iov_base = out + 5300;
	wrote("pwritev64", path, pwritev64(fd, iov, 2, 5000), 1000);
	iov[0].iov_base = out + 6000;
	iov[1].iov_base = out + 6300;
	wrote("pwritev2", path, pwritev2(fd, iov, 2, 6000, 0), 1000);
	iov[0].iov_base = out + 7000;
	iov[1].iov_base = out + 7300;
	wrote("pwritev64v2", path, pwritev64v2(fd, iov, 2, 7000, 0), 1000);

	ssize_t r = pwrite(fd, out, 10, -1);
	pl_ret("pwrite(off=-1)", (long)r, errno);
	PL_ERR(r, -1, EINVAL);
	pl_rec_file("pwrite", path, 0);

	r = pread(fd, back, sizeof(back), 0);
	PL_EQ(r, 8000);
	pl_rec_file("pread", path, r);
	PL_CHECK(r == 8000 && pl_pattern_ok(back, 8000, 0));
	close(fd);

	fd = open(path, O_RDONLY);
	r = write(fd, out, 10);
	pl_ret("write(O_RDONLY)", (long)r, errno);
	PL_ERR(r, -1, EBADF);
	pl_rec_file("write", path, 0);
	close(fd);
}

static void test_stdio(const char *path)
{
	FILE *f = fopen(path, "w");
	PL_CHECK(f != NULL);
	if (!f)
		return;
	size_t n = fwrite(out, 1, 1000, f);
	pl_ret("fwrite", (long)n, 0);
	PL_EQ(n, 1000);
	pl_rec_file("fwrite", path, (long long)n);
	n = fwrite(out + 1000, 100, 20, f);
	pl_ret("fwrite", (long)n, 0);
	PL_EQ(n, 20);
	pl_rec_file("fwrite", path, (long long)n * 100);
	n = fwrite_unlocked(out + 3000, 500, 2, f);
	pl_ret("fwrite_unlocked", (long)n, 0);
	PL_EQ(n, 2);
	pl_rec_file("fwrite_unlocked", path, (long long)n * 500);
	PL_EQ(fclose(f), 0);

	/* Read it back with stdio: 4000 bytes of the pattern. */
	f = fopen(path, "r");
	n = fread(back, 1, sizeof(back), f);
	PL_EQ(n, 4000);
	PL_CHECK(pl_pattern_ok(back, n, 0));
	pl_rec_file("fread", path, (long long)n);
	/* fwrite on a stream opened for reading: 0 items and EBADF, with the error flag set. */
	errno = 0;
	n = fwrite(out, 1, 10, f);
	pl_ret("fwrite(read stream)", (long)n, errno);
	PL_EQ(n, 0);
	PL_EQ(errno, EBADF);
	PL_CHECK(ferror(f));
	pl_rec_file("fwrite", path, 0);
	fclose(f);
}

static void test_full(void)
{
	/* /dev/full: every write is ENOSPC, the error a checkpoint save meets on a full disk. */
	int fd = open("/dev/full", O_WRONLY);
	if (fd < 0) {
		pl_say("no /dev/full");
		return;
	}
	ssize_t r = write(fd, out, 100);
	pl_ret("write(/dev/full)", (long)r, errno);
	PL_ERR(r, -1, ENOSPC);
	pl_rec_file("write", "/dev/full", 0);
	close(fd);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_write");
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pl_pattern(i);
	test_fd(pl_path("out.bin"));
	test_stdio(pl_path("out-stdio.bin"));
	test_full();
	return pl_finish();
}
