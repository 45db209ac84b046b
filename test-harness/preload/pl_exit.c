/* pl_exit.c: reads data.bin, then ends the way argv[2] says: return from main, exit, _exit,
 * _Exit, death by SIGTERM or SIGINT (default action: alone, both pending at once, or SIGTERM
 * again and again), exit() or _exit() from a SIGTERM handler. The trace must report its rows
 * on every one of these. */
#include "pl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void on_term_exit(int sig)
{
	(void)sig;
	exit(0); /* not async-signal-safe, and yet what many servers do */
}

static void on_term__exit(int sig)
{
	(void)sig;
	_exit(0);
}

static void handle(void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	PL_EQ(sigaction(SIGTERM, &sa, NULL), 0);
}

/* The state letter of /proc/PID/stat ('R', 'S', ...), or 0 when pid is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* In the child: the second SIGTERM, sent while the parent is asleep writing its report into
 * the full pipe that is its stderr; then the pipe is drained into the real stderr. */
static void second_sigterm(pid_t parent, int rd, int wr, int real_err)
{
	pl_forked_child();
	pl_orphan();
	int status = pl_finish(); /* its "proc" line: it is traced too */
	/* Fill the pipe with blocking writes of exactly its capacity: O_NONBLOCK would be
	 * shared with the parent's descriptor (one open file description). */
	static const char fill[4096];
	int cap = fcntl(wr, F_GETPIPE_SZ);
	size_t filled = 0;
	while (cap > 0 && filled < (size_t)cap) {
		size_t want =
		    (size_t)cap - filled < sizeof(fill) ? (size_t)cap - filled : sizeof(fill);
		ssize_t w = write(wr, fill, want);
		if (w <= 0)
			break;
		filled += (size_t)w;
	}
	char junk[4096];
	close(wr);
	kill(parent, SIGTERM); /* the first one: the parent lets it in, and reports */
	/* Without the shim the parent dies at once; with it, it sleeps in write(2). */
	char st;
	while ((st = proc_state(parent)) != 0 && st != 'S' && st != 'Z' && getppid() == parent)
		sched_yield();
	if (st == 'S')
		kill(parent, SIGTERM);
	/* The filler first, then what the parent wrote, which goes to the real stderr. */
	ssize_t n;
	while (filled > 0 &&
	       (n = read(rd, junk, filled < sizeof(junk) ? filled : sizeof(junk))) > 0)
		filled -= (size_t)n;
	while ((n = read(rd, junk, sizeof(junk))) > 0)
		(void)!write(real_err, junk, (size_t)n);
	_exit(status);
}

/* SIGTERM again while the first one is handled (a supervisor and `mlchaos trace`, which
 * forwards what it gets, both stop a server): the report must still be written in full, and
 * the process die by SIGTERM. Made deterministic by a full pipe on stderr, which holds the
 * report's first write until a child has sent the second signal. */
static void sigterm_repeated(void)
{
	sigset_t term, pending;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	int p[2];
	int real_err = dup(STDERR_FILENO);
	if (pipe(p) != 0 || real_err < 0)
		return;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0)
		second_sigterm(parent, p[0], p[1], real_err);
	dup2(p[1], STDERR_FILENO);
	close(p[0]);
	close(p[1]);
	close(real_err);
	do
		sigpending(&pending);
	while (!sigismember(&pending, SIGTERM));
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	pl_init(argc, argv, "pl_exit");
	const char *mode = argc > 2 ? argv[2] : "return";
	const char *data = pl_path("data.bin");
	unsigned char buf[4096];
	int fd = open(data, O_RDONLY);
	for (int i = 0; i < 3; i++) {
		ssize_t r = read(fd, buf, sizeof(buf));
		PL_EQ(r, sizeof(buf));
		PL_CHECK(pl_pattern_ok(buf, sizeof(buf), (size_t)i * sizeof(buf)));
		pl_rec_file("read", data, r);
	}
	close(fd);
	pl_say("ending by %s", mode);
	int status = pl_finish();
	if (status != 0 || strcmp(mode, "return") == 0)
		return status;
	if (strcmp(mode, "exit") == 0)
		exit(0);
	if (strcmp(mode, "_exit") == 0)
		_exit(0);
	if (strcmp(mode, "_Exit") == 0)
		_Exit(0);
	if (strcmp(mode, "sigterm") == 0)
		raise(SIGTERM);
	if (strcmp(mode, "sigint") == 0)
		raise(SIGINT);
	if (strcmp(mode, "sigterm-handler-exit") == 0) {
		handle(on_term_exit);
		raise(SIGTERM);
	}
	if (strcmp(mode, "sigint-and-sigterm") == 0) {
		/* Both pending at once, as when a supervisor and a terminal both stop a server:
		 * the report must survive the second signal arriving during the first one's. */
		sigset_t both;
		sigemptyset(&both);
		sigaddset(&both, SIGINT);
		sigaddset(&both, SIGTERM);
		sigprocmask(SIG_BLOCK, &both, NULL);
		raise(SIGINT);
		raise(SIGTERM);
		sigprocmask(SIG_UNBLOCK, &both, NULL);
	}
	if (strcmp(mode, "sigterm-repeated") == 0)
		sigterm_repeated();
	if (strcmp(mode, "sigterm-handler-_exit") == 0) {
		handle(on_term__exit);
		raise(SIGTERM);
	}
	pl_fail(__FILE__, __LINE__, "unknown or failed ending '%s'", mode);
	return 2;
}
