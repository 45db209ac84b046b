/* internal.h: what the files of config/ share: the parse context, diagnostics, the key
 * tables and the errno tables. Not for use outside config/: the public API is config.h. */
#ifndef MC_CONFIG_INTERNAL_H
#define MC_CONFIG_INTERNAL_H

#include "config.h"

#define MC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Keys of a [fault.<name>] section; the index into a rule's key_line[]. */
enum mc_rkey {
	MC_RKEY_HOOK,
	MC_RKEY_ACTION,
	MC_RKEY_PATH,
	MC_RKEY_PORT,
	MC_RKEY_MIN_SIZE,
	MC_RKEY_MAX_SIZE,
	MC_RKEY_PROCESS,
	MC_RKEY_PHASE,
	MC_RKEY_RATE,
	MC_RKEY_SELECT,
	MC_RKEY_AFTER,
	MC_RKEY_TIMES,
	MC_RKEY_START,
	MC_RKEY_DURATION,
	MC_RKEY_SHADOW,
	MC_RKEY_DELAY,
	MC_RKEY_JITTER,
	MC_RKEY_ERRNO,
	MC_RKEY_BUDGET,
	MC_RKEY_OOM,
	MC_RKEY_MAX_BYTES,
	MC_RKEY_MODE,
	MC_RKEY_COUNT,
	MC_RKEY_OFFSET,
	MC_RKEY_SCOPE,
	MC_RKEY_TO,
	MC_RKEY_DAMAGE,
	MC_RKEY_REGION,
	MC_RKEY_TENSOR,
	MC_RKEY_REPLAY,
	MC_RKEY_REPLAY_KEY,
	MC_RKEY_STD,
	MC_RKEY_NOISE,
	MC_RKEY_FRACTION,
	MC_RKEY_BIT,
	MC_RKEY_FORMAT,
	MC_RKEY_DTYPE,
	MC_RKEY_CALLER,
	MC_RKEY_NOT_CALLER,
	MC_RKEY_AMBIGUOUS,
	MC_RKEY_SIGNAL,
	MC_RKEY_PROCESSES,
	MC_RKEY_BYTES,
	MC_RKEY_DISTRIBUTION,
	MC_RKEY_P50,
	MC_RKEY_P99,
	MC_RKEY_SCALE,
	MC_RKEY_SHAPE,
	MC_RKEY_BANDWIDTH,
	MC_RKEY_IOPS,
	MC_RKEY_AT,
	MC_RKEY_JSON_PATH,
	MC_RKEY_ERROR,
	MC_RKEY_STICKY,
	MC_RKEY_N
};
/* mc_rule_lines.bad has a bit per rule key */
_Static_assert(MC_RKEY_N <= 64, "more rule keys than bits in mc_rule_lines.bad");

/* Keys of [mlchaos]. */
enum mc_gkey {
	MC_GKEY_SEED,
	MC_GKEY_ENABLED,
	MC_GKEY_REQUEST_KEY,
	MC_GKEY_ON_ERROR,
	MC_GKEY_LOG,
	MC_GKEY_HALT_FILE,
	MC_GKEY_MAX_FAULTS,
	MC_GKEY_SHADOW,
	MC_GKEY_HALT_ON_ERROR_RATE,
	MC_GKEY_HALT_WINDOW,
	MC_GKEY_N
};

/* Bits of the hook and action masks of a key. */
#define MC_HOOKS_ALL     ((1u << MC_HOOK_COUNT) - 1)
#define MC_ACTION_BIT(a) (1u << (a))
#define MC_ACTIONS_ALL   (((1u << MC_ACTION_COUNT) - 1) & ~1u)

struct mc_cfg_diag {
	int line;
	enum mc_diag_level level;
	char *msg;
};

enum mc_section { MC_SECTION_NONE, MC_SECTION_GLOBAL, MC_SECTION_RULE, MC_SECTION_IGNORED };

/* Where a key was set (0 = not set), per rule; parallel to cfg->rules. */
struct mc_rule_lines {
	int key[MC_RKEY_N];
	uint64_t bad; /* bit k: key k was set but its value was rejected (already reported) */
};

struct mc_cfg_ctx {
	const char *file;
	/* input, read by the line reader handed to inih */
	const char *text;
	size_t len, pos;
	int lineno;
	/* where we are */
	enum mc_section section;
	unsigned rule; /* index of the current rule when section == MC_SECTION_RULE */
	int global_line;
	int global_key[MC_GKEY_N];
	uint32_t global_bad;
	struct mc_rule_lines *rule_lines;
	unsigned rules_cap;
	struct mc_config *cfg;
	/* diagnostics, kept and sorted by line before delivery */
	struct mc_cfg_diag *diags;
	size_t n_diags, cap_diags;
	unsigned n_errors;
	unsigned n_dropped;
	bool oom;
};

/* Report a problem at line (0: no line). */
void mc_cfg_error(struct mc_cfg_ctx *ctx, int line, const char *fmt, ...) MC_PRINTF(3, 4);
void mc_cfg_warning(struct mc_cfg_ctx *ctx, int line, const char *fmt, ...) MC_PRINTF(3, 4);

/* A key = value of the current section; reports its own problems. */
void mc_cfg_global_key(struct mc_cfg_ctx *ctx, const char *name, const char *value);
void mc_cfg_rule_key(struct mc_cfg_ctx *ctx, const char *name, const char *value);

/* Keep name = value in pairs (the section's keys as written). */
void mc_cfg_pairs_add(struct mc_cfg_ctx *ctx, struct mc_cfg_pairs *pairs, const char *name,
                      const char *value);
void mc_cfg_pairs_free(struct mc_cfg_pairs *pairs);

/* The replay keys (replay.c): each parses one line's list into the rule's own; the checks
 * that need the whole rule run from mc_cfg_validate(). */
int mc_cfg_parse_replay(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v);
int mc_cfg_parse_replay_key(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v);
void mc_cfg_validate_replay(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                            const struct mc_rule_lines *lines);

/* Set the rule defaults, and resolve what depends on the whole file once it is read. */
void mc_cfg_rule_defaults(struct mc_rule_spec *rule);
void mc_cfg_validate(struct mc_cfg_ctx *ctx);

/* Name of rule key k, for messages. */
const char *mc_cfg_rkey_name(enum mc_rkey k);
/* Hooks and actions rule key k applies to (masks of MC_HOOK_BIT and MC_ACTION_BIT). */
uint32_t mc_cfg_rkey_hooks(enum mc_rkey k);
uint32_t mc_cfg_rkey_actions(enum mc_rkey k);

/* Closest candidate to word by edit distance, or NULL when none is close enough. */
const char *mc_cfg_suggest(const char *word, const char *const *cands, size_t n);

/* errno tables (errnos.c) */
int mc_cfg_errno_value(const char *name); /* 0 when unknown */
const char *mc_cfg_errno_suggest(const char *name);
bool mc_cfg_errno_allowed(enum mc_hook hook, int err);
int mc_cfg_default_errno(enum mc_hook hook);
size_t mc_cfg_errno_list(enum mc_hook hook, char *buf, size_t size);

/* CUDA errors (cudaerr.c): `error =`'s names, the same numbers in the runtime and the driver
 * API (cudaError_t, CUresult). */
#define MC_CUDA_ERROR_MAX 9999
int mc_cfg_cuda_error_value(const char *text); /* the code, or 0 when not one */
void mc_cfg_cuda_error_names(char *buf, size_t size);

/* "read, send" for the hooks in mask, "delay, fail" for the actions in mask. */
void mc_cfg_hooks_text(uint32_t mask, char *buf, size_t size);
void mc_cfg_actions_text(uint32_t mask, char *buf, size_t size);

/* The families' table (families.h): actions that make sense per hook; the hooks having one
 * of traits (MC_TRAIT_*); the hooks taking one of actions (an MC_ACTION_BIT mask). */
uint32_t mc_cfg_hook_actions(enum mc_hook hook);
uint32_t mc_cfg_hooks_with(uint32_t traits);
uint32_t mc_cfg_hooks_taking(uint32_t actions);

/* The families' names in `hook =`, by enum mc_hook. */
extern const char *const mc_cfg_hook_names[MC_HOOK_COUNT];

#endif
