/* handler.c: the routes of the reference server: /predict, /health, /model.
 * Every allocation is checked and every failure becomes an answer (503 for memory, 4xx for the
 * client's mistakes); a model reference taken here is always put back before returning. */
#include "handler.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void reply_error(struct mc_reply *reply, int status, const char *request_id, bool close,
                        const char *extra_headers, const char *message)
{
	mc_buf_free(&reply->heap);
	reply->status = status;
	reply->close = reply->close || close;
	reply->fixed_len = mc_http_static_error(reply->fixed, status, request_id, reply->close,
	                                        extra_headers, message);
}

void mc_reply_error(struct mc_reply *reply, int status, const char *request_id, bool close,
                    const char *message)
{
	reply_error(reply, status, request_id, close, NULL, message);
}

/* Turn the body built in *body into the full response; out of memory becomes a 503. */
static void finish(struct mc_reply *reply, const struct mc_http_req *req, int status,
                   struct mc_buf *body, const char *extra_headers)
{
	int r;

	if (!body->data) {
		mc_reply_error(reply, 503, req->request_id, false, "out of memory");
		return;
	}
	r = mc_http_response(&reply->heap, status, req->request_id, reply->close, extra_headers,
	                     body->data, body->len);
	mc_buf_free(body);
	if (r < 0) {
		mc_reply_error(reply, r == -ENOMEM ? 503 : 500, req->request_id, false,
		               r == -ENOMEM ? "out of memory" : "response too large");
		return;
	}
	reply->status = status;
}

/* Find "features" in the body object and read it into x[n_inputs]. 0 or a 400 message. */
static const char *read_features(const char *body, size_t len, float *x, uint32_t n_inputs)
{
	static __thread char msg[96];
	struct mc_json j;
	const char *key;
	size_t key_len, n = 0;
	bool found = false;
	int r;

	mc_json_init(&j, body, len);
	if (!mc_json_eat(&j, '{'))
		return "body is not a JSON object";
	if (!mc_json_eat(&j, '}')) {
		do {
			if (mc_json_string(&j, &key, &key_len) < 0 || !mc_json_eat(&j, ':'))
				return "malformed JSON";
			if (!mc_json_key_is(key, key_len, "features")) {
				if (mc_json_skip(&j) < 0)
					return "malformed JSON";
				continue;
			}
			r = mc_json_floats(&j, x, n_inputs, &n);
			if (r == -E2BIG || (r == 0 && n != n_inputs)) {
				snprintf(msg, sizeof(msg), "features must hold %" PRIu32 " numbers",
				         n_inputs);
				return msg;
			}
			if (r < 0)
				return "features must be an array of numbers";
			found = true;
		} while (mc_json_eat(&j, ','));
		if (!mc_json_eat(&j, '}'))
			return "malformed JSON";
	}
	if (!mc_json_at_end(&j))
		return "malformed JSON";
	return found ? NULL : "missing features";
}

static int predict_body(struct mc_buf *out, const struct mc_model *m, uint32_t cls,
                        const float *scores, bool fallback)
{
	int r = mc_buf_printf(out, "{\"class\":%" PRIu32 ",\"scores\":[", cls);

	for (uint32_t k = 0; r == 0 && k < m->n_classes; k++) {
		if (k)
			r = mc_buf_add(out, ",", 1);
		if (r == 0)
			r = mc_buf_json_float(out, scores[k], 6);
	}
	if (r == 0)
		r = mc_buf_printf(out, "],\"model_version\":%" PRIu32 ",\"fallback\":%s}\n",
		                  m->version, fallback ? "true" : "false");
	return r;
}

/* Scores that are not finite mean the model cannot serve this input (corrupt weights): the
 * fallback answers instead when there is one with the same shape. */
static struct mc_model_ref *try_fallback(struct mc_handler *h, struct mc_model_ref *ref,
                                         const float *x, float *scores, uint32_t *cls, int *r)
{
	struct mc_model_ref *fb;

	if (ref->fallback)
		return ref;
	fb = mc_reg_get_fallback(h->reg);
	if (!fb || fb->model->n_inputs != ref->model->n_inputs ||
	    fb->model->n_classes != ref->model->n_classes) {
		mc_ref_put(fb);
		return ref;
	}
	*r = mc_model_predict(fb->model, x, scores, cls);
	if (*r == -ENOMEM) {
		mc_ref_put(fb);
		return ref;
	}
	mc_ref_put(ref);
	return fb;
}

static void predict(struct mc_handler *h, const struct mc_http_req *req, const char *body,
                    size_t body_len, struct mc_reply *reply)
{
	struct mc_model_ref *ref = mc_reg_get(h->reg);
	struct mc_buf out;
	const char *bad;
	float *x = NULL, *scores = NULL;
	uint32_t cls = 0;
	int r;

	mc_buf_init(&out, MC_HANDLER_MAX_RESPONSE_BYTES);
	if (!ref) {
		mc_reply_error(reply, 503, req->request_id, false, "no model loaded");
		return;
	}
	x = malloc(sizeof(float) * ref->model->n_inputs);
	scores = malloc(sizeof(float) * ref->model->n_classes);
	if (!x || !scores) {
		mc_reply_error(reply, 503, req->request_id, false, "out of memory");
		goto out;
	}
	bad = read_features(body, body_len, x, ref->model->n_inputs);
	if (bad) {
		mc_reply_error(reply, 400, req->request_id, false, bad);
		goto out;
	}
	r = mc_model_predict(ref->model, x, scores, &cls);
	if (r == -ERANGE)
		ref = try_fallback(h, ref, x, scores, &cls, &r);
	if (r == -ENOMEM) {
		mc_reply_error(reply, 503, req->request_id, false, "out of memory");
		goto out;
	}
	/* Still not finite and no fallback: answer the arg max anyway (scores become null); a
	 * corrupt model then shows as wrong answers, which is what it is. */
	if (predict_body(&out, ref->model, cls, scores, ref->fallback) < 0)
		mc_buf_free(&out);
	finish(reply, req, 200, &out, NULL);
out:
	mc_buf_free(&out);
	free(scores);
	free(x);
	mc_ref_put(ref);
}

static void health(struct mc_handler *h, const struct mc_http_req *req, struct mc_reply *reply)
{
	struct mc_model_ref *ref = mc_reg_get(h->reg);
	struct mc_buf out;

	if (!ref) {
		mc_reply_error(reply, 503, req->request_id, false, "no model loaded");
		return;
	}
	mc_buf_init(&out, MC_HANDLER_MAX_RESPONSE_BYTES);
	if (mc_buf_printf(&out,
	                  "{\"status\":\"ok\",\"model_version\":%" PRIu32 ",\"fallback\":%s}\n",
	                  ref->model->version, ref->fallback ? "true" : "false") < 0)
		mc_buf_free(&out);
	mc_ref_put(ref);
	finish(reply, req, 200, &out, NULL);
}

static void iso8601(int64_t ms, char *dst, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, cap, "%s.%03dZ", day, (int)(ms % 1000));
}

static int model_body(struct mc_buf *out, const struct mc_model_ref *ref, bool verify,
                      const struct mc_reg_stats *st)
{
	const struct mc_model *m = ref->model;
	char when[48];
	int r;

	iso8601(ref->loaded_at_ms, when, sizeof(when));
	r = mc_buf_printf(
	    out,
	    "{\"version\":%" PRIu32 ",\"format_version\":%" PRIu32 ",\"shape\":[%" PRIu32
	    ",%" PRIu32 ",%" PRIu32 "],\"checksum\":\"%016" PRIx64
	    "\",\"checksum_actual\":\"%016" PRIx64 "\",\"checksum_ok\":%s,"
	    "\"verified\":%s,\"load_method\":\"%s\",\"path\":",
	    m->version, m->format_version, m->n_inputs, m->n_hidden, m->n_classes, m->checksum,
	    m->checksum_actual, m->checksum == m->checksum_actual ? "true" : "false",
	    verify ? "true" : "false", mc_load_method_name(m->method));
	if (r == 0)
		r = mc_buf_json_str(out, ref->path);
	if (r == 0)
		r = mc_buf_printf(out,
		                  ",\"loaded_at\":\"%s\",\"loaded_at_ms\":%" PRId64
		                  ",\"fallback\":%s,\"reloads\":%" PRIu32
		                  ",\"reload_failures\":%" PRIu32 ",\"last_error\":",
		                  when, ref->loaded_at_ms, ref->fallback ? "true" : "false",
		                  st->reloads, st->reload_failures);
	if (r == 0)
		r = st->last_error[0] ? mc_buf_json_str(out, st->last_error)
		                      : mc_buf_adds(out, "null");
	if (r == 0)
		r = mc_buf_printf(out, ",\"pid\":%ld}\n", (long)getpid());
	return r;
}

static void model_info(struct mc_handler *h, const struct mc_http_req *req, struct mc_reply *reply)
{
	struct mc_model_ref *ref = mc_reg_get(h->reg);
	struct mc_reg_stats st;
	struct mc_buf out;

	if (!ref) {
		mc_reply_error(reply, 503, req->request_id, false, "no model loaded");
		return;
	}
	mc_reg_stats(h->reg, &st);
	mc_buf_init(&out, MC_HANDLER_MAX_RESPONSE_BYTES);
	if (model_body(&out, ref, h->reg->verify, &st) < 0)
		mc_buf_free(&out);
	mc_ref_put(ref);
	finish(reply, req, 200, &out, NULL);
}

static bool path_is(const struct mc_http_req *req, const char *path)
{
	return strlen(path) == req->path_len && memcmp(req->path, path, req->path_len) == 0;
}

void mc_handle(struct mc_handler *h, const struct mc_http_req *req, const char *body,
               size_t body_len, struct mc_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	mc_buf_init(&reply->heap, MC_HANDLER_MAX_RESPONSE_BYTES + MC_HTTP_STATIC_BYTES);
	reply->close = !req->keep_alive;
	if (mc_http_is(req, "POST", "/predict"))
		predict(h, req, body, body_len, reply);
	else if (mc_http_is(req, "GET", "/health"))
		health(h, req, reply);
	else if (mc_http_is(req, "GET", "/model"))
		model_info(h, req, reply);
	else if (path_is(req, "/predict"))
		reply_error(reply, 405, req->request_id, false, "Allow: POST\r\n",
		            "method not allowed");
	else if (path_is(req, "/health") || path_is(req, "/model"))
		reply_error(reply, 405, req->request_id, false, "Allow: GET\r\n",
		            "method not allowed");
	else
		mc_reply_error(reply, 404, req->request_id, false, "not found");
}

const char *mc_reply_bytes(const struct mc_reply *reply, size_t *ret_len)
{
	if (reply->heap.data) {
		*ret_len = reply->heap.len;
		return reply->heap.data;
	}
	*ret_len = reply->fixed_len;
	return reply->fixed;
}

void mc_reply_free(struct mc_reply *reply)
{
	mc_buf_free(&reply->heap);
}
