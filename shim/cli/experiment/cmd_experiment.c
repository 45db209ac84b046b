/* cmd_experiment.c: `mlchaos experiment FILE.ini`: target started with chaos halted, steady
 * state (before), chaos under load (during), recovery (after), report. Owns the run directory;
 * never returns with the target, or anything it started, still running. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "elfcheck.h"
#include "experiment.h"
#include "options.h"
#include "preload.h"
#include "segments.h" /* mc_json_str */

#define HALT_TIMEOUT_NS 10000000000ull /* a delay in progress may take that long to end */
#define RM_MAX_DEPTH    8

struct run {
	struct mc_exp_spec spec;
	struct mc_exp_result res;
	char run_dir[PATH_MAX];
	char config[PATH_MAX + 16], halt_file[PATH_MAX + 16], log[PATH_MAX + 32];
	/* restart = true: each phase's own config, whose log keeps that phase's events apart */
	char phase_config[MC_EXP_PHASES][PATH_MAX + 24];
	char target_log[PATH_MAX + 16];
	char client[PATH_MAX + 64];
	char health_url[MC_EXP_URL_MAX]; /* [health] url, ${PORT} expanded; "" for none */
	char bin_dir[PATH_MAX];
	char tools_dir[PATH_MAX + 16];
	char lib[4096];
	const char *file;
	const char *junit; /* --junit FILE, or NULL */
	const char *plot;  /* --plot FILE.svg, or NULL */
	const char *csv;   /* --csv FILE, or NULL */
	bool json, quiet, keep, progress;
	bool use_min_score;
	int min_score;
	uint64_t chaos_on_ns;  /* monotonic: when chaos was switched on (halts count from it) */
	uint64_t chaos_off_ns; /* and when the during load ended, before any halt of ours */
	/* [experiment] url: the fleet's counters before and after the chaos load */
	struct mc_exp_fleet_counts fleet_before, fleet_after;
};

static void usage(FILE *out)
{
	fputs("usage: mlchaos experiment [--json] [--quiet] [--keep] [--junit FILE]\n"
	      "                          [--min-score N] [--plot FILE.svg] [--csv FILE] FILE.ini\n"
	      "Run a chaos experiment: start the target of [experiment] under libmlchaos.so with\n"
	      "chaos halted; apply the [load] and check the [steady_state] hypotheses (phase\n"
	      "'before'); resume the [mlchaos]/[fault.*] faults and apply the load again\n"
	      "('during'); halt them and check recovery ('after'); stop the target and report\n"
	      "each hypothesis per phase, the faults injected per rule and a resilience score.\n"
	      "  --json      the report as one JSON object on stdout\n"
	      "  --quiet     no progress line; as text, only the result line\n"
	      "  --keep      keep the run directory (config, event logs, target output,\n"
	      "              per-request results) and print its path on stderr\n"
	      "  --junit FILE  also write the result as JUnit XML to FILE (a testcase per\n"
	      "              hypothesis and phase; a halt of injection is an error)\n"
	      "  --min-score N  the exit status is the score's alone: 0 when it is at least N\n"
	      "              (0..100), 1 below\n"
	      "  --plot FILE.svg  with [sweep]: draw the degradation curve (the main figure per\n"
	      "              value) or, per = tensor, the vulnerability ranking as SVG\n"
	      "  --csv FILE  with [sweep]: the figures, one row per value or tensor\n"
	      "  -h, --help  this text\n" MC_HELP_OPTION_ORDER
	      "The score is 70 x (share of hypotheses that held during chaos) + 30 x (share\n"
	      "that held after it), rounded; 0 when the steady state did not hold before chaos\n"
	      "(chaos is then not injected), and 0 when injection was halted during chaos (the\n"
	      "watchdog, max_faults, mlchaos halt): the result is then HALTED, unless\n"
	      "[experiment] allow_halt = true. With [experiment] restart = true each phase\n"
	      "starts the target afresh, its faults on from its first instruction during\n"
	      "chaos. A [sweep] runs the during phase once per value of one fault key (or once\n"
	      "per tensor of the model file, per = tensor), each on a fresh start; every\n"
	      "hypothesis must hold at every value (gate = all), or the sweep is only reported\n"
	      "(gate = none). With [experiment] url = a target already running, nothing is\n"
	      "started: chaos is halted and resumed through the [fleet] control endpoints and\n"
	      "the faults read from their counters; the fleet is left halted.\n"
	      "See config/experiments/README.md for the format.\n"
	      "Exit status: 0 every hypothesis held in every phase it applies to; 1 one did not,\n"
	      "or injection was halted; with --min-score, 0 or 1 by the score alone;\n"
	      "2 usage, an invalid file, or the experiment could not run (the target did not\n"
	      "start or get ready, the load client failed, mlchaos was interrupted).\n",
	      out);
}

static void progress(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on a terminal, rewritten in place; nothing when stderr is not a terminal. */
static void progress(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->progress)
		return;
	fputs("\r\033[K", stderr);
	if (!fmt)
		return;
	fputs("mlchaos experiment: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static int fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The experiment could not run: says why (and as JSON with --json); exit status 2. */
static int fail(struct run *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress(r, NULL);
	fprintf(stderr, "mlchaos experiment: %s\n", msg);
	if (r->junit) {
		const char *what = r->spec.name[0] ? r->spec.name : r->file;
		int err = mc_exp_junit_write_error(r->junit, what, msg);
		if (err < 0)
			fprintf(stderr, "mlchaos experiment: cannot write %s: %s\n", r->junit,
			        strerror(-err));
	}
	if (r->json) {
		fputs("{\"experiment\":", stdout);
		const char *name = r->spec.name[0] ? r->spec.name : r->file;
		mc_json_str(stdout, name, strlen(name));
		fputs(",\"result\":\"error\",\"exit\":2,\"error\":", stdout);
		mc_json_str(stdout, msg, strlen(msg));
		fputs("}\n", stdout);
	}
	return MC_EXP_EXIT_RUN;
}

/* ---- the run directory ---- */

static int make_run_dir(struct run *r)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || tmp[0] != '/' || strlen(tmp) > PATH_MAX - 64 || strpbrk(tmp, " ;\t\n"))
		tmp = "/tmp";
	snprintf(r->run_dir, sizeof(r->run_dir), "%s/mlchaos-exp-XXXXXX", tmp);
	if (!mkdtemp(r->run_dir))
		return -errno;
	snprintf(r->config, sizeof(r->config), "%s/chaos.ini", r->run_dir);
	snprintf(r->halt_file, sizeof(r->halt_file), "%s/halt", r->run_dir);
	snprintf(r->log, sizeof(r->log), "%s/events-%%p.jsonl", r->run_dir);
	return 0;
}

/* Removes dir and what is in it, never following a link. */
static void remove_tree(int parent_fd, const char *name, int depth)
{
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type == DT_DIR && depth < RM_MAX_DEPTH)
			remove_tree(dirfd(d), e->d_name, depth + 1);
		else
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	unlinkat(parent_fd, name, AT_REMOVEDIR);
}

static void bin_dir_of_self(struct run *r)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		snprintf(r->bin_dir, sizeof(r->bin_dir), ".");
		return;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(r->bin_dir, sizeof(r->bin_dir), "%s", exe[0] ? exe : "/");
}

/* ${MLCHAOS_TOOLS}: the reference server and its tools are in test-harness/ of the build
 * tree, and beside mlchaos once installed; the same experiment file runs in both. */
static void tools_dir_of_self(struct run *r)
{
	char server[PATH_MAX + 64];

	snprintf(r->tools_dir, sizeof(r->tools_dir), "%s/../test-harness", r->bin_dir);
	snprintf(server, sizeof(server), "%s/mlchaos-model-server", r->tools_dir);
	if (access(server, X_OK) != 0)
		snprintf(r->tools_dir, sizeof(r->tools_dir), "%s", r->bin_dir);
}

/* ---- preparing ---- */

/* The config written for the target is the file's own chaos text, whose warnings the spec's
 * parse already gave at the file's lines: only an error (a bug of ours) is worth saying. */
static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	if (level == MC_DIAG_ERROR)
		fprintf(stderr, "%s\n", msg);
}

static int write_config(struct run *r, const char *path, const char *log)
{
	struct mc_config *check;
	int err = mc_exp_spec_write_chaos(&r->spec, path, r->halt_file, log);

	if (err < 0)
		return fail(r, "cannot write %s: %s", path, strerror(-err));
	if (mc_cfg_parse_file(path, print_diag, NULL, &check) < 0)
		return fail(r, "the config written for the target is not valid (a bug: see above)");
	mc_cfg_free(check);
	return 0;
}

/* [sweep]: value i's config, chaos-during-I.ini, its events in events-during-I-PID.jsonl. */
static void sweep_config_path(const struct run *r, unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/chaos-during-%u.ini", r->run_dir, i);
}

static int write_sweep_configs(struct run *r)
{
	char path[PATH_MAX + 32], log[PATH_MAX + 48];

	for (unsigned i = 0; i < r->spec.sweep.n; i++) {
		sweep_config_path(r, i, path, sizeof(path));
		snprintf(log, sizeof(log), "%s/events-during-%u-%%p.jsonl", r->run_dir, i);
		int err = mc_exp_spec_write_sweep_chaos(&r->spec, i, path, r->halt_file, log);
		if (err < 0)
			return fail(r, "cannot write %s: %s", path, strerror(-err));
		struct mc_config *check;
		if (mc_cfg_parse_file(path, print_diag, NULL, &check) < 0)
			return fail(r, "the config written for the target is not valid (a bug: see "
			               "above)");
		mc_cfg_free(check);
	}
	return 0;
}

/* One config, or with restart = true one per phase: chaos-PHASE.ini, whose events go to
 * events-PHASE-PID.jsonl, so that each start's log stays its own. */
static int write_configs(struct run *r)
{
	char log[PATH_MAX + 48];
	int st;

	if (!r->spec.restart)
		return write_config(r, r->config, r->log);
	st = write_sweep_configs(r);
	if (st)
		return st;
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const char *name = mc_exp_phase_name((enum mc_exp_phase)p);
		snprintf(r->phase_config[p], sizeof(r->phase_config[p]), "%s/chaos-%s.ini",
		         r->run_dir, name);
		snprintf(log, sizeof(log), "%s/events-%s-%%p.jsonl", r->run_dir, name);
		st = write_config(r, r->phase_config[p], log);
		if (st)
			return st;
	}
	return 0;
}

static int prepare(struct run *r)
{
	struct mc_exp_vars vars = { .run_dir = r->run_dir,
		                    .bin_dir = r->bin_dir,
		                    .tools_dir = r->tools_dir };
	struct mc_lib_lookup *l;
	int err;

	if (mc_exp_spec_load(r->file, &vars, &r->spec) < 0)
		return fail(r, "%s is not a valid experiment (see above)", r->file);
	if (r->spec.target_log)
		snprintf(r->target_log, sizeof(r->target_log), "%s", r->spec.target_log);
	else
		snprintf(r->target_log, sizeof(r->target_log), "%s/target.log", r->run_dir);
	err = write_configs(r);
	if (err)
		return err;
	/* chaos stays halted until the steady state has been measured */
	err = open(r->halt_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (err < 0)
		return fail(r, "cannot create %s: %s", r->halt_file, strerror(errno));
	close(err);
	mc_exp_load_client(&r->spec, r->bin_dir, r->client, sizeof(r->client));
	if (r->spec.target_url)
		return 0; /* nothing is started: no library to preload */
	l = calloc(1, sizeof(*l));
	if (!l || mc_preload_find_library(l) < 0) {
		free(l);
		return fail(r, "cannot find %s (build it, or set MLCHAOS_LIB to its path)",
		            MC_LIB_NAME);
	}
	snprintf(r->lib, sizeof(r->lib), "%s", l->path);
	free(l);
	return 0;
}

static void warn_unreachable(struct run *r)
{
	struct mc_exec_target *t = calloc(1, sizeof(*t));

	if (t && !r->quiet && !r->spec.workdir && mc_exec_resolve(r->spec.argv[0], t) == 0)
		mc_exec_warn(t, r->lib, stderr);
	free(t);
}

/* ---- the run ---- */

static int interrupted(struct run *r)
{
	return fail(r, "interrupted by SIG%s: the target was stopped",
	            sigabbrev_np(mc_exp_interrupted()));
}

static void show_target_log(const struct run *r)
{
	char buf[4096];
	/* target_log may be a configured path: what is there now may not be what the target
	 * wrote (a FIFO would block the read), so only a regular file is shown */
	int fd = open(r->target_log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, size > 4095 ? size - 4095 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	fprintf(stderr, "mlchaos experiment: the target's last output (%s):\n%s%s", r->target_log,
	        buf, buf[n - 1] == '\n' ? "" : "\n");
}

/* Starts the target with config and waits until it is ready. When it never gets ready and
 * down is not NULL (a restarted phase: faults may keep it from starting, which is a figure,
 * not an experiment that could not run), says why in down and returns 0. */
static int start_target(struct run *r, const char *config, char *down, size_t down_cap)
{
	struct mc_exp_target *t = &r->res.target;
	char status[64], why[512];

	warn_unreachable(r);
	progress(r, "starting %s", r->spec.argv[0]);
	if (mc_exp_target_start(&r->spec, r->lib, config, r->target_log, t) < 0) {
		if (t->pid > 0) /* not when target_log itself was refused */
			show_target_log(r);
		return fail(r, "the target did not start");
	}
	progress(r, "waiting for %s", r->spec.ready);
	int err = mc_exp_target_wait_ready(&r->spec, t);
	if (err == -EINTR)
		return interrupted(r);
	if (err == 0)
		return 0;
	mc_exp_target_stop(t, r->spec.stop_timeout_ns);
	mc_exp_status_text(t->status, status, sizeof(status));
	if (err == -ECHILD)
		snprintf(why, sizeof(why), "the target %s before it was ready", status);
	else
		snprintf(why, sizeof(why),
		         "the target was not ready after %.1f s (ready = %.200s%s%s)",
		         (double)r->spec.ready_timeout_ns / 1e9, r->spec.ready,
		         *t->probe_why ? "; the last probe: " : "", t->probe_why);
	if (down) {
		snprintf(down, down_cap, "%s", why);
		return 0;
	}
	show_target_log(r);
	return fail(r, "%s%s", why, err == -ECHILD ? "" : ": stopped");
}

/* [health] url, with ${PORT} as in [load] url. */
static int health_url(struct run *r)
{
	char *url;

	if (!r->spec.health_url)
		return 0;
	if (strstr(r->spec.health_url, "${PORT}") && !r->res.target.port)
		return fail(r, "[health] url uses ${PORT}, but the ready probe gave no port");
	url = mc_exp_expand_port(r->spec.health_url, r->res.target.port);
	if (!url)
		return fail(r, "out of memory");
	snprintf(r->health_url, sizeof(r->health_url), "%s", url);
	free(url);
	return 0;
}

static int load_url(struct run *r)
{
	char *url = NULL;

	if (r->spec.url) {
		if (strstr(r->spec.url, "${PORT}") && !r->res.target.port)
			return fail(r, "[load] url uses ${PORT}, but the ready probe gave no port");
		url = mc_exp_expand_port(r->spec.url, r->res.target.port);
	} else if (r->res.target.port) {
		char host[256] = "127.0.0.1", path[MC_EXP_URL_MAX];
		int port;
		if (r->spec.ready_is_url &&
		    mc_exp_url_split(r->spec.ready, host, sizeof(host), &port, path,
		                     sizeof(path)) == 0 &&
		    strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		bool tls = r->spec.ready_is_url && strncmp(r->spec.ready, "https://", 8) == 0;
		if (asprintf(&url, "%s://%s:%d%s", tls ? "https" : "http", host, r->res.target.port,
		             mc_exp_load_default_path(&r->spec)) < 0)
			url = NULL;
	} else {
		return fail(r,
		            "no [load] url, and the ready file held no port number to derive it");
	}
	if (!url)
		return fail(r, "out of memory");
	snprintf(r->res.url, sizeof(r->res.url), "%s", url);
	free(url);
	return health_url(r);
}

static int run_phase(struct run *r, enum mc_exp_phase p)
{
	char per_request[PATH_MAX + 32], err_path[PATH_MAX + 32];
	struct mc_exp_target *t = &r->res.target;

	/* a target that runs through the phases died in the previous one; a fresh one in this
	 * (a running target of [experiment] url is not ours to watch) */
	if (!r->spec.target_url && t->exited_in < 0 && mc_exp_target_gone(t))
		t->exited_in = p > 0 && !r->spec.restart ? p - 1 : p;
	snprintf(per_request, sizeof(per_request), "%s/requests-%s.jsonl", r->run_dir,
	         mc_exp_phase_name(p));
	snprintf(err_path, sizeof(err_path), "%s/load-%s.err", r->run_dir, mc_exp_phase_name(p));
	progress(r, "phase %d/3 (%s chaos): %llu requests", p + 1, mc_exp_phase_name(p),
	         (unsigned long long)r->spec.requests);
	int err = mc_exp_load_run(&r->spec, r->client, r->res.url,
	                          r->health_url[0] ? r->health_url : NULL, per_request, err_path,
	                          &r->res.load[p]);
	if (err == -EINTR)
		return interrupted(r);
	if (err < 0)
		return fail(r, "the load of phase '%s' could not run", mc_exp_phase_name(p));
	/* agreement with the before phase, already for the baseline's verdict */
	mc_exp_load_compare(&r->spec, r->run_dir, r->res.load);
	if (!r->spec.target_url && t->exited_in < 0 && mc_exp_target_gone(t))
		t->exited_in = p;
	return 0;
}

/* The signal of [experiment] signal, then the settle time. */
static int nudge(struct run *r)
{
	if (r->spec.signal)
		mc_exp_target_signal(&r->res.target, r->spec.signal);
	if (r->spec.settle_ns && mc_exp_sleep_ns(r->spec.settle_ns) < 0)
		return interrupted(r);
	return 0;
}

static bool baseline_held(struct run *r)
{
	for (unsigned i = 0; i < r->spec.n_hyps; i++)
		if ((r->spec.hyps[i].phases & (1u << MC_EXP_BEFORE)) &&
		    mc_exp_check(&r->spec.hyps[i], &r->res.load[MC_EXP_BEFORE]) != MC_EXP_HELD)
			return false;
	return true;
}

static int chaos_phases(struct run *r)
{
	r->chaos_on_ns = mc_exp_now_ns();
	int n = mc_exp_chaos_resume(r->halt_file, r->config);
	if (n == -EINTR)
		return interrupted(r);
	if (n < 0)
		return fail(r, "cannot resume chaos: %s", strerror(-n));
	if (n == 0 && !r->quiet && !mc_exp_target_gone(&r->res.target))
		fprintf(stderr, "mlchaos experiment: warning: no process of the target runs the "
		                "library (static binary, setuid, LD_PRELOAD dropped?): nothing can "
		                "be injected\n");
	int st = nudge(r);
	if (st == 0)
		st = run_phase(r, MC_EXP_DURING);
	if (st)
		return st;
	/* before the experiment's own halt, so that only the others' remain to be seen */
	r->chaos_off_ns = mc_exp_now_ns();
	mc_exp_chaos_halts_now(r->halt_file, r->config, &r->res.halts);
	progress(r, "halting chaos");
	n = mc_exp_chaos_halt(r->halt_file, r->config, HALT_TIMEOUT_NS);
	if (n < 0)
		return fail(r, "cannot halt chaos: %s", strerror(-n));
	r->res.halted_processes = n;
	st = nudge(r);
	return st ? st : run_phase(r, MC_EXP_AFTER);
}

/* ---- [experiment] url: a target already running, its chaos through [fleet] ---- */

static int fleet_url(struct run *r)
{
	const char *base = r->spec.target_url;
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	if (r->spec.url)
		snprintf(r->res.url, sizeof(r->res.url), "%s", r->spec.url);
	else
		snprintf(r->res.url, sizeof(r->res.url), "%.*s%s", (int)n, base,
		         mc_exp_load_default_path(&r->spec));
	if (r->spec.health_url)
		snprintf(r->health_url, sizeof(r->health_url), "%s", r->spec.health_url);
	return 0;
}

static int fleet_chaos(struct run *r, const char *action)
{
	int err = mc_exp_fleet_control(&r->spec, action, false);

	if (err == -EINTR || mc_exp_interrupted())
		return interrupted(r);
	return err ? fail(r, "cannot %s the fleet's chaos (see above)", action) : 0;
}

/* Chaos off for the steady state, on under the during load, off again for recovery; the
 * fleet is left halted. The faults are the counters' growth under the during load. */
static int run_fleet(struct run *r)
{
	progress(r, "halting the fleet's chaos (%u replicas)", r->spec.n_fleet);
	int st = fleet_url(r);
	if (st == 0)
		st = fleet_chaos(r, "halt");
	if (st == 0)
		st = run_phase(r, MC_EXP_BEFORE);
	if (st || !baseline_held(r))
		return st;
	if (mc_exp_fleet_counters(&r->spec, &r->fleet_before) < 0)
		return fail(r, "cannot read the fleet's counters (see above)");
	progress(r, "resuming the fleet's chaos");
	r->chaos_on_ns = mc_exp_now_ns();
	st = fleet_chaos(r, "resume");
	if (st == 0 && r->spec.settle_ns && mc_exp_sleep_ns(r->spec.settle_ns) < 0)
		st = interrupted(r);
	if (st == 0)
		st = run_phase(r, MC_EXP_DURING);
	r->chaos_off_ns = mc_exp_now_ns();
	int read = mc_exp_fleet_counters(&r->spec, &r->fleet_after);
	progress(r, "halting the fleet's chaos");
	int halted = fleet_chaos(r, "halt"); /* whatever happened: chaos must end */
	if (st)
		return st;
	if (halted)
		return halted;
	if (read < 0)
		return fail(r, "cannot read the fleet's counters (see above)");
	mc_exp_fleet_faults(&r->spec, &r->fleet_before, &r->fleet_after, &r->res.faults,
	                    &r->res.halts);
	r->res.halted_processes = (int)r->fleet_after.n_procs;
	if (r->spec.settle_ns && mc_exp_sleep_ns(r->spec.settle_ns) < 0)
		return interrupted(r);
	return run_phase(r, MC_EXP_AFTER);
}

/* ---- restart = true: a fresh target per phase ---- */

/* Chaos on or off for the next start: the halt file is looked at by the library at its first
 * decision, so a target started without it injects from its first instruction on. */
static int chaos_for_next_start(struct run *r, bool on)
{
	if (on)
		return unlink(r->halt_file) < 0 && errno != ENOENT ? -errno : 0;
	int fd = open(r->halt_file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Start, ready, load, stop: one phase with a target of its own. A target that never gets
 * ready is that phase's figure (every hypothesis on it fails), except before chaos, where it
 * means the experiment cannot run. */
static int restarted_phase(struct run *r, enum mc_exp_phase p, const char *config)
{
	bool chaos = p == MC_EXP_DURING;
	char *down = p == MC_EXP_BEFORE ? NULL : r->res.down[p];
	int st = chaos_for_next_start(r, chaos);

	if (st < 0)
		return fail(r, "cannot %s %s: %s", chaos ? "remove" : "create", r->halt_file,
		            strerror(-st));
	if (chaos)
		r->chaos_on_ns = mc_exp_now_ns();
	progress(r, "phase %d/3 (%s chaos): a fresh start", p + 1, mc_exp_phase_name(p));
	st = start_target(r, config, down, sizeof(r->res.down[p]));
	r->res.started[p] = st == 0;
	if (st == 0 && !(down && down[0])) {
		st = load_url(r);
		if (st == 0 && r->spec.settle_ns && mc_exp_sleep_ns(r->spec.settle_ns) < 0)
			st = interrupted(r);
		if (st == 0)
			st = run_phase(r, p);
		if (st == 0 && chaos) {
			r->chaos_off_ns = mc_exp_now_ns();
			mc_exp_chaos_halts_now(r->halt_file, config, &r->res.halts);
		}
	}
	progress(r, "stopping the target");
	mc_exp_target_stop(&r->res.target, r->spec.stop_timeout_ns);
	r->res.starts[p] = r->res.target;
	return st;
}

/* Whether a hypothesis on the during phase failed at sweep value v (until = failure). */
static bool value_failed(const struct run *r, unsigned v)
{
	const struct mc_exp_sweep_result *s = r->res.sweep;

	for (unsigned i = 0; i < r->spec.n_hyps; i++)
		if ((r->spec.hyps[i].phases & (1u << MC_EXP_DURING)) &&
		    (s->down[v][0] || mc_exp_check(&r->spec.hyps[i], &s->load[v]) != MC_EXP_HELD))
			return true;
	return false;
}

/* [sweep]: the during phase once per value, each on a fresh start; each value's load and
 * "did not get ready" kept apart (the report judges them after the run). */
static int run_sweep(struct run *r)
{
	struct mc_exp_sweep_result *s = r->res.sweep;
	char config[PATH_MAX + 32];
	uint64_t chaos_on_ns = 0;
	int st = 0;

	for (unsigned v = 0; v < r->spec.sweep.n && st == 0; v++) {
		progress(r, "sweep %u/%u: %s = %s", v + 1, r->spec.sweep.n, r->spec.sweep.key,
		         r->spec.sweep.labels[v]);
		sweep_config_path(r, v, config, sizeof(config));
		st = restarted_phase(r, MC_EXP_DURING, config);
		chaos_on_ns = chaos_on_ns ? chaos_on_ns : r->chaos_on_ns;
		s->load[v] = r->res.load[MC_EXP_DURING];
		memset(&r->res.load[MC_EXP_DURING], 0, sizeof(r->res.load[MC_EXP_DURING]));
		snprintf(s->down[v], sizeof(s->down[v]), "%s", r->res.down[MC_EXP_DURING]);
		r->res.down[MC_EXP_DURING][0] = '\0';
		s->n = v + 1;
		if (r->spec.sweep.until_failure && value_failed(r, v))
			break;
	}
	r->chaos_on_ns = chaos_on_ns; /* halts count from the first value's start */
	return st;
}

static int run_restarted(struct run *r)
{
	int st = restarted_phase(r, MC_EXP_BEFORE, r->phase_config[MC_EXP_BEFORE]);

	if (st == 0 && baseline_held(r))
		st = r->res.sweep
		         ? run_sweep(r)
		         : restarted_phase(r, MC_EXP_DURING, r->phase_config[MC_EXP_DURING]);
	if (st == 0 && r->chaos_on_ns)
		st = restarted_phase(r, MC_EXP_AFTER, r->phase_config[MC_EXP_AFTER]);
	return st;
}

/* ---- the report ---- */

/* The halts the run did not make: its event logs (of the during start alone with restart),
 * up to the end of the chaos load, and what the segments showed then. */
static void collect_halts(struct run *r)
{
	const char *prefix = r->spec.restart ? "events-during-" : "events-";

	if (!r->chaos_on_ns || !r->chaos_off_ns)
		return; /* chaos never ran */
	int err = mc_exp_halts_from_logs(r->run_dir, prefix, r->chaos_on_ns, r->chaos_off_ns,
	                                 &r->res.halts);
	if (err < 0)
		fprintf(stderr, "mlchaos experiment: cannot read the event logs for halts: %s\n",
		        strerror(-err));
}

static void write_junit(struct run *r)
{
	int err = mc_exp_junit_write(r->junit, &r->res);

	if (err < 0) {
		fprintf(stderr, "mlchaos experiment: cannot write %s: %s%s\n", r->junit,
		        strerror(-err), err == -ELOOP ? " (a link: give a plain file)" : "");
		r->res.exit_code = MC_EXP_EXIT_RUN;
	}
}

static int report(struct run *r)
{
	/* [experiment] url: the faults are the fleet's counters, already read */
	int err =
	    r->spec.target_url ? 0 : mc_exp_faults_count(r->run_dir, r->spec.chaos, &r->res.faults);

	if (err < 0)
		fprintf(stderr, "mlchaos experiment: cannot read the event logs: %s\n",
		        strerror(-err));
	mc_exp_load_compare(&r->spec, r->run_dir, r->res.load);
	if (!r->spec.target_url)
		collect_halts(r);
	r->res.use_min_score = r->use_min_score;
	r->res.min_score = r->min_score;
	mc_exp_judge(&r->res);
	progress(r, NULL);
	r->res.run_dir = r->keep ? r->run_dir : NULL;
	if (r->json)
		mc_exp_report_json(stdout, &r->res);
	else if (r->quiet)
		mc_exp_report_verdict_line(stdout, &r->res);
	else
		mc_exp_report_text(stdout, &r->res);
	fflush(stdout);
	if (r->junit)
		write_junit(r);
	if (r->csv && mc_exp_sweep_csv(r->csv, &r->res) < 0)
		r->res.exit_code = MC_EXP_EXIT_RUN;
	if (r->plot && mc_exp_sweep_plot(r->plot, &r->res) < 0)
		r->res.exit_code = MC_EXP_EXIT_RUN;
	return r->res.exit_code;
}

static int run(struct run *r)
{
	int st = mc_exp_signals_install();

	if (st < 0)
		return fail(r, "cannot set up signal handling: %s", strerror(-st));
	st = prepare(r);
	if (st)
		return st;
	r->res.spec = &r->spec;
	if ((r->plot || r->csv) && !r->spec.sweep.n)
		return fail(r, "--%s draws a sweep: %s has no [sweep] section",
		            r->plot ? "plot" : "csv", r->file);
	if (r->spec.sweep.n) {
		r->res.sweep = calloc(1, sizeof(*r->res.sweep));
		if (!r->res.sweep)
			return fail(r, "out of memory");
	}
	if (r->spec.target_url) {
		st = run_fleet(r);
	} else if (r->spec.restart) {
		st = run_restarted(r);
	} else {
		st = start_target(r, r->config, NULL, 0);
		if (st == 0)
			st = load_url(r);
		if (st == 0)
			st = run_phase(r, MC_EXP_BEFORE);
		if (st == 0 && baseline_held(r))
			st = chaos_phases(r);
	}
	progress(r, "stopping the target");
	mc_exp_target_stop(&r->res.target, r->spec.stop_timeout_ns);
	if (st == 0 && mc_exp_interrupted())
		st = interrupted(r);
	return st ? st : report(r);
}

/* ---- options ---- */

static int parse_min_score(struct run *r, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (end == arg || *end || n < 0 || n > 100) {
		fprintf(stderr,
		        "mlchaos experiment: --min-score '%s': give a whole number from 0 "
		        "to 100\n",
		        arg);
		usage(stderr);
		return -EINVAL;
	}
	r->use_min_score = true;
	r->min_score = (int)n;
	return 0;
}

static int parse_options(struct run *r, int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "keep", no_argument, NULL, 'k' },
		{ "junit", required_argument, NULL, 'J' },
		{ "min-score", required_argument, NULL, 'm' },
		{ "plot", required_argument, NULL, 'P' },
		{ "csv", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			r->json = true;
			break;
		case 'q':
			r->quiet = true;
			break;
		case 'k':
			r->keep = true;
			break;
		case 'J':
			r->junit = optarg;
			break;
		case 'P':
			r->plot = optarg;
			break;
		case 'C':
			r->csv = optarg;
			break;
		case 'm':
			if (parse_min_score(r, optarg) < 0)
				return MC_EXP_EXIT_RUN;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mlchaos experiment: unknown option '%s'\n",
			        mc_opt_rejected(argv));
			usage(stderr);
			return MC_EXP_EXIT_RUN;
		}
	}
	if (argc - optind != 1) {
		fputs("mlchaos experiment: give exactly one experiment file\n", stderr);
		usage(stderr);
		return MC_EXP_EXIT_RUN;
	}
	r->file = argv[optind];
	r->progress = !r->quiet && isatty(STDERR_FILENO);
	return -1;
}

int mc_cmd_experiment(int argc, char **argv)
{
	struct run *r = calloc(1, sizeof(*r));
	int st;

	if (!r) {
		fputs("mlchaos experiment: out of memory\n", stderr);
		return MC_EXP_EXIT_RUN;
	}
	st = parse_options(r, argc, argv);
	if (st >= 0) {
		free(r);
		return st;
	}
	bin_dir_of_self(r);
	tools_dir_of_self(r);
	if (make_run_dir(r) < 0) {
		st = fail(r, "cannot create a run directory: %s", strerror(errno));
		free(r);
		return st;
	}
	st = run(r);
	mc_exp_signals_restore();
	if (r->keep)
		fprintf(stderr, "mlchaos experiment: run directory kept: %s\n", r->run_dir);
	else
		remove_tree(AT_FDCWD, r->run_dir, 0);
	mc_exp_sweep_release(&r->res);
	for (int p = 0; p < MC_EXP_PHASES; p++)
		mc_exp_load_free(&r->res.load[p]);
	for (unsigned v = 0; r->res.sweep && v < r->res.sweep->n; v++)
		mc_exp_load_free(&r->res.sweep->load[v]);
	free(r->res.sweep);
	mc_exp_spec_free(&r->spec);
	free(r);
	return st;
}
