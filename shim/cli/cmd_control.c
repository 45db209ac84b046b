/* cmd_control.c: `mlchaos halt`, `resume` and `reload`: the command's side of the control word
 * and the reload generation in a process's segment (shm.h). Writes only `control` and
 * `reload_requested`, and only in segments its user owns; never signals a process. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "options.h"
#include "segments.h"

#define DEFAULT_TIMEOUT_S 10.0
#define POLL_NS           1000000L /* 1 ms */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_poll(void)
{
	struct timespec ts = { 0, POLL_NS };
	nanosleep(&ts, NULL);
}

static int parse_timeout(const char *cmd, const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || !(v >= 0 && v <= 86400)) {
		fprintf(stderr, "mlchaos %s: --timeout '%s': seconds, from 0 to 86400\n", cmd, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static const char *argv0_of(const struct mc_seg *seg, int *ret_len)
{
	*ret_len = mc_seg_strlen(seg->shm->argv0, sizeof(seg->shm->argv0));
	return seg->shm->argv0;
}

/* ---- halt ---------------------------------------------------------------------------- */

static void halt_usage(FILE *out)
{
	fputs("usage: mlchaos halt [--timeout SECONDS] (--all | PID...)\n"
	      "Stop fault injection in running processes, now: sets the halt bit of each\n"
	      "process's control word, then waits until no fault that started before is still\n"
	      "being applied (a delay in progress finishes first). When halt returns, none of\n"
	      "the processes named injects another fault until `mlchaos resume`.\n"
	      "  --timeout S   give up waiting after S seconds (default 10)\n"
	      "  --all         every live process of yours (needed when no PID is given)\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 all halted, 1 a PID has no segment or faults were still in\n"
	      "flight at the timeout, 2 usage error.\n",
	      out);
}

static void resume_usage(FILE *out)
{
	fputs("usage: mlchaos resume [--watchdog] (--all | PID...)\n"
	      "Let halted processes inject faults again: clears the halt bit set by\n"
	      "`mlchaos halt`. A halt_file that still exists, or a spent max_faults budget,\n"
	      "keeps a process halted (said so).\n"
	      "  --watchdog    also clear a halt by the watchdog (halt_on_error_rate); it trips\n"
	      "                again if the error rate is still above the limit\n"
	      "  --all         every live process (needed when no PID is given)\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 resumed, 1 a PID has no segment, 2 usage error.\n",
	      out);
}

struct control_opts {
	bool all, watchdog;
	double timeout_s;
};

/* Returns -1 to go on, or an exit status. */
static int control_parse(const char *cmd, int argc, char **argv, struct control_opts *o,
                         void (*usage)(FILE *))
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "watchdog", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool is_halt = strcmp(cmd, "halt") == 0;
	int opt;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'a') {
			o->all = true;
		} else if (opt == 'w' && !is_halt) {
			o->watchdog = true;
		} else if (opt == 't' && is_halt) {
			if (parse_timeout(cmd, optarg, &o->timeout_s) < 0)
				return 2;
		} else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos %s: unknown option '%s'\n", cmd,
			        mc_opt_rejected(argv));
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

/* Waits until seg has no fault in flight, its process is gone, or deadline. Returns the
 * number still in flight (0: quiet). */
static uint64_t wait_quiet(const struct mc_seg *seg, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t n = atomic_load(&seg->shm->inflight);
		if (n == 0)
			return 0;
		if (kill(seg->pid, 0) < 0 && errno == ESRCH)
			return 0; /* it exited: it injects nothing any more */
		if (mono_ns() >= deadline_ns)
			return n;
		pause_poll();
	}
}

int mc_cmd_halt(int argc, char **argv)
{
	struct control_opts o = { .timeout_s = DEFAULT_TIMEOUT_S };
	int r = control_parse("halt", argc, argv, &o, halt_usage);
	if (r >= 0)
		return r;
	if (!o.all && optind >= argc) {
		fputs("mlchaos halt: say which processes: PID... or --all\n", stderr);
		halt_usage(stderr);
		return 2;
	}
	struct mc_seg_list list;
	int status =
	    mc_seg_open_args(argc - optind, argv + optind, o.all, MC_SEG_WRITE, "halt", &list);
	if (status == 2)
		return 2;
	/* all first, then wait: the processes quiesce in parallel */
	for (size_t i = 0; i < list.n; i++)
		atomic_fetch_or(&list.segs[i].shm->control, MC_CTL_HALTED);
	uint64_t deadline = mono_ns() + (uint64_t)(o.timeout_s * 1e9);
	for (size_t i = 0; i < list.n; i++) {
		const struct mc_seg *seg = &list.segs[i];
		int n;
		const char *a = argv0_of(seg, &n);
		uint64_t left = wait_quiet(seg, deadline);
		if (left) {
			printf("process %d (%.*s): halt set, but %llu fault(s) still being applied "
			       "after %.3g s (a long delay?)\n",
			       seg->pid, n, a, (unsigned long long)left, o.timeout_s);
			status = 1;
		} else {
			printf("process %d (%.*s): halted\n", seg->pid, n, a);
		}
	}
	if (!list.n && status == 0)
		puts("no process of yours is running libmlchaos.so");
	mc_seg_list_free(&list);
	fflush(stdout);
	return status;
}

/* ---- resume ---------------------------------------------------------------------------- */

static void say_still_halted(const struct mc_seg *seg, uint32_t halts)
{
	int n;
	const char *a = argv0_of(seg, &n);
	printf("process %d (%.*s): resumed, but still halted by", seg->pid, n, a);
	const char *sep = " ";
	for (size_t i = 0; i < 4; i++) {
		if (halts & mc_seg_halt_bits[i]) {
			printf("%s%s", sep, mc_seg_halt_name(mc_seg_halt_bits[i]));
			sep = ", ";
		}
	}
	puts(halts & MC_CTL_WATCHDOG ? " (resume --watchdog clears the watchdog's halt)" : "");
}

int mc_cmd_resume(int argc, char **argv)
{
	struct control_opts o = { 0 };
	int r = control_parse("resume", argc, argv, &o, resume_usage);
	if (r >= 0)
		return r;
	if (!o.all && optind >= argc) {
		fputs("mlchaos resume: say which processes: PID... or --all\n", stderr);
		resume_usage(stderr);
		return 2;
	}
	struct mc_seg_list list;
	int status =
	    mc_seg_open_args(argc - optind, argv + optind, o.all, MC_SEG_WRITE, "resume", &list);
	if (status == 2)
		return 2;
	uint32_t clear = MC_CTL_HALTED | (o.watchdog ? MC_CTL_WATCHDOG : 0);
	for (size_t i = 0; i < list.n; i++) {
		const struct mc_seg *seg = &list.segs[i];
		atomic_fetch_and(&seg->shm->control, ~clear);
		uint32_t halts = mc_seg_halts(seg);
		int n;
		const char *a = argv0_of(seg, &n);
		if (halts)
			say_still_halted(seg, halts);
		else
			printf("process %d (%.*s): resumed\n", seg->pid, n, a);
	}
	if (!list.n && status == 0)
		puts("no process of yours is running libmlchaos.so");
	mc_seg_list_free(&list);
	fflush(stdout);
	return status;
}

/* ---- reload ----------------------------------------------------------------------------- */

static void reload_usage(FILE *out)
{
	fputs("usage: mlchaos reload [-c FILE] [--timeout SECONDS] PID\n"
	      "Make a running process re-read its config (the path it started with, shown by\n"
	      "`mlchaos stats`) and swap its rule set whole. The file is validated here first;\n"
	      "an invalid one is not sent. The process itself validates it again: if it rejects\n"
	      "it, its messages are shown and its running rules stay. A process reloads at its\n"
	      "next hooked call of a family it has rules for (not malloc or mmap): a safe point.\n"
	      "  -c, --config FILE   validate FILE instead of the process's path (the process\n"
	      "                      still reads its own path)\n"
	      "  --timeout S         wait at most S seconds for the process (default 10)\n"
	      "  -h, --help          this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 reloaded, 1 the config is invalid (here or in the process),\n"
	      "2 usage error, no such process, or no answer before the timeout.\n",
	      out);
}

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)level;
	fprintf(stderr, "%s\n", msg);
	(void)user;
}

/* Validates path as the process would; 0 valid, 1 invalid (messages printed). */
static int validate(const char *path)
{
	struct mc_config *cfg;
	if (mc_cfg_parse_file(path, print_diag, NULL, &cfg) < 0) {
		fprintf(stderr, "mlchaos reload: %s is not valid: not asking the process\n", path);
		return 1;
	}
	mc_cfg_free(cfg);
	return 0;
}

static int reload_answer(const struct mc_seg *seg)
{
	const struct mc_shm *s = seg->shm;
	int32_t st = atomic_load((_Atomic int32_t *)&s->reload_status);
	int n = mc_seg_strlen(s->reload_message, sizeof(s->reload_message));
	if (st == 0) {
		printf("process %d: reloaded %.*s: %u rule(s), xxh3 %016llx\n", seg->pid,
		       mc_seg_strlen(s->config_path, sizeof(s->config_path)), s->config_path,
		       s->n_rules, (unsigned long long)s->config_hash);
		if (n) /* warnings */
			fprintf(stderr, "%.*s%s", n, s->reload_message,
			        s->reload_message[n - 1] == '\n' ? "" : "\n");
		return 0;
	}
	if (n)
		fprintf(stderr, "%.*s%s", n, s->reload_message,
		        s->reload_message[n - 1] == '\n' ? "" : "\n");
	fprintf(stderr,
	        "mlchaos reload: process %d rejected its config (%s); its running rules "
	        "stay\n",
	        seg->pid, strerror(-st));
	return 1;
}

/* The process has handled generation `want` when reload_done has reached it. */
static bool reload_reached(const struct mc_shm *s, uint32_t want)
{
	uint32_t done = atomic_load((_Atomic uint32_t *)&s->reload_done);
	return (int32_t)(done - want) >= 0;
}

static int reload_ask(const struct mc_seg *seg, double timeout_s)
{
	uint32_t want = atomic_fetch_add(&seg->shm->reload_requested, 1) + 1;
	uint64_t deadline = mono_ns() + (uint64_t)(timeout_s * 1e9);
	while (!reload_reached(seg->shm, want)) {
		if (kill(seg->pid, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, "mlchaos reload: process %d exited before reloading\n",
			        seg->pid);
			return 2;
		}
		if (mono_ns() >= deadline) {
			fprintf(
			    stderr,
			    "mlchaos reload: process %d has not reloaded after %.3g s: it has not "
			    "made a hooked call (of a family it has rules for, not malloc or "
			    "mmap) since, the safe point where a reload happens; the request "
			    "stays pending\n",
			    seg->pid, timeout_s);
			return 2;
		}
		pause_poll();
	}
	return reload_answer(seg);
}

static int reload_parse(int argc, char **argv, const char **ret_file, double *ret_timeout)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		if (opt == 'c') {
			*ret_file = optarg;
		} else if (opt == 't') {
			if (parse_timeout("reload", optarg, ret_timeout) < 0)
				return 2;
		} else if (opt == 'h') {
			reload_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos reload: unknown option or missing value '%s'\n",
			        mc_opt_rejected(argv));
			reload_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs("mlchaos reload: give exactly one PID\n", stderr);
		reload_usage(stderr);
		return 2;
	}
	return -1;
}

int mc_cmd_reload(int argc, char **argv)
{
	const char *file = NULL;
	double timeout_s = DEFAULT_TIMEOUT_S;
	int r = reload_parse(argc, argv, &file, &timeout_s);
	if (r >= 0)
		return r;
	int pid;
	if (mc_seg_parse_pid(argv[optind], &pid) < 0) {
		fprintf(stderr, "mlchaos reload: '%s' is not a process id\n", argv[optind]);
		return 2;
	}
	struct mc_seg seg;
	char why[512];
	if (mc_seg_open(pid, MC_SEG_WRITE, &seg, why, sizeof(why)) < 0) {
		fprintf(stderr, "mlchaos reload: process %d: %s\n", pid, why);
		return 2;
	}
	char own[1200];
	mc_seg_config_path(&seg, own, sizeof(own));
	r = validate(file ? file : own);
	if (r == 0 && file && strcmp(file, own) != 0)
		fprintf(stderr,
		        "mlchaos reload: %s is valid; process %d re-reads its own config, %s\n",
		        file, pid, own);
	if (r == 0)
		r = reload_ask(&seg, timeout_s);
	mc_seg_close(&seg);
	fflush(stdout);
	return r;
}
