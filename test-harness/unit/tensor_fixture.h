/* tensor_fixture.h: a hand-made tensor map over a file held in memory, for the tests of
 * region = tensors (test_tensors.c, test_damage.c): the tensors' places and types, their
 * elements read and written as numbers (byte order undone), and the map the engine reads.
 * Header-only. */
#ifndef MC_TENSOR_FIXTURE_H
#define MC_TENSOR_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "formats/tensors.h"

/* name, dtype, big-endian, off, len: sorted and non-overlapping, as a recogniser gives them. */
struct fixture_tensor {
	const char *name;
	enum mc_dtype dt;
	bool be;
	uint64_t off, len;
};

/* Element e of tensor t as a number, in the bytes of file. */
static inline uint64_t fixture_element(const struct fixture_tensor *t, const uint8_t *file,
                                       uint64_t e)
{
	unsigned w = mc_dtype_size(t->dt);
	const uint8_t *p = file + t->off + e * w;
	uint64_t v = 0;

	for (unsigned k = 0; k < w; k++)
		v |= (uint64_t)p[k] << (8 * (t->be ? w - 1 - k : k));
	return v;
}

/* Writes v as element e of tensor t into file. */
static inline void fixture_put_element(const struct fixture_tensor *t, uint8_t *file, uint64_t e,
                                       uint64_t v)
{
	unsigned w = mc_dtype_size(t->dt);
	uint8_t *p = file + t->off + e * w;

	for (unsigned k = 0; k < w; k++)
		p[k] = (uint8_t)(v >> (8 * (t->be ? w - 1 - k : k)));
}

/* The index of the tensor of ts[n] that holds file offset off, or -1 (a "header" byte). */
static inline int fixture_tensor_of(const struct fixture_tensor *ts, unsigned n, uint64_t off)
{
	for (unsigned i = 0; i < n; i++)
		if (off >= ts[i].off && off < ts[i].off + ts[i].len)
			return (int)i;
	return -1;
}

/* The map of ts[n] in a file of file_size bytes, into tensors[n] and names (room for every
 * name and its NUL). */
static inline void fixture_map(const struct fixture_tensor *ts, unsigned n, uint64_t file_size,
                               struct mc_tensor *tensors, char *names, struct mc_tensor_map *map)
{
	size_t used = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(ts[i].name) + 1;

		tensors[i] = (struct mc_tensor){ .off = ts[i].off,
			                         .len = ts[i].len,
			                         .name = (uint32_t)used,
			                         .dtype = (uint8_t)ts[i].dt,
			                         .big_endian = ts[i].be };
		memcpy(names + used, ts[i].name, len);
		used += len;
	}
	*map = (struct mc_tensor_map){ .format = MC_TF_SAFETENSORS,
		                       .n = n,
		                       .file_size = file_size,
		                       .t = tensors,
		                       .names = names };
}

#endif
