/* inspect.h: the recognisers of shim/formats/ run on a file by its path, with plain libc
 * (inspect_file.c): for `mlchaos inspect` (cmd_inspect.c) and `mlchaos check`. */
#ifndef MC_CLI_INSPECT_H
#define MC_CLI_INSPECT_H

#include <stdint.h>

#include "formats/tensors.h"

#define MC_INSPECT_WHY_MAX 512

/* A layout declared as format = raw declares it: dtype over [lo, hi) (hi past the end: to
 * the end of the file). */
struct mc_inspect_raw {
	enum mc_dtype dtype;
	uint64_t lo, hi;
};

/* One file's result: what the recogniser said, and the map when it found one. */
struct mc_inspected {
	const char *file;
	uint64_t size;
	int status; /* 1 a map, 0 not a model file, -1 malformed, -2 unreadable */
	int err;    /* status -2: the errno that says why */
	char why[MC_INSPECT_WHY_MAX];
	struct mc_tensor_map *map;
	struct mc_tensor_raw raw; /* a raw layout: map points here */
};

/* Fills r for r->file (set by the caller): the recognisers' map, or with raw the declared
 * one. Free with mc_inspected_free(). */
void mc_inspect_file(struct mc_inspected *r, const struct mc_inspect_raw *raw);
void mc_inspected_free(struct mc_inspected *r);

/* The format the recognisers find in the regular file at path ("safetensors", "gguf", ...),
 * or NULL when it is none they know, malformed, or cannot be read. */
const char *mc_inspect_format(const char *path);

#endif
