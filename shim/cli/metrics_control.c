/* metrics_control.c: the scope of `mlchaos metrics` and its control endpoints. A request is
 * untrusted: the head is bounded by the server (cmd_metrics.c) and parsed here within it; the
 * token is compared in constant time and re-read from its file for every request, so that a
 * rotated Secret takes effect without a restart. The halt, resume and reload themselves are
 * those of the commands (control.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control.h"
#include "http_head.h"
#include "metrics_control.h"

#define TREE_DEPTH_MAX   4096
#define HEADER_NAME_MAX  64
#define CONTROL_WAIT_MAX 60.0

/* ---- the scope ---------------------------------------------------------------------- */

static int parent_of(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID ...": COMM may hold ')' and spaces; the last ')' ends it */
	const char *close = strrchr(buf, ')');
	int ppid;
	char state;
	if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return ppid;
}

bool mc_pid_in_tree(int pid, int root)
{
	for (int depth = 0; pid > 0 && depth < TREE_DEPTH_MAX; depth++) {
		if (pid == root)
			return true;
		pid = parent_of(pid);
	}
	return false;
}

int mc_scope_list(const struct mc_metrics_scope *scope, enum mc_seg_mode mode,
                  struct mc_seg_list *ret)
{
	int r = mc_seg_list_all(mode, ret);
	if (r < 0 || scope->tree <= 0)
		return r;
	size_t kept = 0;
	for (size_t i = 0; i < ret->n; i++) {
		if (mc_pid_in_tree(ret->segs[i].pid, scope->tree))
			ret->segs[kept++] = ret->segs[i];
		else
			mc_seg_close(&ret->segs[i]);
	}
	ret->n = kept;
	return 0;
}

/* ---- the token ------------------------------------------------------------------------ */

static void answer(struct mc_answer *a, const char *status, const char *headers, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void answer(struct mc_answer *a, const char *status, const char *headers, const char *fmt,
                   ...)
{
	va_list ap;
	va_start(ap, fmt);
	a->status = status;
	a->headers = headers;
	if (vasprintf(&a->body, fmt, ap) < 0)
		a->body = NULL;
	va_end(ap);
}

/* Whether the request may control: a token file is set, the request carries one
 * Authorization: Bearer header, and its token is the file's. Answers the refusal otherwise. */
static bool authorized(const struct mc_metrics_scope *scope, const char *head, struct mc_answer *a)
{
	static const char challenge[] = "WWW-Authenticate: Bearer realm=\"mlchaos\"\r\n";
	if (!scope->token_file) {
		answer(a, "403 Forbidden", "",
		       "control is off: this mlchaos metrics was started without "
		       "--control-token-file FILE\n");
		return false;
	}
	size_t len = 0;
	int count;
	const char *v = mc_http_header(head, "Authorization", &len, &count);
	if (count > 1) {
		answer(a, "400 Bad Request", "", "more than one Authorization header\n");
		return false;
	}
	if (!v || len < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
		answer(a, "401 Unauthorized", challenge,
		       "control needs an Authorization: Bearer TOKEN header\n");
		return false;
	}
	const char *tok = v + 7;
	size_t tlen = len - 7;
	while (tlen && *tok == ' ')
		tok++, tlen--;
	char *want = NULL;
	if (mc_fleet_read_token("metrics", scope->token_file, &want) < 0) {
		answer(a, "500 Internal Server Error", "",
		       "the token file cannot be read (said on this server's stderr)\n");
		return false;
	}
	bool ok = mc_token_equal(tok, tlen, want);
	memset(want, 0, strlen(want));
	free(want);
	if (!ok)
		answer(a, "401 Unauthorized", challenge, "wrong token\n");
	return ok;
}

/* ---- the request --------------------------------------------------------------------- */

struct control_query {
	double timeout_s;
	bool watchdog;
};

/* "timeout=S&watchdog=1"; 0, or -1 with the answer set. */
static int parse_query(const char *query, struct control_query *q, struct mc_answer *a)
{
	char buf[256];
	if (strlen(query) >= sizeof(buf)) {
		answer(a, "400 Bad Request", "", "query too long\n");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", query);
	char *save = NULL;
	for (char *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');
		char *end = NULL;
		if (v)
			*v++ = '\0';
		if (v && strcmp(kv, "timeout") == 0) {
			q->timeout_s = strtod(v, &end);
			if (*v && !*end && q->timeout_s >= 0 && q->timeout_s <= CONTROL_WAIT_MAX)
				continue;
		} else if (v && strcmp(kv, "watchdog") == 0 &&
		           (strcmp(v, "1") == 0 || strcmp(v, "0") == 0)) {
			q->watchdog = *v == '1';
			continue;
		}
		answer(a, "400 Bad Request", "",
		       "query: expected timeout=SECONDS (0 to 60) and/or watchdog=0|1\n");
		return -1;
	}
	return 0;
}

/* No body is expected: a request that announces one is refused (it is not read). */
static bool bodiless(const char *head, struct mc_answer *a)
{
	size_t len = 0, te_len;
	int count, te_count;
	const char *v = mc_http_header(head, "Content-Length", &len, &count);
	if (mc_http_header(head, "Transfer-Encoding", &te_len, &te_count)) {
		answer(a, "400 Bad Request", "", "no body expected (Transfer-Encoding)\n");
		return false;
	}
	if (v && !(count == 1 && len >= 1 && strspn(v, "0") == len)) {
		answer(a, "413 Content Too Large", "", "no body expected\n");
		return false;
	}
	return true;
}

bool mc_control_path(const char *path)
{
	return strcmp(path, "/halt") == 0 || strcmp(path, "/resume") == 0 ||
	       strcmp(path, "/reload") == 0;
}

/* Runs the action over the scope's processes; its status line. */
static const char *act(const struct mc_metrics_scope *scope, const char *path,
                       const struct control_query *q, FILE *out)
{
	struct mc_seg_list list;
	int r = mc_scope_list(scope, MC_SEG_WRITE, &list);
	if (r < 0) {
		fprintf(out, "cannot list %s: %s\n", MC_SHM_DIR, strerror(-r));
		return "500 Internal Server Error";
	}
	const char *status = "200 OK";
	if (strcmp(path, "/halt") == 0) {
		if (mc_control_halt(&list, q->timeout_s, out))
			status = "503 Service Unavailable";
	} else if (strcmp(path, "/resume") == 0) {
		mc_control_resume(&list, q->watchdog, out);
	} else {
		int worst = 0;
		for (size_t i = 0; i < list.n; i++) {
			int one = mc_control_reload(&list.segs[i], q->timeout_s, out, out);
			worst = one > worst ? one : worst;
		}
		status = worst == 1   ? "422 Unprocessable Content"
		         : worst == 2 ? "504 Gateway Timeout"
		                      : status;
	}
	if (!list.n)
		fputs("no process in this endpoint's scope is running libmlchaos.so\n", out);
	mc_seg_list_free(&list);
	return status;
}

void mc_control_answer(const struct mc_metrics_scope *scope, const char *head, const char *method,
                       const char *path, const char *query, struct mc_answer *ret)
{
	*ret = (struct mc_answer){ 0 };
	if (strcmp(method, "POST") != 0) {
		answer(ret, "405 Method Not Allowed", "Allow: POST\r\n", "%s takes POST only\n",
		       path);
		return;
	}
	struct control_query q = { .timeout_s = MC_CONTROL_TIMEOUT_S };
	if (!authorized(scope, head, ret) || !bodiless(head, ret) ||
	    parse_query(query, &q, ret) < 0)
		return;
	size_t len = 0;
	FILE *out = open_memstream(&ret->body, &len);
	if (!out) {
		answer(ret, "500 Internal Server Error", "", "out of memory\n");
		return;
	}
	ret->status = act(scope, path, &q, out);
	ret->headers = "";
	if (fclose(out) != 0) {
		free(ret->body);
		answer(ret, "500 Internal Server Error", "", "out of memory\n");
	}
}
