/* load.c: mlchaos-load, the load client of the reference server: N POST /predict requests
 * over C keep-alive connections, each with its own X-Request-Id, answers checked against a
 * data set, and a report of successes, wrong answers, errors by kind and latency.
 * Never retries a request (a retry would hide the very faults being measured) and never
 * trusts the server's bytes: responses are bounded and parsed within what arrived. */
#include "http.h"
#include "json.h"
#include "model.h"
#include "prng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define PROG              "mlchaos-load"
#define MAX_REQUESTS      10000000u
#define MAX_CONCURRENCY   1024u
#define MAX_ID_PREFIX     96
#define MAX_DATASET_BYTES (256u << 20)
/* A response larger than this is a protocol error: the server's answers are a few hundred
 * bytes. */
#define MAX_RESPONSE_BYTES (64u << 10)
#define MAX_VERSIONS       16

enum kind {
	K_OK,    /* 2xx, right class or nothing to check against */
	K_WRONG, /* 2xx, wrong class */
	K_5XX,
	K_4XX,
	K_RESET,    /* the connection broke: reset, or closed before a whole answer */
	K_TIMEOUT,  /* no whole answer within --timeout-ms */
	K_CONNECT,  /* could not connect */
	K_PROTOCOL, /* an answer that is not HTTP, or a 2xx without a class */
	K_COUNT,
};

static const char *const kind_name[K_COUNT] = { "ok",    "wrong",   "5xx",     "4xx",
	                                        "reset", "timeout", "connect", "protocol" };

struct opts {
	struct sockaddr_in addr;
	char host[64];
	char path[256];
	unsigned requests;
	unsigned concurrency;
	unsigned timeout_ms;
	unsigned inputs; /* features per request without a data set */
	const char *dataset;
	const char *per_request;
	char id_prefix[MAX_ID_PREFIX + 1];
	bool json;
};

struct sample {
	char *body;
	size_t body_len;
	int expected; /* -1: no known answer */
};

struct result {
	enum kind kind;
	int status;      /* HTTP status, 0 without an answer */
	int cls;         /* -1 without one */
	int64_t version; /* model_version answered, -1 without one */
	bool id_ok;      /* the X-Request-Id came back unchanged */
	double latency_ms;
};

struct run {
	struct opts o;
	struct sample *samples;
	size_t n_samples;
	struct result *results;
	atomic_uint next;
	atomic_uint connections;
	char *dataset_text;
};

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " (--url http://HOST:PORT[/PATH] | --port N) [options]\n"
	        "Send POST /predict requests to a reference model server and report.\n"
	        "\n"
	        "  --url URL           server URL; no path or / means /predict\n"
	        "  --host ADDR         IPv4 address (default 127.0.0.1), with --port\n"
	        "  --port N            server port\n"
	        "  -n, --requests N    number of requests (default 100)\n"
	        "  -c, --concurrency C connections, one thread each, kept alive (default 4)\n"
	        "  --dataset FILE      JSON lines from mlchaos-gen: request i sends sample\n"
	        "                      i mod size and its answer is checked\n"
	        "  --inputs N          without a data set: N pseudo-random features (default 16)\n"
	        "  --id-prefix P       request i carries X-Request-Id: P-i (default req)\n"
	        "  --timeout-ms N      per request, connecting included (default 5000)\n"
	        "  --json              one JSON object on stdout instead of text\n"
	        "  --per-request FILE  one JSON line per request, in request order\n"
	        "  --help, --version\n"
	        "\n"
	        "Exit: 0 the load ran (whatever the answers), 1 no connection could be made,\n"
	        "2 usage or data set error.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int set_host(struct opts *o, const char *host, size_t n)
{
	if (n >= sizeof(o->host))
		return -EINVAL;
	memcpy(o->host, host, n);
	o->host[n] = '\0';
	if (strcmp(o->host, "localhost") == 0)
		strcpy(o->host, "127.0.0.1");
	return inet_pton(AF_INET, o->host, &o->addr.sin_addr) == 1 ? 0 : -EINVAL;
}

/* http://HOST:PORT[/PATH] with an IPv4 HOST (or localhost). */
static int parse_url(struct opts *o, const char *url)
{
	const char *host, *colon, *slash;
	unsigned port;
	char num[8];
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	host = url + 7;
	slash = strchr(host, '/');
	if (!slash)
		slash = host + strlen(host);
	colon = memchr(host, ':', (size_t)(slash - host));
	if (!colon || set_host(o, host, (size_t)(colon - host)) < 0)
		return -EINVAL;
	n = (size_t)(slash - colon - 1);
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, colon + 1, n);
	num[n] = '\0';
	if (parse_uint(num, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	o->addr.sin_port = htons((uint16_t)port);
	/* No path, or just "/", means the server's base: the default /predict stays. */
	if (strlen(slash) >= sizeof(o->path))
		return -EINVAL;
	if (slash[0] && slash[1])
		strcpy(o->path, slash);
	return 0;
}

static int check_prefix(struct opts *o, const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > MAX_ID_PREFIX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return -EINVAL; /* it goes into a header line as it is */
	memcpy(o->id_prefix, p, n + 1);
	return 0;
}

static int set_opt(struct opts *o, int c, const char *arg, bool *have_port)
{
	unsigned port;

	switch (c) {
	case 'u':
		*have_port = true;
		return parse_url(o, arg);
	case 'H':
		return set_host(o, arg, strlen(arg));
	case 'p':
		*have_port = true;
		if (parse_uint(arg, 65535, &port) < 0 || port == 0)
			return -EINVAL;
		o->addr.sin_port = htons((uint16_t)port);
		return 0;
	case 'n':
		return parse_uint(arg, MAX_REQUESTS, &o->requests);
	case 'c':
		return parse_uint(arg, MAX_CONCURRENCY, &o->concurrency) < 0 || !o->concurrency
		           ? -EINVAL
		           : 0;
	case 't':
		return parse_uint(arg, 3600000, &o->timeout_ms) < 0 || !o->timeout_ms ? -EINVAL : 0;
	case 'i':
		return parse_uint(arg, MC_MODEL_MAX_INPUTS, &o->inputs) < 0 || !o->inputs ? -EINVAL
		                                                                          : 0;
	case 'P':
		return check_prefix(o, arg);
	case 'd':
		o->dataset = arg;
		return 0;
	case 'r':
		o->per_request = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	}
	return -EINVAL;
}

/* 0 to run, -1 to exit with *ret_exit. */
static int parse_args(int argc, char **argv, struct opts *o, int *ret_exit)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "requests", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "inputs", required_argument, NULL, 'i' },
		{ "id-prefix", required_argument, NULL, 'P' },
		{ "dataset", required_argument, NULL, 'd' },
		{ "per-request", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_port = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->addr.sin_family = AF_INET;
	set_host(o, "127.0.0.1", 9);
	strcpy(o->path, "/predict");
	strcpy(o->id_prefix, "req");
	o->requests = 100;
	o->concurrency = 4;
	o->timeout_ms = 5000;
	o->inputs = 16;
	*ret_exit = 2;
	while ((c = getopt_long(argc, argv, "n:c:", opts, NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			if (c == 'h')
				usage(stdout);
			else
				printf(PROG " %s\n", MC_VERSION);
			*ret_exit = 0;
			return -1;
		}
		if (c == '?')
			goto bad;
		if (set_opt(o, c, optarg, &have_port) < 0) {
			fprintf(stderr, PROG ": invalid value '%s'\n", optarg);
			goto bad;
		}
	}
	if (optind < argc || !have_port) {
		fprintf(stderr, PROG ": %s\n",
		        optind < argc ? "unexpected argument" : "give --url or --port");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return -1;
}

/* ---- the requests' bodies ---- */

static int read_file(const char *path, char **ret, size_t *ret_n)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, len = 0, n;
	char *buf, *p;
	int r = 0;

	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf) {
		if (cap - len < 2) {
			if (cap > MAX_DATASET_BYTES) {
				r = -EFBIG;
				break;
			}
			p = realloc(buf, cap * 2);
			if (!p)
				break;
			buf = p;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break; /* EOF or an error, told apart below */
	}
	if (!buf || cap - len < 2 || ferror(f))
		r = r ? r : !buf || cap - len < 2 ? -ENOMEM : -EIO;
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_n = len;
	return 0;
}

/* One line {"features":[...],"class":K,...}: the body sent is the features array verbatim. */
static const char *parse_sample(const char *line, size_t n, struct sample *s)
{
	static float scratch[MC_MODEL_MAX_INPUTS];
	const char *key, *arr = NULL, *arr_end = NULL;
	size_t key_len, count;
	struct mc_json j;
	double d;

	s->expected = -1;
	mc_json_init(&j, line, n);
	if (!mc_json_eat(&j, '{'))
		return "not a JSON object";
	do {
		if (mc_json_string(&j, &key, &key_len) < 0 || !mc_json_eat(&j, ':'))
			return "malformed JSON";
		if (mc_json_key_is(key, key_len, "features")) {
			mc_json_ws(&j);
			arr = j.p;
			if (mc_json_floats(&j, scratch, MC_MODEL_MAX_INPUTS, &count) < 0)
				return "features is not an array of at most 1024 numbers";
			arr_end = j.p;
		} else if (mc_json_key_is(key, key_len, "class")) {
			if (mc_json_number(&j, &d) < 0 || d < 0 || d > 65535 || d != floor(d))
				return "class is not a small non-negative integer";
			s->expected = (int)d;
		} else if (mc_json_skip(&j) < 0) {
			return "malformed JSON";
		}
	} while (mc_json_eat(&j, ','));
	if (!mc_json_eat(&j, '}') || !mc_json_at_end(&j))
		return "malformed JSON";
	if (!arr)
		return "no features";
	s->body_len = (size_t)(arr_end - arr) + strlen("{\"features\":}");
	s->body = malloc(s->body_len + 1);
	if (!s->body)
		return "out of memory";
	snprintf(s->body, s->body_len + 1, "{\"features\":%.*s}", (int)(arr_end - arr), arr);
	return NULL;
}

static int load_dataset(struct run *run)
{
	size_t len = 0, lines = 0, line_no = 0;
	char *text = NULL, *p, *nl;
	int r = read_file(run->o.dataset, &text, &len);

	if (r < 0) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", run->o.dataset, strerror(-r));
		return -1;
	}
	run->dataset_text = text;
	for (p = text; p < text + len; p++)
		lines += *p == '\n';
	run->samples = calloc(lines + 1, sizeof(*run->samples));
	if (!run->samples)
		return -1;
	for (p = text; p < text + len; p = nl + 1) {
		const char *why;

		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			nl = text + len;
		line_no++;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			continue;
		why = parse_sample(p, (size_t)(nl - p), &run->samples[run->n_samples]);
		if (why) {
			fprintf(stderr, "%s:%zu: %s\n", run->o.dataset, line_no, why);
			return -1;
		}
		run->n_samples++;
	}
	if (!run->n_samples) {
		fprintf(stderr, "%s: no samples\n", run->o.dataset);
		return -1;
	}
	return 0;
}

/* Without a data set: one body of pseudo-random features, nothing to check. */
static int make_sample(struct run *run)
{
	struct mc_buf b;
	uint64_t state = 1;
	int r;

	mc_buf_init(&b, MAX_RESPONSE_BYTES);
	r = mc_buf_adds(&b, "{\"features\":[");
	for (unsigned i = 0; r == 0 && i < run->o.inputs; i++)
		r = mc_buf_printf(&b, "%s%.9g", i ? "," : "",
		                  (double)mc_prng_float(&state, -1.0f, 1.0f));
	if (r == 0)
		r = mc_buf_adds(&b, "]}");
	run->samples = calloc(1, sizeof(*run->samples));
	if (r < 0 || !run->samples) {
		mc_buf_free(&b);
		return -1;
	}
	run->samples[0] = (struct sample){ .body = b.data, .body_len = b.len, .expected = -1 };
	run->n_samples = 1;
	return 0;
}

/* ---- one connection ---- */

struct client {
	struct run *run;
	int fd;
	char *req; /* the request being sent */
	size_t req_cap;
	char *resp; /* MAX_RESPONSE_BYTES */
	size_t resp_len;
};

struct answer {
	int status;
	bool close;
	const char *body;
	size_t body_len;
	char id[MC_HTTP_MAX_REQUEST_ID + 1];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds left before deadline_ns, at least 0. */
static int left_ms(int64_t deadline_ns)
{
	int64_t left = deadline_ns - now_ns();

	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

/* Wait for fd to be ready for events. 0, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int ms = left_ms(deadline_ns), n;

		if (ms == 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static void drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->resp_len = 0;
}

static int connect_to(struct client *c, int64_t deadline_ns)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0, one = 1;
	socklen_t len = sizeof(err);
	int r;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = connect(fd, (const struct sockaddr *)&c->run->o.addr, sizeof(c->run->o.addr));
	if (r < 0 && errno == EINPROGRESS) {
		r = wait_fd(fd, POLLOUT, deadline_ns);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
			r = -err;
	} else if (r < 0) {
		r = -errno;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	c->fd = fd;
	atomic_fetch_add(&c->run->connections, 1);
	return 0;
}

static int send_request(struct client *c, size_t n, int64_t deadline_ns)
{
	const char *p = c->req;

	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w >= 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int r = wait_fd(c->fd, POLLOUT, deadline_ns);

			if (r < 0)
				return r;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

static bool header_is(const char *s, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n > l && s[l] == ':' && strncasecmp(s, name, l) == 0;
}

static const char *header_value(const char *s, size_t n, const char *name, size_t *ret_n)
{
	const char *v = s + strlen(name) + 1, *e = s + n;

	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*ret_n = (size_t)(e - v);
	return v;
}

/* Parse the head at resp[0..hlen). 0 with a, *ret_length set, or -EPROTO. */
static int parse_answer_head(const char *h, size_t hlen, struct answer *a, size_t *ret_length)
{
	const char *p = h, *end = h + hlen, *nl, *v;
	bool have_length = false;
	size_t n, vn;
	char *stop;

	memset(a, 0, sizeof(*a));
	if (hlen < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
		return -EPROTO;
	a->status = (int)strtol(h + 9, &stop, 10);
	if (stop != h + 12 || a->status < 100 || a->status > 599)
		return -EPROTO;
	a->close = h[7] == '0';
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(nl - p);
		if (header_is(p, n, "content-length")) {
			v = header_value(p, n, "content-length", &vn);
			*ret_length = (size_t)strtoul(v, &stop, 10);
			have_length = vn > 0 && stop == v + vn && *ret_length <= MAX_RESPONSE_BYTES;
		} else if (header_is(p, n, "connection")) {
			v = header_value(p, n, "connection", &vn);
			a->close = vn == 5 && strncasecmp(v, "close", 5) == 0;
		} else if (header_is(p, n, "x-request-id")) {
			v = header_value(p, n, "x-request-id", &vn);
			if (vn < sizeof(a->id)) {
				memcpy(a->id, v, vn);
				a->id[vn] = '\0';
			}
		}
		p = nl + 1;
	}
	return have_length ? 0 : -EPROTO;
}

/* Receive one whole answer (skipping 1xx). 0, -ETIMEDOUT, -ECONNRESET (closed or broken
 * before it was whole), -EPROTO. The answer's body points into c->resp until the next call. */
static int read_answer(struct client *c, struct answer *a, int64_t deadline_ns)
{
	size_t hlen, length = 0;
	ssize_t n;
	int r;

	for (;;) {
		hlen = mc_http_head_end(c->resp, c->resp_len);
		if (hlen && parse_answer_head(c->resp, hlen, a, &length) < 0)
			return -EPROTO;
		if (hlen && a->status < 200) {
			memmove(c->resp, c->resp + hlen, c->resp_len - hlen);
			c->resp_len -= hlen;
			continue;
		}
		if (hlen && c->resp_len >= hlen + length) {
			a->body = c->resp + hlen;
			a->body_len = length;
			/* Nothing is pipelined: bytes past the answer mean the stream is confused.
			 */
			return c->resp_len == hlen + length ? 0 : -EPROTO;
		}
		if (c->resp_len == MAX_RESPONSE_BYTES)
			return -EPROTO;
		r = wait_fd(c->fd, POLLIN, deadline_ns);
		if (r < 0)
			return r;
		n = recv(c->fd, c->resp + c->resp_len, MAX_RESPONSE_BYTES - c->resp_len, 0);
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return -ECONNRESET;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			c->resp_len += (size_t)n;
	}
}

/* The class and model_version of a 2xx answer; false when there is no class. */
static bool read_class(const struct answer *a, struct result *res)
{
	const char *key;
	size_t key_len;
	struct mc_json j;
	double d;

	mc_json_init(&j, a->body, a->body_len);
	if (!mc_json_eat(&j, '{'))
		return false;
	do {
		if (mc_json_string(&j, &key, &key_len) < 0 || !mc_json_eat(&j, ':'))
			return false;
		if (mc_json_key_is(key, key_len, "class") && mc_json_number(&j, &d) == 0)
			res->cls = d >= 0 && d < 65536 ? (int)d : -1;
		else if (mc_json_key_is(key, key_len, "model_version") &&
		         mc_json_number(&j, &d) == 0)
			res->version = d >= 0 && d <= 4294967295.0 ? (int64_t)d : -1;
		else if (mc_json_skip(&j) < 0)
			return false;
	} while (mc_json_eat(&j, ','));
	return res->cls >= 0;
}

static void judge(const struct answer *a, int expected, struct result *res)
{
	res->status = a->status;
	if (a->status >= 500)
		res->kind = K_5XX;
	else if (a->status >= 400)
		res->kind = K_4XX;
	else if (a->status >= 300 || !read_class(a, res))
		res->kind = K_PROTOCOL;
	else
		res->kind = expected < 0 || res->cls == expected ? K_OK : K_WRONG;
}

static size_t format_request(struct client *c, unsigned i, const struct sample *s, char *id,
                             size_t id_cap)
{
	const struct opts *o = &c->run->o;
	int n;

	snprintf(id, id_cap, "%s-%u", o->id_prefix, i);
	n = snprintf(c->req, c->req_cap,
	             "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nX-Request-Id: %s\r\n\r\n",
	             o->path, o->host, ntohs(o->addr.sin_port), s->body_len, id);
	memcpy(c->req + n, s->body, s->body_len);
	return (size_t)n + s->body_len;
}

static enum kind error_kind(int r)
{
	if (r == -ETIMEDOUT)
		return K_TIMEOUT;
	if (r == -EPROTO)
		return K_PROTOCOL;
	return K_RESET;
}

static void one_request(struct client *c, unsigned i)
{
	const struct sample *s = &c->run->samples[i % c->run->n_samples];
	struct result *res = &c->run->results[i];
	int64_t t0 = now_ns(), deadline = t0 + (int64_t)c->run->o.timeout_ms * 1000000;
	char id[MAX_ID_PREFIX + 16];
	struct answer a;
	size_t n;
	int r = 0;

	*res = (struct result){ .cls = -1, .version = -1 };
	if (c->fd < 0 && (r = connect_to(c, deadline)) < 0) {
		res->kind = r == -ETIMEDOUT ? K_TIMEOUT : K_CONNECT;
		res->latency_ms = (double)(now_ns() - t0) / 1e6;
		return;
	}
	n = format_request(c, i, s, id, sizeof(id));
	r = send_request(c, n, deadline);
	if (r == 0)
		r = read_answer(c, &a, deadline);
	res->latency_ms = (double)(now_ns() - t0) / 1e6;
	if (r < 0) {
		res->kind = error_kind(r);
		drop(c); /* a late answer would be taken for the next request's */
		return;
	}
	judge(&a, s->expected, res);
	res->id_ok = strcmp(a.id, id) == 0;
	c->resp_len = 0;
	if (a.close)
		drop(c);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	unsigned i;

	while ((i = atomic_fetch_add(&c->run->next, 1)) < c->run->o.requests)
		one_request(c, i);
	drop(c);
	return NULL;
}

/* ---- the report ---- */

struct summary {
	unsigned count[K_COUNT];
	unsigned checked, ok_checked, id_mismatch, answered;
	double p50, p95, p99, max, mean, duration_s;
	uint32_t versions[MAX_VERSIONS];
	unsigned version_count[MAX_VERSIONS];
	unsigned n_versions;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest latency at or above p of them. */
static double percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);

	return sorted[rank ? rank - 1 : 0];
}

static void count_version(struct summary *s, int64_t v)
{
	for (unsigned k = 0; k < s->n_versions; k++) {
		if (s->versions[k] == (uint32_t)v) {
			s->version_count[k]++;
			return;
		}
	}
	if (s->n_versions < MAX_VERSIONS) {
		s->versions[s->n_versions] = (uint32_t)v;
		s->version_count[s->n_versions++] = 1;
	}
}

static void tally(const struct run *run, const struct result *r, struct summary *s)
{
	bool checkable = run->samples[(size_t)(r - run->results) % run->n_samples].expected >= 0;

	s->count[r->kind]++;
	if (r->status)
		s->answered++;
	if (r->status && !r->id_ok)
		s->id_mismatch++;
	if (checkable && (r->kind == K_OK || r->kind == K_WRONG)) {
		s->checked++;
		s->ok_checked += r->kind == K_OK;
	}
	if (r->version >= 0)
		count_version(s, r->version);
}

/* Latencies are those of requests that got an answer, whatever its status. */
static int summarize(const struct run *run, double duration_s, struct summary *s)
{
	double *lat = malloc(sizeof(double) * (run->o.requests ? run->o.requests : 1)), sum = 0;
	size_t n = 0;

	if (!lat)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->duration_s = duration_s;
	for (unsigned i = 0; i < run->o.requests; i++) {
		tally(run, &run->results[i], s);
		if (run->results[i].status) {
			lat[n++] = run->results[i].latency_ms;
			sum += run->results[i].latency_ms;
		}
	}
	if (n) {
		qsort(lat, n, sizeof(double), cmp_double);
		s->p50 = percentile(lat, n, 0.50);
		s->p95 = percentile(lat, n, 0.95);
		s->p99 = percentile(lat, n, 0.99);
		s->max = lat[n - 1];
		s->mean = sum / (double)n;
	}
	free(lat);
	return 0;
}

static unsigned errors_total(const struct summary *s)
{
	unsigned n = 0;

	for (int k = K_5XX; k < K_COUNT; k++)
		n += s->count[k];
	return n;
}

static void print_ms(const char *key, const struct summary *s, double v)
{
	if (s->answered)
		printf(",\"%s\":%.3f", key, v);
	else
		printf(",\"%s\":null", key);
}

static void print_json(const struct run *run, const struct summary *s)
{
	unsigned n = run->o.requests;

	printf("{\"requests\":%u,\"concurrency\":%u,\"ok\":%u,\"wrong\":%u,\"errors\":{", n,
	       run->o.concurrency, s->count[K_OK], s->count[K_WRONG]);
	for (int k = K_5XX; k < K_COUNT; k++)
		printf("%s\"%s\":%u", k == K_5XX ? "" : ",", kind_name[k], s->count[k]);
	printf("},\"error_total\":%u,\"checked\":%u", errors_total(s), s->checked);
	if (s->checked)
		printf(",\"accuracy\":%.6f", (double)s->ok_checked / s->checked);
	else
		printf(",\"accuracy\":null");
	printf(",\"success_rate\":%.6f",
	       n ? (double)(s->count[K_OK] + s->count[K_WRONG]) / n : 0.0);
	print_ms("p50_ms", s, s->p50);
	print_ms("p95_ms", s, s->p95);
	print_ms("p99_ms", s, s->p99);
	print_ms("max_ms", s, s->max);
	print_ms("mean_ms", s, s->mean);
	printf(",\"duration_s\":%.6f,\"rps\":%.1f,\"connections\":%u,\"id_mismatch\":%u,"
	       "\"model_versions\":{",
	       s->duration_s, s->duration_s > 0 ? n / s->duration_s : 0.0,
	       atomic_load(&run->connections), s->id_mismatch);
	for (unsigned k = 0; k < s->n_versions; k++)
		printf("%s\"%" PRIu32 "\":%u", k ? "," : "", s->versions[k], s->version_count[k]);
	printf("}}\n");
}

static void print_text(const struct run *run, const struct summary *s)
{
	unsigned n = run->o.requests;

	printf("requests %u  concurrency %u  connections %u  duration %.3f s  %.1f req/s\n", n,
	       run->o.concurrency, atomic_load(&run->connections), s->duration_s,
	       s->duration_s > 0 ? n / s->duration_s : 0.0);
	printf("ok %u  wrong %u  errors %u (", s->count[K_OK], s->count[K_WRONG], errors_total(s));
	for (int k = K_5XX; k < K_COUNT; k++)
		printf("%s%s %u", k == K_5XX ? "" : ", ", kind_name[k], s->count[k]);
	printf(")\n");
	if (s->checked)
		printf("accuracy %.2f%% (%u checked)", 100.0 * s->ok_checked / s->checked,
		       s->checked);
	else
		printf("accuracy n/a (nothing checked)");
	printf("  success %.2f%%  id mismatches %u\n",
	       n ? 100.0 * (s->count[K_OK] + s->count[K_WRONG]) / n : 0.0, s->id_mismatch);
	if (s->answered)
		printf("latency ms: p50 %.3f  p95 %.3f  p99 %.3f  max %.3f  mean %.3f\n", s->p50,
		       s->p95, s->p99, s->max, s->mean);
	else
		printf("latency ms: n/a (no answer)\n");
}

static void put_int_or_null(FILE *f, const char *key, long long v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, v);
}

static int write_per_request(const struct run *run)
{
	FILE *f = fopen(run->o.per_request, "w");

	if (!f) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", run->o.per_request,
		        strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < run->o.requests; i++) {
		const struct result *r = &run->results[i];
		int expected = run->samples[i % run->n_samples].expected;
		bool answered = r->kind == K_OK || r->kind == K_WRONG;

		fprintf(f,
		        "{\"id\":\"%s-%u\",\"index\":%u,\"status\":%d,\"kind\":\"%s\","
		        "\"latency_ms\":%.3f",
		        run->o.id_prefix, i, i, r->status, kind_name[r->kind], r->latency_ms);
		put_int_or_null(f, "class", r->cls);
		put_int_or_null(f, "expected", expected);
		fprintf(f, ",\"correct\":%s",
		        !answered || expected < 0 ? "null"
		        : r->kind == K_OK         ? "true"
		                                  : "false");
		put_int_or_null(f, "model_version", r->version);
		fprintf(f, ",\"id_echoed\":%s}\n", r->id_ok ? "true" : "false");
	}
	if (fclose(f) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", run->o.per_request,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- main ---- */

/* Requests are pulled from one counter: clients that started take them all, so a client that
 * cannot start only lowers the concurrency. The number started. */
static unsigned start_clients(struct run *run, struct client *cl, pthread_t *th, unsigned n)
{
	size_t max_body = 0;
	unsigned started = 0;

	for (size_t k = 0; k < run->n_samples; k++)
		if (run->samples[k].body_len > max_body)
			max_body = run->samples[k].body_len;
	for (unsigned t = 0; t < n; t++) {
		struct client *c = &cl[started];

		*c = (struct client){ .run = run, .fd = -1, .req_cap = max_body + 1024 };
		c->req = malloc(c->req_cap);
		c->resp = malloc(MAX_RESPONSE_BYTES);
		if (c->req && c->resp && pthread_create(&th[started], NULL, client_main, c) == 0) {
			started++;
			continue;
		}
		fprintf(stderr, PROG ": cannot start client %u\n", t);
		free(c->req);
		free(c->resp);
	}
	return started;
}

static int run_load(struct run *run, double *ret_duration_s)
{
	unsigned n = run->o.concurrency < run->o.requests ? run->o.concurrency : run->o.requests;
	struct client *cl = calloc(n ? n : 1, sizeof(*cl));
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	int64_t t0 = now_ns();
	unsigned started = 0;

	if (cl && th)
		started = start_clients(run, cl, th, n);
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	*ret_duration_s = (double)(now_ns() - t0) / 1e9;
	for (unsigned t = 0; t < started; t++) {
		free(cl[t].req);
		free(cl[t].resp);
	}
	free(cl);
	free(th);
	return started || !n ? 0 : -1;
}

static void release(struct run *run)
{
	for (size_t k = 0; k < run->n_samples; k++)
		free(run->samples[k].body);
	free(run->samples);
	free(run->results);
	free(run->dataset_text);
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	struct summary s;
	double duration;
	int status;

	if (parse_args(argc, argv, &run.o, &status) < 0)
		return status;
	signal(SIGPIPE, SIG_IGN);
	if ((run.o.dataset ? load_dataset(&run) : make_sample(&run)) < 0) {
		release(&run);
		return 2;
	}
	run.results = calloc(run.o.requests ? run.o.requests : 1, sizeof(*run.results));
	if (!run.results || run_load(&run, &duration) < 0 || summarize(&run, duration, &s) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		release(&run);
		return 1;
	}
	if (run.o.json)
		print_json(&run, &s);
	else
		print_text(&run, &s);
	status = run.o.per_request && write_per_request(&run) < 0 ? 1 : 0;
	/* Exit 1 only when the server was never reached: any answer, even errors, is a result. */
	if (run.o.requests && atomic_load(&run.connections) == 0)
		status = 1;
	release(&run);
	return status;
}
