/* obs_bench.c: what the event log costs. Runs itself twice under libmlchaos.so with a rule
 * that fails every pread of a file, 100,000 times: once with [mlchaos] log set, once without,
 * and prints events per second and nanoseconds per fault for both. Checks that the log holds
 * exactly one line per fault. Never run under a sanitizer (its figures would be theirs).
 *
 *   obs_bench --lib LIBMLCHAOS [--faults N]       (the parent)
 *   obs_bench --child FILE N                      (preloaded; prints "SECONDS FAILED") */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_FAULTS 100000L

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int child(const char *file, long n)
{
	char buf[64];
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 3;
	long failed = 0;
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		if (pread(fd, buf, sizeof(buf), 0) < 0 && errno == EIO)
			failed++;
	double dt = now_s() - t0;
	close(fd);
	printf("%.9f %ld\n", dt, failed);
	return 0;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Runs the child preloaded with config cfg; returns its elapsed seconds, or < 0. */
static double run(const char *lib, const char *cfg, const char *data, long n)
{
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char count[32];
		snprintf(count, sizeof(count), "%ld", n);
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		setenv("LD_PRELOAD", lib, 1);
		setenv("MLCHAOS_CONFIG", cfg, 1);
		execl("/proc/self/exe", "obs_bench", "--child", data, count, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	char out[128] = { 0 };
	ssize_t got = pid > 0 ? read(pipefd[0], out, sizeof(out) - 1) : -1;
	close(pipefd[0]);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got <= 0)
		return -1;
	double secs;
	long failed;
	if (sscanf(out, "%lf %ld", &secs, &failed) != 2 || failed != n) {
		fprintf(stderr, "obs_bench: the child saw %s (expected %ld failures)\n", out, n);
		return -1;
	}
	return secs;
}

/* The fault lines of the log (the process's "rules" line aside) and the log's size. */
static long count_fault_lines(const char *path, long *ret_bytes)
{
	FILE *f = fopen(path, "r");
	long lines = 0, bytes = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	if (!f)
		return -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		bytes += len;
		lines += strstr(line, "\"event\":\"fault\"") != NULL;
	}
	free(line);
	fclose(f);
	*ret_bytes = bytes;
	return lines;
}

static int parent(const char *lib, long n)
{
	char dir[] = "/tmp/mlchaos-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	char data[256], on[256], off[256], log[256], text[1024];
	snprintf(data, sizeof(data), "%s/bench.dat", dir);
	snprintf(on, sizeof(on), "%s/on.ini", dir);
	snprintf(off, sizeof(off), "%s/off.ini", dir);
	snprintf(log, sizeof(log), "%s/events.jsonl", dir);
	const char *rule = "[fault.bench]\nhook = read\naction = fail\nerrno = EIO\n"
	                   "path = */bench.dat\nrate = 100%\nselect = call\n";
	snprintf(text, sizeof(text), "[mlchaos]\nlog = %s\n\n%s", log, rule);
	int r =
	    write_file(data, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	r = r ? r : write_file(on, text);
	snprintf(text, sizeof(text), "[mlchaos]\n\n%s", rule);
	r = r ? r : write_file(off, text);
	double t_off = r ? -1 : run(lib, off, data, n);
	double t_on = t_off < 0 ? -1 : run(lib, on, data, n);
	long bytes = 0, lines = t_on < 0 ? -1 : count_fault_lines(log, &bytes);
	int status = 0;
	if (t_on < 0 || t_off < 0) {
		fprintf(stderr, "obs_bench: a run failed\n");
		status = 1;
	} else if (lines != n) {
		fprintf(stderr, "obs_bench: the log has %ld fault lines for %ld faults\n", lines,
		        n);
		status = 1;
	} else {
		printf("observe-log-rate: %ld injected faults (pread, fail EIO)\n", n);
		printf("  logging on:  %.0f events/s, %.0f ns per fault (log %ld lines, %.1f MB)\n",
		       (double)n / t_on, t_on / (double)n * 1e9, lines, (double)bytes / 1e6);
		printf("  logging off: %.0f faults/s, %.0f ns per fault\n", (double)n / t_off,
		       t_off / (double)n * 1e9);
		printf("  the log costs %.0f ns per event\n", (t_on - t_off) / (double)n * 1e9);
	}
	unlink(data);
	unlink(on);
	unlink(off);
	unlink(log);
	rmdir(dir);
	return status;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child(argv[2], atol(argv[3]));
	long n = DEFAULT_FAULTS;
	if (argc == 5 && strcmp(argv[3], "--faults") == 0)
		n = atol(argv[4]);
	else if (argc != 3)
		n = 0;
	if (n > 0 && strcmp(argv[1], "--lib") == 0)
		return parent(argv[2], n);
	fputs("usage: obs_bench --lib LIBMLCHAOS [--faults N]\n", stderr);
	return 2;
}
