/* load_http.c: one load run on libcurl's multi interface: `concurrency` transfers in flight
 * on kept-alive connections (HTTP/1.1, or HTTP/2 multiplexed), TLS, server-sent events, and a
 * health probe in the same loop. One thread; every response body is bounded by
 * MC_LOAD_BODY_MAX. Decides nothing about answers itself: load_judge.c does. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"
#include "segments.h" /* mc_json_str */

#define POLL_MAX_MS 100 /* the loop looks at the clock at least this often */
#define ID_MAX      256
/* Answers up to this size are remembered per request line, bytes and parsed value, so that
 * the same bytes again (a steady server answering the same request) are not parsed again. */
#define REMEMBER_MAX 4096

/* The last answer a request line got: its body and the part compared. */
struct remembered {
	char *body;
	size_t len;
	json_t *answer;
};

struct state;

/* One transfer slot: an easy handle reused request after request, so its connection stays. */
struct slot {
	struct state *st;
	CURL *easy;
	struct curl_slist id_node; /* the request id, then the shared tail */
	char id[ID_MAX];
	uint64_t index;
	uint64_t start_ns;
	char *body; /* the response, non-streamed */
	size_t len, cap;
	bool too_big;
	struct mc_sse sse; /* the response, streamed */
	char *text;        /* the streamed text so far */
	size_t text_len, text_cap;
	bool got_token, bad_event;
	uint64_t last_token_ns;
	double ttft_ms;
	char bad_why[MC_LOAD_MSG_MAX];
	char curl_why[CURL_ERROR_SIZE]; /* libcurl's own account of a failed transfer */
};

struct state {
	const struct mc_load_conf *conf;
	const struct mc_load_plan *plan;
	struct mc_load_run *run;
	CURLM *multi;
	struct slot *slots;
	char **urls;               /* per plan entry */
	struct curl_slist **tails; /* per plan entry: its headers but the id */
	struct remembered *last;   /* per plan entry */
	uint64_t next, finished, t0;
	double *itl;
	size_t n_itl, cap_itl;
	struct mc_load_done *done;
	unsigned shown;        /* answer errors printed */
	unsigned shown_failed; /* transfers without an answer printed */
	/* health */
	CURL *probe;
	bool probing;
	uint64_t next_probe_ns;
	size_t cap_probes;
	int oom;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t since_start(const struct state *st)
{
	return now_ns() - st->t0;
}

static int append(char **p, size_t *len, size_t *cap, const char *bytes, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 1024;
		while (c < *len + n + 1)
			c *= 2;
		char *q = realloc(*p, c);
		if (!q)
			return -ENOMEM;
		*p = q;
		*cap = c;
	}
	memcpy(*p + *len, bytes, n);
	*len += n;
	(*p)[*len] = '\0';
	return 0;
}

/* ---- the URL of each request ---- */

/* "scheme://authority" of url, and where its path begins (NULL: none). */
static size_t origin_len(const char *url, const char **ret_path)
{
	const char *auth = strstr(url, "://");
	const char *path = auth ? strchr(auth + 3, '/') : NULL;

	*ret_path = path && path[1] ? path : NULL;
	return path ? (size_t)(path - url) : strlen(url);
}

/* The line's path, else the URL's own path (other than "/"), else the preset's. */
static int build_urls(struct state *st)
{
	const char *url_path;
	size_t origin = origin_len(st->conf->url, &url_path);

	st->urls = calloc(st->plan->n, sizeof(char *));
	if (!st->urls)
		return -ENOMEM;
	for (size_t i = 0; i < st->plan->n; i++) {
		const char *path = st->plan->reqs[i].path;
		if (!path)
			path = url_path ? url_path : st->plan->path ? st->plan->path : "/";
		if (asprintf(&st->urls[i], "%.*s%s", (int)origin, st->conf->url, path) < 0) {
			st->urls[i] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- receiving ---- */

static size_t on_body(char *bytes, size_t size, size_t n, void *user)
{
	struct slot *s = user;

	n *= size;
	if (s->len + n > MC_LOAD_BODY_MAX) {
		s->too_big = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (append(&s->body, &s->len, &s->cap, bytes, n) < 0) {
		s->st->oom = 1;
		return 0;
	}
	return n;
}

static void note_itl(struct state *st, double ms)
{
	if (st->n_itl == st->cap_itl) {
		size_t cap = st->cap_itl ? 2 * st->cap_itl : 1024;
		double *p = realloc(st->itl, cap * sizeof(*p));
		if (!p) {
			st->oom = 1;
			return;
		}
		st->itl = p;
		st->cap_itl = cap;
	}
	st->itl[st->n_itl++] = ms;
}

/* One event of a stream: a chunk with text is a token (one event, one token chunk). */
static int on_event(void *user, const char *data, size_t len)
{
	struct slot *s = user;
	json_error_t jerr;
	json_t *chunk = json_loadb(data, len, 0, &jerr);
	const char *text = chunk ? mc_load_stream_text(chunk, s->st->plan->protocol) : NULL;
	uint64_t t = now_ns();

	if (!chunk && !s->bad_event) {
		s->bad_event = true;
		snprintf(s->bad_why, sizeof(s->bad_why), "a streamed event is not JSON: %s",
		         jerr.text);
	}
	if (text && *text) {
		if (!s->got_token)
			s->ttft_ms = (double)(t - s->start_ns) / 1e6;
		else
			note_itl(s->st, (double)(t - s->last_token_ns) / 1e6);
		s->got_token = true;
		s->last_token_ns = t;
		if (append(&s->text, &s->text_len, &s->text_cap, text, strlen(text)) < 0)
			s->st->oom = 1;
	}
	json_decref(chunk);
	return 0;
}

static size_t on_stream(char *bytes, size_t size, size_t n, void *user)
{
	struct slot *s = user;

	n *= size;
	if (s->len + n > MC_LOAD_BODY_MAX) {
		s->too_big = true;
		return 0;
	}
	s->len += n; /* counted, not kept */
	if (mc_sse_feed(&s->sse, bytes, n) < 0) {
		s->st->oom = 1;
		return 0;
	}
	return n;
}

static size_t discard(char *bytes, size_t size, size_t n, void *user)
{
	(void)bytes;
	(void)user;
	return size * n;
}

/* ---- sending ---- */

static bool has_header(const struct mc_load_request *r, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < r->n_headers; i++)
		if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return true;
	return false;
}

/* Appends text to *list; false when there was no memory (the list is kept as it was). */
static bool add_header(struct curl_slist **list, const char *text)
{
	struct curl_slist *h = curl_slist_append(*list, text);

	if (h)
		*list = h;
	return h != NULL;
}

/* The headers every request of plan entry i carries besides its id, built once: libcurl only
 * reads a header list, so all slots share it. A list may be empty (NULL). */
static int build_tails(struct state *st)
{
	st->tails = calloc(st->plan->n, sizeof(*st->tails));
	if (!st->tails)
		return -ENOMEM;
	for (size_t i = 0; i < st->plan->n; i++) {
		const struct mc_load_request *r = &st->plan->reqs[i];
		struct curl_slist **h = &st->tails[i];
		bool ok = true;
		if (!has_header(r, "Content-Type"))
			ok = add_header(h, "Content-Type: application/json");
		/* a stream is asked for; other answers take libcurl's own Accept (any type): each
		 * byte of a request head costs libcurl a formatted write, so the head stays short
		 */
		if (ok && st->plan->stream && !has_header(r, "Accept"))
			ok = add_header(h, "Accept: text/event-stream");
		/* no "Expect: 100-continue" round trip before a body over 1 KiB */
		if (ok && r->body_len > 1024)
			ok = add_header(h, "Expect:");
		for (unsigned k = 0; ok && k < r->n_headers; k++)
			ok = add_header(h, r->headers[k]);
		if (!ok)
			return -ENOMEM;
	}
	return 0;
}

/* The slot's own first node, the request id, ahead of its plan entry's shared headers. */
static struct curl_slist *request_headers(struct slot *s)
{
	const struct mc_load_conf *c = s->st->conf;

	snprintf(s->id, sizeof(s->id), "%s: %s-%llu", c->id_header, c->id_prefix,
	         (unsigned long long)s->index);
	s->id_node.data = s->id;
	s->id_node.next = s->st->tails[s->index % s->st->plan->n];
	return &s->id_node;
}

static int start_request(struct state *st, struct slot *s)
{
	const struct mc_load_request *r = &st->plan->reqs[st->next % st->plan->n];
	bool get = strcmp(r->method, "GET") == 0;

	s->index = st->next++;
	s->len = 0;
	s->too_big = s->got_token = s->bad_event = false;
	s->text_len = 0;
	s->ttft_ms = -1;
	s->curl_why[0] = '\0';
	mc_sse_free(&s->sse);
	mc_sse_init(&s->sse, on_event, s);
	curl_easy_setopt(s->easy, CURLOPT_URL, st->urls[s->index % st->plan->n]);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, request_headers(s));
	if (get) {
		curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST,
	                 get || strcmp(r->method, "POST") == 0 ? NULL : r->method);
	s->start_ns = now_ns();
	return curl_multi_add_handle(st->multi, s->easy) == CURLM_OK ? 0 : -ENOMEM;
}

/* libcurl 7.88 fails every request after the first on an HTTP/2 connection opened with
 * prior knowledge, whether reused or multiplexed (curl issue 10634, fixed in 7.89): there,
 * each h2c request gets a connection of its own. */
static bool h2c_needs_fresh_connections(const struct mc_load_conf *c)
{
	return c->http_version == 2 && strncmp(c->url, "https://", 8) != 0 &&
	       curl_version_info(CURLVERSION_NOW)->version_num < 0x075900;
}

/* Whether the environment names a proxy libcurl would use (it reads these per transfer). */
static bool proxy_in_environment(void)
{
	static const char *const names[] = { "http_proxy", "https_proxy", "HTTPS_PROXY",
		                             "all_proxy", "ALL_PROXY" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);
		if (v && *v)
			return true;
	}
	return false;
}

static void set_common(const struct mc_load_conf *c, CURL *e)
{
	/* Without a proxy in the environment, say so once: libcurl would otherwise look the
	 * variables up (and format their names) on every request. A proxy there is used. */
	if (!proxy_in_environment()) {
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	}
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->timeout_ns / 1000000));
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (c->http_version == 1)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (c->http_version == 2) {
		/* h2 over TLS by ALPN; over plain http, prior knowledge (h2c) */
		bool tls = strncmp(c->url, "https://", 8) == 0;
		curl_easy_setopt(
		    e, CURLOPT_HTTP_VERSION,
		    (long)(tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
		if (h2c_needs_fresh_connections(c))
			curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		else
			curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	}
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* ---- finishing ---- */

static enum mc_load_kind kind_of(CURLcode code, long status)
{
	switch (code) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return MC_LOAD_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return MC_LOAD_CONNECT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return MC_LOAD_RESET;
	default:
		return MC_LOAD_PROTOCOL;
	}
	if (status >= 500 && status <= 599)
		return MC_LOAD_5XX;
	if (status >= 400 && status <= 499)
		return MC_LOAD_4XX;
	return status >= 200 && status <= 299 ? MC_LOAD_OK : MC_LOAD_PROTOCOL;
}

/* Answers are never changed once parsed, so one value can stand for every identical body. */
static void remember(struct remembered *last, const char *body, size_t len, json_t *answer)
{
	char *copy;

	if (len > REMEMBER_MAX || !(copy = malloc(len ? len : 1)))
		return;
	memcpy(copy, body, len);
	free(last->body);
	json_decref(last->answer);
	last->body = copy;
	last->len = len;
	last->answer = json_incref(answer);
}

/* The part of a 2xx answer compared, or NULL with why. */
static json_t *answer_of(struct slot *s, char *why, size_t cap)
{
	const struct mc_load_plan *plan = s->st->plan;
	json_error_t jerr;

	if (plan->stream) {
		if (mc_sse_end(&s->sse) < 0)
			s->st->oom = 1;
		if (s->bad_event) {
			snprintf(why, cap, "%s", s->bad_why);
			return NULL;
		}
		if (!s->sse.done && !s->got_token) {
			snprintf(why, cap, "no event with text in the stream");
			return NULL;
		}
		return json_stringn(s->text ? s->text : "", s->text_len);
	}
	struct remembered *last = &s->st->last[s->index % plan->n];
	const char *body = s->body ? s->body : "";
	if (last->answer && last->len == s->len && memcmp(last->body, body, s->len) == 0)
		return json_incref(last->answer);
	json_t *root = json_loadb(body, s->len, JSON_DECODE_ANY, &jerr);
	if (!root) {
		snprintf(why, cap, "the answer is not JSON: %s (at byte %d)", jerr.text,
		         jerr.position);
		return NULL;
	}
	json_t *v = mc_load_pointer_get(root, plan->answer, why, cap);
	json_incref(v);
	json_decref(root);
	if (!v) {
		char inner[MC_LOAD_MSG_MAX];
		snprintf(inner, sizeof(inner), "%s", why);
		/* the pointer is cut rather than the reason: the reason names the place */
		snprintf(why, cap, "answer = %.64s matches nothing: %.160s", plan->answer, inner);
		return NULL;
	}
	remember(last, body, s->len, v);
	return v;
}

static void show_error(struct state *st, uint64_t index, const char *why)
{
	const struct mc_load_conf *c = st->conf;

	if (st->shown++ < MC_LOAD_SHOWN_ERRORS)
		fprintf(stderr, "%s: request %s-%llu: %s\n", c->who, c->id_prefix,
		        (unsigned long long)index, why);
}

static void judge(struct state *st, struct slot *s, struct mc_load_result *res)
{
	const struct mc_load_request *r = &st->plan->reqs[s->index % st->plan->n];
	char why[MC_LOAD_MSG_MAX];

	res->answer = answer_of(s, why, sizeof(why));
	if (!res->answer) {
		res->kind = MC_LOAD_PROTOCOL;
		res->error = strdup(why);
		st->run->fig.answer_errors++;
		show_error(st, s->index, why);
		return;
	}
	if (r->expect) {
		res->checked = true;
		res->kind = mc_load_equal(res->answer, r->expect, st->plan->tolerance)
		                ? MC_LOAD_OK
		                : MC_LOAD_WRONG;
	}
}

static void finish(struct state *st, struct slot *s, CURLcode code)
{
	struct mc_load_result *res = &st->run->results[s->index];
	long status = 0, connects = 0;
	curl_off_t total_us = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects);
	st->run->fig.connections += (uint64_t)connects;
	res->status = (uint16_t)(status > 0 && status < 1000 ? status : 0);
	res->kind = kind_of(code, status);
	res->latency_ms = res->status ? (double)total_us / 1e3 : -1;
	res->ttft_ms = s->ttft_ms;
	if (code == CURLE_WRITE_ERROR && s->too_big)
		res->error = strdup("the answer is larger than 16 MiB");
	else if (code != CURLE_OK)
		res->error = strdup(s->curl_why[0] ? s->curl_why : curl_easy_strerror(code));
	if (code != CURLE_OK && st->shown_failed++ < MC_LOAD_SHOWN_ERRORS)
		fprintf(stderr, "%s: request %s-%llu got no answer: %s\n", st->conf->who,
		        st->conf->id_prefix, (unsigned long long)s->index,
		        res->error ? res->error : curl_easy_strerror(code));
	if (res->kind == MC_LOAD_OK)
		judge(st, s, res);
	st->done[st->finished].at_ns = since_start(st);
	st->done[st->finished].failed = mc_load_kind_failed((enum mc_load_kind)res->kind);
	st->finished++;
}

/* ---- health ---- */

static void probe_done(struct state *st, CURLcode code)
{
	struct mc_load_run *run = st->run;
	long status = 0;

	curl_easy_getinfo(st->probe, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(st->multi, st->probe);
	st->probing = false;
	if (run->n_probes == st->cap_probes) {
		size_t cap = st->cap_probes ? 2 * st->cap_probes : 64;
		struct mc_load_probe *p = realloc(run->probes, cap * sizeof(*p));
		if (!p) {
			st->oom = 1;
			return;
		}
		run->probes = p;
		st->cap_probes = cap;
	}
	run->probes[run->n_probes].at_ns = since_start(st);
	run->probes[run->n_probes].status = code == CURLE_OK ? (int)status : 0;
	run->n_probes++;
}

static void maybe_probe(struct state *st)
{
	if (!st->probe || st->probing || since_start(st) < st->next_probe_ns)
		return;
	st->next_probe_ns = since_start(st) + st->conf->health_interval_ns;
	if (curl_multi_add_handle(st->multi, st->probe) == CURLM_OK)
		st->probing = true;
}

/* ---- the loop ---- */

/* Completed transfers, each slot given its next request; *ret_started: how many. */
static int read_messages(struct state *st, unsigned *ret_started)
{
	CURLMsg *msg;
	int left;

	*ret_started = 0;
	while ((msg = curl_multi_info_read(st->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *e = msg->easy_handle;
		CURLcode code = msg->data.result;
		if (e == st->probe) {
			probe_done(st, code);
			continue;
		}
		struct slot *s;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
		finish(st, s, code);
		curl_multi_remove_handle(st->multi, e);
		if (st->next < st->conf->requests) {
			if (start_request(st, s) < 0)
				return -ENOMEM;
			(*ret_started)++;
		}
	}
	return st->oom ? -ENOMEM : 0;
}

static int poll_ms(const struct state *st)
{
	if (!st->probe || st->probing)
		return POLL_MAX_MS;
	uint64_t t = since_start(st);
	if (t >= st->next_probe_ns)
		return 0;
	uint64_t ms = (st->next_probe_ns - t) / 1000000 + 1;
	return ms < POLL_MAX_MS ? (int)ms : POLL_MAX_MS;
}

static int loop(struct state *st)
{
	const struct mc_load_conf *c = st->conf;
	int running, err;
	unsigned started;

	while (st->finished < c->requests) {
		struct curl_waitfd wake = { .fd = c->wake_fd, .events = CURL_WAIT_POLLIN };
		int nfds = 0;
		maybe_probe(st);
		if (curl_multi_perform(st->multi, &running) != CURLM_OK)
			return -EIO;
		err = read_messages(st, &started);
		if (err)
			return err;
		if (st->finished >= c->requests)
			break;
		/* a request just added is sent by the next perform: no poll before it (that
		 * poll would return at once, one system call per request for nothing) */
		if (started)
			continue;
		if (curl_multi_poll(st->multi, c->wake_fd >= 0 ? &wake : NULL, c->wake_fd >= 0,
		                    poll_ms(st), &nfds) != CURLM_OK)
			return -EIO;
		if (c->wake_fd >= 0 && (wake.revents & CURL_WAIT_POLLIN))
			return -EINTR;
	}
	return 0;
}

/* ---- figures ---- */

static void latency_figures(struct mc_load_run *run, double *lat)
{
	struct mc_load_figures *f = &run->fig;
	size_t n = 0, t = 0;
	double sum = 0, *ttft = lat + run->n;

	for (uint64_t i = 0; i < run->n; i++) {
		const struct mc_load_result *r = &run->results[i];
		if (r->latency_ms >= 0) {
			lat[n++] = r->latency_ms;
			sum += r->latency_ms;
		}
		if (r->ttft_ms >= 0)
			ttft[t++] = r->ttft_ms;
	}
	f->answered = n;
	f->latency_known = n > 0;
	if (n) {
		mc_load_sort(lat, n);
		f->p50_ms = mc_load_percentile(lat, n, 0.50);
		f->p95_ms = mc_load_percentile(lat, n, 0.95);
		f->p99_ms = mc_load_percentile(lat, n, 0.99);
		f->max_ms = lat[n - 1];
		f->mean_ms = sum / (double)n;
	}
	f->ttft_known = t > 0;
	if (t) {
		mc_load_sort(ttft, t);
		f->ttft_p50_ms = mc_load_percentile(ttft, t, 0.50);
		f->ttft_p99_ms = mc_load_percentile(ttft, t, 0.99);
	}
}

static int figures(struct state *st, uint64_t end_ns)
{
	struct mc_load_run *run = st->run;
	struct mc_load_figures *f = &run->fig;
	double *lat = malloc(2 * (run->n ? run->n : 1) * sizeof(double));

	if (!lat)
		return -ENOMEM;
	f->requests = run->n;
	f->concurrency = st->conf->concurrency;
	for (uint64_t i = 0; i < run->n; i++) {
		const struct mc_load_result *r = &run->results[i];
		f->count[r->kind]++;
		f->errors += mc_load_kind_failed((enum mc_load_kind)r->kind);
		f->checked += r->checked;
		f->right += r->checked && r->kind == MC_LOAD_OK;
	}
	f->duration_s = (double)end_ns / 1e9;
	f->rps = f->duration_s > 0 ? (double)run->n / f->duration_s : 0;
	latency_figures(run, lat);
	free(lat);
	f->itl_known = st->n_itl > 0;
	if (st->n_itl) {
		mc_load_sort(st->itl, st->n_itl);
		f->itl_p50_ms = mc_load_percentile(st->itl, st->n_itl, 0.50);
		f->itl_p99_ms = mc_load_percentile(st->itl, st->n_itl, 0.99);
	}
	f->health_known = st->probe != NULL;
	f->probes = run->n_probes;
	for (size_t i = 0; i < run->n_probes; i++)
		f->probes_ok += run->probes[i].status >= 200 && run->probes[i].status <= 299;
	f->health_lies = mc_load_health_lies(run->probes, run->n_probes, st->done, st->finished,
	                                     st->conf->health_interval_ns);
	return 0;
}

/* ---- the per-request file ---- */

static void json_value_or_null(FILE *out, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	fputs(s ? s : "null", out);
	free(s);
}

static void write_per_request(const struct state *st)
{
	const struct mc_load_conf *c = st->conf;
	FILE *out = fopen(c->per_request, "we");
	char id[ID_MAX];

	if (!out) {
		fprintf(stderr, "%s: cannot write %s: %s\n", c->who, c->per_request,
		        strerror(errno));
		return;
	}
	for (uint64_t i = 0; i < st->run->n; i++) {
		const struct mc_load_result *r = &st->run->results[i];
		const struct mc_load_request *req = &st->plan->reqs[i % st->plan->n];
		snprintf(id, sizeof(id), "%s-%llu", c->id_prefix, (unsigned long long)i);
		fputs("{\"id\":", out);
		mc_json_str(out, id, strlen(id));
		fprintf(out, ",\"index\":%llu,\"status\":%u,\"kind\":\"%s\",\"latency_ms\":",
		        (unsigned long long)i, r->status,
		        mc_load_kind_name((enum mc_load_kind)r->kind));
		if (r->latency_ms >= 0)
			fprintf(out, "%.3f", r->latency_ms);
		else
			fputs("null", out);
		fputs(",\"answer\":", out);
		json_value_or_null(out, r->answer);
		fputs(",\"expected\":", out);
		json_value_or_null(out, req->expect);
		fprintf(out, ",\"correct\":%s",
		        !r->checked             ? "null"
		        : r->kind == MC_LOAD_OK ? "true"
		                                : "false");
		if (r->ttft_ms >= 0)
			fprintf(out, ",\"ttft_ms\":%.3f", r->ttft_ms);
		fputs(",\"error\":", out);
		if (r->error)
			mc_json_str(out, r->error, strlen(r->error));
		else
			fputs("null", out);
		fputs("}\n", out);
	}
	if (fclose(out) != 0)
		fprintf(stderr, "%s: cannot write %s\n", c->who, c->per_request);
}

/* ---- setup and teardown ---- */

static int setup(struct state *st, uint64_t n_slots)
{
	const struct mc_load_conf *c = st->conf;

	st->multi = curl_multi_init();
	if (st->multi && h2c_needs_fresh_connections(c))
		curl_multi_setopt(st->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	st->slots = calloc(n_slots, sizeof(*st->slots));
	st->last = calloc(st->plan->n, sizeof(*st->last));
	st->run->results = calloc(c->requests, sizeof(*st->run->results));
	st->done = calloc(c->requests, sizeof(*st->done));
	if (!st->multi || !st->slots || !st->last || !st->run->results || !st->done ||
	    build_urls(st) < 0 || build_tails(st) < 0)
		return -ENOMEM;
	st->run->n = c->requests;
	for (uint64_t i = 0; i < n_slots; i++) {
		struct slot *s = &st->slots[i];
		s->st = st;
		s->easy = curl_easy_init();
		if (!s->easy)
			return -ENOMEM;
		set_common(c, s->easy);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION,
		                 st->plan->stream ? on_stream : on_body);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_why);
	}
	if (c->health_url) {
		st->probe = curl_easy_init();
		if (!st->probe)
			return -ENOMEM;
		set_common(c, st->probe);
		curl_easy_setopt(st->probe, CURLOPT_URL, c->health_url);
		curl_easy_setopt(st->probe, CURLOPT_WRITEFUNCTION, discard);
	}
	return 0;
}

static void teardown(struct state *st, uint64_t n_slots)
{
	for (uint64_t i = 0; st->slots && i < n_slots; i++) {
		struct slot *s = &st->slots[i];
		if (s->easy) {
			curl_multi_remove_handle(st->multi, s->easy);
			curl_easy_cleanup(s->easy);
		}
		mc_sse_free(&s->sse);
		free(s->body);
		free(s->text);
	}
	if (st->probe) {
		curl_multi_remove_handle(st->multi, st->probe);
		curl_easy_cleanup(st->probe);
	}
	for (size_t i = 0; st->urls && i < st->plan->n; i++)
		free(st->urls[i]);
	free(st->urls);
	for (size_t i = 0; st->tails && i < st->plan->n; i++)
		curl_slist_free_all(st->tails[i]);
	free(st->tails);
	for (size_t i = 0; st->last && i < st->plan->n; i++) {
		free(st->last[i].body);
		json_decref(st->last[i].answer);
	}
	free(st->last);
	free(st->slots);
	free(st->itl);
	free(st->done);
	if (st->multi)
		curl_multi_cleanup(st->multi);
}

static int global_init(const char *who)
{
	static bool done;

	if (done)
		return 0;
	/* once per process; nothing else in the command uses libcurl */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: libcurl could not be initialised\n", who);
		return -EINVAL;
	}
	done = true;
	return 0;
}

int mc_load_http_status(const char *url, int timeout_ms, bool insecure, char *why, size_t cap)
{
	struct mc_load_conf c = { .url = url, .insecure = insecure, .who = "mlchaos" };
	char detail[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURLcode code;
	CURL *e;

	c.timeout_ns = (uint64_t)timeout_ms * 1000000ull;
	snprintf(why, cap, "libcurl could not be initialised");
	if (global_init(c.who) < 0 || !(e = curl_easy_init()))
		return -1;
	set_common(&c, e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, detail);
	code = curl_easy_perform(e);
	if (code == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, cap, "%s",
	         code != CURLE_OK ? (*detail ? detail : curl_easy_strerror(code))
	         : status > 0     ? ""
	                          : "no status code");
	curl_easy_cleanup(e);
	return status > 0 ? (int)status : -1;
}

int mc_load_run(const struct mc_load_conf *conf, struct mc_load_run *ret)
{
	struct state st = { .conf = conf, .plan = conf->plan, .run = ret };
	uint64_t n_slots = conf->concurrency < conf->requests ? conf->concurrency : conf->requests;
	int err;

	memset(ret, 0, sizeof(*ret));
	err = global_init(conf->who);
	if (err)
		return err;
	err = setup(&st, n_slots);
	if (!err && h2c_needs_fresh_connections(conf))
		fprintf(stderr,
		        "%s: libcurl %s cannot reuse an HTTP/2 connection without TLS (curl issue "
		        "10634): each request opens its own\n",
		        conf->who, curl_version_info(CURLVERSION_NOW)->version);
	st.t0 = now_ns();
	for (uint64_t i = 0; !err && i < n_slots; i++)
		err = start_request(&st, &st.slots[i]);
	if (!err)
		err = loop(&st);
	uint64_t end = since_start(&st);
	if (!err)
		err = figures(&st, end);
	if (!err && st.shown_failed > MC_LOAD_SHOWN_ERRORS)
		fprintf(stderr, "%s: ... and %u more requests that got no answer\n", conf->who,
		        st.shown_failed - MC_LOAD_SHOWN_ERRORS);
	if (!err && st.shown > MC_LOAD_SHOWN_ERRORS)
		fprintf(stderr, "%s: ... and %u more requests whose answer could not be read\n",
		        conf->who, st.shown - MC_LOAD_SHOWN_ERRORS);
	if (!err && conf->per_request)
		write_per_request(&st);
	teardown(&st, n_slots);
	return err;
}

void mc_load_run_free(struct mc_load_run *run)
{
	for (uint64_t i = 0; run->results && i < run->n; i++) {
		json_decref(run->results[i].answer);
		free(run->results[i].error);
	}
	free(run->results);
	free(run->probes);
	memset(run, 0, sizeof(*run));
}

/* ---- the figures as JSON ---- */

static void ms_or_null(FILE *out, const char *key, bool known, double v)
{
	if (known)
		fprintf(out, ",\"%s\":%.3f", key, v);
	else
		fprintf(out, ",\"%s\":null", key);
}

void mc_load_figures_json(FILE *out, const struct mc_load_figures *f)
{
	fprintf(
	    out, "{\"requests\":%llu,\"concurrency\":%llu,\"ok\":%llu,\"wrong\":%llu,\"errors\":{",
	    (unsigned long long)f->requests, (unsigned long long)f->concurrency,
	    (unsigned long long)f->count[MC_LOAD_OK], (unsigned long long)f->count[MC_LOAD_WRONG]);
	for (int k = MC_LOAD_5XX; k < MC_LOAD_KINDS; k++)
		fprintf(out, "%s\"%s\":%llu", k == MC_LOAD_5XX ? "" : ",",
		        mc_load_kind_name((enum mc_load_kind)k), (unsigned long long)f->count[k]);
	fprintf(out, "},\"error_total\":%llu,\"checked\":%llu", (unsigned long long)f->errors,
	        (unsigned long long)f->checked);
	if (f->checked)
		fprintf(out, ",\"accuracy\":%.6f", (double)f->right / (double)f->checked);
	else
		fputs(",\"accuracy\":null", out);
	fprintf(out, ",\"success_rate\":%.6f",
	        f->requests
	            ? (double)(f->count[MC_LOAD_OK] + f->count[MC_LOAD_WRONG]) / (double)f->requests
	            : 0.0);
	ms_or_null(out, "p50_ms", f->latency_known, f->p50_ms);
	ms_or_null(out, "p95_ms", f->latency_known, f->p95_ms);
	ms_or_null(out, "p99_ms", f->latency_known, f->p99_ms);
	ms_or_null(out, "max_ms", f->latency_known, f->max_ms);
	ms_or_null(out, "mean_ms", f->latency_known, f->mean_ms);
	fprintf(out,
	        ",\"duration_s\":%.6f,\"rps\":%.1f,\"connections\":%llu,\"answer_errors\":%llu",
	        f->duration_s, f->rps, (unsigned long long)f->connections,
	        (unsigned long long)f->answer_errors);
	ms_or_null(out, "ttft_p50_ms", f->ttft_known, f->ttft_p50_ms);
	ms_or_null(out, "ttft_p99_ms", f->ttft_known, f->ttft_p99_ms);
	ms_or_null(out, "itl_p50_ms", f->itl_known, f->itl_p50_ms);
	ms_or_null(out, "itl_p99_ms", f->itl_known, f->itl_p99_ms);
	if (f->health_known)
		fprintf(out, ",\"health\":{\"probes\":%llu,\"ok\":%llu,\"lies\":%llu}}",
		        (unsigned long long)f->probes, (unsigned long long)f->probes_ok,
		        (unsigned long long)f->health_lies);
	else
		fputs(",\"health\":null}", out);
}
