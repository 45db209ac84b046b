/* experiment_load.c: one phase's load: the built-in HTTP client (load.h), or an external
 * client (`client =`: mlchaos-load, test-harness/server/FORMAT.md) run with --json, and its
 * figures; after the phases, the answers compared with those before chaos. The external
 * client never runs under the library and never outlives the call: an interrupted run kills
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "experiment.h"
#include "load.h"

#define LOAD_CLIENT  "mlchaos-load"
#define JSON_MAX     65536 /* the client's object is a few hundred bytes */
#define ERR_TAIL_MAX 2048

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

void mc_exp_load_client(const struct mc_exp_spec *spec, const char *bin_dir, char *buf, size_t cap)
{
	const char *env = getenv("MLCHAOS_LOAD");

	if (spec->client) {
		snprintf(buf, cap, "%s", spec->client);
		return;
	}
	if (env && *env) {
		snprintf(buf, cap, "%s", env);
		return;
	}
	snprintf(buf, cap, "%s/../test-harness/%s", bin_dir, LOAD_CLIENT);
	if (executable(buf))
		return;
	snprintf(buf, cap, "%s/%s", bin_dir, LOAD_CLIENT);
	if (executable(buf))
		return;
	snprintf(buf, cap, "%s", LOAD_CLIENT);
}

/* The number at JSON pointer ptr of root; false when absent, null or not a number. */
static bool number_at(json_t *root, const char *ptr, double *ret)
{
	char why[MC_LOAD_MSG_MAX];
	const json_t *v = mc_load_pointer_get(root, ptr, why, sizeof(why));

	if (!json_is_number(v))
		return false;
	*ret = json_number_value(v);
	return true;
}

static uint64_t count_at(json_t *root, const char *ptr)
{
	double v;

	return number_at(root, ptr, &v) && v >= 0 ? (uint64_t)v : 0;
}

/* The figures of the client's object; -EPROTO when it is not the object we know. */
static int read_figures(struct mc_exp_load *l)
{
	static const struct {
		enum mc_exp_metric m;
		const char *key;
	} direct[] = {
		{ MC_EXP_SUCCESS_RATE, "/success_rate" },
		{ MC_EXP_ACCURACY, "/accuracy" },
		{ MC_EXP_ERRORS, "/error_total" },
		{ MC_EXP_WRONG, "/wrong" },
		{ MC_EXP_TIMEOUTS, "/errors/timeout" },
		{ MC_EXP_P50, "/p50_ms" },
		{ MC_EXP_P95, "/p95_ms" },
		{ MC_EXP_P99, "/p99_ms" },
		{ MC_EXP_MAX, "/max_ms" },
		{ MC_EXP_MEAN, "/mean_ms" },
		{ MC_EXP_RPS, "/rps" },
	};
	double requests;
	json_t *root = json_loads(l->json, JSON_DECODE_ANY, NULL);

	if (!json_is_object(root) || !number_at(root, "/requests", &requests) || requests < 1) {
		json_decref(root);
		return -EPROTO;
	}
	for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++)
		l->known[direct[i].m] = number_at(root, direct[i].key, &l->value[direct[i].m]);
	l->requests = count_at(root, "/requests");
	l->ok = count_at(root, "/ok");
	l->wrong = count_at(root, "/wrong");
	l->errors = count_at(root, "/error_total");
	l->checked = count_at(root, "/checked");
	json_decref(root);
	if (!l->known[MC_EXP_SUCCESS_RATE] || !l->known[MC_EXP_ERRORS])
		return -EPROTO;
	l->value[MC_EXP_ERROR_RATE] = (double)l->errors / (double)l->requests;
	l->known[MC_EXP_ERROR_RATE] = true;
	for (int m = 0; m < MC_EXP_METRICS; m++)
		if (!l->known[m])
			l->why[m] = m >= MC_EXP_AGREEMENT
			                ? "the external client (client =) does not measure it"
			                : "nothing to measure it on (no answer, nothing checked)";
	return 0;
}

/* In the child: never returns. */
static void exec_client(char **argv, int out_fd, int err_fd)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	mc_exp_signals_child();
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	/* the client measures the target: it never runs the library itself */
	unsetenv("LD_PRELOAD");
	unsetenv("MLCHAOS_CONFIG");
	execvp(argv[0], argv);
	fprintf(stderr, "mlchaos experiment: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Reads the client's stdout until EOF; -EINTR when the run is interrupted first. */
static int read_output(int fd, char *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
			                 { .fd = mc_exp_wake_fd(), .events = POLLIN } };
		if (mc_exp_interrupted())
			return -EINTR;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char chunk[4096];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t take = (size_t)r < cap - 1 - len ? (size_t)r : cap - 1 - len;
		memcpy(buf + len, chunk, take);
		len += take;
	}
	buf[len] = '\0';
	*ret_len = len;
	return 0;
}

static void show_tail(const char *path)
{
	char buf[ERR_TAIL_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > ERR_TAIL_MAX ? size - ERR_TAIL_MAX : 0;
	ssize_t n = pread(fd, buf, ERR_TAIL_MAX, from);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fputs(buf, stderr);
		if (buf[n - 1] != '\n')
			fputc('\n', stderr);
	}
}

static void build_argv(const struct mc_exp_spec *spec, const char *client, const char *url,
                       const char *per_request, char (*num)[32], char **argv)
{
	int a = 0;

	snprintf(num[0], 32, "%llu", (unsigned long long)spec->requests);
	snprintf(num[1], 32, "%llu", (unsigned long long)spec->concurrency);
	snprintf(num[2], 32, "%llu", (unsigned long long)(spec->timeout_ns / 1000000));
	snprintf(num[3], 32, "%llu", (unsigned long long)spec->inputs);
	argv[a++] = (char *)client;
	argv[a++] = (char *)"--url";
	argv[a++] = (char *)url;
	argv[a++] = (char *)"-n";
	argv[a++] = num[0];
	argv[a++] = (char *)"-c";
	argv[a++] = num[1];
	argv[a++] = (char *)"--timeout-ms";
	argv[a++] = num[2];
	argv[a++] = (char *)"--id-prefix";
	argv[a++] = spec->id_prefix;
	argv[a++] = (char *)"--per-request";
	argv[a++] = (char *)per_request;
	argv[a++] = (char *)"--json";
	if (spec->dataset) {
		argv[a++] = (char *)"--dataset";
		argv[a++] = spec->dataset;
	} else if (spec->inputs) {
		argv[a++] = (char *)"--inputs";
		argv[a++] = num[3];
	}
	argv[a] = NULL;
}

static int wait_client(pid_t pid, bool kill_it)
{
	int status = 0;

	if (kill_it)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static int external_run(const struct mc_exp_spec *spec, const char *client, const char *url,
                        const char *per_request, const char *err_path, struct mc_exp_load *ret)
{
	char num[4][32], *argv[24];
	int out[2], err_fd, r;
	size_t len;

	build_argv(spec, client, url, per_request, num, argv);
	err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (err_fd < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		r = -errno;
		close(err_fd);
		return r;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		exec_client(argv, out[1], err_fd);
	r = pid < 0 ? -errno : 0;
	close(out[1]);
	close(err_fd);
	ret->json = r ? NULL : malloc(JSON_MAX);
	if (!r && !ret->json)
		r = -ENOMEM;
	if (!r)
		r = read_output(out[0], ret->json, JSON_MAX, &len);
	close(out[0]);
	int status = pid > 0 ? wait_client(pid, r < 0) : 0;
	if (r < 0)
		return r;
	/* 0: the load ran; 1: no connection at all, which is a figure too (all errors) */
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1 || read_figures(ret) < 0) {
		char how[64];
		mc_exp_status_text(status, how, sizeof(how));
		fprintf(stderr, "mlchaos experiment: the load client %s failed (%s):\n", client,
		        how);
		show_tail(err_path);
		return -EPROTO;
	}
	ret->ran = true;
	return 0;
}

/* ---- the built-in client ---- */

static void set(struct mc_exp_load *l, enum mc_exp_metric m, bool known, double v, const char *why)
{
	l->known[m] = known;
	l->value[m] = known ? v : 0;
	l->why[m] = known ? NULL : why;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0;
}

static void builtin_figures(const struct mc_exp_spec *spec, struct mc_exp_load *l)
{
	const struct mc_load_figures *f = &l->run->fig;
	const char *no_answer = "no request got an answer";
	const char *no_token = spec->stream ? "no streamed token arrived"
	                                    : "only a streamed answer has tokens (stream = true)";

	l->requests = f->requests;
	l->ok = f->count[MC_LOAD_OK];
	l->wrong = f->count[MC_LOAD_WRONG];
	l->errors = f->errors;
	l->checked = f->checked;
	set(l, MC_EXP_SUCCESS_RATE, true, share(l->ok + l->wrong, f->requests), NULL);
	set(l, MC_EXP_ERROR_RATE, true, share(f->errors, f->requests), NULL);
	set(l, MC_EXP_ACCURACY, f->checked > 0, share(f->right, f->checked),
	    "nothing checked: no 2xx answer to a request with an expected answer");
	set(l, MC_EXP_ERRORS, true, (double)f->errors, NULL);
	set(l, MC_EXP_WRONG, true, (double)l->wrong, NULL);
	set(l, MC_EXP_TIMEOUTS, true, (double)f->count[MC_LOAD_TIMEOUT], NULL);
	set(l, MC_EXP_P50, f->latency_known, f->p50_ms, no_answer);
	set(l, MC_EXP_P95, f->latency_known, f->p95_ms, no_answer);
	set(l, MC_EXP_P99, f->latency_known, f->p99_ms, no_answer);
	set(l, MC_EXP_MAX, f->latency_known, f->max_ms, no_answer);
	set(l, MC_EXP_MEAN, f->latency_known, f->mean_ms, no_answer);
	set(l, MC_EXP_RPS, true, f->rps, NULL);
	set(l, MC_EXP_AGREEMENT, false, 0, "not compared: the before phase did not run");
	set(l, MC_EXP_CONTAMINATED, false, 0, "not compared: the before phase did not run");
	set(l, MC_EXP_HEALTH_LIES, f->health_known, (double)f->health_lies, "no [health] url");
	set(l, MC_EXP_TTFT_P50, f->ttft_known, f->ttft_p50_ms, no_token);
	set(l, MC_EXP_TTFT_P99, f->ttft_known, f->ttft_p99_ms, no_token);
	set(l, MC_EXP_ITL_P50, f->itl_known, f->itl_p50_ms,
	    spec->stream ? "no answer streamed two tokens" : no_token);
	set(l, MC_EXP_ITL_P99, f->itl_known, f->itl_p99_ms,
	    spec->stream ? "no answer streamed two tokens" : no_token);
}

static int figures_json(struct mc_exp_load *l)
{
	size_t size;
	FILE *out = open_memstream(&l->json, &size);

	if (!out)
		return -ENOMEM;
	mc_load_figures_json(out, &l->run->fig);
	return fclose(out) == 0 ? 0 : -ENOMEM;
}

static int builtin_run(const struct mc_exp_spec *spec, const char *url, const char *health_url,
                       const char *per_request, struct mc_exp_load *ret)
{
	struct mc_load_conf c = {
		.url = url,
		.health_url = health_url,
		.health_interval_ns = spec->health_interval_ns,
		.requests = spec->requests,
		.concurrency = spec->concurrency,
		.timeout_ns = spec->timeout_ns,
		.id_prefix = spec->id_prefix,
		.id_header = spec->id_header,
		.http_version = spec->http_version,
		.insecure = spec->insecure,
		.plan = spec->plan,
		.per_request = per_request,
		.who = "mlchaos experiment",
		.wake_fd = mc_exp_wake_fd(),
	};
	int err;

	ret->run = calloc(1, sizeof(*ret->run));
	if (!ret->run)
		return -ENOMEM;
	err = mc_load_run(&c, ret->run);
	if (err == -ENOMEM)
		fputs("mlchaos experiment: out of memory in the load\n", stderr);
	if (err == 0)
		builtin_figures(spec, ret);
	if (err == 0)
		err = figures_json(ret);
	if (err == 0)
		ret->ran = true;
	return err;
}

const char *mc_exp_load_default_path(const struct mc_exp_spec *spec)
{
	if (!spec->plan)
		return "/predict"; /* the external client speaks the reference server's API */
	return spec->plan->path ? spec->plan->path : "/";
}

int mc_exp_load_run(const struct mc_exp_spec *spec, const char *client, const char *url,
                    const char *health_url, const char *per_request, const char *err_path,
                    struct mc_exp_load *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (spec->client)
		return external_run(spec, client, url, per_request, err_path, ret);
	return builtin_run(spec, url, health_url, per_request, ret);
}

void mc_exp_load_free(struct mc_exp_load *l)
{
	if (l->run)
		mc_load_run_free(l->run);
	free(l->run);
	free(l->json);
	memset(l, 0, sizeof(*l));
}

/* ---- answers compared with those before chaos ---- */

struct targets {
	const char *prefix;
	size_t prefix_len;
	bool *chosen; /* per request index */
	uint64_t n;
};

/* "PREFIX-N" names request N. */
static void note_key(void *user, const char *key)
{
	struct targets *t = user;
	char *end;

	if (strncmp(key, t->prefix, t->prefix_len) != 0 || key[t->prefix_len] != '-' ||
	    key[t->prefix_len + 1] < '0' || key[t->prefix_len + 1] > '9')
		return;
	errno = 0;
	unsigned long long i = strtoull(key + t->prefix_len + 1, &end, 10);
	if (!*end && !errno && i < t->n)
		t->chosen[i] = true;
}

/* The requests a select = request rule chooses (the engine's own formula on each request's
 * id, as `mlchaos select` prints), and those the event logs name as faulted. A rule with a
 * path acts on files, not on requests: at rate 100% it "selects" every key, yet harms a
 * request only when its file is read while serving it, and then the log names the key. */
static int targeted(const struct mc_exp_spec *spec, const char *run_dir, struct targets *t)
{
	struct mc_ruleset *rs;
	char key[320];

	if (mc_engine_build(spec->chaos, NULL, &rs) < 0)
		return -ENOMEM;
	for (unsigned r = 0; r < mc_engine_rule_count(rs); r++) {
		const struct mc_erule *rule = mc_engine_rule(rs, r);
		if (rule->select != MC_SELECT_REQUEST || rule->path)
			continue;
		for (uint64_t i = 0; i < t->n; i++) {
			int n = snprintf(key, sizeof(key), "%s-%llu", spec->id_prefix,
			                 (unsigned long long)i);
			t->chosen[i] = t->chosen[i] || mc_engine_select_key(rule, key, (size_t)n);
		}
	}
	mc_engine_free(rs);
	if (run_dir)
		mc_exp_fault_keys(run_dir, note_key, t);
	return 0;
}

/* Request i agrees when both it and request i before chaos got an answer, and the two are
 * equal within the tolerance; errors never agree. */
static void compare_phase(const struct mc_exp_spec *spec, const struct mc_load_run *before,
                          const struct targets *t, struct mc_exp_load *l)
{
	uint64_t n = l->run->n < before->n ? l->run->n : before->n, agree = 0, changed = 0;

	for (uint64_t i = 0; i < n; i++) {
		const json_t *a = before->results[i].answer, *b = l->run->results[i].answer;
		bool same = a && b && mc_load_equal(a, b, spec->plan->tolerance);
		agree += same;
		changed += a && !same && !t->chosen[i];
	}
	set(l, MC_EXP_AGREEMENT, n > 0, n ? (double)agree / (double)n : 0, "no request");
	set(l, MC_EXP_CONTAMINATED, true, (double)changed, NULL);
}

void mc_exp_load_compare(const struct mc_exp_spec *spec, const char *run_dir,
                         struct mc_exp_load load[MC_EXP_PHASES])
{
	const struct mc_exp_load *before = &load[MC_EXP_BEFORE];
	struct targets t = { .prefix = spec->id_prefix, .prefix_len = strlen(spec->id_prefix) };

	if (!before->ran || !before->run)
		return;
	t.n = before->run->n;
	t.chosen = calloc(t.n ? t.n : 1, sizeof(bool));
	if (!t.chosen || targeted(spec, run_dir, &t) < 0) {
		for (int p = 0; p < MC_EXP_PHASES; p++)
			load[p].why[MC_EXP_CONTAMINATED] = "out of memory";
		free(t.chosen);
		return;
	}
	for (int p = 0; p < MC_EXP_PHASES; p++)
		if (load[p].ran && load[p].run)
			compare_phase(spec, before->run, &t, &load[p]);
	free(t.chosen);
}
