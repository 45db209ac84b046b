/* json.c: the strict, bounded JSON reader (see json.h).
 * Never dereferences j->p when j->p == j->end; every loop advances or fails. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void mc_json_init(struct mc_json *j, const char *s, size_t n)
{
	j->p = s;
	j->end = s + n;
}

void mc_json_ws(struct mc_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

bool mc_json_eat(struct mc_json *j, char c)
{
	mc_json_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

bool mc_json_at_end(struct mc_json *j)
{
	mc_json_ws(j);
	return j->p == j->end;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int check_escape(struct mc_json *j)
{
	/* j->p is just past the backslash. */
	if (j->p == j->end)
		return -EINVAL;
	if (*j->p && strchr("\"\\/bfnrt", *j->p)) {
		j->p++;
		return 0;
	}
	if (*j->p != 'u' || j->end - j->p < 5)
		return -EINVAL;
	for (int i = 1; i <= 4; i++)
		if (!is_hex(j->p[i]))
			return -EINVAL;
	j->p += 5;
	return 0;
}

int mc_json_string(struct mc_json *j, const char **ret_s, size_t *ret_n)
{
	const char *start;

	if (!mc_json_eat(j, '"'))
		return -EINVAL;
	start = j->p;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;

		if (c < 0x20)
			return -EINVAL;
		if (c == '\\' && check_escape(j) < 0)
			return -EINVAL;
	}
	if (j->p == j->end)
		return -EINVAL;
	*ret_s = start;
	*ret_n = (size_t)(j->p - start);
	j->p++;
	return 0;
}

static bool digit_at(const struct mc_json *j, const char *q)
{
	return q < j->end && *q >= '0' && *q <= '9';
}

/* Scan JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *scan_number(const struct mc_json *j)
{
	const char *q = j->p;

	if (q < j->end && *q == '-')
		q++;
	if (!digit_at(j, q))
		return NULL;
	if (*q == '0')
		q++;
	else
		while (digit_at(j, q))
			q++;
	if (q < j->end && *q == '.') {
		q++;
		if (!digit_at(j, q))
			return NULL;
		while (digit_at(j, q))
			q++;
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		if (!digit_at(j, q))
			return NULL;
		while (digit_at(j, q))
			q++;
	}
	return q;
}

int mc_json_number(struct mc_json *j, double *ret)
{
	char tmp[64];
	const char *q;
	size_t n;

	mc_json_ws(j);
	q = scan_number(j);
	if (!q)
		return -EINVAL;
	n = (size_t)(q - j->p);
	/* The span is not NUL-terminated: strtod needs a bounded copy. 63 characters are more
	 * than any float needs; longer spellings are refused rather than cut. */
	if (n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, j->p, n);
	tmp[n] = '\0';
	*ret = strtod(tmp, NULL);
	j->p = q;
	return 0;
}

static int skip_literal(struct mc_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return -EINVAL;
	j->p += n;
	return 0;
}

static int skip_value(struct mc_json *j, int depth);

static int skip_container(struct mc_json *j, char close, bool keyed, int depth)
{
	const char *s;
	size_t n;

	if (mc_json_eat(j, close))
		return 0;
	do {
		if (keyed && (mc_json_string(j, &s, &n) < 0 || !mc_json_eat(j, ':')))
			return -EINVAL;
		if (skip_value(j, depth + 1) < 0)
			return -EINVAL;
	} while (mc_json_eat(j, ','));
	return mc_json_eat(j, close) ? 0 : -EINVAL;
}

static int skip_value(struct mc_json *j, int depth)
{
	const char *s;
	size_t n;
	double d;

	if (depth > MC_JSON_MAX_DEPTH)
		return -EINVAL;
	mc_json_ws(j);
	if (j->p == j->end)
		return -EINVAL;
	switch (*j->p) {
	case '{':
		j->p++;
		return skip_container(j, '}', true, depth);
	case '[':
		j->p++;
		return skip_container(j, ']', false, depth);
	case '"':
		return mc_json_string(j, &s, &n);
	case 't':
		return skip_literal(j, "true");
	case 'f':
		return skip_literal(j, "false");
	case 'n':
		return skip_literal(j, "null");
	default:
		return mc_json_number(j, &d);
	}
}

int mc_json_skip(struct mc_json *j)
{
	return skip_value(j, 0);
}

int mc_json_floats(struct mc_json *j, float *out, size_t cap, size_t *ret_n)
{
	size_t n = 0;
	double d;

	if (!mc_json_eat(j, '['))
		return -EINVAL;
	if (!mc_json_eat(j, ']')) {
		do {
			if (mc_json_number(j, &d) < 0)
				return -EINVAL;
			if (n == cap)
				return -E2BIG;
			/* A finite double beyond float range becomes inf here: let it, the model's
			 * answer for such an input is the model's business, not the parser's. */
			out[n++] = (float)d;
		} while (mc_json_eat(j, ','));
		if (!mc_json_eat(j, ']'))
			return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

bool mc_json_key_is(const char *s, size_t n, const char *key)
{
	return strlen(key) == n && memcmp(s, key, n) == 0;
}
