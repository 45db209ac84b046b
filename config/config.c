/* config.c: reading a config file: our own line reader feeding inih (line numbers, lines up
 * to MC_CFG_MAX_LINE bytes, syntax errors on every line, not just the first), sections, and
 * the diagnostics list. Never prints and never exits: messages go to the caller's callback. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "internal.h"

#define MC_CFG_MAX_MSG 1024 /* bytes per diagnostic, file name included */

/* ---- diagnostics ---- */

MC_PRINTF(4, 0)
static void add_diag(struct mc_cfg_ctx *ctx, int line, enum mc_diag_level level, const char *fmt,
                     va_list ap)
{
	char msg[MC_CFG_MAX_MSG];
	struct mc_cfg_diag *d;
	const char *tag = level == MC_DIAG_WARNING ? "warning: " : "";
	int len;

	if (level == MC_DIAG_ERROR)
		ctx->n_errors++;
	if (ctx->n_diags >= MC_CFG_MAX_MESSAGES) {
		ctx->n_dropped++;
		return;
	}
	if (ctx->n_diags == ctx->cap_diags) {
		size_t cap = ctx->cap_diags ? ctx->cap_diags * 2 : 16;
		struct mc_cfg_diag *grown = realloc(ctx->diags, cap * sizeof(*grown));

		if (!grown) {
			ctx->oom = true;
			return;
		}
		ctx->diags = grown;
		ctx->cap_diags = cap;
	}
	if (line > 0)
		len = snprintf(msg, sizeof(msg), "%s:%d: %s", ctx->file, line, tag);
	else
		len = snprintf(msg, sizeof(msg), "%s: %s", ctx->file, tag);
	if (len >= 0 && (size_t)len < sizeof(msg))
		vsnprintf(msg + len, sizeof(msg) - (size_t)len, fmt, ap);
	d = &ctx->diags[ctx->n_diags];
	d->msg = strdup(msg);
	if (!d->msg) {
		ctx->oom = true;
		return;
	}
	d->line = line;
	d->level = level;
	ctx->n_diags++;
}

void mc_cfg_error(struct mc_cfg_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(ctx, line, MC_DIAG_ERROR, fmt, ap);
	va_end(ap);
}

void mc_cfg_warning(struct mc_cfg_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(ctx, line, MC_DIAG_WARNING, fmt, ap);
	va_end(ap);
}

/* Stable sort by line (insertion sort: at most MC_CFG_MAX_MESSAGES entries, mostly sorted),
 * then hand each message to the caller. */
static void deliver_diags(struct mc_cfg_ctx *ctx, mc_cfg_diag_fn diag, void *user)
{
	for (size_t i = 1; i < ctx->n_diags; i++) {
		struct mc_cfg_diag d = ctx->diags[i];
		size_t j = i;

		for (; j > 0 && ctx->diags[j - 1].line > d.line; j--)
			ctx->diags[j] = ctx->diags[j - 1];
		ctx->diags[j] = d;
	}
	for (size_t i = 0; i < ctx->n_diags; i++) {
		if (diag)
			diag(user, ctx->diags[i].level, ctx->diags[i].msg);
		free(ctx->diags[i].msg);
	}
	if (diag && ctx->n_dropped) {
		char msg[MC_CFG_MAX_MSG];

		snprintf(msg, sizeof(msg),
		         "%s: %u more problems not shown: fix the ones above first", ctx->file,
		         ctx->n_dropped);
		diag(user, MC_DIAG_ERROR, msg);
	}
	if (diag && ctx->oom) {
		char msg[MC_CFG_MAX_MSG];

		snprintf(msg, sizeof(msg), "%s: out of memory while reading the config", ctx->file);
		diag(user, MC_DIAG_ERROR, msg);
	}
	free(ctx->diags);
	ctx->diags = NULL;
	ctx->n_diags = 0;
}

/* ---- keys as written ---- */

void mc_cfg_pairs_add(struct mc_cfg_ctx *ctx, struct mc_cfg_pairs *pairs, const char *name,
                      const char *value)
{
	struct mc_cfg_pair *grown;
	char *key = strdup(name), *val = strdup(value);

	/* the capacity doubles when n reaches a power of two: n + 1 entries fit otherwise */
	grown = pairs->n & (pairs->n - 1)
	            ? pairs->v
	            : realloc(pairs->v, (pairs->n ? pairs->n * 2 : 1) * sizeof(*grown));
	if (!key || !val || !grown) {
		free(key);
		free(val);
		ctx->oom = true;
		return;
	}
	pairs->v = grown;
	pairs->v[pairs->n++] = (struct mc_cfg_pair){ key, val, ctx->lineno };
}

void mc_cfg_pairs_free(struct mc_cfg_pairs *pairs)
{
	for (unsigned i = 0; i < pairs->n; i++) {
		free(pairs->v[i].key);
		free(pairs->v[i].value);
	}
	free(pairs->v);
	pairs->v = NULL;
	pairs->n = 0;
}

/* ---- names ---- */

#define HOOK_NAME(id, name, ...) [MC_HOOK_##id] = name,
const char *const mc_cfg_hook_names[MC_HOOK_COUNT] = { MC_FAMILIES(HOOK_NAME) };
#undef HOOK_NAME

static const char *const action_names[MC_ACTION_COUNT] = {
	[MC_ACTION_NONE] = "none",         [MC_ACTION_DELAY] = "delay",
	[MC_ACTION_FAIL] = "fail",         [MC_ACTION_SHORT] = "short",
	[MC_ACTION_CORRUPT] = "corrupt",   [MC_ACTION_REDIRECT] = "redirect",
	[MC_ACTION_SIGNAL] = "signal",     [MC_ACTION_HANG] = "hang",
	[MC_ACTION_LEAK] = "leak",         [MC_ACTION_BURN] = "burn",
	[MC_ACTION_HOG] = "hog",           [MC_ACTION_THROTTLE] = "throttle",
	[MC_ACTION_TRUNCATE] = "truncate",
};

const char *mc_hook_name(enum mc_hook hook)
{
	return (unsigned)hook < MC_HOOK_COUNT ? mc_cfg_hook_names[hook] : "?";
}

const char *mc_action_name(enum mc_action action)
{
	return (unsigned)action < MC_ACTION_COUNT ? action_names[action] : "?";
}

static void names_text(const char *const *names, unsigned n, uint32_t mask, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		if (!(mask & (1u << i)))
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
		                        len ? ", " : "", names[i]);
		if (len >= size)
			return;
	}
}

void mc_cfg_hooks_text(uint32_t mask, char *buf, size_t size)
{
	names_text(mc_cfg_hook_names, MC_HOOK_COUNT, mask, buf, size);
}

void mc_cfg_actions_text(uint32_t mask, char *buf, size_t size)
{
	names_text(action_names, MC_ACTION_COUNT, mask, buf, size);
}

/* ---- suggestions ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance, case-insensitive, on words of at most 63 bytes. */
static unsigned edit_distance(const char *a, const char *b)
{
	enum { W = 64 };
	unsigned d[3][W];
	size_t la = strlen(a), lb = strlen(b);

	if (la >= W || lb >= W)
		return ~0u;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = lower(a[i - 1]) != lower(b[j - 1]);
			unsigned best = prev[j - 1] + cost;

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return d[la % 3][lb];
}

const char *mc_cfg_suggest(const char *word, const char *const *cands, size_t n)
{
	unsigned limit = strlen(word) <= 3 ? 1 : 2;
	unsigned best = limit + 1;
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		unsigned d = cands[i] ? edit_distance(word, cands[i]) : ~0u;

		if (d < best) {
			best = d;
			found = cands[i];
		}
	}
	return found;
}

/* ---- sections ---- */

static bool rule_name_ok(const char *name)
{
	if (!*name || strlen(name) > MC_RULE_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int find_rule(const struct mc_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_rules; i++)
		if (strcmp(cfg->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int grow_rules(struct mc_cfg_ctx *ctx)
{
	unsigned cap = ctx->rules_cap ? ctx->rules_cap * 2 : 8;
	struct mc_rule_spec *rules;
	struct mc_rule_lines *lines;

	if (cap > MC_MAX_RULES)
		cap = MC_MAX_RULES;
	rules = realloc(ctx->cfg->rules, cap * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	ctx->cfg->rules = rules;
	lines = realloc(ctx->rule_lines, cap * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	ctx->rule_lines = lines;
	ctx->rules_cap = cap;
	return 0;
}

static void begin_rule(struct mc_cfg_ctx *ctx, const char *header, const char *name)
{
	struct mc_config *cfg = ctx->cfg;
	struct mc_rule_spec *rule;
	int prev;

	ctx->section = MC_SECTION_IGNORED;
	if (!*name) {
		mc_cfg_error(ctx, ctx->lineno, "empty rule name in '[%s]' (write [fault.<name>])",
		             header);
		return;
	}
	if (!rule_name_ok(name)) {
		mc_cfg_error(ctx, ctx->lineno,
		             "bad rule name '%s' (use at most %d letters, digits, '_', '-' or '.')",
		             name, MC_RULE_NAME_MAX);
		return;
	}
	prev = find_rule(cfg, name);
	if (prev >= 0) {
		mc_cfg_error(ctx, ctx->lineno, "duplicate rule '%s' (first defined at line %d)",
		             name, cfg->rules[prev].line);
		return;
	}
	if (cfg->n_rules == MC_MAX_RULES) {
		mc_cfg_error(ctx, ctx->lineno, "too many rules: at most %d per config",
		             MC_MAX_RULES);
		return;
	}
	if (cfg->n_rules == ctx->rules_cap && grow_rules(ctx) < 0) {
		ctx->oom = true;
		return;
	}
	rule = &cfg->rules[cfg->n_rules];
	memset(rule, 0, sizeof(*rule));
	memset(&ctx->rule_lines[cfg->n_rules], 0, sizeof(ctx->rule_lines[0]));
	mc_cfg_rule_defaults(rule);
	memcpy(rule->name, name, strlen(name) + 1);
	rule->line = ctx->lineno;
	ctx->rule = cfg->n_rules++;
	ctx->section = MC_SECTION_RULE;
}

static void unknown_section(struct mc_cfg_ctx *ctx, const char *header)
{
	static const char *const fault[] = { "fault" };
	static const char *const global[] = { "mlchaos" };
	const char *dot = strchr(header, '.');
	char prefix[MC_CFG_MAX_LINE];

	ctx->section = MC_SECTION_IGNORED;
	if (dot && (size_t)(dot - header) < sizeof(prefix)) {
		memcpy(prefix, header, (size_t)(dot - header));
		prefix[dot - header] = '\0';
		if (mc_cfg_suggest(prefix, fault, 1)) {
			mc_cfg_error(ctx, ctx->lineno,
			             "unknown section '[%s]' (did you mean [fault%s]?)", header,
			             dot);
			return;
		}
	}
	if (mc_cfg_suggest(header, global, 1)) {
		mc_cfg_error(ctx, ctx->lineno, "unknown section '[%s]' (did you mean [mlchaos]?)",
		             header);
		return;
	}
	mc_cfg_error(ctx, ctx->lineno,
	             "unknown section '[%s]' (sections are [mlchaos] and [fault.<name>])", header);
}

static void begin_section(struct mc_cfg_ctx *ctx, const char *header)
{
	if (strcmp(header, "mlchaos") == 0) {
		if (ctx->global_line)
			mc_cfg_error(ctx, ctx->lineno,
			             "second [mlchaos] section (first at line %d): merge them",
			             ctx->global_line);
		else
			ctx->global_line = ctx->lineno;
		ctx->section = MC_SECTION_GLOBAL;
	} else if (strncmp(header, "fault.", 6) == 0) {
		begin_rule(ctx, header, header + 6);
	} else {
		unknown_section(ctx, header);
	}
}

/* ---- the line reader handed to inih ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

/* A "[name]" line: open the section; false on a syntax error (reported). */
static bool vet_section(struct mc_cfg_ctx *ctx, const char *line, size_t len)
{
	const char *close = memchr(line, ']', len);
	char header[MC_CFG_MAX_LINE + 1];
	const char *rest;

	if (!close) {
		mc_cfg_error(ctx, ctx->lineno, "unterminated section header: missing ']'");
		ctx->section = MC_SECTION_IGNORED;
		return false;
	}
	memcpy(header, line + 1, (size_t)(close - line - 1));
	header[close - line - 1] = '\0';
	for (rest = close + 1; rest < line + len && is_blank(*rest); rest++)
		;
	if (rest < line + len && *rest != ';' && *rest != '#')
		mc_cfg_error(ctx, ctx->lineno, "unexpected text after section header '[%s]'",
		             header);
	begin_section(ctx, header);
	return true;
}

/* Whether a "key = value" line has its separator before any inline comment, as inih wants. */
static bool has_separator(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '=' || line[i] == ':')
			return true;
		if (line[i] == ';' && i > 0 && is_blank(line[i - 1]))
			return false;
	}
	return false;
}

/* Check one physical line; returns whether inih should see it (else it gets an empty line,
 * which keeps its line count in step with ours). Leading blanks are dropped so that inih
 * never takes an indented line as the continuation of the previous value. */
static bool vet_line(struct mc_cfg_ctx *ctx, const char **line, size_t *len, int num)
{
	const char *p = *line;
	size_t n = *len;

	if (n > MC_CFG_MAX_LINE) {
		mc_cfg_error(ctx, ctx->lineno,
		             "line is %zu bytes long, the limit is %d: shorten it", n,
		             MC_CFG_MAX_LINE);
		return false;
	}
	if (n + 2 > (size_t)num) { /* inih's buffer: text, '\n', NUL */
		mc_cfg_error(ctx, ctx->lineno,
		             "line is %zu bytes long, the limit is %d: shorten it", n, num - 2);
		return false;
	}
	if (memchr(p, '\0', n)) {
		mc_cfg_error(ctx, ctx->lineno, "NUL byte in line: is this a text file?");
		return false;
	}
	while (n && is_blank(*p)) {
		p++;
		n--;
	}
	*line = p;
	*len = n;
	if (n == 0 || *p == ';' || *p == '#')
		return true;
	if (*p == '[')
		return vet_section(ctx, p, n);
	if (!has_separator(p, n)) {
		mc_cfg_error(ctx, ctx->lineno,
		             "expected 'key = value', a [section] or a comment, not '%.*s'",
		             (int)(n > 60 ? 60 : n), p);
		return false;
	}
	return true;
}

static char *read_line(char *str, int num, void *stream)
{
	struct mc_cfg_ctx *ctx = stream;
	const char *line, *nl;
	size_t len;

	if (ctx->pos >= ctx->len || num < 2)
		return NULL;
	line = ctx->text + ctx->pos;
	nl = memchr(line, '\n', ctx->len - ctx->pos);
	len = nl ? (size_t)(nl - line) : ctx->len - ctx->pos;
	ctx->pos += len + (nl ? 1 : 0);
	ctx->lineno++;
	if (ctx->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	if (len && line[len - 1] == '\r')
		len--;
	if (!vet_line(ctx, &line, &len, num))
		len = 0;
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct mc_cfg_ctx *ctx = user;

	(void)section; /* tracked by read_line: inih cuts names longer than 50 bytes */
	if (!*name) {
		mc_cfg_error(ctx, ctx->lineno, "missing key name before '='");
		return 1;
	}
	switch (ctx->section) {
	case MC_SECTION_NONE:
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "'%s' is outside any section: put it under [mlchaos] or [fault.<name>]", name);
		break;
	case MC_SECTION_GLOBAL:
		mc_cfg_global_key(ctx, name, value);
		break;
	case MC_SECTION_RULE:
		mc_cfg_rule_key(ctx, name, value);
		break;
	case MC_SECTION_IGNORED:
		break; /* the section header was already reported */
	}
	return 1; /* always: we report problems ourselves, with their own message */
}

/* ---- whole files ---- */

static void config_defaults(struct mc_config *cfg)
{
	cfg->enabled = true;
	cfg->request_key = MC_KEY_HEADER;
	memcpy(cfg->header, "X-Request-Id", sizeof("X-Request-Id"));
	cfg->on_error = MC_ON_ERROR_PASSTHROUGH;
	cfg->max_faults = MC_UNLIMITED;
}

static bool diag_at(const struct mc_cfg_ctx *ctx, int line)
{
	for (size_t i = 0; i < ctx->n_diags; i++)
		if (ctx->diags[i].line == line)
			return true;
	return false;
}

/* inih keeps its line buffer at ini_max_line bytes (200 in Debian's build). inih is linked
 * statically and hidden inside libmlchaos.so and the command, so this global is our private
 * copy, never the host's; we still put it back after use. */
static int run_inih(struct mc_cfg_ctx *ctx)
{
	int saved = ini_max_line;
	int r;

	if (ini_max_line < MC_CFG_MAX_LINE + 3)
		ini_max_line = MC_CFG_MAX_LINE + 3;
	r = ini_parse_stream(read_line, ctx, on_pair, ctx);
	ini_max_line = saved;
	return r;
}

static int parse_text(const char *name, const char *text, size_t len, mc_cfg_diag_fn diag,
                      void *user, struct mc_config **ret_cfg, enum mc_on_error *ret_on_error)
{
	struct mc_cfg_ctx ctx = { .file = name, .text = text, .len = len };
	int r;

	*ret_cfg = NULL;
	ctx.cfg = calloc(1, sizeof(*ctx.cfg));
	if (!ctx.cfg)
		return -ENOMEM;
	config_defaults(ctx.cfg);
	ctx.cfg->file = strdup(name);
	if (!ctx.cfg->file)
		ctx.oom = true;
	r = run_inih(&ctx);
	if (r == -2)
		ctx.oom = true;
	else if (r > 0 && !diag_at(&ctx, r))
		mc_cfg_error(&ctx, r, "syntax error");
	mc_cfg_validate(&ctx);
	r = ctx.oom ? -ENOMEM : ctx.n_errors || ctx.n_dropped ? -EINVAL : 0;
	deliver_diags(&ctx, diag, user);
	free(ctx.rule_lines);
	if (ret_on_error)
		*ret_on_error = ctx.cfg->on_error; /* the default unless its line was valid */
	if (r < 0) {
		mc_cfg_free(ctx.cfg);
		return r;
	}
	*ret_cfg = ctx.cfg;
	return 0;
}

int mc_cfg_parse_string(const char *name, const char *text, mc_cfg_diag_fn diag, void *user,
                        struct mc_config **ret_cfg)
{
	return parse_text(name, text, strlen(text), diag, user, ret_cfg, NULL);
}

static void report_io(const char *path, const char *what, int err, mc_cfg_diag_fn diag, void *user)
{
	char msg[MC_CFG_MAX_MSG];

	if (!diag)
		return;
	if (err == EFBIG)
		snprintf(msg, sizeof(msg), "%s: %s: larger than %d bytes: is this a config file?",
		         path, what, MC_CFG_MAX_FILE);
	else
		snprintf(msg, sizeof(msg), "%s: %s: %s", path, what, strerror(err));
	diag(user, MC_DIAG_ERROR, msg);
}

/* Read all of fd into a new NUL-terminated buffer, at most MC_CFG_MAX_FILE bytes. */
static int slurp(int fd, char **ret_text, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *text = malloc(cap + 1);

	if (!text)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *grown;

			if (cap > MC_CFG_MAX_FILE) {
				free(text);
				return -EFBIG;
			}
			cap *= 2;
			grown = realloc(text, cap + 1);
			if (!grown) {
				free(text);
				return -ENOMEM;
			}
			text = grown;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(text);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MC_CFG_MAX_FILE) {
		free(text);
		return -EFBIG;
	}
	text[len] = '\0';
	*ret_text = text;
	*ret_len = len;
	return 0;
}

int mc_cfg_parse_file_policy(const char *path, mc_cfg_diag_fn diag, void *user,
                             struct mc_config **ret_cfg, enum mc_on_error *ret_on_error)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, r;

	*ret_cfg = NULL;
	if (ret_on_error)
		*ret_on_error = MC_ON_ERROR_PASSTHROUGH;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		report_io(path, "cannot open", -r, diag, user);
		return r;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		r = -EISDIR;
	else
		r = slurp(fd, &text, &len);
	close(fd);
	if (r < 0) {
		report_io(path, "cannot read", -r, diag, user);
		return r;
	}
	r = parse_text(path, text, len, diag, user, ret_cfg, ret_on_error);
	free(text);
	return r;
}

int mc_cfg_parse_file(const char *path, mc_cfg_diag_fn diag, void *user, struct mc_config **ret_cfg)
{
	return mc_cfg_parse_file_policy(path, diag, user, ret_cfg, NULL);
}

void mc_cfg_free(struct mc_config *cfg)
{
	if (!cfg)
		return;
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		free(cfg->rules[i].path);
		free(cfg->rules[i].process);
		free(cfg->rules[i].to);
		free(cfg->rules[i].damage);
		free(cfg->rules[i].replay_calls);
		free(cfg->rules[i].replay_keys);
		mc_cfg_pairs_free(&cfg->rules[i].written);
		free(cfg->rules[i].tensor);
		free(cfg->rules[i].caller);
		free(cfg->rules[i].not_caller);
		free(cfg->rules[i].json_path);
	}
	mc_cfg_pairs_free(&cfg->written);
	free(cfg->rules);
	free(cfg->file);
	free(cfg->log);
	free(cfg->halt_file);
	free(cfg);
}

size_t mc_cfg_describe(const struct mc_config *cfg, char *buf, size_t size)
{
	size_t len = 0;

/* buf may be NULL when size is 0 (to measure, as with snprintf): no
 * pointer arithmetic on it then. */
#define APPEND(...)                                                            \
	(len += (size_t)snprintf(buf ? buf + (len < size ? len : size) : NULL, \
	                         len < size ? size - len : 0, __VA_ARGS__))
	if (size)
		buf[0] = '\0';
	APPEND("%u rule%s", cfg->n_rules, cfg->n_rules == 1 ? "" : "s");
	for (unsigned i = 0; i < cfg->n_rules; i++)
		APPEND("%s%s:%s", i ? ", " : " (", mc_hook_name(cfg->rules[i].hook),
		       mc_action_name(cfg->rules[i].action));
	if (cfg->n_rules)
		APPEND(")");
	APPEND(", seed %llu", (unsigned long long)cfg->seed);
	if (!cfg->enabled)
		APPEND(", disabled");
	if (cfg->shadow)
		APPEND(", shadow");
#undef APPEND
	return len;
}
