/* load_judge.c: what the load client decides about answers, pure: JSON pointers (RFC 6901),
 * equality within a tolerance, server-sent events, health-probe lies, percentiles. No I/O;
 * every function is tested directly (test-harness/unit/test_load.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

static const char *const kind_names[MC_LOAD_KINDS] = {
	"ok", "wrong", "5xx", "4xx", "reset", "timeout", "connect", "protocol",
};

const char *mc_load_kind_name(enum mc_load_kind k)
{
	return (unsigned)k < MC_LOAD_KINDS ? kind_names[k] : "?";
}

/* ---- JSON pointers ---- */

bool mc_load_pointer_valid(const char *ptr)
{
	if (*ptr && *ptr != '/')
		return false;
	for (const char *c = ptr; *c; c++)
		if (*c == '~' && c[1] != '0' && c[1] != '1')
			return false;
	return true;
}

/* The next reference token of *ptr (past its '/'), unescaped into tok; *ptr moves past it. */
static void next_token(const char **ptr, char *tok, size_t cap)
{
	const char *c = *ptr + 1;
	size_t n = 0;

	for (; *c && *c != '/'; c++) {
		char ch = *c;
		/* ~1 first, then ~0: "~01" is "~1", never "/" (RFC 6901 section 4) */
		if (ch == '~') {
			ch = c[1] == '1' ? '/' : '~';
			c++;
		}
		if (n + 1 < cap)
			tok[n++] = ch;
	}
	tok[n] = '\0';
	*ptr = c;
}

/* An array index: "0", or digits without a leading zero; "-" (past the end) never is. */
static bool array_index(const char *tok, size_t *ret)
{
	char *end;

	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(tok, &end, 10);
	if (*end || errno)
		return false;
	*ret = (size_t)v;
	return true;
}

json_t *mc_load_pointer_get(json_t *root, const char *ptr, char *why, size_t why_cap)
{
	const char *at = ptr;
	json_t *v = root;
	char tok[256];

	if (!mc_load_pointer_valid(ptr)) {
		snprintf(why, why_cap, "'%s' is not a JSON pointer", ptr);
		return NULL;
	}
	while (*at) {
		const char *start = at;
		next_token(&at, tok, sizeof(tok));
		int upto = (int)(start - ptr);
		size_t i;
		if (json_is_object(v)) {
			json_t *m = json_object_get(v, tok);
			if (!m) {
				snprintf(why, why_cap, "no member '%s' at '%.*s'", tok, upto, ptr);
				return NULL;
			}
			v = m;
		} else if (json_is_array(v)) {
			if (!array_index(tok, &i) || i >= json_array_size(v)) {
				snprintf(why, why_cap,
				         "no element '%s' in the array at '%.*s' (%zu long)", tok,
				         upto, ptr, json_array_size(v));
				return NULL;
			}
			v = json_array_get(v, i);
		} else {
			snprintf(why, why_cap, "'%.*s' is not an object or array, no '%s' in it",
			         upto, ptr, tok);
			return NULL;
		}
	}
	return v;
}

/* ---- equality ---- */

static bool numbers_equal(const json_t *a, const json_t *b, double tolerance)
{
	if (json_is_integer(a) && json_is_integer(b) && tolerance == 0)
		return json_integer_value(a) == json_integer_value(b);
	return fabs(json_number_value(a) - json_number_value(b)) <= tolerance;
}

static bool arrays_equal(const json_t *a, const json_t *b, double tolerance)
{
	size_t n = json_array_size(a);

	if (n != json_array_size(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!mc_load_equal(json_array_get(a, i), json_array_get(b, i), tolerance))
			return false;
	return true;
}

static bool objects_equal(const json_t *a, const json_t *b, double tolerance)
{
	const char *name;
	json_t *v;

	if (json_object_size(a) != json_object_size(b))
		return false;
	json_object_foreach((json_t *)a, name, v)
	{
		json_t *w = json_object_get(b, name);
		if (!w || !mc_load_equal(v, w, tolerance))
			return false;
	}
	return true;
}

bool mc_load_equal(const json_t *a, const json_t *b, double tolerance)
{
	if (!a || !b)
		return false;
	if (a == b) /* one parsed answer shared by identical bodies (load_http.c) */
		return true;
	if (json_is_number(a) && json_is_number(b))
		return numbers_equal(a, b, tolerance);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a))
		return arrays_equal(a, b, tolerance);
	if (json_is_object(a))
		return objects_equal(a, b, tolerance);
	return json_equal((json_t *)a, (json_t *)b);
}

/* ---- server-sent events (the WHATWG "event stream" format) ---- */

void mc_sse_init(struct mc_sse *s, int (*on_data)(void *, const char *, size_t), void *user)
{
	memset(s, 0, sizeof(*s));
	s->on_data = on_data;
	s->user = user;
}

static int grow(char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	char *q = realloc(*p, c);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static int dispatch(struct mc_sse *s)
{
	size_t len = s->data_len;

	if (!s->has_data)
		return 0;
	s->has_data = false;
	s->data_len = 0; /* the next event starts empty */
	s->data[len] = '\0';
	if (strcmp(s->data, "[DONE]") == 0) {
		s->done = true;
		return 0;
	}
	return s->on_data(s->user, s->data, len);
}

/* One whole line (without its end). Only "data" matters here; "event", "id", "retry" and
 * comments (":...") are read and dropped. */
static int sse_line(struct mc_sse *s, const char *line, size_t n)
{
	if (n == 0)
		return dispatch(s);
	if (n < 4 || memcmp(line, "data", 4) != 0 || (n > 4 && line[4] != ':'))
		return 0;
	const char *v = line + 4 + (n > 4);
	size_t vn = n - 4 - (n > 4);
	if (vn && *v == ' ') {
		v++;
		vn--;
	}
	if (grow(&s->data, &s->data_cap, s->data_len + vn + 2) < 0)
		return -ENOMEM;
	if (s->has_data)
		s->data[s->data_len++] = '\n';
	memcpy(s->data + s->data_len, v, vn);
	s->data_len += vn;
	s->has_data = true;
	return 0;
}

int mc_sse_feed(struct mc_sse *s, const char *bytes, size_t n)
{
	for (size_t i = 0; i < n && !s->done && !s->overflow; i++) {
		char c = bytes[i];
		if (c == '\n') {
			size_t len = s->len;
			if (len && s->line[len - 1] == '\r')
				len--;
			s->len = 0;
			int r = sse_line(s, s->line ? s->line : "", len);
			if (r)
				return r;
			continue;
		}
		if (s->len >= MC_LOAD_LINE_MAX) {
			s->overflow = true;
			break;
		}
		if (grow(&s->line, &s->cap, s->len + 1) < 0)
			return -ENOMEM;
		s->line[s->len++] = c;
	}
	return 0;
}

int mc_sse_end(struct mc_sse *s)
{
	int r = 0;

	if (s->len && !s->done && !s->overflow)
		r = sse_line(s, s->line, s->len);
	s->len = 0;
	return r ? r : s->done ? 0 : dispatch(s);
}

void mc_sse_free(struct mc_sse *s)
{
	free(s->line);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

const char *mc_load_stream_text(const json_t *chunk, enum mc_load_protocol p)
{
	json_t *choice = json_array_get(json_object_get(chunk, "choices"), 0);
	json_t *text = p == MC_LOAD_OPENAI_CHAT
	                   ? json_object_get(json_object_get(choice, "delta"), "content")
	                   : json_object_get(choice, "text");
	return json_string_value(text);
}

/* ---- health ---- */

/* The first of done[0, n) that ended at or after t. */
static size_t first_at_or_after(const struct mc_load_done *done, size_t n, uint64_t t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (done[mid].at_ns < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t mc_load_health_lies(const struct mc_load_probe *probes, size_t n_probes,
                             const struct mc_load_done *done, size_t n_done, uint64_t window_ns)
{
	uint64_t lies = 0;

	for (size_t i = 0; i < n_probes; i++) {
		const struct mc_load_probe *p = &probes[i];
		if (p->status < 200 || p->status > 299)
			continue;
		uint64_t from = p->at_ns > window_ns ? p->at_ns - window_ns : 0;
		size_t around = 0, failed = 0;
		for (size_t k = first_at_or_after(done, n_done, from);
		     k < n_done && done[k].at_ns <= p->at_ns + window_ns; k++) {
			around++;
			failed += done[k].failed;
		}
		if (around >= MC_LOAD_HEALTH_MIN && 2 * failed > around)
			lies++;
	}
	return lies;
}

/* ---- percentiles ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void mc_load_sort(double *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_double);
}

double mc_load_percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);

	if (n == 0)
		return 0;
	return sorted[rank ? (rank > n ? n : rank) - 1 : 0];
}
