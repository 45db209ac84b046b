/* test_handler.c: the server's routes and model registry without sockets: answers, errors,
 * the fallback, reloads under concurrent requests, and a torture run that fails the 1st, 2nd,
 * ... Nth allocation of a request (malloc, calloc and realloc are wrapped at link time) and
 * requires a clean 503 each time, never a crash. */
#include "handler.h"
#include "json.h"
#include "mc_test.h"
#include "model.h"
#include "prng.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- allocation faults: --wrap=malloc,calloc,realloc ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

/* Armed only by the torture loop, on the main thread while no other thread runs. */
static unsigned alloc_calls;
static unsigned alloc_fail_at; /* 0: never */

static bool fail_now(void)
{
	return alloc_fail_at && ++alloc_calls == alloc_fail_at;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

/* ---- helpers ---- */

static char dir[] = "/tmp/mc-handler-test-XXXXXX";
static char primary_path[256], fallback_path[256], staging_path[256];

static void write_model(const char *path, struct mc_model *m)
{
	int fd;

	snprintf(staging_path, sizeof(staging_path), "%s/staging", dir);
	fd = open(staging_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	MC_CHECK(fd >= 0 && write(fd, m->bytes, m->n_bytes) == (ssize_t)m->n_bytes);
	close(fd);
	MC_CHECK(rename(staging_path, path) == 0); /* as a deployment would: atomically */
}

static void write_generated(const char *path, uint64_t seed, uint32_t version)
{
	struct mc_model *m;

	MC_CHECK(mc_model_generate(seed, version, 16, 32, 4, &m) == 0);
	write_model(path, m);
	mc_model_free(m);
}

/* A model whose weights no longer match the header's checksum. */
static void write_corrupt(const char *path, uint64_t seed, uint32_t version)
{
	struct mc_model *m;

	MC_CHECK(mc_model_generate(seed, version, 16, 32, 4, &m) == 0);
	m->bytes[100] ^= 0x40; /* a byte of the 10th weight */
	write_model(path, m);
	mc_model_free(m);
}

struct answer {
	int status;
	char text[4096];
	const char *body;
};

/* Run one request through the handler; the response text is copied into a. */
static void ask(struct mc_handler *h, const char *method, const char *path, const char *body,
                struct answer *a)
{
	struct mc_http_req req;
	struct mc_reply reply;
	char head[512];
	const char *bytes;
	size_t n;

	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nX-Request-Id: t-1\r\n\r\n", method, path);
	/* No MC_CHECK here: this runs on several threads at once, the counters are plain. */
	a->status = -1;
	a->text[0] = '\0';
	a->body = a->text;
	if (mc_http_parse_head(head, strlen(head), 65536, &req) != 0)
		return;
	mc_handle(h, &req, body, strlen(body), &reply);
	bytes = mc_reply_bytes(&reply, &n);
	a->status = reply.status;
	if (n >= sizeof(a->text))
		n = sizeof(a->text) - 1;
	memcpy(a->text, bytes, n);
	a->text[n] = '\0';
	a->body = strstr(a->text, "\r\n\r\n");
	a->body = a->body ? a->body + 4 : "";
	mc_reply_free(&reply);
}

static void features_body(uint64_t seed, float *x, char *body, size_t cap)
{
	uint64_t state = seed;
	size_t len = (size_t)snprintf(body, cap, "{\"id\":[1,{}],\"features\":[");

	for (int i = 0; i < 16; i++) {
		x[i] = mc_prng_float(&state, -1.0f, 1.0f);
		len +=
		    (size_t)snprintf(body + len, cap - len, "%s%.9g", i ? "," : "", (double)x[i]);
	}
	snprintf(body + len, cap - len, "]}");
}

static long json_int(const char *body, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(body, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* ---- the routes ---- */

static void test_routes(struct mc_handler *h, const struct mc_model *ref)
{
	float x[16], hid[32], logits[4];
	char body[1024];
	struct answer a;

	for (uint64_t s = 1; s <= 20; s++) {
		features_body(s, x, body, sizeof(body));
		ask(h, "POST", "/predict", body, &a);
		MC_CHECK(a.status == 200);
		MC_CHECK(json_int(a.body, "class") == mc_model_forward(ref, x, hid, logits));
		MC_CHECK(json_int(a.body, "model_version") == 1);
	}
	MC_CHECK(strstr(a.text, "\r\nX-Request-Id: t-1\r\n") != NULL);
	MC_CHECK(strstr(a.body, "\"fallback\":false") != NULL);
	ask(h, "GET", "/health", "", &a);
	MC_CHECK(a.status == 200 && strstr(a.body, "\"status\":\"ok\""));
	ask(h, "GET", "/model", "", &a);
	MC_CHECK(a.status == 200 && json_int(a.body, "version") == 1);
	MC_CHECK(strstr(a.body, "\"checksum_ok\":true") &&
	         strstr(a.body, "\"load_method\":\"read\""));
	ask(h, "GET", "/nowhere", "", &a);
	MC_CHECK(a.status == 404);
	ask(h, "GET", "/predict", "", &a);
	MC_CHECK(a.status == 405 && strstr(a.text, "\r\nAllow: POST\r\n"));
	ask(h, "DELETE", "/model", "", &a);
	MC_CHECK(a.status == 405 && strstr(a.text, "\r\nAllow: GET\r\n"));
	ask(h, "POST", "/predict", "{\"features\":[1,2,3]}", &a);
	MC_CHECK(a.status == 400 && strstr(a.body, "16 numbers"));
	ask(h, "POST", "/predict", "{\"features\":[1,2,", &a);
	MC_CHECK(a.status == 400);
	ask(h, "POST", "/predict", "{\"other\":1}", &a);
	MC_CHECK(a.status == 400 && strstr(a.body, "missing features"));
	ask(h, "POST", "/predict", "[]", &a);
	MC_CHECK(a.status == 400);
	ask(h, "POST", "/predict", "{\"features\":[1,2]} trailing", &a);
	MC_CHECK(a.status == 400);
	MC_CHECK(strstr(a.text, "\r\nX-Request-Id: t-1\r\n") != NULL);
}

/* ---- the fallback ---- */

static void test_fallback(void)
{
	struct mc_registry reg;
	struct mc_handler h = { &reg };
	char err[MC_MODEL_ERR_BYTES], body[1024];
	struct mc_model *bad;
	uint32_t old;
	struct answer a;
	float x[16];

	/* A primary whose output bias is +inf: every score is NaN, it cannot serve. */
	MC_CHECK(mc_model_generate(5, 2, 16, 32, 4, &bad) == 0);
	((float *)bad->b2)[1] = INFINITY;
	write_model(primary_path, bad);
	mc_model_free(bad);
	write_generated(fallback_path, 5, 1);
	MC_CHECK(mc_reg_init(&reg, primary_path, fallback_path, MC_LOAD_READ, false) == 0);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == 0);
	features_body(3, x, body, sizeof(body));
	ask(&h, "POST", "/predict", body, &a);
	MC_CHECK(a.status == 200 && strstr(a.body, "\"scores\":[null") != NULL);
	MC_CHECK(json_int(a.body, "model_version") == 2);
	MC_CHECK(mc_reg_load_fallback(&reg, err, sizeof(err)) == 0);
	ask(&h, "POST", "/predict", body, &a);
	MC_CHECK(a.status == 200 && strstr(a.body, "\"fallback\":true"));
	MC_CHECK(json_int(a.body, "model_version") == 1);
	ask(&h, "GET", "/model", "", &a);
	MC_CHECK(strstr(a.body, "\"fallback\":false") && strstr(a.body, "\"checksum_ok\":false"));
	mc_reg_destroy(&reg);

	/* A primary that does not load at all: the fallback serves from the start. */
	MC_CHECK(mc_reg_init(&reg, "/nonexistent/model.bin", fallback_path, MC_LOAD_MMAP, true) ==
	         0);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == -ENOENT);
	ask(&h, "GET", "/health", "", &a);
	MC_CHECK(a.status == 503);
	MC_CHECK(mc_reg_load_fallback(&reg, err, sizeof(err)) == 0);
	ask(&h, "GET", "/model", "", &a);
	MC_CHECK(a.status == 200 && strstr(a.body, "\"fallback\":true"));
	MC_CHECK(strstr(a.body, "\"reload_failures\":1") &&
	         strstr(a.body, "\"last_error\":\"cannot"));
	mc_reg_destroy(&reg);
}

/* ---- reloads while requests run ---- */

struct hammer {
	struct mc_handler *h;
	atomic_bool stop;
	atomic_uint answers, wrong;
};

static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;
	struct mc_model *ref;
	float x[16], hid[32], logits[4];
	char body[1024];
	struct answer a;
	uint64_t s = 1000;

	if (mc_model_generate(21, 1, 16, 32, 4, &ref) < 0)
		return NULL;
	while (!atomic_load(&hm->stop)) {
		features_body(s++, x, body, sizeof(body));
		ask(hm->h, "POST", "/predict", body, &a);
		atomic_fetch_add(&hm->answers, 1);
		if (a.status != 200 ||
		    json_int(a.body, "class") != mc_model_forward(ref, x, hid, logits))
			atomic_fetch_add(&hm->wrong, 1);
	}
	mc_model_free(ref);
	return NULL;
}

static void test_concurrent_reloads(void)
{
	struct mc_registry reg;
	struct mc_handler h = { &reg };
	struct hammer hm = { .h = &h };
	char err[MC_MODEL_ERR_BYTES];
	pthread_t th[3];
	uint32_t old = 0;
	unsigned failed = 0;

	write_generated(primary_path, 21, 1);
	MC_CHECK(mc_reg_init(&reg, primary_path, NULL, MC_LOAD_MMAP, true) == 0);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == 0);
	for (int t = 0; t < 3; t++)
		MC_CHECK(pthread_create(&th[t], NULL, hammer_main, &hm) == 0);
	/* Same seed, new versions: every answer must stay right across 200 swaps, and the
	 * models swapped out must be freed only once their last request is done. */
	for (uint32_t v = 2; v <= 201; v++) {
		write_generated(primary_path, 21, v);
		failed += mc_reg_load(&reg, &old, err, sizeof(err)) != 0;
		failed += old != v - 1;
	}
	atomic_store(&hm.stop, true);
	for (int t = 0; t < 3; t++)
		pthread_join(th[t], NULL);
	MC_CHECK_U64(failed, 0);
	MC_CHECK(atomic_load(&hm.answers) > 0);
	MC_CHECK_U64(atomic_load(&hm.wrong), 0);
	/* A corrupt update keeps version 201 serving. */
	write_corrupt(primary_path, 21, 202);
	MC_CHECK(mc_reg_changed(&reg) == true);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == -EBADMSG);
	MC_CHECK(mc_reg_changed(&reg) == false);
	MC_CHECK(old == 201 && reg.primary->model->version == 201);
	MC_CHECK(reg.reload_failures == 1 && reg.reloads == 200);
	mc_reg_destroy(&reg);
}

/* ---- torture: fail allocation N of a request, for every N ---- */

/* Returns how many allocations the request made when none failed. */
static unsigned torture(struct mc_handler *h, const char *method, const char *path,
                        const char *body)
{
	unsigned fails_seen = 0, n;
	struct answer a;

	for (n = 1; n < 100; n++) {
		alloc_calls = 0;
		alloc_fail_at = n;
		ask(h, method, path, body, &a);
		alloc_fail_at = 0;
		MC_CHECK(strncmp(a.text, "HTTP/1.1 ", 9) == 0);
		if (alloc_calls < n) { /* nothing failed: the request is done with allocations */
			MC_CHECK(a.status == 200);
			break;
		}
		MC_CHECK(a.status == 503);
		MC_CHECK(strstr(a.body, "out of memory") != NULL);
		MC_CHECK(strstr(a.text, "X-Request-Id: t-1\r\n") != NULL);
		fails_seen++;
	}
	MC_CHECK(n < 100 && fails_seen == n - 1);
	return fails_seen;
}

static void test_torture(void)
{
	struct mc_registry reg;
	struct mc_handler h = { &reg };
	char err[MC_MODEL_ERR_BYTES], body[1024];
	uint32_t old;
	float x[16];

	write_generated(primary_path, 8, 1);
	MC_CHECK(mc_reg_init(&reg, primary_path, NULL, MC_LOAD_READ, false) == 0);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == 0);
	features_body(1, x, body, sizeof(body));
	/* features, scores, activations, the body, the response: at least five. */
	MC_CHECK(torture(&h, "POST", "/predict", body) >= 5);
	MC_CHECK(torture(&h, "GET", "/model", "") >= 2);
	MC_CHECK(torture(&h, "GET", "/health", "") >= 2);
	mc_reg_destroy(&reg);
}

int main(void)
{
	struct mc_registry reg;
	struct mc_handler h = { &reg };
	char err[MC_MODEL_ERR_BYTES];
	struct mc_model *ref;
	uint32_t old;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(primary_path, sizeof(primary_path), "%s/model.bin", dir);
	snprintf(fallback_path, sizeof(fallback_path), "%s/fallback.bin", dir);
	MC_CHECK(mc_model_generate(12, 1, 16, 32, 4, &ref) == 0);
	write_model(primary_path, ref);
	MC_CHECK(mc_reg_init(&reg, primary_path, NULL, MC_LOAD_READ, true) == 0);
	MC_CHECK(mc_reg_load(&reg, &old, err, sizeof(err)) == 0);
	test_routes(&h, ref);
	mc_reg_destroy(&reg);
	mc_model_free(ref);
	test_fallback();
	test_concurrent_reloads();
	test_torture();
	unlink(primary_path);
	unlink(fallback_path);
	rmdir(dir);
	return mc_test_done("test_handler");
}
