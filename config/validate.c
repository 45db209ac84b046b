/* validate.c: the checks that need a whole section or the whole file: required keys, keys
 * that do not fit the rule's hook or action, hook/action pairs that make no sense, errnos a
 * hook cannot return, and defaults that depend on other keys. Reports, never stops early. */
#include <errno.h>
#include <string.h>

#include "formats/tensors.h"
#include "internal.h"

#define ACT(a) MC_ACTION_BIT(MC_ACTION_##a)

#define FAMILY_ACTIONS(id, name, actions, ...)        [MC_HOOK_##id] = (actions),
#define FAMILY_TRAITS(id, name, actions, traits, ...) [MC_HOOK_##id] = (traits),

uint32_t mc_cfg_hook_actions(enum mc_hook hook)
{
	static const uint32_t actions[MC_HOOK_COUNT] = { MC_FAMILIES(FAMILY_ACTIONS) };

	return (unsigned)hook < MC_HOOK_COUNT ? actions[hook] : 0;
}

uint32_t mc_cfg_hooks_with(uint32_t traits)
{
	static const uint32_t has[MC_HOOK_COUNT] = { MC_FAMILIES(FAMILY_TRAITS) };
	uint32_t mask = 0;

	for (int h = 0; h < MC_HOOK_COUNT; h++)
		if (has[h] & traits)
			mask |= MC_HOOK_BIT(h);
	return mask;
}

uint32_t mc_cfg_hooks_taking(uint32_t actions)
{
	uint32_t mask = 0;

	for (int h = 0; h < MC_HOOK_COUNT; h++)
		if (mc_cfg_hook_actions((enum mc_hook)h) & actions)
			mask |= MC_HOOK_BIT(h);
	return mask;
}

static uint32_t hooks_taking(enum mc_action action)
{
	return mc_cfg_hooks_taking(MC_ACTION_BIT(action));
}

static bool key_set(const struct mc_rule_lines *lines, enum mc_rkey k)
{
	return lines->key[k] != 0;
}

/* Set with a value that parsed: later checks may trust the field. */
static bool key_ok(const struct mc_rule_lines *lines, enum mc_rkey k)
{
	return lines->key[k] != 0 && !(lines->bad & (1ull << k));
}

/* "rule 'x' has no hook: add hook = a, b or c": key names the missing key, list (as
 * mc_cfg_hooks_text() writes it, "a, b, c") the words it takes. */
static void missing_word(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r, const char *key,
                         char *list)
{
	char *last = strrchr(list, ','); /* "a, b, c" -> "a, b or c" */
	if (last)
		*last = '\0';
	mc_cfg_error(ctx, r->line, "rule '%s' has no %s: add %s = %s%s%s", r->name, key, key, list,
	             last ? " or" : "", last ? last + 1 : "");
}

static void check_required(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                           const struct mc_rule_lines *lines)
{
	char every[256];
	if (!key_set(lines, MC_RKEY_HOOK)) {
		mc_cfg_hooks_text(MC_HOOKS_ALL, every, sizeof(every));
		missing_word(ctx, r, "hook", every);
	}
	if (!key_set(lines, MC_RKEY_ACTION)) {
		mc_cfg_actions_text(MC_ACTIONS_ALL, every, sizeof(every));
		missing_word(ctx, r, "action", every);
	}
	if (!key_ok(lines, MC_RKEY_ACTION))
		return;
	if ((r->action == MC_ACTION_DELAY || r->action == MC_ACTION_BURN) &&
	    !key_set(lines, MC_RKEY_DELAY) && !key_set(lines, MC_RKEY_DISTRIBUTION) &&
	    !key_set(lines, MC_RKEY_SCALE))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = %s needs delay = <duration>, such as 200ms (or "
		             "distribution = lognormal with p50 and p99)",
		             r->name, mc_action_name(r->action));
	if (r->action == MC_ACTION_LEAK && !key_set(lines, MC_RKEY_BYTES))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = leak needs bytes = <size> leaked per selected "
		             "call, such as 1MiB",
		             r->name);
	if (r->action == MC_ACTION_HOG && !key_set(lines, MC_RKEY_BYTES))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = hog needs bytes = <size> of memory to hold, such "
		             "as 512MiB",
		             r->name);
	if (r->action == MC_ACTION_SHORT && !key_set(lines, MC_RKEY_MAX_BYTES))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = short needs max_bytes = <size>, such as 1",
		             r->name);
	if (r->action == MC_ACTION_THROTTLE && !key_set(lines, MC_RKEY_BANDWIDTH) &&
	    !key_set(lines, MC_RKEY_IOPS))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = throttle needs bandwidth = <size>/s (such as "
		             "50MiB/s), iops = <calls per second>, or both",
		             r->name);
	if (r->action == MC_ACTION_TRUNCATE && !key_set(lines, MC_RKEY_AT))
		mc_cfg_error(
		    ctx, r->line,
		    "rule '%s': action = truncate needs at = <size> or <share>%%, where the "
		    "file appears to end (such as at = 50%%)",
		    r->name);
	if (r->action == MC_ACTION_REDIRECT && !key_set(lines, MC_RKEY_TO))
		mc_cfg_error(
		    ctx, r->line,
		    "rule '%s': action = redirect needs to = <absolute path> of the file to "
		    "open instead",
		    r->name);
}

/* Each key the rule sets must make sense for its hook and its action. */
static void check_applicable(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                             const struct mc_rule_lines *lines, bool hook_ok, bool action_ok)
{
	char list[128];

	for (int k = MC_RKEY_ACTION + 1; k < MC_RKEY_N; k++) {
		uint32_t hooks = mc_cfg_rkey_hooks((enum mc_rkey)k);
		uint32_t actions = mc_cfg_rkey_actions((enum mc_rkey)k);

		if (!lines->key[k])
			continue;
		if (hook_ok && !(hooks & MC_HOOK_BIT(r->hook))) {
			mc_cfg_hooks_text(hooks, list, sizeof(list));
			mc_cfg_error(ctx, lines->key[k],
			             "%s does not apply to hook = %s (only to hook = %s)",
			             mc_cfg_rkey_name((enum mc_rkey)k), mc_hook_name(r->hook),
			             list);
		} else if (action_ok && !(actions & MC_ACTION_BIT(r->action))) {
			mc_cfg_actions_text(actions, list, sizeof(list));
			mc_cfg_error(ctx, lines->key[k],
			             "%s does not apply to action = %s (only to action = %s)",
			             mc_cfg_rkey_name((enum mc_rkey)k), mc_action_name(r->action),
			             list);
		}
	}
}

static void check_errnos(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                         const struct mc_rule_lines *lines, bool hook_ok)
{
	char list[512];

	if (!hook_ok)
		return;
	if (key_ok(lines, MC_RKEY_ERRNO) &&
	    (mc_cfg_hooks_with(MC_TRAIT_CUDA) & MC_HOOK_BIT(r->hook))) {
		mc_cfg_error(ctx, lines->key[MC_RKEY_ERRNO],
		             "errno does not apply to hook = %s: a CUDA call fails with a CUDA "
		             "error (write error = illegal_address, out_of_memory... or a number)",
		             mc_hook_name(r->hook));
	} else if (key_ok(lines, MC_RKEY_ERRNO)) {
		for (unsigned i = 0; i < r->n_errnos; i++) {
			if (mc_cfg_errno_allowed(r->hook, r->errnos[i]))
				continue;
			mc_cfg_errno_list(r->hook, list, sizeof(list));
			mc_cfg_error(ctx, lines->key[MC_RKEY_ERRNO],
			             "errno %s is not one that hook = %s functions return (use one "
			             "of %s)",
			             mc_errno_name(r->errnos[i]), mc_hook_name(r->hook), list);
		}
	}
	if (r->action == MC_ACTION_FAIL && r->n_errnos == 0) {
		r->errnos[0] = mc_cfg_default_errno(r->hook);
		r->n_errnos = 1;
	}
}

static void check_values(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                         const struct mc_rule_lines *lines)
{
	if (key_set(lines, MC_RKEY_OOM) && !key_set(lines, MC_RKEY_BUDGET))
		mc_cfg_error(ctx, lines->key[MC_RKEY_OOM],
		             "oom needs budget = <size>: it says what happens when the budget is "
		             "exceeded");
	if (key_ok(lines, MC_RKEY_MIN_SIZE) && key_ok(lines, MC_RKEY_MAX_SIZE) &&
	    r->min_size > r->max_size)
		mc_cfg_error(ctx, lines->key[MC_RKEY_MAX_SIZE],
		             "max_size is smaller than min_size (line %d): no size can match",
		             lines->key[MC_RKEY_MIN_SIZE]);
	/* value modes count values per tensor (up to the parser's limit); byte modes count
	 * bytes per 4 KiB, and so does zero on the tensors that are not float */
	if (key_ok(lines, MC_RKEY_COUNT) && key_ok(lines, MC_RKEY_MODE) &&
	    r->count != MC_COUNT_ALL && r->mode != MC_CORRUPT_BITFLIP && r->mode < MC_CORRUPT_NAN &&
	    r->count > 4096)
		mc_cfg_error(ctx, lines->key[MC_RKEY_COUNT],
		             "count = %u is more than the 4096 bytes of a 4 KiB page%s", r->count,
		             r->mode == MC_CORRUPT_ZERO && r->region == MC_REGION_TENSORS
		                 ? " (mode = zero also counts bytes in the tensors that are "
		                   "not float)"
		                 : "");
}

/* region = tensors and what only it allows: a tensor glob, and the value modes, which need a
 * tensor map to find whole float elements. */
static void check_region(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                         const struct mc_rule_lines *lines)
{
	bool tensors = key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_TENSORS;

	if (!key_ok(lines, MC_RKEY_ACTION) || r->action != MC_ACTION_CORRUPT)
		return; /* region, tensor and mode were reported as not applying */
	if (key_set(lines, MC_RKEY_TENSOR) && !key_set(lines, MC_RKEY_REGION))
		mc_cfg_error(ctx, lines->key[MC_RKEY_TENSOR],
		             "tensor needs region = tensors: add region = tensors so that only "
		             "the tensors it names are damaged");
	else if (key_set(lines, MC_RKEY_TENSOR) && key_ok(lines, MC_RKEY_REGION) && !tensors)
		mc_cfg_error(ctx, lines->key[MC_RKEY_TENSOR],
		             "tensor needs region = tensors, but region = any (line %d): tensor "
		             "names exist only in a tensor map",
		             lines->key[MC_RKEY_REGION]);
	bool json = key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_JSON;
	if (key_ok(lines, MC_RKEY_MODE) && r->mode >= MC_CORRUPT_NAN && !tensors && !json &&
	    r->mode != MC_CORRUPT_SWAP)
		mc_cfg_error(ctx, lines->key[MC_RKEY_MODE],
		             "mode = %s needs region = tensors: it changes whole float values, "
		             "which only the tensor map of a recognised model file locates (add "
		             "region = tensors, or use a byte mode: bitflip, zero, random, "
		             "byte:0xNN)",
		             mc_corrupt_mode_name(r->mode));
}

/* The keys of graded damage: std and noise go with mode = noise, bit with bitflip, and
 * count = all, fraction and bit need the tensor map (they count or address values). */
static void check_graded(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                         const struct mc_rule_lines *lines)
{
	bool tensors = key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_TENSORS;
	bool noise = key_ok(lines, MC_RKEY_MODE) && r->mode == MC_CORRUPT_NOISE;
	bool all = key_ok(lines, MC_RKEY_COUNT) && r->count == MC_COUNT_ALL;

	if (!key_ok(lines, MC_RKEY_ACTION) || r->action != MC_ACTION_CORRUPT)
		return;
	if (noise && !key_set(lines, MC_RKEY_STD))
		mc_cfg_error(ctx, lines->key[MC_RKEY_MODE],
		             "mode = noise needs std = <positive number>, the standard deviation "
		             "of the noise, such as std = 0.01");
	if (key_set(lines, MC_RKEY_STD) && key_ok(lines, MC_RKEY_MODE) && !noise)
		mc_cfg_error(ctx, lines->key[MC_RKEY_STD],
		             "std needs mode = noise, but mode = %s (line %d)",
		             mc_corrupt_mode_name(r->mode), lines->key[MC_RKEY_MODE]);
	else if (key_set(lines, MC_RKEY_STD) && !key_set(lines, MC_RKEY_MODE))
		mc_cfg_error(ctx, lines->key[MC_RKEY_STD],
		             "std needs mode = noise: add mode = noise and region = tensors");
	if (key_set(lines, MC_RKEY_NOISE) && !noise)
		mc_cfg_error(ctx, lines->key[MC_RKEY_NOISE],
		             "noise needs mode = noise: it says whether the noise is relative to "
		             "the value or added to it");
	if (key_set(lines, MC_RKEY_FRACTION) && key_set(lines, MC_RKEY_COUNT))
		mc_cfg_error(ctx, lines->key[MC_RKEY_FRACTION],
		             "fraction and count (line %d) both say how many values to damage: "
		             "keep one",
		             lines->key[MC_RKEY_COUNT]);
	if (key_set(lines, MC_RKEY_FRACTION) && !tensors)
		mc_cfg_error(ctx, lines->key[MC_RKEY_FRACTION],
		             "fraction needs region = tensors: it is a share of each tensor's "
		             "values");
	if (all && !tensors && !(key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_JSON))
		mc_cfg_error(ctx, lines->key[MC_RKEY_COUNT],
		             "count = all needs region = tensors: it damages every value of each "
		             "selected tensor (write a number of positions per 4 KiB instead)");
	if (key_set(lines, MC_RKEY_BIT) && key_ok(lines, MC_RKEY_MODE) &&
	    r->mode != MC_CORRUPT_BITFLIP)
		mc_cfg_error(ctx, lines->key[MC_RKEY_BIT],
		             "bit needs mode = bitflip, but mode = %s (line %d)",
		             mc_corrupt_mode_name(r->mode), lines->key[MC_RKEY_MODE]);
	else if (key_set(lines, MC_RKEY_BIT) && !tensors)
		mc_cfg_error(ctx, lines->key[MC_RKEY_BIT],
		             "bit needs region = tensors: it numbers the bits of a value, which "
		             "only the tensor map of a recognised model file locates");
}

/* region = json changes the numbers of a JSON body on a socket, read or sent, by the modes that
 * keep it JSON; corrupt on send takes nothing else (other damage would break the framing). */
static void check_json(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                       const struct mc_rule_lines *lines)
{
	bool json = key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_JSON;
	bool mode = key_ok(lines, MC_RKEY_MODE);
	bool hook = key_ok(lines, MC_RKEY_HOOK);

	if (!key_ok(lines, MC_RKEY_ACTION) || r->action != MC_ACTION_CORRUPT)
		return;
	if (hook && r->hook == MC_HOOK_SEND && !json && !key_set(lines, MC_RKEY_REGION))
		mc_cfg_error(
		    ctx, r->line,
		    "rule '%s': hook = send takes action = corrupt with region = json only "
		    "(add region = json: the numbers of a JSON answer change in place; "
		    "other damage would break the protocol's framing)",
		    r->name);
	else if (hook && r->hook == MC_HOOK_SEND && key_ok(lines, MC_RKEY_REGION) && !json)
		mc_cfg_error(ctx, lines->key[MC_RKEY_REGION],
		             "hook = send takes region = json only: other damage would break the "
		             "protocol's framing");
	if (json && hook && r->hook != MC_HOOK_READ && r->hook != MC_HOOK_SEND)
		mc_cfg_error(ctx, lines->key[MC_RKEY_REGION],
		             "region = json needs hook = read (requests arriving) or hook = send "
		             "(answers leaving)");
	if (json && !key_set(lines, MC_RKEY_MODE))
		mc_cfg_error(ctx, lines->key[MC_RKEY_REGION],
		             "region = json needs mode = noise, zero, nan, sign or swap");
	else if (json && mode && r->mode != MC_CORRUPT_NOISE && r->mode != MC_CORRUPT_ZERO &&
	         r->mode != MC_CORRUPT_NAN && r->mode != MC_CORRUPT_SIGN &&
	         r->mode != MC_CORRUPT_SWAP)
		mc_cfg_error(ctx, lines->key[MC_RKEY_MODE],
		             "mode = %s does not apply to region = json (use noise, zero, nan, "
		             "sign or swap: they keep the body JSON)",
		             mc_corrupt_mode_name(r->mode));
	if (mode && r->mode == MC_CORRUPT_SWAP && !json)
		mc_cfg_error(ctx, lines->key[MC_RKEY_MODE],
		             "mode = swap needs region = json: it exchanges two numbers of a JSON "
		             "body");
	if (key_set(lines, MC_RKEY_JSON_PATH) && !json)
		mc_cfg_error(
		    ctx, lines->key[MC_RKEY_JSON_PATH],
		    "json_path needs region = json: it names the field of a JSON body whose "
		    "numbers change");
}

/* format = raw declares the layout of a headerless file: the data's dtype, and where it lies
 * (offset); only region = tensors reads a layout, and dtype means nothing without raw. */
static void check_raw(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                      const struct mc_rule_lines *lines)
{
	bool raw = key_ok(lines, MC_RKEY_FORMAT) && r->raw;
	bool tensors = key_ok(lines, MC_RKEY_REGION) && r->region == MC_REGION_TENSORS;

	if (!key_ok(lines, MC_RKEY_ACTION) || r->action != MC_ACTION_CORRUPT ||
	    (key_ok(lines, MC_RKEY_HOOK) &&
	     !(mc_cfg_hook_actions(r->hook) & MC_ACTION_BIT(r->action))))
		return; /* format and dtype were reported as not applying */
	if (raw && !tensors)
		mc_cfg_error(ctx, lines->key[MC_RKEY_FORMAT],
		             "format = raw needs region = tensors: the declared data is damaged as "
		             "one tensor named raw (add region = tensors)");
	if (raw && !key_set(lines, MC_RKEY_DTYPE))
		mc_cfg_error(ctx, lines->key[MC_RKEY_FORMAT],
		             "format = raw needs dtype: say what the headerless data holds (f32, "
		             "f16, bf16, f64, f8_e4m3, f8_e5m2, i8, u8, i16, u16, i32, u32, i64, "
		             "u64, bool, or GGUF blocks: q4_0 ... q8_k)");
	if (key_set(lines, MC_RKEY_DTYPE) && !raw && !key_set(lines, MC_RKEY_FORMAT))
		mc_cfg_error(ctx, lines->key[MC_RKEY_DTYPE],
		             "dtype needs format = raw: a recognised model file's header gives its "
		             "dtypes (add format = raw for a headerless file)");
	else if (key_set(lines, MC_RKEY_DTYPE) && key_ok(lines, MC_RKEY_FORMAT) && !raw)
		mc_cfg_error(ctx, lines->key[MC_RKEY_DTYPE],
		             "dtype needs format = raw, but format = auto (line %d): a recognised "
		             "model file's header gives its dtypes",
		             lines->key[MC_RKEY_FORMAT]);
	if (raw && key_ok(lines, MC_RKEY_DTYPE) && key_ok(lines, MC_RKEY_MODE) &&
	    r->mode >= MC_CORRUPT_NAN && !mc_dtype_is_float((enum mc_dtype)r->raw_dtype) &&
	    !mc_dtype_is_block((enum mc_dtype)r->raw_dtype))
		mc_cfg_error(ctx, lines->key[MC_RKEY_MODE],
		             "mode = %s changes float values, but dtype = %s (line %d) is not a "
		             "float type: use a byte mode (bitflip, zero, random, byte:0xNN)",
		             mc_corrupt_mode_name(r->mode),
		             mc_dtype_name((enum mc_dtype)r->raw_dtype), lines->key[MC_RKEY_DTYPE]);
}

static bool from_distribution(const struct mc_rule_spec *r, const struct mc_rule_lines *lines)
{
	return key_ok(lines, MC_RKEY_DISTRIBUTION) && r->distribution != MC_DIST_FIXED;
}

/* p50 and p99 of a distribution: both, the second above the first; a uniform one also starts
 * at 0 or later (its p99 is at most 1.98 times its p50). */
static void check_percentiles(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                              const struct mc_rule_lines *lines, bool by_scale)
{
	const char *name = mc_cfg_distribution_name(r->distribution);
	int p50 = lines->key[MC_RKEY_P50], p99 = lines->key[MC_RKEY_P99];

	if (by_scale) {
		if (p50 || p99)
			mc_cfg_error(
			    ctx, p50 ? p50 : p99,
			    "distribution = %s takes p50 and p99, or scale and shape (line "
			    "%d), not both: keep one pair",
			    name, lines->key[MC_RKEY_SCALE]);
		return;
	}
	if (!p50 || !p99) {
		mc_cfg_error(ctx, lines->key[MC_RKEY_DISTRIBUTION],
		             "distribution = %s needs p50 and p99, such as p50 = 20ms and p99 = "
		             "200ms%s",
		             name,
		             r->distribution == MC_DIST_LOGNORMAL ||
		                     r->distribution == MC_DIST_PARETO
		                 ? " (or scale = <duration> and shape)"
		                 : "");
		return;
	}
	if (!key_ok(lines, MC_RKEY_P50) || !key_ok(lines, MC_RKEY_P99))
		return;
	if (r->p99_ns <= r->p50_ns)
		mc_cfg_error(ctx, p99,
		             "p99 is %s p50 (line %d): the 99th percentile must be above the "
		             "median",
		             r->p99_ns < r->p50_ns ? "below" : "equal to", p50);
	else if (r->distribution == MC_DIST_UNIFORM && r->p99_ns - r->p50_ns > r->p50_ns / 100 * 98)
		mc_cfg_error(ctx, p99,
		             "a uniform delay with p99 more than 1.98 times p50 (line %d) would "
		             "start below 0: lower p99, or use distribution = lognormal",
		             p50);
}

/* The keys of the timed actions (delay, hang, burn): a fixed delay, a distribution, or a
 * multiple of the call's own duration, one of them. */
static void check_timed(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                        const struct mc_rule_lines *lines)
{
	bool dist = from_distribution(r, lines);
	bool times_own = key_ok(lines, MC_RKEY_SCALE) && r->times_own > 0;
	bool by_scale = key_ok(lines, MC_RKEY_SCALE) && r->scale_ns > 0;
	int delay =
	    lines->key[MC_RKEY_DELAY] ? lines->key[MC_RKEY_DELAY] : lines->key[MC_RKEY_JITTER];

	if (!key_ok(lines, MC_RKEY_ACTION) ||
	    !(r->action == MC_ACTION_DELAY || r->action == MC_ACTION_HANG ||
	      r->action == MC_ACTION_BURN))
		return; /* the keys were reported as not applying */
	if (dist && delay)
		mc_cfg_error(ctx, delay,
		             "%s and distribution = %s (line %d): the delay is drawn from p50 and "
		             "p99 (or scale and shape), remove %s",
		             lines->key[MC_RKEY_DELAY] ? "delay" : "jitter",
		             mc_cfg_distribution_name(r->distribution),
		             lines->key[MC_RKEY_DISTRIBUTION],
		             lines->key[MC_RKEY_DELAY] ? "delay" : "jitter");
	if (dist)
		check_percentiles(ctx, r, lines, by_scale);
	if (by_scale && !dist)
		mc_cfg_error(
		    ctx, lines->key[MC_RKEY_SCALE],
		    "scale = <duration> is a distribution's scale: add distribution = "
		    "lognormal or pareto (or write scale = 10 for ten times the call's own "
		    "duration)");
	if (by_scale && dist && r->distribution != MC_DIST_LOGNORMAL &&
	    r->distribution != MC_DIST_PARETO)
		mc_cfg_error(ctx, lines->key[MC_RKEY_SCALE],
		             "scale and shape describe distribution = lognormal or pareto, not %s "
		             "(line %d): give p50 and p99",
		             mc_cfg_distribution_name(r->distribution),
		             lines->key[MC_RKEY_DISTRIBUTION]);
	if (by_scale && !key_set(lines, MC_RKEY_SHAPE))
		mc_cfg_error(
		    ctx, lines->key[MC_RKEY_SCALE],
		    "scale = <duration> needs shape (lognormal: sigma, such as 0.5; pareto: "
		    "alpha, such as 1.5)");
	if (key_set(lines, MC_RKEY_SHAPE) && !by_scale)
		mc_cfg_error(
		    ctx, lines->key[MC_RKEY_SHAPE],
		    "shape needs scale = <duration> and distribution = lognormal or pareto");
	if ((key_set(lines, MC_RKEY_P50) || key_set(lines, MC_RKEY_P99)) && !dist)
		mc_cfg_error(ctx,
		             lines->key[MC_RKEY_P50] ? lines->key[MC_RKEY_P50]
		                                     : lines->key[MC_RKEY_P99],
		             "%s needs distribution = uniform, lognormal, pareto or bimodal",
		             lines->key[MC_RKEY_P50] ? "p50" : "p99");
	if (times_own && (r->action != MC_ACTION_DELAY || dist || delay))
		mc_cfg_error(ctx, lines->key[MC_RKEY_SCALE],
		             "scale = %g (times the call's own duration) goes alone with action = "
		             "delay: no delay, jitter or distribution",
		             r->times_own);
	if (times_own && key_ok(lines, MC_RKEY_HOOK) && r->hook != MC_HOOK_READ &&
	    r->hook != MC_HOOK_SEND && r->hook != MC_HOOK_WRITE)
		mc_cfg_error(ctx, lines->key[MC_RKEY_SCALE],
		             "scale = %g measures the call it slows: hook = read, send or write, "
		             "not %s",
		             r->times_own, mc_hook_name(r->hook));
}

/* rate = N MiB/s is a hog's ramp; a hog takes no share of calls (it starts at the first call
 * of its window). */
static void check_hog_rate(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                           const struct mc_rule_lines *lines)
{
	int line = lines->key[MC_RKEY_RATE];

	if (!line || !key_ok(lines, MC_RKEY_ACTION) || !key_ok(lines, MC_RKEY_RATE))
		return;
	if (r->hog_rate_bps && r->action != MC_ACTION_HOG)
		mc_cfg_error(
		    ctx, line,
		    "rate in bytes per second is the ramp of action = hog; for action = %s "
		    "write a share of the calls, such as 5%%",
		    mc_action_name(r->action));
	else if (!r->hog_rate_bps && r->action == MC_ACTION_HOG)
		mc_cfg_error(ctx, line,
		             "action = hog takes rate as a ramp with a unit per second, such as "
		             "rate = 50MiB/s (a hog starts at the first call of its window: no "
		             "share of calls selects it)");
}

static void check_select(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                         const struct mc_rule_lines *lines)
{
	const struct mc_config *cfg = ctx->cfg;

	if (!key_set(lines, MC_RKEY_SELECT)) {
		r->select = cfg->request_key == MC_KEY_NONE ? MC_SELECT_CALL : MC_SELECT_REQUEST;
		return;
	}
	if (key_ok(lines, MC_RKEY_SELECT) && r->select == MC_SELECT_REQUEST &&
	    cfg->request_key == MC_KEY_NONE)
		mc_cfg_error(ctx, lines->key[MC_RKEY_SELECT],
		             "select = request needs a request key, but [mlchaos] has "
		             "request_key = none (line %d): use select = call",
		             ctx->global_key[MC_GKEY_REQUEST_KEY]);
}

static void validate_rule(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                          const struct mc_rule_lines *lines)
{
	bool hook_ok = key_ok(lines, MC_RKEY_HOOK);
	bool action_ok = key_ok(lines, MC_RKEY_ACTION);
	char list[128];

	check_required(ctx, r, lines);
	if (hook_ok && action_ok && !(mc_cfg_hook_actions(r->hook) & MC_ACTION_BIT(r->action))) {
		mc_cfg_hooks_text(hooks_taking(r->action), list, sizeof(list));
		mc_cfg_error(ctx, lines->key[MC_RKEY_ACTION],
		             "hook = %s cannot take action = %s (%s works on hook = %s)",
		             mc_hook_name(r->hook), mc_action_name(r->action),
		             mc_action_name(r->action), list);
		action_ok = false; /* no cascade of "does not apply to action" */
	}
	check_applicable(ctx, r, lines, hook_ok, action_ok);
	check_errnos(ctx, r, lines, hook_ok);
	check_values(ctx, r, lines);
	check_region(ctx, r, lines);
	check_graded(ctx, r, lines);
	check_raw(ctx, r, lines);
	check_timed(ctx, r, lines);
	check_hog_rate(ctx, r, lines);
	check_json(ctx, r, lines);
	/* one hog per window: the calls after the one that started it are left alone */
	if (action_ok && r->action == MC_ACTION_HOG && !key_set(lines, MC_RKEY_TIMES))
		r->times = 1;
	check_select(ctx, r, lines);
	mc_cfg_validate_replay(ctx, r, lines);
}

static void validate_global(struct mc_cfg_ctx *ctx)
{
	struct mc_config *cfg = ctx->cfg;

	if (ctx->global_key[MC_GKEY_HALT_WINDOW] && !ctx->global_key[MC_GKEY_HALT_ON_ERROR_RATE])
		mc_cfg_error(ctx, ctx->global_key[MC_GKEY_HALT_WINDOW],
		             "halt_window needs halt_on_error_rate: it is the window that rate is "
		             "measured over");
	if (cfg->halt_on_error_rate_ppm && !cfg->halt_window)
		cfg->halt_window = MC_HALT_WINDOW_DEFAULT;
}

void mc_cfg_validate(struct mc_cfg_ctx *ctx)
{
	validate_global(ctx);
	for (unsigned i = 0; i < ctx->cfg->n_rules; i++)
		validate_rule(ctx, &ctx->cfg->rules[i], &ctx->rule_lines[i]);
}
