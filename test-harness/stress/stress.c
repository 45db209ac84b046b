/* stress.c: N threads, each making M mixed calls of the hooked families (malloc, calloc,
 * realloc, free, read, pread, send, recv, mmap, munmap) on its own data, verifying every byte
 * pattern it reads back. Each thread's sequence depends only on its seed, so the printed
 * counts are the same in every run, preloaded or not. Exit 0 when every check held. */
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

#define FILE_SIZE    (1024 * 1024)
#define SLOTS        64
#define MAX_THREADS  64
#define PAGE         4096
#define MAX_SEND     2048
#define MAX_BLOCK    (16 * 1024)
#define MAX_ANON_MAP (16 * PAGE)
#define FILE_MAP_LEN (8 * 1024)

enum op {
	OP_MALLOC,
	OP_CALLOC,
	OP_REALLOC,
	OP_FREE,
	OP_READ,
	OP_PREAD,
	OP_SEND,
	OP_RECV,
	OP_MMAP,
	OP_MMAP_FILE,
	OP_MUNMAP,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = { "malloc", "calloc",    "realloc", "free",
	                                        "read",   "pread",     "send",    "recv",
	                                        "mmap",   "mmap_file", "munmap" };

struct slot {
	unsigned char *p;
	size_t size;
	uint64_t seed;
};

struct worker {
	pthread_t tid;
	unsigned index;
	long calls_wanted;
	int file_fd; /* shared, pread only */
	const char *path;
	uint64_t rng;
	struct slot slots[SLOTS];
	unsigned char buf[MAX_SEND > PAGE ? MAX_SEND : PAGE];
	unsigned char out[MAX_SEND];
	/* results */
	long long count[OP_COUNT];
	long long bytes[OP_COUNT]; /* moved (reads, sends), asked (allocations), mapped */
	long failures;
	char first_failure[160];
};

static unsigned char file_byte(size_t off)
{
	return (unsigned char)(off * 131u + 7u + (off >> 8));
}

static uint64_t next(struct worker *w)
{
	/* xorshift64*: deterministic per thread, no shared state, no libc. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1Dull;
}

static void failed(struct worker *w, const char *what, long long detail)
{
	if (w->failures++ == 0)
		snprintf(w->first_failure, sizeof(w->first_failure), "%s (%lld, errno %d)", what,
		         detail, errno);
}

/* Marks a block: every byte for small blocks, else a word at each 4 KiB step and at the end
 * (enough to see two live blocks overlap, or a block moved without its contents). */
static void mark(unsigned char *p, size_t size, uint64_t seed)
{
	if (size <= 256) {
		for (size_t i = 0; i < size; i++)
			p[i] = (unsigned char)(seed + i);
		return;
	}
	/* off + 16 <= size: the step words never overlap the last word. */
	for (size_t off = 0; off + 16 <= size; off += PAGE) {
		uint64_t v = seed ^ off;
		memcpy(p + off, &v, 8);
	}
	uint64_t v = seed ^ (size - 8);
	memcpy(p + size - 8, &v, 8);
}

static bool marked(const unsigned char *p, size_t size, uint64_t seed)
{
	if (size <= 256) {
		for (size_t i = 0; i < size; i++)
			if (p[i] != (unsigned char)(seed + i))
				return false;
		return true;
	}
	for (size_t off = 0; off + 16 <= size; off += PAGE) {
		uint64_t v;
		memcpy(&v, p + off, 8);
		if (v != (seed ^ off))
			return false;
	}
	uint64_t v;
	memcpy(&v, p + size - 8, 8);
	return v == (seed ^ (size - 8));
}

static size_t block_size(struct worker *w)
{
	uint64_t r = next(w);
	if (r % 5 != 0)
		return 1 + (size_t)(r >> 8) % 512; /* mostly small */
	return PAGE + (size_t)(r >> 8) % (MAX_BLOCK - PAGE);
}

static void release(struct worker *w, struct slot *s)
{
	if (!s->p)
		return;
	if (!marked(s->p, s->size, s->seed))
		failed(w, "heap block changed under us", (long long)s->size);
	free(s->p);
	w->count[OP_FREE]++;
	w->bytes[OP_FREE] += (long long)s->size;
	s->p = NULL;
}

static void do_alloc(struct worker *w, int kind)
{
	struct slot *s = &w->slots[next(w) % SLOTS];
	size_t size = block_size(w);
	uint64_t seed = next(w);
	if (kind == OP_REALLOC && s->p) {
		if (!marked(s->p, s->size, s->seed))
			failed(w, "heap block changed before realloc", (long long)s->size);
		size_t keep = size < s->size ? size : s->size;
		unsigned char *q = realloc(s->p, size);
		w->count[OP_REALLOC]++;
		w->bytes[OP_REALLOC] += (long long)size;
		if (!q) {
			failed(w, "realloc", (long long)size);
			return;
		}
		/* The kept prefix must have moved with the block: check the small-block bytes. */
		if (s->size <= 256 && keep > 0 && q[0] != (unsigned char)s->seed)
			failed(w, "realloc lost the contents", (long long)keep);
		s->p = q;
		s->size = size;
		s->seed = seed;
		mark(q, size, seed);
		return;
	}
	release(w, s);
	unsigned char *p;
	if (kind == OP_CALLOC) {
		p = calloc(1, size);
		w->count[OP_CALLOC]++;
		w->bytes[OP_CALLOC] += (long long)size;
		if (p && (p[0] != 0 || p[size - 1] != 0 || p[size / 2] != 0))
			failed(w, "calloc memory not zeroed", (long long)size);
	} else {
		p = malloc(size);
		w->count[OP_MALLOC]++;
		w->bytes[OP_MALLOC] += (long long)size;
	}
	if (!p) {
		failed(w, "allocation", (long long)size);
		return;
	}
	mark(p, size, seed);
	*s = (struct slot){ .p = p, .size = size, .seed = seed };
}

static void check_file_bytes(struct worker *w, const unsigned char *b, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i += 61)
		if (b[i] != file_byte(off + i)) {
			failed(w, "file bytes differ", (long long)(off + i));
			return;
		}
	if (n > 0 && b[n - 1] != file_byte(off + n - 1))
		failed(w, "file bytes differ at the end", (long long)(off + n - 1));
}

static void do_pread(struct worker *w)
{
	size_t off = (size_t)(next(w) % (FILE_SIZE - PAGE));
	ssize_t r = pread(w->file_fd, w->buf, PAGE, (off_t)off);
	w->count[OP_PREAD]++;
	if (r != PAGE) {
		failed(w, "pread", r);
		return;
	}
	w->bytes[OP_PREAD] += r;
	check_file_bytes(w, w->buf, PAGE, off);
}

/* read() on the thread's own descriptor; the offset is known because only this thread moves
 * it. */
static void do_read(struct worker *w, int fd, size_t *pos)
{
	size_t n = 1 + (size_t)(next(w) % PAGE);
	ssize_t r = read(fd, w->buf, n);
	w->count[OP_READ]++;
	size_t want = FILE_SIZE - *pos < n ? FILE_SIZE - *pos : n;
	if (r != (ssize_t)want) {
		failed(w, "read", r);
		return;
	}
	w->bytes[OP_READ] += r;
	check_file_bytes(w, w->buf, (size_t)r, *pos);
	*pos += (size_t)r;
	if (*pos == FILE_SIZE) {
		lseek(fd, 0, SEEK_SET);
		*pos = 0;
	}
}

static void do_send(struct worker *w, const int sv[2])
{
	size_t n = 1 + (size_t)(next(w) % MAX_SEND);
	unsigned char tag = (unsigned char)next(w);
	for (size_t i = 0; i < n; i++)
		w->out[i] = (unsigned char)(tag + i * 3);
	ssize_t r = send(sv[0], w->out, n, 0);
	w->count[OP_SEND]++;
	if (r != (ssize_t)n) {
		failed(w, "send", r);
		return;
	}
	w->bytes[OP_SEND] += r;
	r = recv(sv[1], w->buf, n, MSG_WAITALL);
	w->count[OP_RECV]++;
	w->bytes[OP_RECV] += r > 0 ? r : 0;
	if (r != (ssize_t)n || memcmp(w->buf, w->out, n) != 0)
		failed(w, "recv did not return what was sent", r);
}

static void do_mmap_anon(struct worker *w)
{
	size_t len = PAGE * (1 + (size_t)(next(w) % (MAX_ANON_MAP / PAGE)));
	unsigned char *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->count[OP_MMAP]++;
	if (p == MAP_FAILED) {
		failed(w, "mmap", (long long)len);
		return;
	}
	w->bytes[OP_MMAP] += (long long)len;
	/* Three words (first, middle and last page): each page touched is a page fault, which
	 * is slow in a virtual machine and says nothing more about the shim. */
	uint64_t seed = next(w);
	size_t at[3] = { 0, (len / 2) & ~(size_t)7, len - 8 };
	for (int i = 0; i < 3; i++) {
		uint64_t v;
		memcpy(&v, p + at[i], 8);
		if (v != 0)
			failed(w, "fresh anonymous memory not zeroed", (long long)len);
		v = seed ^ at[i];
		memcpy(p + at[i], &v, 8);
	}
	for (int i = 0; i < 3; i++) {
		uint64_t v;
		memcpy(&v, p + at[i], 8);
		if (v != (seed ^ at[i]))
			failed(w, "anonymous mapping lost a store", (long long)len);
	}
	if (munmap(p, len) != 0)
		failed(w, "munmap", (long long)len);
	w->count[OP_MUNMAP]++;
	w->bytes[OP_MUNMAP] += (long long)len;
}

static void do_mmap_file(struct worker *w, int fd)
{
	size_t off = PAGE * (size_t)(next(w) % ((FILE_SIZE - FILE_MAP_LEN) / PAGE));
	unsigned char *p = mmap(NULL, FILE_MAP_LEN, PROT_READ, MAP_PRIVATE, fd, (off_t)off);
	w->count[OP_MMAP_FILE]++;
	if (p == MAP_FAILED) {
		failed(w, "mmap of the file", (long long)off);
		return;
	}
	w->bytes[OP_MMAP_FILE] += FILE_MAP_LEN;
	check_file_bytes(w, p, FILE_MAP_LEN, off);
	if (munmap(p, FILE_MAP_LEN) != 0)
		failed(w, "munmap of the file", (long long)off);
	w->count[OP_MUNMAP]++;
	w->bytes[OP_MUNMAP] += FILE_MAP_LEN;
}

static long long total_calls(const struct worker *w)
{
	long long n = 0;
	for (int i = 0; i < OP_COUNT; i++)
		n += w->count[i];
	return n;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int sv[2];
	int fd = open(w->path, O_RDONLY);
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		failed(w, "thread setup", fd);
		return NULL;
	}
	size_t pos = 0;
	while (total_calls(w) < w->calls_wanted) {
		unsigned r = (unsigned)(next(w) % 100);
		/* Mostly allocations (user space, where the shim's malloc path matters most);
		 * system calls are slow to share between 8 threads on 2 cores. */
		if (r < 55)
			do_alloc(w, OP_MALLOC);
		else if (r < 68)
			do_alloc(w, OP_CALLOC);
		else if (r < 80)
			do_alloc(w, OP_REALLOC);
		else if (r < 84)
			do_pread(w);
		else if (r < 88)
			do_read(w, fd, &pos);
		else if (r < 94)
			do_send(w, sv);
		else if (r < 98)
			do_mmap_anon(w);
		else
			do_mmap_file(w, fd);
	}
	for (int i = 0; i < SLOTS; i++)
		release(w, &w->slots[i]);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	return NULL;
}

static int make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	static unsigned char chunk[PAGE];
	for (size_t off = 0; off < FILE_SIZE; off += PAGE) {
		for (size_t i = 0; i < PAGE; i++)
			chunk[i] = file_byte(off + i);
		if (write(fd, chunk, PAGE) != PAGE) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: stress [-t THREADS] [-n CALLS-PER-THREAD] DATA-FILE\n");
	return 2;
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
	int fd = make_file(path);
	if (fd < 0) {
		fprintf(stderr, "stress: cannot write %s: %s\n", path, strerror(errno));
		return 2;
	}

	static struct worker workers[MAX_THREADS];
	for (long i = 0; i < threads; i++) {
		struct worker *w = &workers[i];
		w->index = (unsigned)i;
		w->calls_wanted = calls;
		w->file_fd = fd;
		w->path = path;
		w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
		int e = pthread_create(&w->tid, NULL, run, w);
		if (e != 0) {
			fprintf(stderr, "stress: pthread_create: %s\n", strerror(e));
			return 2;
		}
	}

	long long sum[OP_COUNT] = { 0 }, sum_bytes[OP_COUNT] = { 0 }, total = 0;
	long failures = 0;
	for (long i = 0; i < threads; i++) {
		struct worker *w = &workers[i];
		pthread_join(w->tid, NULL);
		for (int k = 0; k < OP_COUNT; k++) {
			sum[k] += w->count[k];
			sum_bytes[k] += w->bytes[k];
		}
		total += total_calls(w);
		failures += w->failures;
		if (w->failures)
			fprintf(stderr, "stress: thread %u: %ld failures, first: %s\n", w->index,
			        w->failures, w->first_failure);
	}
	close(fd);

	/* Every thread made at least its share, and the calls add up. */
	if (total < threads * calls) {
		fprintf(stderr, "stress: %lld calls, fewer than %ld\n", total, threads * calls);
		failures++;
	}
	/* One line per operation, "op CALLS BYTES", for the runner to hold the trace to. */
	printf("stress: %ld threads x %ld calls: %lld calls, all verified\n", threads, calls,
	       total);
	for (int k = 0; k < OP_COUNT; k++)
		printf("op %s %lld %lld\n", op_names[k], sum[k], sum_bytes[k]);
	if (failures)
		printf("stress: %ld failures\n", failures);
	return failures ? 1 : 0;
}
