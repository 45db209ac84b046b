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
#include "segments.h"

#define JSON_MAX_DEPTH 32
#define TIME_MAX       40
#define NAME_MAX_BYTES 64
#define KEY_MAX_BYTES  1024 /* decoded request key; the library caps keys at 128 bytes */

/* ---- a flat JSON object reader ------------------------------------------------------------ */

/* The fields of an event line report looks at; strings decoded, cut to their buffers. */
struct ev {
	char time[TIME_MAX], event[NAME_MAX_BYTES], rule[NAME_MAX_BYTES], fn[NAME_MAX_BYTES];
	char hook[NAME_MAX_BYTES], action[NAME_MAX_BYTES], reason[NAME_MAX_BYTES];
	char key[KEY_MAX_BYTES];
	size_t key_len;
	bool has_key, applied;
	uint64_t pid, errors, window, rate_ppm;
};

struct jp {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static bool lit(struct jp *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(struct jp *j, unsigned *ret)
{
	unsigned v = 0;
	if (j->end - j->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*ret = v;
	return true;
}

static void put_byte(char *out, size_t cap, size_t *len, unsigned char c)
{
	if (out && *len + 1 < cap)
		out[*len] = (char)c;
	(*len)++;
}

static void put_utf8(char *out, size_t cap, size_t *len, unsigned cp)
{
	if (cp < 0x80) {
		put_byte(out, cap, len, (unsigned char)cp);
	} else if (cp < 0x800) {
		put_byte(out, cap, len, (unsigned char)(0xc0 | cp >> 6));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put_byte(out, cap, len, (unsigned char)(0xe0 | cp >> 12));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		put_byte(out, cap, len, (unsigned char)(0xf0 | cp >> 18));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		put_byte(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

static bool escape(struct jp *j, char *out, size_t cap, size_t *len)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char c = *j->p++;
	const char *k = c ? strchr(from, c) : NULL;
	if (k) {
		put_byte(out, cap, len, (unsigned char)to[k - from]);
		return true;
	}
	unsigned cp, lo;
	if (c != 'u' || !hex4(j, &cp))
		return false;
	if (cp >= 0xd800 && cp < 0xdc00 && lit(j, "\\u") && hex4(j, &lo) && lo >= 0xdc00 &&
	    lo < 0xe000)
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	put_utf8(out, cap, len, cp);
	return true;
}

/* A string at j->p (after its opening quote was seen), decoded into out (cap bytes, cut,
 * NUL-terminated); *ret_len the full decoded length. out may be NULL to skip it. */
static bool string(struct jp *j, char *out, size_t cap, size_t *ret_len)
{
	size_t len = 0;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"') {
			if (out && cap)
				out[len < cap ? len : cap - 1] = '\0';
			if (ret_len)
				*ret_len = len < cap ? len : cap - 1;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p >= j->end || !escape(j, out, cap, &len))
				return false;
		} else {
			put_byte(out, cap, &len, c);
		}
	}
	return false;
}

/* A JSON number; *ret is its value when it is a whole number that fits, else 0. */
static bool number(struct jp *j, uint64_t *ret)
{
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	const char *digits = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	if (j->p == digits || (*digits == '0' && j->p - digits > 1))
		return false;
	bool whole = true;
	if (j->p < j->end && *j->p == '.') {
		whole = false;
		const char *f = ++j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == f)
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		whole = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		const char *e = j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == e)
			return false;
	}
	*ret = 0;
	if (whole && *s != '-')
		*ret = strtoull(s, NULL, 10);
	return true;
}

static bool value(struct jp *j);

static bool container(struct jp *j, char close, bool keys)
{
	if (++j->depth > JSON_MAX_DEPTH)
		return false;
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		skip_ws(j);
		if (keys) {
			if (j->p >= j->end || *j->p++ != '"' || !string(j, NULL, 0, NULL))
				return false;
			skip_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return false;
		}
		if (!value(j))
			return false;
		skip_ws(j);
		if (j->p >= j->end)
			return false;
		char c = *j->p++;
		if (c == close)
			break;
		if (c != ',')
			return false;
	}
	j->depth--;
	return true;
}

/* Any JSON value, skipped. */
static bool value(struct jp *j)
{
	uint64_t n;
	skip_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
		j->p++;
		return container(j, '}', true);
	case '[':
		j->p++;
		return container(j, ']', false);
	case '"':
		j->p++;
		return string(j, NULL, 0, NULL);
	case 't':
		return lit(j, "true");
	case 'f':
		return lit(j, "false");
	case 'n':
		return lit(j, "null");
	default:
		return number(j, &n);
	}
}

struct field {
	const char *name;
	size_t off, cap; /* a string field of struct ev */
};

#define STR_FIELD(n)                                                    \
	{                                                               \
#n, offsetof(struct ev, n), sizeof(((struct ev *)0)->n) \
	}
static const struct field str_fields[] = {
	STR_FIELD(time), STR_FIELD(event),  STR_FIELD(rule),   STR_FIELD(fn),
	STR_FIELD(hook), STR_FIELD(action), STR_FIELD(reason),
};

static uint64_t *num_field(struct ev *e, const char *name)
{
	if (!strcmp(name, "pid"))
		return &e->pid;
	if (!strcmp(name, "errors"))
		return &e->errors;
	if (!strcmp(name, "window"))
		return &e->window;
	if (!strcmp(name, "rate_ppm"))
		return &e->rate_ppm;
	return NULL;
}

/* One member's value, kept when it is a field report uses. */
static bool member(struct jp *j, struct ev *e, const char *name)
{
	skip_ws(j);
	if (j->p >= j->end)
		return false;
	if (*j->p == '"') {
		j->p++;
		if (!strcmp(name, "key")) {
			e->has_key = true;
			return string(j, e->key, sizeof(e->key), &e->key_len);
		}
		for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
			if (!strcmp(name, str_fields[i].name))
				return string(j, (char *)e + str_fields[i].off, str_fields[i].cap,
				              NULL);
		return string(j, NULL, 0, NULL);
	}
	uint64_t *num = num_field(e, name);
	if (num && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')))
		return number(j, num);
	if (!strcmp(name, "applied") && lit(j, "true")) {
		e->applied = true;
		return true;
	}
	return value(j);
}

/* Parses one line as a JSON object into *e; false when it is not one. */
static bool parse_event(const char *line, size_t len, struct ev *e)
{
	struct jp j = { line, line + len, 1 };
	memset(e, 0, sizeof(*e));
	skip_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return false;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
	} else {
		for (;;) {
			char name[NAME_MAX_BYTES];
			skip_ws(&j);
			if (j.p >= j.end || *j.p++ != '"' || !string(&j, name, sizeof(name), NULL))
				return false;
			skip_ws(&j);
			if (j.p >= j.end || *j.p++ != ':' || !member(&j, e, name))
				return false;
			skip_ws(&j);
			if (j.p >= j.end)
				return false;
			char c = *j.p++;
			if (c == '}')
				break;
			if (c != ',')
				return false;
		}
	}
	skip_ws(&j);
	return j.p == j.end;
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
	uint64_t other_events;
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
	if (shadow)
		t->would_inject++;
	else if (e->applied)
		t->injected++;
	else
		t->not_applied++;
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
	fprintf(out, "%s%-*s %-6s %-8s %10" PRIu64 " %11" PRIu64 " %12" PRIu64 " %9zu  %-27s %s\n",
	        indent ? "  " : "", indent ? 22 : 24, t->name, indent ? "" : t->hook,
	        indent ? "" : t->action, t->injected, t->not_applied, t->would_inject,
	        t->requests.n + t->would_requests.n, t->first, t->last);
}

static void text_summary(FILE *out, const struct report *r)
{
	uint64_t lines = 0, non_json = 0, injected = 0, not_applied = 0, would = 0;
	for (size_t i = 0; i < r->n_logs; i++) {
		lines += r->logs[i].lines;
		non_json += r->logs[i].non_json;
	}
	for (size_t i = 0; i < r->n_rules; i++) {
		injected += r->rules[i].all.injected;
		not_applied += r->rules[i].all.not_applied;
		would += r->rules[i].all.would_inject;
	}
	fprintf(out,
	        "%zu log%s, %" PRIu64 " lines, %zu process%s: %" PRIu64 " faults injected, %" PRIu64
	        " not applied, %" PRIu64 " would inject (shadow), %zu halt%s\n",
	        r->n_logs, r->n_logs == 1 ? "" : "s", lines, r->pids.n, r->pids.n == 1 ? "" : "es",
	        injected, not_applied, would, r->n_halts, r->n_halts == 1 ? "" : "s");
	if (non_json)
		fprintf(out, "%" PRIu64 " line%s not JSON event%s, skipped\n", non_json,
		        non_json == 1 ? "" : "s", non_json == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_logs; i++)
		if (r->logs[i].truncated)
			fprintf(out, "%s: last line truncated (no newline), skipped\n",
			        r->logs[i].file);
	if (r->other_events)
		fprintf(out, "%" PRIu64 " event(s) of other kinds, not counted\n", r->other_events);
}

static void print_text(FILE *out, const struct report *r)
{
	text_summary(out, r);
	if (r->n_rules) {
		fprintf(out, "\n%-24s %-6s %-8s %10s %11s %12s %9s  %-27s %s\n", "rule / function",
		        "hook", "action", "injected", "not_applied", "would_inject", "requests",
		        "first", "last");
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
	        ",\"injected\":%" PRIu64 ",\"not_applied\":%" PRIu64 ",\"would_inject\":%" PRIu64
	        ",\"requests\":%zu,\"would_requests\":%zu,\"first\":\"%s\",\"last\":\"%s\"",
	        t->injected, t->not_applied, t->would_inject, t->requests.n, t->would_requests.n,
	        t->first, t->last);
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
	fprintf(out, "],\"processes\":%zu,\"other_events\":%" PRIu64 ",", r->pids.n,
	        r->other_events);
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
	      "faults injected, decided but not applied (a halt came in between), would-inject\n"
	      "(shadow), the distinct requests affected (request keys; for shadow rules, those\n"
	      "that would have been), the first and last time; then the halts with their\n"
	      "figures. Lines that are not JSON are counted and skipped; a last line without\n"
	      "its newline (a crash, a full disk) is skipped and said so.\n"
	      "  --json        one JSON object instead of the text\n"
	      "  -h, --help    this text\n"
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
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (opt == 'j') {
			json = true;
		} else if (opt == 'h') {
			report_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos report: unknown option '%s'\n", argv[optind - 1]);
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
