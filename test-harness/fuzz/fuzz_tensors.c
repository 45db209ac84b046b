/* fuzz_tensors.c: see fuzz_tensors.h. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tensors.h"

#define FUZZ_MAX_FILE (1u << 20)

struct fz_file {
	const uint8_t *p;
	uint64_t size;
	bool outside;
};

static int64_t fz_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct fz_file *f = ctx;
	if (off > f->size || len > f->size - off) {
		f->outside = true;
		return -1;
	}
	memcpy(buf, f->p + off, len);
	return (int64_t)len;
}

struct fz_alloc {
	unsigned allocs, frees, fail_at;
	size_t largest;
};

static void *fz_alloc(void *ctx, size_t n)
{
	struct fz_alloc *a = ctx;
	if (a->fail_at && a->allocs + 1 == a->fail_at) {
		a->fail_at = 0;
		return NULL;
	}
	void *p = malloc(n);
	FZ_CHECK(p != NULL);
	a->allocs++;
	if (n > a->largest)
		a->largest = n;
	return p;
}

static void fz_free(void *ctx, void *p)
{
	struct fz_alloc *a = ctx;
	FZ_CHECK(p != NULL);
	a->frees++;
	free(p);
}

/* The dims are read (ASan sees a read outside the map) into something the compiler keeps. */
static volatile uint64_t fz_sink;

static void check_map(const struct mc_tensor_map *m, uint64_t size)
{
	FZ_CHECK(m->format != MC_TF_NONE &&
	         strcmp(mc_tensor_format_name((enum mc_tensor_format)m->format), "none") != 0);
	FZ_CHECK(m->file_size == size);
	FZ_CHECK(m->n <= MC_TENSOR_MAX);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct mc_tensor *t = &m->t[i];
		FZ_CHECK(t->len > 0 && t->off <= size && t->len <= size - t->off);
		FZ_CHECK(i + 1 == m->n || t->off + t->len <= m->t[i + 1].off);
		FZ_CHECK(mc_dtype_name((enum mc_dtype)t->dtype) != NULL && t->big_endian <= 1);
		/* a shape: its dims read in place, before the name, inside names */
		const uint64_t *dims;
		int ndim = mc_tensor_shape(m, i, &dims);
		FZ_CHECK(ndim == -1 || (ndim <= (int)MC_TENSOR_DIMS_MAX && t->name % 8 == 0 &&
		                        t->name >= (uint32_t)ndim * 8u));
		for (int d = 0; d < ndim; d++)
			fz_sink ^= dims[d];
		FZ_CHECK(strlen(m->names + t->name) <= MC_TENSOR_NAME_MAX);
		FZ_CHECK(mc_tensor_at_or_after(m, t->off) == i);
		FZ_CHECK(mc_tensor_at_or_after(m, t->off + t->len - 1) == i);
		FZ_CHECK(mc_tensor_at_or_after(m, t->off + t->len) > i);
	}
	FZ_CHECK(mc_tensor_at_or_after(m, size) == m->n);
}

struct fz_answer {
	int r;
	uint32_t format, n;
	uint64_t first_off, last_end;
	char why[160];
};

static void run(const uint8_t *file, size_t n, unsigned fail_at, struct fz_answer *ret)
{
	struct fz_file f = { file, n, false };
	struct fz_alloc count = { 0, 0, fail_at, 0 };
	struct mc_tensor_src src = { fz_read_at, &f, n };
	struct mc_tensor_alloc a = { fz_alloc, fz_free, &count };
	struct mc_tensor_map *map = NULL;
	memset(ret, 0, sizeof(*ret));
	memset(ret->why, 'x', sizeof(ret->why));
	ret->r = mc_tensor_recognize(&src, &a, &map, ret->why, sizeof(ret->why));
	FZ_CHECK(!f.outside);
	FZ_CHECK(ret->r == 1 || ret->r == 0 || ret->r == -1);
	FZ_CHECK((ret->r == 1) == (map != NULL));
	FZ_CHECK(memchr(ret->why, '\0', sizeof(ret->why)) != NULL);
	FZ_CHECK(strchr(ret->why, '\n') == NULL);
	FZ_CHECK((ret->r == -1) == (ret->why[0] != '\0'));
	if (ret->r == -1) { /* the format, then what is wrong (the library logs the format) */
		bool named = false;
		for (unsigned k = MC_TF_SAFETENSORS;; k++) {
			const char *name = mc_tensor_format_name((enum mc_tensor_format)k);
			if (strcmp(name, "none") == 0)
				break;
			size_t len = strlen(name);
			named |= strncmp(ret->why, name, len) == 0 && ret->why[len] == ':';
		}
		FZ_CHECK(named);
	}
	/* Nothing sized by a count from the file: allocations stay in proportion to it (the
	 * pickle walker keeps up to one 48-byte value a byte, in its stack and its memo). */
	FZ_CHECK(count.largest <= (64u << 10) + 64 * (size_t)n);
	if (map) {
		check_map(map, n);
		ret->format = map->format;
		ret->n = map->n;
		ret->first_off = map->n ? map->t[0].off : 0;
		ret->last_end = map->n ? map->t[map->n - 1].off + map->t[map->n - 1].len : 0;
		mc_tensor_map_free(map, &a);
	}
	FZ_CHECK(count.allocs == count.frees);
}

void fuzz_tensor_file(const uint8_t *data, size_t size, const char *magic, size_t magic_len,
                      enum mc_tensor_format want)
{
	if (size == 0 || size > FUZZ_MAX_FILE)
		return;
	unsigned fail_at = data[size - 1] < 32 ? data[size - 1] : 0;
	size_t n = magic_len + size - 1;
	/* An exact-size copy: ASan sees any access past the file. */
	uint8_t *file = malloc(n ? n : 1);
	FZ_CHECK(file != NULL);
	memcpy(file, magic, magic_len);
	memcpy(file + magic_len, data, size - 1);

	struct fz_answer a, b;
	run(file, n, fail_at, &a);
	/* Behind a magic, the format is the magic's (a pickle's may turn out to be joblib's). */
	FZ_CHECK(a.r != 1 || magic_len == 0 || a.format == want ||
	         (want == MC_TF_PICKLE && a.format == MC_TF_JOBLIB));
	if (fail_at == 0) {
		run(file, n, 0, &b);
		FZ_CHECK(a.r == b.r && a.n == b.n && a.first_off == b.first_off &&
		         a.last_end == b.last_end && strcmp(a.why, b.why) == 0);
	} else if (a.r == -1 && strstr(a.why, "out of memory")) {
		/* Whatever the answer without the failure (a zip may turn out not to be a
		 * checkpoint once its central directory could be read), it keeps the contract. */
		run(file, n, 0, &b);
	}
	free(file);
}
