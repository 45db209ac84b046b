/* tensorfile.h: what mlchaos-tensorgen and mlchaos-tensorcat share about the model files they
 * write and read (safetensors, GGUF v3): element types, their sizes and names, and the
 * half-precision conversions. The reader parses with its own code, not the library's
 * recognisers, so the two can be checked against each other. */
#ifndef MC_TENSORFILE_H
#define MC_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

/* The element types the programs know, with their GGUF (ggml) type numbers. */
enum mc_tt {
	MC_TT_F32,
	MC_TT_F16,
	MC_TT_BF16,
	MC_TT_F64,
	MC_TT_I8,
	MC_TT_Q8_0, /* GGUF only: blocks of 32 int8 with one f16 scale */
	MC_TT_COUNT
};

#define MC_Q8_0_BLOCK       32
#define MC_Q8_0_BLOCK_BYTES 34

struct mc_tt_info {
	const char *st_name; /* safetensors "dtype", NULL when it has none */
	const char *name;    /* as tensorcat prints it */
	uint32_t ggml_type;
	unsigned elem_bytes; /* bytes per element; Q8_0: per block */
};

extern const struct mc_tt_info mc_tt[MC_TT_COUNT];

/* IEEE half and bfloat16 from float, rounding to nearest even (NaN stays NaN), and back. */
uint16_t mc_f32_to_f16(float f);
float mc_f16_to_f32(uint16_t h);
uint16_t mc_f32_to_bf16(float f);
float mc_bf16_to_f32(uint16_t b);

/* Element i of a tensor of type t whose bytes are p (little-endian), as a double. */
double mc_tt_value(enum mc_tt t, const uint8_t *p, uint64_t i);

/* The bytes of n elements of type t (Q8_0: n a multiple of 32); 0 on overflow. */
uint64_t mc_tt_bytes(enum mc_tt t, uint64_t n);

#endif
