/* ft_target.c: which calls a rule acts on, through the real library: after/times (exact, per
 * process), start/duration windows, process globs (comm or argv[0]), min_size/max_size, port,
 * zero-length calls, enabled = false. The children print what each call saw; the parent holds
 * the expectations. Only time windows depend on the clock: a call is judged only when the
 * clock readings around it place it before, inside or after the window for sure. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ft.h"

#define DATA_SIZE 4096

static int open_data(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", dir);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		ft_note("cannot open %s: %s", path, strerror(errno));
		exit(2);
	}
	return fd;
}

/* N preads of SIZE bytes: "F" for each that failed with EIO, "." for each that read SIZE. */
static void preads(int fd, long n, long size, char *out)
{
	static char buf[DATA_SIZE];
	for (long i = 0; i < n; i++) {
		errno = 0;
		ssize_t r = pread(fd, buf, (size_t)size, 0);
		out[i] = r == -1 && errno == EIO ? 'F' : r == size ? '.' : '?';
	}
	out[n] = '\0';
}

/* child: DIR N SIZE [fork]: prints the outcome of N preads ("calls FF..."); with fork, a
 * forked child then does the same and prints "forked ...". */
static void child_calls(int argc, char **argv)
{
	static char out[1024];
	long n = (long)ft_arg_ll(argc, argv, 2), size = (long)ft_arg_ll(argc, argv, 3);
	if (n >= (long)sizeof(out) || size > DATA_SIZE)
		exit(2);
	int fd = open_data(argv[1]);
	preads(fd, n, size, out);
	printf("calls %s\n", out);
	fflush(stdout);
	if (argc > 4 && strcmp(argv[4], "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			preads(fd, n, size, out);
			printf("forked %s\n", out);
			fflush(stdout);
			_exit(0);
		}
		int status;
		FT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	}
	close(fd);
}

struct hammer {
	int fd;
	long calls, failed;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	char buf[64];
	for (long i = 0; i < h->calls; i++)
		if (pread(h->fd, buf, sizeof(buf), 0) < 0)
			h->failed++;
	return NULL;
}

/* child: DIR THREADS CALLS: THREADS threads make CALLS preads each at once; prints "failed N"
 * (all threads together). */
static void child_threads(int argc, char **argv)
{
	struct hammer h[16];
	pthread_t t[16];
	long nt = (long)ft_arg_ll(argc, argv, 2), calls = (long)ft_arg_ll(argc, argv, 3);
	if (nt < 1 || nt > 16)
		exit(2);
	int fd = open_data(argv[1]);
	for (long i = 0; i < nt; i++) {
		h[i] = (struct hammer){ .fd = fd, .calls = calls };
		pthread_create(&t[i], NULL, hammer_thread, &h[i]);
	}
	long failed = 0;
	for (long i = 0; i < nt; i++) {
		pthread_join(t[i], NULL);
		failed += h[i].failed;
	}
	printf("failed %ld\n", failed);
	close(fd);
}

/* child: DIR MS: a pread every 5 ms for MS milliseconds. Prints "start T0", then for each
 * call "BEFORE AFTER F|.": CLOCK_MONOTONIC in ns (the library's clock too) around it. */
static void child_timeline(int argc, char **argv)
{
	long ms = (long)ft_arg_ll(argc, argv, 2);
	int fd = open_data(argv[1]);
	uint64_t t0 = ft_now_ns();
	char buf[64];
	printf("start %llu\n", (unsigned long long)t0);
	for (int i = 0; i < 10000; i++) {
		uint64_t before = ft_now_ns();
		if (before - t0 > (uint64_t)ms * 1000000u)
			break;
		errno = 0;
		ssize_t r = pread(fd, buf, sizeof(buf), 0);
		uint64_t after = ft_now_ns();
		printf("%llu %llu %c\n", (unsigned long long)before, (unsigned long long)after,
		       r == -1 ? 'F' : '.');
		struct timespec pause = { 0, 5000000 };
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
	}
	close(fd);
}

/* child: LFD PORT: on TCP connections through the inherited listener LFD (PORT, the rule's
 * port) both ends' reads fail; through a listener of our own, they do not. */
static void child_port(int argc, char **argv)
{
	int lfd = (int)ft_arg_ll(argc, argv, 1), port = (int)ft_arg_ll(argc, argv, 2);
	int other_port, other_lfd = ft_listen_tcp(&other_port);
	char buf[16];
	int c, s;
	ft_tcp_pair(lfd, port, &c, &s);
	FT_EQ(send(c, "x", 1, 0), 1);
	FT_EQ(send(s, "y", 1, 0), 1);
	errno = 0;
	FT_ERRNO(recv(s, buf, sizeof(buf), 0), -1, EIO);
	errno = 0;
	FT_ERRNO(recv(c, buf, sizeof(buf), 0), -1, EIO);
	close(c);
	close(s);
	ft_tcp_pair(other_lfd, other_port, &c, &s);
	FT_EQ(send(c, "x", 1, 0), 1);
	FT_EQ(send(s, "y", 1, 0), 1);
	FT_EQ(recv(s, buf, sizeof(buf), 0), 1);
	FT_EQ(recv(c, buf, sizeof(buf), 0), 1);
	close(c);
	close(s);
	close(other_lfd);
}

/* child: DIR: zero-length calls pass untouched by fail rules on every family that moves
 * bytes; the same calls with one byte fail. */
static void child_zero(int argc, char **argv)
{
	(void)argc;
	char buf[16] = { 0 }, path[4096];
	int fd = open_data(argv[1]);
	int sv[2], eof[2]; /* eof: a socket whose peer is gone, so a read never blocks */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, eof) != 0)
		exit(2);
	close(eof[1]);
	snprintf(path, sizeof(path), "%s/out.bin", argv[1]);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	errno = EBADF; /* a zero-length call leaves errno as it was */
	FT_EQ(read(fd, buf, 0), 0);
	FT_EQ(pread(fd, buf, 0, 0), 0);
	FT_EQ(recv(eof[0], buf, 0, 0), 0);
	FT_EQ(write(out, buf, 0), 0);
	FT_EQ(send(sv[1], buf, 0, 0), 0);
	FT_EQ(errno, EBADF);
	errno = 0;
	FT_ERRNO(read(fd, buf, 1), -1, EIO);
	errno = 0;
	FT_ERRNO(recv(eof[0], buf, 1, 0), -1, EIO);
	errno = 0;
	FT_ERRNO(write(out, buf, 1), -1, ENOSPC);
	errno = 0;
	FT_ERRNO(send(sv[1], buf, 1, 0), -1, ECONNRESET);
	close(fd);
	close(out);
	close(sv[0]);
	close(sv[1]);
	close(eof[0]);
}

/* child: DIR: the rule follows the file, not the fd number: dup'ed fds of data.bin fail,
 * other.bin opened on a number data.bin used before reads fine, and so on. */
static void child_fd_reuse(int argc, char **argv)
{
	(void)argc;
	char buf[64], other[4096];
	snprintf(other, sizeof(other), "%s/other.bin", argv[1]);
	int fd = open_data(argv[1]);
	errno = 0;
	FT_ERRNO(read(fd, buf, sizeof(buf)), -1, EIO);
	int copy = dup(fd), high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	errno = 0;
	FT_ERRNO(pread(copy, buf, sizeof(buf), 0), -1, EIO);
	errno = 0;
	FT_ERRNO(pread(high, buf, sizeof(buf), 0), -1, EIO);
	close(fd);
	close(copy);
	close(high);
	int ofd = open(other, O_RDONLY); /* takes the lowest free number: fd's */
	FT_EQ(ofd, fd);
	FT_EQ(pread(ofd, buf, sizeof(buf), 0), sizeof(buf));
	FILE *f = fopen(other, "r");
	FT_EQ(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	fclose(f);
	/* dup2 of data.bin onto other.bin's number: now it fails */
	int dfd = open_data(argv[1]);
	FT_EQ(dup2(dfd, ofd), ofd);
	errno = 0;
	FT_ERRNO(pread(ofd, buf, sizeof(buf), 0), -1, EIO);
	close(dfd);
	close(ofd);
	/* a socket on a number a file used reads fine */
	int sv[2];
	fd = open_data(argv[1]);
	close(fd);
	FT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	FT_EQ(sv[0], fd);
	FT_EQ(write(sv[1], "abc", 3), 3);
	FT_EQ(read(sv[0], buf, sizeof(buf)), 3);
	close(sv[0]);
	close(sv[1]);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

/* The line of out that starts with "word ", without it (static buffer), or "". */
static const char *line_of(const char *out, const char *word)
{
	static char line[1024];
	size_t wl = strlen(word);
	line[0] = '\0';
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, word, wl) == 0 && l[wl] == ' ') {
			const char *end = strchr(l, '\n');
			size_t n = end ? (size_t)(end - l - (long)wl - 1) : strlen(l + wl + 1);
			if (n >= sizeof(line))
				n = sizeof(line) - 1;
			memcpy(line, l + wl + 1, n);
			line[n] = '\0';
			break;
		}
	}
	return line;
}

static const char fail_rule[] = "[fault.eio]\nhook = read\naction = fail\npath = */data.bin\n";

/* Runs `calls` under a config made of head + fail_rule + tail; checks the outcome string. */
static void expect_calls(const char *argv0, const char *head, const char *tail, const char *n,
                         const char *size, const char *want)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	struct ft_run r = { .how = FT_PRELOAD, .argv0 = argv0 };
	r.config = ft_config("c.ini", "%s%s%s", head, fail_rule, tail);
	ft_run(&r, "calls", ft_dir(), n, size, NULL);
	FT_RUN_OK(&r);
	const char *got = line_of(r.out, "calls");
	FT_CHECKF(strcmp(got, want) == 0, "config:\n%s%s%scalls: %s\nexpected: %s", head, fail_rule,
	          tail, got, want);
	ft_run_free(&r);
}

static void test_after_times(void)
{
	expect_calls(NULL, "", "after = 5\ntimes = 3\n", "20", "64", ".....FFF............");
	expect_calls(NULL, "", "times = 4\n", "10", "64", "FFFF......");
	expect_calls(NULL, "", "after = 7\n", "10", "64", ".......FFF");
	/* max_faults: all rules together */
	expect_calls(NULL, "[mlchaos]\nmax_faults = 4\n", "", "10", "64", "FFFF......");
}

/* after and times count per process: a forked child starts its own count. */
static void test_after_times_fork(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "%safter = 2\ntimes = 2\n", fail_rule);
	ft_run(&r, "calls", ft_dir(), "6", "64", "fork", NULL);
	FT_RUN_OK(&r);
	FT_CHECKF(strcmp(line_of(r.out, "calls"), "..FF..") == 0, "parent: %s",
	          line_of(r.out, "calls"));
	FT_CHECKF(strcmp(line_of(r.out, "forked"), "..FF..") == 0, "forked child: %s",
	          line_of(r.out, "forked"));
	ft_run_free(&r);
}

/* times and after are exact when threads race for them. */
static void test_times_threads(void)
{
	static const struct {
		const char *rule, *want;
	} cases[] = {
		{ "times = 1000\n", "1000" },
		{ "after = 3000\ntimes = 500\n", "500" },
		{ "after = 19000\n", "1000" },
	};
	ft_pattern_file("data.bin", DATA_SIZE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ft_run r = { .how = FT_PRELOAD };
		r.config = ft_config("c.ini", "%s%s", fail_rule, cases[i].rule);
		ft_run(&r, "threads", ft_dir(), "4", "5000", NULL);
		FT_RUN_OK(&r);
		FT_CHECKF(strcmp(line_of(r.out, "failed"), cases[i].want) == 0,
		          "%s: 4 threads x 5000 calls: %s failed, expected %s", cases[i].rule,
		          line_of(r.out, "failed"), cases[i].want);
		ft_run_free(&r);
	}
}

/* One run of the window test; false when it judged too few calls to say anything (a machine
 * so busy that starting the process took most of the window): the caller runs it again. */
static bool window_run(int attempt)
{
	enum { START_MS = 500, END_MS = 1000, RUN_MS = 1400 };
	const uint64_t ms = 1000000;
	struct ft_run r = { .how = FT_PRELOAD };
	char name[32];
	snprintf(name, sizeof(name), "c%d.ini", attempt);
	r.config = ft_config(name, "%sstart = %dms\nduration = %dms\n", fail_rule, START_MS,
	                     END_MS - START_MS);
	/* The window is timed from the library's start S, which lies between this reading
	 * (before the fork) and the child's first one (in main, after the constructors). */
	uint64_t s_lo = ft_now_ns(), s_hi = 0;
	char run_ms[16];
	snprintf(run_ms, sizeof(run_ms), "%d", RUN_MS);
	ft_run(&r, "timeline", ft_dir(), run_ms, NULL);
	FT_RUN_OK(&r);
	int early = 0, inside = 0, late = 0, unsure = 0, bad = 0;
	char first_bad[160] = "";
	for (const char *l = r.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long long before, after;
		char what;
		if (sscanf(l, "start %llu", &before) == 1) {
			s_hi = before;
			continue;
		}
		if (sscanf(l, "%llu %llu %c", &before, &after, &what) != 3 || !s_hi)
			continue;
		/* the call happened, by the library's clock, between lo and hi after S */
		uint64_t lo = before - s_hi, hi = after - s_lo;
		bool failed = what == 'F', wrong;
		if (hi < START_MS * ms) {
			early++;
			wrong = failed;
		} else if (lo >= START_MS * ms && hi < END_MS * ms) {
			inside++;
			wrong = !failed;
		} else if (lo >= END_MS * ms) {
			late++;
			wrong = failed;
		} else {
			unsure++;
			continue;
		}
		if (wrong && bad++ == 0)
			snprintf(first_bad, sizeof(first_bad), "%s between %.1f and %.1f ms",
			         failed ? "failed" : "passed", (double)lo / 1e6, (double)hi / 1e6);
	}
	ft_run_free(&r);
	FT_CHECKF(bad == 0,
	          "%d calls wrong (outside %d..%d ms failed or inside passed), the first %s", bad,
	          START_MS, END_MS, first_bad);
	if (bad || (early > 0 && inside > 0 && late > 0))
		return true;
	ft_note("window: too few calls placed for sure (%d before, %d inside, %d after, %d "
	        "unsure; the library started within %.1f ms before main): again",
	        early, inside, late, unsure, (double)(s_hi - s_lo) / 1e6);
	return false;
}

static void test_window(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	int attempt = 0;
	while (!window_run(attempt) && ++attempt < 5)
		;
	FT_CHECKF(attempt < 5, "window: 5 runs, none placed calls before, inside and after it");
}

static void test_process(void)
{
	/* comm is the executable's name, ft_target */
	expect_calls(NULL, "", "process = ft_targ*\n", "3", "64", "FFF");
	expect_calls(NULL, "", "process = gunicorn*\n", "3", "64", "...");
	/* or the basename of argv[0], whatever the executable is called */
	expect_calls("/opt/bin/gunicorn-worker", "", "process = gunicorn*\n", "3", "64", "FFF");
	expect_calls("/opt/bin/gunicorn-worker", "", "process = uvicorn*\n", "3", "64", "...");
}

static void test_sizes(void)
{
	/* both bounds included */
	static const struct {
		const char *size, *want;
	} cases[] = {
		{ "99", ".." }, { "100", "FF" }, { "300", "FF" }, { "500", "FF" }, { "501", ".." },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_calls(NULL, "", "min_size = 100\nmax_size = 500\n", "2", cases[i].size,
		             cases[i].want);
	expect_calls(NULL, "", "min_size = 1KiB\n", "2", "1023", "..");
	expect_calls(NULL, "", "min_size = 1KiB\n", "2", "1024", "FF");
}

/* enabled = false, a rate of 0, shadow rules: nothing is injected. */
static void test_enabled_false(void)
{
	expect_calls(NULL, "[mlchaos]\nenabled = false\n", "", "5", "64", ".....");
	expect_calls(NULL, "[mlchaos]\nenabled = true\n", "", "5", "64", "FFFFF");
	expect_calls(NULL, "", "rate = 0%\nselect = call\n", "5", "64", ".....");
	/* shadow: decided, never injected */
	expect_calls(NULL, "", "shadow = true\n", "5", "64", ".....");
	expect_calls(NULL, "[mlchaos]\nshadow = true\n", "", "5", "64", ".....");
}

static void test_port(void)
{
	int port, lfd = ft_listen_tcp(&port);
	char lfd_s[16], port_s[16];
	snprintf(lfd_s, sizeof(lfd_s), "%d", lfd);
	snprintf(port_s, sizeof(port_s), "%d", port);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.svc]\nhook = read\naction = fail\nport = %d\n", port);
	ft_run(&r, "port", lfd_s, port_s, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
	close(lfd);
}

static void test_fd_reuse(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	ft_pattern_file("other.bin", DATA_SIZE);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "%s", fail_rule);
	ft_run(&r, "fd-reuse", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_zero_length(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.r]\nhook = read\naction = fail\n"
	                              "[fault.w]\nhook = write\naction = fail\npath = */out.bin\n"
	                              "[fault.s]\nhook = send\naction = fail\n");
	ft_run(&r, "zero", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "calls", child_calls },
		{ "timeline", child_timeline },
		{ "threads", child_threads },
		{ "port", child_port },
		{ "zero", child_zero },
		{ "fd-reuse", child_fd_reuse },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "after-times", test_after_times },
		{ "after-times-fork", test_after_times_fork },
		{ "times-threads", test_times_threads },
		{ "window", test_window },
		{ "process", test_process },
		{ "sizes", test_sizes },
		{ "enabled-false", test_enabled_false },
		{ "port", test_port },
		{ "zero-length", test_zero_length },
		{ "fd-reuse", test_fd_reuse },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
