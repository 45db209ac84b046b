/* load_plan.c: what each request of a load sends: the lines of a requests file (JSON Lines),
 * or a reference-server data set, shaped by the protocol's preset. Reads only the files it is
 * given; every bad line is reported, all of them, as FILE:LINE: what is wrong. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

static const struct {
	const char *name, *path, *answer;
} protocols[MC_LOAD_PROTOCOLS] = {
	[MC_LOAD_MLCHAOS] = { "mlchaos", "/predict", "/class" },
	[MC_LOAD_HTTP_JSON] = { "http-json", NULL, "" },
	[MC_LOAD_OPENAI_COMP] = { "openai-completions", "/v1/completions", "/choices/0/text" },
	[MC_LOAD_OPENAI_CHAT] = { "openai-chat", "/v1/chat/completions",
	                          "/choices/0/message/content" },
	[MC_LOAD_KSERVE_V2] = { "kserve-v2", "/v2/models/MODEL/infer", "/outputs/0/data" },
};

/* An OpenAI answer is short by default: the experiment compares answers, not essays. */
#define OPENAI_MAX_TOKENS 16

int mc_load_protocol_of(const char *name)
{
	for (int p = 0; p < MC_LOAD_PROTOCOLS; p++)
		if (strcmp(protocols[p].name, name) == 0)
			return p;
	return -1;
}

const char *mc_load_protocol_name(enum mc_load_protocol p)
{
	return (unsigned)p < MC_LOAD_PROTOCOLS ? protocols[p].name : "?";
}

const char *mc_load_protocol_answer(enum mc_load_protocol p)
{
	return (unsigned)p < MC_LOAD_PROTOCOLS ? protocols[p].answer : "";
}

const char *mc_load_protocol_path(enum mc_load_protocol p)
{
	return (unsigned)p < MC_LOAD_PROTOCOLS ? protocols[p].path : NULL;
}

/* ---- one request ---- */

static void request_free(struct mc_load_request *r)
{
	free(r->method);
	free(r->path);
	free(r->body);
	for (unsigned i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
	free(r->headers);
	json_decref(r->expect);
	memset(r, 0, sizeof(*r));
}

static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

static bool header_value_ok(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return false;
	return true;
}

static int set_headers(struct mc_load_request *r, json_t *headers, char *why, size_t cap)
{
	const char *name;
	json_t *v;

	if (!json_is_object(headers)) {
		snprintf(why, cap, "\"headers\" is not an object of strings");
		return -EINVAL;
	}
	r->headers = calloc(json_object_size(headers) + 1, sizeof(char *));
	if (!r->headers)
		return -ENOMEM;
	json_object_foreach(headers, name, v)
	{
		const char *s = json_string_value(v);
		bool name_ok = *name != '\0';
		for (const char *c = name; *c; c++)
			name_ok = name_ok && token_char(*c);
		if (!s || !name_ok || !header_value_ok(s)) {
			snprintf(why, cap,
			         "header '%.64s' is not a header name with a string value", name);
			return -EINVAL;
		}
		if (asprintf(&r->headers[r->n_headers], "%s: %s", name, s) < 0)
			return -ENOMEM;
		r->n_headers++;
	}
	return 0;
}

/* The envelope's "method" and "path". */
static int set_method_path(struct mc_load_request *r, json_t *line, char *why, size_t cap)
{
	json_t *m = json_object_get(line, "method"), *p = json_object_get(line, "path");
	const char *method = m ? json_string_value(m) : "POST";
	bool ok = method && *method;

	for (const char *c = method; ok && *c; c++)
		ok = token_char(*c);
	if (!ok) {
		snprintf(why, cap, "\"method\" is not an HTTP method such as \"POST\"");
		return -EINVAL;
	}
	if (p && (!json_is_string(p) || json_string_value(p)[0] != '/' ||
	          strpbrk(json_string_value(p), " \r\n"))) {
		snprintf(why, cap, "\"path\" is not a path beginning with '/' (no spaces)");
		return -EINVAL;
	}
	r->method = strdup(method);
	r->path = p ? strdup(json_string_value(p)) : NULL;
	return r->method && (!p || r->path) ? 0 : -ENOMEM;
}

/* ---- the presets: a line's body fills the preset's shape (README: "Presets") ---- */

static json_t *mlchaos_body(json_t *body, char *why, size_t cap)
{
	if (json_is_array(body))
		return json_pack("{s:O}", "features", body);
	if (json_is_object(body) && json_is_array(json_object_get(body, "features")))
		return json_incref(body);
	snprintf(why, cap,
	         "protocol mlchaos: give a body {\"features\":[...]} or an array of "
	         "numbers");
	return NULL;
}

/* The line's members over the preset's: {"model", "max_tokens", "temperature": 0, "stream"}. */
static json_t *openai_body(const struct mc_load_plan_opts *o, json_t *body, char *why, size_t cap)
{
	bool chat = o->protocol == MC_LOAD_OPENAI_CHAT;
	json_t *out = json_pack("{s:i,s:f,s:b}", "max_tokens", OPENAI_MAX_TOKENS, "temperature",
	                        0.0, "stream", o->stream);

	if (!out)
		return NULL;
	if (o->model)
		json_object_set_new(out, "model", json_string(o->model));
	if (json_is_string(body) && chat)
		json_object_set_new(out, "messages",
		                    json_pack("[{s:s,s:O}]", "role", "user", "content", body));
	else if (json_is_string(body))
		json_object_set(out, "prompt", body);
	else if (json_is_object(body))
		json_object_update(out, body);
	const char *need = chat ? "messages" : "prompt";
	if (!json_object_get(out, need)) {
		snprintf(why, cap, "protocol %s: give a string (the %s) or an object with \"%s\"",
		         protocols[o->protocol].name, chat ? "user's message" : "prompt", need);
		json_decref(out);
		return NULL;
	}
	if (o->stream)
		json_object_set_new(out, "stream", json_true());
	return out;
}

/* An array is the data of one FP32 tensor "input-0" of shape [1, n]; an object with "data"
 * one tensor (its name, shape, datatype defaulted); an object with "inputs" is sent as is. */
static json_t *kserve_body(json_t *body, char *why, size_t cap)
{
	json_t *tensor;

	if (json_is_object(body) && json_is_array(json_object_get(body, "inputs")))
		return json_incref(body);
	if (json_is_array(body)) {
		tensor =
		    json_pack("{s:s,s:[i,I],s:s,s:O}", "name", "input-0", "shape", 1,
		              (json_int_t)json_array_size(body), "datatype", "FP32", "data", body);
	} else if (json_is_object(body) && json_is_array(json_object_get(body, "data"))) {
		json_t *data = json_object_get(body, "data");
		tensor = json_pack("{s:s,s:[i,I],s:s}", "name", "input-0", "shape", 1,
		                   (json_int_t)json_array_size(data), "datatype", "FP32");
		if (tensor)
			json_object_update(tensor, body);
	} else {
		snprintf(why, cap,
		         "protocol kserve-v2: give an array (one FP32 tensor), an object "
		         "with \"data\", or one with \"inputs\"");
		return NULL;
	}
	return tensor ? json_pack("{s:[o]}", "inputs", tensor) : NULL;
}

static json_t *shape_body(const struct mc_load_plan_opts *o, json_t *body, char *why, size_t cap)
{
	switch (o->protocol) {
	case MC_LOAD_MLCHAOS:
		return mlchaos_body(body, why, cap);
	case MC_LOAD_OPENAI_COMP:
	case MC_LOAD_OPENAI_CHAT:
		return openai_body(o, body, why, cap);
	case MC_LOAD_KSERVE_V2:
		return kserve_body(body, why, cap);
	case MC_LOAD_HTTP_JSON:
	case MC_LOAD_PROTOCOLS:
		break;
	}
	return json_incref(body);
}

static int set_body(const struct mc_load_plan_opts *o, struct mc_load_request *r, json_t *body,
                    char *why, size_t cap)
{
	why[0] = '\0';
	json_t *shaped = shape_body(o, body, why, cap);
	if (!shaped)
		return why[0] ? -EINVAL : -ENOMEM;
	r->body = json_dumps(shaped, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(shaped);
	if (!r->body)
		return -ENOMEM;
	r->body_len = strlen(r->body);
	return 0;
}

/* A line that is an object with a "body" member is an envelope; any other JSON is the body. */
static int from_json(const struct mc_load_plan_opts *o, json_t *line, int lineno,
                     struct mc_load_request *r, char *why, size_t cap)
{
	json_t *body = json_object_get(line, "body");
	const char *name;
	json_t *v;
	int err;

	r->line = lineno;
	if (!body) {
		r->method = strdup("POST");
		return r->method ? set_body(o, r, line, why, cap) : -ENOMEM;
	}
	json_object_foreach(line, name, v)
	{
		if (strcmp(name, "body") && strcmp(name, "method") && strcmp(name, "path") &&
		    strcmp(name, "headers") && strcmp(name, "expect")) {
			snprintf(why, cap,
			         "unknown member \"%.64s\" (a request line has body, "
			         "method, path, headers, expect)",
			         name);
			return -EINVAL;
		}
	}
	err = set_method_path(r, line, why, cap);
	if (!err && json_object_get(line, "headers"))
		err = set_headers(r, json_object_get(line, "headers"), why, cap);
	if (!err)
		err = set_body(o, r, body, why, cap);
	if (!err && (v = json_object_get(line, "expect")))
		r->expect = json_incref(v);
	return err;
}

int mc_load_plan_line(const struct mc_load_plan_opts *o, const char *text, size_t len, int lineno,
                      struct mc_load_request *req, char *why, size_t why_cap)
{
	json_error_t jerr;
	json_t *line = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

	memset(req, 0, sizeof(*req));
	if (!line) {
		snprintf(why, why_cap, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return -EINVAL;
	}
	int err = from_json(o, line, lineno, req, why, why_cap);
	json_decref(line);
	if (err)
		request_free(req);
	return err;
}

/* A data-set line {"features":[...],"class":N}: the features sent, the class expected. */
static int dataset_line(const char *text, size_t len, int lineno, struct mc_load_request *r,
                        char *why, size_t cap)
{
	json_error_t jerr;
	json_t *line = json_loadb(text, len, 0, &jerr);
	json_t *features = json_object_get(line, "features");
	json_t *cls = json_object_get(line, "class");
	json_t *body = NULL;
	int err = -EINVAL;

	memset(r, 0, sizeof(*r));
	r->line = lineno;
	if (!line)
		snprintf(why, cap, "not JSON: %s (column %d)", jerr.text, jerr.column);
	else if (!json_is_array(features) || !json_is_integer(cls))
		snprintf(why, cap, "a data-set line has \"features\" (an array) and \"class\"");
	else if (!(r->method = strdup("POST")) ||
	         !(body = json_pack("{s:O}", "features", features)) ||
	         !(r->body = json_dumps(body, JSON_COMPACT)))
		err = -ENOMEM;
	else {
		r->body_len = strlen(r->body);
		r->expect = json_incref(cls);
		err = 0;
	}
	json_decref(body);
	json_decref(line);
	if (err)
		request_free(r);
	return err;
}

/* ---- the plan ---- */

struct reader {
	const struct mc_load_plan_opts *o;
	const char *file;
	void (*say)(void *user, const char *msg);
	void *user;
	int errors;
	struct mc_load_plan *plan;
	size_t cap;
};

static void report(struct reader *rd, int lineno, const char *what)
{
	char msg[MC_LOAD_MSG_MAX + 512];

	if (lineno)
		snprintf(msg, sizeof(msg), "%s:%d: %s", rd->file, lineno, what);
	else
		snprintf(msg, sizeof(msg), "%s: %s", rd->file, what);
	rd->say(rd->user, msg);
	rd->errors++;
}

static int add(struct reader *rd, const struct mc_load_request *r)
{
	struct mc_load_plan *plan = rd->plan;

	if (plan->n == rd->cap) {
		size_t cap = rd->cap ? 2 * rd->cap : 64;
		struct mc_load_request *p = realloc(plan->reqs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		plan->reqs = p;
		rd->cap = cap;
	}
	plan->reqs[plan->n++] = *r;
	return 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int one_line(struct reader *rd, const char *text, size_t n, int lineno, bool dataset)
{
	struct mc_load_request r;
	char why[MC_LOAD_MSG_MAX];
	int err;

	if (n > MC_LOAD_LINE_MAX) {
		snprintf(why, sizeof(why), "line longer than %u bytes", MC_LOAD_LINE_MAX);
		report(rd, lineno, why);
		return 0;
	}
	if (blank(text, n))
		return 0; /* a blank line, the last one's end included: no request */
	if (rd->plan->n + (size_t)rd->errors >= MC_LOAD_LINES_MAX) {
		snprintf(why, sizeof(why), "more than %d requests", MC_LOAD_LINES_MAX);
		report(rd, lineno, why);
		return -EINVAL;
	}
	err = dataset ? dataset_line(text, n, lineno, &r, why, sizeof(why))
	              : mc_load_plan_line(rd->o, text, n, lineno, &r, why, sizeof(why));
	if (err == -EINVAL) {
		report(rd, lineno, why);
		return 0;
	}
	if (!err && add(rd, &r) < 0) {
		request_free(&r);
		err = -ENOMEM;
	}
	return err;
}

static int read_lines(struct reader *rd, const char *file, bool dataset)
{
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, err = 0;

	rd->file = file;
	if (!f) {
		err = -errno;
		report(rd, 0, strerror(-err));
		return err;
	}
	while (err == 0 && (n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		err = one_line(rd, line, len, ++lineno, dataset);
	}
	if (err == 0 && ferror(f)) {
		err = -EIO;
		report(rd, 0, "read error");
	}
	free(line);
	fclose(f);
	if (err == 0 && rd->errors == 0 && rd->plan->n == 0) {
		report(rd, 0, "no request in it (one JSON request per line)");
		err = -EINVAL;
	}
	return err;
}

/* Without a file: the reference server's API with fixed pseudo-random features, the same
 * for every request (splitmix64 from a fixed seed), nothing to check. */
static int generated(struct mc_load_plan *plan, unsigned inputs)
{
	json_t *features = json_array();
	uint64_t x = 0x6d6c6368616f73; /* fixed: the same features in every run */
	struct mc_load_request *r = calloc(1, sizeof(*r));

	for (unsigned i = 0; features && i < (inputs ? inputs : 16); i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		json_array_append_new(features, json_real((double)(z >> 40) / (1 << 23) - 1.0));
	}
	json_t *body = features ? json_pack("{s:o}", "features", features) : NULL;
	if (r && body) {
		r->method = strdup("POST");
		r->body = json_dumps(body, JSON_COMPACT);
	}
	json_decref(body);
	if (!r || !r->method || !r->body) {
		if (r)
			request_free(r);
		free(r);
		return -ENOMEM;
	}
	r->body_len = strlen(r->body);
	plan->reqs = r;
	plan->n = 1;
	return 0;
}

int mc_load_plan_check(const struct mc_load_plan_opts *o, char *why, size_t cap)
{
	const char *name = protocols[o->protocol].name;
	bool openai = o->protocol == MC_LOAD_OPENAI_COMP || o->protocol == MC_LOAD_OPENAI_CHAT;

	if (o->dataset && o->requests_file)
		snprintf(why, cap, "give dataset or requests_file, not both");
	else if (o->dataset && o->protocol != MC_LOAD_MLCHAOS)
		snprintf(why, cap,
		         "dataset is the reference server's (protocol mlchaos); with "
		         "protocol %s give requests_file",
		         name);
	else if (o->protocol != MC_LOAD_MLCHAOS && !o->requests_file)
		snprintf(why, cap,
		         "protocol %s needs requests_file = the requests to send (JSON "
		         "Lines)",
		         name);
	else if (o->stream && !openai)
		snprintf(why, cap,
		         "stream = true is for protocol openai-completions and "
		         "openai-chat, not %s",
		         name);
	else if (o->protocol == MC_LOAD_KSERVE_V2 && (!o->model || !*o->model))
		snprintf(why, cap, "protocol kserve-v2 needs model = the model's name (its path)");
	else if (o->answer && !mc_load_pointer_valid(o->answer))
		snprintf(why, cap, "answer = '%s' is not a JSON pointer (RFC 6901)", o->answer);
	else
		return 0;
	return -EINVAL;
}

/* The preset's path, MODEL replaced by the model's name (kserve-v2); NULL for http-json. */
static char *preset_path(const struct mc_load_plan_opts *o)
{
	const char *path = protocols[o->protocol].path;
	const char *at = path ? strstr(path, "MODEL") : NULL;
	char *out;

	if (!at)
		return path ? strdup(path) : NULL;
	if (asprintf(&out, "%.*s%s%s", (int)(at - path), path, o->model ? o->model : "", at + 5) <
	    0)
		return NULL;
	return out;
}

int mc_load_plan_build(const struct mc_load_plan_opts *o, void (*say)(void *user, const char *msg),
                       void *user, struct mc_load_plan *ret)
{
	struct reader rd = { .o = o, .say = say, .user = user, .plan = ret };
	const char *answer = o->answer ? o->answer : protocols[o->protocol].answer;
	int err;

	memset(ret, 0, sizeof(*ret));
	ret->protocol = o->protocol;
	ret->tolerance = o->tolerance;
	ret->stream = o->stream;
	ret->answer = strdup(answer);
	ret->path = preset_path(o);
	if (!ret->answer || (protocols[o->protocol].path && !ret->path)) {
		mc_load_plan_free(ret);
		return -ENOMEM;
	}
	if (o->requests_file)
		err = read_lines(&rd, o->requests_file, false);
	else if (o->dataset)
		err = read_lines(&rd, o->dataset, true);
	else
		err = generated(ret, o->inputs);
	if (!err && rd.errors)
		err = -EINVAL;
	if (err)
		mc_load_plan_free(ret);
	return err;
}

void mc_load_plan_free(struct mc_load_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		request_free(&plan->reqs[i]);
	free(plan->reqs);
	free(plan->answer);
	free(plan->path);
	memset(plan, 0, sizeof(*plan));
}
