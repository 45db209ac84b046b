/* hd_host.c: a host process for the library's own faults (hd_faults.py). It reads a data file
 * under rules that fail those reads, counts what it sees, and takes commands on stdin, so the
 * runner can act on the library (delete its config, ask a reload, read its segment) while it
 * lives. It must keep working whatever happens to the library's log, segment or config.
 *
 *   hd-host serve DATA        lines on stdin: "work N" (N reads, prints "seen EIO OTHER OK"),
 *                             "exit"; prints "ready PID" before each command
 *   hd-host fork DATA K M     a thread reads (and logs faults) without pause while the main
 *                             thread forks K children; each child reads M times and exits 0
 *                             when it saw M faults; prints "children K ok N"
 *   hd-host exec DATA keep|clean  reads, then execs itself as "probe", with LD_PRELOAD kept or
 *                             removed from the environment
 *   hd-host probe DATA        prints whether the library is mapped and what reads see
 * Exit 0 done, 1 a check failed, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES 64

struct seen {
	long eio, other, ok;
};

/* One open + read + close of the data file; the read is what the rules fail. */
static void one_read(const char *path, struct seen *s)
{
	char buf[READ_BYTES];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->other++;
		return;
	}
	ssize_t r = read(fd, buf, sizeof(buf));
	if (r < 0 && errno == EIO)
		s->eio++;
	else if (r < 0)
		s->other++;
	else
		s->ok++;
	close(fd);
}

static int usage(void)
{
	fprintf(stderr, "usage: hd-host serve DATA | fork DATA K M | exec DATA keep|clean | "
	                "probe DATA\n");
	return 2;
}

static int serve(const char *path)
{
	char line[128];
	for (;;) {
		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 0; /* stdin closed: done */
		long n;
		if (strcmp(line, "exit\n") == 0)
			return 0;
		if (sscanf(line, "work %ld", &n) != 1 || n < 0) {
			fprintf(stderr, "hd-host: unknown command: %s", line);
			return 2;
		}
		struct seen s = { 0 };
		for (long i = 0; i < n; i++)
			one_read(path, &s);
		printf("seen %ld %ld %ld\n", s.eio, s.other, s.ok);
	}
}

static atomic_bool stop_reader;

static void *reader(void *arg)
{
	const char *path = arg;
	struct seen s = { 0 };
	while (!atomic_load(&stop_reader)) {
		one_read(path, &s);
		free(malloc(3000)); /* the malloc hook's slow path, too */
	}
	return NULL;
}

static int child(const char *path, long m)
{
	struct seen s = { 0 };
	for (long i = 0; i < m; i++)
		one_read(path, &s);
	/* _exit: no stdio flush of the parent's buffers, as a forked worker would leave. */
	_exit(s.eio == m && s.other == 0 ? 0 : 1);
}

static int fork_while_logging(const char *path, long k, long m)
{
	pthread_t t;
	if (pthread_create(&t, NULL, reader, (void *)path) != 0)
		return 1;
	long ok = 0;
	for (long i = 0; i < k; i++) {
		struct timespec gap = { 0, 2 * 1000 * 1000 };
		nanosleep(&gap, NULL);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0)
			child(path, m);
		int status;
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
		else
			fprintf(stderr, "hd-host: child %ld (pid %d) failed: status %#x\n", i,
			        (int)pid, pid > 0 ? status : -1);
		printf("child %ld\n", (long)pid);
	}
	atomic_store(&stop_reader, true);
	pthread_join(t, NULL);
	printf("children %ld ok %ld\n", k, ok);
	return ok == k ? 0 : 1;
}

static int exec_probe(const char *self, const char *path, bool keep)
{
	struct seen s = { 0 };
	for (int i = 0; i < 20; i++)
		one_read(path, &s);
	printf("before exec: seen %ld %ld %ld\n", s.eio, s.other, s.ok);
	fflush(stdout);
	if (!keep)
		unsetenv("LD_PRELOAD");
	execl(self, self, "probe", path, (char *)NULL);
	fprintf(stderr, "hd-host: exec %s: %s\n", self, strerror(errno));
	return 1;
}

static bool library_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;
	while (f && fgets(line, sizeof(line), f))
		found = found || strstr(line, "libmlchaos") != NULL;
	if (f)
		fclose(f);
	return found;
}

static int probe(const char *path)
{
	struct seen s = { 0 };
	for (int i = 0; i < 20; i++)
		one_read(path, &s);
	printf("probe: library %s, seen %ld %ld %ld\n", library_mapped() ? "mapped" : "absent",
	       s.eio, s.other, s.ok);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 5 && strcmp(argv[1], "fork") == 0)
		return fork_while_logging(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 4 && strcmp(argv[1], "exec") == 0)
		return exec_probe("/proc/self/exe", argv[2], strcmp(argv[3], "keep") == 0);
	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2]);
	return usage();
}
