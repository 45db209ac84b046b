/* json.c: a bounded JSON scanner for safetensors headers: strings (validated, decoded on
 * demand), non-negative integers, and skipping any value at most MC_TF_JSON_DEPTH_MAX deep. It
 * never reads past end and never allocates; every error leaves j->err and j->p at the fault. */
#include <string.h>

#include "internal.h"

static void skip_blanks(struct mc_tf_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int fail(struct mc_tf_json *j, const char *what)
{
	j->err = what;
	return -1;
}

bool mc_tf_json_eat(struct mc_tf_json *j, char c)
{
	skip_blanks(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(const char *p, const char *end, unsigned *ret)
{
	unsigned v = 0;
	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*ret = v;
	return true;
}

int mc_tf_json_string(struct mc_tf_json *j, const char **ret_raw, size_t *ret_raw_len)
{
	if (!mc_tf_json_eat(j, '"'))
		return fail(j, "expected a string");
	const char *body = j->p;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20)
			return fail(j, "control byte in a string");
		if (c != '\\') {
			j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			break;
		char e = j->p[1];
		unsigned cp;
		if (e == 'u') {
			if (!hex4(j->p + 2, j->end, &cp))
				return fail(j, "bad \\u escape");
			j->p += 6;
		} else if (strchr("\"\\/bfnrt", e) && e != '\0') {
			j->p += 2;
		} else {
			return fail(j, "bad escape in a string");
		}
	}
	if (j->p >= j->end)
		return fail(j, "unterminated string");
	*ret_raw = body;
	*ret_raw_len = (size_t)(j->p - body);
	j->p++;
	return 0;
}

static size_t utf8_len(unsigned cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static void utf8_put(char *out, unsigned cp, size_t n)
{
	if (n == 1) {
		out[0] = (char)cp;
		return;
	}
	static const unsigned char lead[5] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	for (size_t i = n - 1; i > 0; i--) {
		out[i] = (char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	out[0] = (char)(lead[n] | cp);
}

/* One escape at raw[*i] (a backslash): its code point, and *i moved past it. */
static unsigned unescape_one(const char *raw, size_t raw_len, size_t *i)
{
	char e = raw[*i + 1];
	unsigned cp = 0;
	*i += 2;
	if (e != 'u') {
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		return (unsigned char)to[strchr(from, e) - from];
	}
	hex4(raw + *i, raw + raw_len, &cp);
	*i += 4;
	/* A high surrogate followed by an escaped low one is one code point. */
	unsigned lo;
	if (cp >= 0xd800 && cp < 0xdc00 && *i + 6 <= raw_len && raw[*i] == '\\' &&
	    raw[*i + 1] == 'u' && hex4(raw + *i + 2, raw + raw_len, &lo) && lo >= 0xdc00 &&
	    lo < 0xe000) {
		*i += 6;
		return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return cp == 0 ? '?' : cp;
}

size_t mc_tf_json_unescape(const char *raw, size_t raw_len, char *out, size_t cap)
{
	size_t n = 0, i = 0;
	while (i < raw_len) {
		unsigned cp;
		size_t k = 1;
		if (raw[i] == '\\') {
			cp = unescape_one(raw, raw_len, &i);
			k = utf8_len(cp);
		} else {
			cp = (unsigned char)raw[i++];
		}
		if (n + k > cap)
			break;
		utf8_put(out + n, cp, k);
		n += k;
	}
	return n;
}

bool mc_tf_json_is(const char *raw, size_t raw_len, const char *s)
{
	return strlen(s) == raw_len && memcmp(raw, s, raw_len) == 0;
}

int mc_tf_json_u64(struct mc_tf_json *j, uint64_t *ret)
{
	skip_blanks(j);
	uint64_t v = 0;
	const char *start = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		unsigned d = (unsigned)(*j->p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return fail(j, "integer larger than 2^64-1");
		v = v * 10 + d;
		j->p++;
	}
	if (j->p == start)
		return fail(j, "expected a non-negative integer");
	if (j->p - start > 1 && *start == '0')
		return fail(j, "integer with a leading zero");
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return fail(j, "expected an integer, not a fraction");
	*ret = v;
	return 0;
}

static int skip_number(struct mc_tf_json *j)
{
	const char *start = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	size_t digits = 0;
	while (j->p < j->end && strchr("0123456789+-.eE", *j->p) && *j->p != '\0') {
		digits += *j->p >= '0' && *j->p <= '9';
		j->p++;
	}
	if (digits == 0) {
		j->p = start;
		return fail(j, "expected a value");
	}
	return 0;
}

static int skip_word(struct mc_tf_json *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return fail(j, "expected a value");
	j->p += n;
	return 0;
}

static int skip_value(struct mc_tf_json *j, int depth);

/* The members of an object or the items of an array, after its opening bracket. */
static int skip_members(struct mc_tf_json *j, int depth, bool object)
{
	char close = object ? '}' : ']';
	if (mc_tf_json_eat(j, close))
		return 0;
	do {
		const char *raw;
		size_t len;
		if (object && mc_tf_json_string(j, &raw, &len) < 0)
			return -1;
		if (object && !mc_tf_json_eat(j, ':'))
			return fail(j, "expected ':'");
		if (skip_value(j, depth + 1) < 0)
			return -1;
	} while (mc_tf_json_eat(j, ','));
	if (!mc_tf_json_eat(j, close))
		return fail(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
	return 0;
}

static int skip_value(struct mc_tf_json *j, int depth)
{
	const char *raw;
	size_t len;
	if (depth > MC_TF_JSON_DEPTH_MAX)
		return fail(j, "nested too deep");
	skip_blanks(j);
	if (j->p >= j->end)
		return fail(j, "expected a value");
	switch (*j->p) {
	case '{':
	case '[':
		return skip_members(j, depth, *j->p++ == '{');
	case '"':
		return mc_tf_json_string(j, &raw, &len);
	case 't':
		return skip_word(j, "true");
	case 'f':
		return skip_word(j, "false");
	case 'n':
		return skip_word(j, "null");
	default:
		return skip_number(j);
	}
}

int mc_tf_json_skip(struct mc_tf_json *j)
{
	return skip_value(j, 0);
}
