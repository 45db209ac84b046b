/* cmd_metrics.c: `mlchaos metrics`: the counters of every live process in the Prometheus text
 * exposition format (0.0.4), printed once or served at /metrics by this separate process. The
 * server is deliberately tiny: one connection at a time, bounded request, loopback by default;
 * it never runs inside the host. It writes a segment's control word only for an authorized
 * POST /halt, /resume or /reload (metrics_control.c), when started with a token file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "control.h"
#include "metrics_control.h"
#include "options.h"
#include "segments.h"

#define DEFAULT_HOST      "127.0.0.1"
#define DEFAULT_PORT      "9464"
#define REQUEST_MAX_BYTES 8192
#define IO_TIMEOUT_S      5
#define LINGER_S          1
#define LINGER_MAX_BYTES  65536
#define CONTENT_TYPE      "text/plain; version=0.0.4; charset=utf-8"

static const char *const http_class_names[MC_HTTP_CLASSES] = { "1xx", "2xx", "3xx",
	                                                       "4xx", "5xx", "reset" };

/* ---- exposition ----------------------------------------------------------------------- */

/* A label value: backslash, double quote and line feed escaped, as the format asks. */
static void label_value(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\')
			fputs("\\\\", out);
		else if (s[i] == '"')
			fputs("\\\"", out);
		else if (s[i] == '\n')
			fputs("\\n", out);
		else
			fputc(s[i], out);
	}
	fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of rule i; phase ("load", "serve") or NULL for figures not split by phase. */
static void rule_labels(FILE *out, const struct mc_seg *seg, uint32_t i, const char *phase)
{
	const struct mc_shm_rule *r = &seg->shm->rules[i];
	fputs("{rule=", out);
	label_value(out, r->name, (size_t)mc_seg_strlen(r->name, sizeof(r->name)));
	fprintf(out, ",hook=\"%s\",action=\"%s\",pid=\"%d\"", mc_hook_name((enum mc_hook)r->hook),
	        mc_action_name((enum mc_action)r->action), seg->pid);
	if (phase)
		fprintf(out, ",phase=\"%s\"", phase);
	fputs("} ", out);
}

enum rule_figure {
	FIG_APPLIED,
	FIG_MATCHED,
	FIG_SELECTED,
	FIG_NO_EFFECT,
	FIG_WOULD,
	FIG_AMBIGUOUS
};

/* Figure f of rule i; for FIG_APPLIED and FIG_WOULD, in phase p (MC_SHM_PHASES: in all). */
static uint64_t rule_figure(const struct mc_seg *seg, uint32_t i, enum rule_figure f, unsigned p)
{
	const struct mc_shm_rule *r = &seg->shm->rules[i];
	switch (f) {
	case FIG_APPLIED:
		return mc_seg_u64(p < MC_SHM_PHASES ? &r->by_phase[p].applied : &r->applied);
	case FIG_MATCHED:
		return mc_seg_u64(&seg->shm->engine.rule[i].matched);
	case FIG_SELECTED:
		return mc_seg_u64(&seg->shm->engine.rule[i].selected);
	case FIG_NO_EFFECT:
		return mc_seg_u64(&r->no_effect);
	case FIG_AMBIGUOUS:
		return mc_seg_u64(&seg->shm->engine.rule[i].ambiguous);
	default:
		return mc_seg_u64(p < MC_SHM_PHASES ? &r->by_phase[p].would_inject
		                                    : &r->would_inject);
	}
}

/* A counter per rule; by_phase: one series per phase, labelled phase="load" or "serve". */
static void per_rule(FILE *out, const struct mc_seg_list *list, const char *name, const char *help,
                     enum rule_figure f, bool by_phase)
{
	family(out, name, "counter", help);
	for (size_t p = 0; p < list->n; p++) {
		const struct mc_seg *seg = &list->segs[p];
		for (uint32_t i = 0; i < seg->shm->n_rules; i++) {
			for (unsigned ph = 0; ph < (by_phase ? MC_SHM_PHASES : 1); ph++) {
				fputs(name, out);
				rule_labels(out, seg, i,
				            !by_phase           ? NULL
				            : ph == MC_SHM_LOAD ? "load"
				                                : "serve");
				fprintf(out, "%" PRIu64 "\n",
				        rule_figure(seg, i, f, by_phase ? ph : MC_SHM_PHASES));
			}
		}
	}
}

/* A per-process counter; off is the offset of an _Atomic uint64_t in struct mc_shm. */
static void per_process(FILE *out, const struct mc_seg_list *list, const char *name,
                        const char *help, size_t off)
{
	family(out, name, "counter", help);
	for (size_t p = 0; p < list->n; p++) {
		const struct mc_seg *seg = &list->segs[p];
		const _Atomic uint64_t *v = (const void *)((const char *)seg->shm + off);
		fprintf(out, "%s{pid=\"%d\"} %" PRIu64 "\n", name, seg->pid, mc_seg_u64(v));
	}
}

static void process_info(FILE *out, const struct mc_seg_list *list)
{
	family(out, "mlchaos_process_info", "gauge",
	       "A process running libmlchaos.so: its program, config and seed (value 1).");
	for (size_t p = 0; p < list->n; p++) {
		const struct mc_shm *s = list->segs[p].shm;
		fprintf(out, "mlchaos_process_info{pid=\"%d\",argv0=", list->segs[p].pid);
		label_value(out, s->argv0, (size_t)mc_seg_strlen(s->argv0, sizeof(s->argv0)));
		fputs(",config=", out);
		label_value(out, s->config_path,
		            (size_t)mc_seg_strlen(s->config_path, sizeof(s->config_path)));
		fprintf(out, ",config_hash=\"%016" PRIx64 "\",seed=\"%" PRIu64 "\"} 1\n",
		        s->config_hash, s->seed);
	}
}

static void halted(FILE *out, const struct mc_seg_list *list)
{
	family(out, "mlchaos_halted", "gauge",
	       "1 while injection is halted for that reason (command, watchdog, halt_file, "
	       "max_faults), else 0.");
	for (size_t p = 0; p < list->n; p++) {
		uint32_t halts = mc_seg_halts(&list->segs[p]);
		for (size_t b = 0; b < 4; b++)
			fprintf(out, "mlchaos_halted{pid=\"%d\",reason=\"%s\"} %d\n",
			        list->segs[p].pid, mc_seg_halt_name(mc_seg_halt_bits[b]),
			        (halts & mc_seg_halt_bits[b]) != 0);
	}
}

static void http_responses(FILE *out, const struct mc_seg_list *list)
{
	family(out, "mlchaos_http_responses_total", "counter",
	       "HTTP/1.x responses the process sent, by status class (reset: the connection was "
	       "reset), as the watchdog saw them.");
	for (size_t p = 0; p < list->n; p++)
		for (int c = 0; c < MC_HTTP_CLASSES; c++)
			fprintf(out,
			        "mlchaos_http_responses_total{class=\"%s\",pid=\"%d\"} %" PRIu64
			        "\n",
			        http_class_names[c], list->segs[p].pid,
			        mc_seg_u64(&list->segs[p].shm->http_responses[c]));
}

static void exposition(FILE *out, const struct mc_seg_list *list)
{
	process_info(out, list);
	per_rule(out, list, "mlchaos_faults_injected_total",
	         "Faults the rule injected (applied) in the process, by the phase of the process "
	         "(load or serve) they were decided in.",
	         FIG_APPLIED, true);
	per_rule(out, list, "mlchaos_calls_matched_total",
	         "Calls that matched the rule's targeting and window (lags by less than 64 per "
	         "thread, and the calls let through unasked since the thread last asked its "
	         "rules).",
	         FIG_MATCHED, false);
	per_rule(out, list, "mlchaos_calls_selected_total",
	         "Matching calls the rule's selector chose.", FIG_SELECTED, false);
	per_rule(out, list, "mlchaos_no_effect_total",
	         "Corrupt decisions that changed no byte (not faults: not in injected).",
	         FIG_NO_EFFECT, false);
	per_rule(out, list, "mlchaos_would_inject_total",
	         "Faults a shadow rule decided but did not inject, by phase (load or serve).",
	         FIG_WOULD, true);
	per_rule(
	    out, list, "mlchaos_ambiguous_total",
	    "Calls a select = request rule would have selected by the key read last, not acted "
	    "on: the thread had several requests in flight.",
	    FIG_AMBIGUOUS, false);
	per_process(out, list, "mlchaos_faults_suppressed_total",
	            "Faults decided, then dropped because a halt came in between.",
	            offsetof(struct mc_shm, faults_suppressed));
	halted(out, list);
	http_responses(out, list);
	per_process(out, list, "mlchaos_events_logged_total", "Event log lines written.",
	            offsetof(struct mc_shm, events_logged));
	per_process(out, list, "mlchaos_events_dropped_total",
	            "Event log lines that could not be written (full disk, no log file).",
	            offsetof(struct mc_shm, events_dropped));
	per_process(out, list, "mlchaos_watchdog_trips_total",
	            "Times the watchdog halted injection (halt_on_error_rate).",
	            offsetof(struct mc_shm, watchdog_trips));
}

/* The exposition of every live process, in a new buffer (free it). NULL on error. */
static char *render(const struct mc_metrics_scope *scope, size_t *ret_len, unsigned *ret_cleaned)
{
	struct mc_seg_list list;
	char *text = NULL;
	if (mc_scope_list(scope, MC_SEG_READ, &list) < 0)
		return NULL;
	FILE *out = open_memstream(&text, ret_len);
	if (out) {
		exposition(out, &list);
		if (fclose(out) != 0) {
			free(text);
			text = NULL;
		}
	}
	*ret_cleaned = list.cleaned;
	mc_seg_list_free(&list);
	return text;
}

/* ---- the server -------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_serving;

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
}

/* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT": the host is loopback for "PORT", and empty
 * (every interface) for ":PORT", as a sidecar in a pod is given it, to be scraped from
 * outside the pod. */
static int split_address(const char *spec, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strrchr(spec, ':');
	const char *h = spec, *hend = colon ? colon : spec;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = spec + 1;
		hend = close;
		colon = close + 1;
	}
	snprintf(port, pcap, "%s", colon ? colon + 1 : spec);
	if (hend == h)
		snprintf(host, hcap, "%s", colon == spec ? "" : DEFAULT_HOST);
	else
		snprintf(host, hcap, "%.*s", (int)(hend - h), h);
	return port[0] && strspn(port, "0123456789") == strlen(port) ? 0 : -EINVAL;
}

static int listen_on(const char *spec)
{
	char host[256], port[16];
	if (split_address(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		fprintf(stderr, "mlchaos metrics: --listen '%s': expected HOST:PORT\n", spec);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (g) {
		fprintf(stderr, "mlchaos metrics: --listen '%s': %s\n", spec, gai_strerror(g));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		fprintf(stderr, "mlchaos metrics: cannot listen on %s: %s\n", spec, strerror(e));
		if (fd >= 0)
			close(fd);
		fd = -e;
	}
	freeaddrinfo(ai);
	return fd;
}

static void say_where(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char host[256], port[16];
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&sa, len, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV))
		return;
	bool v6 = sa.ss_family == AF_INET6;
	fprintf(stderr, "mlchaos metrics: serving http://%s%s%s:%s/metrics\n", v6 ? "[" : "", host,
	        v6 ? "]" : "", port);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* extra: header lines, each ending CRLF ("" for none). */
static void respond_with(int fd, const char *status, const char *extra, const char *type,
                         const char *body, size_t len, bool head)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n%s\r\n",
	                 status, type, len, extra);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return;
	if (send_all(fd, hdr, (size_t)n) == 0 && !head)
		send_all(fd, body, len);
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len,
                    bool head)
{
	respond_with(fd, status, strncmp(status, "405", 3) == 0 ? "Allow: GET, HEAD\r\n" : "", type,
	             body, len, head);
}

/* Reads the request head (bounded); its length, or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r < 0 && errno == EINTR && !stop_serving)
			continue;
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
	return (ssize_t)len; /* too long: the request line is all we need */
}

static void plain(int fd, const char *status, const char *text, bool head)
{
	respond(fd, status, "text/plain; charset=utf-8", text, strlen(text), head);
}

static void serve_metrics(int fd, const struct mc_metrics_scope *scope, bool head)
{
	size_t len;
	unsigned cleaned = 0;
	char *text = render(scope, &len, &cleaned);
	if (cleaned)
		fprintf(stderr, "mlchaos metrics: cleaned %u stale segment%s\n", cleaned,
		        cleaned == 1 ? "" : "s");
	if (text)
		respond(fd, "200 OK", CONTENT_TYPE, text, len, head);
	else
		plain(fd, "500 Internal Server Error", "cannot read the segments\n", head);
	free(text);
}

/* POST /halt, /resume, /reload: the whole head is needed (its Authorization header). */
static void serve_control(int fd, const struct mc_metrics_scope *scope, const char *req,
                          const char *method, const char *path, const char *query)
{
	if (!strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
		plain(fd, "431 Request Header Fields Too Large", "request head too long\n", false);
		return;
	}
	struct mc_answer a;
	mc_control_answer(scope, req, method, path, query, &a);
	const char *body = a.body ? a.body : "out of memory\n";
	respond_with(fd, a.status, a.headers, "text/plain; charset=utf-8", body, strlen(body),
	             false);
	if (strncmp(a.status, "40", 2) != 0)
		fprintf(stderr, "mlchaos metrics: POST %s: %s\n", path, a.status);
	free(a.body);
}

static void handle(int fd, const struct mc_metrics_scope *scope)
{
	char req[REQUEST_MAX_BYTES];
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_head(fd, req, sizeof(req)) < 0)
		return;
	char method[16], target[1024], version[16];
	if (sscanf(req, "%15s %1023s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		plain(fd, "400 Bad Request", "bad request\n", false);
		return;
	}
	bool head = strcmp(method, "HEAD") == 0;
	char *query = target + strcspn(target, "?");
	if (*query)
		*query++ = '\0';
	if (mc_control_path(target))
		serve_control(fd, scope, req, method, target, query);
	else if (!head && strcmp(method, "GET") != 0)
		plain(fd, "405 Method Not Allowed", "only GET and HEAD\n", false);
	else if (strcmp(target, "/metrics") == 0)
		serve_metrics(fd, scope, head);
	else
		plain(fd, "404 Not Found",
		      scope->token_file
		          ? "mlchaos serves /metrics, and POST /halt, /resume, /reload\n"
		          : "mlchaos serves /metrics only\n",
		      head);
}

/* Closes after the client has read the answer: what it sent beyond the head (a body, the rest
 * of a head too long) is read and dropped first, bounded in bytes and time, so that closing
 * with unread bytes does not reset the connection and lose the answer on its way. */
static void linger_close(int fd)
{
	char sink[4096];
	struct timeval tv = { LINGER_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	shutdown(fd, SHUT_WR);
	for (size_t n = 0; n < LINGER_MAX_BYTES;) {
		ssize_t r = recv(fd, sink, sizeof(sink), 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
}

static int serve(const char *spec, const struct mc_metrics_scope *scope, long max_requests)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_on(spec);
	if (lfd < 0)
		return 2;
	say_where(lfd);
	long served = 0;
	while (!stop_serving && (!max_requests || served < max_requests)) {
		/* a bounded wait, so that a SIGTERM between the check and the wait is seen */
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		if (poll(&p, 1, 250) <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		handle(fd, scope);
		linger_close(fd);
		served++;
	}
	close(lfd);
	return 0;
}

/* ---- the command ---------------------------------------------------------------------------- */

static void metrics_usage(FILE *out)
{
	fputs(
	    "usage: mlchaos metrics [--tree PID] [--listen [HOST:]PORT [--max-requests N]\n"
	    "                       [--control-token-file FILE]]\n"
	    "Print the counters of every live process of yours in the Prometheus text\n"
	    "exposition format (version 0.0.4): mlchaos_faults_injected_total,\n"
	    "mlchaos_calls_matched_total, mlchaos_calls_selected_total,\n"
	    "mlchaos_no_effect_total, mlchaos_would_inject_total (labels rule, hook, action, pid; injected and\n"
	    "would_inject also phase: load or serve), mlchaos_halted\n"
	    "(pid, reason), mlchaos_http_responses_total (class, pid),\n"
	    "mlchaos_events_dropped_total, mlchaos_watchdog_trips_total, ...\n"
	    "  --listen ADDR        serve them at http://ADDR/metrics from this process, one\n"
	    "                       request at a time, until SIGTERM or SIGINT; ADDR is\n"
	    "                       HOST:PORT, [V6]:PORT, :PORT (every interface) or PORT\n"
	    "                       (host 127.0.0.1); port 0\n"
	    "                       picks a free one (the address is printed on stderr)\n"
	    "  --max-requests N     stop after N requests\n"
	    "  --tree PID           only process PID and its descendants (one replica of\n"
	    "                       several on one machine); default: every process of yours\n"
	    "  --control-token-file FILE  also serve POST /halt, /resume (?watchdog=1) and\n"
	    "                       /reload (?timeout=S) for the processes covered, to requests\n"
	    "                       with `Authorization: Bearer TOKEN`, TOKEN the content of\n"
	    "                       FILE (re-read for each request); without it, control is off\n"
	    "                       (403). 200: done (halt: no fault in flight any more)\n"
	    "  -h, --help           this text\n"
	    "Exit status: 0 ok, 2 usage error or the address cannot be used.\n",
	    out);
}

int mc_cmd_metrics(int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-requests", required_argument, NULL, 'n' },
		{ "tree", required_argument, NULL, 'p' },
		{ "control-token-file", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL;
	struct mc_metrics_scope scope = { 0 };
	long max_requests = 0;
	int opt;
	char *end;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'l') {
			spec = optarg;
		} else if (opt == 'n') {
			max_requests = strtol(optarg, &end, 10);
			if (*end || max_requests <= 0) {
				fprintf(stderr,
				        "mlchaos metrics: --max-requests '%s': a count >= 1\n",
				        optarg);
				return 2;
			}
		} else if (opt == 'p') {
			if (mc_seg_parse_pid(optarg, &scope.tree) < 0) {
				fprintf(stderr, "mlchaos metrics: --tree '%s': a process id\n",
				        optarg);
				return 2;
			}
		} else if (opt == 'k') {
			scope.token_file = optarg;
		} else if (opt == 'h') {
			metrics_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mlchaos metrics: unknown option or missing value '%s'\n",
			        mc_opt_rejected(argv));
			metrics_usage(stderr);
			return 2;
		}
	}
	if (optind < argc || ((max_requests || scope.token_file) && !spec)) {
		fputs("mlchaos metrics: no arguments expected (--max-requests and "
		      "--control-token-file go with --listen)\n",
		      stderr);
		return 2;
	}
	char *token = NULL;
	if (scope.token_file && mc_fleet_read_token("metrics", scope.token_file, &token) < 0)
		return 2;
	free(token); /* read again for each request: a rotated token takes effect */
	if (spec)
		return serve(spec, &scope, max_requests);
	struct mc_seg_list list;
	int r = mc_scope_list(&scope, MC_SEG_READ, &list);
	if (r < 0) {
		fprintf(stderr, "mlchaos metrics: cannot list %s: %s\n", MC_SHM_DIR, strerror(-r));
		return 2;
	}
	mc_seg_list_note(&list, "metrics");
	exposition(stdout, &list);
	mc_seg_list_free(&list);
	return fflush(stdout) == 0 ? 0 : 2;
}
