/* cmd_report.c: `mlchaos report LOG...`: what a person reads after a run: per rule and function
 * the faults injected, not applied and would-inject, the requests affected and the first and
 * last time; the halts. Reads event logs only; a line it cannot parse is counted, never fatal. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "commands.h"
#include "json.h"
#include "options.h"
#include "segments.h"

#define TIME_MAX       40
#define NAME_MAX_BYTES 64
#define KEY_MAX_BYTES  1024 /* decoded request key; the library caps keys at 128 bytes */

/* ---- events ------------------------------------------------------------------------------ */

/* The fields of an event line report looks at; strings decoded, cut to their buffers. */
struct ev {
	char time[TIME_MAX], event[NAME_MAX_BYTES], rule[NAME_MAX_BYTES], fn[NAME_MAX_BYTES];
	char hook[NAME_MAX_BYTES], action[NAME_MAX_BYTES], reason[NAME_MAX_BYTES];
	char phase[NAME_MAX_BYTES];
	char key[KEY_MAX_BYTES];
	size_t key_len;
	bool has_key, applied, no_effect;
	uint64_t pid, errors, window, rate_ppm;
};

static void copy_member(const json_t *o, const char *name, char *dst, size_t cap)
{
	const char *v = mc_json_get_str(o, name);
	snprintf(dst, cap, "%s", v ? v : "");
}

/* Parses one line as a JSON object into *e; false when it is not one. */
static bool parse_event(const char *line, size_t len, struct ev *e)
{
	json_t *o;
	const json_t *key;

	memset(e, 0, sizeof(*e));
	if (mc_json_parse(line, len, &o, NULL, 0, NULL) < 0)
		return false;
	if (!json_is_object(o)) {
		json_decref(o);
		return false;
	}
	copy_member(o, "time", e->time, sizeof(e->time));
	copy_member(o, "event", e->event, sizeof(e->event));
	copy_member(o, "rule", e->rule, sizeof(e->rule));
	copy_member(o, "fn", e->fn, sizeof(e->fn));
	copy_member(o, "hook", e->hook, sizeof(e->hook));
	copy_member(o, "action", e->action, sizeof(e->action));
	copy_member(o, "reason", e->reason, sizeof(e->reason));
	copy_member(o, "phase", e->phase, sizeof(e->phase));
	key = json_object_get(o, "key");
	if (json_is_string(key)) {
		size_t n = json_string_length(key);
		e->has_key = true;
		e->key_len = n < sizeof(e->key) ? n : sizeof(e->key) - 1;
		memcpy(e->key, json_string_value(key), e->key_len);
	}
	e->applied = mc_json_get_true(o, "applied");
	e->no_effect = mc_json_get_true(o, "no_effect");
	mc_json_get_u64(o, "pid", &e->pid);
	mc_json_get_u64(o, "errors", &e->errors);
	mc_json_get_u64(o, "window", &e->window);
	mc_json_get_u64(o, "rate_ppm", &e->rate_ppm);
	json_decref(o);
	return true;
}

/* ---- aggregation ---------------------------------------------------------------------- */

/* Distinct request keys, as 64-bit hashes (a collision among 2^32 keys is unlikely enough for
 * a count people read). Open addressing; 0 marks an empty slot. */
struct keyset {
	uint64_t *slot;
	size_t cap, n;
};

static int keyset_add(struct keyset *s, const char *key, size_t len)
{
	uint64_t h = XXH3_64bits(key, len) | 1;
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		uint64_t *v = calloc(ncap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			size_t k = s->slot[i] & (ncap - 1);
			while (s->slot[i] && v[k])
				k = (k + 1) & (ncap - 1);
			if (s->slot[i])
				v[k] = s->slot[i];
		}
		free(s->slot);
		s->slot = v;
		s->cap = ncap;
	}
	size_t k = h & (s->cap - 1);
	while (s->slot[k] && s->slot[k] != h)
		k = (k + 1) & (s->cap - 1);
	if (!s->slot[k]) {
		s->slot[k] = h;
		s->n++;
	}
	return 0;
}

struct tally {
	char name[NAME_MAX_BYTES]; /* rule, or function */
	char hook[NAME_MAX_BYTES], action[NAME_MAX_BYTES];
	uint64_t injected, not_applied, would_inject;
	uint64_t no_effect; /* corrupt decisions that changed no byte: not faults */
	/* injected and would_inject by the phase the process was in: 0 load, 1 serve */
	uint64_t injected_in[2], would_inject_in[2];
	struct keyset requests, would_requests;
	char first[TIME_MAX], last[TIME_MAX];
};

struct rule_tally {
	struct tally all;
	struct tally *fns;
	size_t n_fns;
};

struct halt {
	char time[TIME_MAX], reason[NAME_MAX_BYTES];
	uint64_t pid, errors, window, rate_ppm;
};

struct log_info {
	const char *file;
	uint64_t lines, events, non_json;
	bool truncated, unreadable;
};

struct report {
	struct rule_tally *rules;
	size_t n_rules;
	struct halt *halts;
	size_t n_halts;
	struct log_info *logs;
	size_t n_logs;
	struct keyset pids;
	uint64_t rule_sets; /* "rules" lines: the rule set at start and at each reload */
	uint64_t other_events;
	uint64_t ambiguous; /* calls a select = request rule left alone: several requests in
	                       flight on the thread */
	bool oom;
};

static void *grow(void *v, size_t n, size_t size)
{
	/* arrays grow one at a time by doubling at powers of two */
	if (n & (n - 1))
		return v;
	return realloc(v, (n ? n * 2 : 1) * size);
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static struct tally *find_tally(struct tally **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	struct tally *g = grow(*v, *n, sizeof(**v));
	if (!g)
		return NULL;
	*v = g;
	memset(&g[*n], 0, sizeof(g[*n]));
	copy(g[*n].name, sizeof(g[*n].name), name);
	return &g[(*n)++];
}

static struct rule_tally *find_rule(struct report *r, const char *name)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (!strcmp(r->rules[i].all.name, name))
			return &r->rules[i];
	struct rule_tally *v = grow(r->rules, r->n_rules, sizeof(*v));
	if (!v)
		return NULL;
	r->rules = v;
	memset(&v[r->n_rules], 0, sizeof(v[0]));
	copy(v[r->n_rules].all.name, sizeof(v[0].all.name), name);
	return &v[r->n_rules++];
}

static int count(struct tally *t, const struct ev *e, bool shadow)
{
	int r = 0;
	if (!t->hook[0])
		copy(t->hook, sizeof(t->hook), e->hook);
	if (!t->action[0])
		copy(t->action, sizeof(t->action), e->action);
	int phase = !strcmp(e->phase, "serve") ? 1 : !strcmp(e->phase, "load") ? 0 : -1;
	if (shadow) {
		t->would_inject++;
		if (phase >= 0)
			t->would_inject_in[phase]++;
	} else if (e->applied) {
		t->injected++;
		if (phase >= 0)
			t->injected_in[phase]++;
	} else if (e->no_effect) {
		t->no_effect++;
	} else {
		t->not_applied++;
	}
	if (e->has_key && (shadow || e->applied))
		r = keyset_add(shadow ? &t->would_requests : &t->requests, e->key, e->key_len);
	/* RFC 3339 UTC with a fixed number of digits: text order is time order */
	if (!t->first[0] || strcmp(e->time, t->first) < 0)
		copy(t->first, sizeof(t->first), e->time);
	if (strcmp(e->time, t->last) > 0)
		copy(t->last, sizeof(t->last), e->time);
	return r;
}

static int add_fault(struct report *r, const struct ev *e, bool shadow)
{
	struct rule_tally *rt = find_rule(r, e->rule[0] ? e->rule : "?");
	struct tally *fn = rt ? find_tally(&rt->fns, &rt->n_fns, e->fn[0] ? e->fn : "?") : NULL;
	if (!fn || count(&rt->all, e, shadow) < 0 || count(fn, e, shadow) < 0)
		return -ENOMEM;
	return 0;
}

static int add_halt(struct report *r, const struct ev *e)
{
	struct halt *v = grow(r->halts, r->n_halts, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->halts = v;
	struct halt *h = &v[r->n_halts++];
	copy(h->time, sizeof(h->time), e->time);
	copy(h->reason, sizeof(h->reason), e->reason[0] ? e->reason : "?");
	h->pid = e->pid;
	h->errors = e->errors;
	h->window = e->window;
	h->rate_ppm = e->rate_ppm;
	return 0;
}

static int add_event(struct report *r, const struct ev *e)
{
	char pid[24];
	int n = snprintf(pid, sizeof(pid), "%" PRIu64, e->pid);
	if (keyset_add(&r->pids, pid, (size_t)n) < 0)
		return -ENOMEM;
	if (!strcmp(e->event, "fault") || !strcmp(e->event, "would_inject"))
		return add_fault(r, e, !strcmp(e->event, "would_inject"));
	if (!strcmp(e->event, "halt"))
		return add_halt(r, e);
	if (!strcmp(e->event, "rules"))
		r->rule_sets++;
	else if (!strcmp(e->event, "ambiguous"))
		r->ambiguous++;
	else
		r->other_events++;
	return 0;
}

/* ---- reading logs ------------------------------------------------------------------------ */

static int read_log(struct report *r, struct log_info *li)
{
	FILE *f = fopen(li->file, "re");
	if (!f) {
		fprintf(stderr, "mlchaos report: cannot read %s: %s\n", li->file, strerror(errno));
		li->unreadable = true;
		return -errno;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;
	while (!err && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n') {
			li->truncated = true; /* the last line, cut by a crash or a full disk */
			break;
		}
		li->lines++;
		struct ev e;
		if (!parse_event(line, (size_t)n - 1, &e)) {
			li->non_json++;
			continue;
		}
		li->events++;
		err = add_event(r, &e);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	fclose(f);
	if (err)
		fprintf(stderr, "mlchaos report: %s: %s\n", li->file, strerror(-err));
	return err;
}

/* ---- output ----------------------------------------------------------------------------- */

static void text_tally(FILE *out, const struct tally *t, bool indent)
{
	fprintf(out,
	        "%s%-*s %-6s %-8s %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %11" PRIu64 " %9" PRIu64
	        " %12" PRIu64 " %9zu  %-27s %s\n",
	        indent ? "  " : "", indent ? 22 : 24, t->name, indent ? "" : t->hook,
	        indent ? "" : t->action, t->injected, t->injected_in[0], t->injected_in[1],
	        t->not_applied, t->no_effect, t->would_inject, t->requests.n + t->would_requests.n,
	        t->first, t->last);
}

static void text_summary(FILE *out, const struct report *r)
{
	uint64_t lines = 0, non_json = 0, injected = 0, not_applied = 0, no_effect = 0, would = 0;
	for (size_t i = 0; i < r->n_logs; i++) {
		lines += r->logs[i].lines;
		non_json += r->logs[i].non_json;
	}
	for (size_t i = 0; i < r->n_rules; i++) {
		injected += r->rules[i].all.injected;
		not_applied += r->rules[i].all.not_applied;
		no_effect += r->rules[i].all.no_effect;
		would += r->rules[i].all.would_inject;
	}
	fprintf(out,
	        "%zu log%s, %" PRIu64 " lines, %zu process%s: %" PRIu64 " faults injected, %" PRIu64
	        " not applied, %" PRIu64 " without effect, %" PRIu64
	        " would inject (shadow), %zu halt%s\n",
	        r->n_logs, r->n_logs == 1 ? "" : "s", lines, r->pids.n, r->pids.n == 1 ? "" : "es",
	        injected, not_applied, no_effect, would, r->n_halts, r->n_halts == 1 ? "" : "s");
	if (non_json)
		fprintf(out, "%" PRIu64 " line%s not JSON event%s, skipped\n", non_json,
		        non_json == 1 ? "" : "s", non_json == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_logs; i++)
		if (r->logs[i].truncated)
			fprintf(out, "%s: last line truncated (no newline), skipped\n",
			        r->logs[i].file);
	if (r->ambiguous)
		fprintf(out,
		        "%" PRIu64 " call(s) not acted on: their thread had several requests in "
		        "flight (ambiguous)\n",
		        r->ambiguous);
	if (r->other_events)
		fprintf(out, "%" PRIu64 " event(s) of other kinds, not counted\n", r->other_events);
}

static void print_text(FILE *out, const struct report *r)
{
	text_summary(out, r);
	if (r->n_rules) {
		fprintf(out, "\n%-24s %-6s %-8s %10s %8s %8s %11s %9s %12s %9s  %-27s %s\n",
		        "rule / function", "hook", "action", "injected", "at_load", "at_serve",
		        "not_applied", "no_effect", "would_inject", "requests", "first", "last");
		for (size_t i = 0; i < r->n_rules; i++) {
			text_tally(out, &r->rules[i].all, false);
			for (size_t k = 0; k < r->rules[i].n_fns; k++)
				text_tally(out, &r->rules[i].fns[k], true);
		}
	}
	if (r->n_halts)
		fputs("\nhalts:\n", out);
	for (size_t i = 0; i < r->n_halts; i++) {
		const struct halt *h = &r->halts[i];
		fprintf(out, "  %s  pid %" PRIu64 "  %s", h->time, h->pid, h->reason);
		if (h->window)
			fprintf(out,
			        ": %" PRIu64 " errors in the last %" PRIu64
			        " responses (limit %.4g%%)",
			        h->errors, h->window, h->rate_ppm / 10000.0);
		fputc('\n', out);
	}
}

static void json_tally(FILE *out, const struct tally *t, const char *name_key)
{
	fprintf(out, "{\"%s\":", name_key);
	mc_json_str(out, t->name, strlen(t->name));
	fputs(",\"hook\":", out);
	mc_json_str(out, t->hook, strlen(t->hook));
	fputs(",\"action\":", out);
	mc_json_str(out, t->action, strlen(t->action));
	fprintf(out,
	        ",\"injected\":%" PRIu64 ",\"not_applied\":%" PRIu64 ",\"no_effect\":%" PRIu64
	        ",\"would_inject\":%" PRIu64
	        ",\"requests\":%zu,\"would_requests\":%zu,\"first\":\"%s\",\"last\":\"%s\"",
	        t->injected, t->not_applied, t->no_effect, t->would_inject, t->requests.n,
	        t->would_requests.n, t->first, t->last);
	fprintf(out,
	        ",\"by_phase\":{\"load\":{\"injected\":%" PRIu64 ",\"would_inject\":%" PRIu64
	        "},\"serve\":{\"injected\":%" PRIu64 ",\"would_inject\":%" PRIu64 "}}",
	        t->injected_in[0], t->would_inject_in[0], t->injected_in[1], t->would_inject_in[1]);
}

static void json_logs(FILE *out, const struct report *r)
{
	fputs("{\"logs\":[", out);
	for (size_t i = 0; i < r->n_logs; i++) {
		const struct log_info *li = &r->logs[i];
		fprintf(out, "%s{\"file\":", i ? "," : "");
		mc_json_str(out, li->file, strlen(li->file));
		fprintf(out,
		        ",\"lines\":%" PRIu64 ",\"events\":%" PRIu64 ",\"non_json\":%" PRIu64
		        ",\"truncated\":%s,\"readable\":%s}",
		        li->lines, li->events, li->non_json, li->truncated ? "true" : "false",
		        li->unreadable ? "false" : "true");
	}
	fprintf(out,
	        "],\"processes\":%zu,\"rule_sets\":%" PRIu64 ",\"other_events\":%" PRIu64
	        ",\"ambiguous\":%" PRIu64 ",",
	        r->pids.n, r->rule_sets, r->other_events, r->ambiguous);
}

static void print_json(FILE *out, const struct report *r)
{
	json_logs(out, r);
	fputs("\"rules\":[", out);
	for (size_t i = 0; i < r->n_rules; i++) {
		fputs(i ? "," : "", out);
		json_tally(out, &r->rules[i].all, "rule");
		fputs(",\"functions\":[", out);
		for (size_t k = 0; k < r->rules[i].n_fns; k++) {
			fputs(k ? "," : "", out);
			json_tally(out, &r->rules[i].fns[k], "fn");
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputs("],\"halts\":[", out);
	for (size_t i = 0; i < r->n_halts; i++) {
		const struct halt *h = &r->halts[i];
		fprintf(out, "%s{\"time\":\"%s\",\"pid\":%" PRIu64 ",\"reason\":", i ? "," : "",
		        h->time, h->pid);
		mc_json_str(out, h->reason, strlen(h->reason));
		fprintf(out,
		        ",\"errors\":%" PRIu64 ",\"window\":%" PRIu64 ",\"rate_ppm\":%" PRIu64 "}",
		        h->errors, h->window, h->rate_ppm);
	}
	fputs("]}\n", out);
}

static void free_tally(struct tally *t)
{
	free(t->requests.slot);
	free(t->would_requests.slot);
}

static void free_report(struct report *r)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		free_tally(&r->rules[i].all);
		for (size_t k = 0; k < r->rules[i].n_fns; k++)
			free_tally(&r->rules[i].fns[k]);
		free(r->rules[i].fns);
	}
	free(r->rules);
	free(r->halts);
	free(r->logs);
	free(r->pids.slot);
}

/* ---- the command ---------------------------------------------------------------------------- */

static void report_usage(FILE *out)
{
	fputs("usage: mlchaos report [--json] LOG...\n"
	      "Summarize event logs ([mlchaos] log = PATH): per rule and per function, the\n"
	      "faults injected (in all, then while the process was loading and serving),\n"
	      "decided but not applied (a halt came in between), would-inject\n"
	      "(shadow), the distinct requests affected (request keys; for shadow rules, those\n"
	      "that would have been), the first and last time; then the halts with their\n"
	      "figures. Lines that are not JSON are counted and skipped; a last line without\n"
	      "its newline (a crash, a full disk) is skipped and said so.\n"
	      "  --json        one JSON object instead of the text\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 ok, 2 usage error or a log that cannot be read.\n",
	      out);
}

int mc_cmd_report(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int opt, status = 0;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'j') {
			json = true;
		} else if (opt == 'h') {
			report_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos report: unknown option '%s'\n",
			        mc_opt_rejected(argv));
			report_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("mlchaos report: no log given\n", stderr);
		report_usage(stderr);
		return 2;
	}
	struct report r = { 0 };
	r.n_logs = (size_t)(argc - optind);
	r.logs = calloc(r.n_logs, sizeof(*r.logs));
	if (!r.logs) {
		fputs("mlchaos report: out of memory\n", stderr);
		return 2;
	}
	for (size_t i = 0; i < r.n_logs; i++) {
		r.logs[i].file = argv[optind + (int)i];
		if (read_log(&r, &r.logs[i]) < 0)
			status = 2;
	}
	if (json)
		print_json(stdout, &r);
	else
		print_text(stdout, &r);
	free_report(&r);
	return fflush(stdout) == 0 ? status : 2;
}
