/* model.c: loading, parsing, generating and evaluating reference model files.
 * Never reads a byte the file did not provide and never writes to a model's bytes once parsed
 * (an mmap'ed model is PROT_READ); errors go to the caller's buffer, nothing is printed. */
#include "model.h"
#include "prng.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* The weights are used in place, as float32 little-endian: a big-endian host would need a
 * converting copy, which nothing here provides. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model files are little-endian");
_Static_assert(sizeof(float) == 4, "model files hold IEEE-754 binary32 weights");

#define OFF_MAGIC       0
#define OFF_FORMAT      8
#define OFF_HEADER_SIZE 12
#define OFF_VERSION     16
#define OFF_INPUTS      20
#define OFF_HIDDEN      24
#define OFF_CLASSES     28
#define OFF_WEIGHTS     32
#define OFF_CHECKSUM    40
#define OFF_SEED        48
#define OFF_HEADER_HASH 56

static void say(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

const char *mc_load_method_name(enum mc_load_method m)
{
	switch (m) {
	case MC_LOAD_READ:
		return "read";
	case MC_LOAD_PREAD:
		return "pread";
	case MC_LOAD_FREAD:
		return "fread";
	case MC_LOAD_MMAP:
		return "mmap";
	case MC_LOAD_NAIVE:
		return "read-naive";
	}
	return "?";
}

int mc_load_method_parse(const char *s, enum mc_load_method *ret)
{
	static const enum mc_load_method all[] = { MC_LOAD_READ, MC_LOAD_PREAD, MC_LOAD_FREAD,
		                                   MC_LOAD_MMAP };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, mc_load_method_name(all[i])) == 0) {
			*ret = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

uint64_t mc_model_weight_bytes(uint32_t inputs, uint32_t hidden, uint32_t classes)
{
	if (inputs < 1 || inputs > MC_MODEL_MAX_INPUTS || hidden < 1 ||
	    hidden > MC_MODEL_MAX_HIDDEN || classes < 2 || classes > MC_MODEL_MAX_CLASSES)
		return 0;
	return 4 * ((uint64_t)hidden * inputs + hidden + (uint64_t)classes * hidden + classes);
}

/* ---- how the bytes arrive ---- */

/* Room for at least one more byte, doubling, never past the file limit (+1 to see EOF). */
static int grow(uint8_t **buf, size_t *cap, size_t len)
{
	size_t ncap;
	uint8_t *p;

	if (len < *cap)
		return 0;
	if (*cap > MC_MODEL_MAX_FILE_BYTES)
		return -EFBIG;
	ncap = *cap * 2;
	if (ncap > (size_t)MC_MODEL_MAX_FILE_BYTES + 1)
		ncap = (size_t)MC_MODEL_MAX_FILE_BYTES + 1;
	p = realloc(*buf, ncap);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

/* A first capacity from fstat: one byte more than the size, so that the common case reads
 * to EOF without a realloc. The file may still grow or shrink while it is read. */
static int first_buffer(int fd, uint8_t **ret, size_t *ret_cap)
{
	struct stat st;
	size_t cap = 4096;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (off_t)MC_MODEL_MAX_FILE_BYTES)
		return -EFBIG;
	if ((size_t)st.st_size + 1 > cap)
		cap = (size_t)st.st_size + 1;
	*ret = malloc(cap);
	if (!*ret)
		return -ENOMEM;
	*ret_cap = cap;
	return 0;
}

/* read(2) or pread(2) until EOF. A short count is normal (pipes, signals, network file
 * systems, or an injected fault) and EINTR means "nothing happened, ask again". */
static int slurp_fd(int fd, bool positional, uint8_t **ret, size_t *ret_n)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;
	int r = first_buffer(fd, &buf, &cap);

	while (r == 0) {
		r = grow(&buf, &cap, len);
		if (r < 0)
			break;
		if (positional)
			n = pread(fd, buf + len, cap - len, (off_t)len);
		else
			n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			*ret = buf;
			*ret_n = len;
			return 0;
		}
		len += (size_t)n;
	}
	free(buf);
	return r;
}

/* stdio's fread loops over short reads itself but stops at EINTR with the error flag set:
 * clear it and go on. Takes fd over: it is closed on every path. */
static int slurp_stdio(int fd, uint8_t **ret, size_t *ret_n)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f;
	int r = first_buffer(fd, &buf, &cap);

	if (r == 0) {
		f = fdopen(fd, "rb");
		r = f ? 0 : -errno;
	}
	if (r < 0) {
		free(buf);
		close(fd);
		return r;
	}
	while (r == 0) {
		r = grow(&buf, &cap, len);
		if (r < 0)
			break;
		len += fread(buf + len, 1, cap - len, f);
		if (feof(f))
			break;
		if (ferror(f)) {
			if (errno != EINTR) {
				r = errno ? -errno : -EIO;
				break;
			}
			clearerr(f);
		}
	}
	fclose(f); /* closes fd too */
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_n = len;
	return 0;
}

static int map_fd(int fd, uint8_t **ret, size_t *ret_n)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (off_t)MC_MODEL_MAX_FILE_BYTES)
		return -EFBIG;
	if (st.st_size == 0) {
		/* mmap refuses a zero length; an empty file is simply too short. */
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	/* MAP_PRIVATE: the server's view never writes through to the file, and a file replaced by
	 * rename leaves this mapping intact. Rewriting the file in place under a mapping can
	 * still SIGBUS on truncation: replace model files by rename. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	*ret_n = (size_t)st.st_size;
	return 0;
}

/* The bug the short-reads scenario exposes, kept on purpose: one read(2) of st_size bytes,
 * its count ignored, as if a regular file always gave everything at once. Missing bytes stay
 * zero (calloc), so a short read turns into silently zeroed weights. */
static int slurp_naive(int fd, uint8_t **ret, size_t *ret_n)
{
	struct stat st;
	uint8_t *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (off_t)MC_MODEL_MAX_FILE_BYTES)
		return -EFBIG;
	buf = calloc(1, (size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	if (read(fd, buf, (size_t)st.st_size) < 0) {
		int r = -errno;

		free(buf);
		return r;
	}
	*ret = buf;
	*ret_n = (size_t)st.st_size;
	return 0;
}

static int fetch(int fd, enum mc_load_method method, struct mc_model *m)
{
	switch (method) {
	case MC_LOAD_READ:
		return slurp_fd(fd, false, &m->bytes, &m->n_bytes);
	case MC_LOAD_PREAD:
		return slurp_fd(fd, true, &m->bytes, &m->n_bytes);
	case MC_LOAD_FREAD:
		return slurp_stdio(fd, &m->bytes, &m->n_bytes);
	case MC_LOAD_MMAP:
		m->mapped = true;
		return map_fd(fd, &m->bytes, &m->n_bytes);
	case MC_LOAD_NAIVE:
		return slurp_naive(fd, &m->bytes, &m->n_bytes);
	}
	return -EINVAL;
}

int mc_model_load(const char *path, enum mc_load_method method, bool verify, struct mc_model **ret,
                  char *err, size_t err_size)
{
	struct mc_model *m = calloc(1, sizeof(*m));
	int fd, r;

	if (!m) {
		say(err, err_size, "out of memory");
		return -ENOMEM;
	}
	m->method = method;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		say(err, err_size, "cannot open: %s", strerror(-r));
		free(m);
		return r;
	}
	r = fetch(fd, method, m);
	if (method != MC_LOAD_FREAD)
		close(fd); /* slurp_stdio closes its own */
	if (r < 0) {
		say(err, err_size, "cannot %s: %s", mc_load_method_name(method), strerror(-r));
		m->bytes = NULL;
		mc_model_free(m);
		return r;
	}
	r = mc_model_parse(m, verify, err, err_size);
	if (r < 0) {
		mc_model_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* ---- the file image ---- */

static int parse_header(struct mc_model *m, char *err, size_t err_size)
{
	const uint8_t *h = m->bytes;
	uint64_t expect;

	if (m->n_bytes < MC_MODEL_HEADER_BYTES) {
		say(err, err_size, "too short: %zu bytes, the header alone is %u", m->n_bytes,
		    MC_MODEL_HEADER_BYTES);
		return -EBADMSG;
	}
	if (memcmp(h + OFF_MAGIC, MC_MODEL_MAGIC, 8) != 0) {
		say(err, err_size, "not a model file (bad magic)");
		return -EBADMSG;
	}
	if (XXH64(h, OFF_HEADER_HASH, 0) != get64(h + OFF_HEADER_HASH)) {
		say(err, err_size, "corrupt header (header checksum mismatch)");
		return -EBADMSG;
	}
	m->format_version = get32(h + OFF_FORMAT);
	if (m->format_version != MC_MODEL_FORMAT_VERSION ||
	    get32(h + OFF_HEADER_SIZE) != MC_MODEL_HEADER_BYTES) {
		say(err, err_size, "unsupported format version %u (this reads %u)",
		    m->format_version, MC_MODEL_FORMAT_VERSION);
		return -EBADMSG;
	}
	m->version = get32(h + OFF_VERSION);
	m->n_inputs = get32(h + OFF_INPUTS);
	m->n_hidden = get32(h + OFF_HIDDEN);
	m->n_classes = get32(h + OFF_CLASSES);
	m->weight_bytes = get64(h + OFF_WEIGHTS);
	m->checksum = get64(h + OFF_CHECKSUM);
	m->seed = get64(h + OFF_SEED);
	expect = mc_model_weight_bytes(m->n_inputs, m->n_hidden, m->n_classes);
	if (!expect || expect != m->weight_bytes) {
		say(err, err_size, "bad shape %u-%u-%u with %llu weight bytes", m->n_inputs,
		    m->n_hidden, m->n_classes, (unsigned long long)m->weight_bytes);
		return -EBADMSG;
	}
	return 0;
}

int mc_model_parse(struct mc_model *m, bool verify, char *err, size_t err_size)
{
	uint64_t want;
	const float *w;
	int r = parse_header(m, err, err_size);

	if (r < 0)
		return r;
	want = MC_MODEL_HEADER_BYTES + m->weight_bytes;
	if (m->n_bytes != want) {
		say(err, err_size, "%s: %zu bytes, the header says %llu",
		    m->n_bytes < want ? "truncated" : "trailing bytes", m->n_bytes,
		    (unsigned long long)want);
		return -EBADMSG;
	}
	m->checksum_actual = XXH64(m->bytes + MC_MODEL_HEADER_BYTES, m->weight_bytes, 0);
	if (verify && m->checksum_actual != m->checksum) {
		say(err, err_size, "weights checksum mismatch: header %016llx, weights %016llx",
		    (unsigned long long)m->checksum, (unsigned long long)m->checksum_actual);
		return -EBADMSG;
	}
	/* The header is 64 bytes and both malloc and mmap align to at least 16: in place is
	 * aligned for float. */
	w = (const float *)(const void *)(m->bytes + MC_MODEL_HEADER_BYTES);
	m->w1 = w;
	m->b1 = m->w1 + (size_t)m->n_hidden * m->n_inputs;
	m->w2 = m->b1 + m->n_hidden;
	m->b2 = m->w2 + (size_t)m->n_classes * m->n_hidden;
	return 0;
}

static void fill_header(uint8_t *h, uint32_t version, uint32_t inputs, uint32_t hidden,
                        uint32_t classes, uint64_t seed, uint64_t weight_bytes)
{
	memcpy(h + OFF_MAGIC, MC_MODEL_MAGIC, 8);
	put32(h + OFF_FORMAT, MC_MODEL_FORMAT_VERSION);
	put32(h + OFF_HEADER_SIZE, MC_MODEL_HEADER_BYTES);
	put32(h + OFF_VERSION, version);
	put32(h + OFF_INPUTS, inputs);
	put32(h + OFF_HIDDEN, hidden);
	put32(h + OFF_CLASSES, classes);
	put64(h + OFF_WEIGHTS, weight_bytes);
	put64(h + OFF_CHECKSUM, XXH64(h + MC_MODEL_HEADER_BYTES, weight_bytes, 0));
	put64(h + OFF_SEED, seed);
	put64(h + OFF_HEADER_HASH, XXH64(h, OFF_HEADER_HASH, 0));
}

int mc_model_generate(uint64_t seed, uint32_t version, uint32_t inputs, uint32_t hidden,
                      uint32_t classes, struct mc_model **ret)
{
	uint64_t weight_bytes = mc_model_weight_bytes(inputs, hidden, classes);
	uint64_t state = seed;
	struct mc_model *m;
	float *w;
	size_t n1, n2;

	if (!weight_bytes)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->n_bytes = MC_MODEL_HEADER_BYTES + weight_bytes;
	m->bytes = malloc(m->n_bytes);
	if (!m->bytes) {
		free(m);
		return -ENOMEM;
	}
	w = (float *)(void *)(m->bytes + MC_MODEL_HEADER_BYTES);
	n1 = (size_t)hidden * inputs;
	n2 = (size_t)classes * hidden;
	/* Weights in [-1, 1), biases small: every input and every hidden unit matters, so a
	 * weight knocked far off by a flipped exponent bit moves answers. */
	for (size_t i = 0; i < n1; i++)
		*w++ = mc_prng_float(&state, -1.0f, 1.0f);
	for (size_t i = 0; i < hidden; i++)
		*w++ = mc_prng_float(&state, -0.1f, 0.1f);
	for (size_t i = 0; i < n2; i++)
		*w++ = mc_prng_float(&state, -1.0f, 1.0f);
	for (size_t i = 0; i < classes; i++)
		*w++ = mc_prng_float(&state, -0.1f, 0.1f);
	fill_header(m->bytes, version, inputs, hidden, classes, seed, weight_bytes);
	if (mc_model_parse(m, true, NULL, 0) < 0) {
		mc_model_free(m);
		return -EINVAL;
	}
	*ret = m;
	return 0;
}

void mc_model_free(struct mc_model *m)
{
	if (!m)
		return;
	if (m->mapped && m->bytes)
		munmap(m->bytes, m->n_bytes);
	else
		free(m->bytes);
	free(m);
}

/* ---- evaluation ---- */

uint32_t mc_model_forward(const struct mc_model *m, const float *x, float *hidden, float *logits)
{
	uint32_t best = 0;

	for (uint32_t j = 0; j < m->n_hidden; j++) {
		const float *row = m->w1 + (size_t)j * m->n_inputs;
		float s = m->b1[j];

		for (uint32_t i = 0; i < m->n_inputs; i++)
			s += row[i] * x[i];
		hidden[j] = s > 0.0f ? s : 0.0f; /* NaN > 0 is false: NaN becomes 0 */
	}
	for (uint32_t k = 0; k < m->n_classes; k++) {
		const float *row = m->w2 + (size_t)k * m->n_hidden;
		float s = m->b2[k];

		for (uint32_t j = 0; j < m->n_hidden; j++)
			s += row[j] * hidden[j];
		logits[k] = s;
		/* NaN counts as -inf: it never beats a number and any number beats it, so a
		 * corrupt weight gives a wrong class rather than an undefined one. */
		if (k > 0 && (isnan(logits[best]) ? !isnan(s) : s > logits[best]))
			best = k;
	}
	return best;
}

static bool softmax(const float *logits, uint32_t n, float *scores)
{
	float top = logits[0], sum = 0.0f;
	bool finite = true;

	for (uint32_t k = 0; k < n; k++) {
		finite = finite && isfinite(logits[k]);
		if (logits[k] > top)
			top = logits[k];
	}
	for (uint32_t k = 0; k < n; k++) {
		scores[k] = expf(logits[k] - top);
		sum += scores[k];
	}
	for (uint32_t k = 0; k < n; k++) {
		scores[k] /= sum;
		finite = finite && isfinite(scores[k]);
	}
	return finite;
}

int mc_model_predict(const struct mc_model *m, const float *x, float *scores, uint32_t *ret_class)
{
	float *act = malloc(sizeof(float) * ((size_t)m->n_hidden + m->n_classes));
	bool finite;

	if (!act)
		return -ENOMEM;
	*ret_class = mc_model_forward(m, x, act, act + m->n_hidden);
	finite = softmax(act + m->n_hidden, m->n_classes, scores);
	free(act);
	return finite ? 0 : -ERANGE;
}
