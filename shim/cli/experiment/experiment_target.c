/* experiment_target.c: the target (own process group, under the library, probed, signalled,
 * stopped), the run's clock and its interruption. Stopping never leaves a process of the run
 * alive: mlchaos is the subreaper of everything the target starts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "experiment.h"
#include "launch.h"
#include "load.h"
#include "outfile.h"
#include "preload.h"

#define READY_POLL_NS    20000000ull /* between two readiness probes */
#define PROBE_TIMEOUT_MS 1000        /* one HTTP probe, connecting included */
#define STOP_POLL_NS     10000000ull
#define REAP_TIMEOUT_NS  5000000000ull /* orphans must be gone by then */

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define N_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static volatile sig_atomic_t interrupted;
static int wake_pipe[2] = { -1, -1 };
static struct sigaction saved_actions[N_STOP_SIGNALS];
static struct sigaction saved_pipe; /* SIGPIPE: ignored while the run writes its report */
static bool installed;

/* Async-signal-safe: a flag and one write to a non-blocking pipe. */
static void on_stop_signal(int sig)
{
	int saved = errno;

	if (!interrupted)
		interrupted = sig;
	if (write(wake_pipe[1], "x", 1) < 0) {
		/* the pipe is full: it is readable already */
	}
	errno = saved;
}

int mc_exp_signals_install(void)
{
	struct sigaction sa;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_STOP_SIGNALS; i++)
		if (sigaction(stop_signals[i], &sa, &saved_actions[i]) < 0)
			return -errno;
	/* A closed stdout must not kill mlchaos before it has stopped the target. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, &saved_pipe) < 0)
		return -errno;
	installed = true;
	/* Orphans of the target (daemons, workers whose parent died) come to us, so they can
	 * be found and stopped instead of outliving the experiment. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	return 0;
}

void mc_exp_signals_child(void)
{
	sigset_t none;

	for (size_t i = 0; i < N_STOP_SIGNALS; i++)
		sigaction(stop_signals[i], &saved_actions[i], NULL);
	sigaction(SIGPIPE, &saved_pipe, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void mc_exp_signals_restore(void)
{
	if (!installed)
		return;
	mc_exp_signals_child();
	installed = false;
}

int mc_exp_interrupted(void)
{
	return interrupted;
}

int mc_exp_wake_fd(void)
{
	return wake_pipe[0];
}

uint64_t mc_exp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mc_exp_sleep_ns(uint64_t ns)
{
	uint64_t end = mc_exp_now_ns() + ns;

	for (;;) {
		if (interrupted)
			return -EINTR;
		uint64_t now = mc_exp_now_ns();
		if (now >= end)
			return 0;
		struct pollfd pfd = { .fd = wake_pipe[0], .events = POLLIN };
		int ms = (int)((end - now + 999999) / 1000000);
		poll(&pfd, wake_pipe[0] >= 0 ? 1 : 0, ms);
	}
}

void mc_exp_status_text(int status, char *buf, size_t cap)
{
	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		if (name)
			snprintf(buf, cap, "killed by SIG%s", name);
		else
			snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(buf, cap, "exited %d", WEXITSTATUS(status));
	}
}

/* ---- start ---- */

static void snapshot_ready_file(const struct mc_exp_spec *spec, struct mc_exp_target *t)
{
	struct stat st;

	t->ready_existed = !spec->ready_is_url && stat(spec->ready, &st) == 0;
	if (t->ready_existed) {
		t->ready_dev = st.st_dev;
		t->ready_ino = st.st_ino;
		t->ready_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
}

/* In the child: never returns. */
static void exec_target(const struct mc_exp_spec *spec, const char *preload, const char *config,
                        int log_fd, int err_fd)
{
	int err, devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	mc_exp_signals_child();
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	if (spec->workdir && chdir(spec->workdir) < 0) {
		err = errno;
		goto fail;
	}
	/* mlchaos is single-threaded: setenv between fork and exec is safe here. */
	setenv("LD_PRELOAD", preload, 1);
	setenv("MLCHAOS_CONFIG", config, 1);
	unsetenv("MLCHAOS_TRACE");
	execvp(spec->argv[0], spec->argv);
	err = errno;
fail:
	if (write(err_fd, &err, sizeof(err)) < 0) {
		/* the parent sees EOF and reports a failed start anyway */
	}
	_exit(127);
}

int mc_exp_target_start(const struct mc_exp_spec *spec, const char *lib, const char *config,
                        const char *log_path, struct mc_exp_target *t)
{
	char *preload = NULL;
	int pipe_fd[2], log_fd, err;

	memset(t, 0, sizeof(*t));
	t->exited_in = -1;
	if (mc_preload_compose(getenv("LD_PRELOAD"), lib, &preload) < 0)
		return -ENOMEM;
	log_fd = mc_outfile_open("experiment", log_path, O_TRUNC, "target_log",
	                         "the target was not started");
	if (log_fd < 0) {
		err = errno;
		free(preload);
		return -err;
	}
	if (pipe2(pipe_fd, O_CLOEXEC) < 0) {
		err = errno;
		close(log_fd);
		free(preload);
		return -err;
	}
	snapshot_ready_file(spec, t);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		exec_target(spec, preload, config, log_fd, pipe_fd[1]);
	err = pid < 0 ? errno : 0;
	close(pipe_fd[1]);
	close(log_fd);
	free(preload);
	if (pid < 0) {
		close(pipe_fd[0]);
		fprintf(stderr, "mlchaos experiment: cannot start the target: fork: %s\n",
		        strerror(err));
		return -err;
	}
	setpgid(pid, pid); /* both sides: whichever runs first, the group exists before a kill */
	t->pid = pid;
	err = mc_launch_exec_error(pipe_fd[0]);
	close(pipe_fd[0]);
	if (err) {
		waitpid(pid, &t->status, 0);
		t->exited = true;
		fprintf(stderr, "mlchaos experiment: cannot start %s: %s%s\n", spec->argv[0],
		        strerror(err),
		        err == ENOENT ? " (check [experiment] command and workdir)" : "");
		return -err;
	}
	return 0;
}

/* ---- readiness ---- */

bool mc_exp_target_gone(struct mc_exp_target *t)
{
	if (t->exited || t->pid <= 0)
		return true;
	pid_t r = waitpid(t->pid, &t->status, WNOHANG);
	if (r == t->pid || (r < 0 && errno == ECHILD))
		t->exited = true;
	return t->exited;
}

/* The ready file was written since the start; its first number, if any, is the port. */
static bool ready_file_written(const struct mc_exp_spec *spec, struct mc_exp_target *t)
{
	struct stat st;

	if (stat(spec->ready, &st) < 0)
		return false;
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (t->ready_existed && st.st_dev == t->ready_dev && st.st_ino == t->ready_ino &&
	    mtime == t->ready_mtime_ns)
		return false;
	FILE *f = fopen(spec->ready, "re");
	int port = 0;
	if (f) {
		if (fscanf(f, "%d", &port) != 1 || port < 1 || port > 65535)
			port = 0;
		fclose(f);
	}
	t->port = port;
	return true;
}

static bool probe(const struct mc_exp_spec *spec, struct mc_exp_target *t)
{
	if (!spec->ready_is_url)
		return ready_file_written(spec, t);
	int status = mc_load_http_status(spec->ready, PROBE_TIMEOUT_MS, spec->insecure,
	                                 t->probe_why, sizeof(t->probe_why));
	if (status > 0 && (status < 200 || status > 299))
		snprintf(t->probe_why, sizeof(t->probe_why), "it answered %d", status);
	if (status < 200 || status > 299)
		return false;
	char host[256], path[MC_EXP_URL_MAX];
	if (mc_exp_url_split(spec->ready, host, sizeof(host), &t->port, path, sizeof(path)) < 0)
		t->port = 0;
	return true;
}

int mc_exp_target_wait_ready(const struct mc_exp_spec *spec, struct mc_exp_target *t)
{
	uint64_t start = mc_exp_now_ns(), deadline = start + spec->ready_timeout_ns;

	for (;;) {
		if (mc_exp_target_gone(t))
			return -ECHILD;
		if (probe(spec, t)) {
			t->ready_s = (double)(mc_exp_now_ns() - start) / 1e9;
			return 0;
		}
		if (mc_exp_now_ns() >= deadline)
			return -ETIMEDOUT;
		if (mc_exp_sleep_ns(READY_POLL_NS) < 0)
			return -EINTR;
	}
}

void mc_exp_target_signal(const struct mc_exp_target *t, int sig)
{
	if (!t->exited && t->pid > 0 && sig)
		kill(t->pid, sig);
}

/* ---- stop ---- */

/* Waits up to ns for the target to exit; a second interruption cuts the grace short. */
static bool wait_exit(struct mc_exp_target *t, uint64_t ns)
{
	uint64_t end = mc_exp_now_ns() + ns;
	int seen = mc_exp_interrupted();

	while (!mc_exp_target_gone(t)) {
		if (mc_exp_now_ns() >= end)
			return false;
		struct timespec ts = { 0, (long)STOP_POLL_NS };
		nanosleep(&ts, NULL);
		if (!seen && mc_exp_interrupted())
			return false;
	}
	return true;
}

/* Our children other than those already reaped: with the subreaper bit, the target's
 * orphans. Kills each; returns how many were found. */
static unsigned kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;
	pid_t self = getpid();

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[64], buf[512];
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
		char *close_paren = strrchr(buf, ')');
		int ppid;
		char state;
		if (close_paren && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 &&
		    ppid == self) {
			kill(pid, SIGKILL);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Kills and reaps every remaining child until none is left (or REAP_TIMEOUT_NS). */
static unsigned reap_all(void)
{
	uint64_t end = mc_exp_now_ns() + REAP_TIMEOUT_NS;
	unsigned reaped = 0;

	for (;;) {
		int status;
		pid_t r = waitpid(-1, &status, WNOHANG);
		if (r > 0) {
			reaped++;
			continue;
		}
		if (r < 0 && errno == ECHILD)
			return reaped;
		kill_children();
		if (mc_exp_now_ns() >= end) {
			fputs("mlchaos experiment: a process of the run would not die\n", stderr);
			return reaped;
		}
		struct timespec ts = { 0, (long)STOP_POLL_NS };
		nanosleep(&ts, NULL);
	}
}

void mc_exp_target_stop(struct mc_exp_target *t, uint64_t grace_ns)
{
	if (t->pid <= 0)
		return;
	if (!mc_exp_target_gone(t)) {
		t->stop_signal = SIGTERM;
		kill(-t->pid, SIGTERM);
		if (!wait_exit(t, grace_ns)) {
			t->stop_signal = SIGKILL;
			kill(-t->pid, SIGKILL);
			while (waitpid(t->pid, &t->status, 0) < 0 && errno == EINTR)
				;
			t->exited = true;
		}
	}
	kill(-t->pid, SIGKILL); /* what is left of its group */
	t->others_reaped += reap_all();
}
