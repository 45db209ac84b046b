/* values.c: the scalar values of the INI language: integers, booleans, sizes, durations and
 * rates, parsed exactly in integer arithmetic (no strtod: "12.5%" must be exactly 125000
 * millionths). Pure: never allocates, never reports; callers turn return codes into messages. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "config.h"

__extension__ typedef unsigned __int128 mc_u128;

#define DECIMAL_MAX_FRAC_DIGITS 18

/* A non-negative decimal number whole.frac, frac having scale = 10^digits. */
struct decimal {
	uint64_t whole;
	uint64_t frac;
	uint64_t scale;
};

struct unit {
	const char *name;
	uint64_t factor;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse digits [. digits] at s; *end points past them. At least one digit is required. */
static int parse_decimal(const char *s, struct decimal *d, const char **end)
{
	bool any = false;

	*d = (struct decimal){ 0, 0, 1 };
	for (; is_digit(*s); s++) {
		if (__builtin_mul_overflow(d->whole, 10, &d->whole) ||
		    __builtin_add_overflow(d->whole, (uint64_t)(*s - '0'), &d->whole))
			return -ERANGE;
		any = true;
	}
	if (*s == '.') {
		unsigned digits = 0;

		for (s++; is_digit(*s); s++, digits++) {
			if (digits == DECIMAL_MAX_FRAC_DIGITS)
				return -EINVAL;
			d->frac = d->frac * 10 + (uint64_t)(*s - '0');
			d->scale *= 10;
			any = true;
		}
	}
	*end = s;
	return any ? 0 : -EINVAL;
}

/* d * factor; exact: the result must be a whole number, else it is rounded to nearest. */
static int scale_decimal(const struct decimal *d, uint64_t factor, bool exact, uint64_t *ret)
{
	mc_u128 whole = (mc_u128)d->whole * factor;
	mc_u128 frac = (mc_u128)d->frac * factor;
	mc_u128 total;

	if (exact && frac % d->scale != 0)
		return -EINVAL;
	total = whole + (frac + (exact ? 0 : d->scale / 2)) / d->scale;
	if (total > UINT64_MAX)
		return -ERANGE;
	*ret = (uint64_t)total;
	return 0;
}

static const char *skip_space(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

static const struct unit *find_unit(const struct unit *units, const char *name)
{
	for (; units->name; units++)
		if (strcmp(units->name, name) == 0)
			return units;
	return NULL;
}

/* number [spaces] unit, where the unit may be empty when empty_unit is nonzero. */
static int parse_with_unit(const char *s, const struct unit *units, uint64_t empty_unit,
                           uint64_t *ret)
{
	struct decimal d;
	const struct unit *u;
	const char *end;
	int r;

	r = parse_decimal(s, &d, &end);
	if (r < 0)
		return r;
	end = skip_space(end);
	if (*end == '\0') {
		/* Only zero needs no unit when the unit is mandatory: 0 is 0 in any unit. */
		if (empty_unit == 0 && (d.whole != 0 || d.frac != 0))
			return -EINVAL;
		return scale_decimal(&d, empty_unit ? empty_unit : 1, true, ret);
	}
	u = find_unit(units, end);
	if (!u)
		return -EINVAL;
	return scale_decimal(&d, u->factor, true, ret);
}

int mc_cfg_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned base = hex ? 16 : 10;
	const char *p = hex ? s + 2 : s;

	if (*p == '\0')
		return -EINVAL;
	for (; *p; p++) {
		unsigned digit;

		if (is_digit(*p))
			digit = (unsigned)(*p - '0');
		else if (hex && *p >= 'a' && *p <= 'f')
			digit = (unsigned)(*p - 'a' + 10);
		else if (hex && *p >= 'A' && *p <= 'F')
			digit = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, digit, &v))
			return -ERANGE;
	}
	*ret = v;
	return 0;
}

int mc_cfg_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int mc_cfg_parse_size(const char *s, uint64_t *ret_bytes)
{
	static const struct unit units[] = {
		{ "B", 1 },
		{ "KiB", 1ull << 10 },
		{ "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 },
		{ "TiB", 1ull << 40 },
		{ "KB", 1000ull },
		{ "MB", 1000ull * 1000 },
		{ "GB", 1000ull * 1000 * 1000 },
		{ "TB", 1000ull * 1000 * 1000 * 1000 },
		{ NULL, 0 },
	};

	return parse_with_unit(s, units, 1, ret_bytes);
}

int mc_cfg_parse_duration(const char *s, uint64_t *ret_ns)
{
	static const struct unit units[] = {
		{ "ns", 1 },
		{ "us", 1000ull },
		{ "\xc2\xb5s", 1000ull }, /* µs */
		{ "ms", 1000ull * 1000 },
		{ "s", 1000ull * 1000 * 1000 },
		{ "m", 60ull * 1000 * 1000 * 1000 },
		{ "h", 3600ull * 1000 * 1000 * 1000 },
		{ NULL, 0 },
	};

	return parse_with_unit(s, units, 0, ret_ns);
}

int mc_cfg_parse_rate(const char *s, uint32_t *ret_ppm)
{
	struct decimal d;
	const char *end;
	uint64_t ppm;
	int r;

	r = parse_decimal(s, &d, &end);
	if (r < 0)
		return r == -ERANGE ? -ERANGE : -EINVAL;
	end = skip_space(end);
	if (*end == '%') {
		r = scale_decimal(&d, MC_RATE_ONE / 100, false, &ppm);
		end++;
	} else {
		r = scale_decimal(&d, MC_RATE_ONE, false, &ppm);
	}
	if (*end != '\0')
		return -EINVAL;
	if (r < 0 || ppm > MC_RATE_ONE)
		return -ERANGE;
	*ret_ppm = (uint32_t)ppm;
	return 0;
}

/* 10^e for |e| <= 400, by squaring: exact up to 10^22, then within an ulp or two, which is
 * plenty for a standard deviation. */
static double power_of_ten(int e)
{
	double result = 1, base = 10;
	unsigned n = (unsigned)(e < 0 ? -e : e);

	for (; n; n >>= 1, base *= base)
		if (n & 1)
			result *= base;
	return e < 0 ? 1 / result : result;
}

int mc_cfg_parse_decimal(const char *s, double *ret)
{
	struct decimal d;
	const char *end;
	int exponent = 0, sign = 1;
	double v;
	int r = parse_decimal(s, &d, &end);

	if (r < 0)
		return r;
	if (*end == 'e' || *end == 'E') {
		end++;
		if (*end == '+' || *end == '-')
			sign = *end++ == '-' ? -1 : 1;
		if (!is_digit(*end))
			return -EINVAL;
		for (; is_digit(*end); end++) {
			exponent = exponent * 10 + (*end - '0');
			if (exponent > 400)
				return -ERANGE;
		}
	}
	if (*skip_space(end) != '\0')
		return -EINVAL;
	v = ((double)d.whole + (double)d.frac / (double)d.scale) * power_of_ten(sign * exponent);
	if (v != v || v > 1.7976931348623157e308)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* The signals action = signal raises: a crash (SEGV, BUS, ABRT), the kernel's kill (KILL), a
 * stop (STOP: the process freezes until SIGCONT), an orderly termination (TERM). */
static const struct {
	const char *name;
	int signo;
} signals[] = {
	{ "KILL", SIGKILL }, { "SEGV", SIGSEGV }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS },   { "STOP", SIGSTOP }, { "TERM", SIGTERM },
};

int mc_cfg_signal_value(const char *name)
{
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcmp(name, signals[i].name) == 0)
			return signals[i].signo;
	return 0;
}

const char *mc_cfg_signal_name(int signo)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].signo == signo)
			return signals[i].name;
	return "?";
}
