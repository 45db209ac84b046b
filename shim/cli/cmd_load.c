/* cmd_load.c: `mlchaos load [options] [URL]`: the experiment's HTTP load client on its own:
 * sends the requests, prints the figures (text, or the JSON object of the experiment's
 * report). Starts nothing and injects nothing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "experiment/experiment.h"
#include "load.h"
#include "options.h"

#define WHO                 "mlchaos load"
#define DEFAULT_REQUESTS    200
#define DEFAULT_CONCURRENCY 4
#define DEFAULT_TIMEOUT_NS  5000000000ull
#define DEFAULT_HEALTH_NS   200000000ull
#define MAX_REQUESTS        10000000ull
#define MAX_CONCURRENCY     1024

static void usage(FILE *out)
{
	fputs("usage: mlchaos load [options] [URL]\n"
	      "Send requests to URL (http:// or https://) with the experiment's load client and\n"
	      "print what it measured: answers, errors by kind, latency, tokens, health lies.\n"
	      "  --config FILE          take [load] and [health] from FILE (an experiment file;\n"
	      "                         [experiment] and [steady_state] are not needed there);\n"
	      "                         the request options below then come from the file only\n"
	      "  -n, --requests N       requests to send (default 200)\n"
	      "  -c, --concurrency N    requests in flight, on kept-alive connections (4)\n"
	      "  --requests-file FILE   JSON Lines: one request per line, sent in order, cycling\n"
	      "  --protocol P           mlchaos, http-json, openai-completions, openai-chat,\n"
	      "                         kserve-v2 (default: http-json with a requests file,\n"
	      "                         else mlchaos)\n"
	      "  --dataset FILE         mlchaos: a data set with known answers (mlchaos-gen)\n"
	      "  --answer POINTER       the JSON pointer to the part of each answer compared\n"
	      "  --tolerance X          numbers within X are equal (default 0)\n"
	      "  --model NAME           openai: the \"model\"; kserve-v2: the model's path\n"
	      "  --stream               openai: stream the answer (SSE), measure ttft and itl\n"
	      "  --timeout DURATION     per request, connecting included (default 5s)\n"
	      "  --id-prefix P          request i carries the id P-i (default req)\n"
	      "  --id-header NAME       the id's header (default X-Request-Id)\n"
	      "  --health URL           probe URL alongside the load (GET) and count health lies\n"
	      "  --health-interval DUR  between probes (default 200ms)\n"
	      "  --http 1.1|2           the HTTP version (default: libcurl's: 1.1, or 2 on TLS)\n"
	      "  --insecure             TLS: do not check the server's certificate\n"
	      "  --per-request FILE     one JSON line per request, in index order\n"
	      "  --json                 the figures as one JSON object\n"
	      "  -h, --help             this text\n" MC_HELP_OPTION_ORDER
	      "See config/experiments/README.md for the requests file, the protocols and the\n"
	      "figures. Exit status: 0 the load ran (whatever the answers); 1 no request could\n"
	      "connect; 2 usage, or a bad file.\n",
	      out);
}

struct cli {
	const char *url, *config, *requests_file, *dataset, *answer, *model, *id_prefix;
	const char *id_header, *health, *per_request;
	uint64_t requests, concurrency, timeout_ns, health_ns;
	double tolerance;
	int protocol, http_version;
	bool stream, insecure, json, plan_options;
};

enum {
	O_CONFIG = 256,
	O_RFILE,
	O_PROTOCOL,
	O_DATASET,
	O_ANSWER,
	O_TOLERANCE,
	O_MODEL,
	O_STREAM,
	O_TIMEOUT,
	O_ID_PREFIX,
	O_ID_HEADER,
	O_HEALTH,
	O_HEALTH_INTERVAL,
	O_HTTP,
	O_INSECURE,
	O_PER_REQUEST,
	O_JSON
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, WHO ": ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int count_arg(const char *arg, uint64_t max, uint64_t *ret)
{
	if (mc_cfg_parse_u64(arg, ret) < 0 || *ret == 0 || *ret > max)
		return bad("'%s': give a whole number from 1 up", arg);
	return 0;
}

/* The options that shape requests: with --config, the file gives them. */
static int plan_option(struct cli *c, int opt, const char *arg)
{
	char *end;

	c->plan_options = true;
	switch (opt) {
	case O_RFILE:
		c->requests_file = arg;
		return 0;
	case O_PROTOCOL:
		c->protocol = mc_load_protocol_of(arg);
		return c->protocol < 0 ? bad("unknown protocol '%s' (see --help)", arg) : 0;
	case O_DATASET:
		c->dataset = arg;
		return 0;
	case O_ANSWER:
		c->answer = arg;
		return mc_load_pointer_valid(arg) ? 0
		                                  : bad("--answer '%s': not a JSON pointer", arg);
	case O_TOLERANCE:
		c->tolerance = strtod(arg, &end);
		return end == arg || *end || !(c->tolerance >= 0)
		           ? bad("--tolerance '%s': a number of 0 or more", arg)
		           : 0;
	case O_MODEL:
		c->model = arg;
		return 0;
	case O_STREAM:
		c->stream = true;
		return 0;
	}
	return 2;
}

static int run_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case 'n':
		return count_arg(arg, MAX_REQUESTS, &c->requests);
	case 'c':
		return count_arg(arg, MAX_CONCURRENCY, &c->concurrency);
	case O_CONFIG:
		c->config = arg;
		return 0;
	case O_TIMEOUT:
		return mc_cfg_parse_duration(arg, &c->timeout_ns) < 0 || c->timeout_ns < 1000000
		           ? bad("--timeout '%s': a duration of 1ms or more", arg)
		           : 0;
	case O_ID_PREFIX:
		c->id_prefix = arg;
		return 0;
	case O_ID_HEADER:
		c->id_header = arg;
		return 0;
	case O_HEALTH:
		c->health = arg;
		return 0;
	case O_HEALTH_INTERVAL:
		return mc_cfg_parse_duration(arg, &c->health_ns) < 0 || c->health_ns < 10000000
		           ? bad("--health-interval '%s': a duration of 10ms or more", arg)
		           : 0;
	case O_HTTP:
		c->http_version = strcmp(arg, "1.1") == 0 ? 1 : strcmp(arg, "2") == 0 ? 2 : -1;
		return c->http_version < 0 ? bad("--http '%s': 1.1 or 2", arg) : 0;
	case O_INSECURE:
		c->insecure = true;
		return 0;
	case O_PER_REQUEST:
		c->per_request = arg;
		return 0;
	case O_JSON:
		c->json = true;
		return 0;
	}
	return plan_option(c, opt, arg);
}

static int parse_options(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "requests", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "requests-file", required_argument, NULL, O_RFILE },
		{ "protocol", required_argument, NULL, O_PROTOCOL },
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "answer", required_argument, NULL, O_ANSWER },
		{ "tolerance", required_argument, NULL, O_TOLERANCE },
		{ "model", required_argument, NULL, O_MODEL },
		{ "stream", no_argument, NULL, O_STREAM },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "id-prefix", required_argument, NULL, O_ID_PREFIX },
		{ "id-header", required_argument, NULL, O_ID_HEADER },
		{ "health", required_argument, NULL, O_HEALTH },
		{ "health-interval", required_argument, NULL, O_HEALTH_INTERVAL },
		{ "http", required_argument, NULL, O_HTTP },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "per-request", required_argument, NULL, O_PER_REQUEST },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, st;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:c:h", options, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, WHO ": bad option '%s'\n", mc_opt_rejected(argv));
			usage(stderr);
			return 2;
		}
		st = run_option(c, opt, optarg);
		if (st)
			return st;
	}
	if (argc - optind > 1)
		return bad("give at most one URL%s", "");
	if (argc - optind == 1)
		c->url = argv[optind];
	if (c->config && c->plan_options)
		return bad("with --config, the requests (file, protocol, answer, ...) come from "
		           "%s: give them there",
		           c->config);
	return -1;
}

/* ---- the plan ---- */

static void say(void *user, const char *msg)
{
	(void)user;
	fprintf(stderr, "%s\n", msg);
}

static int plan_from_options(const struct cli *c, struct mc_load_plan *plan)
{
	struct mc_load_plan_opts o = {
		.protocol = c->protocol >= 0   ? (enum mc_load_protocol)c->protocol
		            : c->requests_file ? MC_LOAD_HTTP_JSON
		                               : MC_LOAD_MLCHAOS,
		.requests_file = c->requests_file,
		.dataset = c->dataset,
		.model = c->model,
		.stream = c->stream,
		.answer = c->answer,
		.tolerance = c->tolerance,
	};
	char why[256];

	if (mc_load_plan_check(&o, why, sizeof(why)) < 0)
		return bad("%s", why);
	int err = mc_load_plan_build(&o, say, NULL, plan);
	if (err == -ENOMEM)
		fputs(WHO ": out of memory\n", stderr);
	return err ? 2 : 0;
}

/* ---- the figures as text ---- */

static void ms_text(FILE *out, const char *name, bool known, double v)
{
	if (known)
		fprintf(out, "  %s %.3f", name, v);
	else
		fprintf(out, "  %s n/a", name);
}

static void print_text(const struct mc_load_figures *f)
{
	printf("requests %llu  concurrency %llu  connections %llu  duration %.3f s  %.1f req/s\n",
	       (unsigned long long)f->requests, (unsigned long long)f->concurrency,
	       (unsigned long long)f->connections, f->duration_s, f->rps);
	printf("ok %llu  wrong %llu  errors %llu (", (unsigned long long)f->count[MC_LOAD_OK],
	       (unsigned long long)f->count[MC_LOAD_WRONG], (unsigned long long)f->errors);
	for (int k = MC_LOAD_5XX; k < MC_LOAD_KINDS; k++)
		printf("%s%s %llu", k == MC_LOAD_5XX ? "" : ", ",
		       mc_load_kind_name((enum mc_load_kind)k), (unsigned long long)f->count[k]);
	printf(")  unreadable answers %llu\n", (unsigned long long)f->answer_errors);
	if (f->checked)
		printf("accuracy %.2f%% (%llu checked)\n",
		       100.0 * (double)f->right / (double)f->checked,
		       (unsigned long long)f->checked);
	else
		printf("accuracy n/a (nothing checked)\n");
	printf("latency ms:");
	ms_text(stdout, "p50", f->latency_known, f->p50_ms);
	ms_text(stdout, "p95", f->latency_known, f->p95_ms);
	ms_text(stdout, "p99", f->latency_known, f->p99_ms);
	ms_text(stdout, "max", f->latency_known, f->max_ms);
	ms_text(stdout, "mean", f->latency_known, f->mean_ms);
	fputc('\n', stdout);
	if (f->ttft_known || f->itl_known) {
		printf("tokens ms:");
		ms_text(stdout, "ttft_p50", f->ttft_known, f->ttft_p50_ms);
		ms_text(stdout, "ttft_p99", f->ttft_known, f->ttft_p99_ms);
		ms_text(stdout, "itl_p50", f->itl_known, f->itl_p50_ms);
		ms_text(stdout, "itl_p99", f->itl_known, f->itl_p99_ms);
		fputc('\n', stdout);
	}
	if (f->health_known)
		printf("health: %llu probes, %llu answered 2xx, %llu lies\n",
		       (unsigned long long)f->probes, (unsigned long long)f->probes_ok,
		       (unsigned long long)f->health_lies);
}

/* ---- the run ---- */

static void defaults_from(struct cli *c, const struct mc_exp_spec *spec)
{
	if (!c->url)
		c->url = spec->url;
	if (!c->requests)
		c->requests = spec->requests;
	if (!c->concurrency)
		c->concurrency = spec->concurrency;
	if (!c->timeout_ns)
		c->timeout_ns = spec->timeout_ns;
	if (!c->id_prefix)
		c->id_prefix = spec->id_prefix;
	if (!c->id_header)
		c->id_header = spec->id_header;
	if (!c->health)
		c->health = spec->health_url;
	if (!c->health_ns)
		c->health_ns = spec->health_interval_ns;
	if (!c->http_version)
		c->http_version = spec->http_version;
	c->insecure = c->insecure || spec->insecure;
}

static int run_load(struct cli *c, const struct mc_load_plan *plan)
{
	struct mc_load_conf conf = {
		.url = c->url,
		.health_url = c->health,
		.health_interval_ns = c->health_ns ? c->health_ns : DEFAULT_HEALTH_NS,
		.requests = c->requests ? c->requests : DEFAULT_REQUESTS,
		.concurrency = c->concurrency ? c->concurrency : DEFAULT_CONCURRENCY,
		.timeout_ns = c->timeout_ns ? c->timeout_ns : DEFAULT_TIMEOUT_NS,
		.id_prefix = c->id_prefix ? c->id_prefix : "req",
		.id_header = c->id_header ? c->id_header : "X-Request-Id",
		.http_version = c->http_version,
		.insecure = c->insecure,
		.plan = plan,
		.per_request = c->per_request,
		.who = WHO,
		.wake_fd = -1,
	};
	struct mc_load_run run;

	if (!c->url)
		return bad("no URL: give one%s, or [load] url in --config", "");
	if (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))
		return bad("'%s': give an http:// or https:// URL", c->url);
	if (strstr(c->url, "${PORT}") || (c->health && strstr(c->health, "${PORT}")))
		return bad("'%s' holds ${PORT}, which only an experiment knows: give the URL",
		           c->url);
	int err = mc_load_run(&conf, &run);
	if (err) {
		fprintf(stderr, WHO ": the load could not run: %s\n", strerror(-err));
		return 2;
	}
	if (c->json) {
		mc_load_figures_json(stdout, &run.fig);
		fputc('\n', stdout);
	} else {
		print_text(&run.fig);
	}
	int st = run.fig.count[MC_LOAD_CONNECT] == run.fig.requests ? 1 : 0;
	mc_load_run_free(&run);
	return fflush(stdout) == 0 ? st : 2;
}

int mc_cmd_load(int argc, char **argv)
{
	struct cli c = { .protocol = -1 };
	struct mc_exp_spec spec;
	struct mc_load_plan own;
	const struct mc_load_plan *plan = &own;
	int st = parse_options(&c, argc, argv);

	if (st >= 0)
		return st;
	memset(&spec, 0, sizeof(spec));
	if (c.config) {
		struct mc_exp_vars vars = { .run_dir = ".", .bin_dir = "." };
		if (mc_exp_spec_load_load(c.config, &vars, &spec) < 0) {
			mc_exp_spec_free(&spec);
			return bad("%s is not valid (see above)", c.config);
		}
		if (!spec.plan) {
			mc_exp_spec_free(&spec);
			return bad("%s: the external client (client =) is not run by mlchaos load",
			           c.config);
		}
		defaults_from(&c, &spec);
		plan = spec.plan;
	} else if (plan_from_options(&c, &own) != 0) {
		return 2;
	}
	st = run_load(&c, plan);
	if (c.config)
		mc_exp_spec_free(&spec);
	else
		mc_load_plan_free(&own);
	return st;
}
