/* replay.c: the replay keys of a rule, `replay = THREAD:CALL:DRAW ...` and `replay_key = KEY
 * ...`, which `mlchaos replay` writes so that a run's faults come again on the same calls with
 * the same draws. Both are repeatable and take several blank-separated entries per line, so
 * that a long list spans lines of at most MC_CFG_MAX_LINE bytes. Reports, never stops early. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Grow a list by doubling when n reaches a power of two; n + 1 entries then fit. */
static void *grow(struct mc_cfg_ctx *ctx, void *v, unsigned n, size_t size)
{
	void *grown;

	if (n & (n - 1))
		return v;
	grown = realloc(v, (n ? (size_t)n * 2 : 1) * size);
	if (!grown)
		ctx->oom = true;
	return grown;
}

/* Decimal digits [s, end) into *ret, at most max; false when malformed or too large. */
static bool decimal(const char *s, const char *end, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

/* Exactly n (1 to 16) hex digits at s, either case. */
static bool hex_digits(const char *s, size_t n, uint64_t *ret)
{
	static const char digits[] = "0123456789abcdef";
	uint64_t v = 0;

	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
		const char *d = c ? strchr(digits, c) : NULL;

		if (!d)
			return false;
		v = v << 4 | (uint64_t)(d - digits);
	}
	*ret = v;
	return true;
}

/* 1 to 16 hex digits [s, end), with or without 0x. */
static bool hex64(const char *s, const char *end, uint64_t *ret)
{
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	return hex_digits(s, (size_t)(end - s), ret);
}

/* One THREAD:CALL:DRAW entry, [s, end). */
static int replay_entry(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *s,
                        const char *end)
{
	const char *c1 = memchr(s, ':', (size_t)(end - s));
	const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	uint64_t thread, call, draw;
	struct mc_replay_call *v;

	if (!c2 || !decimal(s, c1, UINT32_MAX, &thread) ||
	    !decimal(c1 + 1, c2, UINT64_MAX, &call) || !hex64(c2 + 1, end, &draw)) {
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "bad replay entry '%.*s' (write THREAD:CALL:DRAW, such as "
		    "0:17:9e3779b97f4a7c15: the thread's ordinal, the call's number from 1, "
		    "the draw in hex, as the event log gives them)",
		    (int)(end - s), s);
		return -EINVAL;
	}
	if (call == 0) {
		mc_cfg_error(
		    ctx, ctx->lineno,
		    "replay entry '%.*s': call numbers start at 1 (the first call the rule "
		    "matched on that thread)",
		    (int)(end - s), s);
		return -EINVAL;
	}
	v = grow(ctx, r->replay_calls, r->n_replay_calls, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->replay_calls = v;
	v[r->n_replay_calls++] =
	    (struct mc_replay_call){ call, draw, (uint32_t)thread, ctx->lineno };
	return 0;
}

/* Calls f on each blank-separated entry of v; the first failure is returned, after every
 * entry was tried (so that each bad one is reported). */
static int each_entry(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v,
                      int (*f)(struct mc_cfg_ctx *, struct mc_rule_spec *, const char *,
                               const char *))
{
	int ret = 0;

	while (*v) {
		const char *end = v;
		int r1;

		while (*end && !is_blank(*end))
			end++;
		r1 = f(ctx, r, v, end);
		if (r1 < 0 && ret == 0)
			ret = r1;
		if (r1 == -ENOMEM)
			return r1;
		for (v = end; is_blank(*v); v++)
			;
	}
	return ret;
}

int mc_cfg_parse_replay(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return each_entry(ctx, r, v, replay_entry);
}

/* One key, [s, end), with its escapes decoded into *k; false (reported) when malformed. */
static bool decode_key(struct mc_cfg_ctx *ctx, const char *s, const char *end,
                       struct mc_replay_key *k)
{
	const char *start = s;
	size_t len = 0;

	while (s < end) {
		int byte = (unsigned char)*s++;

		if (byte == '\\') {
			uint64_t hex;

			if (s < end && *s == '\\') {
				s++;
			} else if (end - s >= 3 && s[0] == 'x' && hex_digits(s + 1, 2, &hex)) {
				byte = (int)hex;
				s += 3;
			} else {
				mc_cfg_error(ctx, ctx->lineno,
				             "bad escape in replay_key '%.*s' (write \\xHH for any "
				             "byte, \\\\ for a backslash)",
				             (int)(end - start), start);
				return false;
			}
		}
		if (len == MC_REPLAY_KEY_MAX) {
			mc_cfg_error(
			    ctx, ctx->lineno,
			    "replay_key '%.*s' is longer than %d bytes: request keys are cut "
			    "to %d bytes, write only those",
			    (int)(end - start), start, MC_REPLAY_KEY_MAX, MC_REPLAY_KEY_MAX);
			return false;
		}
		k->bytes[len++] = (char)byte;
	}
	k->len = (uint32_t)len;
	k->line = ctx->lineno;
	return true;
}

static int key_entry(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *s, const char *end)
{
	struct mc_replay_key *v = grow(ctx, r->replay_keys, r->n_replay_keys, sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->replay_keys = v;
	if (!decode_key(ctx, s, end, &v[r->n_replay_keys]))
		return -EINVAL;
	r->n_replay_keys++;
	return 0;
}

int mc_cfg_parse_replay_key(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r, const char *v)
{
	return each_entry(ctx, r, v, key_entry);
}

size_t mc_cfg_replay_key_escape(const void *key, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *k = key;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char enc[4] = { (char)k[i] };
		size_t m = 1;

		if (k[i] <= 0x20 || k[i] >= 0x7f || strchr("\\;#=\"'", k[i])) {
			enc[0] = '\\';
			enc[1] = 'x';
			enc[2] = hex[k[i] >> 4];
			enc[3] = hex[k[i] & 15];
			m = 4;
		}
		for (size_t j = 0; j < m; j++, n++)
			if (n + 1 < cap)
				out[n] = enc[j];
	}
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

/* ---- whole-rule checks ---- */

static int by_thread_call(const void *a, const void *b)
{
	const struct mc_replay_call *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	if (x->call != y->call)
		return x->call < y->call ? -1 : 1;
	return x->line - y->line;
}

static int by_bytes(const void *a, const void *b)
{
	const struct mc_replay_key *x = a, *y = b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->bytes, y->bytes, x->len);
	return c ? c : x->line - y->line;
}

/* Sorted by (thread, call); a call listed twice is an error (which draw would it get?). */
static void check_calls(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r)
{
	if (!r->n_replay_calls) /* NULL then: not for qsort */
		return;
	qsort(r->replay_calls, r->n_replay_calls, sizeof(r->replay_calls[0]), by_thread_call);
	for (unsigned i = 1; i < r->n_replay_calls; i++) {
		const struct mc_replay_call *a = &r->replay_calls[i - 1], *b = &r->replay_calls[i];

		if (a->thread == b->thread && a->call == b->call)
			mc_cfg_error(ctx, b->line,
			             "replay lists call %llu of thread %u twice (also at line %d): "
			             "keep one",
			             (unsigned long long)b->call, b->thread, a->line);
	}
}

/* A key listed twice is harmless: warned about, kept once. */
static void check_keys(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r)
{
	unsigned n = 0;

	if (!r->n_replay_keys)
		return;
	qsort(r->replay_keys, r->n_replay_keys, sizeof(r->replay_keys[0]), by_bytes);
	for (unsigned i = 0; i < r->n_replay_keys; i++) {
		const struct mc_replay_key *k = &r->replay_keys[i];

		if (n && k->len == r->replay_keys[n - 1].len &&
		    memcmp(k->bytes, r->replay_keys[n - 1].bytes, k->len) == 0) {
			mc_cfg_warning(ctx, k->line,
			               "replay_key lists a key twice (also at line %d): once is "
			               "enough",
			               r->replay_keys[n - 1].line);
			continue;
		}
		r->replay_keys[n++] = *k;
	}
	r->n_replay_keys = n;
}

void mc_cfg_validate_replay(struct mc_cfg_ctx *ctx, struct mc_rule_spec *r,
                            const struct mc_rule_lines *lines)
{
	int list_line = lines->key[MC_RKEY_REPLAY] ? lines->key[MC_RKEY_REPLAY]
	                                           : lines->key[MC_RKEY_REPLAY_KEY];

	if (!list_line)
		return;
	if (lines->key[MC_RKEY_RATE])
		mc_cfg_error(ctx, lines->key[MC_RKEY_RATE],
		             "rate does not apply to a rule with a replay list (line %d): the rule "
		             "acts on the listed calls only, remove rate",
		             list_line);
	if (lines->key[MC_RKEY_AFTER])
		mc_cfg_error(ctx, lines->key[MC_RKEY_AFTER],
		             "after does not apply to a rule with a replay list (line %d): the "
		             "listed call numbers count every matching call already, remove after",
		             list_line);
	if (lines->key[MC_RKEY_REPLAY_KEY] && r->select == MC_SELECT_CALL)
		mc_cfg_error(ctx, lines->key[MC_RKEY_REPLAY_KEY],
		             "replay_key needs select = request: a select = call rule is replayed "
		             "with replay = THREAD:CALL:DRAW");
	check_calls(ctx, r);
	check_keys(ctx, r);
}
