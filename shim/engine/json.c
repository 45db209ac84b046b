/* json.c: region = json. Two passes over a body that must be whole in the bytes at hand: the
 * first checks that it is JSON, counts its numbers and those json_path addresses, and notes
 * the ones the draw picks; the second writes their new values in place. Nothing is changed
 * unless the whole body scanned, so that a body cut by a read or a send is never left half
 * rewritten. */
#include <string.h>

#include "internal.h"
#include "json.h"

#define MAX_PICKS 64

/* ---- numbers -------------------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool mc_json_read_number(const char *s, size_t n, double *ret)
{
	size_t i = 0;
	bool neg = false;
	uint64_t mant = 0;
	int scale = 0, digits = 0, ex = 0, exsign = 1;

	if (i < n && s[i] == '-')
		neg = true, i++;
	if (i >= n || !is_digit(s[i]))
		return false;
	for (; i < n && is_digit(s[i]); i++, digits++) {
		if (mant < 100000000000000000ull)
			mant = mant * 10 + (uint64_t)(s[i] - '0');
		else
			scale++;
	}
	if (i < n && s[i] == '.') {
		if (++i >= n || !is_digit(s[i]))
			return false;
		for (; i < n && is_digit(s[i]); i++)
			if (mant < 100000000000000000ull)
				mant = mant * 10 + (uint64_t)(s[i] - '0'), scale--;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			exsign = s[i++] == '-' ? -1 : 1;
		if (i >= n || !is_digit(s[i]))
			return false;
		for (; i < n && is_digit(s[i]); i++)
			if (ex < 10000)
				ex = ex * 10 + (s[i] - '0');
	}
	if (i != n)
		return false;
	(void)digits;
	int e = scale + exsign * ex;
	double v = (double)mant;
	for (; e > 0 && v < 1e308; e--)
		v *= 10;
	for (; e < 0 && v > 0; e++)
		v /= 10;
	*ret = neg ? -v : v;
	return true;
}

static size_t count_digits(uint64_t v)
{
	size_t n = 1;
	while (v >= 10)
		v /= 10, n++;
	return n;
}

/* v's decimal digits at out, n of them (count_digits(v)). */
static void put_digits(char *out, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--, v /= 10)
		out[i - 1] = (char)('0' + v % 10);
}

/* a >= 0, finite: the fixed spelling "I.FFF" in at most room bytes, as many fraction digits
 * as fit, trailing zeros dropped; its length, or 0 when the integer part does not fit. */
static size_t fixed(double a, char *out, size_t room)
{
	if (a >= 1e18)
		return 0;
	/* k fraction digits: no more than a double holds (17), so that 10^k fits 64 bits */
	for (size_t k = room < 18 ? room : 18; k-- > 0;) {
		double p = 1;
		for (size_t i = 0; i < k; i++)
			p *= 10;
		if (a * p >= 1.8e19)
			continue;
		uint64_t q = (uint64_t)(a * p + 0.5);
		uint64_t ip = q, frac = 0;
		uint64_t pk = (uint64_t)p;
		ip = q / pk;
		frac = q % pk;
		size_t nd = count_digits(ip);
		size_t len = nd + (k ? k + 1 : 0);
		if (len > room)
			continue;
		put_digits(out, ip, nd);
		if (k) {
			out[nd] = '.';
			put_digits(out + nd + 1, frac, k);
			while (len > nd + 2 && out[len - 1] == '0')
				len--;
			if (out[len - 1] == '0' && out[len - 2] == '.')
				len -= 2;
		}
		return len;
	}
	return 0;
}

/* a > 0, finite: "D.DDDe-X" in at most room bytes; its length, or 0. */
static size_t scientific(double a, char *out, size_t room)
{
	int e = 0;
	while (a >= 10)
		a /= 10, e++;
	while (a < 1)
		a *= 10, e--;
	char ebuf[8];
	size_t en = 0;
	ebuf[en++] = 'e';
	if (e < 0)
		ebuf[en++] = '-';
	uint64_t ue = (uint64_t)(e < 0 ? -e : e);
	size_t nd = count_digits(ue);
	put_digits(ebuf + en, ue, nd);
	en += nd;
	if (en + 1 > room)
		return 0;
	size_t m = fixed(a, out, room - en);
	if (m == 0 || (m >= 2 && out[0] == '1' && out[1] == '0' && (m == 2 || out[2] != '.')))
		return 0; /* 9.99 rounded to 10: not a mantissa; take it as unwritable */
	memcpy(out + m, ebuf, en);
	return m + en;
}

int mc_json_write_number(double v, char *out, size_t w)
{
	char tmp[64];
	size_t n = 0;

	if (w == 0 || w > sizeof(tmp))
		return -1;
	if (v != v) {
		if (w < 3)
			return -1;
		memcpy(tmp, "NaN", 3);
		n = 3;
	} else if (v > 1.7e308 || v < -1.7e308) {
		return -1; /* JSON has no infinity; Infinity is not asked for */
	} else {
		bool neg = v < 0;
		double a = neg ? -v : v;
		if (neg)
			tmp[n++] = '-';
		if (n >= w)
			return -1;
		size_t m = fixed(a, tmp + n, w - n);
		if (m == 0 && a > 0)
			m = scientific(a, tmp + n, w - n);
		if (m == 0)
			return -1;
		n += m;
		if (n == 2 && neg && tmp[1] == '0')
			tmp[0] = '0', n = 1; /* -0 is 0 */
	}
	memcpy(out, tmp, n);
	memset(out + n, ' ', w - n);
	return 0;
}

/* ---- the scanner ---------------------------------------------------------------------- */

struct slot {
	size_t at, width;
	double v;
};

struct scan {
	const char *b;
	size_t len, pos;
	char ptr[MC_JSON_POINTER];
	size_t plen;
	bool ptr_long; /* the pointer outgrew ptr: nothing under it matches */
	struct {
		char type;
		uint32_t index;
		size_t plen;
		bool ptr_long;
	} stack[MC_JSON_DEPTH];
	unsigned depth;
	const char *path; /* json_path or NULL */
	size_t path_len;
	/* what the first pass notes: the matched numbers the picks name */
	uint32_t picks[MAX_PICKS];
	unsigned n_picks;
	struct slot slot[MAX_PICKS];
	struct mc_json_report *rep;
};

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len && (s->b[s->pos] == ' ' || s->b[s->pos] == '\t' ||
	                           s->b[s->pos] == '\n' || s->b[s->pos] == '\r'))
		s->pos++;
}

static void ptr_append(struct scan *s, const char *seg, size_t n)
{
	if (s->ptr_long || s->plen + 1 + n > sizeof(s->ptr)) {
		s->ptr_long = true;
		return;
	}
	s->ptr[s->plen++] = '/';
	memcpy(s->ptr + s->plen, seg, n);
	s->plen += n;
}

static void ptr_index(struct scan *s, uint32_t i)
{
	char d[12];
	size_t n = count_digits(i);
	put_digits(d, i, n);
	ptr_append(s, d, n);
}

/* The string at pos (its opening quote); pos past its closing one. -1 when cut or bad. */
static int string_at(struct scan *s, size_t *start, size_t *end)
{
	s->pos++;
	*start = s->pos;
	while (s->pos < s->len) {
		char c = s->b[s->pos];
		if (c == '\\') {
			s->pos += 2;
			continue;
		}
		if (c == '"') {
			*end = s->pos++;
			return 0;
		}
		if ((unsigned char)c < 0x20)
			return -1;
		s->pos++;
	}
	return -1;
}

static bool matches(const struct scan *s)
{
	if (!s->path)
		return true;
	if (s->ptr_long || s->plen < s->path_len || memcmp(s->ptr, s->path, s->path_len) != 0)
		return false;
	return s->plen == s->path_len || s->ptr[s->path_len] == '/';
}

static void number_found(struct scan *s, size_t at, size_t width)
{
	struct mc_json_report *rep = s->rep;
	rep->numbers++;
	if (!matches(s))
		return;
	uint32_t ordinal = rep->matched++;
	for (unsigned i = 0; i < s->n_picks; i++) {
		if (s->picks[i] != ordinal)
			continue;
		s->slot[i].at = at;
		s->slot[i].width = width;
		mc_json_read_number(s->b + at, width, &s->slot[i].v);
	}
}

static bool literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);
	if (s->len - s->pos < n || memcmp(s->b + s->pos, word, n) != 0)
		return false;
	s->pos += n;
	return true;
}

/* The bytes left are the start of true, false or null: a body cut in a literal. */
static bool literal_cut(const struct scan *s)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t left = s->len - s->pos;
	for (unsigned i = 0; i < 3; i++)
		if (left < strlen(words[i]) && memcmp(s->b + s->pos, words[i], left) == 0)
			return true;
	return false;
}

enum state { VALUE, KEY, AFTER };

/* One pass over the value at s->pos: MC_JSON_DONE, PARTIAL or MALFORMED. */
static enum mc_json_status scan_value(struct scan *s)
{
	enum state st = VALUE;
	for (;;) {
		if (st == AFTER && s->depth == 0)
			return MC_JSON_DONE; /* what follows the value is not the body's business */
		skip_ws(s);
		if (s->pos >= s->len)
			return MC_JSON_PARTIAL;
		char c = s->b[s->pos];
		size_t a, b;
		if (st == VALUE) {
			if (c == '{' || c == '[') {
				if (s->depth == MC_JSON_DEPTH)
					return MC_JSON_MALFORMED;
				s->stack[s->depth].type = c;
				s->stack[s->depth].index = 0;
				s->stack[s->depth].plen = s->plen;
				s->stack[s->depth].ptr_long = s->ptr_long;
				s->depth++;
				s->pos++;
				skip_ws(s);
				if (s->pos >= s->len)
					return MC_JSON_PARTIAL;
				if (s->b[s->pos] == (c == '{' ? '}' : ']')) {
					s->pos++;
					s->depth--;
					st = AFTER;
				} else if (c == '{') {
					st = KEY;
				} else {
					ptr_index(s, 0);
				}
				continue;
			}
			if (c == '"') {
				if (string_at(s, &a, &b) < 0)
					return s->pos >= s->len ? MC_JSON_PARTIAL
					                        : MC_JSON_MALFORMED;
			} else if (c == '-' || is_digit(c)) {
				a = s->pos;
				while (s->pos < s->len &&
				       (is_digit(s->b[s->pos]) ||
				        (s->b[s->pos] && strchr("+-.eE", s->b[s->pos]))))
					s->pos++;
				if (s->pos >= s->len && s->depth > 0)
					return MC_JSON_PARTIAL;
				double v;
				if (!mc_json_read_number(s->b + a, s->pos - a, &v))
					return MC_JSON_MALFORMED;
				number_found(s, a, s->pos - a);
			} else if (!literal(s, "true") && !literal(s, "false") &&
			           !literal(s, "null")) {
				return literal_cut(s) ? MC_JSON_PARTIAL : MC_JSON_MALFORMED;
			}
			st = AFTER;
			continue;
		}
		if (st == KEY) {
			if (c != '"')
				return MC_JSON_MALFORMED;
			if (string_at(s, &a, &b) < 0)
				return s->pos >= s->len ? MC_JSON_PARTIAL : MC_JSON_MALFORMED;
			ptr_append(s, s->b + a, b - a);
			skip_ws(s);
			if (s->pos >= s->len)
				return MC_JSON_PARTIAL;
			if (s->b[s->pos++] != ':')
				return MC_JSON_MALFORMED;
			st = VALUE;
			continue;
		}
		/* AFTER a value, inside a container */
		unsigned top = s->depth - 1;
		s->plen = s->stack[top].plen;
		s->ptr_long = s->stack[top].ptr_long;
		if (c == ',') {
			s->pos++;
			if (s->stack[top].type == '{') {
				st = KEY;
			} else {
				ptr_index(s, ++s->stack[top].index);
				st = VALUE;
			}
		} else if (c == (s->stack[top].type == '{' ? '}' : ']')) {
			s->pos++;
			s->depth--;
		} else {
			return MC_JSON_MALFORMED;
		}
	}
}

/* ---- the body ------------------------------------------------------------------------- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool has_text_ci(const char *b, size_t n, const char *word)
{
	size_t w = strlen(word);
	for (size_t i = 0; i + w <= n; i++) {
		size_t k = 0;
		while (k < w && lower(b[i + k]) == word[k])
			k++;
		if (k == w)
			return true;
	}
	return false;
}

/* Where the body starts: after the head of an HTTP/1.x message when buf starts with one.
 * -1: a head not whole in the bytes; -2: a chunked body. */
static long body_start(const char *b, size_t n)
{
	static const char *const starts[] = { "HTTP/1.", "GET ",    "POST ",   "PUT ",
		                              "PATCH ",  "DELETE ", "OPTIONS " };
	bool head = false;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]) && !head; i++)
		head = n >= strlen(starts[i]) && memcmp(b, starts[i], strlen(starts[i])) == 0;
	if (!head)
		return 0;
	for (size_t i = 0; i + 4 <= n; i++) {
		if (memcmp(b + i, "\r\n\r\n", 4) != 0)
			continue;
		if (has_text_ci(b, i, "\ntransfer-encoding: chunked"))
			return -2;
		return (long)(i + 4);
	}
	return -1;
}

static void pick(struct scan *s, const struct mc_erule *rule, uint64_t key)
{
	uint32_t m = s->rep->matched;
	s->n_picks = 0;
	if (m == 0)
		return;
	if (rule->mode == MC_CORRUPT_SWAP) {
		if (m < 2)
			return;
		uint32_t a = (uint32_t)(mc_mix64(key) % m);
		uint32_t b = (uint32_t)((a + 1 + mc_mix64(key ^ 0x5a5a) % (m - 1)) % m);
		s->picks[0] = a;
		s->picks[1] = b;
		s->n_picks = 2;
		return;
	}
	uint32_t want = rule->count == MC_COUNT_ALL || rule->count > m ? m : rule->count;
	if (want > MAX_PICKS)
		want = MAX_PICKS;
	if (want == 0)
		return;
	if (want == m) {
		for (uint32_t i = 0; i < m && i < MAX_PICKS; i++)
			s->picks[i] = i;
		s->n_picks = want;
		return;
	}
	/* distinct ordinals: a stride through 0..m-1 from a drawn start */
	uint32_t start = (uint32_t)(mc_mix64(key) % m);
	uint32_t stride = m / want;
	for (uint32_t i = 0; i < want; i++)
		s->picks[i] = (start + i * stride) % m;
	s->n_picks = want;
}

static double new_value(const struct mc_erule *rule, double v, uint64_t key)
{
	switch (rule->mode) {
	case MC_CORRUPT_ZERO:
		return 0;
	case MC_CORRUPT_NAN:
		return 0.0 / 0.0;
	case MC_CORRUPT_SIGN:
		return -v;
	case MC_CORRUPT_NOISE: {
		double z = mc_engine_gaussian(key) * rule->std;
		return rule->noise == MC_NOISE_ABSOLUTE ? v + z : v * (1.0 + z);
	}
	default:
		return v;
	}
}

/* One scan from the body's start: the counts, and the slots of the picks. */
static enum mc_json_status pass(struct scan *s, size_t body)
{
	s->pos = body;
	s->plen = 0;
	s->ptr_long = false;
	s->depth = 0;
	s->rep->numbers = s->rep->matched = 0;
	return scan_value(s);
}

enum mc_json_status mc_json_damage(const struct mc_erule *rule, uint64_t key, char *buf, size_t len,
                                   struct mc_json_report *rep)
{
	struct scan s = { .b = buf, .len = len, .rep = rep, .path = rule->json_path };
	*rep = (struct mc_json_report){ 0 };
	s.path_len = s.path ? strlen(s.path) : 0;
	long start = body_start(buf, len);
	if (start == -2)
		return MC_JSON_CHUNKED;
	if (start < 0)
		return MC_JSON_PARTIAL;
	size_t body = (size_t)start;
	while (body < len && buf[body] && strchr(" \t\r\n", buf[body]))
		body++;
	if (body >= len)
		return MC_JSON_NO_BODY;
	if (buf[body] != '{' && buf[body] != '[')
		return MC_JSON_NO_BODY;
	rep->body = body;
	enum mc_json_status st = pass(&s, body);
	if (st != MC_JSON_DONE)
		return st;
	pick(&s, rule, key);
	if (s.n_picks == 0)
		return MC_JSON_DONE;
	pass(&s, body); /* the same bytes: the same result, with the picks' slots filled */
	if (rule->mode == MC_CORRUPT_SWAP) {
		struct slot *x = &s.slot[0], *y = &s.slot[1];
		char keep[64];
		if (x->width > sizeof(keep) || mc_json_write_number(y->v, keep, x->width) < 0 ||
		    mc_json_write_number(x->v, buf + y->at, y->width) < 0) {
			rep->unwritable = 2;
			return MC_JSON_DONE;
		}
		memcpy(buf + x->at, keep, x->width);
		rep->changed = 2;
		return MC_JSON_DONE;
	}
	for (unsigned i = 0; i < s.n_picks; i++) {
		struct slot *sl = &s.slot[i];
		double v = new_value(rule, sl->v, key ^ mc_mix64(s.picks[i] + 1));
		if (mc_json_write_number(v, buf + sl->at, sl->width) == 0)
			rep->changed++;
		else
			rep->unwritable++;
	}
	return MC_JSON_DONE;
}
