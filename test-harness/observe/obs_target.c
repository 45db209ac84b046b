/* obs_target.c: the process the observe tests run under libmlchaos.so. It makes hooked calls
 * (read of data files, malloc of a marker size, usleep) from several threads, counts the
 * faults it sees, prints them as one JSON line on stdout, and stays alive until its stdin
 * closes, so that the test can read its segment. Never decides anything by timing.
 *
 *   obs_target loops THREADS ITERS FILE...   each thread ITERS rounds: read each FILE,
 *                                            malloc(777), usleep(1); then "done {...}"
 *   obs_target busy THREADS PAUSE_US FILE... each thread reads each FILE in turn, then
 *                                            sleeps PAUSE_US, until stdin closes
 * Output: "ready\n" once the threads run (busy), "done {json}\n" with the counts. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS  64
#define MAX_FILES    4
#define MARKER_BYTES 777 /* the malloc rules of the tests match this size only */

struct counts {
	_Atomic unsigned long long reads, read_fail, read_eintr, mallocs, malloc_fail, sleeps;
	_Atomic unsigned long long short_reads;
};

static struct counts counts;
static atomic_bool stop;
static const char *files[MAX_FILES];
static int n_files;
static long iterations;
static long pause_us;

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(3);
		s += w;
		n -= (size_t)w;
	}
}

static void read_one(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "obs_target: open %s: %s\n", path, strerror(errno));
		exit(3);
	}
	ssize_t r = read(fd, buf, sizeof(buf));
	atomic_fetch_add(&counts.reads, 1);
	if (r < 0 && errno == EINTR)
		atomic_fetch_add(&counts.read_eintr, 1);
	else if (r < 0)
		atomic_fetch_add(&counts.read_fail, 1);
	else if ((size_t)r < sizeof(buf))
		atomic_fetch_add(&counts.short_reads, 1);
	close(fd);
}

static void round_of_loops(void)
{
	for (int f = 0; f < n_files; f++)
		read_one(files[f]);
	char *p = malloc(MARKER_BYTES);
	atomic_fetch_add(&counts.mallocs, 1);
	if (!p)
		atomic_fetch_add(&counts.malloc_fail, 1);
	else
		p[0] = 1; /* keep the pair from being folded away */
	free(p);
	usleep(1);
	atomic_fetch_add(&counts.sleeps, 1);
}

static void *loops_thread(void *arg)
{
	(void)arg;
	for (long i = 0; i < iterations; i++)
		round_of_loops();
	return NULL;
}

static void *busy_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int f = 0; f < n_files; f++)
			read_one(files[f]);
		if (pause_us) {
			struct timespec ts = { 0, pause_us * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void print_counts(double seconds)
{
	char line[512];
	snprintf(line, sizeof(line),
	         "done {\"reads\": %llu, \"read_fail\": %llu, \"read_eintr\": %llu, "
	         "\"short_reads\": %llu, \"mallocs\": %llu, \"malloc_fail\": %llu, "
	         "\"sleeps\": %llu, \"seconds\": %.6f}\n",
	         counts.reads, counts.read_fail, counts.read_eintr, counts.short_reads,
	         counts.mallocs, counts.malloc_fail, counts.sleeps, seconds);
	say(line);
}

/* Blocks until stdin reaches end of file (the test closes it). */
static void wait_stdin_eof(void)
{
	char c;
	ssize_t r;
	while ((r = read(STDIN_FILENO, &c, 1)) != 0)
		if (r < 0 && errno != EINTR)
			break;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fputs("usage: obs_target loops THREADS ITERS FILE... | busy THREADS PAUSE_US FILE...\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	bool busy = strcmp(argv[1], "busy") == 0;
	if (!busy && strcmp(argv[1], "loops") != 0)
		return usage();
	int threads = atoi(argv[2]);
	long n = atol(argv[3]);
	if (threads < 1 || threads > MAX_THREADS || n < 0 || argc - 4 > MAX_FILES)
		return usage();
	iterations = n;
	pause_us = n;
	for (int i = 4; i < argc; i++)
		files[n_files++] = argv[i];
	pthread_t tid[MAX_THREADS];
	double t0 = now_s();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, busy ? busy_thread : loops_thread, NULL) != 0)
			return 3;
	if (busy) {
		say("ready\n");
		wait_stdin_eof();
		atomic_store(&stop, true);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	print_counts(now_s() - t0);
	if (!busy)
		wait_stdin_eof();
	return 0;
}
