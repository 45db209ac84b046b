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
	char target_log[PATH_MAX + 16];
	char client[PATH_MAX + 64];
	char health_url[MC_EXP_URL_MAX]; /* [health] url, ${PORT} expanded; "" for none */
	char bin_dir[PATH_MAX];
	char lib[4096];
	const char *file;
	bool json, quiet, keep, progress;
};

static void usage(FILE *out)
{
	fputs("usage: mlchaos experiment [--json] [--quiet] [--keep] FILE.ini\n"
	      "Run a chaos experiment: start the target of [experiment] under libmlchaos.so with\n"
	      "chaos halted; apply the [load] and check the [steady_state] hypotheses (phase\n"
	      "'before'); resume the [mlchaos]/[fault.*] faults and apply the load again\n"
	      "('during'); halt them and check recovery ('after'); stop the target and report\n"
	      "each hypothesis per phase, the faults injected per rule and a resilience score.\n"
	      "  --json      the report as one JSON object on stdout\n"
	      "  --quiet     no progress line; as text, only the result line\n"
	      "  --keep      keep the run directory (config, event logs, target output,\n"
	      "              per-request results) and print its path on stderr\n"
	      "  -h, --help  this text\n" MC_HELP_OPTION_ORDER
	      "The score is 70 x (share of hypotheses that held during chaos) + 30 x (share\n"
	      "that held after it), rounded; 0 when the steady state did not hold before chaos\n"
	      "(chaos is then not injected). See config/experiments/README.md for the format.\n"
	      "Exit status: 0 every hypothesis held in every phase it applies to; 1 one did not;\n"
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

/* ---- preparing ---- */

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

static int prepare(struct run *r)
{
	struct mc_exp_vars vars = { .run_dir = r->run_dir, .bin_dir = r->bin_dir };
	struct mc_lib_lookup *l;
	struct mc_config *check;
	int err;

	if (mc_exp_spec_load(r->file, &vars, &r->spec) < 0)
		return fail(r, "%s is not a valid experiment (see above)", r->file);
	if (r->spec.target_log)
		snprintf(r->target_log, sizeof(r->target_log), "%s", r->spec.target_log);
	else
		snprintf(r->target_log, sizeof(r->target_log), "%s/target.log", r->run_dir);
	err = mc_exp_spec_write_chaos(&r->spec, r->config, r->halt_file, r->log);
	if (err < 0)
		return fail(r, "cannot write %s: %s", r->config, strerror(-err));
	if (mc_cfg_parse_file(r->config, print_diag, NULL, &check) < 0)
		return fail(r, "the config written for the target is not valid (a bug: see above)");
	mc_cfg_free(check);
	/* chaos stays halted until the steady state has been measured */
	err = open(r->halt_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (err < 0)
		return fail(r, "cannot create %s: %s", r->halt_file, strerror(errno));
	close(err);
	l = calloc(1, sizeof(*l));
	if (!l || mc_preload_find_library(l) < 0) {
		free(l);
		return fail(r, "cannot find %s (build it, or set MLCHAOS_LIB to its path)",
		            MC_LIB_NAME);
	}
	snprintf(r->lib, sizeof(r->lib), "%s", l->path);
	free(l);
	mc_exp_load_client(&r->spec, r->bin_dir, r->client, sizeof(r->client));
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
	int fd = open(r->target_log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, size > 4095 ? size - 4095 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	fprintf(stderr, "mlchaos experiment: the target's last output (%s):\n%s%s", r->target_log,
	        buf, buf[n - 1] == '\n' ? "" : "\n");
}

static int start_target(struct run *r)
{
	struct mc_exp_target *t = &r->res.target;
	char status[64];

	warn_unreachable(r);
	progress(r, "starting %s", r->spec.argv[0]);
	if (mc_exp_target_start(&r->spec, r->lib, r->config, r->target_log, t) < 0) {
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
	show_target_log(r);
	mc_exp_status_text(t->status, status, sizeof(status));
	if (err == -ECHILD)
		return fail(r, "the target %s before it was ready", status);
	return fail(r, "the target was not ready after %.1f s (ready = %s): stopped",
	            (double)r->spec.ready_timeout_ns / 1e9, r->spec.ready);
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
		if (asprintf(&url, "http://%s:%d%s", host, r->res.target.port,
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

	if (t->exited_in < 0 && mc_exp_target_gone(t))
		t->exited_in = p > 0 ? p - 1 : p;
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
	if (t->exited_in < 0 && mc_exp_target_gone(t))
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
	progress(r, "halting chaos");
	n = mc_exp_chaos_halt(r->halt_file, r->config, HALT_TIMEOUT_NS);
	if (n < 0)
		return fail(r, "cannot halt chaos: %s", strerror(-n));
	r->res.halted_processes = n;
	st = nudge(r);
	return st ? st : run_phase(r, MC_EXP_AFTER);
}

static int report(struct run *r)
{
	int err = mc_exp_faults_count(r->run_dir, r->spec.chaos, &r->res.faults);

	if (err < 0)
		fprintf(stderr, "mlchaos experiment: cannot read the event logs: %s\n",
		        strerror(-err));
	mc_exp_load_compare(&r->spec, r->run_dir, r->res.load);
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
	st = start_target(r);
	if (st == 0)
		st = load_url(r);
	if (st == 0)
		st = run_phase(r, MC_EXP_BEFORE);
	if (st == 0 && baseline_held(r))
		st = chaos_phases(r);
	progress(r, "stopping the target");
	mc_exp_target_stop(&r->res.target, r->spec.stop_timeout_ns);
	if (st == 0 && mc_exp_interrupted())
		st = interrupted(r);
	return st ? st : report(r);
}

/* ---- options ---- */

static int parse_options(struct run *r, int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "keep", no_argument, NULL, 'k' },
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
	for (int p = 0; p < MC_EXP_PHASES; p++)
		mc_exp_load_free(&r->res.load[p]);
	mc_exp_spec_free(&r->spec);
	free(r);
	return st;
}
