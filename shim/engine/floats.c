/* floats.c: the numbers of graded damage: the float formats of tensors (decoded to a double,
 * and a double rounded back to nearest even), and the standard normal draw of mode = noise.
 * By hand, with the integer layout of each format: the library links no libm, and every
 * process must draw and round the same bits. Pure: no libc, no state, async-signal-safe. */
#include "formats/tensors.h"
#include "internal.h"

/* An IEEE-like binary format: 1 sign bit, exp_bits, man_bits; no_inf is E4M3FN's (no
 * infinity: the exponent's all-ones code holds numbers, and NaN is S.1111.111). */
struct float_format {
	uint8_t exp_bits, man_bits;
	bool no_inf;
	int bias;
};

static bool float_format_of(unsigned dt, struct float_format *ret)
{
	switch ((enum mc_dtype)dt) {
	case MC_DT_F32:
		*ret = (struct float_format){ 8, 23, false, 127 };
		return true;
	case MC_DT_F16:
		*ret = (struct float_format){ 5, 10, false, 15 };
		return true;
	case MC_DT_BF16:
		*ret = (struct float_format){ 8, 7, false, 127 };
		return true;
	case MC_DT_F64:
		*ret = (struct float_format){ 11, 52, false, 1023 };
		return true;
	case MC_DT_F8_E4M3:
		*ret = (struct float_format){ 4, 3, true, 7 };
		return true;
	case MC_DT_F8_E5M2:
		*ret = (struct float_format){ 5, 2, false, 15 };
		return true;
	default:
		return false;
	}
}

/* The bits of a double and back (__builtin_memcpy: no libc call, no aliasing question). */
static double double_of_bits(uint64_t u)
{
	double d;

	__builtin_memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t bits_of_double(double d)
{
	uint64_t u;

	__builtin_memcpy(&u, &d, sizeof(u));
	return u;
}

/* 2^k for k in [-1022, 1023], the normal doubles: every scale the formats above need. */
static double pow2(int k)
{
	return double_of_bits((uint64_t)(k + 1023) << 52);
}

static uint64_t exp_field(const struct float_format *f, uint64_t bits)
{
	return (bits >> f->man_bits) & ((1ull << f->exp_bits) - 1);
}

static bool is_finite(const struct float_format *f, uint64_t bits)
{
	uint64_t magnitude_mask = (1ull << (f->exp_bits + f->man_bits)) - 1;

	if (f->no_inf)
		return (bits & magnitude_mask) != magnitude_mask;
	return exp_field(f, bits) != (1ull << f->exp_bits) - 1;
}

static double decode(const struct float_format *f, uint64_t bits)
{
	uint64_t fe = exp_field(f, bits), fm = bits & ((1ull << f->man_bits) - 1);
	bool negative = (bits >> (f->exp_bits + f->man_bits)) & 1;
	double v;

	if (f->man_bits == 52)
		return double_of_bits(bits);
	if (fe == 0) /* subnormal: fm * 2^(1 - bias - man_bits) */
		v = (double)fm * pow2(1 - f->bias - f->man_bits);
	else
		v = (double)(fm | (1ull << f->man_bits)) * pow2((int)fe - f->bias - f->man_bits);
	return negative ? -v : v;
}

/* The magnitude bits of |x| (finite) in format f, rounded to nearest even: the significand's
 * dropped bits decide, and a carry out of the mantissa lands in the exponent field on its
 * own (the largest subnormal rounds up to the smallest normal the same way). */
static uint64_t round_magnitude(const struct float_format *f, uint64_t x_bits)
{
	int de = (int)((x_bits >> 52) & 0x7ff), e = de - 1023, emin = 1 - f->bias;
	uint64_t sig = (x_bits & 0x000fffffffffffffull) | (1ull << 52);
	unsigned shift;
	uint64_t q, rem, half;

	if (de == 0)
		return 0; /* a subnormal double is far below the smallest value of any format */
	shift = (unsigned)(52 - f->man_bits) + (e < emin ? (unsigned)(emin - e) : 0);
	if (shift >= 64)
		return 0;
	q = sig >> shift;
	rem = sig & ((1ull << shift) - 1);
	half = 1ull << (shift - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	if (e < emin)
		return q;
	return ((uint64_t)(e + f->bias) << f->man_bits) + (q - (1ull << f->man_bits));
}

static uint64_t encode(const struct float_format *f, double x)
{
	uint64_t x_bits = bits_of_double(x), sign_bit = 1ull << (f->exp_bits + f->man_bits);
	uint64_t sign = (x_bits >> 63) ? sign_bit : 0;
	uint64_t inf = ((1ull << f->exp_bits) - 1) << f->man_bits;
	uint64_t magnitude;

	if (f->man_bits == 52)
		return x_bits;
	if (x != x) /* not reached from finite inputs; a quiet NaN all the same */
		return sign | (f->no_inf ? sign_bit - 1 : inf | (1ull << (f->man_bits - 1)));
	magnitude = ((x_bits >> 52) & 0x7ff) == 0x7ff ? UINT64_MAX : round_magnitude(f, x_bits);
	if (f->no_inf && magnitude >= sign_bit - 1)
		return sign | (sign_bit - 1); /* past the largest (448): NaN, having no infinity */
	if (!f->no_inf && magnitude >= inf)
		return sign | inf;
	return sign | magnitude;
}

bool mc_engine_float_to_double(unsigned dt, uint64_t bits, double *ret)
{
	struct float_format f;

	if (!float_format_of(dt, &f) || !is_finite(&f, bits))
		return false;
	*ret = decode(&f, bits);
	return true;
}

bool mc_engine_float_from_double(unsigned dt, double v, uint64_t *ret_bits)
{
	struct float_format f;

	if (!float_format_of(dt, &f))
		return false;
	*ret_bits = encode(&f, v);
	return true;
}

/* sqrt of x > 0 finite, without libm or errno: the processor's instruction where we know it
 * (IEEE's correctly rounded square root, the same bits on both), else Newton's method from a
 * guess with half the exponent (within 6 %), whose five steps square the error down past
 * double precision. */
static double sqrt_positive(double x)
{
#if defined(__x86_64__) && defined(__SSE2__)
	double y;

	__asm__("sqrtsd %1, %0" : "=x"(y) : "x"(x));
	return y;
#elif defined(__aarch64__)
	double y;

	__asm__("fsqrt %d0, %d1" : "=w"(y) : "w"(x));
	return y;
#else
	double y = double_of_bits((bits_of_double(x) >> 1) + 0x1ff8000000000000ull);

	for (int i = 0; i < 5; i++)
		y = 0.5 * (y + x / y);
	return y;
#endif
}

#define GOLDEN 0x9e3779b97f4a7c15ull

/* Marsaglia's polar method on a counter stream keyed by key: pairs (x, y) uniform in the
 * square [-1, 1)^2 (53 bits each) until one falls inside the unit disc (4 in 5 do), then
 * x * sqrt(-2 ln s / s), s = x^2 + y^2, is standard normal. Only ln and sqrt are needed. */
double mc_engine_gaussian(uint64_t key)
{
	for (uint64_t i = 0;; i += 2) {
		double x = (double)(mc_mix64(key + i * GOLDEN) >> 11) * 0x1.0p-52 - 1.0;
		double y = (double)(mc_mix64(key + (i + 1) * GOLDEN) >> 11) * 0x1.0p-52 - 1.0;
		double s = x * x + y * y;

		if (s > 0 && s < 1)
			return x * sqrt_positive(-2.0 * mc_ln_unit(s) / s);
	}
}

bool mc_engine_noise_value(const struct mc_erule *rule, unsigned dt, uint64_t bits, uint64_t key,
                           uint64_t *ret_bits)
{
	struct float_format f;
	double v, z;

	if (!float_format_of(dt, &f) || !is_finite(&f, bits))
		return false;
	v = decode(&f, bits);
	z = mc_engine_gaussian(key) * rule->std;
	*ret_bits = encode(&f, rule->noise == MC_NOISE_ABSOLUTE ? v + z : v * (1.0 + z));
	return true;
}
