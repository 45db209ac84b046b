/* ft_tensorload.c: loads a whole file one way, in chunks, and writes the bytes it got to OUT,
 * so that a driver can compare what a process loaded, byte for byte, with the file.
 *
 * usage: ft-tensorload WAY PATH OUT [CHUNK]
 *   read    read() in chunks of CHUNK bytes (default 4096)
 *   pread   pread() at each chunk's offset
 *   readv   readv() of two iovecs per call (CHUNK/3 and the rest)
 *   fread   fread() through a stdio stream
 *   mmap    mmap() of the whole file, copied out
 *   dup     open, dup, close the first fd, read() through the duplicate
 *   fork    read() half the file, fork; the child reads the rest through the same fd and
 *           writes OUT.child (the same bytes the parent got in its first half, then its own)
 *   raw     open through syscall(SYS_openat), which no hook sees, then read()
 *   threads 8 threads open the file at once and pread() it each through its own fd; OUT
 *           gets the first thread's bytes, and the exit status is 1 unless all agree
 *   many    PATH is a directory: each of its files, in name order, opened, read() and
 *           closed; OUT gets them one after the other
 * Exit 0 loaded, 1 a call failed, 2 usage. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t chunk = 4096;

static int fail(const char *what)
{
	perror(what);
	return 1;
}

/* read() (or pread() at each chunk's own offset) from fd into buf[from, to) in chunks. */
static int chunks(int fd, unsigned char *buf, size_t from, size_t to, bool positioned)
{
	for (size_t off = from; off < to;) {
		size_t n = to - off < chunk ? to - off : chunk;
		ssize_t r =
		    positioned ? pread(fd, buf + off, n, (off_t)off) : read(fd, buf + off, n);
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static int read_range(int fd, unsigned char *buf, size_t from, size_t to)
{
	return chunks(fd, buf, from, to, false);
}

static int load_pread(int fd, unsigned char *buf, size_t size)
{
	return chunks(fd, buf, 0, size, true);
}

static int load_readv(int fd, unsigned char *buf, size_t size)
{
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t first = n / 3 ? n / 3 : n;
		struct iovec v[2] = { { buf + off, first }, { buf + off + first, n - first } };
		ssize_t r = readv(fd, v, n - first ? 2 : 1);
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static int load_fread(const char *path, unsigned char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t r = fread(buf + off, 1, n, f);
		if (r == 0) {
			fclose(f);
			return -1;
		}
		off += r;
	}
	fclose(f);
	return 0;
}

static int load_mmap(int fd, unsigned char *buf, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	memcpy(buf, p, size);
	munmap(p, size);
	return 0;
}

static int write_out(const char *path, const unsigned char *buf, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
		return -1;
	return 0;
}

/* fork: the halves of one file read through one fd by two processes. */
static int load_fork(int fd, unsigned char *buf, size_t size, const char *out)
{
	size_t half = size / 2;
	if (read_range(fd, buf, 0, half) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char child_out[4200];
		snprintf(child_out, sizeof(child_out), "%s.child", out);
		_exit(read_range(fd, buf, half, size) < 0 || write_out(child_out, buf, size) < 0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	/* the parent's own second half: the child moved the shared offset to the end */
	return lseek(fd, (off_t)half, SEEK_SET) < 0 ? -1 : read_range(fd, buf, half, size);
}

#define THREADS 8

struct reader {
	pthread_t thread;
	const char *path;
	unsigned char *buf;
	size_t size;
	int result;
};

static void *read_alone(void *arg)
{
	struct reader *r = arg;
	int fd = open(r->path, O_RDONLY);
	r->result = fd < 0 ? -1 : load_pread(fd, r->buf, r->size);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* threads: one file recognised, matched and damaged by several threads at once. */
static int load_threads(const char *path, unsigned char *buf, size_t size)
{
	struct reader r[THREADS];
	int started = 0, bad = 0;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct reader){ .path = path, .size = size, .result = -1 };
		r[i].buf = i == 0 ? buf : malloc(size ? size : 1);
		if (r[i].buf && pthread_create(&r[i].thread, NULL, read_alone, &r[i]) == 0)
			started++;
		else
			break;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(r[i].thread, NULL);
		bad += r[i].result < 0 || memcmp(r[i].buf, buf, size) != 0;
	}
	for (int i = 1; i < THREADS && i <= started; i++)
		free(r[i].buf);
	return started == THREADS && bad == 0 ? 0 : -1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* many: every file of a directory, each through its own fd. */
static int load_many(const char *dir, const char *out)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_dot, by_name);
	FILE *o = fopen(out, "wb");
	int r = n < 0 || !o ? -1 : 0;
	for (int i = 0; i < n; i++) {
		char path[4200];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		int fd = open(path, O_RDONLY);
		unsigned char *buf = NULL;
		if (r == 0 &&
		    (fd < 0 || fstat(fd, &st) != 0 || !(buf = malloc((size_t)st.st_size + 1)) ||
		     read_range(fd, buf, 0, (size_t)st.st_size) < 0 ||
		     fwrite(buf, 1, (size_t)st.st_size, o) != (size_t)st.st_size))
			r = -1;
		free(buf);
		if (fd >= 0)
			close(fd);
	}
	free(n >= 0 ? names : NULL);
	if (o && fclose(o) != 0)
		r = -1;
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(
		    stderr,
		    "usage: ft-tensorload read|pread|readv|fread|mmap|dup|fork|raw|threads|many "
		    "PATH OUT [CHUNK]\n");
		return 2;
	}
	const char *way = argv[1], *path = argv[2], *out = argv[3];
	if (argc == 5)
		chunk = (size_t)strtoul(argv[4], NULL, 0);
	if (chunk == 0)
		return 2;
	if (strcmp(way, "many") == 0)
		return load_many(path, out) < 0 ? fail(path) : 0;
	int fd = strcmp(way, "raw") == 0 ? (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY)
	                                 : open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return fail(path);
	size_t size = (size_t)st.st_size;
	unsigned char *buf = malloc(size ? size : 1);
	int r;
	if (!buf)
		return fail("malloc");
	if (strcmp(way, "read") == 0 || strcmp(way, "raw") == 0) {
		r = read_range(fd, buf, 0, size);
	} else if (strcmp(way, "pread") == 0) {
		r = load_pread(fd, buf, size);
	} else if (strcmp(way, "readv") == 0) {
		r = load_readv(fd, buf, size);
	} else if (strcmp(way, "fread") == 0) {
		r = load_fread(path, buf, size);
	} else if (strcmp(way, "mmap") == 0) {
		r = load_mmap(fd, buf, size);
	} else if (strcmp(way, "dup") == 0) {
		int copy = dup(fd);
		close(fd);
		fd = copy;
		r = copy < 0 ? -1 : read_range(copy, buf, 0, size);
	} else if (strcmp(way, "threads") == 0) {
		r = load_threads(path, buf, size);
	} else if (strcmp(way, "fork") == 0) {
		r = load_fork(fd, buf, size, out);
	} else {
		return 2;
	}
	if (r < 0)
		return fail(way);
	if (write_out(out, buf, size) < 0)
		return fail(out);
	close(fd);
	free(buf);
	return 0;
}
