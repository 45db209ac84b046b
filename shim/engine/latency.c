/* latency.c: delays drawn from a distribution (distribution = uniform, lognormal, pareto,
 * bimodal), and the share of processes a rule is enabled in (processes = P%). Pure: the delay
 * is a function of the rule and the decision's draw alone, with the engine's own logarithm and
 * exponential (no libm: the library links libc alone, and every machine draws the same). */
#include <string.h>

#include "internal.h"

#define MC_SALT_LATENCY  0x510e527fade682d1ull
#define MC_SALT_PROCESS  0x9b05688c2b3e6c1full
#define Z99              2.3263478740408408 /* the standard normal's 99th percentile */
#define LN2              0.6931471805599453
#define BIMODAL_SLOW_PPM 50000 /* bimodal: 5% of the calls take the slow mode, p99 */
/* A drawn delay is cut at this many times the distribution's p99: a Pareto tail would
 * otherwise draw hours now and then, which no experiment wants from a delay rule. */
#define CAP_TIMES_P99 100.0

/* ln x for x > 0. */
static double ln_positive(double x)
{
	return x <= 1.0 ? mc_ln_unit(x) : -mc_ln_unit(1.0 / x);
}

/* e^x: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its series (18 terms reach double
 * precision there), 2^k put in the exponent's bits. */
double mc_engine_exp(double x)
{
	union {
		double d;
		uint64_t u;
	} two_k;
	double k, r, term = 1.0, sum = 1.0;

	if (x > 709.0)
		return 1.7976931348623157e308;
	if (x < -708.0)
		return 0.0;
	k = (double)(int64_t)(x / LN2 + (x >= 0 ? 0.5 : -0.5));
	r = x - k * LN2;
	for (int n = 1; n <= 18; n++) {
		term *= r / n;
		sum += term;
	}
	two_k.u = (uint64_t)((int64_t)k + 1023) << 52;
	return sum * two_k.d;
}

double mc_engine_ln(double x)
{
	return ln_positive(x);
}

/* A uniform draw in (0, 1] from key. */
static double unit_draw(uint64_t key)
{
	return (double)((mc_mix64(key) >> 11) + 1) * 0x1.0p-53;
}

void mc_engine_latency_params(const struct mc_rule_spec *s, double *ret_a, double *ret_b)
{
	double p50 = (double)s->p50_ns, p99 = (double)s->p99_ns;

	*ret_a = *ret_b = 0;
	switch (s->distribution) {
	case MC_DIST_UNIFORM: /* a = the start, b = the width: p50 = a + b/2, p99 = a + 0.99 b */
		*ret_b = (p99 - p50) / 0.49;
		*ret_a = p50 - *ret_b / 2 > 0 ? p50 - *ret_b / 2 : 0;
		break;
	case MC_DIST_LOGNORMAL: /* a = mu (ln of the median in ns), b = sigma */
		if (s->scale_ns) {
			*ret_a = ln_positive((double)s->scale_ns);
			*ret_b = s->shape;
		} else {
			*ret_a = ln_positive(p50);
			*ret_b = (ln_positive(p99) - ln_positive(p50)) / Z99;
		}
		break;
	case MC_DIST_PARETO: /* a = the minimum x_m in ns, b = alpha: quantile q is
	                        x_m (1 - q)^(-1/alpha), so p99 / p50 = 50^(1/alpha) */
		if (s->scale_ns) {
			*ret_a = (double)s->scale_ns;
			*ret_b = s->shape;
		} else {
			*ret_b = ln_positive(50.0) / ln_positive(p99 / p50);
			*ret_a = p50 / mc_engine_exp(LN2 / *ret_b);
		}
		break;
	case MC_DIST_BIMODAL: /* a = the fast mode, b = the slow one */
		*ret_a = p50;
		*ret_b = p99;
		break;
	default:
		break;
	}
}

/* The distribution's p99, in ns, from its parameters. */
static double p99_of(const struct mc_erule *r)
{
	switch (r->distribution) {
	case MC_DIST_UNIFORM:
		return r->dist_a + 0.99 * r->dist_b;
	case MC_DIST_LOGNORMAL:
		return mc_engine_exp(r->dist_a + Z99 * r->dist_b);
	case MC_DIST_PARETO:
		return r->dist_a * mc_engine_exp(ln_positive(100.0) / r->dist_b);
	default:
		return r->dist_b;
	}
}

uint64_t mc_engine_latency_ns(const struct mc_erule *r, uint64_t draw)
{
	uint64_t key = draw ^ MC_SALT_LATENCY;
	double ns, cap = CAP_TIMES_P99 * p99_of(r);

	switch (r->distribution) {
	case MC_DIST_UNIFORM:
		ns = r->dist_a + r->dist_b * (1.0 - unit_draw(key));
		break;
	case MC_DIST_LOGNORMAL:
		ns = mc_engine_exp(r->dist_a + r->dist_b * mc_engine_gaussian(key));
		break;
	case MC_DIST_PARETO:
		ns = r->dist_a * mc_engine_exp(-ln_positive(unit_draw(key)) / r->dist_b);
		break;
	case MC_DIST_BIMODAL:
		ns = mc_mix64(key) % MC_RATE_ONE < BIMODAL_SLOW_PPM ? r->dist_b : r->dist_a;
		break;
	default:
		return r->delay_ns;
	}
	if (ns > cap)
		ns = cap;
	return ns < 1.8e19 ? (uint64_t)ns : UINT64_MAX;
}

/* Of the start orders 0, 1, 2, ... the rule is enabled in order k when the line
 * (k * P + offset) / 10^6 crosses an integer between k and k + 1: exactly floor(N P) or
 * ceil(N P) of any N consecutive orders, and which ones from the offset, a hash of the seed and
 * the rule's name. */
bool mc_engine_process_enabled(const struct mc_erule *r, uint64_t order)
{
	uint64_t offset = mc_mix64(r->name_seed ^ MC_SALT_PROCESS) % MC_RATE_ONE;
	uint64_t p = r->processes_ppm;

	if (p >= MC_RATE_ONE)
		return true;
	return ((order + 1) * p + offset) / MC_RATE_ONE != (order * p + offset) / MC_RATE_ONE;
}

bool mc_engine_process_mask(const struct mc_ruleset *rs, uint64_t order, struct mc_rulemask *ret)
{
	bool any = false;

	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct mc_erule *r = &rs->rules[i];

		if (r->processes_ppm < MC_RATE_ONE && !mc_engine_process_enabled(r, order)) {
			ret->w[i / 64] |= 1ull << (i % 64);
			any = true;
		}
	}
	return any;
}
