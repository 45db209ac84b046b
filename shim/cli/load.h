/* load.h: the command's HTTP load client, shared by `mlchaos load` and `mlchaos experiment`:
 * the requests (a requests file, a data set, or a protocol's default), the answers (a JSON
 * pointer, a tolerance), server-sent events, health probes and the figures of one run.
 * load_plan.c and load_judge.c are pure (jansson only, no I/O but reading the requests
 * file); load_http.c drives libcurl. Never part of libmlchaos.so. */
#ifndef MC_CLI_LOAD_H
#define MC_CLI_LOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MC_LOAD_LINE_MAX     (1u << 20)  /* a requests-file line; longer is an error */
#define MC_LOAD_LINES_MAX    1000000     /* lines of a requests file or a data set */
#define MC_LOAD_BODY_MAX     (16u << 20) /* a response body; larger fails the request */
#define MC_LOAD_MSG_MAX      256         /* a per-request error message */
#define MC_LOAD_SHOWN_ERRORS 3           /* answer errors printed per run; all are counted */
#define MC_LOAD_HEALTH_MIN   3           /* requests around a probe needed to call it a lie */

/* What the requests look like and where the answer is: a preset of path, body and pointer. */
enum mc_load_protocol {
	MC_LOAD_MLCHAOS,     /* the reference server: POST /predict {"features":[...]}, /class */
	MC_LOAD_HTTP_JSON,   /* any JSON API: the file's bodies as they are, the whole answer */
	MC_LOAD_OPENAI_COMP, /* POST /v1/completions, /choices/0/text */
	MC_LOAD_OPENAI_CHAT, /* POST /v1/chat/completions, /choices/0/message/content */
	MC_LOAD_KSERVE_V2,   /* POST /v2/models/MODEL/infer, /outputs/0/data */
	MC_LOAD_PROTOCOLS
};

/* The protocol called name, or -1. */
int mc_load_protocol_of(const char *name);
const char *mc_load_protocol_name(enum mc_load_protocol p);
/* The preset's answer pointer and path ("" and NULL for http-json: the whole answer, the
 * URL's own path). */
const char *mc_load_protocol_answer(enum mc_load_protocol p);
const char *mc_load_protocol_path(enum mc_load_protocol p);

/* How each request ends: exactly one of these. */
enum mc_load_kind {
	MC_LOAD_OK,    /* 2xx, the answer read, right or nothing to check */
	MC_LOAD_WRONG, /* 2xx, an answer other than "expect" */
	MC_LOAD_5XX,   /* errors from here on */
	MC_LOAD_4XX,
	MC_LOAD_RESET,    /* connection reset or closed before a whole answer */
	MC_LOAD_TIMEOUT,  /* the request's timeout, connecting included */
	MC_LOAD_CONNECT,  /* no connection */
	MC_LOAD_PROTOCOL, /* not HTTP, another status, or an answer that could not be read */
	MC_LOAD_KINDS
};

const char *mc_load_kind_name(enum mc_load_kind k);

static inline bool mc_load_kind_failed(enum mc_load_kind k)
{
	return k >= MC_LOAD_5XX;
}

/* ---- the plan: what request i sends (load_plan.c) ---- */

struct mc_load_request {
	char *method; /* "POST" unless the line says otherwise */
	char *path;   /* NULL: the preset's, or the URL's own path */
	char *body;   /* compact JSON */
	size_t body_len;
	char **headers; /* "Name: value", n_headers of them */
	unsigned n_headers;
	json_t *expect; /* the expected answer, or NULL */
	int line;       /* in the requests file or data set; 0 for a generated one */
};

struct mc_load_plan_opts {
	enum mc_load_protocol protocol;
	const char *requests_file; /* or NULL */
	const char *dataset;       /* mlchaos only: lines {"features":[...],"class":N} */
	unsigned inputs;           /* mlchaos without either: features per request */
	const char *model;         /* openai: "model"; kserve-v2: the model of the path */
	bool stream;               /* openai: "stream": true and an SSE answer */
	const char *answer;        /* NULL: the preset's pointer */
	double tolerance;
};

struct mc_load_plan {
	struct mc_load_request *reqs; /* request i sends reqs[i mod n] */
	size_t n;
	enum mc_load_protocol protocol;
	char *answer; /* the pointer, "" for the whole answer */
	char *path;   /* the preset's path (the model's name in it), or NULL: the URL's */
	double tolerance;
	bool stream;
};

/* Whether the options go together (protocol and requests file, stream, model, pointer): 0,
 * or -EINVAL and the problem in why. */
int mc_load_plan_check(const struct mc_load_plan_opts *o, char *why, size_t cap);

/* The plan from the options: every line of the requests file (or data set) read and shaped
 * by the protocol. Every bad line is reported through say(user, "FILE:LINE: what is wrong"),
 * all of them. Returns 0; -EINVAL after at least one report; -ENOMEM; another -errno when a
 * file cannot be read (reported too). On failure *ret holds nothing to free. */
int mc_load_plan_build(const struct mc_load_plan_opts *o, void (*say)(void *user, const char *msg),
                       void *user, struct mc_load_plan *ret);
void mc_load_plan_free(struct mc_load_plan *plan);

/* One line of a requests file shaped by the protocol into req (line number lineno). On a bad
 * line: -EINVAL and a message (without FILE:LINE) in why. */
int mc_load_plan_line(const struct mc_load_plan_opts *o, const char *text, size_t len, int lineno,
                      struct mc_load_request *req, char *why, size_t why_cap);

/* ---- answers (load_judge.c) ---- */

/* Whether ptr is an RFC 6901 JSON pointer: "" or "/token/...", '~' only as ~0 or ~1. */
bool mc_load_pointer_valid(const char *ptr);

/* The value ptr names in root (borrowed), or NULL with why ("no member 'x' at /a", ...). */
json_t *mc_load_pointer_get(json_t *root, const char *ptr, char *why, size_t why_cap);

/* a and b are equal, numbers within tolerance (integers and reals alike), inside arrays and
 * objects too (same length, same member names). */
bool mc_load_equal(const json_t *a, const json_t *b, double tolerance);

/* Server-sent events, fed in pieces as they arrive. Each complete event's data (its "data:"
 * lines joined by '\n') goes to on_data; "[DONE]" sets done instead. Lines are bounded by
 * MC_LOAD_LINE_MAX: a longer one sets overflow and the rest of the stream is ignored. */
struct mc_sse {
	char *line; /* the line being read */
	size_t len, cap;
	char *data; /* the event being read */
	size_t data_len, data_cap;
	bool has_data, done, overflow;
	int (*on_data)(void *user, const char *data, size_t len); /* nonzero stops */
	void *user;
};

void mc_sse_init(struct mc_sse *s, int (*on_data)(void *, const char *, size_t), void *user);
/* 0, or what on_data returned, or -ENOMEM. */
int mc_sse_feed(struct mc_sse *s, const char *bytes, size_t n);
/* The stream ended: an event not followed by a blank line is dispatched. */
int mc_sse_end(struct mc_sse *s);
void mc_sse_free(struct mc_sse *s);

/* The text of one streamed chunk of an OpenAI answer (choices[0].text, or
 * choices[0].delta.content for chat), borrowed from chunk; NULL when it has none. */
const char *mc_load_stream_text(const json_t *chunk, enum mc_load_protocol p);

/* ---- health probes and lies (load_judge.c) ---- */

struct mc_load_probe {
	uint64_t at_ns; /* when its answer came (since the run began) */
	int status;     /* HTTP status; 0 when no answer */
};

struct mc_load_done {
	uint64_t at_ns; /* when the request ended */
	bool failed;    /* an error (any kind but ok and wrong) */
};

/* Probes that lied: answered 2xx while, of the requests that ended within window_ns before
 * or after the probe's answer, at least MC_LOAD_HEALTH_MIN did and more than half of them
 * failed. done is sorted by at_ns. */
uint64_t mc_load_health_lies(const struct mc_load_probe *probes, size_t n_probes,
                             const struct mc_load_done *done, size_t n_done, uint64_t window_ns);

/* Nearest rank over sorted[0, n): the smallest value at or above share p of them. */
double mc_load_percentile(const double *sorted, size_t n, double p);
void mc_load_sort(double *v, size_t n);

/* ---- one run (load_http.c) ---- */

struct mc_load_conf {
	const char *url;        /* http:// or https://; the path, unless the plan gives one */
	const char *health_url; /* or NULL */
	uint64_t health_interval_ns;
	uint64_t requests, concurrency, timeout_ns;
	const char *id_prefix, *id_header;
	int http_version; /* 0 default, 1 HTTP/1.1, 2 HTTP/2 */
	bool insecure;    /* TLS: no certificate check */
	const struct mc_load_plan *plan;
	const char *per_request; /* a file for one line per request, or NULL */
	const char *who;         /* the prefix of messages: "mlchaos experiment" */
	int wake_fd;             /* -1, or an fd that becomes readable to interrupt the run */
};

struct mc_load_result {
	json_t *answer;    /* the part compared, or NULL (an error) */
	char *error;       /* why the request failed, or NULL */
	double latency_ms; /* < 0: no answer */
	double ttft_ms;    /* < 0: no token */
	uint16_t status;   /* 0: no HTTP answer */
	uint8_t kind;      /* enum mc_load_kind */
	bool checked;      /* an expected answer was compared */
};

struct mc_load_figures {
	uint64_t requests, concurrency, count[MC_LOAD_KINDS], errors, checked, right;
	uint64_t answered, connections, answer_errors;
	double duration_s, rps;
	bool latency_known; /* at least one answer */
	double p50_ms, p95_ms, p99_ms, max_ms, mean_ms;
	bool ttft_known, itl_known;
	double ttft_p50_ms, ttft_p99_ms, itl_p50_ms, itl_p99_ms;
	bool health_known; /* a health URL was probed */
	uint64_t probes, probes_ok, health_lies;
};

struct mc_load_run {
	struct mc_load_result *results; /* one per request, in index order */
	uint64_t n;
	struct mc_load_figures fig;
	struct mc_load_probe *probes;
	size_t n_probes;
};

/* Sends conf->requests requests, conf->concurrency at a time, probing health alongside, and
 * measures. 0 (whatever the answers); -EINTR when wake_fd woke; -ENOMEM; -EINVAL after
 * printing why libcurl could not be set up. ret is to be freed with mc_load_run_free(). */
int mc_load_run(const struct mc_load_conf *conf, struct mc_load_run *ret);

/* The status code of one GET of url (http:// or https://, the certificate unchecked when
 * insecure), or -1 when no HTTP answer came within timeout_ms, and then why in why. The body
 * is read and dropped. */
int mc_load_http_status(const char *url, int timeout_ms, bool insecure, char *why, size_t cap);
void mc_load_run_free(struct mc_load_run *run);

/* The figures as one JSON object (the keys of mlchaos-load --json, and more: FORMAT in
 * config/experiments/README.md), without a newline. */
void mc_load_figures_json(FILE *out, const struct mc_load_figures *f);

#endif
