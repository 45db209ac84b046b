/* tensorcat.c: mlchaos-tensorcat, the harness's own strict reader of safetensors and GGUF
 * files (its own parser, not the library's recognisers). It refuses a damaged header as a
 * strict loader would (unknown dtypes, offsets that do not tile the data, bad sizes) and prints
 * each tensor's name, type, shape, place, checksum and NaN/Inf counts, and its values on
 * request: a file whose tensor bytes were damaged still loads, and the damage shows. */
#include "json.h"
#include "tensorfile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define PROG        "mlchaos-tensorcat"
#define MAX_TENSORS 4096
#define MAX_DIMS    4
#define MAX_HEADER  (100u << 20)
#define MAX_NAME    256

struct tensor {
	char name[MAX_NAME + 1];
	enum mc_tt type;
	uint32_t n_dims;
	uint64_t dims[MAX_DIMS]; /* as the file lists them */
	uint64_t elements;
	uint64_t off, len; /* in the file */
};

struct model {
	const char *format;
	const uint8_t *p;
	uint64_t size;
	uint64_t header_bytes;
	struct tensor *t;
	uint32_t n;
	char err[512];
};

static int refuse(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rd_le(const uint8_t *p, int width)
{
	uint64_t v = 0;
	for (int i = width - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static struct tensor *new_tensor(struct model *m)
{
	if (m->n >= MAX_TENSORS) {
		refuse(m, "more than %d tensors", MAX_TENSORS);
		return NULL;
	}
	struct tensor *t = &m->t[m->n++];
	memset(t, 0, sizeof(*t));
	return t;
}

/* elements = product of dims, bytes from the type; false on overflow or a partial block. */
static bool size_tensor(struct tensor *t)
{
	t->elements = 1;
	for (uint32_t d = 0; d < t->n_dims; d++)
		if (__builtin_mul_overflow(t->elements, t->dims[d], &t->elements))
			return false;
	t->len = mc_tt_bytes(t->type, t->elements);
	return t->len > 0 || t->elements == 0;
}

/* ---- safetensors ---- */

static int st_uint(struct model *m, struct mc_json *j, uint64_t *ret)
{
	double d;
	if (mc_json_number(j, &d) < 0 || d < 0 || d > 9007199254740992.0 || d != floor(d))
		return refuse(m, "expected a non-negative integer at header byte %zu",
		              (size_t)(j->p - (const char *)m->p - 8));
	*ret = (uint64_t)d;
	return 0;
}

static int st_shape(struct model *m, struct mc_json *j, struct tensor *t)
{
	if (!mc_json_eat(j, '['))
		return refuse(m, "'%s': shape is not an array", t->name);
	if (mc_json_eat(j, ']'))
		return 0;
	do {
		if (t->n_dims >= MAX_DIMS)
			return refuse(m, "'%s': more than %d dimensions", t->name, MAX_DIMS);
		if (st_uint(m, j, &t->dims[t->n_dims++]) < 0)
			return -1;
	} while (mc_json_eat(j, ','));
	return mc_json_eat(j, ']') ? 0 : refuse(m, "'%s': shape is not closed", t->name);
}

static int st_field(struct model *m, struct mc_json *j, struct tensor *t, uint64_t *range,
                    unsigned *seen)
{
	const char *k, *v;
	size_t kn, vn;
	if (mc_json_string(j, &k, &kn) < 0 || !mc_json_eat(j, ':'))
		return refuse(m, "'%s': malformed entry", t->name);
	if (mc_json_key_is(k, kn, "dtype")) {
		if (mc_json_string(j, &v, &vn) < 0)
			return refuse(m, "'%s': dtype is not a string", t->name);
		for (t->type = 0; t->type < MC_TT_COUNT; t->type++)
			if (mc_tt[t->type].st_name && mc_json_key_is(v, vn, mc_tt[t->type].st_name))
				break;
		if (t->type == MC_TT_COUNT)
			return refuse(m, "'%s': unsupported dtype '%.*s'", t->name, (int)vn, v);
		*seen |= 1;
		return 0;
	}
	if (mc_json_key_is(k, kn, "shape")) {
		*seen |= 2;
		return st_shape(m, j, t);
	}
	if (mc_json_key_is(k, kn, "data_offsets")) {
		*seen |= 4;
		if (!mc_json_eat(j, '[') || st_uint(m, j, &range[0]) < 0 || !mc_json_eat(j, ',') ||
		    st_uint(m, j, &range[1]) < 0 || !mc_json_eat(j, ']'))
			return refuse(m, "'%s': data_offsets is not [begin, end]", t->name);
		return 0;
	}
	return refuse(m, "'%s': unknown field '%.*s'", t->name, (int)kn, k);
}

static int st_tensor(struct model *m, struct mc_json *j, const char *name, size_t name_len)
{
	struct tensor *t = new_tensor(m);
	uint64_t range[2] = { 0, 0 };
	unsigned seen = 0;
	if (!t)
		return -1;
	if (name_len > MAX_NAME)
		return refuse(m, "a tensor name of %zu bytes (at most %d)", name_len, MAX_NAME);
	memcpy(t->name, name, name_len);
	if (!mc_json_eat(j, '{'))
		return refuse(m, "'%s' is not an object", t->name);
	do {
		if (st_field(m, j, t, range, &seen) < 0)
			return -1;
	} while (mc_json_eat(j, ','));
	if (!mc_json_eat(j, '}') || seen != 7)
		return refuse(m, "'%s' needs exactly dtype, shape and data_offsets", t->name);
	if (!size_tensor(t) || range[1] < range[0] || range[1] - range[0] != t->len)
		return refuse(m,
		              "'%s': data_offsets [%" PRIu64 ", %" PRIu64 "] do not hold its shape",
		              t->name, range[0], range[1]);
	t->off = range[0]; /* relative to the data until st_check_tiling */
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct tensor *x = a, *y = b;
	return (x->off > y->off) - (x->off < y->off);
}

/* The tensors tile the data exactly: no gap, no overlap, nothing left over. */
static int st_check_tiling(struct model *m)
{
	uint64_t at = 0, data = m->header_bytes, room = m->size - data;
	qsort(m->t, m->n, sizeof(*m->t), by_offset);
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->t[i].off != at)
			return refuse(m, "'%s' starts at data byte %" PRIu64 ", expected %" PRIu64,
			              m->t[i].name, m->t[i].off, at);
		at += m->t[i].len;
		m->t[i].off += data;
	}
	if (at != room)
		return refuse(m, "the tensors hold %" PRIu64 " bytes, the data is %" PRIu64, at,
		              room);
	return 0;
}

static int st_metadata(struct model *m, struct mc_json *j)
{
	const char *s;
	size_t n;
	if (!mc_json_eat(j, '{'))
		return refuse(m, "__metadata__ is not an object");
	if (mc_json_eat(j, '}'))
		return 0;
	do {
		if (mc_json_string(j, &s, &n) < 0 || !mc_json_eat(j, ':') ||
		    mc_json_string(j, &s, &n) < 0)
			return refuse(m, "__metadata__ holds something other than strings");
	} while (mc_json_eat(j, ','));
	return mc_json_eat(j, '}') ? 0 : refuse(m, "__metadata__ is not closed");
}

static int load_safetensors(struct model *m)
{
	if (m->size < 8)
		return refuse(m, "shorter than the header length");
	uint64_t n = rd_le(m->p, 8);
	if (n > m->size - 8 || n > MAX_HEADER)
		return refuse(m, "header length %" PRIu64 " does not fit the file", n);
	m->header_bytes = 8 + n;
	struct mc_json j;
	mc_json_init(&j, (const char *)m->p + 8, (size_t)n);
	if (!mc_json_eat(&j, '{'))
		return refuse(m, "the header is not a JSON object");
	if (!mc_json_eat(&j, '}')) {
		do {
			const char *k;
			size_t kn;
			if (mc_json_string(&j, &k, &kn) < 0 || !mc_json_eat(&j, ':'))
				return refuse(m, "malformed header at byte %zu",
				              (size_t)(j.p - (const char *)m->p));
			int r = mc_json_key_is(k, kn, "__metadata__") ? st_metadata(m, &j)
			                                              : st_tensor(m, &j, k, kn);
			if (r < 0)
				return -1;
		} while (mc_json_eat(&j, ','));
		if (!mc_json_eat(&j, '}'))
			return refuse(m, "the header object is not closed");
	}
	if (!mc_json_at_end(&j))
		return refuse(m, "bytes after the header object");
	return st_check_tiling(m);
}

/* ---- GGUF ---- */

struct rd {
	struct model *m;
	uint64_t pos;
};

static int take(struct rd *r, uint64_t n, const uint8_t **ret)
{
	if (n > r->m->size - r->pos)
		return refuse(r->m, "truncated at byte %" PRIu64, r->pos);
	*ret = r->m->p + r->pos;
	r->pos += n;
	return 0;
}

static int take_le(struct rd *r, int width, uint64_t *ret)
{
	const uint8_t *p = NULL;
	if (take(r, (uint64_t)width, &p) < 0)
		return -1;
	*ret = rd_le(p, width);
	return 0;
}

static int take_string(struct rd *r, const uint8_t **ret, uint64_t *ret_len)
{
	return take_le(r, 8, ret_len) < 0 ? -1 : take(r, *ret_len, ret);
}

static const uint8_t gguf_value_bytes[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

static int gguf_value(struct rd *r, uint64_t type, int depth)
{
	const uint8_t *p = NULL;
	uint64_t n, elem;
	if (type > 12 || depth > 4)
		return refuse(r->m, "bad value type %" PRIu64 " at byte %" PRIu64, type, r->pos);
	if (type == 8)
		return take_string(r, &p, &n);
	if (type != 9)
		return take(r, gguf_value_bytes[type], &p);
	if (take_le(r, 4, &elem) < 0 || take_le(r, 8, &n) < 0)
		return -1;
	if (elem <= 12 && gguf_value_bytes[elem]) {
		if (n > (r->m->size - r->pos) / gguf_value_bytes[elem])
			return refuse(r->m, "array past the end at byte %" PRIu64, r->pos);
		return take(r, n * gguf_value_bytes[elem], &p);
	}
	for (uint64_t i = 0; i < n; i++)
		if (gguf_value(r, elem, depth + 1) < 0)
			return -1;
	return 0;
}

static int gguf_kv(struct rd *r, uint64_t *alignment)
{
	const uint8_t *key = NULL;
	uint64_t key_len, type, v;
	if (take_string(r, &key, &key_len) < 0 || take_le(r, 4, &type) < 0)
		return -1;
	if (key_len == 17 && memcmp(key, "general.alignment", 17) == 0) {
		if (type != 4 || take_le(r, 4, &v) < 0 || v == 0 || (v & (v - 1)))
			return refuse(r->m, "general.alignment is not a u32 power of two");
		*alignment = v;
		return 0;
	}
	return gguf_value(r, type, 0);
}

static int gguf_info(struct rd *r, struct tensor *t, uint64_t *rel)
{
	const uint8_t *name = NULL;
	uint64_t name_len, n_dims, type;
	if (take_string(r, &name, &name_len) < 0)
		return -1;
	if (name_len > MAX_NAME)
		return refuse(r->m, "a tensor name of %" PRIu64 " bytes", name_len);
	memcpy(t->name, name, (size_t)name_len);
	if (take_le(r, 4, &n_dims) < 0 || n_dims == 0 || n_dims > MAX_DIMS)
		return refuse(r->m, "'%s': bad dimension count", t->name);
	t->n_dims = (uint32_t)n_dims;
	for (uint32_t d = 0; d < t->n_dims; d++)
		if (take_le(r, 8, &t->dims[d]) < 0)
			return -1;
	if (take_le(r, 4, &type) < 0 || take_le(r, 8, rel) < 0)
		return -1;
	for (t->type = 0; t->type < MC_TT_COUNT; t->type++)
		if (mc_tt[t->type].ggml_type == type)
			break;
	if (t->type == MC_TT_COUNT)
		return refuse(r->m, "'%s': unsupported ggml type %" PRIu64, t->name, type);
	if (!size_tensor(t))
		return refuse(r->m, "'%s': bad shape for its type", t->name);
	return 0;
}

static int load_gguf(struct model *m)
{
	struct rd r = { m, 0 };
	const uint8_t *magic = NULL;
	uint64_t version, n_tensors, n_kv, alignment = 32;
	if (take(&r, 4, &magic) < 0 || memcmp(magic, "GGUF", 4) != 0)
		return refuse(m, "no GGUF magic");
	if (take_le(&r, 4, &version) < 0 || take_le(&r, 8, &n_tensors) < 0 ||
	    take_le(&r, 8, &n_kv) < 0)
		return -1;
	if (version != 2 && version != 3)
		return refuse(m, "GGUF version %" PRIu64 " (2 and 3 are read)", version);
	if (n_tensors > MAX_TENSORS)
		return refuse(m, "%" PRIu64 " tensors (at most %d)", n_tensors, MAX_TENSORS);
	for (uint64_t i = 0; i < n_kv; i++)
		if (gguf_kv(&r, &alignment) < 0)
			return -1;
	uint64_t rel[MAX_TENSORS];
	for (uint64_t i = 0; i < n_tensors; i++)
		if (!new_tensor(m) || gguf_info(&r, &m->t[i], &rel[i]) < 0)
			return -1;
	uint64_t data = (r.pos + alignment - 1) / alignment * alignment, expect = 0;
	m->header_bytes = data;
	/* As llama.cpp requires: each tensor where the previous one ends, aligned. */
	for (uint32_t i = 0; i < m->n; i++) {
		if (rel[i] != expect)
			return refuse(m, "'%s' at data offset %" PRIu64 ", expected %" PRIu64,
			              m->t[i].name, rel[i], expect);
		m->t[i].off = data + rel[i];
		expect = (rel[i] + m->t[i].len + alignment - 1) / alignment * alignment;
	}
	if (data > m->size || (m->n && m->t[m->n - 1].off + m->t[m->n - 1].len > m->size))
		return refuse(m, "the data is past the end of the file");
	return 0;
}

/* ---- output ---- */

struct out_opts {
	bool values, json;
	const char *only;
};

static void print_value(double v, bool json)
{
	if (isnan(v))
		printf(json ? "\"nan\"" : "nan");
	else if (isinf(v))
		printf(json ? "\"%sinf\"" : "%sinf", v < 0 ? "-" : "");
	else
		printf("%.9g", v);
}

static void print_tensor(const struct model *m, const struct tensor *t, const struct out_opts *o)
{
	const uint8_t *p = m->p + t->off;
	uint64_t nan = 0, inf = 0;
	for (uint64_t i = 0; i < t->elements; i++) {
		double v = mc_tt_value(t->type, p, i);
		nan += isnan(v) != 0;
		inf += isinf(v) != 0;
	}
	printf(o->json ? "{\"name\":\"%s\",\"dtype\":\"%s\",\"shape\":[" : "%s %s [", t->name,
	       mc_tt[t->type].name);
	for (uint32_t d = 0; d < t->n_dims; d++)
		printf("%s%" PRIu64, d ? "," : "", t->dims[d]);
	printf(o->json ? "],\"offset\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"xxh64\":\"%016" PRIx64
	                 "\",\"nan\":%" PRIu64 ",\"inf\":%" PRIu64
	               : "] offset %" PRIu64 " bytes %" PRIu64 " xxh64 %016" PRIx64 " nan %" PRIu64
	                 " inf %" PRIu64,
	       t->off, t->len, (uint64_t)XXH64(p, (size_t)t->len, 0), nan, inf);
	if (o->values) {
		printf(o->json ? ",\"values\":[" : "\n ");
		for (uint64_t i = 0; i < t->elements; i++) {
			printf(o->json ? (i ? "," : "") : " ");
			print_value(mc_tt_value(t->type, p, i), o->json);
		}
		printf(o->json ? "]" : "");
	}
	printf(o->json ? "}\n" : "\n");
}

/* ---- the file ---- */

/* The file's bytes, by read(2) or by mmap(2): the two ways a loader takes weights. */
static int map_file(const char *path, bool use_mmap, uint8_t **ret, uint64_t *ret_size)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	size_t n = (size_t)st.st_size, done = 0;
	uint8_t *p;
	if (use_mmap) {
		p = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
		if (p == MAP_FAILED)
			p = NULL;
		done = p ? n : 0;
	} else {
		p = malloc(n ? n : 1);
		while (p && done < n) {
			ssize_t k = read(fd, p + done, n - done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			done += (size_t)k;
		}
	}
	int e = errno;
	close(fd);
	if ((!p && n) || done != n) {
		if (p && !use_mmap)
			free(p);
		return -(e ? e : EIO);
	}
	*ret = p;
	*ret_size = n;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [--values] [--json] [--load read|mmap] FILE [TENSOR]\n"
	           "Load a safetensors or GGUF file strictly and print its tensors.\n"
	           "\n"
	           "  --values      print every element's value too (%%.9g; nan, inf, -inf)\n"
	           "  --json        one JSON object per tensor per line\n"
	           "  --load HOW    read(2) the whole file (default), or mmap(2) it\n"
	           "  TENSOR        print only the tensor of that name\n"
	           "\n"
	           "Each tensor: name, type, shape (as the file lists it), file offset, bytes,\n"
	           "xxh64 of its bytes, counts of NaN and Inf values.\n"
	           "Exit: 0 loaded, 1 refused (the reason on stderr) or unreadable, 2 usage.\n");
}

static int parse_args(int argc, char **argv, struct out_opts *o, bool *use_mmap, const char **path)
{
	static const struct option longs[] = {
		{ "values", no_argument, NULL, 'v' },       { "json", no_argument, NULL, 'j' },
		{ "load", required_argument, NULL, 'l' },   { "help", no_argument, NULL, 'h' },
		{ "version-info", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (c == 'v') {
			o->values = true;
		} else if (c == 'j') {
			o->json = true;
		} else if (c == 'l' && (!strcmp(optarg, "read") || !strcmp(optarg, "mmap"))) {
			*use_mmap = optarg[0] == 'm';
		} else if (c == 'h' || c == 'V') {
			c == 'h' ? usage(stdout) : (void)printf(PROG " %s\n", MC_VERSION);
			return 0;
		} else {
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	*path = argv[optind];
	o->only = argc - optind == 2 ? argv[optind + 1] : NULL;
	return -1;
}

int main(int argc, char **argv)
{
	struct out_opts o = { 0 };
	bool use_mmap = false;
	const char *path;
	int status = parse_args(argc, argv, &o, &use_mmap, &path);
	if (status >= 0)
		return status;
	struct model m = { 0 };
	uint8_t *bytes = NULL;
	int r = map_file(path, use_mmap, &bytes, &m.size);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-r));
		return 1;
	}
	m.p = bytes;
	m.t = calloc(MAX_TENSORS, sizeof(*m.t));
	bool gguf = m.size >= 4 && memcmp(m.p, "GGUF", 4) == 0;
	m.format = gguf ? "gguf" : "safetensors";
	if (!m.t)
		r = refuse(&m, "out of memory");
	else
		r = gguf ? load_gguf(&m) : load_safetensors(&m);
	uint32_t printed = 0;
	if (r == 0 && !o.json)
		printf("%s: %s, %" PRIu32 " tensors, header %" PRIu64 " bytes\n", path, m.format,
		       m.n, m.header_bytes);
	for (uint32_t i = 0; r == 0 && i < m.n; i++) {
		if (!o.only || strcmp(o.only, m.t[i].name) == 0) {
			print_tensor(&m, &m.t[i], &o);
			printed++;
		}
	}
	if (r < 0)
		fprintf(stderr, PROG ": %s: refused (%s): %s\n", path, m.format, m.err);
	else if (o.only && printed == 0)
		fprintf(stderr, PROG ": %s: no tensor named '%s'\n", path, o.only);
	free(m.t);
	if (use_mmap && m.size)
		munmap(bytes, m.size);
	else if (!use_mmap)
		free(bytes);
	return r < 0 || (o.only && printed == 0) ? 1 : 0;
}
