/* fuzz_onnx.c: libFuzzer harness for the ONNX recogniser: the input follows a ModelProto's
 * first field, ir_version 7 (ONNX has no magic; the probe wants this start); its last byte
 * may fail one allocation. Checks in fuzz_tensors.c; then the external data walks on the same
 * file: every location told is safe, and the map of each of the first few (for an external
 * file of a size the input's length picks) keeps the contract of tensors.h. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_tensors.h"

#define EXTERNAL_MAPS_MAX 4

struct ext_run {
	const uint8_t *p;
	uint64_t size;
	bool outside;
	struct mc_tensor_src src;
	struct mc_tensor_alloc a;
	unsigned allocs, frees, locations;
	uint64_t ext_size;
};

static int64_t ext_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct ext_run *r = ctx;
	if (off > r->size || len > r->size - off) {
		r->outside = true;
		return -1;
	}
	memcpy(buf, r->p + off, len);
	return (int64_t)len;
}

static void *ext_alloc(void *ctx, size_t n)
{
	struct ext_run *r = ctx;
	void *p = malloc(n);
	FZ_CHECK(p != NULL);
	r->allocs++;
	return p;
}

static void ext_free(void *ctx, void *p)
{
	struct ext_run *r = ctx;
	FZ_CHECK(p != NULL);
	r->frees++;
	free(p);
}

static void check_external_map(const struct mc_tensor_map *m, uint64_t size)
{
	FZ_CHECK(m->format == MC_TF_ONNX && m->file_size == size && m->n > 0);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct mc_tensor *t = &m->t[i];
		FZ_CHECK(t->len > 0 && t->off <= size && t->len <= size - t->off);
		FZ_CHECK(i + 1 == m->n || t->off + t->len <= m->t[i + 1].off);
		FZ_CHECK(t->dtype <= MC_DT_F64);
	}
}

static void each_location(void *ctx, const char *location, size_t len)
{
	struct ext_run *r = ctx;
	FZ_CHECK(mc_onnx_location_safe(location, len) && len <= MC_ONNX_LOCATION_MAX);
	if (r->locations++ >= EXTERNAL_MAPS_MAX)
		return;
	struct mc_tensor_map *map = NULL;
	char why[160];
	int got = mc_onnx_external_map(&r->src, &r->a, location, len, r->ext_size, &map, why,
	                               sizeof(why));
	FZ_CHECK(got == 1 || got == 0 || got == -1);
	FZ_CHECK((got == 1) == (map != NULL));
	FZ_CHECK((got == -1) == (why[0] != '\0'));
	FZ_CHECK(got != -1 || strncmp(why, "onnx: ", 6) == 0);
	if (map) {
		check_external_map(map, r->ext_size);
		mc_tensor_map_free(map, &r->a);
	}
}

static void fuzz_externals(const uint8_t *data, size_t size)
{
	size_t n = size + 1; /* "\x08\x07" + data[0, size - 1) */
	uint8_t *file = malloc(n);
	FZ_CHECK(file != NULL);
	memcpy(file, "\x08\x07", 2);
	memcpy(file + 2, data, size - 1);
	struct ext_run r = { .p = file, .size = n, .ext_size = 1 + (uint64_t)size * 64 };
	r.src = (struct mc_tensor_src){ ext_read_at, &r, n };
	r.a = (struct mc_tensor_alloc){ ext_alloc, ext_free, &r };
	char why[160];
	int got = mc_onnx_externals(&r.src, &r.a, each_location, &r, why, sizeof(why));
	FZ_CHECK(got == 0 || got == -1);
	FZ_CHECK(!r.outside);
	FZ_CHECK(r.allocs == r.frees);
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "\x08\x07", 2, MC_TF_ONNX);
	if (size > 0 && size <= (1u << 20))
		fuzz_externals(data, size);
	return 0;
}
