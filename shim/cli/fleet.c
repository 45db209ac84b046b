/* fleet.c: the client side of the control endpoints of `mlchaos metrics --listen
 * --control-token-file`: one POST to every replica at once (curl multi), each answer awaited
 * and judged. A replica confirms with HTTP 200 only; anything else (no answer, a refusal, a
 * halt that found faults still in flight) is named. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"

#define TOKEN_MAX_BYTES  4096
#define ANSWER_MAX_BYTES 65536
#define URL_MAX_BYTES    2048

int mc_fleet_add(struct mc_fleet *f, const char *url)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	if (!n || n >= URL_MAX_BYTES || strncmp(url, "http", 4) != 0 || !strstr(url, "://")) {
		fprintf(stderr, "mlchaos: '%s' is not a replica's URL (http://HOST:PORT)\n", url);
		return -1;
	}
	char **urls = realloc(f->urls, (f->n + 1) * sizeof(*urls));
	if (!urls)
		return -1;
	f->urls = urls;
	if (!(f->urls[f->n] = strndup(url, n)))
		return -1;
	f->n++;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	return s;
}

int mc_fleet_add_file(struct mc_fleet *f, const char *file)
{
	FILE *in = fopen(file, "re");
	if (!in) {
		fprintf(stderr, "mlchaos: %s: %s\n", file, strerror(errno));
		return -1;
	}
	char line[URL_MAX_BYTES + 2];
	int lineno = 0, r = 0;
	while (r == 0 && fgets(line, sizeof(line), in)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(in)) {
			fprintf(stderr, "%s:%d: line too long for a URL\n", file, lineno);
			r = -1;
			break;
		}
		char *url = trim(line);
		if (!*url || *url == '#')
			continue;
		if (strpbrk(url, " \t")) {
			fprintf(stderr, "%s:%d: one URL a line, found '%s'\n", file, lineno, url);
			r = -1;
		} else if (mc_fleet_add(f, url) < 0) {
			fprintf(stderr, "%s:%d: not a URL\n", file, lineno);
			r = -1;
		}
	}
	fclose(in);
	return r;
}

int mc_fleet_read_token(const char *who, const char *file, char **ret)
{
	FILE *in = fopen(file, "re");
	if (!in) {
		fprintf(stderr, "mlchaos %s: token file %s: %s\n", who, file, strerror(errno));
		return -1;
	}
	char buf[TOKEN_MAX_BYTES + 1];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	buf[n < sizeof(buf) ? n : TOKEN_MAX_BYTES] = '\0';
	char *t = trim(buf);
	const char *why = n > TOKEN_MAX_BYTES                      ? "longer than 4096 bytes"
	                  : !*t                                    ? "empty"
	                  : strlen(t) != strcspn(t, " \t\r\n\x7f") ? "white space inside"
	                                                           : NULL;
	for (const char *c = t; !why && *c; c++)
		if ((unsigned char)*c < 0x20)
			why = "control characters inside";
	if (why) {
		fprintf(stderr, "mlchaos %s: token file %s: %s (one line: the token)\n", who, file,
		        why);
		return -1;
	}
	*ret = strdup(t);
	return *ret ? 0 : -1;
}

void mc_fleet_free(struct mc_fleet *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->urls[i]);
	free(f->urls);
	if (f->token)
		memset(f->token, 0, strlen(f->token));
	free(f->token);
	*f = (struct mc_fleet){ 0 };
}

/* ---- one POST to every replica ------------------------------------------------------ */

struct answer {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t len;
	char why[CURL_ERROR_SIZE];
	CURLcode done;
	bool finished;
	double at_s;
};

static size_t keep_body(char *p, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	size_t take = size * n;
	if (a->len + take > ANSWER_MAX_BYTES)
		take = ANSWER_MAX_BYTES - a->len; /* the rest is cut, not an error */
	char *b = realloc(a->body, a->len + take + 1);
	if (!b)
		return 0;
	memcpy(b + a->len, p, take);
	a->body = b;
	a->len += take;
	b[a->len] = '\0';
	return size * n;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int prepare(struct answer *a, const char *base, const char *action, const char *query,
                   const char *token, double timeout_s)
{
	char url[URL_MAX_BYTES + 64], auth[TOKEN_MAX_BYTES + 32];
	snprintf(url, sizeof(url), "%s/%s%s%s", base, action, query ? "?" : "", query ? query : "");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	a->easy = curl_easy_init();
	a->headers = curl_slist_append(NULL, auth);
	memset(auth, 0, sizeof(auth));
	if (!a->easy || !a->headers)
		return -1;
	curl_easy_setopt(a->easy, CURLOPT_URL, url);
	curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->headers);
	curl_easy_setopt(a->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(a->easy, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(a->easy, CURLOPT_POSTFIELDSIZE, 0L);
	curl_easy_setopt(a->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(a->easy, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000) + 1000);
	curl_easy_setopt(a->easy, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(a->easy, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->easy, CURLOPT_ERRORBUFFER, a->why);
	curl_easy_setopt(a->easy, CURLOPT_PRIVATE, (char *)a);
	return 0;
}

/* Drives every transfer to its end (each has its own timeout). */
static int run_all(CURLM *multi, double t0)
{
	int running = 1;
	while (running) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			return -1;
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct answer *a;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&a);
			a->done = msg->data.result;
			a->finished = true;
			a->at_s = mono_s() - t0;
		}
		if (running && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
			return -1;
	}
	return 0;
}

/* One line for the replica, then its answer's lines indented. Returns whether it confirmed. */
static bool judge(FILE *out, const char *url, const struct answer *a)
{
	long code = 0;
	if (a->finished && a->done == CURLE_OK)
		curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
	bool ok = code == 200;
	if (!a->finished || a->done != CURLE_OK)
		fprintf(out, "%s: no answer: %s\n", url,
		        a->why[0] ? a->why : curl_easy_strerror(a->done));
	else if (ok)
		fprintf(out, "%s: confirmed after %.3f s\n", url, a->at_s);
	else
		fprintf(out, "%s: NOT confirmed: HTTP %ld\n", url, code);
	for (const char *p = a->body; p && *p;) {
		size_t n = strcspn(p, "\n");
		fprintf(out, "  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	return ok;
}

int mc_fleet_post(const struct mc_fleet *f, const char *action, const char *query, double timeout_s,
                  FILE *out, double *ret_s)
{
	struct answer *as = calloc(f->n, sizeof(*as));
	CURLM *multi = curl_multi_init();
	int failed = -1;
	if (!as || !multi || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	size_t added = 0;
	for (; added < f->n; added++)
		if (prepare(&as[added], f->urls[added], action, query, f->token, timeout_s) < 0 ||
		    curl_multi_add_handle(multi, as[added].easy) != CURLM_OK)
			goto out;
	double t0 = mono_s();
	if (run_all(multi, t0) < 0)
		goto out;
	failed = 0;
	double last = 0;
	for (size_t i = 0; i < f->n; i++) {
		failed += !judge(out, f->urls[i], &as[i]);
		if (as[i].at_s > last)
			last = as[i].at_s;
	}
	if (ret_s)
		*ret_s = last;
out:
	if (failed < 0)
		fprintf(stderr, "mlchaos %s: cannot set up the requests (out of memory?)\n",
		        action);
	for (size_t i = 0; as && i < f->n; i++) {
		if (as[i].easy) {
			curl_multi_remove_handle(multi, as[i].easy);
			curl_easy_cleanup(as[i].easy);
		}
		curl_slist_free_all(as[i].headers);
		free(as[i].body);
	}
	if (multi)
		curl_multi_cleanup(multi);
	free(as);
	return failed;
}
