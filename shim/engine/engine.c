/* engine.c: compiling a config into an immutable rule set (one allocation, rules grouped by
 * hook, `process =` settled once), path matching at open time, and accessors. Allocates
 * only in mc_engine_build(); nothing here runs per hooked call except mc_engine_match_path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

uint64_t mc_engine_mix64(uint64_t x)
{
	return mc_mix64(x);
}

uint64_t mc_engine_prng_next(struct mc_prng *p)
{
	return mc_prng_next(p);
}

/* Natural logarithm of x in (0, 1], to double precision: x = m * 2^e with m in [sqrt(2)/2,
 * sqrt(2)], ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...) with s = (m - 1) / (m + 1), |s| <
 * 0.172. Our own, so that the engine needs no libm and gives the same gaps everywhere. */
static const double inverse_odd[11] = { 1.0,      1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9, 1.0 / 11,
	                                1.0 / 13, 1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21 };

double mc_ln_unit(double x)
{
	union {
		double d;
		uint64_t u;
	} v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	double m, s, s2, sum = 0;

	v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	/* s^2 < 0.0295: eleven terms reach double precision; Horner's form, no division */
	for (unsigned k = 21;; k -= 2) {
		sum = sum * s2 + inverse_odd[k / 2];
		if (k == 1)
			break;
	}
	return 2 * s * sum + e * 0.6931471805599453;
}

#define GAP_NEVER     (1ull << 62)
#define LOG_KEEP_NONE (-1e300) /* every call selected: any gap rounds down to 0 */

double mc_log_keep(uint64_t threshold)
{
	if (threshold >= 1ull << 32)
		return LOG_KEEP_NONE;
	return threshold ? mc_ln_unit(1.0 - (double)threshold * 0x1.0p-32) : 0;
}

uint64_t mc_gap_draw(struct mc_prng *p, double log_keep)
{
	double u, gap;

	if (log_keep == 0)
		return GAP_NEVER; /* never selected: no draw */
	if (log_keep == LOG_KEEP_NONE)
		return 0; /* always selected: no draw either */
	/* 53 bits, plus one: U in (0, 1], so ln U is finite */
	u = (double)((mc_prng_next(p) >> 11) + 1) * 0x1.0p-53;
	gap = mc_ln_unit(u) / log_keep;
	return gap >= (double)GAP_NEVER ? GAP_NEVER : (uint64_t)gap;
}

uint64_t mc_engine_call_gap(struct mc_prng *p, uint64_t threshold)
{
	return mc_gap_draw(p, mc_log_keep(threshold));
}

void mc_engine_thread_init(struct mc_thread_state *ts, uint64_t seed, uint64_t thread_ordinal)
{
	memset(ts, 0, sizeof(*ts));
	ts->thread = thread_ordinal;
	/* Mixing twice keeps thread 0 of seed s and thread 1 of seed s-1 apart. */
	ts->prng.s = mc_mix64(seed ^ mc_mix64(thread_ordinal + 1));
}

void mc_engine_thread_flush(struct mc_thread_state *ts, struct mc_engine_state *st)
{
	for (unsigned i = 0; i < MC_MAX_RULES; i++) {
		struct mc_thread_rule *tr = &ts->rule[i];

		if (tr->calls != tr->counted) {
			atomic_fetch_add_explicit(&st->rule[i].matched, tr->calls - tr->counted,
			                          memory_order_relaxed);
			tr->counted = tr->calls;
		}
	}
}

void mc_engine_state_reset(struct mc_engine_state *st)
{
	atomic_store_explicit(&st->faults, 0, memory_order_relaxed);
	for (unsigned i = 0; i < MC_MAX_RULES; i++) {
		atomic_store_explicit(&st->rule[i].matched, 0, memory_order_relaxed);
		atomic_store_explicit(&st->rule[i].skipped, 0, memory_order_relaxed);
		atomic_store_explicit(&st->rule[i].selected, 0, memory_order_relaxed);
		atomic_store_explicit(&st->rule[i].injected, 0, memory_order_relaxed);
		atomic_store_explicit(&st->rule[i].ambiguous, 0, memory_order_relaxed);
		atomic_store_explicit(&st->rule[i].paced_until, 0, memory_order_relaxed);
	}
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool process_matches(const char *glob, const struct mc_proc *proc)
{
	if (!glob || !proc)
		return true;
	if (proc->comm && mc_glob_match(glob, proc->comm))
		return true;
	return proc->argv0 && mc_glob_match(glob, base_name(proc->argv0));
}

static uint32_t rule_checks(const struct mc_rule_spec *s)
{
	uint32_t checks = 0;

	if (s->hook == MC_HOOK_READ || s->hook == MC_HOOK_SEND || s->hook == MC_HOOK_WRITE)
		checks |= MC_CHECK_NONZERO;
	if (s->min_size > 0 || s->max_size != MC_UNLIMITED)
		checks |= MC_CHECK_SIZE;
	if (s->path)
		checks |= MC_CHECK_PATH;
	if (s->port)
		checks |= MC_CHECK_PORT;
	if (s->phase != MC_PHASE_ANY)
		checks |= MC_CHECK_PHASE;
	if (s->budget_bytes)
		checks |= MC_CHECK_BUDGET;
	if (s->start_ns > 0 || s->duration_ns != MC_UNLIMITED)
		checks |= MC_CHECK_WINDOW;
	if (s->after > 0)
		checks |= MC_CHECK_AFTER;
	/* format = raw declares its map: what a recogniser thought of the file does not matter */
	if (s->action == MC_ACTION_CORRUPT && s->region == MC_REGION_TENSORS && !s->raw)
		checks |= MC_CHECK_TENSORS;
	if (s->caller || s->not_caller)
		checks |= MC_CHECK_CALLER;
	if (s->processes_ppm < MC_RATE_ONE)
		checks |= MC_CHECK_PROCESSES;
	/* JSON bodies travel on sockets: a file's reads are none of the rule's business */
	if (s->action == MC_ACTION_CORRUPT && s->region == MC_REGION_JSON)
		checks |= MC_CHECK_SOCKET;
	return checks;
}

static char *put_string(char **pool, const char *s)
{
	char *at = *pool;
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s) + 1;
	memcpy(at, s, len);
	*pool += len;
	return at;
}

static void compile_rule(const struct mc_config *cfg, const struct mc_rule_spec *s, unsigned id,
                         const struct mc_proc *proc, char **pool, struct mc_erule *r)
{
	memset(r, 0, sizeof(*r));
	r->checks = rule_checks(s);
	r->rate_ppm = s->rate_ppm;
	r->id = (uint16_t)id;
	r->hook = (uint8_t)s->hook;
	r->action = (uint8_t)s->action;
	r->select = (uint8_t)s->select;
	r->phase = (uint8_t)s->phase;
	r->port = s->port;
	r->min_size = s->min_size;
	r->max_size = s->max_size;
	r->start_ns = s->start_ns;
	r->duration_ns = s->duration_ns;
	r->after = s->after;
	r->times = s->times;
	r->name_seed = cfg->seed ^ XXH3_64bits(s->name, strlen(s->name));
	const char *damage = s->damage ? s->damage : s->name;
	r->damage_seed = cfg->seed ^ XXH3_64bits(damage, strlen(damage));
	r->budget_bytes = s->budget_bytes;
	r->delay_ns = s->delay_ns;
	r->jitter_ns = s->jitter_ns;
	r->max_bytes = s->max_bytes;
	r->offset_lo = s->offset_lo;
	r->offset_hi = s->offset_hi;
	memcpy(r->errnos, s->errnos, sizeof(r->errnos));
	r->n_errnos = (uint8_t)s->n_errnos;
	r->sticky = s->sticky;
	r->oom = (uint8_t)s->oom;
	r->mode = (uint8_t)s->mode;
	r->byte = s->byte;
	r->scope = (uint8_t)s->scope;
	r->shadow = s->shadow || cfg->shadow;
	r->ambiguous_last = s->ambiguous_last;
	r->enabled =
	    cfg->enabled && (unsigned)s->hook < MC_HOOK_COUNT && process_matches(s->process, proc);
	r->count = s->count;
	r->region = (uint8_t)s->region;
	r->raw = s->raw;
	r->raw_dtype = s->raw_dtype;
	r->name = put_string(pool, s->name);
	r->path = put_string(pool, s->path);
	r->to = put_string(pool, s->to);
	r->tensor = put_string(pool, s->tensor);
	r->caller = put_string(pool, s->caller);
	r->not_caller = put_string(pool, s->not_caller);
	r->std = s->std;
	r->fraction_ppm = s->fraction_ppm;
	r->noise = (uint8_t)s->noise;
	r->bit = s->region == MC_REGION_TENSORS ? s->bit : MC_BIT_NONE;
	r->signo = (uint8_t)s->signo;
	r->processes_ppm = s->processes_ppm;
	r->bytes = s->bytes;
	r->hog_rate_bps = s->hog_rate_bps;
	r->distribution = (uint8_t)s->distribution;
	mc_engine_latency_params(s, &r->dist_a, &r->dist_b);
	r->times_own = s->times_own;
	r->bandwidth = s->bandwidth;
	r->iops = s->iops;
	r->at_bytes = s->at_bytes;
	r->at_ppm = s->at_ppm;
	r->at_share = s->at_share;
	r->json_path = put_string(pool, s->json_path);
}

/* Group enabled rules by hook, keeping file order within each hook. */
/* What a hook must gather for this rule before asking the engine. */
static uint32_t needs_of(const struct mc_erule *r)
{
	uint32_t needs = 0;
	if (r->checks & MC_CHECK_PATH)
		needs |= MC_NEEDS_PATH;
	if (r->checks & MC_CHECK_PORT)
		needs |= MC_NEEDS_PORT;
	if (r->select == MC_SELECT_REQUEST && r->rate_ppm < MC_RATE_ONE && r->rate_ppm > 0)
		needs |= MC_NEEDS_KEY;
	if (r->replay && r->replay->n_keys) /* replay_key: the key says which calls */
		needs |= MC_NEEDS_KEY;
	if (r->checks & MC_CHECK_TENSORS)
		needs |= MC_NEEDS_TENSORS;
	/* the key of a stream's bytes comes with them; a send's bytes bring none */
	if ((needs & MC_NEEDS_KEY) && r->action == MC_ACTION_CORRUPT && r->hook == MC_HOOK_READ)
		needs |= MC_NEEDS_STREAM;
	if (r->checks & MC_CHECK_CALLER)
		needs |= MC_NEEDS_CALLER;
	return needs;
}

static void index_rules(struct mc_ruleset *rs)
{
	unsigned n = 0;

	for (unsigned h = 0; h < MC_HOOK_COUNT; h++) {
		rs->hook_start[h] = (uint16_t)n;
		for (unsigned i = 0; i < rs->n_rules; i++) {
			const struct mc_erule *r = &rs->rules[i];

			if (r->enabled && r->hook == h) {
				rs->slots[n++] =
				    (struct mc_slot){ .checks = r->checks,
					              .rate_ppm = r->rate_ppm,
					              .call_threshold =
					                  mc_call_threshold(r->rate_ppm),
					              .id = r->id,
					              .select = r->select };
				rs->armed |= MC_HOOK_BIT(h);
				rs->hook_needs[h] |= needs_of(r);
				if (needs_of(r) & MC_NEEDS_STREAM)
					rs->stream.w[r->id / 64] |= 1ull << (r->id % 64);
			}
		}
	}
	rs->hook_start[MC_HOOK_COUNT] = (uint16_t)n;
	for (unsigned i = 0; i < rs->n_rules; i++)
		if (rs->rules[i].enabled && rs->rules[i].path)
			rs->path_ids[rs->n_path++] = (uint16_t)i;
}

static size_t strings_size(const struct mc_config *cfg)
{
	size_t size = 0;

	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct mc_rule_spec *s = &cfg->rules[i];

		size += strlen(s->name) + 1;
		size += s->path ? strlen(s->path) + 1 : 0;
		size += s->to ? strlen(s->to) + 1 : 0;
		size += s->tensor ? strlen(s->tensor) + 1 : 0;
		size += s->caller ? strlen(s->caller) + 1 : 0;
		size += s->not_caller ? strlen(s->not_caller) + 1 : 0;
		size += s->json_path ? strlen(s->json_path) + 1 : 0;
	}
	return size;
}

int mc_engine_build(const struct mc_config *cfg, const struct mc_proc *proc,
                    struct mc_ruleset **ret_rs)
{
	struct mc_ruleset *rs;
	size_t size, replay_bytes = 0;
	char *pool, *replay_pool;

	*ret_rs = NULL;
	if (cfg->n_rules > MC_MAX_RULES)
		return -EINVAL;
	size = sizeof(*rs) + cfg->n_rules * sizeof(rs->rules[0]);
	for (unsigned i = 0; i < cfg->n_rules; i++)
		replay_bytes += mc_replay_size(&cfg->rules[i]);
	rs = calloc(1, size + replay_bytes + strings_size(cfg));
	if (!rs)
		return -ENOMEM;
	rs->seed = cfg->seed;
	rs->max_faults = cfg->max_faults;
	rs->n_rules = cfg->n_rules;
	/* the replay lists (8-aligned, as the rules end), then the strings */
	replay_pool = (char *)&rs->rules[cfg->n_rules];
	pool = replay_pool + replay_bytes;
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		compile_rule(cfg, &cfg->rules[i], i, proc, &pool, &rs->rules[i]);
		rs->rules[i].replay =
		    mc_replay_compile(&cfg->rules[i], rs->rules[i].name_seed, &replay_pool);
	}
	index_rules(rs);
	mc_engine_index(rs); /* built once here: the rule set is immutable from now on */
	*ret_rs = rs;
	return 0;
}

void mc_engine_free(struct mc_ruleset *rs)
{
	free(rs);
}

uint32_t mc_engine_armed_hooks(const struct mc_ruleset *rs)
{
	return rs->armed;
}

unsigned mc_engine_rule_count(const struct mc_ruleset *rs)
{
	return rs->n_rules;
}

const struct mc_erule *mc_engine_rule(const struct mc_ruleset *rs, unsigned id)
{
	return id < rs->n_rules ? &rs->rules[id] : NULL;
}

int mc_engine_rule_id(const struct mc_ruleset *rs, const char *name)
{
	for (unsigned i = 0; i < rs->n_rules; i++)
		if (strcmp(rs->rules[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

uint32_t mc_engine_hook_needs(const struct mc_ruleset *rs, enum mc_hook h)
{
	return (unsigned)h < MC_HOOK_COUNT ? rs->hook_needs[h] : 0;
}

uint64_t mc_engine_max_faults(const struct mc_ruleset *rs)
{
	return rs->max_faults;
}

uint64_t mc_engine_seed(const struct mc_ruleset *rs)
{
	return rs->seed;
}

bool mc_engine_match_path(const struct mc_ruleset *rs, const char *abs_path,
                          struct mc_rulemask *ret)
{
	bool any = false;

	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < rs->n_path; i++) {
		const struct mc_erule *r = &rs->rules[rs->path_ids[i]];

		if (mc_glob_match(r->path, abs_path)) {
			ret->w[r->id / 64] |= 1ull << (r->id % 64);
			any = true;
		}
	}
	return any;
}

uint64_t mc_engine_file_id(const char *abs_path)
{
	return XXH3_64bits(abs_path, strlen(abs_path));
}

bool mc_engine_tensor_target(const struct mc_ruleset *rs, const struct mc_rulemask *path_rules)
{
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct mc_erule *r = &rs->rules[i];

		if (!r->enabled || r->action != MC_ACTION_CORRUPT ||
		    r->region != MC_REGION_TENSORS || r->raw)
			continue; /* format = raw needs no recogniser */
		if (!r->path || (path_rules && (path_rules->w[r->id / 64] >> (r->id % 64)) & 1))
			return true;
	}
	return false;
}
