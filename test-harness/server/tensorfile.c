/* tensorfile.c: see tensorfile.h. */
#include "tensorfile.h"

#include <string.h>

const struct mc_tt_info mc_tt[MC_TT_COUNT] = {
	[MC_TT_F32] = { "F32", "F32", 0, 4 },
	[MC_TT_F16] = { "F16", "F16", 1, 2 },
	[MC_TT_BF16] = { "BF16", "BF16", 30, 2 },
	[MC_TT_F64] = { "F64", "F64", 28, 8 },
	[MC_TT_I8] = { "I8", "I8", 24, 1 },
	[MC_TT_Q8_0] = { NULL, "Q8_0", 8, MC_Q8_0_BLOCK_BYTES },
};

static uint32_t bits_of(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static float float_of(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t mc_f32_to_f16(float f)
{
	uint32_t u = bits_of(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
	if (exp == 0xff)
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
	int e = (int)exp - 127 + 15;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) {
		/* A subnormal half: the implicit bit joins the mantissa, shifted into place. */
		if (e < -10)
			return sign;
		man |= 0x800000;
		unsigned shift = (unsigned)(14 - e);
		uint32_t half = man >> shift, rest = man & ((1u << shift) - 1),
		         mid = 1u << (shift - 1);
		if (rest > mid || (rest == mid && (half & 1)))
			half++;
		return (uint16_t)(sign | half);
	}
	uint32_t half = (uint32_t)e << 10 | man >> 13, rest = man & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
		half++; /* may carry into the exponent, up to infinity: right */
	return (uint16_t)(sign | half);
}

float mc_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (exp == 0x1f)
		return float_of(sign | 0x7f800000 | man << 13);
	if (exp == 0) {
		float v = (float)man / 16777216.0f; /* man x 2^-24 */
		return sign ? -v : v;
	}
	return float_of(sign | (exp - 15 + 127) << 23 | man << 13);
}

uint16_t mc_f32_to_bf16(float f)
{
	uint32_t u = bits_of(f);
	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(u >> 16 | 0x40); /* NaN stays NaN */
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

float mc_bf16_to_f32(uint16_t b)
{
	return float_of((uint32_t)b << 16);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

double mc_tt_value(enum mc_tt t, const uint8_t *p, uint64_t i)
{
	uint64_t u;
	double d;
	switch (t) {
	case MC_TT_F32:
		return float_of((uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		                (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24);
	case MC_TT_F16:
		return mc_f16_to_f32(le16(p + 2 * i));
	case MC_TT_BF16:
		return mc_bf16_to_f32(le16(p + 2 * i));
	case MC_TT_F64:
		u = 0;
		for (int k = 7; k >= 0; k--)
			u = u << 8 | p[8 * i + (uint64_t)k];
		memcpy(&d, &u, sizeof(d));
		return d;
	case MC_TT_I8:
		return (int8_t)p[i];
	case MC_TT_Q8_0: {
		const uint8_t *block = p + (i / MC_Q8_0_BLOCK) * MC_Q8_0_BLOCK_BYTES;
		return (double)mc_f16_to_f32(le16(block)) * (int8_t)block[2 + i % MC_Q8_0_BLOCK];
	}
	default:
		return 0;
	}
}

uint64_t mc_tt_bytes(enum mc_tt t, uint64_t n)
{
	uint64_t bytes;
	if (t == MC_TT_Q8_0) {
		if (n % MC_Q8_0_BLOCK)
			return 0;
		n /= MC_Q8_0_BLOCK;
	}
	if (__builtin_mul_overflow(n, (uint64_t)mc_tt[t].elem_bytes, &bytes))
		return 0;
	return bytes;
}
