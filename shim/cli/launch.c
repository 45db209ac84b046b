/* launch.c: fork, execvp and waitpid for `mlchaos run` and `trace`, with
 * signal forwarding. The child must start exactly as if the user had run the
 * command directly: never with mlchaos' handlers, mask or pipes. */
#include "launch.h"

#include "elfcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define MC_N_FORWARDED (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

/* The child to forward to; 0 while there is none. Written before the
 * forwarded signals are unblocked, read by the handler. */
static volatile sig_atomic_t child_pid;

/* What mlchaos started with, given back to the child and restored at the end. */
struct saved_signals {
	sigset_t mask;
	struct sigaction act[MC_N_FORWARDED];
};

/* True when the kernel sent sig to our whole process group, not to mlchaos
 * alone: the terminal's Ctrl-C and Ctrl-\ go to the foreground group, and a
 * hangup reaches a session leader alone but everyone else through their
 * group. Such a signal already reached a child that shares our group;
 * sending it again would make a Python child see KeyboardInterrupt twice. */
static bool sent_to_group(int sig, const siginfo_t *si)
{
	if (!si || si->si_code != SI_KERNEL)
		return false;
	if (sig == SIGINT || sig == SIGQUIT)
		return true;
	return sig == SIGHUP && getsid(0) != getpid();
}

/* Only async-signal-safe calls here (getsid, getpgid: plain system calls). */
static void forward_signal(int sig, siginfo_t *si, void *ucontext)
{
	int saved_errno = errno;
	pid_t pid = (pid_t)child_pid;

	(void)ucontext;
	if (pid > 0 && !(sent_to_group(sig, si) && getpgid(pid) == getpgrp()))
		kill(pid, sig);
	errno = saved_errno;
}

/* Dispositions first, mask last: nothing is delivered to a stale handler. */
static void restore_signals(const struct saved_signals *saved)
{
	for (size_t i = 0; i < MC_N_FORWARDED; i++)
		sigaction(forwarded_signals[i], &saved->act[i], NULL);
	sigprocmask(SIG_SETMASK, &saved->mask, NULL);
}

/* Blocks the forwarded signals, then installs the forwarding handler; the
 * caller unblocks once child_pid is known, so none is lost or misdirected.
 * On failure everything is as it was. */
static int install_forwarding(struct saved_signals *saved)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < MC_N_FORWARDED; i++) {
		sigaddset(&block, forwarded_signals[i]);
		if (sigaction(forwarded_signals[i], NULL, &saved->act[i]) < 0)
			return -errno;
	}
	if (sigprocmask(SIG_BLOCK, &block, &saved->mask) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < MC_N_FORWARDED; i++) {
		/* A signal ignored when we started stays ignored: the user (nohup, a
		 * background job) meant it for the whole command. */
		if (saved->act[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(forwarded_signals[i], &sa, NULL) < 0) {
			int err = -errno;

			restore_signals(saved);
			return err;
		}
	}
	return 0;
}

/* In the child: never returns. The exec error goes back through err_fd
 * (close-on-exec, so a successful exec closes it and the parent reads EOF). */
static void exec_child(char **argv, const struct saved_signals *saved, int err_fd)
{
	int err;

	restore_signals(saved);
	execvp(argv[0], argv);
	err = errno;
	if (write(err_fd, &err, sizeof(err)) < 0) {
		/* the parent then sees EOF and reports status 127 as is */
	}
	_exit(MC_EXIT_NOT_FOUND);
}

int mc_launch_exec_error(int fd)
{
	int err = 0;
	ssize_t n;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(err) ? err : 0;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "mlchaos: waitpid: %s\n", strerror(errno));
			return MC_EXIT_NOT_EXECUTABLE;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int report_not_found(const char *cmd)
{
	if (strchr(cmd, '/'))
		fprintf(stderr, "mlchaos: %s: no such file or directory (check the path)\n", cmd);
	else
		fprintf(stderr, "mlchaos: %s: command not found\n", cmd);
	return MC_EXIT_NOT_FOUND;
}

static int report_exec_error(const char *cmd, const struct mc_exec_target *t, int err)
{
	if (err == ENOENT && t->interp_missing) {
		fprintf(
		    stderr,
		    "mlchaos: %s: cannot execute: its interpreter %s does not exist (fix the #! line or install it)\n",
		    cmd, t->load_path);
		return MC_EXIT_NOT_EXECUTABLE;
	}
	if (err == ENOENT)
		return report_not_found(cmd);
	if (err == EACCES)
		fprintf(
		    stderr,
		    "mlchaos: %s: cannot execute: %s (it must be a regular file with execute permission: chmod +x)\n",
		    t->cmd_path[0] ? t->cmd_path : cmd, strerror(err));
	else
		fprintf(stderr, "mlchaos: %s: cannot execute: %s\n", cmd, strerror(err));
	return MC_EXIT_NOT_EXECUTABLE;
}

/* Forks, execs and waits, with signals forwarded in between. */
static int spawn_and_wait(char **argv, const struct mc_exec_target *t)
{
	struct saved_signals saved;
	int pipe_fd[2], err, status;
	pid_t pid;

	if (pipe2(pipe_fd, O_CLOEXEC) < 0) {
		fprintf(stderr, "mlchaos: cannot start %s: pipe: %s\n", argv[0], strerror(errno));
		return MC_EXIT_NOT_EXECUTABLE;
	}
	err = install_forwarding(&saved);
	if (err < 0) {
		close(pipe_fd[0]);
		close(pipe_fd[1]);
		fprintf(stderr, "mlchaos: cannot start %s: signals: %s\n", argv[0], strerror(-err));
		return MC_EXIT_NOT_EXECUTABLE;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		exec_child(argv, &saved, pipe_fd[1]);
	close(pipe_fd[1]);
	if (pid < 0) {
		err = errno;
		restore_signals(&saved);
		close(pipe_fd[0]);
		fprintf(stderr, "mlchaos: cannot start %s: fork: %s\n", argv[0], strerror(err));
		return MC_EXIT_NOT_EXECUTABLE;
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &saved.mask, NULL);
	err = mc_launch_exec_error(pipe_fd[0]);
	close(pipe_fd[0]);
	status = wait_child(pid);
	child_pid = 0;
	restore_signals(&saved);
	return err ? report_exec_error(argv[0], t, err) : status;
}

int mc_launch(char **argv, const char *lib_path, bool quiet)
{
	struct mc_exec_target *t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		fprintf(stderr, "mlchaos: out of memory\n");
		return MC_EXIT_NOT_EXECUTABLE;
	}
	r = mc_exec_resolve(argv[0], t);
	if (r == -ENOENT || r == -ENAMETOOLONG) {
		free(t);
		return report_not_found(argv[0]);
	}
	if (r < 0) {
		r = report_exec_error(argv[0], t, -r);
		free(t);
		return r;
	}
	if (!quiet)
		mc_exec_warn(t, lib_path, stderr);
	r = spawn_and_wait(argv, t);
	free(t);
	return r;
}
