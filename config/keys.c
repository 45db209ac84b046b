/* keys.c: the keys of [mlchaos] and [fault.<name>]: one table entry each, with the parser
 * that turns its text into the field of struct mc_config or struct mc_rule_spec. Each parser
 * reports its own problem, saying what was wrong and what to write instead. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tensors.h"
#include "internal.h"

typedef int (*rule_parser)(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v);
typedef int (*global_parser)(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v);

struct rule_key {
	const char *name;
	uint32_t traits;  /* the families it applies to have one of these (0: every family) */
	uint32_t actions; /* MC_ACTION_BIT mask it applies to (and to the families taking one) */
	rule_parser parse;
	bool text;       /* free text (a path or glob): may contain '=' */
	bool repeatable; /* may be written on several lines: each adds to a list */
};

struct global_key {
	const char *name;
	global_parser parse;
	bool text;
};

#define TRAIT(t) MC_TRAIT_##t
#define ACT(a)   MC_ACTION_BIT(MC_ACTION_##a)

/* ---- shared helpers ---- */

static int lookup(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

/* "unknown hook 'reed' (did you mean read?)" or "... (hooks: read, send, ...)". */
static void unknown_word(struct mc_cfg_ctx *ctx, const char *what, const char *plural,
                         const char *v, const char *const *names, int n)
{
	const char *hint = mc_cfg_suggest(v, names, (size_t)n);
	char list[256];
	size_t len = 0;

	if (hint) {
		mc_cfg_error(ctx, ctx->lineno, "unknown %s '%s' (did you mean %s?)", what, v, hint);
		return;
	}
	list[0] = '\0';
	for (int i = 0; i < n && len < sizeof(list); i++)
		if (names[i])
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
			                        len ? ", " : "", names[i]);
	mc_cfg_error(ctx, ctx->lineno, "unknown %s '%s' (%s: %s)", what, v, plural, list);
}

static int parse_word(struct mc_cfg_ctx *ctx, const char *v, const char *what, const char *plural,
                      const char *const *names, int n, int *ret)
{
	int i = lookup(v, names, n);

	if (i < 0) {
		unknown_word(ctx, what, plural, v, names, n);
		return -EINVAL;
	}
	*ret = i;
	return 0;
}

static int size_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, uint64_t *ret)
{
	int r = mc_cfg_parse_size(v, ret);

	if (r == -ERANGE)
		mc_cfg_error(ctx, ctx->lineno, "%s '%s' is too large", key, v);
	else if (r < 0)
		mc_cfg_error(ctx, ctx->lineno,
		             "bad size '%s' for %s (write a number with B, KiB, MiB, GiB, TiB, or "
		             "KB, MB, GB, TB for powers of 1000)",
		             v, key);
	return r;
}

static int duration_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, uint64_t *ret)
{
	int r = mc_cfg_parse_duration(v, ret);

	if (r == -ERANGE)
		mc_cfg_error(ctx, ctx->lineno, "%s '%s' is too long", key, v);
	else if (r < 0)
		mc_cfg_error(ctx, ctx->lineno,
		             "bad duration '%s' for %s (write a number with us, ms, s or m, "
		             "such as 200ms)",
		             v, key);
	return r;
}

static int count_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, uint64_t min,
                       uint64_t max, uint64_t *ret)
{
	int r = mc_cfg_parse_u64(v, ret);

	if (r == -EINVAL) {
		mc_cfg_error(ctx, ctx->lineno, "bad number '%s' for %s", v, key);
		return r;
	}
	if (r == 0 && *ret < min) {
		mc_cfg_error(ctx, ctx->lineno, "%s = %s: must be at least %llu", key, v,
		             (unsigned long long)min);
		return -ERANGE;
	}
	if (r < 0 || *ret > max) {
		mc_cfg_error(ctx, ctx->lineno, "%s = %s: must be at most %llu", key, v,
		             (unsigned long long)max);
		return -ERANGE;
	}
	return 0;
}

static int bool_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, bool *ret)
{
	int r = mc_cfg_parse_bool(v, ret);

	if (r < 0)
		mc_cfg_error(ctx, ctx->lineno, "bad value '%s' for %s (write true or false)", v,
		             key);
	return r;
}

static int rate_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, uint32_t *ret)
{
	int r = mc_cfg_parse_rate(v, ret);

	if (r == -ERANGE || (r < 0 && v[0] == '-'))
		mc_cfg_error(ctx, ctx->lineno, "%s '%s' is outside 0%%..100%%", key, v);
	else if (r < 0)
		mc_cfg_error(ctx, ctx->lineno,
		             "bad %s '%s' (write a percentage such as 5%% or "
		             "12.5%%, or a fraction such as 0.05)",
		             key, v);
	return r < 0 ? -EINVAL : 0;
}

static int string_value(struct mc_cfg_ctx *ctx, const char *v, char **ret)
{
	char *copy = strdup(v);

	if (!copy) {
		ctx->oom = true;
		return -ENOMEM;
	}
	free(*ret);
	*ret = copy;
	return 0;
}

static int glob_value(struct mc_cfg_ctx *ctx, const char *key, const char *v, char **ret)
{
	if (mc_glob_check(v) < 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad glob '%s' for %s: unterminated '[' or trailing '\\' (escape a "
		             "literal '[' as '\\[')",
		             v, key);
		return -EINVAL;
	}
	return string_value(ctx, v, ret);
}

/* ---- [fault.<name>] ---- */

static const char *const action_words[MC_ACTION_COUNT] = {
	[MC_ACTION_DELAY] = "delay",       [MC_ACTION_FAIL] = "fail",
	[MC_ACTION_SHORT] = "short",       [MC_ACTION_CORRUPT] = "corrupt",
	[MC_ACTION_REDIRECT] = "redirect", [MC_ACTION_SIGNAL] = "signal",
	[MC_ACTION_HANG] = "hang",         [MC_ACTION_LEAK] = "leak",
	[MC_ACTION_BURN] = "burn",         [MC_ACTION_HOG] = "hog",
	[MC_ACTION_THROTTLE] = "throttle", [MC_ACTION_TRUNCATE] = "truncate",
};

static int parse_hook(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int i, ret = parse_word(ctx, v, "hook", "hooks", mc_cfg_hook_names, MC_HOOK_COUNT, &i);

	if (ret == 0)
		r->hook = (enum mc_hook)i;
	return ret;
}

static int parse_action(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int i, ret = parse_word(ctx, v, "action", "actions", action_words, MC_ACTION_COUNT, &i);

	if (ret == 0)
		r->action = (enum mc_action)i;
	return ret;
}

static int parse_path(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	/* Paths are made absolute before matching: a glob that starts with a plain character
	 * other than '/' could never match anything. */
	if (v[0] != '/' && v[0] != '*' && v[0] != '?' && v[0] != '[') {
		mc_cfg_error(ctx, ctx->lineno,
		             "path glob '%s' can never match: paths are absolute, start it with / "
		             "or * (e.g. */%s)",
		             v, v);
		return -EINVAL;
	}
	return glob_value(ctx, "path", v, &r->path);
}

static int parse_process(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return glob_value(ctx, "process", v, &r->process);
}

static int parse_port(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint64_t port;
	int ret = count_value(ctx, "port", v, 1, 65535, &port);

	if (ret == 0)
		r->port = (uint16_t)port;
	return ret;
}

static int parse_min_size(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return size_value(ctx, "min_size", v, &r->min_size);
}

static int parse_max_size(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return size_value(ctx, "max_size", v, &r->max_size);
}

static int parse_phase(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = {
		[MC_PHASE_ANY] = "any", [MC_PHASE_LOAD] = "load", [MC_PHASE_SERVE] = "serve"
	};
	int i, ret = parse_word(ctx, v, "phase", "phases", words, 3, &i);

	if (ret == 0)
		r->phase = (enum mc_phase)i;
	return ret;
}

/* rate = 50MiB/s: a size per second, the ramp of action = hog (checked against the action in
 * validate.c); a share of calls has no unit, or %. */
static int parse_rate_per_second(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	char size[64];
	size_t len = strlen(v) - 2;

	if (len >= sizeof(size) || len == 0)
		len = 0;
	memcpy(size, v, len);
	size[len] = '\0';
	while (len && (size[len - 1] == ' ' || size[len - 1] == '\t'))
		size[--len] = '\0';
	if (mc_cfg_parse_size(size, &r->hog_rate_bps) < 0 || r->hog_rate_bps == 0) {
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "bad rate '%s' (a ramp is a size per second such as 50MiB/s; a share of "
		    "the calls is a percentage such as 5%%)",
		    v);
		return -EINVAL;
	}
	return 0;
}

static int parse_rate(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	size_t len = strlen(v);
	int ret;

	if (len > 2 && strcmp(v + len - 2, "/s") == 0)
		return parse_rate_per_second(ctx, r, v);
	if (mc_cfg_parse_rate(v, &r->rate_ppm) == -ERANGE && !strchr(v, '%') && v[0] != '-') {
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "rate = %s: a share of the calls is at most 100%% (write 5%% or 0.05); "
		    "a hog's ramp takes a unit per second, such as %sMiB/s",
		    v, v);
		return -EINVAL;
	}
	ret = rate_value(ctx, "rate", v, &r->rate_ppm);

	if (ret == 0 && r->rate_ppm == 0)
		mc_cfg_warning(ctx, ctx->lineno, "rate = %s never selects: rule '%s' does nothing",
		               v, r->name);
	return ret;
}

static int parse_select(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = {
		[MC_SELECT_REQUEST] = "request", [MC_SELECT_CALL] = "call"
	};
	int i, ret = parse_word(ctx, v, "select", "choices", words, 2, &i);

	if (ret == 0)
		r->select = (enum mc_select)i;
	return ret;
}

/* ambiguous = request (the default: a call of a thread with several requests in flight is not
 * acted on) or last (it is, by the key read last). */
static int parse_ambiguous(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = { "request", "last" };
	int i, ret = parse_word(ctx, v, "ambiguous", "choices", words, 2, &i);

	if (ret == 0)
		r->ambiguous_last = i == 1;
	return ret;
}

static int parse_after(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return count_value(ctx, "after", v, 0, UINT64_MAX - 1, &r->after);
}

static int parse_times(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	if (mc_cfg_parse_u64(v, &r->times) == 0 && r->times == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "times = %s would never inject: leave times out for no limit", v);
		return -EINVAL;
	}
	return count_value(ctx, "times", v, 1, UINT64_MAX - 1, &r->times);
}

static int parse_start(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return duration_value(ctx, "start", v, &r->start_ns);
}

static int parse_duration(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int ret = duration_value(ctx, "duration", v, &r->duration_ns);

	if (ret == 0 && r->duration_ns == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "duration = %s is an empty window (leave duration "
		             "out for no end)",
		             v);
		return -EINVAL;
	}
	return ret;
}

static int parse_shadow(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return bool_value(ctx, "shadow", v, &r->shadow);
}

/* error = illegal_address, launch_failure, unknown, no_device, out_of_memory or a number:
 * the CUDA error a failure of the CUDA families returns (config/cudaerr.c). */
static int parse_error(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int code = mc_cfg_cuda_error_value(v);

	if (code <= 0) {
		char names[160];
		mc_cfg_cuda_error_names(names, sizeof(names));
		mc_cfg_error(ctx, ctx->lineno,
		             "error = %s: write a CUDA error name (%s) or its number, from 1 to %d",
		             v, names, MC_CUDA_ERROR_MAX);
		return -EINVAL;
	}
	r->errnos[0] = code;
	r->n_errnos = 1;
	return 0;
}

static int parse_sticky(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return bool_value(ctx, "sticky", v, &r->sticky);
}

static int parse_delay(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int ret = duration_value(ctx, "delay", v, &r->delay_ns);

	if (ret == 0 && r->delay_ns == 0) {
		mc_cfg_error(ctx, ctx->lineno, "delay = %s adds nothing: give a positive duration",
		             v);
		return -EINVAL;
	}
	return ret;
}

static int parse_jitter(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return duration_value(ctx, "jitter", v, &r->jitter_ns);
}

static int errno_item(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *name)
{
	int err = mc_cfg_errno_value(name);

	if (!*name) {
		mc_cfg_error(ctx, ctx->lineno,
		             "empty name in errno list (write errno = EIO,EINTR)");
		return -EINVAL;
	}
	if (err == 0) {
		const char *hint = mc_cfg_errno_suggest(name);

		if (hint)
			mc_cfg_error(ctx, ctx->lineno, "unknown errno '%s' (did you mean %s?)",
			             name, hint);
		else
			mc_cfg_error(ctx, ctx->lineno,
			             "unknown errno '%s' (write a name such as EIO or ENOMEM)",
			             name);
		return -EINVAL;
	}
	if (r->n_errnos == MC_MAX_ERRNOS) {
		mc_cfg_error(ctx, ctx->lineno, "too many errnos: at most %d", MC_MAX_ERRNOS);
		return -EINVAL;
	}
	r->errnos[r->n_errnos++] = err;
	return 0;
}

/* "EIO, EINTR": names separated by commas, blanks around them ignored. */
static int parse_errno(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	char name[64];
	int ret = 0;

	r->n_errnos = 0;
	while (ret == 0) {
		const char *end = strchr(v, ',');
		size_t len = end ? (size_t)(end - v) : strlen(v);

		while (len && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, v, len);
		name[len] = '\0';
		ret = errno_item(ctx, r, name);
		if (!end)
			break;
		v = end + 1;
	}
	return ret;
}

static int parse_budget(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int ret = size_value(ctx, "budget", v, &r->budget_bytes);

	if (ret == 0 && r->budget_bytes == 0) {
		mc_cfg_error(ctx, ctx->lineno, "budget = %s: give a positive size such as 512MiB",
		             v);
		return -EINVAL;
	}
	return ret;
}

static int parse_oom(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = { [MC_OOM_FAIL] = "fail", [MC_OOM_KILL] = "kill" };
	int i, ret = parse_word(ctx, v, "oom", "choices", words, 2, &i);

	if (ret == 0)
		r->oom = (enum mc_oom)i;
	return ret;
}

static int parse_max_bytes(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int ret = size_value(ctx, "max_bytes", v, &r->max_bytes);

	if (ret == 0 && r->max_bytes == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "max_bytes = %s would make the call look like end of file: use at "
		             "least 1",
		             v);
		return -EINVAL;
	}
	return ret;
}

static int parse_mode_byte(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint64_t byte;

	if (mc_cfg_parse_u64(v + 5, &byte) < 0 || byte > 255) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad byte in mode '%s' (write byte:0x00 to byte:0xFF)", v);
		return -EINVAL;
	}
	r->mode = MC_CORRUPT_BYTE;
	r->byte = (uint8_t)byte;
	return 0;
}

/* The words of mode =, by enum mc_corrupt_mode; byte:0xNN is parsed apart. */
static const char *const mode_words[MC_CORRUPT_MODE_COUNT] = {
	[MC_CORRUPT_BITFLIP] = "bitflip",   [MC_CORRUPT_ZERO] = "zero",
	[MC_CORRUPT_RANDOM] = "random",     [MC_CORRUPT_BYTE] = "byte:0xNN",
	[MC_CORRUPT_NAN] = "nan",           [MC_CORRUPT_INF] = "inf",
	[MC_CORRUPT_EXPONENT] = "exponent", [MC_CORRUPT_SIGN] = "sign",
	[MC_CORRUPT_NOISE] = "noise",       [MC_CORRUPT_SWAP] = "swap",
};

const char *mc_corrupt_mode_name(enum mc_corrupt_mode mode)
{
	if (mode == MC_CORRUPT_BYTE)
		return "byte";
	return (unsigned)mode < MC_CORRUPT_MODE_COUNT ? mode_words[mode] : "?";
}

bool mc_cfg_mode_is_value(enum mc_corrupt_mode mode)
{
	return mode == MC_CORRUPT_ZERO || (mode >= MC_CORRUPT_NAN && mode <= MC_CORRUPT_NOISE);
}

static int parse_mode(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int i;

	if (strncmp(v, "byte:", 5) == 0)
		return parse_mode_byte(ctx, r, v);
	i = lookup(v, mode_words, MC_CORRUPT_MODE_COUNT);
	if (i < 0 || i == MC_CORRUPT_BYTE) {
		unknown_word(ctx, "mode", "modes", v, mode_words, MC_CORRUPT_MODE_COUNT);
		return -EINVAL;
	}
	r->mode = (enum mc_corrupt_mode)i;
	return 0;
}

static int parse_count(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint64_t count;
	int ret;

	if (strcmp(v, "all") == 0) {
		r->count = MC_COUNT_ALL;
		return 0;
	}
	if (mc_cfg_parse_u64(v, &count) == -EINVAL) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad count '%s' (write a number, or all for every value of each "
		             "tensor)",
		             v);
		return -EINVAL;
	}
	ret = count_value(ctx, "count", v, 1, 4096 * 8, &count);

	if (ret == 0)
		r->count = (uint32_t)count;
	return ret;
}

/* "LOW-HIGH", half-open, sizes with units allowed; "LOW-" runs to the end of the file. */
static int parse_offset(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	const char *dash = strchr(v, '-');
	char low[64];
	uint64_t lo, hi = MC_UNLIMITED;
	size_t len = dash ? (size_t)(dash - v) : 0;

	if (!dash || len >= sizeof(low) || len == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad offset range '%s' (write LOW-HIGH, such as 0-4096 or 1MiB-2MiB)",
		             v);
		return -EINVAL;
	}
	memcpy(low, v, len);
	while (len && (low[len - 1] == ' ' || low[len - 1] == '\t'))
		len--;
	low[len] = '\0';
	for (dash++; *dash == ' ' || *dash == '\t'; dash++)
		;
	if (size_value(ctx, "offset", low, &lo) < 0 ||
	    (*dash && size_value(ctx, "offset", dash, &hi) < 0))
		return -EINVAL;
	if (lo > hi) {
		mc_cfg_error(ctx, ctx->lineno,
		             "offset range '%s' is reversed (write LOW-HIGH, such as 0-4096)", v);
		return -EINVAL;
	}
	if (lo == hi) {
		mc_cfg_error(ctx, ctx->lineno,
		             "offset range '%s' is empty (the end is excluded: 0-4096 is the first "
		             "4 KiB)",
		             v);
		return -EINVAL;
	}
	r->offset_lo = lo;
	r->offset_hi = hi;
	return 0;
}

static int parse_scope(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = { [MC_SCOPE_FILE] = "file", [MC_SCOPE_CALL] = "call" };
	int i, ret = parse_word(ctx, v, "scope", "scopes", words, 2, &i);

	if (ret == 0)
		r->scope = (enum mc_scope)i;
	return ret;
}

static int parse_to(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	if (v[0] != '/') {
		mc_cfg_error(ctx, ctx->lineno,
		             "to = %s is not an absolute path (write the full path, such as "
		             "/models/previous.bin)",
		             v);
		return -EINVAL;
	}
	return string_value(ctx, v, &r->to);
}

/* damage = NAME: rules that share it damage the same bits of the same file,
 * so a read rule and an mmap rule can model one bit-rotten file. */
static int parse_damage(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	if (!*v || strlen(v) > MC_RULE_NAME_MAX) {
		mc_cfg_error(ctx, ctx->lineno,
		             "damage = '%s': give a name of 1 to %d characters, the same in every "
		             "rule that must damage the same bits",
		             v, MC_RULE_NAME_MAX);
		return -EINVAL;
	}
	return string_value(ctx, v, &r->damage);
}

static int parse_region(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = {
		[MC_REGION_ANY] = "any", [MC_REGION_TENSORS] = "tensors", [MC_REGION_JSON] = "json"
	};
	int i, ret = parse_word(ctx, v, "region", "regions", words, 3, &i);

	if (ret == 0)
		r->region = (enum mc_region)i;
	return ret;
}

static int parse_tensor(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return glob_value(ctx, "tensor", v, &r->tensor);
}

static int parse_std(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	double std;
	int ret = mc_cfg_parse_decimal(v, &std);

	if (ret < 0 || std <= 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "std = %s: write a positive number, the standard deviation of the "
		             "noise, such as 0.01 or 1e-4",
		             v);
		return -EINVAL;
	}
	r->std = std;
	return 0;
}

static int parse_noise(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = {
		[MC_NOISE_RELATIVE] = "relative", [MC_NOISE_ABSOLUTE] = "absolute"
	};
	int i, ret = parse_word(ctx, v, "noise", "choices", words, 2, &i);

	if (ret == 0)
		r->noise = (enum mc_noise)i;
	return ret;
}

static int parse_fraction(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint32_t ppm;

	if (rate_value(ctx, "fraction", v, &ppm) < 0)
		return -EINVAL;
	if (ppm == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "fraction = %s damages nothing: write a share above 0%%, up to 100%%",
		             v);
		return -EINVAL;
	}
	r->fraction_ppm = ppm;
	return 0;
}

static int parse_bit(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint64_t bit;
	int ret = count_value(ctx, "bit", v, 0, 63, &bit);

	if (ret == 0)
		r->bit = (uint8_t)bit;
	return ret;
}

/* format = auto (the recognisers say) or raw (the rule declares the layout). */
static int parse_format(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = { "auto", "raw" };
	int i, ret = parse_word(ctx, v, "format", "formats", words, 2, &i);

	if (ret == 0)
		r->raw = i == 1;
	return ret;
}

/* dtype = f32, f16, ...: the names of formats/tensors.h, every dtype but "other". */
static int parse_dtype(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	const char *words[32];
	int n = 0, i, ret;

	for (int dt = MC_DT_OTHER + 1; n < 32 && mc_dtype_name((enum mc_dtype)dt); dt++)
		words[n++] = mc_dtype_name((enum mc_dtype)dt);
	ret = parse_word(ctx, v, "dtype", "dtypes", words, n, &i);
	if (ret == 0)
		r->raw_dtype = (uint8_t)(MC_DT_OTHER + 1 + i);
	return ret;
}

/* caller = / not_caller =: globs on an object's file name (libtorch_cpu.so, python3.11,
 * ld-linux-x86-64.so.2), never a path: a '/' could never match. */
static int caller_glob(struct mc_cfg_ctx *ctx, const char *key, const char *v, char **ret)
{
	if (strchr(v, '/')) {
		mc_cfg_error(ctx, ctx->lineno,
		             "%s = %s can never match: it names an object by its file name, such "
		             "as libtorch* or libfoo.so, without a directory",
		             key, v);
		return -EINVAL;
	}
	return glob_value(ctx, key, v, ret);
}

static int parse_caller(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return caller_glob(ctx, "caller", v, &r->caller);
}

static int parse_not_caller(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return caller_glob(ctx, "not_caller", v, &r->not_caller);
}

/* ---- the fault kinds of a process: signal, processes, leak, delay distributions ---- */

static int parse_signal(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	static const char *const words[] = { "KILL", "SEGV", "ABRT", "BUS", "STOP", "TERM" };
	int signo = mc_cfg_signal_value(v);

	if (signo == 0) {
		unknown_word(ctx, "signal", "signals", v, words, 6);
		return -EINVAL;
	}
	r->signo = signo;
	return 0;
}

static int parse_processes(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	uint32_t ppm;

	if (rate_value(ctx, "processes", v, &ppm) < 0)
		return -EINVAL;
	if (ppm == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "processes = %s enables the rule in no process: write a share above "
		             "0%%, such as 30%%",
		             v);
		return -EINVAL;
	}
	r->processes_ppm = ppm;
	return 0;
}

static int parse_bytes(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int ret = size_value(ctx, "bytes", v, &r->bytes);

	if (ret == 0 && r->bytes == 0) {
		mc_cfg_error(ctx, ctx->lineno, "bytes = %s leaks nothing: give a size such as 1MiB",
		             v);
		return -EINVAL;
	}
	return ret;
}

static const char *const distribution_words[MC_DIST_COUNT] = {
	[MC_DIST_FIXED] = "fixed",         [MC_DIST_UNIFORM] = "uniform",
	[MC_DIST_LOGNORMAL] = "lognormal", [MC_DIST_PARETO] = "pareto",
	[MC_DIST_BIMODAL] = "bimodal",
};

const char *mc_cfg_distribution_name(enum mc_distribution d)
{
	return (unsigned)d < MC_DIST_COUNT ? distribution_words[d] : "?";
}

static int parse_distribution(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	int i, ret = parse_word(ctx, v, "distribution", "distributions", distribution_words,
	                        MC_DIST_COUNT, &i);

	if (ret == 0)
		r->distribution = (enum mc_distribution)i;
	return ret;
}

static int positive_duration(struct mc_cfg_ctx *ctx, const char *key, const char *v, uint64_t *ret)
{
	int r = duration_value(ctx, key, v, ret);

	if (r == 0 && *ret == 0) {
		mc_cfg_error(ctx, ctx->lineno, "%s = %s: give a positive duration, such as 20ms",
		             key, v);
		return -EINVAL;
	}
	return r;
}

static int parse_p50(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return positive_duration(ctx, "p50", v, &r->p50_ns);
}

static int parse_p99(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return positive_duration(ctx, "p99", v, &r->p99_ns);
}

/* scale = 5ms: the distribution's scale (a duration); scale = 10 or 10x: a number without a
 * time unit, the call takes that many times its own duration. */
static int parse_scale(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	char number[64];
	size_t len = strlen(v);
	double times = 0;

	if (mc_cfg_parse_duration(v, &r->scale_ns) == 0 && r->scale_ns > 0)
		return 0;
	r->scale_ns = 0;
	if (len > 0 && v[len - 1] == 'x')
		len--;
	if (len < sizeof(number)) {
		memcpy(number, v, len);
		number[len] = '\0';
	}
	if (len >= sizeof(number) || mc_cfg_parse_decimal(number, &times) < 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad scale '%s' (write a duration such as 5ms for the distribution's "
		             "scale, or a number such as 10 or 10x for that many times the call's "
		             "own duration)",
		             v);
		return -EINVAL;
	}
	if (times <= 1 || times > 1000000) {
		mc_cfg_error(ctx, ctx->lineno,
		             "scale = %s: a multiple of the call's own duration must be above 1 "
		             "and at most 1000000",
		             v);
		return -EINVAL;
	}
	r->times_own = times;
	return 0;
}

static int parse_shape(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	if (mc_cfg_parse_decimal(v, &r->shape) < 0 || r->shape <= 0 || r->shape > 100) {
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "shape = %s: write a positive number up to 100 (lognormal: sigma, such "
		    "as 0.5; pareto: alpha, such as 1.5)",
		    v);
		return -EINVAL;
	}
	return 0;
}

/* bandwidth = 50MiB/s: a size per second ("/s" may be left out), above 0. */
static int parse_bandwidth(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	char size[64];
	size_t len = strlen(v);

	if (len >= 2 && strcmp(v + len - 2, "/s") == 0)
		len -= 2;
	if (len >= sizeof(size)) {
		mc_cfg_error(ctx, ctx->lineno, "bandwidth '%s' is too long", v);
		return -EINVAL;
	}
	memcpy(size, v, len);
	size[len] = '\0';
	int ret = size_value(ctx, "bandwidth", size, &r->bandwidth);
	if (ret == 0 && r->bandwidth == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bandwidth = %s would never let a byte through: give a rate above 0, "
		             "such as 50MiB/s",
		             v);
		return -EINVAL;
	}
	return ret;
}

/* iops = N: calls per second, at least 1. */
static int parse_iops(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return count_value(ctx, "iops", v, 1, 1000000000, &r->iops);
}

/* json_path = /a/0/b: a JSON pointer, the field (and all under it) whose numbers change. */
static int parse_json_path(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	if (v[0] != '/' || strlen(v) >= 256) {
		mc_cfg_error(ctx, ctx->lineno,
		             "json_path '%s' is not a JSON pointer: write /key, /key/0 or "
		             "/outer/inner, below 256 bytes (leave json_path out for every number)",
		             v);
		return -EINVAL;
	}
	return string_value(ctx, v, &r->json_path);
}

/* at = SIZE or at = P%: where a truncated file ends; 100% would cut nothing. */
static int parse_at(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	size_t len = strlen(v);

	r->at_share = len > 0 && v[len - 1] == '%';
	if (!r->at_share)
		return size_value(ctx, "at", v, &r->at_bytes);
	if (rate_value(ctx, "at", v, &r->at_ppm) < 0)
		return -EINVAL;
	if (r->at_ppm == MC_RATE_ONE) {
		mc_cfg_error(ctx, ctx->lineno,
		             "at = %s leaves the whole file: write a share below 100%% (50%% ends "
		             "the file halfway) or a size",
		             v);
		return -EINVAL;
	}
	return 0;
}

#define ALL   0
#define ANY   MC_ACTIONS_ALL
#define TIMED (ACT(DELAY) | ACT(HANG) | ACT(BURN)) /* the actions that take a time */
static const struct rule_key rule_keys[MC_RKEY_N] = {
	[MC_RKEY_HOOK] = { "hook", ALL, ANY, parse_hook, false },
	[MC_RKEY_ACTION] = { "action", ALL, ANY, parse_action, false },
	[MC_RKEY_PATH] = { "path", TRAIT(FILE), ANY, parse_path, true },
	[MC_RKEY_PORT] = { "port", TRAIT(PORT), ANY, parse_port, false },
	[MC_RKEY_MIN_SIZE] = { "min_size", TRAIT(SIZED), ANY, parse_min_size, false },
	[MC_RKEY_MAX_SIZE] = { "max_size", TRAIT(SIZED), ANY, parse_max_size, false },
	[MC_RKEY_PROCESS] = { "process", ALL, ANY, parse_process, true },
	[MC_RKEY_PHASE] = { "phase", ALL, ANY, parse_phase, false },
	[MC_RKEY_RATE] = { "rate", ALL, ANY, parse_rate, false },
	[MC_RKEY_SELECT] = { "select", ALL, ANY, parse_select, false },
	[MC_RKEY_AFTER] = { "after", ALL, ANY, parse_after, false },
	[MC_RKEY_TIMES] = { "times", ALL, ANY, parse_times, false },
	[MC_RKEY_START] = { "start", ALL, ANY, parse_start, false },
	[MC_RKEY_DURATION] = { "duration", ALL, ANY, parse_duration, false },
	[MC_RKEY_SHADOW] = { "shadow", ALL, ANY, parse_shadow, false },
	[MC_RKEY_DELAY] = { "delay", ALL, TIMED, parse_delay, false },
	[MC_RKEY_JITTER] = { "jitter", ALL, TIMED, parse_jitter, false },
	[MC_RKEY_ERRNO] = { "errno", ALL, ACT(FAIL), parse_errno, false },
	[MC_RKEY_BUDGET] = { "budget", TRAIT(HEAP), ACT(FAIL), parse_budget, false },
	[MC_RKEY_OOM] = { "oom", TRAIT(HEAP), ACT(FAIL), parse_oom, false },
	[MC_RKEY_MAX_BYTES] = { "max_bytes", ALL, ACT(SHORT), parse_max_bytes, false },
	[MC_RKEY_MODE] = { "mode", ALL, ACT(CORRUPT), parse_mode, false },
	[MC_RKEY_COUNT] = { "count", ALL, ACT(CORRUPT), parse_count, false },
	[MC_RKEY_OFFSET] = { "offset", ALL, ACT(CORRUPT), parse_offset, false },
	[MC_RKEY_SCOPE] = { "scope", ALL, ACT(CORRUPT), parse_scope, false },
	[MC_RKEY_TO] = { "to", ALL, ACT(REDIRECT), parse_to, true },
	[MC_RKEY_DAMAGE] = { "damage", ALL, ACT(CORRUPT), parse_damage, false },
	[MC_RKEY_REGION] = { "region", ALL, ACT(CORRUPT), parse_region, false },
	[MC_RKEY_TENSOR] = { "tensor", ALL, ACT(CORRUPT), parse_tensor, true },
	[MC_RKEY_REPLAY] = { "replay", ALL, ANY, mc_cfg_parse_replay, false, true },
	[MC_RKEY_REPLAY_KEY] = { "replay_key", ALL, ANY, mc_cfg_parse_replay_key, false, true },
	[MC_RKEY_STD] = { "std", ALL, ACT(CORRUPT), parse_std, false },
	[MC_RKEY_NOISE] = { "noise", ALL, ACT(CORRUPT), parse_noise, false },
	[MC_RKEY_FRACTION] = { "fraction", ALL, ACT(CORRUPT), parse_fraction, false },
	[MC_RKEY_BIT] = { "bit", ALL, ACT(CORRUPT), parse_bit, false },
	[MC_RKEY_FORMAT] = { "format", ALL, ACT(CORRUPT), parse_format, false },
	[MC_RKEY_DTYPE] = { "dtype", ALL, ACT(CORRUPT), parse_dtype, false },
	[MC_RKEY_CALLER] = { "caller", ALL, ANY, parse_caller, true },
	[MC_RKEY_NOT_CALLER] = { "not_caller", ALL, ANY, parse_not_caller, true },
	[MC_RKEY_AMBIGUOUS] = { "ambiguous", ALL, ANY, parse_ambiguous, false },
	[MC_RKEY_SIGNAL] = { "signal", ALL, ACT(SIGNAL), parse_signal, false },
	[MC_RKEY_PROCESSES] = { "processes", ALL, ANY, parse_processes, false },
	[MC_RKEY_BYTES] = { "bytes", ALL, ACT(LEAK) | ACT(HOG), parse_bytes, false },
	[MC_RKEY_DISTRIBUTION] = { "distribution", ALL, TIMED, parse_distribution, false },
	[MC_RKEY_P50] = { "p50", ALL, TIMED, parse_p50, false },
	[MC_RKEY_P99] = { "p99", ALL, TIMED, parse_p99, false },
	[MC_RKEY_SCALE] = { "scale", ALL, TIMED, parse_scale, false },
	[MC_RKEY_SHAPE] = { "shape", ALL, TIMED, parse_shape, false },
	[MC_RKEY_BANDWIDTH] = { "bandwidth", ALL, ACT(THROTTLE), parse_bandwidth, false },
	[MC_RKEY_IOPS] = { "iops", ALL, ACT(THROTTLE), parse_iops, false },
	[MC_RKEY_AT] = { "at", ALL, ACT(TRUNCATE), parse_at, false },
	[MC_RKEY_JSON_PATH] = { "json_path", ALL, ACT(CORRUPT), parse_json_path, true },
	[MC_RKEY_ERROR] = { "error", TRAIT(CUDA), ACT(FAIL), parse_error, false },
	[MC_RKEY_STICKY] = { "sticky", TRAIT(POISON), ACT(FAIL), parse_sticky, false },
};
#undef ALL
#undef ANY
#undef TIMED

const char *mc_cfg_rkey_name(enum mc_rkey k)
{
	return rule_keys[k].name;
}

uint32_t mc_cfg_rkey_hooks(enum mc_rkey k)
{
	const struct rule_key *key = &rule_keys[k];

	return (key->traits ? mc_cfg_hooks_with(key->traits) : MC_HOOKS_ALL) &
	       mc_cfg_hooks_taking(key->actions);
}

uint32_t mc_cfg_rkey_actions(enum mc_rkey k)
{
	return rule_keys[k].actions;
}

void mc_cfg_rule_defaults(struct mc_rule_spec *rule)
{
	rule->hook = MC_HOOK_COUNT;    /* unset: reported by mc_cfg_validate() */
	rule->action = MC_ACTION_NONE; /* same */
	rule->max_size = MC_UNLIMITED;
	rule->rate_ppm = MC_RATE_ONE;
	rule->select = MC_SELECT_REQUEST; /* resolved against request_key later */
	rule->times = MC_UNLIMITED;
	rule->duration_ns = MC_UNLIMITED;
	rule->oom = MC_OOM_FAIL;
	rule->mode = MC_CORRUPT_BITFLIP;
	rule->count = 1;
	rule->offset_hi = MC_UNLIMITED;
	rule->scope = MC_SCOPE_FILE;
	rule->phase = MC_PHASE_ANY;
	rule->region = MC_REGION_ANY;
	rule->noise = MC_NOISE_RELATIVE;
	rule->bit = MC_BIT_NONE;
	rule->signo = SIGKILL;
	rule->processes_ppm = MC_RATE_ONE;
	rule->distribution = MC_DIST_FIXED;
}

/* ---- [mlchaos] ---- */

static int parse_seed(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	int r = mc_cfg_parse_u64(v, &cfg->seed);

	if (r < 0)
		mc_cfg_error(ctx, ctx->lineno,
		             "bad seed '%s' (write a number from 0 to 18446744073709551615, or hex "
		             "0x...)",
		             v);
	return r;
}

static int parse_enabled(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	return bool_value(ctx, "enabled", v, &cfg->enabled);
}

/* RFC 9110 token characters: what a header name may contain. */
static bool header_name_ok(const char *name)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*name || strlen(name) > MC_HEADER_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

static int parse_request_key(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	static const char *const words[] = { [MC_KEY_HEADER] = "header:<Name>",
		                             [MC_KEY_CONNECTION] = "connection",
		                             [MC_KEY_THREAD] = "thread",
		                             [MC_KEY_NONE] = "none" };
	int i;

	if (strncmp(v, "header:", 7) == 0) {
		const char *name = v + 7;

		if (!header_name_ok(name)) {
			mc_cfg_error(
			    ctx, ctx->lineno,
			    "bad header name in request_key = %s (write header:X-Request-Id: "
			    "at most %d letters, digits or -_.!#$%%&'*+^`|~)",
			    v, MC_HEADER_NAME_MAX);
			return -EINVAL;
		}
		cfg->request_key = MC_KEY_HEADER;
		memcpy(cfg->header, name, strlen(name) + 1);
		return 0;
	}
	i = lookup(v, words, 4);
	if (i <= 0) {
		unknown_word(ctx, "request_key", "choices", v, words, 4);
		return -EINVAL;
	}
	cfg->request_key = (enum mc_request_key)i;
	return 0;
}

static int parse_on_error(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	static const char *const words[] = {
		[MC_ON_ERROR_PASSTHROUGH] = "passthrough", [MC_ON_ERROR_ABORT] = "abort"
	};
	int i, ret = parse_word(ctx, v, "on_error", "choices", words, 2, &i);

	if (ret == 0)
		cfg->on_error = (enum mc_on_error)i;
	return ret;
}

static int parse_log(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	for (const char *p = strchr(v, '%'); p; p = strchr(p + 2, '%')) {
		if (p[1] != 'p' && p[1] != '%') {
			mc_cfg_error(
			    ctx, ctx->lineno,
			    "bad log path '%s': unknown escape '%%%.1s' (use %%p for the pid, "
			    "%%%% for a percent sign)",
			    v, p + 1);
			return -EINVAL;
		}
	}
	return string_value(ctx, v, &cfg->log);
}

static int parse_halt_file(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	return string_value(ctx, v, &cfg->halt_file);
}

static int parse_max_faults(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	return count_value(ctx, "max_faults", v, 1, UINT64_MAX - 1, &cfg->max_faults);
}

static int parse_global_shadow(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	return bool_value(ctx, "shadow", v, &cfg->shadow);
}

static int parse_halt_rate(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	int r = rate_value(ctx, "halt_on_error_rate", v, &cfg->halt_on_error_rate_ppm);

	if (r == 0 && cfg->halt_on_error_rate_ppm == 0) {
		mc_cfg_error(ctx, ctx->lineno,
		             "halt_on_error_rate = %s would halt at once: give a positive rate", v);
		return -EINVAL;
	}
	return r;
}

static int parse_halt_window(struct mc_cfg_ctx *ctx, struct mc_config *cfg, const char *v)
{
	uint64_t n;

	if (mc_cfg_parse_u64(v, &n) < 0 || n == 0 || n > MC_HALT_WINDOW_MAX) {
		mc_cfg_error(ctx, ctx->lineno,
		             "halt_window = %s: give the number of responses the error rate is "
		             "measured over, from 1 to %d (such as 200)",
		             v, MC_HALT_WINDOW_MAX);
		return -EINVAL;
	}
	cfg->halt_window = (uint32_t)n;
	return 0;
}

static const struct global_key global_keys[MC_GKEY_N] = {
	[MC_GKEY_SEED] = { "seed", parse_seed, false },
	[MC_GKEY_ENABLED] = { "enabled", parse_enabled, false },
	[MC_GKEY_REQUEST_KEY] = { "request_key", parse_request_key, false },
	[MC_GKEY_ON_ERROR] = { "on_error", parse_on_error, false },
	[MC_GKEY_LOG] = { "log", parse_log, true },
	[MC_GKEY_HALT_FILE] = { "halt_file", parse_halt_file, true },
	[MC_GKEY_MAX_FAULTS] = { "max_faults", parse_max_faults, false },
	[MC_GKEY_SHADOW] = { "shadow", parse_global_shadow, false },
	[MC_GKEY_HALT_ON_ERROR_RATE] = { "halt_on_error_rate", parse_halt_rate, false },
	[MC_GKEY_HALT_WINDOW] = { "halt_window", parse_halt_window, false },
};

/* ---- dispatch ---- */

/* What every value must be: not empty, not quoted (inih keeps quotes), and alone on its
 * line ("delay = 200ms jitter = 50ms" is a common slip). */
static bool value_ok(struct mc_cfg_ctx *ctx, const char *name, const char *value, bool text)
{
	size_t len = strlen(value);

	if (len == 0) {
		if (strcmp(name, "path") == 0 || strcmp(name, "process") == 0)
			mc_cfg_error(ctx, ctx->lineno,
			             "empty glob for %s (write a pattern such as */models/*.bin)",
			             name);
		else if (strcmp(name, "tensor") == 0)
			mc_cfg_error(ctx, ctx->lineno,
			             "empty glob for tensor (write a pattern on tensor names such "
			             "as *.attn.* or layers.0.*, or leave tensor out for every "
			             "tensor)");
		else
			mc_cfg_error(ctx, ctx->lineno, "empty value for %s", name);
		return false;
	}
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		mc_cfg_error(ctx, ctx->lineno,
		             "%s = %s: quotes are kept as part of the value, remove them", name,
		             value);
		return false;
	}
	if (!text && strchr(value, '=')) {
		mc_cfg_error(ctx, ctx->lineno, "%s = %s: only one 'key = value' per line, split it",
		             name, value);
		return false;
	}
	return true;
}

static void unknown_key(struct mc_cfg_ctx *ctx, const char *name, const char *where,
                        const char *const *names, int n)
{
	const char *hint = mc_cfg_suggest(name, names, (size_t)n);

	if (hint)
		mc_cfg_error(ctx, ctx->lineno, "unknown key '%s' in %s (did you mean %s?)", name,
		             where, hint);
	else
		mc_cfg_error(ctx, ctx->lineno, "unknown key '%s' in %s", name, where);
}

void mc_cfg_rule_key(struct mc_cfg_ctx *ctx, const char *name, const char *value)
{
	const char *names[MC_RKEY_N];
	struct mc_rule_spec *rule = &ctx->cfg->rules[ctx->rule];
	struct mc_rule_lines *lines = &ctx->rule_lines[ctx->rule];
	char where[MC_RULE_NAME_MAX + 16];
	int k;

	for (int i = 0; i < MC_RKEY_N; i++)
		names[i] = rule_keys[i].name;
	k = lookup(name, names, MC_RKEY_N);
	if (k < 0) {
		snprintf(where, sizeof(where), "[fault.%s]", rule->name);
		unknown_key(ctx, name, where, names, MC_RKEY_N);
		return;
	}
	if (lines->key[k] && !rule_keys[k].repeatable) {
		mc_cfg_error(ctx, ctx->lineno, "duplicate key '%s' (first set at line %d)", name,
		             lines->key[k]);
		return;
	}
	if (!lines->key[k])
		lines->key[k] = ctx->lineno;
	mc_cfg_pairs_add(ctx, &rule->written, name, value);
	if (!value_ok(ctx, name, value, rule_keys[k].text) ||
	    rule_keys[k].parse(ctx, rule, value) < 0)
		lines->bad |= 1ull << k;
}

void mc_cfg_global_key(struct mc_cfg_ctx *ctx, const char *name, const char *value)
{
	const char *names[MC_GKEY_N];
	int k;

	for (int i = 0; i < MC_GKEY_N; i++)
		names[i] = global_keys[i].name;
	k = lookup(name, names, MC_GKEY_N);
	if (k < 0) {
		unknown_key(ctx, name, "[mlchaos]", names, MC_GKEY_N);
		return;
	}
	if (ctx->global_key[k]) {
		mc_cfg_error(ctx, ctx->lineno, "duplicate key '%s' (first set at line %d)", name,
		             ctx->global_key[k]);
		return;
	}
	ctx->global_key[k] = ctx->lineno;
	mc_cfg_pairs_add(ctx, &ctx->cfg->written, name, value);
	if (!value_ok(ctx, name, value, global_keys[k].text) ||
	    global_keys[k].parse(ctx, ctx->cfg, value) < 0)
		ctx->global_bad |= 1u << k;
}
