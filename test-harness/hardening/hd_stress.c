/* hd_stress.c: N threads x M mixed hooked calls (read, pread, send/recv, malloc/calloc/free,
 * anonymous mmap/munmap, open/close) meant to run with fault rules armed: every injected
 * failure, short count or delay must be survivable, and is counted by kind. Bytes that arrive
 * are checked (no rule corrupts here). At the end it prints its counts and "ready PID", then
 * waits for a line on stdin before exiting, so that the segment can be read while the process
 * lives. Exit 0 when every check held, 1 otherwise, 2 on usage error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILE_SIZE   (256 * 1024)
#define PAGE        4096
#define SLOTS       32
#define MAX_THREADS 64
#define MAX_SEND    2048
#define MAX_BLOCK   (16 * 1024)

/* What the program saw, by kind; the runner compares them with the rules' counters. */
enum seen {
	SEEN_READ_EIO,
	SEEN_READ_SHORT,
	SEEN_OPEN_ENOENT,
	SEEN_MMAP_ENOMEM,
	SEEN_MALLOC_NULL,
	SEEN_SEND_SHORT,
	SEEN_COUNT
};
static const char *const seen_names[SEEN_COUNT] = { "read_eio",    "read_short",  "open_enoent",
	                                            "mmap_enomem", "malloc_null", "send_short" };

struct worker {
	pthread_t tid;
	unsigned index;
	long calls_wanted, calls;
	const char *path;
	uint64_t rng;
	void *slots[SLOTS];
	unsigned char buf[PAGE];
	unsigned char out[MAX_SEND];
	long long seen[SEEN_COUNT];
	long failures;
	char first_failure[200];
};

static unsigned char file_byte(size_t off)
{
	return (unsigned char)(off * 151u + 3u + (off >> 9));
}

static uint64_t next(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1Dull;
}

static void failed(struct worker *w, const char *what, long long detail)
{
	int e = errno;
	if (w->failures++ == 0)
		snprintf(w->first_failure, sizeof(w->first_failure),
		         "thread %u: %s (%lld, errno %d)", w->index, what, detail, e);
}

static bool bytes_ok(const unsigned char *b, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != file_byte(off + i))
			return false;
	return true;
}

/* One read() at the descriptor's position; an injected EIO or a short count is fine. */
static void do_read(struct worker *w, int fd)
{
	/* at least 2 bytes: a short count (max_bytes = 1) is then always visible */
	size_t n = 2 + (size_t)(next(w) % (PAGE - 1));
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if ((size_t)pos + n > FILE_SIZE) {
		lseek(fd, 0, SEEK_SET);
		pos = 0;
	}
	ssize_t r = read(fd, w->buf, n);
	w->calls++;
	if (r < 0) {
		if (errno == EIO)
			w->seen[SEEN_READ_EIO]++;
		else
			failed(w, "read failed with an unexpected errno", r);
		return;
	}
	if ((size_t)r < n)
		w->seen[SEEN_READ_SHORT]++;
	if (r == 0 || !bytes_ok(w->buf, (size_t)r, (size_t)pos))
		failed(w, "read returned wrong bytes", r);
}

static void do_pread(struct worker *w, int fd)
{
	size_t off = (size_t)(next(w) % (FILE_SIZE - PAGE));
	size_t n = 2 + (size_t)(next(w) % (PAGE - 1));
	ssize_t r = pread(fd, w->buf, n, (off_t)off);
	w->calls++;
	if (r < 0) {
		if (errno == EIO)
			w->seen[SEEN_READ_EIO]++;
		else
			failed(w, "pread failed with an unexpected errno", r);
		return;
	}
	if ((size_t)r < n)
		w->seen[SEEN_READ_SHORT]++;
	if (r == 0 || !bytes_ok(w->buf, (size_t)r, off))
		failed(w, "pread returned wrong bytes", r);
}

/* open/close of the data file; an injected ENOENT is fine. */
static void do_open(struct worker *w)
{
	int fd = open(w->path, O_RDONLY | O_CLOEXEC);
	w->calls++;
	if (fd < 0) {
		if (errno == ENOENT)
			w->seen[SEEN_OPEN_ENOENT]++;
		else
			failed(w, "open failed with an unexpected errno", fd);
		return;
	}
	do_pread(w, fd);
	if (close(fd) != 0)
		failed(w, "close", fd);
	w->calls++;
}

/* send() until all is out (a short send is fine), then recv it all back. */
static void do_send(struct worker *w, const int sv[2])
{
	size_t n = 1 + (size_t)(next(w) % MAX_SEND);
	unsigned char tag = (unsigned char)next(w);
	for (size_t i = 0; i < n; i++)
		w->out[i] = (unsigned char)(tag + i * 7);
	size_t done = 0;
	while (done < n) {
		ssize_t r = send(sv[0], w->out + done, n - done, 0);
		w->calls++;
		if (r <= 0) {
			failed(w, "send", r);
			return;
		}
		if ((size_t)r < n - done)
			w->seen[SEEN_SEND_SHORT]++;
		done += (size_t)r;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(sv[1], w->buf + got, n - got, 0);
		w->calls++;
		if (r <= 0) {
			failed(w, "recv", r);
			return;
		}
		got += (size_t)r;
	}
	if (memcmp(w->buf, w->out, n) != 0)
		failed(w, "recv did not return what was sent", (long long)n);
}

static void do_alloc(struct worker *w)
{
	void **slot = &w->slots[next(w) % SLOTS];
	free(*slot);
	*slot = NULL;
	w->calls++;
	size_t size = 1 + (size_t)(next(w) % MAX_BLOCK);
	bool zeroed = next(w) % 4 == 0;
	unsigned char *p = zeroed ? calloc(1, size) : malloc(size);
	w->calls++;
	if (!p) {
		if (errno == ENOMEM)
			w->seen[SEEN_MALLOC_NULL]++;
		else
			failed(w, "allocation failed without ENOMEM", (long long)size);
		return;
	}
	if (zeroed && (p[0] || p[size - 1]))
		failed(w, "calloc memory not zeroed", (long long)size);
	p[0] = (unsigned char)size;
	p[size - 1] = (unsigned char)(size >> 3);
	*slot = p;
}

static void do_mmap(struct worker *w)
{
	size_t len = PAGE * (1 + (size_t)(next(w) % 8));
	unsigned char *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->calls++;
	if (p == MAP_FAILED) {
		if (errno == ENOMEM)
			w->seen[SEEN_MMAP_ENOMEM]++;
		else
			failed(w, "mmap failed without ENOMEM", (long long)len);
		return;
	}
	if (p[len - 1] != 0)
		failed(w, "fresh anonymous memory not zeroed", (long long)len);
	p[0] = 1;
	p[len - 1] = 2;
	if (munmap(p, len) != 0)
		failed(w, "munmap", (long long)len);
	w->calls++;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int sv[2];
	int fd = -1;
	/* The setup's own open may meet an injected ENOENT: retry, it is a fault to survive. */
	for (int tries = 0; fd < 0 && tries < 1000; tries++) {
		fd = open(w->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			w->seen[SEEN_OPEN_ENOENT]++;
	}
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		failed(w, "thread setup", fd);
		return NULL;
	}
	while (w->calls < w->calls_wanted) {
		unsigned r = (unsigned)(next(w) % 100);
		if (r < 50)
			do_alloc(w);
		else if (r < 60)
			do_read(w, fd);
		else if (r < 70)
			do_pread(w, fd);
		else if (r < 80)
			do_send(w, sv);
		else if (r < 90)
			do_mmap(w);
		else
			do_open(w);
	}
	for (int i = 0; i < SLOTS; i++)
		free(w->slots[i]);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	return NULL;
}

/* Written under another name, then renamed: no rule on the data file's name may fail its
 * creation. */
static int make_file(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	static unsigned char chunk[PAGE];
	for (size_t off = 0; off < FILE_SIZE; off += PAGE) {
		for (size_t i = 0; i < PAGE; i++)
			chunk[i] = file_byte(off + i);
		for (size_t done = 0; done < PAGE;) {
			ssize_t r = write(fd, chunk + done, PAGE - done);
			if (r <= 0) {
				int e = errno;
				close(fd);
				return -e;
			}
			done += (size_t)r;
		}
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		return -errno;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: hd-stress [-t THREADS] [-n CALLS-PER-THREAD] DATA-FILE\n");
	return 2;
}

/* The program's counts, then "ready PID"; then waits for the runner's line. */
static void report_and_wait(struct worker *ws, long threads, long *ret_failures)
{
	long long seen[SEEN_COUNT] = { 0 };
	long long calls = 0;
	long failures = 0;
	for (long i = 0; i < threads; i++) {
		for (int k = 0; k < SEEN_COUNT; k++)
			seen[k] += ws[i].seen[k];
		calls += ws[i].calls;
		failures += ws[i].failures;
		if (ws[i].failures)
			fprintf(stderr, "hd-stress: %s (%ld failures)\n", ws[i].first_failure,
			        ws[i].failures);
	}
	printf("calls %lld\n", calls);
	for (int k = 0; k < SEEN_COUNT; k++)
		printf("seen %s %lld\n", seen_names[k], seen[k]);
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	char line[64];
	ssize_t r;
	do
		r = read(0, line, sizeof(line));
	while (r < 0 && (errno == EINTR || errno == EIO));
	*ret_failures = failures;
}

int main(int argc, char **argv)
{
	long threads = 8, calls = 1000000;
	int c;
	while ((c = getopt(argc, argv, "t:n:")) != -1) {
		if (c == 't')
			threads = strtol(optarg, NULL, 10);
		else if (c == 'n')
			calls = strtol(optarg, NULL, 10);
		else
			return usage();
	}
	if (optind != argc - 1 || threads < 1 || threads > MAX_THREADS || calls < 1)
		return usage();
	const char *path = argv[optind];
	int r = make_file(path);
	if (r < 0) {
		fprintf(stderr, "hd-stress: cannot write %s: %s\n", path, strerror(-r));
		return 2;
	}
	static struct worker ws[MAX_THREADS];
	for (long i = 0; i < threads; i++) {
		ws[i] = (struct worker){ .index = (unsigned)i,
			                 .calls_wanted = calls,
			                 .path = path,
			                 .rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) };
		if (pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "hd-stress: pthread_create failed\n");
			return 1;
		}
	}
	for (long i = 0; i < threads; i++)
		pthread_join(ws[i].tid, NULL);
	long failures = 0;
	report_and_wait(ws, threads, &failures);
	return failures ? 1 : 0;
}
