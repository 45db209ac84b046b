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

static void check_required(struct mc_cfg_ctx *ctx, const struct mc_rule_spec *r,
                           const struct mc_rule_lines *lines)
{
	if (!key_set(lines, MC_RKEY_HOOK)) {
		char every[256];
		mc_cfg_hooks_text(MC_HOOKS_ALL, every, sizeof(every));
		char *last = strrchr(every, ','); /* "a, b, c" -> "a, b or c" */
		if (last)
			*last = '\0';
		mc_cfg_error(ctx, r->line, "rule '%s' has no hook: add hook = %s%s%s", r->name,
		             every, last ? " or" : "", last ? last + 1 : "");
	}
	if (!key_set(lines, MC_RKEY_ACTION))
		mc_cfg_error(ctx, r->line,
		             "rule '%s' has no action: add action = delay, fail, short, corrupt or "
		             "redirect",
		             r->name);
	if (!key_ok(lines, MC_RKEY_ACTION))
		return;
	if (r->action == MC_ACTION_DELAY && !key_set(lines, MC_RKEY_DELAY))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = delay needs delay = <duration>, such as 200ms",
		             r->name);
	if (r->action == MC_ACTION_SHORT && !key_set(lines, MC_RKEY_MAX_BYTES))
		mc_cfg_error(ctx, r->line,
		             "rule '%s': action = short needs max_bytes = <size>, such as 1",
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
	if (key_ok(lines, MC_RKEY_MODE) && r->mode >= MC_CORRUPT_NAN && !tensors)
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
	if (all && !tensors)
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
