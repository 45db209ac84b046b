/* config.h: the INI language of mlchaos: parse and validate a config file into a struct
 * mc_config, shared by libmlchaos.so (in its constructor) and the mlchaos command.
 * Never exits, never prints: every problem goes to the caller's diagnostic callback. */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h" /* enum mc_hook */

/* Limits. A line may hold MC_CFG_MAX_LINE bytes, not counting its newline; a config file at
 * most MC_CFG_MAX_FILE bytes; a config at most MC_MAX_RULES rules (the engine keeps one bit
 * per rule in the masks cached per file descriptor). */
#define MC_CFG_MAX_LINE        1024
#define MC_CFG_MAX_FILE        (1024 * 1024)
#define MC_MAX_RULES           128
#define MC_RULE_NAME_MAX       63
#define MC_HEADER_NAME_MAX     64
#define MC_MAX_ERRNOS          8
#define MC_CFG_MAX_MESSAGES    200
#define MC_HALT_WINDOW_MAX     100000 /* responses */
#define MC_HALT_WINDOW_DEFAULT 200    /* diagnostics delivered per parse; the rest are counted */

/* Rates are held in millionths: 100% is MC_RATE_ONE. */
#define MC_RATE_ONE 1000000u

/* "No limit" for times, max_faults, max_size, duration and offset ends. */
#define MC_UNLIMITED UINT64_MAX

enum mc_action {
	MC_ACTION_NONE,
	MC_ACTION_DELAY,
	MC_ACTION_FAIL,
	MC_ACTION_SHORT,
	MC_ACTION_CORRUPT,
	MC_ACTION_REDIRECT,
	MC_ACTION_SIGNAL, /* the process raises `signal` at the call */
	MC_ACTION_HANG,   /* the call blocks: until the window ends, a halt, or `delay` */
	MC_ACTION_LEAK,   /* `bytes` of touched memory allocated and never freed */
	MC_ACTION_BURN,   /* the delay spent spinning on the CPU instead of sleeping */
	MC_ACTION_HOG,    /* `bytes` of touched memory held while the rule's window is open */
	MC_ACTION_THROTTLE,
	MC_ACTION_TRUNCATE,
	MC_ACTION_COUNT
};

/* How a delay is drawn (distribution =): fixed is delay (+ jitter); the others from p50 and
 * p99, or from scale and shape (lognormal: the median and sigma; pareto: the minimum and
 * alpha). Every draw comes from the decision's draw: the same call, the same delay. */
enum mc_distribution {
	MC_DIST_FIXED,
	MC_DIST_UNIFORM,
	MC_DIST_LOGNORMAL,
	MC_DIST_PARETO,
	MC_DIST_BIMODAL,
	MC_DIST_COUNT
};

enum mc_select { MC_SELECT_REQUEST, MC_SELECT_CALL };

enum mc_request_key { MC_KEY_HEADER, MC_KEY_CONNECTION, MC_KEY_THREAD, MC_KEY_NONE };

enum mc_on_error { MC_ON_ERROR_PASSTHROUGH, MC_ON_ERROR_ABORT };

/* Byte modes (bitflip, zero, random, byte) change bytes; the value modes (nan, inf, exponent,
 * sign) change whole elements of float tensors and need region = tensors, where zero also
 * zeroes whole float elements (mc_cfg_mode_is_value()). */
enum mc_corrupt_mode {
	MC_CORRUPT_BITFLIP,
	MC_CORRUPT_ZERO,
	MC_CORRUPT_RANDOM,
	MC_CORRUPT_BYTE,
	MC_CORRUPT_NAN,
	MC_CORRUPT_INF,
	MC_CORRUPT_EXPONENT,
	MC_CORRUPT_SIGN,
	MC_CORRUPT_NOISE, /* v * (1 + N(0, std)), or v + N(0, std) with noise = absolute */
	MC_CORRUPT_SWAP,  /* region = json: two numbers exchanged */
	MC_CORRUPT_MODE_COUNT
};

/* Where corruption may land: anywhere in the bytes read, or only inside the tensor data of a
 * model file whose format is recognised (safetensors, GGUF, .npy, PyTorch zip). */
enum mc_region { MC_REGION_ANY, MC_REGION_TENSORS, MC_REGION_JSON };

enum mc_scope { MC_SCOPE_FILE, MC_SCOPE_CALL };

/* mode = noise: the Gaussian scaled by the value (relative) or added as it is (absolute). */
enum mc_noise { MC_NOISE_RELATIVE, MC_NOISE_ABSOLUTE };

/* count = all: every value (every position, for the byte modes) of each selected tensor. */
#define MC_COUNT_ALL UINT32_MAX

/* bit = N not written: bitflip flips bits drawn in bytes, as a byte mode. */
#define MC_BIT_NONE 0xff

/* MC_PHASE_ANY first so that a zeroed call context means "phase not tracked". */
enum mc_phase { MC_PHASE_ANY, MC_PHASE_LOAD, MC_PHASE_SERVE };

enum mc_oom { MC_OOM_FAIL, MC_OOM_KILL };

enum mc_diag_level { MC_DIAG_ERROR, MC_DIAG_WARNING };

/* One `key = value` line as written: the key, and the value as the parser saw it (blanks
 * around it and an inline comment removed). */
struct mc_cfg_pair {
	char *key, *value;
	int line;
};

/* The keys of one section as written, in file order; a repeated key has one entry per line.
 * Only keys the section knows are kept (an unknown key is an error anyway). */
struct mc_cfg_pairs {
	unsigned n;
	struct mc_cfg_pair *v;
};

/* Request keys longer than this are cut to it before hashing (the engine's MC_KEY_MAX). */
#define MC_REPLAY_KEY_MAX 128

/* replay = THREAD:CALL:DRAW: the rule acts on call number `call` (1, 2, ...) of the calls it
 * matched on thread `thread` (the engine's thread ordinal: 0 the main thread, then 1, 2, ...
 * in the order threads first had a call decided), and the decision gets `draw` as its
 * 64-bit draw. */
struct mc_replay_call {
	uint64_t call;
	uint64_t draw;
	uint32_t thread;
	int line;
};

/* replay_key = KEY: the rule acts on the calls of the requests with this key. */
struct mc_replay_key {
	uint32_t len;
	int line;
	char bytes[MC_REPLAY_KEY_MAX];
};

/* One [fault.<name>] section, as written (defaults filled in, all values validated). */
struct mc_rule_spec {
	char name[MC_RULE_NAME_MAX + 1];
	int line; /* line of the section header */
	enum mc_hook hook;
	enum mc_action action;
	/* targeting */
	char *path;    /* glob on the absolute path, or NULL */
	char *process; /* glob on comm or basename(argv[0]), or NULL */
	uint16_t port; /* 0 = any */
	uint64_t min_size, max_size;
	enum mc_phase phase;
	/* selection */
	uint32_t rate_ppm;
	enum mc_select select;
	bool ambiguous_last; /* ambiguous = last */
	uint64_t after;
	uint64_t times;    /* MC_UNLIMITED when absent */
	uint64_t start_ns; /* window start, from process start */
	uint64_t duration_ns;
	bool shadow;
	/* action parameters */
	uint64_t delay_ns, jitter_ns;
	int errnos[MC_MAX_ERRNOS];
	unsigned n_errnos; /* >= 1 for action = fail (the hook's default when not written) */
	/* the CUDA families: the CUDA error a failure returns is errnos[0] (`error =`) */
	bool sticky;           /* the error poisons the context: every later CUDA call returns it */
	uint64_t budget_bytes; /* 0 = no budget */
	enum mc_oom oom;
	uint64_t max_bytes;
	enum mc_corrupt_mode mode;
	uint8_t byte; /* mode = byte:0xNN */
	uint32_t count;
	uint64_t offset_lo, offset_hi; /* half-open [lo, hi) */
	enum mc_scope scope;
	char *to;     /* redirect target, absolute */
	char *damage; /* corrupt: the name damage is drawn from (default: the rule's) */
	enum mc_region region;
	char *tensor;        /* region = tensors: glob on tensor names, or NULL for every tensor */
	double std;          /* mode = noise: the Gaussian's standard deviation, > 0 */
	enum mc_noise noise; /* mode = noise: relative (default) or absolute */
	uint32_t fraction_ppm; /* fraction = P%: share of each tensor's values; 0 = use count */
	uint8_t bit;           /* bitflip: the bit of each value flipped, or MC_BIT_NONE */
	/* format = raw: the file is taken as headerless, its [offset_lo, offset_hi) one tensor
	 * "raw" of raw_dtype (enum mc_dtype), whatever a recogniser would say of it */
	bool raw;
	uint8_t raw_dtype;
	/* replay lists: a rule with either acts on the listed calls only. replay_calls is
	 * sorted by (thread, call) without duplicates; replay_keys has no duplicates. */
	struct mc_replay_call *replay_calls;
	unsigned n_replay_calls;
	struct mc_replay_key *replay_keys;
	unsigned n_replay_keys;
	struct mc_cfg_pairs written; /* the section's keys as written */
	/* globs on the file name of the object (program, library, loader) whose code made the
	 * call, or NULL; a malloc rule without caller never fails the loader's own allocations */
	char *caller;
	char *not_caller;
	/* action = signal: the signal raised (SIGKILL when not written) */
	int signo;
	/* processes = P%: the share of the processes that load the rule it is enabled in
	 * (MC_RATE_ONE: all of them) */
	uint32_t processes_ppm;
	/* action = leak: bytes leaked per selected call; hog: bytes held */
	uint64_t bytes;
	/* action = hog: rate = N MiB/s, the ramp (bytes per second; 0: all at once) */
	uint64_t hog_rate_bps;
	/* delays drawn from a distribution: p50_ns and p99_ns, or scale_ns and shape (see enum
	 * mc_distribution); times_own > 0: the call takes times_own x its own duration */
	enum mc_distribution distribution;
	uint64_t p50_ns, p99_ns, scale_ns;
	double shape;
	double times_own;
	/* action = throttle: bytes per second (0: bytes are not paced) and calls per second (0:
	 * calls are not paced); at least one is set */
	uint64_t bandwidth;
	uint64_t iops;
	/* action = truncate: where the file appears to end, in bytes (at_share false) or as a
	 * share of its real size in millionths (at_share true, below MC_RATE_ONE) */
	uint64_t at_bytes;
	uint32_t at_ppm;
	bool at_share;
	/* region = json: the JSON pointer of the field whose numbers change, or NULL for all */
	char *json_path;
};

/* A whole config file: [mlchaos] and the rules in file order. */
struct mc_config {
	char *file; /* the name used in messages */
	uint64_t seed;
	bool enabled;
	enum mc_request_key request_key;
	char header[MC_HEADER_NAME_MAX + 1]; /* request_key = header:<Name> */
	enum mc_on_error on_error;
	char *log;           /* path with %p and %%, or NULL */
	char *halt_file;     /* or NULL */
	uint64_t max_faults; /* MC_UNLIMITED when absent */
	bool shadow;
	uint32_t halt_on_error_rate_ppm; /* 0 = off */
	uint32_t halt_window;            /* responses the error rate is measured over */
	unsigned n_rules;
	struct mc_rule_spec *rules;
	struct mc_cfg_pairs written; /* [mlchaos]'s keys as written */
};

/* Receives one diagnostic: msg is a complete "FILE:LINE: message" (or "FILE: message" when
 * no line applies), without a trailing newline and without any "mlchaos:" prefix; warnings
 * read "FILE:LINE: warning: message". msg is only valid during the call. */
typedef void (*mc_cfg_diag_fn)(void *user, enum mc_diag_level level, const char *msg);

/* Parse and validate the config file at path. Every problem found is passed to diag (when
 * non-NULL), errors and warnings in line order, at most MC_CFG_MAX_MESSAGES of them; a
 * missing or unreadable file is reported the same way. On success *ret_cfg is a new config
 * to free with mc_cfg_free(). Returns 0 on success (warnings allowed), -EINVAL when at least
 * one error was reported, -ENOMEM, or the negative errno of a file that could not be read
 * (reported too); *ret_cfg is NULL on failure. Uses malloc and open/read; not for signal
 * handlers. */
int mc_cfg_parse_file(const char *path, mc_cfg_diag_fn diag, void *user,
                      struct mc_config **ret_cfg);

/* Same as mc_cfg_parse_file(), and also *ret_on_error: the file's on_error when its line was
 * valid, even if the rest of the file is not (the library must honor on_error = abort for an
 * invalid config); MC_ON_ERROR_PASSTHROUGH when the file could not be read or does not say. */
int mc_cfg_parse_file_policy(const char *path, mc_cfg_diag_fn diag, void *user,
                             struct mc_config **ret_cfg, enum mc_on_error *ret_on_error);

/* Same as mc_cfg_parse_file(), on the NUL-terminated text; name is the file name used in
 * messages. */
int mc_cfg_parse_string(const char *name, const char *text, mc_cfg_diag_fn diag, void *user,
                        struct mc_config **ret_cfg);

/* Free a config from mc_cfg_parse_*(); NULL is allowed. */
void mc_cfg_free(struct mc_config *cfg);

/* Write "N rules (read:corrupt, malloc:fail), seed 42" into buf (always NUL-terminated when
 * size > 0, cut if too small). Returns the length the full text needs, like snprintf. */
size_t mc_cfg_describe(const struct mc_config *cfg, char *buf, size_t size);

/* Names as written in the INI language; "?" for values out of range. */
const char *mc_hook_name(enum mc_hook hook);
const char *mc_action_name(enum mc_action action);
const char *mc_corrupt_mode_name(enum mc_corrupt_mode mode); /* "byte" for byte:0xNN */

/* Whether a corrupt mode changes whole values of float tensors under region = tensors (nan,
 * inf, exponent, sign, zero, noise) rather than bytes (bitflip with bit = N does too). */
bool mc_cfg_mode_is_value(enum mc_corrupt_mode mode);

/* The errno's symbolic name ("EIO"), or NULL when not in mlchaos's table. */
const char *mc_errno_name(int err);

/* The name `error =` gives a CUDA error ("illegal_address"), or NULL (config/cudaerr.c). */
const char *mc_cuda_error_name(int code);

/* Value parsers of the INI language, exposed for the command and the tests. Each returns 0,
 * -EINVAL when the text is malformed, or -ERANGE when it is well-formed but too large.
 * Sizes: a number with B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of
 * 1000), no unit = bytes, fractions allowed when the result is whole ("1.5KiB").
 * Durations: a number with ns, us (or µs), ms, s, m, h; a unit is required except for "0".
 * Rates: "5%", "12.5%" or a fraction "0.05"; more than 100% is -ERANGE. */
int mc_cfg_parse_u64(const char *s, uint64_t *ret);
int mc_cfg_parse_bool(const char *s, bool *ret);
int mc_cfg_parse_size(const char *s, uint64_t *ret_bytes);
int mc_cfg_parse_duration(const char *s, uint64_t *ret_ns);
int mc_cfg_parse_rate(const char *s, uint32_t *ret_ppm);

/* A signal's name without SIG (KILL, SEGV, ABRT, BUS, STOP, TERM) and its number, or 0 when
 * it is not one that action = signal raises. */
int mc_cfg_signal_value(const char *name);
const char *mc_cfg_signal_name(int signo);

/* distribution = names: "fixed", "lognormal"...; "?" out of range. */
const char *mc_cfg_distribution_name(enum mc_distribution d);

/* A decimal number: digits with an optional '.' and fraction, an optional exponent (1e-4,
 * 2.5E+3), no sign; by hand, so that the host's locale cannot change the decimal point.
 * -EINVAL when malformed, -ERANGE when not finite as a double. */
int mc_cfg_parse_decimal(const char *s, double *ret);

/* Writes request key (len bytes) as a replay_key value reads it: printable ASCII as it is,
 * every other byte and \ ; # = " ' as \xHH (so that the value has no blank, no comment
 * and no quote). out (cap bytes) is always NUL-terminated when cap > 0, cut if too small;
 * returns the length the whole text needs (at most 4 * len). */
size_t mc_cfg_replay_key_escape(const void *key, size_t len, char *out, size_t cap);

/* Glob matching, fnmatch-style without flags: '*' (which also matches '/'), '?', bracket
 * classes "[a-z]", "[!0-9]" and backslash escapes. Pure: no allocation, no locale, safe in a
 * signal handler. mc_glob_check() returns 0 or -EINVAL for an unterminated '[' or a trailing
 * backslash. */
bool mc_glob_match(const char *pattern, const char *str);
int mc_glob_check(const char *pattern);

#endif
