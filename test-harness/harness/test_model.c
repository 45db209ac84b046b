/* test_model.c: the model file format, the five loaders, the JSON reader, the HTTP head parser
 * and the bounded buffer, without a server. Each check prints FILE:LINE when it fails; never
 * touches files outside its own temporary directory. */
#include "buf.h"
#include "http.h"
#include "json.h"
#include "mc_test.h"
#include "model.h"
#include "prng.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/mc-model-test-XXXXXX";

static const char *path_in_dir(const char *name)
{
	static char p[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	MC_CHECK(fd >= 0);
	MC_CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

/* Inputs from a fixed stream: the same in every run. */
static void input(uint64_t *state, float *x, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		x[i] = mc_prng_float(state, -1.0f, 1.0f);
}

/* How many of 500 inputs get a different class from a and b. */
static unsigned disagreements(const struct mc_model *a, const struct mc_model *b)
{
	float x[16], h[64], l[8];
	uint64_t state = 99;
	unsigned n = 0;

	for (int t = 0; t < 500; t++) {
		input(&state, x, 16);
		n += mc_model_forward(a, x, h, l) != mc_model_forward(b, x, h, l);
	}
	return n;
}

static void test_generate(void)
{
	struct mc_model *a, *b, *c;

	MC_CHECK(mc_model_generate(7, 1, 16, 32, 4, &a) == 0);
	MC_CHECK(mc_model_generate(7, 1, 16, 32, 4, &b) == 0);
	MC_CHECK(mc_model_generate(7, 9, 16, 32, 4, &c) == 0);
	MC_CHECK_U64(a->n_bytes, 64 + 4 * (16 * 32 + 32 + 32 * 4 + 4));
	MC_CHECK(memcmp(a->bytes, b->bytes, a->n_bytes) == 0);
	/* The version changes the header only: the same answers, the same weights checksum. */
	MC_CHECK_U64(c->version, 9);
	MC_CHECK(memcmp(a->bytes + 64, c->bytes + 64, a->n_bytes - 64) == 0);
	MC_CHECK(memcmp(a->bytes, c->bytes, 64) != 0);
	MC_CHECK_U64(a->checksum, c->checksum);
	MC_CHECK_U64(a->checksum, a->checksum_actual);
	mc_model_free(c);
	MC_CHECK(mc_model_generate(7, 1, 0, 32, 4, &c) == -EINVAL);
	MC_CHECK(mc_model_generate(7, 1, 16, 32, 1, &c) == -EINVAL);
	mc_model_free(a);
	mc_model_free(b);
}

static void test_methods(const struct mc_model *ref)
{
	static const enum mc_load_method all[] = { MC_LOAD_READ, MC_LOAD_PREAD, MC_LOAD_FREAD,
		                                   MC_LOAD_MMAP, MC_LOAD_NAIVE };
	const char *path = path_in_dir("good.bin");
	char err[MC_MODEL_ERR_BYTES];
	struct mc_model *m;

	write_bytes(path, ref->bytes, ref->n_bytes);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		m = NULL;
		MC_CHECK(mc_model_load(path, all[i], true, &m, err, sizeof(err)) == 0);
		if (!m)
			continue;
		MC_CHECK_U64(m->n_bytes, ref->n_bytes);
		MC_CHECK(memcmp(m->bytes, ref->bytes, ref->n_bytes) == 0);
		MC_CHECK_U64(m->checksum_actual, ref->checksum);
		MC_CHECK(m->mapped == (all[i] == MC_LOAD_MMAP));
		MC_CHECK(disagreements(m, ref) == 0);
		mc_model_free(m);
	}
	MC_CHECK(mc_model_load(path_in_dir("missing.bin"), MC_LOAD_READ, false, &m, err,
	                       sizeof(err)) == -ENOENT);
	MC_CHECK(strstr(err, "cannot open") != NULL);
}

/* Every bit of the header matters: a flip anywhere is a bad file, even without --verify. */
static void test_header_flips(const struct mc_model *ref)
{
	const char *path = path_in_dir("flip.bin");
	char err[MC_MODEL_ERR_BYTES];
	uint8_t *copy = malloc(ref->n_bytes);
	struct mc_model *m = NULL;
	unsigned refused = 0;

	for (unsigned bit = 0; bit < 64 * 8; bit += 3) {
		memcpy(copy, ref->bytes, ref->n_bytes);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		write_bytes(path, copy, ref->n_bytes);
		refused +=
		    mc_model_load(path, MC_LOAD_READ, false, &m, err, sizeof(err)) == -EBADMSG;
	}
	MC_CHECK_U64(refused, (64 * 8 + 2) / 3);
	free(copy);
}

static void test_weight_flips(const struct mc_model *ref)
{
	const char *path = path_in_dir("weights.bin");
	char err[MC_MODEL_ERR_BYTES];
	uint8_t *copy = malloc(ref->n_bytes);
	struct mc_model *m = NULL;

	/* Bit 30 of a float is the top exponent bit: a weight in (-1, 1) becomes ~1e38. */
	memcpy(copy, ref->bytes, ref->n_bytes);
	for (unsigned w = 5; w < 676; w += 230) /* 676 weights in 16-32-4 */
		copy[64 + 4 * w + 3] ^= 0x40;
	write_bytes(path, copy, ref->n_bytes);
	MC_CHECK(mc_model_load(path, MC_LOAD_MMAP, false, &m, err, sizeof(err)) == 0);
	if (m) {
		MC_CHECK(m->checksum_actual != m->checksum);
		MC_CHECK(disagreements(m, ref) > 50);
		mc_model_free(m);
	}
	MC_CHECK(mc_model_load(path, MC_LOAD_READ, true, &m, err, sizeof(err)) == -EBADMSG);
	MC_CHECK(strstr(err, "checksum mismatch") != NULL);
	free(copy);
}

static void test_sizes(const struct mc_model *ref)
{
	const char *path = path_in_dir("short.bin");
	char err[MC_MODEL_ERR_BYTES];
	struct mc_model *m = NULL;
	uint8_t *longer = calloc(1, ref->n_bytes + 1);

	write_bytes(path, ref->bytes, ref->n_bytes - 1);
	MC_CHECK(mc_model_load(path, MC_LOAD_PREAD, false, &m, err, sizeof(err)) == -EBADMSG);
	MC_CHECK(strstr(err, "truncated") != NULL);
	memcpy(longer, ref->bytes, ref->n_bytes);
	write_bytes(path, longer, ref->n_bytes + 1);
	MC_CHECK(mc_model_load(path, MC_LOAD_FREAD, false, &m, err, sizeof(err)) == -EBADMSG);
	MC_CHECK(strstr(err, "trailing") != NULL);
	write_bytes(path, "", 0);
	MC_CHECK(mc_model_load(path, MC_LOAD_MMAP, false, &m, err, sizeof(err)) == -EBADMSG);
	MC_CHECK(mc_model_load(path, MC_LOAD_READ, false, &m, err, sizeof(err)) == -EBADMSG);
	write_bytes(path, "MLCMODE", 7);
	MC_CHECK(mc_model_load(path, MC_LOAD_NAIVE, false, &m, err, sizeof(err)) == -EBADMSG);
	free(longer);
}

/* A pipe hands the bytes over in pieces: the looping loaders must put them back together,
 * the naive one must not get a model out of it. */
static int load_from_pipe(const struct mc_model *ref, enum mc_load_method method)
{
	char err[MC_MODEL_ERR_BYTES], path[64];
	struct mc_model *m = NULL;
	int fds[2], r, status;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t off = 0; off < ref->n_bytes; off += 100) {
			size_t n = ref->n_bytes - off < 100 ? ref->n_bytes - off : 100;

			if (write(fds[1], ref->bytes + off, n) != (ssize_t)n)
				_exit(1);
			usleep(500);
		}
		_exit(0);
	}
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	r = mc_model_load(path, method, true, &m, err, sizeof(err));
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (r == 0) {
		r = disagreements(m, ref) == 0 ? 0 : -EIO;
		mc_model_free(m);
	}
	return r;
}

static void test_short_reads(const struct mc_model *ref)
{
	MC_CHECK(load_from_pipe(ref, MC_LOAD_READ) == 0);
	MC_CHECK(load_from_pipe(ref, MC_LOAD_FREAD) == 0);
	MC_CHECK(load_from_pipe(ref, MC_LOAD_NAIVE) == -EBADMSG);
	MC_CHECK(load_from_pipe(ref, MC_LOAD_PREAD) == -ESPIPE);
}

static void test_not_finite(void)
{
	struct mc_model *m;
	float x[16] = { 0 }, scores[4];
	uint32_t cls = 99;

	MC_CHECK(mc_model_generate(3, 1, 16, 32, 4, &m) == 0);
	MC_CHECK(mc_model_predict(m, x, scores, &cls) == 0);
	/* A NaN logit never wins: class 0 cannot be the answer once its bias is NaN. */
	((float *)m->b2)[0] = NAN;
	MC_CHECK(mc_model_predict(m, x, scores, &cls) == -ERANGE);
	MC_CHECK(cls != 0 && cls < 4);
	mc_model_free(m);
}

static void test_json(void)
{
	const char *bad[] = { "[01]",   "[1.]", "[.5]", "[+1]",  "[1e]",    "[nan]", "[inf]",
		              "[0x10]", "[1,]", "[,1]", "[1 2]", "[\"1\"]", "1",     "[" };
	struct mc_json j;
	float f[4];
	size_t n = 0;
	char deep[200];
	const char *s;

	mc_json_init(&j, " [ -1.5e1 , 0, 2.25E-1 ] ", 25);
	MC_CHECK(mc_json_floats(&j, f, 4, &n) == 0);
	MC_CHECK_U64(n, 3);
	MC_CHECK(f[0] == -15.0f && f[1] == 0.0f && f[2] == 0.225f);
	MC_CHECK(mc_json_at_end(&j));
	mc_json_init(&j, "[1,2,3,4,5]", 11);
	MC_CHECK(mc_json_floats(&j, f, 4, &n) == -E2BIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mc_json_init(&j, bad[i], strlen(bad[i]));
		MC_CHECK(mc_json_floats(&j, f, 4, &n) == -EINVAL);
	}
	memset(deep, '[', sizeof(deep));
	mc_json_init(&j, deep, sizeof(deep));
	MC_CHECK(mc_json_skip(&j) == -EINVAL);
	s = "{\"a\":[true,false,null,{\"b\":\"\\u00e9\\n\"}],\"c\":-0}";
	mc_json_init(&j, s, strlen(s));
	MC_CHECK(mc_json_skip(&j) == 0 && mc_json_at_end(&j));
	mc_json_init(&j, "\"ab\\q\"", 6);
	MC_CHECK(mc_json_string(&j, &s, &n) == -EINVAL);
	mc_json_init(&j, "\"abc", 4);
	MC_CHECK(mc_json_string(&j, &s, &n) == -EINVAL);
	/* The reader stops at its end even when the bytes after it would continue the number. */
	mc_json_init(&j, "[12345]", 3);
	MC_CHECK(mc_json_floats(&j, f, 4, &n) == -EINVAL);
}

static int parse(const char *head, struct mc_http_req *req)
{
	size_t n = strlen(head);

	return mc_http_head_end(head, n) == n ? mc_http_parse_head(head, n, 1000, req) : -1;
}

static void test_http(void)
{
	struct mc_http_req req;
	char id[200];

	MC_CHECK(mc_http_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25) == 0);
	MC_CHECK(parse("POST /predict?x=1 HTTP/1.1\r\ncontent-LENGTH: 12\r\n"
	               "X-Request-Id:  abc-1 \r\n\r\n",
	               &req) == 0);
	MC_CHECK(mc_http_is(&req, "POST", "/predict"));
	MC_CHECK_U64(req.content_length, 12);
	MC_CHECK_STR(req.request_id, "abc-1");
	MC_CHECK(req.keep_alive);
	MC_CHECK(parse("GET /model HTTP/1.0\n\n", &req) == 0 && !req.keep_alive);
	MC_CHECK(parse("GET /model HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) == 0 &&
	         req.keep_alive);
	MC_CHECK(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &req) == 0 &&
	         !req.keep_alive);
	MC_CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", &req) == 413);
	MC_CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	               &req) == 413);
	MC_CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &req) ==
	         400);
	MC_CHECK(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &req) == 400);
	MC_CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req) == 501);
	MC_CHECK(parse("GET / HTTP/2.0\r\n\r\n", &req) == 505);
	MC_CHECK(parse("GET / FTP/1.1\r\n\r\n", &req) == 400);
	MC_CHECK(parse("GET /\r\n\r\n", &req) == 400);
	MC_CHECK(parse("GET x HTTP/1.1\r\n\r\n", &req) == 400);
	MC_CHECK(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &req) == 400);
	MC_CHECK(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &req) == 400);
	MC_CHECK(parse("GET / HTTP/1.1\r\nX-Request-Id: a\x01z\r\n\r\n", &req) == 400);
	snprintf(id, sizeof(id), "GET / HTTP/1.1\r\nX-Request-Id: %0129d\r\n\r\n", 0);
	MC_CHECK(parse(id, &req) == 431);
	MC_CHECK(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &req) == 0 &&
	         req.expect_continue);
}

static void test_buf(void)
{
	struct mc_buf b;
	char big[100];

	mc_buf_init(&b, 10);
	MC_CHECK(mc_buf_adds(&b, "0123456789") == 0);
	MC_CHECK(mc_buf_add(&b, "x", 1) == -E2BIG);
	MC_CHECK_STR(b.data, "0123456789");
	mc_buf_free(&b);
	mc_buf_init(&b, 1000);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 5; i++)
		MC_CHECK(mc_buf_printf(&b, "%s", big) == 0);
	MC_CHECK_U64(b.len, 495);
	mc_buf_free(&b);
	mc_buf_init(&b, 100);
	MC_CHECK(mc_buf_json_str(&b, "a\"b\\c\n\x01") == 0);
	MC_CHECK_STR(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	MC_CHECK(mc_buf_json_float(&b, NAN, 6) == 0);
	MC_CHECK(strstr(b.data, "null") != NULL);
	mc_buf_free(&b);
}

int main(void)
{
	struct mc_model *ref;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	MC_CHECK(mc_model_generate(11, 4, 16, 32, 4, &ref) == 0);
	test_generate();
	test_methods(ref);
	test_header_flips(ref);
	test_weight_flips(ref);
	test_sizes(ref);
	test_short_reads(ref);
	test_not_finite();
	test_json();
	test_http();
	test_buf();
	mc_model_free(ref);
	for (const char *const *n =
	         (const char *const[]){ "good.bin", "flip.bin", "weights.bin", "short.bin", NULL };
	     *n; n++)
		unlink(path_in_dir(*n));
	rmdir(dir);
	return mc_test_done("test_model");
}
