/* cmd_stats.c: `mlchaos stats` and `mlchaos top`: the live counters of the processes running
 * the library, read from their segments. Read-only: never writes a segment (stale ones are
 * removed by segments.c), never signals a process. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "options.h"
#include "segments.h"

static const char *const http_class_names[MC_HTTP_CLASSES] = { "1xx", "2xx", "3xx",
	                                                       "4xx", "5xx", "reset" };

/* Previous frame of `top`, for per-second rates: applied counts per rule of one process. */
struct top_prev {
	int pid;
	uint64_t started_unix_ns;
	uint64_t applied[MC_MAX_RULES];
};

struct rates {
	const struct top_prev *prev; /* NULL: no rate column */
	double seconds;
};

/* ---- text ------------------------------------------------------------------------------ */

static void print_state(FILE *out, const struct mc_seg *seg)
{
	uint32_t halts = mc_seg_halts(seg);
	const struct mc_shm *s = seg->shm;
	if (!halts) {
		fputs("  state    running\n", out);
		return;
	}
	fputs("  state    halted by", out);
	const char *sep = " ";
	for (size_t i = 0; i < 4; i++) {
		if (!(halts & mc_seg_halt_bits[i]))
			continue;
		fprintf(out, "%s%s", sep, mc_seg_halt_name(mc_seg_halt_bits[i]));
		sep = ", ";
	}
	fputc('\n', out);
	int n = mc_seg_strlen(s->halt_reason, sizeof(s->halt_reason));
	if (n && (halts & MC_CTL_WATCHDOG))
		fprintf(out, "           %.*s\n", n, s->halt_reason);
}

static void print_header(FILE *out, const struct mc_seg *seg)
{
	const struct mc_shm *s = seg->shm;
	char when[64];
	mc_rfc3339(when, sizeof(when), s->started_unix_ns);
	fprintf(out, "process %d  %.*s\n", seg->pid, mc_seg_strlen(s->argv0, sizeof(s->argv0)),
	        s->argv0);
	fprintf(out, "  config   %.*s (xxh3 %016" PRIx64 "), seed %" PRIu64 "\n",
	        mc_seg_strlen(s->config_path, sizeof(s->config_path)), s->config_path,
	        s->config_hash, s->seed);
	fprintf(out, "  started  %s, parent %d\n", when, (int)s->ppid);
	print_state(out, seg);
}

static const struct top_prev *prev_of(const struct rates *rt, const struct mc_seg *seg)
{
	if (!rt || !rt->prev || rt->prev->pid != seg->pid ||
	    rt->prev->started_unix_ns != seg->shm->started_unix_ns)
		return NULL;
	return rt->prev;
}

static void print_rules(FILE *out, const struct mc_seg *seg, const struct rates *rt)
{
	const struct mc_shm *s = seg->shm;
	const struct top_prev *prev = prev_of(rt, seg);
	fprintf(out, "  %-24s %-6s %-8s %10s %10s %10s %10s %10s %10s %9s %12s%s\n", "rule", "hook",
	        "action", "matched", "selected", "injected", "applied", "at_load", "at_serve",
	        "no_effect", "would_inject", rt ? "  applied/s" : "");
	for (uint32_t i = 0; i < s->n_rules; i++) {
		const struct mc_shm_rule *r = &s->rules[i];
		const struct mc_rule_state *e = &s->engine.rule[i];
		uint64_t applied = mc_seg_u64(&r->applied);
		fprintf(out,
		        "  %-24.*s %-6s %-8s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
		        " %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %12" PRIu64,
		        mc_seg_strlen(r->name, sizeof(r->name)), r->name,
		        mc_hook_name((enum mc_hook)r->hook),
		        mc_action_name((enum mc_action)r->action), mc_seg_u64(&e->matched),
		        mc_seg_u64(&e->selected), mc_seg_u64(&e->injected), applied,
		        mc_seg_u64(&r->by_phase[MC_SHM_LOAD].applied),
		        mc_seg_u64(&r->by_phase[MC_SHM_SERVE].applied), mc_seg_u64(&r->no_effect),
		        mc_seg_u64(&r->would_inject));
		if (rt) {
			double d = prev && applied >= prev->applied[i] && rt->seconds > 0
			               ? (double)(applied - prev->applied[i]) / rt->seconds
			               : 0;
			fprintf(out, "  %9.0f", d);
		}
		fprintf(out, "%s%s", r->shadow ? "  (shadow)" : "",
		        r->enabled ? "" : "  (disabled)");
		if (mc_seg_u64(&e->ambiguous))
			fprintf(out, "  (ambiguous %" PRIu64 ")", mc_seg_u64(&e->ambiguous));
		fputc('\n', out);
	}
}

static void print_totals(FILE *out, const struct mc_seg *seg)
{
	const struct mc_shm *s = seg->shm;
	fprintf(out,
	        "  faults   %" PRIu64 " injected, %" PRIu64 " suppressed by a halt, %" PRIu64
	        " in flight\n",
	        mc_seg_u64(&s->faults_injected), mc_seg_u64(&s->faults_suppressed),
	        mc_seg_u64(&s->inflight));
	fprintf(out, "  events   %" PRIu64 " logged, %" PRIu64 " dropped\n",
	        mc_seg_u64(&s->events_logged), mc_seg_u64(&s->events_dropped));
	fputs("  http    ", out);
	for (int c = 0; c < MC_HTTP_CLASSES; c++)
		fprintf(out, " %s %" PRIu64, http_class_names[c],
		        mc_seg_u64(&s->http_responses[c]));
	fputc('\n', out);
	if (s->halt_window)
		fprintf(out,
		        "  watchdog halt above %.4g%% errors in the last %u responses; %" PRIu64
		        " trip(s)\n",
		        s->halt_on_error_rate_ppm / 10000.0, s->halt_window,
		        mc_seg_u64(&s->watchdog_trips));
}

static void print_text(FILE *out, const struct mc_seg *seg, const struct rates *rt)
{
	print_header(out, seg);
	print_rules(out, seg, rt);
	print_totals(out, seg);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_u64(FILE *out, const char *name, uint64_t v, bool comma)
{
	fprintf(out, "\"%s\":%" PRIu64 "%s", name, v, comma ? "," : "");
}

static void json_field_str(FILE *out, const char *name, const char *s, size_t cap)
{
	fprintf(out, "\"%s\":", name);
	mc_json_str(out, s, (size_t)mc_seg_strlen(s, cap));
	fputc(',', out);
}

static void json_state(FILE *out, const struct mc_seg *seg)
{
	uint32_t halts = mc_seg_halts(seg);
	const struct mc_shm *s = seg->shm;
	fprintf(out, "\"state\":\"%s\",\"halted_by\":[", halts ? "halted" : "running");
	const char *sep = "";
	for (size_t i = 0; i < 4; i++) {
		if (halts & mc_seg_halt_bits[i]) {
			fprintf(out, "%s\"%s\"", sep, mc_seg_halt_name(mc_seg_halt_bits[i]));
			sep = ",";
		}
	}
	fputs("],", out);
	int n = mc_seg_strlen(s->halt_reason, sizeof(s->halt_reason));
	if (n && (halts & MC_CTL_WATCHDOG))
		json_field_str(out, "halt_reason", s->halt_reason, sizeof(s->halt_reason));
	else
		fputs("\"halt_reason\":null,", out);
}

static void json_rule(FILE *out, const struct mc_seg *seg, uint32_t i)
{
	const struct mc_shm_rule *r = &seg->shm->rules[i];
	const struct mc_rule_state *e = &seg->shm->engine.rule[i];
	fprintf(out, "{\"id\":%u,", i);
	json_field_str(out, "name", r->name, sizeof(r->name));
	fprintf(out, "\"hook\":\"%s\",\"action\":\"%s\",\"shadow\":%s,\"enabled\":%s,",
	        mc_hook_name((enum mc_hook)r->hook), mc_action_name((enum mc_action)r->action),
	        r->shadow ? "true" : "false", r->enabled ? "true" : "false");
	json_u64(out, "matched", mc_seg_u64(&e->matched), true);
	json_u64(out, "skipped", mc_seg_u64(&e->skipped), true);
	json_u64(out, "selected", mc_seg_u64(&e->selected), true);
	json_u64(out, "injected", mc_seg_u64(&e->injected), true);
	json_u64(out, "applied", mc_seg_u64(&r->applied), true);
	json_u64(out, "no_effect", mc_seg_u64(&r->no_effect), true);
	json_u64(out, "would_inject", mc_seg_u64(&r->would_inject), true);
	json_u64(out, "ambiguous", mc_seg_u64(&e->ambiguous), true);
	fputs("\"by_phase\":{", out);
	for (unsigned p = 0; p < MC_SHM_PHASES; p++) {
		fprintf(out, "%s\"%s\":{", p ? "," : "", p == MC_SHM_LOAD ? "load" : "serve");
		json_u64(out, "applied", mc_seg_u64(&r->by_phase[p].applied), true);
		json_u64(out, "would_inject", mc_seg_u64(&r->by_phase[p].would_inject), false);
		fputc('}', out);
	}
	fputs("}}", out);
}

static void json_figures(FILE *out, const struct mc_shm *s)
{
	json_u64(out, "inflight", mc_seg_u64(&s->inflight), true);
	json_u64(out, "faults_injected", mc_seg_u64(&s->faults_injected), true);
	json_u64(out, "faults_suppressed", mc_seg_u64(&s->faults_suppressed), true);
	json_u64(out, "max_faults_used", mc_seg_u64(&s->engine.faults), true);
	json_u64(out, "events_logged", mc_seg_u64(&s->events_logged), true);
	json_u64(out, "events_dropped", mc_seg_u64(&s->events_dropped), true);
	fputs("\"http_responses\":{", out);
	for (int c = 0; c < MC_HTTP_CLASSES; c++)
		json_u64(out, http_class_names[c], mc_seg_u64(&s->http_responses[c]),
		         c + 1 < MC_HTTP_CLASSES);
	fputs("},\"watchdog\":{", out);
	json_u64(out, "window", s->halt_window, true);
	json_u64(out, "rate_ppm", s->halt_on_error_rate_ppm, true);
	json_u64(out, "trips", mc_seg_u64(&s->watchdog_trips), false);
	fprintf(out, "},\"reload\":{\"requested\":%u,\"done\":%u,\"status\":%d},",
	        atomic_load((_Atomic uint32_t *)&s->reload_requested),
	        atomic_load((_Atomic uint32_t *)&s->reload_done),
	        (int)atomic_load((_Atomic int32_t *)&s->reload_status));
}

static void print_json(FILE *out, const struct mc_seg *seg)
{
	const struct mc_shm *s = seg->shm;
	char when[64];
	mc_rfc3339(when, sizeof(when), s->started_unix_ns);
	fprintf(out, "{\"pid\":%d,\"ppid\":%d,", seg->pid, (int)s->ppid);
	json_field_str(out, "argv0", s->argv0, sizeof(s->argv0));
	json_field_str(out, "config", s->config_path, sizeof(s->config_path));
	fprintf(out, "\"config_hash\":\"%016" PRIx64 "\",\"seed\":%" PRIu64 ",\"started\":\"%s\",",
	        s->config_hash, s->seed, when);
	json_state(out, seg);
	json_figures(out, s);
	fputs("\"rules\":[", out);
	for (uint32_t i = 0; i < s->n_rules; i++) {
		if (i)
			fputc(',', out);
		json_rule(out, seg, i);
	}
	fputs("]}", out);
}

static void print_all_json(FILE *out, const struct mc_seg_list *list)
{
	fputs("{\"processes\":[", out);
	for (size_t i = 0; i < list->n; i++) {
		if (i)
			fputc(',', out);
		print_json(out, &list->segs[i]);
	}
	fprintf(out, "],\"stale_cleaned\":%u}\n", list->cleaned);
}

/* ---- stats ------------------------------------------------------------------------------ */

static void stats_usage(FILE *out)
{
	fputs("usage: mlchaos stats [--json] [--all | PID...]\n"
	      "Show the live counters of processes running libmlchaos.so: config and seed, state\n"
	      "(running, or halted by command / watchdog / halt_file / max_faults), and per rule\n"
	      "the calls matched (may lag by less than 64 per thread, and the calls let\n"
	      "through unasked since the thread last asked its rules), selected, injected\n"
	      "(decisions, shadow ones included), applied (in all, then while loading and while\n"
	      "serving: see phase = in reference.ini), would_inject; totals, event log\n"
	      "lines logged and dropped, HTTP responses by class. Without PID: every live\n"
	      "process of yours (as --all). Stale segments of dead processes are removed.\n"
	      "  --json        one JSON object: {\"processes\": [...], \"stale_cleaned\": N}\n"
	      "  --all         every live process\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 ok, 1 a PID has no segment (or is not yours), 2 usage error.\n",
	      out);
}

static void print_list(FILE *out, const struct mc_seg_list *list, bool json)
{
	if (json) {
		print_all_json(out, list);
		return;
	}
	if (!list->n)
		fputs("no process of yours is running libmlchaos.so\n", out);
	for (size_t i = 0; i < list->n; i++) {
		if (i)
			fputc('\n', out);
		print_text(out, &list->segs[i], NULL);
	}
}

int mc_cmd_stats(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, all = false;
	int opt;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'j') {
			json = true;
		} else if (opt == 'a') {
			all = true;
		} else if (opt == 'h') {
			stats_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos stats: unknown option '%s'\n",
			        mc_opt_rejected(argv));
			stats_usage(stderr);
			return 2;
		}
	}
	struct mc_seg_list list;
	int status =
	    mc_seg_open_args(argc - optind, argv + optind, all, MC_SEG_READ, "stats", &list);
	if (status == 2)
		return 2;
	print_list(stdout, &list, json);
	mc_seg_list_free(&list);
	return fflush(stdout) == 0 ? status : 2;
}

/* ---- top --------------------------------------------------------------------------------- */

static volatile sig_atomic_t top_stop;

static void on_stop(int sig)
{
	(void)sig;
	top_stop = 1;
}

struct top {
	bool tty, keys;
	struct termios saved;
	double interval_s;
	long iterations; /* 0: until stopped */
	struct top_prev *prev;
	size_t n_prev;
	uint64_t prev_ns;
};

static void top_usage(FILE *out)
{
	fputs("usage: mlchaos top [--interval SECONDS] [--iterations N] [--all | PID...]\n"
	      "The counters of `mlchaos stats`, refreshed every second, with the faults applied\n"
	      "per second. On a terminal the screen is redrawn; q or Ctrl-C quits. Otherwise\n"
	      "each refresh is printed after the last, under a '--- TIME' line.\n"
	      "  --interval S     seconds between refreshes (default 1)\n"
	      "  --iterations N   stop after N refreshes (default: until stopped)\n"
	      "  --all            every live process (as without PID)\n"
	      "  -h, --help       this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 ok, 1 a PID has no segment, 2 usage error.\n",
	      out);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void keep_prev(struct top *t, const struct mc_seg_list *list)
{
	struct top_prev *v = list->n ? calloc(list->n, sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < list->n; i++) {
		const struct mc_shm *s = list->segs[i].shm;
		v[i].pid = list->segs[i].pid;
		v[i].started_unix_ns = s->started_unix_ns;
		for (uint32_t r = 0; r < s->n_rules; r++)
			v[i].applied[r] = mc_seg_u64(&s->rules[r].applied);
	}
	free(t->prev);
	t->prev = v;
	t->n_prev = v ? list->n : 0;
}

static const struct top_prev *find_prev(const struct top *t, int pid)
{
	for (size_t i = 0; i < t->n_prev; i++)
		if (t->prev[i].pid == pid)
			return &t->prev[i];
	return NULL;
}

static void top_frame(struct top *t, const struct mc_seg_list *list)
{
	uint64_t now = mono_ns();
	char when[64];
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	mc_rfc3339(when, sizeof(when), (uint64_t)rt.tv_sec * 1000000000ull);
	if (t->tty)
		fputs("\033[H\033[2J", stdout);
	if (t->tty)
		printf("mlchaos top  %s  %zu process%s%s\n\n", when, list->n,
		       list->n == 1 ? "" : "es", t->keys ? "  (q quits)" : "");
	else
		printf("--- %s  %zu process%s\n", when, list->n, list->n == 1 ? "" : "es");
	if (!list->n)
		fputs("no process of yours is running libmlchaos.so\n", stdout);
	for (size_t i = 0; i < list->n; i++) {
		struct rates r = { find_prev(t, list->segs[i].pid),
			           t->prev_ns ? (double)(now - t->prev_ns) / 1e9 : 0 };
		if (i)
			fputc('\n', stdout);
		print_text(stdout, &list->segs[i], &r);
	}
	fflush(stdout);
	keep_prev(t, list);
	t->prev_ns = now;
}

/* Waits one interval; true when the user asked to quit (q, Ctrl-C, SIGTERM). */
static bool top_wait(struct top *t)
{
	uint64_t end = mono_ns() + (uint64_t)(t->interval_s * 1e9);
	while (!top_stop) {
		uint64_t now = mono_ns();
		if (now >= end)
			return false;
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int ms = (int)((end - now + 999999) / 1000000);
		if (!t->keys) {
			struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		char c;
		if (poll(&p, 1, ms) > 0 && read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
			return true;
	}
	return true;
}

static void top_terminal(struct top *t, bool enter)
{
	if (!t->keys)
		return;
	if (!enter) {
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
		return;
	}
	struct termios raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* ISIG kept: Ctrl-C still quits */
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

static int top_parse(struct top *t, int argc, char **argv, bool *all)
{
	static const struct option options[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	char *end;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hn:", options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			t->interval_s = strtod(optarg, &end);
			if (*end || !(t->interval_s >= 0.01 && t->interval_s <= 3600)) {
				fprintf(stderr,
				        "mlchaos top: --interval '%s': seconds between "
				        "0.01 and 3600\n",
				        optarg);
				return 2;
			}
			break;
		case 'n':
			t->iterations = strtol(optarg, &end, 10);
			if (*end || t->iterations <= 0) {
				fprintf(stderr, "mlchaos top: --iterations '%s': a count >= 1\n",
				        optarg);
				return 2;
			}
			break;
		case 'a':
			*all = true;
			break;
		case 'h':
			top_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mlchaos top: unknown option '%s'\n",
			        mc_opt_rejected(argv));
			top_usage(stderr);
			return 2;
		}
	}
	return -1;
}

int mc_cmd_top(int argc, char **argv)
{
	struct top t = { .interval_s = 1.0 };
	bool all = false;
	int r = top_parse(&t, argc, argv, &all);
	if (r >= 0)
		return r;
	t.tty = isatty(STDOUT_FILENO);
	t.keys = t.tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t.saved) == 0;
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	top_terminal(&t, true);
	int status = 0;
	for (long i = 0; !top_stop && status != 2 && (!t.iterations || i < t.iterations); i++) {
		struct mc_seg_list list;
		status =
		    mc_seg_open_args(argc - optind, argv + optind, all, MC_SEG_READ, "top", &list);
		if (status != 2)
			top_frame(&t, &list);
		mc_seg_list_free(&list);
		if ((t.iterations && i + 1 >= t.iterations) || top_wait(&t))
			break;
	}
	top_terminal(&t, false);
	free(t.prev);
	return status;
}
