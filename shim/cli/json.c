/* json.c: the JSON reader of json.h. Recursive descent over a bounded depth; every read is
 * checked against the end of the text; all memory of a tree is freed by mc_json_free(), also
 * after a parse that failed half-way. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct reader {
	const char *p, *start, *end;
	int depth;
	const char *why;
	const char *why_at;
	bool oom;
};

/* Records the first problem; always false, so that callers can `return fail(...)`. */
static bool fail(struct reader *r, const char *why)
{
	if (!r->why) {
		r->why = why;
		r->why_at = r->p;
	}
	return false;
}

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
		r->p++;
}

static bool lit(struct reader *r, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return fail(r, "not a JSON value");
	r->p += n;
	return true;
}

/* Four hex digits, as \u escapes have them. */
static bool hex4(struct reader *r, unsigned *ret)
{
	char digits[5];

	if (r->end - r->p < 4)
		return false;
	memcpy(digits, r->p, 4);
	digits[4] = '\0';
	if (strspn(digits, "0123456789abcdefABCDEF") != 4)
		return false;
	*ret = (unsigned)strtoul(digits, NULL, 16);
	r->p += 4;
	return true;
}

/* A growing byte buffer for a decoded string. */
struct text {
	char *s;
	size_t len, cap;
};

static bool put(struct reader *r, struct text *t, unsigned char c)
{
	if (t->len + 1 >= t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char *s = realloc(t->s, cap);
		if (!s) {
			r->oom = true;
			return false;
		}
		t->s = s;
		t->cap = cap;
	}
	t->s[t->len++] = (char)c;
	return true;
}

static bool put_utf8(struct reader *r, struct text *t, unsigned cp)
{
	if (cp < 0x80)
		return put(r, t, (unsigned char)cp);
	if (cp < 0x800)
		return put(r, t, (unsigned char)(0xc0 | cp >> 6)) &&
		       put(r, t, (unsigned char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000)
		return put(r, t, (unsigned char)(0xe0 | cp >> 12)) &&
		       put(r, t, (unsigned char)(0x80 | (cp >> 6 & 0x3f))) &&
		       put(r, t, (unsigned char)(0x80 | (cp & 0x3f)));
	return put(r, t, (unsigned char)(0xf0 | cp >> 18)) &&
	       put(r, t, (unsigned char)(0x80 | (cp >> 12 & 0x3f))) &&
	       put(r, t, (unsigned char)(0x80 | (cp >> 6 & 0x3f))) &&
	       put(r, t, (unsigned char)(0x80 | (cp & 0x3f)));
}

static bool escape(struct reader *r, struct text *t)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char c = *r->p++;
	const char *k = c ? strchr(from, c) : NULL;
	unsigned cp, lo;

	if (k)
		return put(r, t, (unsigned char)to[k - from]);
	if (c != 'u' || !hex4(r, &cp))
		return fail(r, "a bad escape in a string");
	if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 2 && r->p[0] == '\\' &&
	    r->p[1] == 'u') {
		const char *back = r->p;
		r->p += 2;
		if (hex4(r, &lo) && lo >= 0xdc00 && lo < 0xe000)
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		else
			r->p = back;
	}
	return put_utf8(r, t, cp);
}

/* A string, its opening quote already taken, into *ret (NUL-terminated) and *ret_len. */
static bool string(struct reader *r, char **ret, size_t *ret_len)
{
	struct text t = { 0 };

	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p++;
		bool ok;

		if (c == '"') {
			if (!put(r, &t, 0))
				break;
			*ret = t.s;
			*ret_len = t.len - 1;
			return true;
		}
		if (c < 0x20)
			ok = fail(r, "a control character in a string");
		else if (c == '\\')
			ok = r->p < r->end ? escape(r, &t) : fail(r, "a string is not closed");
		else
			ok = put(r, &t, c);
		if (!ok) {
			free(t.s);
			return false;
		}
	}
	free(t.s);
	return r->oom ? false : fail(r, "a string is not closed");
}

static bool digits(struct reader *r)
{
	const char *s = r->p;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s;
}

static bool number(struct reader *r, struct mc_json *v)
{
	const char *s = r->p;
	bool whole = true;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (!digits(r) || (s[*s == '-'] == '0' && r->p - s > 1 + (*s == '-')))
		return fail(r, "not a JSON value");
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		whole = false;
		if (!digits(r))
			return fail(r, "a number without digits after '.'");
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		whole = false;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!digits(r))
			return fail(r, "a number without an exponent");
	}
	v->type = MC_JSON_NUMBER;
	if (whole && *s != '-') {
		uint64_t u = 0;
		v->whole = true;
		for (const char *d = s; d < r->p; d++) {
			if (u > (UINT64_MAX - (uint64_t)(*d - '0')) / 10) {
				v->whole = false; /* larger than 64 bits */
				break;
			}
			u = u * 10 + (uint64_t)(*d - '0');
		}
		v->u64 = v->whole ? u : 0;
	}
	return true;
}

static bool value(struct reader *r, struct mc_json *v);

/* One more member slot in v (an array or object under construction). */
static struct mc_json *add_member(struct reader *r, struct mc_json *v, size_t *cap)
{
	if (v->len == *cap) {
		size_t n = *cap ? *cap * 2 : 4;
		struct mc_json *at = realloc(v->at, n * sizeof(*at));
		char **names =
		    v->type == MC_JSON_OBJECT ? realloc(v->names, n * sizeof(*names)) : NULL;
		if (at)
			v->at = at;
		if (names)
			v->names = names;
		if (!at || (v->type == MC_JSON_OBJECT && !names)) {
			r->oom = true;
			return NULL;
		}
		*cap = n;
	}
	memset(&v->at[v->len], 0, sizeof(v->at[0]));
	if (v->names)
		v->names[v->len] = NULL;
	return &v->at[v->len++];
}

static bool member_name(struct reader *r, struct mc_json *v)
{
	size_t len;

	skip_ws(r);
	if (r->p >= r->end || *r->p != '"')
		return fail(r, "a member name is not a string");
	r->p++;
	if (!string(r, &v->names[v->len - 1], &len))
		return false;
	skip_ws(r);
	if (r->p >= r->end || *r->p != ':')
		return fail(r, "no ':' after a member name");
	r->p++;
	return true;
}

/* An array or an object, its opening bracket already taken. */
static bool container(struct reader *r, struct mc_json *v, enum mc_json_type type, char close)
{
	size_t cap = 0;

	v->type = type;
	if (++r->depth > MC_JSON_MAX_DEPTH)
		return fail(r, "nested too deep");
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return true;
	}
	for (;;) {
		struct mc_json *m = add_member(r, v, &cap);

		if (!m || (type == MC_JSON_OBJECT && !member_name(r, v)) || !value(r, m))
			return false;
		skip_ws(r);
		if (r->p >= r->end)
			return fail(r, "an array or object is not closed");
		if (*r->p == close)
			break;
		if (*r->p != ',')
			return fail(r, "no ',' between members");
		r->p++;
	}
	r->p++;
	r->depth--;
	return true;
}

static bool value(struct reader *r, struct mc_json *v)
{
	skip_ws(r);
	if (r->p >= r->end)
		return fail(r, "a value is missing");
	switch (*r->p) {
	case '{':
		r->p++;
		return container(r, v, MC_JSON_OBJECT, '}');
	case '[':
		r->p++;
		return container(r, v, MC_JSON_ARRAY, ']');
	case '"':
		r->p++;
		v->type = MC_JSON_STRING;
		return string(r, &v->str, &v->len);
	case 't':
		v->type = MC_JSON_BOOL;
		v->boolean = true;
		return lit(r, "true");
	case 'f':
		v->type = MC_JSON_BOOL;
		return lit(r, "false");
	case 'n':
		return lit(r, "null");
	default:
		return number(r, v);
	}
}

static void free_members(struct mc_json *v)
{
	if (v->type == MC_JSON_STRING)
		free(v->str);
	if (v->type != MC_JSON_ARRAY && v->type != MC_JSON_OBJECT)
		return;
	for (size_t i = 0; i < v->len; i++) {
		free_members(&v->at[i]);
		if (v->names)
			free(v->names[i]);
	}
	free(v->at);
	free(v->names);
}

void mc_json_free(struct mc_json *v)
{
	if (!v)
		return;
	free_members(v);
	free(v);
}

int mc_json_parse(const char *text, size_t len, struct mc_json **ret, const char **ret_why,
                  size_t *ret_at)
{
	struct reader r = { .p = text, .start = text, .end = text + len };
	struct mc_json *v = calloc(1, sizeof(*v));

	*ret = NULL;
	if (!v)
		return -ENOMEM;
	if (value(&r, v)) {
		skip_ws(&r);
		if (r.p < r.end)
			fail(&r, "text after the value");
	}
	if (r.oom || r.why) {
		mc_json_free(v);
		if (r.oom)
			return -ENOMEM;
		if (ret_why)
			*ret_why = r.why;
		if (ret_at)
			*ret_at = (size_t)(r.why_at - r.start);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

const struct mc_json *mc_json_get(const struct mc_json *obj, const char *name)
{
	if (!obj || obj->type != MC_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->len; i++)
		if (strcmp(obj->names[i], name) == 0)
			return &obj->at[i];
	return NULL;
}

const char *mc_json_get_str(const struct mc_json *obj, const char *name)
{
	const struct mc_json *v = mc_json_get(obj, name);
	return v && v->type == MC_JSON_STRING ? v->str : NULL;
}

bool mc_json_get_u64(const struct mc_json *obj, const char *name, uint64_t *ret)
{
	const struct mc_json *v = mc_json_get(obj, name);
	if (!v || v->type != MC_JSON_NUMBER || !v->whole)
		return false;
	*ret = v->u64;
	return true;
}

bool mc_json_get_true(const struct mc_json *obj, const char *name)
{
	const struct mc_json *v = mc_json_get(obj, name);
	return v && v->type == MC_JSON_BOOL && v->boolean;
}
