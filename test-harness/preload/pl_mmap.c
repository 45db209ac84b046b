/* pl_mmap.c: calls every function of the mmap family (mmap, mmap64, mremap, munmap) on
 * anonymous memory and on data.bin, checks the mapped bytes, results and errno; and proves a
 * shared writable mapping of the file is written only by the program itself. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static void mapped(const char *fn, const char *target, void *p, int err, size_t len)
{
	pl_say("%s(%zu) = %s%s", fn, len, p == MAP_FAILED ? "MAP_FAILED " : "ptr",
	       p == MAP_FAILED ? strerrorname_np(err) : "");
	pl_rec(fn, target, p == MAP_FAILED ? 0 : (long long)len);
}

static void unmapped(void *p, size_t len)
{
	int r = munmap(p, len);
	pl_ret("munmap", r, errno);
	PL_EQ(r, 0);
}

static void test_anon(void)
{
	unsigned char *p =
	    mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mapped("mmap", "anon", p, errno, MIB);
	PL_CHECK(p != MAP_FAILED && p[0] == 0 && p[MIB - 1] == 0);
	memset(p, 0x5a, MIB);

	unsigned char *q = mremap(p, MIB, 2 * MIB, MREMAP_MAYMOVE);
	pl_say("mremap(grow) = %s", q == MAP_FAILED ? "MAP_FAILED" : "ptr");
	PL_CHECK(q != MAP_FAILED && q[0] == 0x5a && q[MIB - 1] == 0x5a && q[2 * MIB - 1] == 0);
	if (q == MAP_FAILED)
		return;
	unmapped(q, 2 * MIB);

	p = mmap64(NULL, 3 * 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mapped("mmap64", "anon", p, errno, 3 * 4096);
	unmapped(p, 3 * 4096);
}

static void test_file(const char *data)
{
	char file[4200];
	snprintf(file, sizeof(file), "file:%s", data);
	int fd = open(data, O_RDONLY);
	PL_CHECK(fd >= 0);
	unsigned char *p = mmap(NULL, PL_DATA_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	mapped("mmap", file, p, errno, PL_DATA_SIZE);
	PL_CHECK(p != MAP_FAILED && pl_pattern_ok(p, PL_DATA_SIZE, 0));
	unmapped(p, PL_DATA_SIZE);

	/* An offset into the file: the page at 16 KiB. */
	p = mmap64(NULL, 8192, PROT_READ, MAP_SHARED, fd, 16384);
	mapped("mmap64", file, p, errno, 8192);
	PL_CHECK(p != MAP_FAILED && pl_pattern_ok(p, 8192, 16384));
	unmapped(p, 8192);

	/* Writable shared mapping of a read-only descriptor: EACCES. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mapped("mmap", file, p, errno, 4096);
	PL_CHECK(p == MAP_FAILED && errno == EACCES);
	close(fd);

	/* A shared writable mapping: the program's own store reaches the file, nothing else. */
	fd = open(data, O_RDWR);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mapped("mmap", file, p, errno, 4096);
	if (p != MAP_FAILED) {
		p[10] = (unsigned char)~pl_pattern(10);
		PL_EQ(msync(p, 4096, MS_SYNC), 0);
		unmapped(p, 4096);
	}
	unsigned char b[16];
	PL_EQ(pread(fd, b, 16, 0), 16);
	pl_rec_file("pread", data, 16);
	PL_CHECK(b[10] == (unsigned char)~pl_pattern(10));
	b[10] = pl_pattern(10);
	PL_CHECK(pl_pattern_ok(b, 16, 0));
	close(fd);
}

static void test_errors(void)
{
	/* A file mapping of a descriptor that is not open: EBADF. */
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 1000, 0);
	pl_say("mmap(bad fd) = %s", p == MAP_FAILED ? strerrorname_np(errno) : "ptr");
	PL_CHECK(p == MAP_FAILED && errno == EBADF);

	/* Zero length: EINVAL. */
	p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mapped("mmap", "anon", p, errno, 0);
	PL_CHECK(p == MAP_FAILED && errno == EINVAL);

	/* An unaligned munmap: EINVAL. */
	int r = munmap((void *)4097, 4096);
	pl_ret("munmap(unaligned)", r, errno);
	PL_ERR(r, -1, EINVAL);

	/* mremap of an address that is not mapped: EFAULT. */
	unsigned char *a = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mapped("mmap", "anon", a, errno, 8192);
	unmapped(a, 8192);
	p = mremap(a, 4096, 8192, 0);
	pl_say("mremap(unmapped) = %s", p == MAP_FAILED ? strerrorname_np(errno) : "ptr");
	PL_CHECK(p == MAP_FAILED && errno == EFAULT);
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_mmap");
	const char *data = pl_path("data.bin");
	test_anon();
	test_file(data);
	test_errors();
	return pl_finish();
}
