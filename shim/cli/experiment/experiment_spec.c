/* experiment_spec.c: the experiment file: [experiment], [load], [steady_state] parsed here,
 * [mlchaos] and [fault.*] handed to the config parser at their own line numbers. Never starts
 * anything; writes no file but the chaos config it is asked for. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment.h"
#include "load.h"

#define DEFAULT_REQUESTS    200
#define DEFAULT_CONCURRENCY 4
#define DEFAULT_TIMEOUT_NS  5000000000ull
#define DEFAULT_READY_NS    10000000000ull
#define DEFAULT_STOP_NS     5000000000ull
#define MAX_REQUESTS        10000000ull
#define MAX_CONCURRENCY     1024
#define MAX_INPUTS          1024
#define ID_PREFIX_MAX       64
#define DEFAULT_HEALTH_NS   200000000ull
#define MIN_HEALTH_NS       10000000ull
#define BUILTIN_VARS        "${RUN_DIR}, ${EXPERIMENT_DIR}, ${MLCHAOS_BIN}, ${MLCHAOS_TOOLS}, ${PORT}"

enum section {
	SEC_NONE,
	SEC_EXPERIMENT,
	SEC_LOAD,
	SEC_STEADY,
	SEC_MLCHAOS,
	SEC_FAULT,
	SEC_HEALTH,
	SEC_SWEEP,
	SEC_FLEET,
	SEC_BAD
};

enum key {
	K_NAME,
	K_COMMAND,
	K_WORKDIR,
	K_READY,
	K_READY_TIMEOUT,
	K_STOP_TIMEOUT,
	K_SETTLE,
	K_SIGNAL,
	K_TARGET_LOG,
	K_RESTART,
	K_ALLOW_HALT,
	K_URL,
	K_REQUESTS,
	K_CONCURRENCY,
	K_INPUTS,
	K_TIMEOUT,
	K_DATASET,
	K_ID_PREFIX,
	K_CLIENT,
	K_REQUESTS_FILE,
	K_ANSWER,
	K_TOLERANCE,
	K_PROTOCOL,
	K_STREAM,
	K_MODEL,
	K_ID_HEADER,
	K_HTTP,
	K_INSECURE,
	K_HEALTH_URL,
	K_HEALTH_INTERVAL,
	K_SWEEP_KEY,
	K_SWEEP_VALUES,
	K_SWEEP_PER,
	K_SWEEP_FAULT,
	K_SWEEP_MODEL,
	K_SWEEP_LIMIT,
	K_SWEEP_GATE,
	K_SWEEP_UNTIL,
	K_TARGET_URL,
	K_FLEET_CONTROL,
	K_FLEET_TOKEN_FILE,
	K_COUNT
};

static const struct {
	const char *name;
	enum section section;
} keys[K_COUNT] = {
	[K_NAME] = { "name", SEC_EXPERIMENT },
	[K_COMMAND] = { "command", SEC_EXPERIMENT },
	[K_WORKDIR] = { "workdir", SEC_EXPERIMENT },
	[K_READY] = { "ready", SEC_EXPERIMENT },
	[K_READY_TIMEOUT] = { "ready_timeout", SEC_EXPERIMENT },
	[K_STOP_TIMEOUT] = { "stop_timeout", SEC_EXPERIMENT },
	[K_SETTLE] = { "settle", SEC_EXPERIMENT },
	[K_SIGNAL] = { "signal", SEC_EXPERIMENT },
	[K_TARGET_LOG] = { "target_log", SEC_EXPERIMENT },
	[K_RESTART] = { "restart", SEC_EXPERIMENT },
	[K_ALLOW_HALT] = { "allow_halt", SEC_EXPERIMENT },
	[K_URL] = { "url", SEC_LOAD },
	[K_REQUESTS] = { "requests", SEC_LOAD },
	[K_CONCURRENCY] = { "concurrency", SEC_LOAD },
	[K_INPUTS] = { "inputs", SEC_LOAD },
	[K_TIMEOUT] = { "timeout", SEC_LOAD },
	[K_DATASET] = { "dataset", SEC_LOAD },
	[K_ID_PREFIX] = { "id_prefix", SEC_LOAD },
	[K_CLIENT] = { "client", SEC_LOAD },
	[K_REQUESTS_FILE] = { "requests_file", SEC_LOAD },
	[K_ANSWER] = { "answer", SEC_LOAD },
	[K_TOLERANCE] = { "tolerance", SEC_LOAD },
	[K_PROTOCOL] = { "protocol", SEC_LOAD },
	[K_STREAM] = { "stream", SEC_LOAD },
	[K_MODEL] = { "model", SEC_LOAD },
	[K_ID_HEADER] = { "id_header", SEC_LOAD },
	[K_HTTP] = { "http", SEC_LOAD },
	[K_INSECURE] = { "insecure", SEC_LOAD },
	[K_HEALTH_URL] = { "url", SEC_HEALTH },
	[K_HEALTH_INTERVAL] = { "interval", SEC_HEALTH },
	[K_SWEEP_KEY] = { "key", SEC_SWEEP },
	[K_SWEEP_VALUES] = { "values", SEC_SWEEP },
	[K_SWEEP_PER] = { "per", SEC_SWEEP },
	[K_SWEEP_FAULT] = { "fault", SEC_SWEEP },
	[K_SWEEP_MODEL] = { "model", SEC_SWEEP },
	[K_SWEEP_LIMIT] = { "limit", SEC_SWEEP },
	[K_SWEEP_GATE] = { "gate", SEC_SWEEP },
	[K_SWEEP_UNTIL] = { "until", SEC_SWEEP },
	[K_TARGET_URL] = { "url", SEC_EXPERIMENT },
	[K_FLEET_CONTROL] = { "control", SEC_FLEET },
	[K_FLEET_TOKEN_FILE] = { "token_file", SEC_FLEET },
};

static const struct {
	const char *name;
	enum mc_exp_kind kind;
} metrics[MC_EXP_METRICS] = {
	[MC_EXP_SUCCESS_RATE] = { "success_rate", MC_EXP_KIND_RATE },
	[MC_EXP_ERROR_RATE] = { "error_rate", MC_EXP_KIND_RATE },
	[MC_EXP_ACCURACY] = { "accuracy", MC_EXP_KIND_RATE },
	[MC_EXP_ERRORS] = { "errors", MC_EXP_KIND_COUNT },
	[MC_EXP_WRONG] = { "wrong", MC_EXP_KIND_COUNT },
	[MC_EXP_TIMEOUTS] = { "timeouts", MC_EXP_KIND_COUNT },
	[MC_EXP_P50] = { "p50", MC_EXP_KIND_LATENCY },
	[MC_EXP_P95] = { "p95", MC_EXP_KIND_LATENCY },
	[MC_EXP_P99] = { "p99", MC_EXP_KIND_LATENCY },
	[MC_EXP_MAX] = { "max", MC_EXP_KIND_LATENCY },
	[MC_EXP_MEAN] = { "mean", MC_EXP_KIND_LATENCY },
	[MC_EXP_RPS] = { "rps", MC_EXP_KIND_RPS },
	[MC_EXP_AGREEMENT] = { "agreement", MC_EXP_KIND_RATE },
	[MC_EXP_CONTAMINATED] = { "contaminated", MC_EXP_KIND_COUNT },
	[MC_EXP_HEALTH_LIES] = { "health_lies", MC_EXP_KIND_COUNT },
	[MC_EXP_TTFT_P50] = { "ttft_p50", MC_EXP_KIND_LATENCY },
	[MC_EXP_TTFT_P99] = { "ttft_p99", MC_EXP_KIND_LATENCY },
	[MC_EXP_ITL_P50] = { "itl_p50", MC_EXP_KIND_LATENCY },
	[MC_EXP_ITL_P99] = { "itl_p99", MC_EXP_KIND_LATENCY },
};

/* Longest first, so that "<=" is not read as "<". */
static const struct {
	const char *text;
	enum mc_exp_op op;
} ops[] = {
	{ "<=", MC_EXP_LE }, { ">=", MC_EXP_GE }, { "==", MC_EXP_EQ },
	{ "<", MC_EXP_LT },  { ">", MC_EXP_GT },
};

static const char *const phase_names[MC_EXP_PHASES] = { "before", "during", "after" };

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM },
};

const char *mc_exp_metric_name(enum mc_exp_metric m)
{
	return (unsigned)m < MC_EXP_METRICS ? metrics[m].name : "?";
}

enum mc_exp_kind mc_exp_metric_kind(enum mc_exp_metric m)
{
	return (unsigned)m < MC_EXP_METRICS ? metrics[m].kind : MC_EXP_KIND_COUNT;
}

const char *mc_exp_op_name(enum mc_exp_op op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].text;
	return "?";
}

const char *mc_exp_phase_name(enum mc_exp_phase p)
{
	return (unsigned)p < MC_EXP_PHASES ? phase_names[p] : "?";
}

/* ---- a growing text buffer ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* ---- the parse ---- */

struct parse {
	const char *file;
	const struct mc_exp_vars *vars;
	char exp_dir[PATH_MAX];
	struct mc_exp_spec *spec;
	enum section section;
	int lineno;
	int errors;
	int section_line[SEC_BAD]; /* first header line of each section kind */
	int key_line[K_COUNT];
	struct sbuf chaos;
	bool load_only;     /* `mlchaos load --config`: no target, no hypotheses needed */
	char *sweep_values; /* [sweep] values, as written, until the chaos config is parsed */
	char *sweep_key;    /* [sweep] key, as written */
};

static void say(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: message" (or "FILE: message" when line is 0) on stderr; counts errors. */
static void say(struct parse *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", p->file, line);
	else
		fprintf(stderr, "%s: ", p->file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (strncmp(fmt, "warning:", 8) != 0)
		p->errors++;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Cuts a ` ;` comment: a ';' with whitespace before it, as in the INI language. */
static void cut_comment(char *s)
{
	for (char *c = strchr(s, ';'); c; c = strchr(c + 1, ';')) {
		if (c > s && isspace((unsigned char)c[-1])) {
			*c = '\0';
			return;
		}
	}
}

static const char *var_value(struct parse *p, const char *name, size_t n, bool keep_port,
                             bool *ret_keep)
{
	static char env_name[128];

	*ret_keep = false;
	if (n == 7 && memcmp(name, "RUN_DIR", 7) == 0)
		return p->vars->run_dir;
	if (n == 14 && memcmp(name, "EXPERIMENT_DIR", 14) == 0)
		return p->exp_dir;
	if (n == 11 && memcmp(name, "MLCHAOS_BIN", 11) == 0)
		return p->vars->bin_dir;
	if (n == 13 && memcmp(name, "MLCHAOS_TOOLS", 13) == 0)
		return p->vars->tools_dir ? p->vars->tools_dir : p->vars->bin_dir;
	if (n == 4 && memcmp(name, "PORT", 4) == 0) {
		if (!keep_port)
			say(p, p->lineno,
			    "${PORT} is known only once the target is ready: use it in [load] url");
		*ret_keep = keep_port;
		return NULL;
	}
	if (n >= sizeof(env_name)) {
		say(p, p->lineno, "variable name too long: '%.20s...'", name);
		return NULL;
	}
	memcpy(env_name, name, n);
	env_name[n] = '\0';
	const char *v = getenv(env_name);
	if (!v)
		say(p, p->lineno, "${%s} is not set in the environment (built in: %s)", env_name,
		    BUILTIN_VARS);
	return v;
}

/* s with ${NAME} expanded (NAME: letters, digits, '_'); ${PORT} kept as is when keep_port.
 * malloc'd; NULL after reporting an unknown or malformed variable. */
static char *expand(struct parse *p, const char *s, bool keep_port)
{
	struct sbuf b = { 0 };
	bool bad = false;

	sb_add(&b, "", 0);
	while (*s) {
		const char *open = strstr(s, "${");
		if (!open) {
			sb_str(&b, s);
			break;
		}
		sb_add(&b, s, (size_t)(open - s));
		const char *name = open + 2, *end = name;
		while (isalnum((unsigned char)*end) || *end == '_')
			end++;
		if (*end != '}' || end == name) {
			say(p, p->lineno, "malformed variable at '%.24s': write ${NAME}", open);
			bad = true;
			break;
		}
		bool keep;
		const char *v = var_value(p, name, (size_t)(end - name), keep_port, &keep);
		if (keep)
			sb_add(&b, open, (size_t)(end + 1 - open));
		else if (v)
			sb_str(&b, v);
		else
			bad = true;
		s = end + 1;
	}
	if (bad || b.oom) {
		if (b.oom)
			say(p, p->lineno, "out of memory");
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* One word of a command line; *s is advanced past it. Quotes: '...' literal, "..." where a
 * backslash escapes " and \; outside quotes a backslash escapes any character. */
static int next_word(struct parse *p, const char **s, struct sbuf *w)
{
	const char *c = *s;
	char quote = 0;

	sb_add(w, "", 0);
	for (; *c; c++) {
		if (quote == '\'' && *c != '\'') {
			sb_add(w, c, 1);
		} else if (quote == '"' && *c == '\\' && (c[1] == '"' || c[1] == '\\')) {
			sb_add(w, ++c, 1);
		} else if (quote && *c == quote) {
			quote = 0;
		} else if (quote) {
			sb_add(w, c, 1);
		} else if (*c == '\'' || *c == '"') {
			quote = *c;
		} else if (*c == '\\' && c[1]) {
			sb_add(w, ++c, 1);
		} else if (isspace((unsigned char)*c)) {
			break;
		} else {
			sb_add(w, c, 1);
		}
	}
	*s = c;
	if (quote) {
		say(p, p->lineno, "unterminated %c quote in command", quote);
		return -EINVAL;
	}
	return w->oom ? -ENOMEM : 0;
}

static void set_command(struct parse *p, const char *value)
{
	struct mc_exp_spec *spec = p->spec;
	const char *s = value;

	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		struct sbuf w = { 0 };
		if (next_word(p, &s, &w) < 0) {
			free(w.p);
			return;
		}
		if (spec->argc == MC_EXP_MAX_ARGS) {
			say(p, p->lineno, "command has more than %d words", MC_EXP_MAX_ARGS);
			free(w.p);
			return;
		}
		char *word = expand(p, w.p, false);
		free(w.p);
		if (!word)
			return;
		spec->argv[spec->argc++] = word;
	}
	if (spec->argc == 0)
		say(p, p->lineno, "command is empty: give the target's command line");
}

static void set_path(struct parse *p, char **slot, const char *value, bool keep_port)
{
	free(*slot);
	*slot = expand(p, value, keep_port);
}

static void set_duration(struct parse *p, uint64_t *slot, const char *key, const char *value)
{
	if (mc_cfg_parse_duration(value, slot) < 0)
		say(p, p->lineno, "%s = '%s': give a duration such as 500ms or 10s", key, value);
}

static void set_count(struct parse *p, uint64_t *slot, const char *key, const char *value,
                      uint64_t max)
{
	if (mc_cfg_parse_u64(value, slot) < 0 || *slot == 0 || *slot > max)
		say(p, p->lineno, "%s = '%s': give a whole number from 1 to %llu", key, value,
		    (unsigned long long)max);
}

static void set_bool(struct parse *p, bool *slot, const char *key, const char *value)
{
	if (mc_cfg_parse_bool(value, slot) < 0)
		say(p, p->lineno, "%s = '%s': give true or false", key, value);
}

static void set_signal(struct parse *p, const char *value)
{
	const char *name = strncmp(value, "SIG", 3) == 0 ? value + 3 : value;

	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcmp(name, signals[i].name) == 0) {
			p->spec->signal = signals[i].sig;
			return;
		}
	}
	say(p, p->lineno, "signal = '%s': one of HUP, INT, QUIT, USR1, USR2, TERM", value);
}

static void set_ready(struct parse *p, const char *value)
{
	struct mc_exp_spec *spec = p->spec;

	set_path(p, &spec->ready, value, false);
	if (!spec->ready)
		return;
	spec->ready_is_url =
	    strncmp(spec->ready, "http://", 7) == 0 || strncmp(spec->ready, "https://", 8) == 0;
	if (spec->ready_is_url) {
		char host[256], path[MC_EXP_URL_MAX];
		int port;
		if (mc_exp_url_split(spec->ready, host, sizeof(host), &port, path, sizeof(path)) <
		    0)
			say(p, p->lineno,
			    "ready = '%s': not a URL of the form http(s)://HOST:PORT/PATH", value);
	}
}

static void set_url(struct parse *p, char **slot, const char *value)
{
	set_path(p, slot, value, true);
	if (*slot && strncmp(*slot, "http://", 7) != 0 && strncmp(*slot, "https://", 8) != 0)
		say(p, p->lineno, "url = '%s': give an http:// or https://HOST:PORT/PATH URL",
		    value);
}

/* [fleet] control = URL...: the replicas' control endpoints, separated by white space. */
static void set_fleet_control(struct parse *p, const char *value)
{
	char *copy = expand(p, value, false), *save = NULL;
	struct mc_exp_spec *spec = p->spec;

	for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (spec->n_fleet == MC_EXP_MAX_FLEET) {
			say(p, p->lineno, "control: more than %d replicas", MC_EXP_MAX_FLEET);
			break;
		}
		if (strncmp(w, "http://", 7) != 0 && strncmp(w, "https://", 8) != 0) {
			say(p, p->lineno,
			    "control: '%s' is not a URL: give the replicas' `mlchaos metrics` "
			    "endpoints, http://HOST:PORT, separated by spaces",
			    w);
			continue;
		}
		spec->fleet_control[spec->n_fleet++] = strdup(w);
	}
	free(copy);
}

/* ---- the built-in load client's keys ---- */

static void set_protocol(struct parse *p, const char *value)
{
	int proto = mc_load_protocol_of(value);

	if (proto < 0) {
		say(p, p->lineno,
		    "protocol = '%s': one of http-json, mlchaos, openai-completions, openai-chat, "
		    "kserve-v2",
		    value);
		return;
	}
	p->spec->protocol = proto;
}

static void set_answer(struct parse *p, const char *value)
{
	/* the whole answer is the empty pointer; a key cannot be empty, so it is written "" */
	const char *ptr = strcmp(value, "\"\"") == 0 ? "" : value;

	if (!mc_load_pointer_valid(ptr)) {
		say(p, p->lineno,
		    "answer = '%s': give a JSON pointer (RFC 6901) such as /choices/0/text, with "
		    "~0 for '~' and ~1 for '/', or \"\" for the whole answer",
		    value);
		return;
	}
	free(p->spec->answer);
	p->spec->answer = strdup(ptr);
}

static void set_tolerance(struct parse *p, const char *value)
{
	char *end;
	double t = strtod(value, &end);

	if (end == value || *end || !(t >= 0) || t > 1e300)
		say(p, p->lineno, "tolerance = '%s': give a number of 0 or more, such as 1e-6",
		    value);
	else
		p->spec->tolerance = t;
}

static void set_header_name(struct parse *p, const char *value)
{
	for (const char *c = value; *c; c++) {
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
			say(p, p->lineno, "id_header = '%s': a header name (letters, digits, '-')",
			    value);
			return;
		}
	}
	free(p->spec->id_header);
	p->spec->id_header = strdup(value);
}

static void set_http(struct parse *p, const char *value)
{
	if (strcmp(value, "1.1") == 0)
		p->spec->http_version = 1;
	else if (strcmp(value, "2") == 0)
		p->spec->http_version = 2;
	else
		say(p, p->lineno, "http = '%s': 1.1 or 2", value);
}

static void set_health_interval(struct parse *p, const char *value)
{
	set_duration(p, &p->spec->health_interval_ns, "interval", value);
	if (p->spec->health_interval_ns < MIN_HEALTH_NS)
		say(p, p->lineno, "interval = '%s': at least 10ms", value);
}

static void set_id_prefix(struct parse *p, const char *value)
{
	for (const char *c = value; *c; c++) {
		if (!isgraph((unsigned char)*c)) {
			say(p, p->lineno, "id_prefix = '%s': printable characters only, no spaces",
			    value);
			return;
		}
	}
	if (strlen(value) > ID_PREFIX_MAX) {
		say(p, p->lineno, "id_prefix is longer than %d bytes", ID_PREFIX_MAX);
		return;
	}
	free(p->spec->id_prefix);
	p->spec->id_prefix = strdup(value);
}

/* A [sweep] key. The values and the key are checked against the chaos config once it is
 * parsed (sweep_checks). */
static void set_sweep_key(struct parse *p, enum key k, const char *value)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;
	uint64_t n;

	switch (k) {
	case K_SWEEP_KEY:
		p->sweep_key = strdup(value);
		break;
	case K_SWEEP_VALUES:
		p->sweep_values = strdup(value);
		break;
	case K_SWEEP_PER:
		if (strcmp(value, "tensor") == 0)
			sw->per_tensor = true;
		else if (strcmp(value, "value") != 0)
			say(p, p->lineno, "per = '%s': give 'value' (the default) or 'tensor'",
			    value);
		break;
	case K_SWEEP_FAULT:
		sw->fault = strdup(value);
		break;
	case K_SWEEP_MODEL:
		set_path(p, &sw->model, value, false);
		break;
	case K_SWEEP_LIMIT:
		if (mc_cfg_parse_u64(value, &n) < 0 || n < 1 || n > MC_EXP_SWEEP_MAX)
			say(p, p->lineno, "limit = '%s': give a whole number from 1 to %d", value,
			    MC_EXP_SWEEP_MAX);
		else
			sw->limit = (unsigned)n;
		break;
	case K_SWEEP_GATE:
		if (strcmp(value, "all") == 0 || strcmp(value, "none") == 0)
			sw->gate = value[0] == 'a';
		else
			say(p, p->lineno,
			    "gate = '%s': give 'all' (every hypothesis holds at every value) or "
			    "'none' (the sweep is reported, not judged)",
			    value);
		break;
	case K_SWEEP_UNTIL:
		if (strcmp(value, "failure") == 0 || strcmp(value, "end") == 0)
			sw->until_failure = value[0] == 'f';
		else
			say(p, p->lineno,
			    "until = '%s': give 'end' (every value, the default) or 'failure' (stop "
			    "after the first value at which a hypothesis fails)",
			    value);
		break;
	default:
		break;
	}
}

static void set_key(struct parse *p, enum key k, const char *value)
{
	struct mc_exp_spec *spec = p->spec;

	switch (k) {
	case K_NAME:
		snprintf(spec->name, sizeof(spec->name), "%s", value);
		break;
	case K_COMMAND:
		set_command(p, value);
		break;
	case K_WORKDIR:
		set_path(p, &spec->workdir, value, false);
		break;
	case K_READY:
		set_ready(p, value);
		break;
	case K_READY_TIMEOUT:
		set_duration(p, &spec->ready_timeout_ns, keys[k].name, value);
		break;
	case K_STOP_TIMEOUT:
		set_duration(p, &spec->stop_timeout_ns, keys[k].name, value);
		break;
	case K_SETTLE:
		set_duration(p, &spec->settle_ns, keys[k].name, value);
		break;
	case K_SIGNAL:
		set_signal(p, value);
		break;
	case K_TARGET_LOG:
		set_path(p, &spec->target_log, value, false);
		break;
	case K_RESTART:
		set_bool(p, &spec->restart, keys[k].name, value);
		break;
	case K_ALLOW_HALT:
		set_bool(p, &spec->allow_halt, keys[k].name, value);
		break;
	case K_URL:
		set_url(p, &spec->url, value);
		break;
	case K_REQUESTS:
		set_count(p, &spec->requests, keys[k].name, value, MAX_REQUESTS);
		break;
	case K_CONCURRENCY:
		set_count(p, &spec->concurrency, keys[k].name, value, MAX_CONCURRENCY);
		break;
	case K_INPUTS:
		set_count(p, &spec->inputs, keys[k].name, value, MAX_INPUTS);
		break;
	case K_TIMEOUT:
		set_duration(p, &spec->timeout_ns, keys[k].name, value);
		if (spec->timeout_ns < 1000000)
			say(p, p->lineno, "timeout = '%s': at least 1ms", value);
		break;
	case K_DATASET:
		set_path(p, &spec->dataset, value, false);
		break;
	case K_ID_PREFIX:
		set_id_prefix(p, value);
		break;
	case K_CLIENT:
		set_path(p, &spec->client, value, false);
		break;
	case K_REQUESTS_FILE:
		set_path(p, &spec->requests_file, value, false);
		break;
	case K_ANSWER:
		set_answer(p, value);
		break;
	case K_TOLERANCE:
		set_tolerance(p, value);
		break;
	case K_PROTOCOL:
		set_protocol(p, value);
		break;
	case K_STREAM:
		set_bool(p, &spec->stream, keys[k].name, value);
		break;
	case K_MODEL:
		free(spec->model);
		spec->model = strdup(value);
		break;
	case K_ID_HEADER:
		set_header_name(p, value);
		break;
	case K_HTTP:
		set_http(p, value);
		break;
	case K_INSECURE:
		set_bool(p, &spec->insecure, keys[k].name, value);
		break;
	case K_HEALTH_URL:
		set_url(p, &spec->health_url, value);
		break;
	case K_HEALTH_INTERVAL:
		set_health_interval(p, value);
		break;
	case K_SWEEP_KEY:
	case K_SWEEP_VALUES:
	case K_SWEEP_PER:
	case K_SWEEP_FAULT:
	case K_SWEEP_MODEL:
	case K_SWEEP_LIMIT:
	case K_SWEEP_GATE:
	case K_SWEEP_UNTIL:
		set_sweep_key(p, k, value);
		break;
	case K_TARGET_URL:
		set_url(p, &spec->target_url, value);
		break;
	case K_FLEET_CONTROL:
		set_fleet_control(p, value);
		break;
	case K_FLEET_TOKEN_FILE:
		set_path(p, &spec->fleet_token_file, value, false);
		break;
	case K_COUNT:
		break;
	}
}

static void unknown_key(struct parse *p, const char *key)
{
	fprintf(stderr, "%s:%d: unknown key '%s' in [%s] (keys:", p->file, p->lineno, key,
	        p->section == SEC_EXPERIMENT ? "experiment"
	        : p->section == SEC_LOAD     ? "load"
	        : p->section == SEC_SWEEP    ? "sweep"
	        : p->section == SEC_FLEET    ? "fleet"
	                                     : "health");
	for (int k = 0; k < K_COUNT; k++)
		if (keys[k].section == p->section)
			fprintf(stderr, " %s", keys[k].name);
	fputs(")\n", stderr);
	p->errors++;
}

/* A "key = value" line of [experiment] or [load]. */
static void key_line(struct parse *p, char *text)
{
	char *eq = strpbrk(text, "=:");

	if (!eq) {
		say(p, p->lineno, "expected 'key = value', not '%s'", text);
		return;
	}
	*eq = '\0';
	char *key = trim(text), *value = trim(eq + 1);
	for (int k = 0; k < K_COUNT; k++) {
		if (keys[k].section != p->section || strcmp(keys[k].name, key) != 0)
			continue;
		if (p->key_line[k]) {
			say(p, p->lineno, "'%s' given twice (first at line %d)", key,
			    p->key_line[k]);
		} else if (!*value) {
			say(p, p->lineno, "'%s' has no value", key);
		} else {
			p->key_line[k] = p->lineno;
			set_key(p, (enum key)k, value);
		}
		return;
	}
	unknown_key(p, key);
}

/* ---- hypotheses ---- */

static int find_metric(const char *name, size_t n)
{
	for (int m = 0; m < MC_EXP_METRICS; m++)
		if (strlen(metrics[m].name) == n && memcmp(metrics[m].name, name, n) == 0)
			return m;
	return -1;
}

static void list_metrics(void)
{
	for (int m = 0; m < MC_EXP_METRICS; m++)
		fprintf(stderr, "%s%s", m ? ", " : "", metrics[m].name);
}

/* The threshold in the metric's unit; -EINVAL when value does not fit the metric. */
static int parse_threshold(enum mc_exp_metric m, const char *value, double *ret)
{
	uint32_t ppm;
	uint64_t v;
	char *end;

	switch (metrics[m].kind) {
	case MC_EXP_KIND_RATE:
		if (mc_cfg_parse_rate(value, &ppm) < 0)
			return -EINVAL;
		*ret = (double)ppm / MC_RATE_ONE;
		return 0;
	case MC_EXP_KIND_LATENCY:
		if (mc_cfg_parse_duration(value, &v) < 0)
			return -EINVAL;
		*ret = (double)v / 1e6;
		return 0;
	case MC_EXP_KIND_COUNT:
		if (mc_cfg_parse_u64(value, &v) < 0)
			return -EINVAL;
		*ret = (double)v;
		return 0;
	case MC_EXP_KIND_RPS:
		*ret = strtod(value, &end);
		if (end == value || !(*ret >= 0) || (*end && strcmp(end, "/s") != 0))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

static const char *unit_hint(enum mc_exp_metric m)
{
	switch (metrics[m].kind) {
	case MC_EXP_KIND_RATE:
		return "a percentage such as 99% or a fraction such as 0.99";
	case MC_EXP_KIND_LATENCY:
		return "a duration such as 50ms";
	case MC_EXP_KIND_COUNT:
		return "a whole number of requests";
	case MC_EXP_KIND_RPS:
		return "requests per second, such as 500";
	}
	return "?";
}

/* "@before,after": the phases a hypothesis applies to. */
static int parse_phases(struct parse *p, const char *s, unsigned *ret)
{
	*ret = 0;
	while (*s) {
		size_t n = strcspn(s, ",");
		int found = -1;
		for (int i = 0; i < MC_EXP_PHASES; i++)
			if (strlen(phase_names[i]) == n && memcmp(phase_names[i], s, n) == 0)
				found = i;
		if (found < 0) {
			say(p, p->lineno, "unknown phase '%.*s' (phases: before, during, after)",
			    (int)n, s);
			return -EINVAL;
		}
		*ret |= 1u << found;
		s += n + (s[n] == ',');
	}
	if (!*ret)
		say(p, p->lineno, "'@' must be followed by phases: before, during, after");
	return *ret ? 0 : -EINVAL;
}

static const char *skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "METRIC OP VALUE [@PHASES]". */
static void hypothesis_line(struct parse *p, const char *text)
{
	struct mc_exp_spec *spec = p->spec;
	struct mc_exp_hyp h = { .line = p->lineno, .phases = MC_EXP_ALL_PHASES };
	const char *s = text, *name = s;
	size_t i;

	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	int m = find_metric(name, (size_t)(s - name));
	s = skip_blank(s);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(s, ops[i].text, strlen(ops[i].text)) == 0)
			break;
	if (s == name || i == sizeof(ops) / sizeof(ops[0])) {
		say(p, p->lineno,
		    "expected a hypothesis 'METRIC OP VALUE', as in 'p99 <= 50ms', not '%s'", text);
		return;
	}
	if (m < 0) {
		fprintf(stderr, "%s:%d: unknown metric '%.*s' (metrics: ", p->file, p->lineno,
		        (int)strcspn(name, " \t<>="), name);
		list_metrics();
		fputs(")\n", stderr);
		p->errors++;
		return;
	}
	h.metric = (enum mc_exp_metric)m;
	h.op = ops[i].op;
	s = skip_blank(s + strlen(ops[i].text));
	char value[64];
	size_t n = strcspn(s, " \t@");
	if (n == 0 || n >= sizeof(value)) {
		say(p, p->lineno, "%s: give %s after %s", metrics[m].name, unit_hint(h.metric),
		    ops[i].text);
		return;
	}
	memcpy(value, s, n);
	value[n] = '\0';
	if (parse_threshold(h.metric, value, &h.threshold) < 0) {
		say(p, p->lineno, "%s %s '%s': give %s", metrics[m].name, ops[i].text, value,
		    unit_hint(h.metric));
		return;
	}
	s = skip_blank(s + n);
	if (*s == '@' && parse_phases(p, s + 1, &h.phases) < 0)
		return;
	if (*s && *s != '@') {
		say(p, p->lineno, "unexpected '%s' after the hypothesis (phases go after '@')", s);
		return;
	}
	if (spec->n_hyps == MC_EXP_MAX_HYPS) {
		say(p, p->lineno, "more than %d hypotheses", MC_EXP_MAX_HYPS);
		return;
	}
	snprintf(h.text, sizeof(h.text), "%s %s %s%s%s", metrics[m].name, ops[i].text, value,
	         *s ? " " : "", s);
	spec->hyps[spec->n_hyps++] = h;
}

/* ---- sections and lines ---- */

static enum section section_of(const char *name)
{
	if (strcmp(name, "experiment") == 0)
		return SEC_EXPERIMENT;
	if (strcmp(name, "load") == 0)
		return SEC_LOAD;
	if (strcmp(name, "steady_state") == 0)
		return SEC_STEADY;
	if (strcmp(name, "mlchaos") == 0)
		return SEC_MLCHAOS;
	if (strncmp(name, "fault", 5) == 0)
		return SEC_FAULT; /* the config parser judges the rest of the name */
	if (strcmp(name, "health") == 0)
		return SEC_HEALTH;
	if (strcmp(name, "sweep") == 0)
		return SEC_SWEEP;
	if (strcmp(name, "fleet") == 0)
		return SEC_FLEET;
	return SEC_BAD;
}

/* A "[name]" line. Chaos headers are copied as they are for the config parser. */
static void header_line(struct parse *p, char *text, const char *raw)
{
	char *close = strchr(text, ']');

	if (!close) {
		say(p, p->lineno, "unterminated section header: missing ']'");
		p->section = SEC_BAD;
		return;
	}
	*close = '\0';
	char *name = trim(text + 1);
	enum section sec = section_of(name);
	if (sec == SEC_BAD) {
		say(p, p->lineno,
		    "unknown section '[%s]' (sections are [experiment], [load], [health], "
		    "[steady_state], [sweep], [fleet], [mlchaos] and [fault.<name>])",
		    name);
	} else if (sec != SEC_FAULT && p->section_line[sec]) {
		say(p, p->lineno, "second [%s] section (first at line %d): merge them", name,
		    p->section_line[sec]);
		sec = SEC_BAD;
	} else if (sec != SEC_FAULT) {
		p->section_line[sec] = p->lineno;
	}
	p->section = sec;
	if (sec == SEC_MLCHAOS || sec == SEC_FAULT)
		sb_str(&p->chaos, raw);
	if (sec == SEC_MLCHAOS)
		p->spec->mlchaos_line = p->lineno;
}

/* The key of a "key = value" line of the chaos part, lower case; "" when none. */
static void chaos_key(const char *text, char *key, size_t cap)
{
	size_t n = strcspn(text, "=:");
	size_t k = 0;

	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		key[k++] = (char)tolower((unsigned char)text[i]);
	key[k] = '\0';
}

static void chaos_line(struct parse *p, const char *text, const char *raw)
{
	char key[32];

	if (p->section == SEC_MLCHAOS) {
		chaos_key(text, key, sizeof(key));
		if (strcmp(key, "log") == 0 || strcmp(key, "halt_file") == 0) {
			say(p, p->lineno,
			    "warning: '%s' is set by mlchaos experiment (the run's own %s); this "
			    "line is not used",
			    key, key[0] == 'l' ? "event log" : "halt file");
			return;
		}
	}
	char *line = expand(p, raw, false);
	if (line)
		sb_str(&p->chaos, line);
	free(line);
}

static void one_line(struct parse *p, char *line)
{
	char raw[MC_CFG_MAX_LINE + 1];
	size_t n = strlen(line);

	if (n > MC_CFG_MAX_LINE) {
		say(p, p->lineno, "line longer than %d bytes", MC_CFG_MAX_LINE);
		return;
	}
	memcpy(raw, line, n + 1);
	char *text = trim(line);
	if (!*text || *text == ';' || *text == '#')
		return;
	if (*text == '[') {
		header_line(p, text, raw);
		return;
	}
	switch (p->section) {
	case SEC_NONE:
		say(p, p->lineno,
		    "'%s' is outside any section: put it under [experiment], [load], "
		    "[steady_state], [mlchaos] or [fault.<name>]",
		    text);
		break;
	case SEC_EXPERIMENT:
	case SEC_LOAD:
	case SEC_HEALTH:
	case SEC_SWEEP:
	case SEC_FLEET:
		cut_comment(text);
		key_line(p, text);
		break;
	case SEC_STEADY:
		cut_comment(text);
		hypothesis_line(p, trim(text));
		break;
	case SEC_MLCHAOS:
	case SEC_FAULT:
		chaos_line(p, text, raw);
		break;
	case SEC_BAD:
		break; /* its header was reported */
	}
}

static int read_file(const char *file, char **ret)
{
	FILE *f = fopen(file, "re");
	struct sbuf b = { 0 };
	char chunk[8192];
	size_t n;

	if (!f) {
		int err = errno;
		fprintf(stderr, "%s: cannot read: %s\n", file, strerror(err));
		return -err;
	}
	sb_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= MC_CFG_MAX_FILE)
		sb_add(&b, chunk, n);
	int err = ferror(f) ? errno : 0;
	fclose(f);
	if (err || b.oom || b.len > MC_CFG_MAX_FILE) {
		fprintf(stderr, "%s: %s\n", file,
		        err     ? strerror(err)
		        : b.oom ? "out of memory"
		                : "larger than 1 MiB");
		free(b.p);
		return err ? -err : b.oom ? -ENOMEM : -EFBIG;
	}
	*ret = b.p;
	return 0;
}

/* Every line in order; each line's chaos text (or a blank) ends with one newline, so that
 * the config parser sees every line at its own number. */
static void each_line(struct parse *p, char *text)
{
	char *line = text;

	while (*line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		p->lineno++;
		one_line(p, line);
		sb_add(&p->chaos, "\n", 1);
		if (!nl)
			break;
		line = nl + 1;
	}
}

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	struct parse *p = user;

	fprintf(stderr, "%s\n", msg);
	if (level == MC_DIAG_ERROR)
		p->errors++;
}

static void set_defaults(struct mc_exp_spec *spec, const char *file)
{
	const char *base = strrchr(file, '/');

	memset(spec, 0, sizeof(*spec));
	snprintf(spec->name, sizeof(spec->name), "%s", base ? base + 1 : file);
	spec->ready_timeout_ns = DEFAULT_READY_NS;
	spec->stop_timeout_ns = DEFAULT_STOP_NS;
	spec->requests = DEFAULT_REQUESTS;
	spec->concurrency = DEFAULT_CONCURRENCY;
	spec->timeout_ns = DEFAULT_TIMEOUT_NS;
	spec->health_interval_ns = DEFAULT_HEALTH_NS;
	spec->protocol = -1; /* the default depends on requests_file */
}

static void expect_checks(struct parse *p);

static void plan_say(void *user, const char *msg)
{
	struct parse *p = user;

	fprintf(stderr, "%s\n", msg);
	p->errors++;
}

/* A hypothesis on a figure this load cannot give: a warning here; at run time it does not
 * hold, and the report says why. */
static void unmeasurable(struct parse *p, enum mc_exp_metric m, const char *why)
{
	for (unsigned i = 0; i < p->spec->n_hyps; i++)
		if (p->spec->hyps[i].metric == m)
			say(p, p->spec->hyps[i].line, "warning: %s cannot be measured: %s",
			    metrics[m].name, why);
}

/* The external client knows none of the built-in client's keys. */
static void client_checks(struct parse *p)
{
	static const enum key own[] = { K_REQUESTS_FILE, K_ANSWER, K_TOLERANCE,
		                        K_PROTOCOL,      K_STREAM, K_MODEL,
		                        K_ID_HEADER,     K_HTTP,   K_INSECURE };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (p->key_line[own[i]])
			say(p, p->key_line[own[i]],
			    "%s is a key of the built-in load client; an external client "
			    "(client = ...) does not take it: remove one of them",
			    keys[own[i]].name);
	if (p->key_line[K_URL] && strncmp(p->spec->url, "https://", 8) == 0)
		say(p, p->key_line[K_URL], "the external client (client = ...) speaks http only");
	for (int m = MC_EXP_AGREEMENT; m < MC_EXP_METRICS; m++)
		unmeasurable(p, (enum mc_exp_metric)m, "the external client does not measure it");
}

/* The protocol, the keys that go with it, and the requests each request sends. */
static void load_checks(struct parse *p)
{
	struct mc_exp_spec *spec = p->spec;
	int line = p->key_line[K_PROTOCOL], errors = p->errors;

	if (spec->protocol < 0)
		spec->protocol = spec->requests_file ? MC_LOAD_HTTP_JSON : MC_LOAD_MLCHAOS;
	struct mc_load_plan_opts o = {
		.protocol = (enum mc_load_protocol)spec->protocol,
		.requests_file = spec->requests_file,
		.dataset = spec->dataset,
		.inputs = (unsigned)spec->inputs,
		.model = spec->model,
		.stream = spec->stream,
		.answer = spec->answer,
		.tolerance = spec->tolerance,
	};
	char why[256];
	if (mc_load_plan_check(&o, why, sizeof(why)) < 0)
		say(p, line ? line : p->section_line[SEC_LOAD], "%s", why);
	if (!spec->stream) {
		for (int m = MC_EXP_TTFT_P50; m <= MC_EXP_ITL_P99; m++)
			unmeasurable(p, (enum mc_exp_metric)m,
			             "only a streamed answer has tokens "
			             "(stream = true)");
	}
	if (!spec->health_url)
		unmeasurable(p, MC_EXP_HEALTH_LIES, "no [health] url");
	if (p->errors > errors)
		return;
	spec->plan = calloc(1, sizeof(*spec->plan));
	if (!spec->plan) {
		say(p, 0, "out of memory");
		return;
	}
	int err = mc_load_plan_build(&o, plan_say, p, spec->plan);
	if (err == -ENOMEM)
		say(p, 0, "out of memory");
	if (err) {
		free(spec->plan);
		spec->plan = NULL;
		return;
	}
	expect_checks(p);
}

/* accuracy compares answers with "expect": a requests file without one checks nothing. */
static void expect_checks(struct parse *p)
{
	struct mc_exp_spec *spec = p->spec;
	bool any = false;

	for (size_t i = 0; i < spec->plan->n && !any; i++)
		any = spec->plan->reqs[i].expect != NULL;
	for (unsigned i = 0; i < spec->n_hyps && !any; i++)
		if (spec->hyps[i].metric == MC_EXP_ACCURACY)
			say(p, spec->hyps[i].line,
			    "accuracy needs answers to check: no line of %s has \"expect\"",
			    spec->requests_file ? spec->requests_file : "the data set");
}

/* [experiment] url: a target already running (a Service, a load balancer in front of
 * replicas), whose chaos is halted and resumed through [fleet] control. Nothing is started,
 * so the keys about starting and stopping a target do not apply. */
static void fleet_checks(struct parse *p)
{
	static const enum key start_keys[] = { K_COMMAND,       K_WORKDIR,      K_READY,
		                               K_READY_TIMEOUT, K_STOP_TIMEOUT, K_SIGNAL,
		                               K_TARGET_LOG,    K_RESTART };

	for (size_t i = 0; i < sizeof(start_keys) / sizeof(start_keys[0]); i++)
		if (p->key_line[start_keys[i]])
			say(p, p->key_line[start_keys[i]],
			    "'%s' starts or stops a target: with url = (a target already running) "
			    "give none",
			    keys[start_keys[i]].name);
	if (p->section_line[SEC_SWEEP])
		say(p, p->section_line[SEC_SWEEP],
		    "[sweep] restarts the target per value: not with [experiment] url");
	if (!p->spec->n_fleet)
		say(p,
		    p->section_line[SEC_FLEET] ? p->section_line[SEC_FLEET]
		                               : p->key_line[K_TARGET_URL],
		    "[experiment] url needs [fleet] control = the replicas' control endpoints "
		    "(`mlchaos metrics --listen ... --control-token-file`), to halt and resume "
		    "their chaos");
	if (p->spec->n_fleet && !p->spec->fleet_token_file)
		say(p, p->section_line[SEC_FLEET],
		    "[fleet] needs token_file = the endpoints' token");
}

/* What the whole file must have once every line is read. */
static void final_checks(struct parse *p)
{
	struct mc_exp_spec *spec = p->spec;

	if (!p->load_only && p->key_line[K_TARGET_URL])
		fleet_checks(p);
	else if (!p->load_only && (!p->section_line[SEC_EXPERIMENT] || !p->key_line[K_COMMAND]))
		say(p, 0,
		    "no target: give [experiment] command = the command line to start (or url = "
		    "a target already running, with [fleet] control)");
	else if (p->section_line[SEC_FLEET])
		say(p, p->section_line[SEC_FLEET],
		    "[fleet] goes with [experiment] url = a running target, not with command");
	if (!p->load_only && !p->key_line[K_READY] && !p->key_line[K_TARGET_URL])
		say(p, 0,
		    "no readiness probe: give [experiment] ready = an http:// URL that answers "
		    "2xx once the target is up, or a file the target writes when ready");
	if (spec->restart && spec->signal)
		say(p, p->key_line[K_SIGNAL],
		    "signal makes a running target reload; with restart = true each phase starts "
		    "the target afresh: give one of them");
	if (!p->load_only && spec->n_hyps == 0)
		say(p, 0,
		    "no hypothesis: give [steady_state] lines such as 'success_rate >= 99%%'");
	for (unsigned i = 0; i < spec->n_hyps; i++)
		if (spec->hyps[i].metric == MC_EXP_ACCURACY && !spec->dataset &&
		    !p->key_line[K_DATASET] && !p->key_line[K_REQUESTS_FILE])
			say(p, spec->hyps[i].line,
			    "accuracy needs answers to check: give [load] dataset = a data set "
			    "with known answers, or a requests_file whose lines have \"expect\"");
	if (!spec->id_prefix)
		spec->id_prefix = strdup("req");
	if (!spec->id_header)
		spec->id_header = strdup("X-Request-Id");
	if (p->section_line[SEC_HEALTH] && !spec->health_url)
		say(p, p->section_line[SEC_HEALTH], "[health] needs url = the health endpoint");
	if (spec->client)
		client_checks(p);
	else
		load_checks(p);
}

/* ---- [sweep] ---- */

#define SWEEP_DEFAULT_LIMIT 32

static const struct mc_rule_spec *find_rule(const struct mc_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_rules; i++)
		if (strcmp(cfg->rules[i].name, name) == 0)
			return &cfg->rules[i];
	return NULL;
}

/* key = fault.NAME.KEY (or, with per = tensor, fault = NAME): the section and the key. */
static const struct mc_rule_spec *sweep_target(struct parse *p)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;
	int line = p->key_line[K_SWEEP_KEY];

	if (p->sweep_key) {
		const char *dot = strrchr(p->sweep_key, '.');
		if (strncmp(p->sweep_key, "fault.", 6) != 0 || !dot || dot < p->sweep_key + 7 ||
		    !dot[1]) {
			say(p, line,
			    "key = '%s': give fault.NAME.KEY, a key of a [fault.NAME] "
			    "section of this file (e.g. fault.weights.count)",
			    p->sweep_key);
			return NULL;
		}
		free(sw->fault);
		sw->fault = strndup(p->sweep_key + 6, (size_t)(dot - p->sweep_key - 6));
		sw->key = strdup(dot + 1);
	} else if (sw->per_tensor && sw->fault) {
		sw->key = strdup("tensor");
		line = p->key_line[K_SWEEP_FAULT];
	} else {
		say(p, sw->line, "[sweep] needs key = fault.NAME.KEY%s",
		    sw->per_tensor ? " or fault = NAME" : "");
		return NULL;
	}
	if (!sw->fault || !sw->key) {
		say(p, 0, "out of memory");
		return NULL;
	}
	const struct mc_rule_spec *rule = find_rule(p->spec->chaos, sw->fault);
	if (!rule)
		say(p, line, "no [fault.%s] section in this file: the sweep changes a key of one",
		    sw->fault);
	return rule;
}

/* The model file a per = tensor sweep reads: [sweep] model, or the rule's path when it names
 * one file (a glob must match exactly one). */
static const char *sweep_model(struct parse *p, const struct mc_rule_spec *rule, glob_t *g)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;

	if (sw->model)
		return sw->model;
	if (!rule->path) {
		say(p, sw->line,
		    "per = tensor: [fault.%s] has no path: give [sweep] model = the "
		    "model file",
		    sw->fault);
		return NULL;
	}
	int st = glob(rule->path, GLOB_NOSORT, NULL, g);
	if (st == 0 && g->gl_pathc == 1)
		return g->gl_pathv[0];
	say(p, sw->line,
	    "per = tensor: the path of [fault.%s], '%s', %s: give [sweep] model = the model "
	    "file",
	    sw->fault, rule->path, st == 0 ? "matches more than one file" : "matches no file");
	return NULL;
}

struct tensor_values {
	struct mc_exp_sweep *sw;
	unsigned limit, more;
	bool too_long, oom;
};

static bool add_tensor(void *user, const char *name)
{
	struct tensor_values *tv = user;
	char escaped[MC_CFG_MAX_LINE / 2];

	if (tv->sw->n >= tv->limit) {
		tv->more++;
		return true;
	}
	if (mc_exp_glob_escape(name, escaped, sizeof(escaped)) < 0) {
		tv->too_long = true;
		return true;
	}
	tv->sw->values[tv->sw->n] = strdup(escaped);
	tv->sw->labels[tv->sw->n] = strdup(name);
	tv->oom = tv->oom || !tv->sw->values[tv->sw->n] || !tv->sw->labels[tv->sw->n];
	tv->sw->n++;
	return true;
}

/* per = tensor: one value per tensor of the model that the rule's tensor glob selects. */
static void tensor_values(struct parse *p, const struct mc_rule_spec *rule)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;
	struct tensor_values tv = { .sw = sw,
		                    .limit = sw->limit ? sw->limit : SWEEP_DEFAULT_LIMIT };
	/* what is wrong with the model file is said at its line when [sweep] names it */
	int line = p->key_line[K_SWEEP_MODEL] ? p->key_line[K_SWEEP_MODEL] : sw->line;
	glob_t g = { 0 };
	char why[256] = "";

	if (p->sweep_values)
		say(p, p->key_line[K_SWEEP_VALUES],
		    "per = tensor takes its values from the model file: remove values");
	if (rule->action != MC_ACTION_CORRUPT || rule->region != MC_REGION_TENSORS)
		say(p, sw->line,
		    "per = tensor: [fault.%s] must be a corrupt rule with region = "
		    "tensors",
		    sw->fault);
	const char *model = sweep_model(p, rule, &g);
	if (model) {
		int err =
		    mc_exp_model_tensors(model, rule->tensor, add_tensor, &tv, why, sizeof(why));
		if (err == -ENOMEDIUM)
			say(p, line,
			    "per = tensor: %s is not a model format mlchaos knows "
			    "(safetensors, GGUF, .npy, PyTorch zip, ONNX, pickle, joblib)",
			    model);
		else if (err < 0)
			say(p, line, "per = tensor: %s: %s", model, why[0] ? why : strerror(-err));
		else if (tv.oom || tv.too_long)
			say(p, line, "per = tensor: %s",
			    tv.oom ? "out of memory" : "a tensor name is too long");
		else if (!sw->n)
			say(p, line, "per = tensor: no tensor of %s matches tensor = '%s'", model,
			    rule->tensor ? rule->tensor : "*");
		else if (tv.more)
			say(p, line,
			    "warning: per = tensor: %u more tensors of %s left out (limit = %u): "
			    "raise limit or narrow [fault.%s] tensor =",
			    tv.more, model, tv.limit, sw->fault);
	}
	globfree(&g);
}

static void written_values(struct parse *p)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;
	const char *s = p->sweep_values;

	if (!s) {
		say(p, sw->line, "[sweep] needs values = V1 V2 ... (the values of %s, in order)",
		    p->sweep_key ? p->sweep_key : "its key");
		return;
	}
	for (;;) {
		s += strspn(s, " \t");
		size_t n = strcspn(s, " \t");
		if (!n)
			break;
		if (sw->n == MC_EXP_SWEEP_MAX) {
			say(p, p->key_line[K_SWEEP_VALUES], "more than %d values",
			    MC_EXP_SWEEP_MAX);
			break;
		}
		sw->values[sw->n] = strndup(s, n);
		sw->labels[sw->n] = strndup(s, n);
		sw->n++;
		s += n;
	}
}

struct first_error {
	char msg[400];
};

static void first_error(void *user, enum mc_diag_level level, const char *msg)
{
	struct first_error *e = user;

	if (level != MC_DIAG_ERROR || e->msg[0])
		return;
	/* "FILE:LINE: message": the message alone, said at the [sweep] line */
	const char *m = strstr(msg, ": ");
	const char *second = m ? strstr(m + 2, ": ") : NULL;
	snprintf(e->msg, sizeof(e->msg), "%s", second ? second + 2 : m ? m + 2 : msg);
}

/* Each value written into the chaos text and validated by the config parser, as the target
 * will read it. */
static void sweep_texts(struct parse *p)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;
	int line = sw->per_tensor ? sw->line : p->key_line[K_SWEEP_VALUES];

	for (unsigned i = 0; i < sw->n; i++) {
		struct first_error e = { "" };
		struct mc_config *cfg = NULL;
		int added = 0;
		if (!sw->values[i] || !sw->labels[i]) {
			say(p, 0, "out of memory");
			return;
		}
		sw->texts[i] = mc_exp_sweep_rewrite(p->spec->chaos_text, sw->fault, sw->key,
		                                    sw->values[i], &added);
		if (!sw->texts[i]) {
			say(p, 0, "out of memory");
			return;
		}
		sw->mlchaos_lines[i] =
		    p->spec->mlchaos_line + (added && added <= p->spec->mlchaos_line);
		if (mc_cfg_parse_string(p->file, sw->texts[i], first_error, &e, &cfg) < 0)
			say(p, line, "%s = '%s' (fault.%s.%s): %s", sw->key, sw->labels[i],
			    sw->fault, sw->key, e.msg[0] ? e.msg : "not valid");
		mc_cfg_free(cfg);
	}
}

/* [sweep] against the parsed chaos config: the fault and key exist, every value makes a valid
 * config; restart = true, since each value is a fresh start of the target. */
static void sweep_checks(struct parse *p)
{
	struct mc_exp_sweep *sw = &p->spec->sweep;

	sw->line = p->section_line[SEC_SWEEP];
	if (!sw->line)
		return;
	if (!p->key_line[K_SWEEP_GATE])
		sw->gate = true;
	if (!p->spec->restart)
		say(p, sw->line,
		    "[sweep] starts the target afresh for each value, its faults on from the first "
		    "instruction (a fault that acts at load, on the model file, needs it): set "
		    "[experiment] restart = true");
	const struct mc_rule_spec *rule = sweep_target(p);
	if (!rule)
		return;
	if (sw->per_tensor)
		tensor_values(p, rule);
	else
		written_values(p);
	if (p->errors)
		return;
	sweep_texts(p);
	bool ranked = false;
	for (unsigned i = 0; i < p->spec->n_hyps; i++)
		ranked = ranked || (p->spec->hyps[i].phases & (1u << MC_EXP_DURING));
	if (!ranked)
		say(p, sw->line,
		    "[sweep] measures the during phase per value: give a hypothesis "
		    "that applies during chaos");
}

static int spec_load(const char *file, const struct mc_exp_vars *vars, bool load_only,
                     struct mc_exp_spec *ret)
{
	struct parse p = { .file = file, .vars = vars, .spec = ret, .load_only = load_only };
	char *text = NULL;
	int r;

	set_defaults(ret, file);
	ret->file = strdup(file);
	r = read_file(file, &text);
	if (r < 0)
		return r;
	char *abs = realpath(file, NULL);
	char *slash = abs ? strrchr(abs, '/') : NULL;
	if (slash)
		*slash = '\0';
	snprintf(p.exp_dir, sizeof(p.exp_dir), "%s", slash ? (abs[0] ? abs : "/") : ".");
	free(abs);
	sb_add(&p.chaos, "", 0);
	each_line(&p, text);
	free(text);
	final_checks(&p);
	if (p.chaos.oom || !ret->file || !ret->id_prefix) {
		fprintf(stderr, "%s: out of memory\n", file);
		free(p.chaos.p);
		return -ENOMEM;
	}
	ret->chaos_text = p.chaos.p;
	if (mc_cfg_parse_string(file, ret->chaos_text, print_diag, &p, &ret->chaos) < 0 &&
	    !p.errors)
		p.errors++;
	if (ret->chaos && !p.errors)
		sweep_checks(&p);
	free(p.sweep_key);
	free(p.sweep_values);
	return p.errors ? -EINVAL : 0;
}

int mc_exp_spec_load(const char *file, const struct mc_exp_vars *vars, struct mc_exp_spec *ret)
{
	return spec_load(file, vars, false, ret);
}

int mc_exp_spec_load_load(const char *file, const struct mc_exp_vars *vars, struct mc_exp_spec *ret)
{
	return spec_load(file, vars, true, ret);
}

void mc_exp_spec_free(struct mc_exp_spec *spec)
{
	for (int i = 0; i < spec->argc; i++)
		free(spec->argv[i]);
	free(spec->file);
	free(spec->workdir);
	free(spec->ready);
	free(spec->target_log);
	free(spec->url);
	free(spec->dataset);
	free(spec->id_prefix);
	free(spec->client);
	free(spec->requests_file);
	free(spec->answer);
	free(spec->model);
	free(spec->id_header);
	free(spec->health_url);
	free(spec->target_url);
	free(spec->fleet_token_file);
	for (unsigned i = 0; i < spec->n_fleet; i++)
		free(spec->fleet_control[i]);
	if (spec->plan)
		mc_load_plan_free(spec->plan);
	free(spec->plan);
	free(spec->chaos_text);
	mc_cfg_free(spec->chaos);
	free(spec->sweep.fault);
	free(spec->sweep.key);
	free(spec->sweep.model);
	for (unsigned i = 0; i < spec->sweep.n; i++) {
		free(spec->sweep.values[i]);
		free(spec->sweep.labels[i]);
		free(spec->sweep.texts[i]);
	}
	memset(spec, 0, sizeof(*spec));
}

/* ---- the config the target runs with ---- */

/* text with halt_file and log after its [mlchaos] header (at line mlchaos_line), or a
 * section of our own in front, written at path. */
static int write_chaos_text(const char *text, int mlchaos_line, const char *path,
                            const char *halt_file, const char *log)
{
	struct sbuf b = { 0 };
	const char *split = text;
	char own[2 * PATH_MAX + 64];

	snprintf(own, sizeof(own), "halt_file = %s\nlog = %s\n", halt_file, log);
	/* after the [mlchaos] header line, or a section of our own in front */
	for (int line = 1; line <= mlchaos_line && split; line++) {
		split = strchr(split, '\n');
		split = split ? split + 1 : NULL;
	}
	sb_add(&b, "", 0);
	if (mlchaos_line && split) {
		sb_add(&b, text, (size_t)(split - text));
		sb_str(&b, own);
		sb_str(&b, split);
	} else {
		sb_str(&b, "[mlchaos]\n");
		sb_str(&b, own);
		sb_str(&b, text);
	}
	if (b.oom)
		return -ENOMEM;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(b.p);
		return -errno;
	}
	size_t done = 0;
	while (done < b.len) {
		ssize_t w = write(fd, b.p + done, b.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;
			close(fd);
			free(b.p);
			return -err;
		}
		done += (size_t)w;
	}
	free(b.p);
	return close(fd) < 0 ? -errno : 0;
}

int mc_exp_spec_write_chaos(const struct mc_exp_spec *spec, const char *path, const char *halt_file,
                            const char *log)
{
	return write_chaos_text(spec->chaos_text, spec->mlchaos_line, path, halt_file, log);
}

int mc_exp_spec_write_sweep_chaos(const struct mc_exp_spec *spec, unsigned i, const char *path,
                                  const char *halt_file, const char *log)
{
	if (i >= spec->sweep.n)
		return -EINVAL;
	return write_chaos_text(spec->sweep.texts[i], spec->sweep.mlchaos_lines[i], path, halt_file,
	                        log);
}

char *mc_exp_expand_port(const char *s, int port)
{
	struct sbuf b = { 0 };
	char digits[16];

	snprintf(digits, sizeof(digits), "%d", port);
	sb_add(&b, "", 0);
	for (const char *at; (at = strstr(s, "${PORT}")); s = at + 7) {
		sb_add(&b, s, (size_t)(at - s));
		sb_str(&b, digits);
	}
	sb_str(&b, s);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int mc_exp_url_split(const char *url, char *host, size_t host_cap, int *ret_port, char *path,
                     size_t path_cap)
{
	bool tls = strncmp(url, "https://", 8) == 0;
	if (!tls && strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	const char *h = url + (tls ? 8 : 7);
	size_t n = strcspn(h, ":/");
	if (n == 0 || n >= host_cap)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	const char *rest = h + n;
	*ret_port = tls ? 443 : 80;
	if (*rest == ':') {
		char *end;
		long port = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || port < 1 || port > 65535)
			return -EINVAL;
		*ret_port = (int)port;
		rest = end;
	}
	if (*rest && *rest != '/')
		return -EINVAL;
	if (strlen(*rest ? rest : "/") >= path_cap)
		return -EINVAL;
	snprintf(path, path_cap, "%s", *rest ? rest : "/");
	return 0;
}
