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
#include "control.h"
#include "options.h"
#include "segments.h"

#define POLL_NS 1000000L /* 1 ms */

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
	      "       mlchaos halt --fleet --token-file FILE [--timeout SECONDS] URL...\n"
	      "Stop fault injection in running processes, now: sets the halt bit of each\n"
	      "process's control word, then waits until no fault that started before is still\n"
	      "being applied (a delay in progress finishes first). When halt returns, none of\n"
	      "the processes named injects another fault until `mlchaos resume`.\n"
	      "  --timeout S   give up waiting after S seconds (default 10)\n"
	      "  --all         every live process of yours (needed when no PID is given)\n"
	      "  --fleet       the operands are replicas: base URLs of `mlchaos metrics\n"
	      "                --listen --control-token-file` endpoints (http://HOST:PORT), all\n"
	      "                asked at once (POST /halt); returns when every one confirmed\n"
	      "  --fleet-file FILE  the replicas' URLs from FILE, one a line (# comments)\n"
	      "  --token-file FILE  the bearer token the endpoints were started with\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 all halted, 1 a PID has no segment or faults were still in\n"
	      "flight at the timeout (--fleet: a replica did not confirm: named), 2 usage\n"
	      "error.\n",
	      out);
}

static void resume_usage(FILE *out)
{
	fputs("usage: mlchaos resume [--watchdog] (--all | PID...)\n"
	      "       mlchaos resume [--watchdog] --fleet --token-file FILE [--timeout S] URL...\n"
	      "Let halted processes inject faults again: clears the halt bit set by\n"
	      "`mlchaos halt`. A halt_file that still exists, or a spent max_faults budget,\n"
	      "keeps a process halted (said so).\n"
	      "  --watchdog    also clear a halt by the watchdog (halt_on_error_rate); it trips\n"
	      "                again if the error rate is still above the limit\n"
	      "  --all         every live process (needed when no PID is given)\n"
	      "  --fleet, --fleet-file FILE, --token-file FILE  resume replicas through their\n"
	      "                control endpoints (POST /resume), as `mlchaos halt --fleet`\n"
	      "  --timeout S   --fleet: wait at most S seconds for the replicas (default 10)\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 resumed, 1 a PID has no segment (--fleet: a replica did not\n"
	      "confirm), 2 usage error.\n",
	      out);
}

struct control_opts {
	bool all, watchdog, fleet;
	double timeout_s;
	const char *fleet_file, *token_file;
};

/* Returns -1 to go on, or an exit status. */
static int control_parse(const char *cmd, int argc, char **argv, struct control_opts *o,
                         void (*usage)(FILE *))
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "watchdog", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "fleet", no_argument, NULL, 'f' },
		{ "fleet-file", required_argument, NULL, 'F' },
		{ "token-file", required_argument, NULL, 'T' },
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
		} else if (opt == 't') {
			if (parse_timeout(cmd, optarg, &o->timeout_s) < 0)
				return 2;
		} else if (opt == 'f') {
			o->fleet = true;
		} else if (opt == 'F') {
			o->fleet = true;
			o->fleet_file = optarg;
		} else if (opt == 'T') {
			o->token_file = optarg;
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
	if (!is_halt && !o->fleet && o->timeout_s != MC_CONTROL_TIMEOUT_S) {
		fprintf(stderr, "mlchaos %s: --timeout goes with --fleet\n", cmd);
		return 2;
	}
	if (o->fleet && o->all) {
		fprintf(stderr, "mlchaos %s: --all is for local processes, not with --fleet\n",
		        cmd);
		return 2;
	}
	if (o->token_file && !o->fleet) {
		fprintf(stderr, "mlchaos %s: --token-file goes with --fleet or --fleet-file\n",
		        cmd);
		return 2;
	}
	return -1;
}

/* --fleet: the operands are the base URLs of `mlchaos metrics --listen` control endpoints;
 * every one is asked at once. 0 all confirmed, 1 one did not, 2 usage or local error. */
static int fleet_command(const char *cmd, int argc, char **argv, const struct control_opts *o)
{
	struct mc_fleet f = { 0 };
	int status = 2;
	if (!o->token_file) {
		fprintf(stderr,
		        "mlchaos %s: --fleet needs --token-file FILE (the token the endpoints were "
		        "started with, --control-token-file)\n",
		        cmd);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (mc_fleet_add(&f, argv[i]) < 0)
			goto out;
	if (o->fleet_file && mc_fleet_add_file(&f, o->fleet_file) < 0)
		goto out;
	if (!f.n) {
		fprintf(stderr, "mlchaos %s: --fleet: give the replicas' URLs (or --fleet-file)\n",
		        cmd);
		goto out;
	}
	if (mc_fleet_read_token(cmd, o->token_file, &f.token) < 0)
		goto out;
	double took = 0;
	int failed =
	    mc_fleet_post(&f, cmd, o->watchdog ? "watchdog=1" : NULL, o->timeout_s, stdout, &took);
	if (failed == 0)
		printf("fleet: %zu of %zu replica(s) confirmed %s in %.3f s\n", f.n, f.n,
		       strcmp(cmd, "halt") == 0 ? "halted" : "resumed", took);
	else if (failed > 0)
		printf("fleet: %d of %zu replica(s) did not confirm (named above)\n", failed, f.n);
	status = failed == 0 ? 0 : failed > 0 ? 1 : 2;
out:
	mc_fleet_free(&f);
	fflush(stdout);
	return status;
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

int mc_control_halt(const struct mc_seg_list *list, double timeout_s, FILE *out)
{
	int status = 0;
	/* all first, then wait: the processes quiesce in parallel */
	for (size_t i = 0; i < list->n; i++)
		atomic_fetch_or(&list->segs[i].shm->control, MC_CTL_HALTED);
	uint64_t deadline = mono_ns() + (uint64_t)(timeout_s * 1e9);
	for (size_t i = 0; i < list->n; i++) {
		const struct mc_seg *seg = &list->segs[i];
		int n;
		const char *a = argv0_of(seg, &n);
		uint64_t left = wait_quiet(seg, deadline);
		if (left) {
			fprintf(
			    out,
			    "process %d (%.*s): halt set, but %llu fault(s) still being applied "
			    "after %.3g s (a long delay?)\n",
			    seg->pid, n, a, (unsigned long long)left, timeout_s);
			status = 1;
		} else {
			fprintf(out, "process %d (%.*s): halted\n", seg->pid, n, a);
		}
	}
	return status;
}

int mc_cmd_halt(int argc, char **argv)
{
	struct control_opts o = { .timeout_s = MC_CONTROL_TIMEOUT_S };
	int r = control_parse("halt", argc, argv, &o, halt_usage);
	if (r >= 0)
		return r;
	if (o.fleet)
		return fleet_command("halt", argc, argv, &o);
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
	if (mc_control_halt(&list, o.timeout_s, stdout))
		status = 1;
	if (!list.n && status == 0)
		puts("no process of yours is running libmlchaos.so");
	mc_seg_list_free(&list);
	fflush(stdout);
	return status;
}

/* ---- resume ---------------------------------------------------------------------------- */

static void say_still_halted(const struct mc_seg *seg, uint32_t halts, FILE *out)
{
	int n;
	const char *a = argv0_of(seg, &n);
	fprintf(out, "process %d (%.*s): resumed, but still halted by", seg->pid, n, a);
	const char *sep = " ";
	for (size_t i = 0; i < 4; i++) {
		if (halts & mc_seg_halt_bits[i]) {
			fprintf(out, "%s%s", sep, mc_seg_halt_name(mc_seg_halt_bits[i]));
			sep = ", ";
		}
	}
	fprintf(out, "%s\n",
	        halts & MC_CTL_WATCHDOG ? " (resume --watchdog clears the watchdog's halt)" : "");
}

int mc_control_resume(const struct mc_seg_list *list, bool watchdog, FILE *out)
{
	uint32_t clear = MC_CTL_HALTED | (watchdog ? MC_CTL_WATCHDOG : 0);
	for (size_t i = 0; i < list->n; i++) {
		const struct mc_seg *seg = &list->segs[i];
		atomic_fetch_and(&seg->shm->control, ~clear);
		uint32_t halts = mc_seg_halts(seg);
		int n;
		const char *a = argv0_of(seg, &n);
		if (halts)
			say_still_halted(seg, halts, out);
		else
			fprintf(out, "process %d (%.*s): resumed\n", seg->pid, n, a);
	}
	return 0;
}

int mc_cmd_resume(int argc, char **argv)
{
	struct control_opts o = { .timeout_s = MC_CONTROL_TIMEOUT_S };
	int r = control_parse("resume", argc, argv, &o, resume_usage);
	if (r >= 0)
		return r;
	if (o.fleet)
		return fleet_command("resume", argc, argv, &o);
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
	mc_control_resume(&list, o.watchdog, stdout);
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
	fprintf(user, "%s\n", msg);
}

/* Validates path as the process would; 0 valid, 1 invalid (messages printed on err). */
static int validate(const char *path, FILE *err)
{
	struct mc_config *cfg;
	if (mc_cfg_parse_file(path, print_diag, err, &cfg) < 0) {
		fprintf(err, "mlchaos reload: %s is not valid: not asking the process\n", path);
		return 1;
	}
	mc_cfg_free(cfg);
	return 0;
}

static int reload_answer(const struct mc_seg *seg, FILE *out, FILE *err)
{
	const struct mc_shm *s = seg->shm;
	int32_t st = atomic_load((_Atomic int32_t *)&s->reload_status);
	int n = mc_seg_strlen(s->reload_message, sizeof(s->reload_message));
	if (st == 0) {
		fprintf(out, "process %d: reloaded %.*s: %u rule(s), xxh3 %016llx\n", seg->pid,
		        mc_seg_strlen(s->config_path, sizeof(s->config_path)), s->config_path,
		        s->n_rules, (unsigned long long)s->config_hash);
		if (n) /* warnings */
			fprintf(err, "%.*s%s", n, s->reload_message,
			        s->reload_message[n - 1] == '\n' ? "" : "\n");
		return 0;
	}
	if (n)
		fprintf(err, "%.*s%s", n, s->reload_message,
		        s->reload_message[n - 1] == '\n' ? "" : "\n");
	fprintf(err,
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

static int reload_ask(const struct mc_seg *seg, double timeout_s, FILE *out, FILE *err)
{
	uint32_t want = atomic_fetch_add(&seg->shm->reload_requested, 1) + 1;
	uint64_t deadline = mono_ns() + (uint64_t)(timeout_s * 1e9);
	while (!reload_reached(seg->shm, want)) {
		if (kill(seg->pid, 0) < 0 && errno == ESRCH) {
			fprintf(err, "mlchaos reload: process %d exited before reloading\n",
			        seg->pid);
			return 2;
		}
		if (mono_ns() >= deadline) {
			fprintf(
			    err,
			    "mlchaos reload: process %d has not reloaded after %.3g s: it has not "
			    "made a hooked call (of a family it has rules for, not malloc or "
			    "mmap) since, the safe point where a reload happens; the request "
			    "stays pending\n",
			    seg->pid, timeout_s);
			return 2;
		}
		pause_poll();
	}
	return reload_answer(seg, out, err);
}

int mc_control_reload(const struct mc_seg *seg, double timeout_s, FILE *out, FILE *err)
{
	char own[1200];
	mc_seg_config_path(seg, own, sizeof(own));
	int r = validate(own, err);
	return r ? r : reload_ask(seg, timeout_s, out, err);
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
	double timeout_s = MC_CONTROL_TIMEOUT_S;
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
	r = validate(file ? file : own, stderr);
	if (r == 0 && file && strcmp(file, own) != 0)
		fprintf(stderr,
		        "mlchaos reload: %s is valid; process %d re-reads its own config, %s\n",
		        file, pid, own);
	if (r == 0)
		r = reload_ask(&seg, timeout_s, stdout, stderr);
	mc_seg_close(&seg);
	fflush(stdout);
	return r;
}
