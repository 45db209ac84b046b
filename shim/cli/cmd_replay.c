/* cmd_replay.c: `mlchaos replay LOG -o FILE`: turns one process's event log into a config that
 * injects exactly those faults again: the rule set of the log's "rules" line, the rules that
 * fired, each with the calls (replay = THREAD:CALL:DRAW) or the requests (replay_key = KEY) it
 * acted on. Reads the log twice (which processes, then that one's lines), so that memory grows
 * with one process's faults only. Never trusts the log: a line it cannot use is reported as
 * LOG:LINE and skipped. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "json.h"
#include "options.h"
#include "outfile.h"

#define EXIT_NOTHING    1    /* nothing to replay, or the log cannot say how */
#define EXIT_USAGE      2    /* usage, an unreadable log, an unwritable output */
#define MAX_PROBLEMS    20   /* problems of the log printed; the rest are counted */
#define MAX_LINE_BYTES  1000 /* of a written list line: the parser takes 1024 */
#define RULE_NAME_BYTES (MC_RULE_NAME_MAX + 1)
#define NAME_CHARS \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-." /* of rule names */

struct options {
	const char *log, *out, *log_key;
	uint64_t pid;
	bool have_pid;
	char **rules; /* --rule NAMEs */
	int n_rules;
};

/* ---- problems of the log ----------------------------------------------------------------- */

static unsigned long problems;

__attribute__((format(printf, 3, 4))) static void problem(const char *log, unsigned long line,
                                                          const char *fmt, ...)
{
	va_list ap;

	if (++problems > MAX_PROBLEMS)
		return;
	fprintf(stderr, "mlchaos replay: %s:%lu: ", log, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- reading the log ----------------------------------------------------------------------- */

/* Called with each event line (a JSON object with a string "event"); returns 0, 1 to keep
 * the tree (the callee then frees it with json_decref()), or a negative errno to stop. */
typedef int (*event_fn)(void *ctx, unsigned long line, json_t *ev, const char *event);

/* Every event line of log, in order; the others are reported when report is set. Returns 0,
 * -errno of the file, or what fn returned. */
static int each_event(const char *log, bool report, event_fn fn, void *ctx)
{
	FILE *f = fopen(log, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long line = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && (n = getline(&text, &cap, f)) > 0) {
		json_t *ev;
		const char *event;
		char why[160] = "";
		size_t at = 0;

		line++;
		if (text[n - 1] != '\n') {
			/* SIGKILL can cut a write(2) to a file between two pages: said even
			 * past MAX_PROBLEMS, there is at most one */
			if (report)
				fprintf(stderr,
				        "mlchaos replay: %s:%lu: the last line has no newline (cut "
				        "by a crash or a full disk): skipped\n",
				        log, line);
			break;
		}
		r = mc_json_parse(text, (size_t)n - 1, &ev, why, sizeof(why), &at);
		if (r == -EINVAL) {
			if (report)
				problem(log, line, "not JSON (%s, at byte %zu): skipped", why,
				        at + 1);
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		event = mc_json_get_str(ev, "event");
		if (!event) {
			if (report)
				problem(log, line, "not an mlchaos event (no \"event\"): skipped");
		} else if ((r = fn(ctx, line, ev, event)) == 1) {
			r = 0;
			ev = NULL; /* the callee's now */
		}
		json_decref(ev);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	free(text);
	fclose(f);
	return r;
}

static bool is_fault(const char *event)
{
	return strcmp(event, "fault") == 0 || strcmp(event, "would_inject") == 0;
}

/* ---- pass 1: which processes ------------------------------------------------------------- */

struct proc {
	uint64_t pid;
	uint64_t faults;
};

struct procs {
	struct proc *v;
	size_t n;
	const char *log;
};

static int note_proc(void *ctx, unsigned long line, json_t *ev, const char *event)
{
	struct procs *ps = ctx;
	uint64_t pid;
	size_t i;

	if (!mc_json_get_u64(ev, "pid", &pid)) {
		problem(ps->log, line, "event without a pid: skipped");
		return 0;
	}
	for (i = 0; i < ps->n && ps->v[i].pid != pid; i++)
		;
	if (i == ps->n) {
		struct proc *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ps->v = v;
		ps->v[ps->n++] = (struct proc){ pid, 0 };
	}
	if (is_fault(event))
		ps->v[i].faults++;
	return 0;
}

/* The process to replay: the --pid, or the only one with faults. Exit status on failure. */
static int pick_process(const struct options *o, const struct procs *ps, uint64_t *ret)
{
	size_t with_faults = 0, last = 0;

	for (size_t i = 0; i < ps->n; i++) {
		if (o->have_pid && ps->v[i].pid == o->pid) {
			*ret = o->pid;
			return 0;
		}
		if (ps->v[i].faults) {
			with_faults++;
			last = i;
		}
	}
	if (o->have_pid) {
		fprintf(stderr, "mlchaos replay: %s has no line of pid %" PRIu64 "\n", o->log,
		        o->pid);
	} else if (with_faults == 1) {
		*ret = ps->v[last].pid;
		return 0;
	} else if (with_faults == 0) {
		fprintf(stderr, "mlchaos replay: %s holds no fault: nothing to replay\n", o->log);
		return EXIT_NOTHING;
	} else {
		fprintf(
		    stderr,
		    "mlchaos replay: %s holds the faults of %zu processes: choose one with --pid "
		    "(pid: faults)",
		    o->log, with_faults);
		for (size_t i = 0; i < ps->n; i++)
			if (ps->v[i].faults)
				fprintf(stderr, " %" PRIu64 ":%" PRIu64, ps->v[i].pid,
				        ps->v[i].faults);
		fputc('\n', stderr);
	}
	return EXIT_USAGE;
}

/* ---- pass 2: that process's rule set and faults -------------------------------------------- */

struct call_entry {
	uint64_t thread, call, draw;
};

struct key_entry {
	uint32_t len;
	char bytes[MC_REPLAY_KEY_MAX];
};

/* One rule of the rule set, and what the log says it did. */
struct rrule {
	char name[RULE_NAME_BYTES];
	const json_t *keys; /* [[key, value], ...] as written, in the rules line */
	bool select_call;   /* its calls are listed by thread and number, not by key */
	bool wanted;        /* kept by --rule (or no --rule given) */
	uint64_t faults;
	unsigned long first_line, last_line;
	struct call_entry *calls;
	size_t n_calls;
	struct key_entry *keys_seen;
	size_t n_keys;
};

struct replay {
	const struct options *o;
	uint64_t pid;
	json_t *rules_ev; /* the "rules" line in force at the first fault (owned) */
	json_t *latest;   /* the last "rules" line seen before the first fault (owned) */
	unsigned long rules_line, latest_line, reload_line;
	bool started; /* the first fault was seen: the rule set is fixed */
	struct rrule *rules;
	size_t n_rules;
	uint64_t after_reload, not_applied, unusable, halts;
};

/* Whether p is a [key, value] pair of strings: then its key and value (the value's length
 * in *ret_len, for a value with a NUL inside). */
static bool pair_of(const json_t *p, const char **ret_key, const char **ret_value, size_t *ret_len)
{
	const json_t *k = json_array_get(p, 0), *v = json_array_get(p, 1);

	if (json_array_size(p) != 2 || !json_is_string(k) || !json_is_string(v))
		return false;
	*ret_key = json_string_value(k);
	*ret_value = json_string_value(v);
	*ret_len = json_string_length(v);
	return true;
}

static const char *pair_value(const json_t *pairs, const char *key)
{
	const char *k, *v, *found = NULL;
	size_t len;

	for (size_t i = 0; i < json_array_size(pairs); i++)
		if (pair_of(json_array_get(pairs, i), &k, &v, &len) && strcmp(k, key) == 0)
			found = v; /* the last one, as the parser would take it */
	return found;
}

/* The rules of the rule set line; false (reported) when it is not one this command reads. */
static bool load_rules(struct replay *rp)
{
	const json_t *rules = json_object_get(rp->rules_ev, "rules");
	const char *request_key = mc_json_get_str(rp->rules_ev, "request_key");
	size_t n = json_array_size(rules);

	if (!json_is_array(rules) || !request_key) {
		problem(rp->o->log, rp->rules_line,
		        "a \"rules\" line without rules or request_key");
		return false;
	}
	rp->rules = calloc(n ? n : 1, sizeof(*rp->rules));
	if (!rp->rules) {
		fputs("mlchaos replay: out of memory\n", stderr);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = mc_json_get_str(json_array_get(rules, i), "name");
		const json_t *keys = json_object_get(json_array_get(rules, i), "keys");
		struct rrule *r = &rp->rules[rp->n_rules++];
		const char *select;

		if (!name || !*name || strlen(name) >= sizeof(r->name) ||
		    strspn(name, NAME_CHARS) != strlen(name) || !json_is_array(keys)) {
			problem(rp->o->log, rp->rules_line, "rule %zu of the rule set is malformed",
			        i + 1);
			return false;
		}
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->keys = keys;
		select = pair_value(keys, "select");
		/* request_key = thread keys requests by thread id, which differs in every run:
		 * such faults are listed by thread ordinal and call number */
		r->select_call =
		    select ? strcmp(select, "call") == 0 : strcmp(request_key, "none") == 0;
		r->select_call |= strcmp(request_key, "thread") == 0;
		r->wanted = rp->o->n_rules == 0;
		for (int k = 0; k < rp->o->n_rules; k++)
			r->wanted |= strcmp(rp->o->rules[k], name) == 0;
	}
	return true;
}

static struct rrule *find_rule(struct replay *rp, const char *name)
{
	for (size_t i = 0; i < rp->n_rules; i++)
		if (strcmp(rp->rules[i].name, name) == 0)
			return &rp->rules[i];
	return NULL;
}

/* "9e3779b97f4a7c15": 1 to 16 hex digits. */
static bool parse_draw(const char *s, uint64_t *ret)
{
	char *end;

	if (!s || !*s || strlen(s) > 16 || strspn(s, "0123456789abcdefABCDEF") != strlen(s))
		return false;
	errno = 0;
	*ret = strtoull(s, &end, 16);
	return errno == 0 && *end == '\0';
}

/* Room for one more element after the n of *v (each size bytes): the array doubles when n
 * reaches a power of two. */
static int room_for_one(void *v, size_t n, size_t size)
{
	void **array = v, *grown;

	if (n & (n - 1))
		return 0;
	grown = realloc(*array, (n ? n * 2 : 1) * size);
	if (!grown)
		return -ENOMEM;
	*array = grown;
	return 0;
}

static int add_call(struct rrule *r, uint64_t thread, uint64_t call, uint64_t draw)
{
	if (room_for_one(&r->calls, r->n_calls, sizeof(r->calls[0])) < 0)
		return -ENOMEM;
	r->calls[r->n_calls++] = (struct call_entry){ thread, call, draw };
	return 0;
}

static int add_key(struct rrule *r, const json_t *key)
{
	struct key_entry *k;

	if (room_for_one(&r->keys_seen, r->n_keys, sizeof(r->keys_seen[0])) < 0)
		return -ENOMEM;
	size_t n = json_string_length(key);
	k = &r->keys_seen[r->n_keys++];
	k->len = (uint32_t)(n < MC_REPLAY_KEY_MAX ? n : MC_REPLAY_KEY_MAX);
	memcpy(k->bytes, json_string_value(key), k->len);
	return 0;
}

/* The first fault of the process fixes the rule set: the last "rules" line before it. */
static int start(struct replay *rp, unsigned long line)
{
	rp->started = true;
	if (!rp->latest) {
		fprintf(stderr,
		        "mlchaos replay: %s: no \"rules\" line of pid %" PRIu64 " before its first "
		        "fault (line %lu): the log does not say which rules made it (a log of an "
		        "older mlchaos, or one whose start is missing)\n",
		        rp->o->log, rp->pid, line);
		return -ECANCELED;
	}
	rp->rules_ev = rp->latest;
	rp->rules_line = rp->latest_line;
	rp->latest = NULL;
	return load_rules(rp) ? 0 : -ECANCELED;
}

static int take_fault(struct replay *rp, unsigned long line, const json_t *ev, const char *event)
{
	const char *name = mc_json_get_str(ev, "rule");
	const json_t *key = json_object_get(ev, "key");
	bool shadow = strcmp(event, "would_inject") == 0;
	uint64_t thread = 0, call = 0, draw = 0;
	bool keyed, ids;
	struct rrule *r;

	if (!rp->started) {
		int err = start(rp, line);
		if (err)
			return err;
	}
	if (rp->reload_line) {
		rp->after_reload++;
		return 0;
	}
	r = name ? find_rule(rp, name) : NULL;
	if (!r) {
		problem(rp->o->log, line, "rule '%s' is not in the rule set of line %lu: skipped",
		        name ? name : "?", rp->rules_line);
		return 0;
	}
	if (!shadow && !mc_json_get_true(ev, "applied")) {
		rp->not_applied++;
		return 0;
	}
	if (!r->wanted)
		return 0;
	keyed = !r->select_call && json_is_string(key) && json_string_length(key);
	ids = mc_json_get_u64(ev, "thread", &thread) && thread <= UINT32_MAX &&
	      mc_json_get_u64(ev, "call", &call) && call > 0 &&
	      parse_draw(mc_json_get_str(ev, "draw"), &draw);
	if (!keyed && !ids) {
		problem(rp->o->log, line,
		        "a fault without \"thread\", \"call\" or \"draw\" (a log of an older "
		        "mlchaos?): it cannot be replayed");
		rp->unusable++;
		return 0;
	}
	if (!r->first_line)
		r->first_line = line;
	r->last_line = line;
	r->faults++;
	return keyed ? add_key(r, key) : add_call(r, thread, call, draw);
}

static int take_event(void *ctx, unsigned long line, json_t *ev, const char *event)
{
	struct replay *rp = ctx;
	uint64_t pid;

	if (!mc_json_get_u64(ev, "pid", &pid) || pid != rp->pid)
		return 0;
	if (strcmp(event, "rules") == 0) {
		if (rp->started) {
			if (!rp->reload_line)
				rp->reload_line = line;
			return 0;
		}
		json_decref(rp->latest);
		rp->latest = ev;
		rp->latest_line = line;
		return 1; /* kept */
	}
	if (strcmp(event, "halt") == 0)
		rp->halts++;
	return is_fault(event) ? take_fault(rp, line, ev, event) : 0;
}

/* ---- writing the config ------------------------------------------------------------------ */

/* A repeatable list key, written as lines of at most MAX_LINE_BYTES. */
struct list_line {
	FILE *f;
	const char *key;
	size_t len; /* of the line being written; 0: none open */
};

static void list_add(struct list_line *l, const char *item)
{
	size_t n = strlen(item);

	if (l->len && l->len + 1 + n > MAX_LINE_BYTES) {
		fputc('\n', l->f);
		l->len = 0;
	}
	if (!l->len)
		l->len = (size_t)fprintf(l->f, "%s =", l->key);
	fprintf(l->f, " %s", item);
	l->len += 1 + n;
}

static void list_end(struct list_line *l)
{
	if (l->len)
		fputc('\n', l->f);
	l->len = 0;
}

static int by_thread_call(const void *a, const void *b)
{
	const struct call_entry *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return x->call < y->call ? -1 : x->call > y->call;
}

static int by_key(const void *a, const void *b)
{
	const struct key_entry *x = a, *y = b;
	int c = memcmp(x->bytes, y->bytes, x->len < y->len ? x->len : y->len);

	return c ? c : x->len < y->len ? -1 : x->len > y->len;
}

static void write_calls(FILE *f, struct rrule *r)
{
	struct list_line l = { f, "replay", 0 };
	char item[64];

	if (r->n_calls) /* qsort wants a valid pointer even for no element */
		qsort(r->calls, r->n_calls, sizeof(r->calls[0]), by_thread_call);
	for (size_t i = 0; i < r->n_calls; i++) {
		const struct call_entry *c = &r->calls[i];

		if (i && by_thread_call(c, c - 1) == 0)
			continue; /* one decision per call: the log cannot hold two */
		snprintf(item, sizeof(item), "%" PRIu64 ":%" PRIu64 ":%016" PRIx64, c->thread,
		         c->call, c->draw);
		list_add(&l, item);
	}
	list_end(&l);
}

static void write_keys(FILE *f, struct rrule *r)
{
	struct list_line l = { f, "replay_key", 0 };
	char item[4 * MC_REPLAY_KEY_MAX + 1];

	if (r->n_keys)
		qsort(r->keys_seen, r->n_keys, sizeof(r->keys_seen[0]), by_key);
	for (size_t i = 0; i < r->n_keys; i++) {
		if (i && by_key(&r->keys_seen[i], &r->keys_seen[i - 1]) == 0)
			continue; /* every call of a request: one key */
		mc_cfg_replay_key_escape(r->keys_seen[i].bytes, r->keys_seen[i].len, item,
		                         sizeof(item));
		list_add(&l, item);
	}
	list_end(&l);
}

/* "key = value" for each pair, but those named in skip, or only those named in only (lists
 * ending with NULL; either may be NULL). */
static void write_pairs(FILE *f, const json_t *pairs, const char *const *skip,
                        const char *const *only)
{
	const char *k, *v;
	size_t len;

	for (size_t i = 0; i < json_array_size(pairs); i++) {
		bool keep = only == NULL;

		/* a line end cannot come from a config file: such a pair is not written, and the
		 * parser then says what is missing */
		if (!pair_of(json_array_get(pairs, i), &k, &v, &len) || strpbrk(k, "\n\r") ||
		    strpbrk(v, "\n\r") || strlen(v) != len)
			continue;
		for (const char *const *s = skip; s && *s; s++)
			keep &= strcmp(*s, k) != 0;
		for (const char *const *s = only; s && *s; s++)
			keep |= strcmp(*s, k) == 0;
		if (keep)
			fprintf(f, "%s = %s\n", k, v);
	}
}

/* s inside a comment line: a control character (a newline in a file name) would end it. */
static void put_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void write_rule(FILE *f, const struct replay *rp, struct rrule *r)
{
	/* the list decides which calls: these would only get in its way */
	static const char *const skip[] = { "rate", "after", "replay", "replay_key", NULL };

	fprintf(f, "\n; %" PRIu64 " fault%s of pid %" PRIu64 ", ", r->faults,
	        r->faults == 1 ? "" : "s", rp->pid);
	put_text(f, rp->o->log);
	fprintf(f, " lines %lu-%lu: %zu call%s by thread and number, %zu request key%s\n",
	        r->first_line, r->last_line, r->n_calls, r->n_calls == 1 ? "" : "s", r->n_keys,
	        r->n_keys == 1 ? "" : "s");
	fprintf(f, "[fault.%s]\n", r->name);
	write_pairs(f, r->keys, skip, NULL);
	write_calls(f, r);
	write_keys(f, r);
}

static void write_config(FILE *f, const struct replay *rp, size_t n_rules, uint64_t n_faults)
{
	/* what makes the same decisions; the brakes (halt_file, max_faults, the watchdog) are
	 * left out: a replay injects the listed faults, as many as the run logged did */
	static const char *const globals[] = { "seed",   "request_key", "on_error",
		                               "shadow", "enabled",     NULL };
	const char *config = mc_json_get_str(rp->rules_ev, "config");
	const json_t *mlchaos = json_object_get(rp->rules_ev, "mlchaos");
	const char *log = rp->o->log_key ? rp->o->log_key : pair_value(mlchaos, "log");

	fputs("; Written by `mlchaos replay ", f);
	put_text(f, rp->o->log);
	fprintf(f,
	        "`: the %" PRIu64 " fault%s of pid %" PRIu64 " in %zu rule%s,\n; from the rule "
	        "set of line %lu (config ",
	        n_faults, n_faults == 1 ? "" : "s", rp->pid, n_rules, n_rules == 1 ? "" : "s",
	        rp->rules_line);
	put_text(f, config ? config : "?");
	fputs("), injected again on the same calls and\n; requests with the same draws, and "
	      "nothing else.\n[mlchaos]\n",
	      f);
	write_pairs(f, mlchaos, NULL, globals);
	if (log)
		fprintf(f, "log = %s\n", log);
	for (size_t i = 0; i < rp->n_rules; i++)
		if (rp->rules[i].faults)
			write_rule(f, rp, &rp->rules[i]);
}

/* ---- the command ------------------------------------------------------------------------- */

static void replay_usage(FILE *out)
{
	fputs("usage: mlchaos replay LOG -o FILE [--pid PID] [--rule NAME]... [--log PATH]\n"
	      "Write a config that injects the faults of one process's event log again, and\n"
	      "nothing else: the rule set of the log's \"rules\" line (in force at the first\n"
	      "fault), the rules that fired, each with the calls it acted on (replay =\n"
	      "THREAD:CALL:DRAW) or the requests (replay_key = KEY), the same seed and names.\n"
	      "Shadow rules stay shadow; faults decided but not applied are left out. The\n"
	      "written file is checked with the parser of `mlchaos check`.\n"
	      "  -o, --output FILE  the config to write (required)\n"
	      "  --pid PID          the process (needed when the log holds several)\n"
	      "  --rule NAME        only this rule's faults (repeatable)\n"
	      "  --log PATH         the replayed run's event log (default: the log's own log\n"
	      "                     key, as written)\n"
	      "  -h, --help         this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 written and valid; 1 nothing to replay, a fault the log does not\n"
	      "say enough about, or a written config that does not validate; 2 usage error,\n"
	      "a log that cannot be read, several processes without --pid, an unknown --pid\n"
	      "or --rule, or an output that cannot be written.\n",
	      out);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' }, { "pid", required_argument, NULL, 'p' },
		{ "rule", required_argument, NULL, 'r' },   { "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	int opt;
	char *end;

	optind = 0;
	opterr = 0;
	/* options may come after LOG, as in `mlchaos replay LOG -o FILE` */
	while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		if (opt == 'o') {
			o->out = optarg;
		} else if (opt == 'p') {
			errno = 0;
			o->pid = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "mlchaos replay: --pid '%s' is not a pid\n",
				        optarg);
				return EXIT_USAGE;
			}
			o->have_pid = true;
		} else if (opt == 'r') {
			char **v = realloc(o->rules, (size_t)(o->n_rules + 1) * sizeof(*v));
			if (!v)
				return EXIT_USAGE;
			o->rules = v;
			o->rules[o->n_rules++] = optarg;
		} else if (opt == 'l') {
			if (strpbrk(optarg, "\n\r") || !*optarg) {
				fputs("mlchaos replay: --log wants a path on one line\n", stderr);
				return EXIT_USAGE;
			}
			o->log_key = optarg;
		} else if (opt == 'h') {
			replay_usage(stdout);
			return -1;
		} else {
			fprintf(stderr, "mlchaos replay: unknown option or missing value: '%s'\n",
			        mc_opt_rejected(argv));
			replay_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o->out) {
		fputs(optind >= argc      ? "mlchaos replay: no log given\n"
		      : optind < argc - 1 ? "mlchaos replay: give one log\n"
		                          : "mlchaos replay: no output given (-o FILE)\n",
		      stderr);
		replay_usage(stderr);
		return EXIT_USAGE;
	}
	o->log = argv[optind];
	return 0;
}

static void say_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	fprintf(stderr, "mlchaos replay: %s\n", msg);
}

/* What was left out, and why, on stderr. */
static void notes(const struct replay *rp)
{
	const char *log = rp->o->log;

	if (rp->after_reload)
		fprintf(stderr,
		        "mlchaos replay: pid %" PRIu64 " reloaded its rules at %s:%lu: the %" PRIu64
		        " faults after it are not replayed (the rule set in force at the first "
		        "fault is)\n",
		        rp->pid, log, rp->reload_line, rp->after_reload);
	if (rp->not_applied)
		fprintf(stderr,
		        "mlchaos replay: %" PRIu64 " faults decided but not applied (a halt or a "
		        "reload came in between) are left out\n",
		        rp->not_applied);
	if (rp->halts)
		fprintf(stderr,
		        "mlchaos replay: pid %" PRIu64 " was halted: calls made while halted were "
		        "not counted, so the calls listed after a halt may land on others\n",
		        rp->pid);
	for (size_t i = 0; i < rp->n_rules; i++)
		if (rp->rules[i].faults && (pair_value(rp->rules[i].keys, "start") ||
		                            pair_value(rp->rules[i].keys, "duration")))
			fprintf(stderr,
			        "mlchaos replay: rule %s has a time window (start, duration): the "
			        "calls it matches depend on timing, and so do their numbers\n",
			        rp->rules[i].name);
	if (problems > MAX_PROBLEMS)
		fprintf(stderr, "mlchaos replay: %s: %lu more problems not shown\n", log,
		        problems - MAX_PROBLEMS);
}

/* Writes and checks the config; the exit status. */
static int emit(struct replay *rp)
{
	size_t n_rules = 0;
	uint64_t n_faults = 0;
	struct mc_config *cfg = NULL;
	FILE *f;
	int fd, r;

	for (size_t i = 0; i < rp->n_rules; i++) {
		n_rules += rp->rules[i].faults != 0;
		n_faults += rp->rules[i].faults;
	}
	if (!n_faults) {
		fprintf(stderr, "mlchaos replay: %s: no fault of pid %" PRIu64 " to replay\n",
		        rp->o->log, rp->pid);
		return EXIT_NOTHING;
	}
	/* 0600: replay_key lists the run's request keys */
	fd = mc_outfile_open("replay", rp->o->out, O_TRUNC, "output", "nothing was written");
	if (fd < 0)
		return EXIT_USAGE;
	f = fdopen(fd, "w");
	if (!f) {
		fprintf(stderr, "mlchaos replay: cannot write %s: %s\n", rp->o->out,
		        strerror(errno));
		close(fd);
		return EXIT_USAGE;
	}
	write_config(f, rp, n_rules, n_faults);
	if (fclose(f) != 0) {
		fprintf(stderr, "mlchaos replay: cannot write %s: %s\n", rp->o->out,
		        strerror(errno));
		return EXIT_USAGE;
	}
	r = mc_cfg_parse_file(rp->o->out, say_diag, NULL, &cfg);
	mc_cfg_free(cfg);
	if (r < 0) {
		fprintf(stderr, "mlchaos replay: %s does not validate (above): not usable\n",
		        rp->o->out);
		return EXIT_NOTHING;
	}
	printf("mlchaos replay: wrote %s: %" PRIu64 " fault%s of pid %" PRIu64 " in %zu rule%s "
	       "(the rule set of %s:%lu)\n",
	       rp->o->out, n_faults, n_faults == 1 ? "" : "s", rp->pid, n_rules,
	       n_rules == 1 ? "" : "s", rp->o->log, rp->rules_line);
	return rp->unusable ? EXIT_NOTHING : 0;
}

/* Every --rule must name a rule of the rule set. */
static bool rules_known(const struct replay *rp)
{
	bool ok = true;

	for (int k = 0; k < rp->o->n_rules; k++) {
		bool found = false;

		for (size_t i = 0; i < rp->n_rules; i++)
			found |= strcmp(rp->rules[i].name, rp->o->rules[k]) == 0;
		if (!found) {
			fprintf(stderr, "mlchaos replay: --rule %s: no such rule in the rule set (",
			        rp->o->rules[k]);
			for (size_t i = 0; i < rp->n_rules; i++)
				fprintf(stderr, "%s%s", i ? ", " : "", rp->rules[i].name);
			fputs(")\n", stderr);
			ok = false;
		}
	}
	return ok;
}

static void free_replay(struct replay *rp)
{
	for (size_t i = 0; i < rp->n_rules; i++) {
		free(rp->rules[i].calls);
		free(rp->rules[i].keys_seen);
	}
	free(rp->rules);
	json_decref(rp->rules_ev);
	json_decref(rp->latest);
}

/* -ECANCELED: the log cannot say what to replay, and that was said */
static int read_failed(const char *log, int err)
{
	if (err == -ECANCELED)
		return EXIT_NOTHING;
	fprintf(stderr, "mlchaos replay: cannot read %s: %s\n", log, strerror(-err));
	return EXIT_USAGE;
}

int mc_cmd_replay(int argc, char **argv)
{
	struct options o = { 0 };
	struct procs ps = { 0 };
	struct replay rp = { 0 };
	int status = parse_options(argc, argv, &o), err;

	problems = 0;
	if (status)
		goto out;
	ps.log = o.log;
	err = each_event(o.log, true, note_proc, &ps);
	if (err < 0) {
		status = read_failed(o.log, err);
		goto out;
	}
	rp.o = &o;
	status = pick_process(&o, &ps, &rp.pid);
	if (status)
		goto out;
	err = each_event(o.log, false, take_event, &rp);
	if (err < 0)
		status = read_failed(o.log, err);
	else if (!rp.started)
		status = emit(&rp); /* says there is nothing to replay */
	else if (!rules_known(&rp))
		status = EXIT_USAGE;
	else
		status = emit(&rp);
	notes(&rp);
out:
	free_replay(&rp);
	free(ps.v);
	free(o.rules);
	return status < 0 ? 0 : status;
}
