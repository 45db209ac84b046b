/* formats_util.h: what the recogniser tests share: files built byte by byte in memory, a
 * source that flags any read outside the file, an allocator that counts and fails on demand,
 * and checks of a map entry by entry. Header-only, one test program per format. */
#ifndef MC_FORMATS_UTIL_H
#define MC_FORMATS_UTIL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mc_test.h"
#include "tensors.h"

/* ---- a file in memory ---- */

struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static inline void put(struct bytes *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, data, n);
	b->n += n;
}

static inline void put_u8(struct bytes *b, uint8_t v)
{
	put(b, &v, 1);
}

static inline void put_le(struct bytes *b, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		put_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void put_u16(struct bytes *b, uint16_t v)
{
	put_le(b, v, 2);
}

static inline void put_u32(struct bytes *b, uint32_t v)
{
	put_le(b, v, 4);
}

static inline void put_u64(struct bytes *b, uint64_t v)
{
	put_le(b, v, 8);
}

static inline void put_str(struct bytes *b, const char *s)
{
	put(b, s, strlen(s));
}

/* n bytes of value v (tensor data). */
static inline void put_fill(struct bytes *b, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u8(b, v);
}

static inline void pad_to(struct bytes *b, size_t align, uint8_t v)
{
	while (b->n % align)
		put_u8(b, v);
}

static inline void set_le(struct bytes *b, size_t at, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static inline void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- the source and the allocator ---- */

/* A file of size bytes: the first n are p, the rest zeros (a large file without its memory). */
struct mem_file {
	const uint8_t *p;
	uint64_t n, size;
	bool read_outside; /* a read asked for bytes past the end */
	unsigned reads;
};

static inline int64_t mem_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct mem_file *f = ctx;
	f->reads++;
	if (off > f->size || len > f->size - off) {
		f->read_outside = true;
		if (off >= f->size)
			return 0;
		len = (size_t)(f->size - off);
	}
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = off + i < f->n ? f->p[off + i] : 0;
	return (int64_t)len;
}

struct counting_alloc {
	unsigned allocs, frees;
	unsigned fail_at; /* the allocation that fails (1-based); 0: none */
	size_t largest;
};

static inline void *counting_alloc(void *ctx, size_t n)
{
	struct counting_alloc *c = ctx;
	if (c->fail_at && c->allocs + 1 == c->fail_at) {
		c->fail_at = 0;
		return NULL;
	}
	void *p = malloc(n);
	if (p) {
		c->allocs++;
		if (n > c->largest)
			c->largest = n;
	}
	return p;
}

static inline void counting_free(void *ctx, void *p)
{
	struct counting_alloc *c = ctx;
	c->frees++;
	free(p);
}

/* One recognition of b; the map (or NULL) in *ret_map, to be freed with map_free(). */
struct recog {
	int r;
	char why[256];
	struct mc_tensor_map *map;
	struct mc_tensor_alloc a;
	struct counting_alloc count;
	struct mem_file file;
};

static inline void recognize_sized(struct recog *g, const uint8_t *p, size_t n, uint64_t size,
                                   unsigned fail_at)
{
	memset(g, 0, sizeof(*g));
	g->file = (struct mem_file){ p, n, size, false, 0 };
	g->count.fail_at = fail_at;
	g->a = (struct mc_tensor_alloc){ counting_alloc, counting_free, &g->count };
	struct mc_tensor_src src = { mem_read_at, &g->file, size };
	memset(g->why, 'x', sizeof(g->why));
	g->r = mc_tensor_recognize(&src, &g->a, &g->map, g->why, sizeof(g->why));
}

static inline void recognize_n(struct recog *g, const uint8_t *p, size_t n, unsigned fail_at)
{
	recognize_sized(g, p, n, n, fail_at);
}

/* What every map promises: sorted, disjoint, non-empty, inside the file, names in range. */
static inline bool map_invariants_hold(const struct mc_tensor_map *m, uint64_t size)
{
	if (m->file_size != size)
		return false;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct mc_tensor *t = &m->t[i];
		if (t->len == 0 || t->off > size || t->len > size - t->off)
			return false;
		if (i + 1 < m->n && t->off + t->len > m->t[i + 1].off)
			return false;
		if (!mc_dtype_name((enum mc_dtype)t->dtype) ||
		    strlen(m->names + t->name) > MC_TENSOR_NAME_MAX)
			return false;
		/* a shape's dims lie inside names, 8-aligned, before the name */
		if (t->ndim != MC_TENSOR_NO_SHAPE &&
		    (t->ndim > MC_TENSOR_DIMS_MAX || t->name % 8 != 0 ||
		     t->name < (uint32_t)t->ndim * 8u))
			return false;
	}
	return true;
}

static inline void recognize(struct recog *g, const struct bytes *b)
{
	recognize_n(g, b->p, b->n, 0);
}

static inline void recog_done(struct recog *g)
{
	mc_tensor_map_free(g->map, &g->a);
	g->map = NULL;
}

/* The contract of every answer: a map only on 1, a one-line why only on -1, no read outside
 * the file, and (once the map is freed) every allocation freed. */
#define CHECK_CONTRACT(g)                                                                   \
	do {                                                                                \
		MC_CHECK(!(g)->file.read_outside);                                          \
		MC_CHECK(((g)->r == 1) == ((g)->map != NULL));                              \
		MC_CHECK((g)->r != -1 || ((g)->why[0] != '\0' && !strchr((g)->why, '\n'))); \
		MC_CHECK((g)->r == -1 || (g)->why[0] == '\0');                              \
		MC_CHECK(memchr((g)->why, '\0', sizeof((g)->why)) != NULL);                 \
		MC_CHECK(!(g)->map || map_invariants_hold((g)->map, (g)->file.size));       \
	} while (0)

/* Expects -1 with a message that contains want. */
#define CHECK_REJECTS(b, want)                                                                   \
	do {                                                                                     \
		struct recog g_;                                                                 \
		recognize(&g_, (b));                                                             \
		CHECK_CONTRACT(&g_);                                                             \
		MC_CHECK_U64(g_.r, (uint64_t)-1);                                                \
		if (!strstr(g_.why, (want))) {                                                   \
			fprintf(stderr, "%s:%d: why is \"%s\", expected it to contain \"%s\"\n", \
			        __FILE__, __LINE__, g_.why, (want));                             \
			mc_test_failures++;                                                      \
		}                                                                                \
		recog_done(&g_);                                                                 \
		MC_CHECK_U64(g_.count.allocs, g_.count.frees);                                   \
	} while (0)

/* Expects tensor i of the map to be exactly this. */
#define CHECK_TENSOR(map, i, want_off, want_len, want_name, want_dtype)             \
	do {                                                                        \
		MC_CHECK((i) < (map)->n);                                           \
		if ((i) < (map)->n) {                                               \
			MC_CHECK_U64((map)->t[i].off, (want_off));                  \
			MC_CHECK_U64((map)->t[i].len, (want_len));                  \
			MC_CHECK_STR((map)->names + (map)->t[i].name, (want_name)); \
			MC_CHECK_U64((map)->t[i].dtype, (want_dtype));              \
		}                                                                   \
	} while (0)

/* Expects tensor i's shape to be want_ndim dims, the arguments after it (-1: no shape;
 * give at least one dim argument, 0 when there are none). */
#define CHECK_SHAPE(map, i, want_ndim, ...)                                                    \
	do {                                                                                   \
		const uint64_t want_[] = { 0, __VA_ARGS__ };                                   \
		const uint64_t *dims_;                                                         \
		MC_CHECK((i) < (map)->n);                                                      \
		if ((i) < (map)->n) {                                                          \
			int got_ = mc_tensor_shape((map), (i), &dims_);                        \
			MC_CHECK_U64((uint64_t)(int64_t)got_, (uint64_t)(int64_t)(want_ndim)); \
			for (int d_ = 0; got_ == (want_ndim) && d_ < got_; d_++)               \
				MC_CHECK_U64(dims_[d_], want_[d_ + 1]);                        \
		}                                                                              \
	} while (0)

/* Fails allocation 1, 2, ... until the recognition succeeds: each failure must be a clean
 * -1 ("out of memory") that frees what it took. */
static inline void check_torture(const struct bytes *b)
{
	for (unsigned k = 1; k < 64; k++) {
		struct recog g;
		recognize_n(&g, b->p, b->n, k);
		CHECK_CONTRACT(&g);
		if (g.r == 1) {
			recog_done(&g);
			MC_CHECK_U64(g.count.allocs, g.count.frees);
			return;
		}
		MC_CHECK_U64(g.r, (uint64_t)-1);
		MC_CHECK(strstr(g.why, "out of memory") != NULL);
		MC_CHECK_U64(g.count.allocs, g.count.frees);
	}
	MC_CHECK(!"recognition never succeeded under the failing allocator");
}

/* Every prefix of a valid file is refused or not recognised, never read past. */
static inline void check_truncations(const struct bytes *b, size_t step)
{
	for (size_t n = 0; n < b->n; n += step) {
		struct recog g;
		recognize_n(&g, b->p, n, 0);
		CHECK_CONTRACT(&g);
		MC_CHECK(g.r == -1 || g.r == 0 || g.r == 1);
		recog_done(&g);
		MC_CHECK_U64(g.count.allocs, g.count.frees);
	}
}

#endif
