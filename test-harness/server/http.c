/* http.c: request heads in, response bytes out (see http.h).
 * Never trusts a length it did not count itself and never reads past the head it was given. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t mc_http_head_end(const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < n && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line of [*p, end) without its line end; false at the end of the head. */
static bool next_line(const char **p, const char *end, const char **ret_s, size_t *ret_n)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	if (!nl)
		return false;
	n = (size_t)(nl - *p);
	if (n > 0 && (*p)[n - 1] == '\r')
		n--;
	*ret_s = *p;
	*ret_n = n;
	*p = nl + 1;
	return true;
}

static bool is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_request_line(const char *s, size_t n, struct mc_http_req *req)
{
	const char *sp1 = memchr(s, ' ', n), *sp2, *q;

	if (!sp1 || sp1 == s)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s));
	if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
		return 400;
	for (const char *c = s; c < sp1; c++)
		if (!is_token_char(*c))
			return 400;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 400;
	req->method = s;
	req->method_len = (size_t)(sp1 - s);
	req->path = sp1 + 1;
	q = memchr(req->path, '?', (size_t)(sp2 - req->path));
	req->path_len = (size_t)((q ? q : sp2) - req->path);
	n -= (size_t)(sp2 + 1 - s);
	s = sp2 + 1;
	if (n != 8 || memcmp(s, "HTTP/1.", 7) != 0)
		return (n >= 5 && memcmp(s, "HTTP/", 5) == 0) ? 505 : 400;
	if (s[7] != '0' && s[7] != '1')
		return 505;
	req->minor = s[7] - '0';
	req->keep_alive = req->minor == 1;
	return 0;
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* Does the comma-separated list value[0..n) hold token (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	while (n > 0) {
		const char *comma = memchr(v, ',', n);
		size_t item = comma ? (size_t)(comma - v) : n;
		const char *a = v, *b = v + item;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if ((size_t)(b - a) == tl && strncasecmp(a, token, tl) == 0)
			return true;
		if (!comma)
			break;
		n -= item + 1;
		v = comma + 1;
	}
	return false;
}

static int parse_length(const char *v, size_t n, uint64_t max_body_bytes, bool *seen, uint64_t *ret)
{
	uint64_t len = 0;

	if (n == 0)
		return 400;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		if (len > max_body_bytes) /* stop before it can overflow */
			return 413;
		len = len * 10 + (uint64_t)(v[i] - '0');
	}
	/* Two different lengths are the request-smuggling case: refuse (RFC 9112, 6.3). */
	if (*seen && len != *ret)
		return 400;
	*seen = true;
	*ret = len;
	return len > max_body_bytes ? 413 : 0;
}

static int header(const char *name, size_t name_len, const char *v, size_t n,
                  uint64_t max_body_bytes, bool *length_seen, struct mc_http_req *req)
{
	if (name_is(name, name_len, "content-length"))
		return parse_length(v, n, max_body_bytes, length_seen, &req->content_length);
	if (name_is(name, name_len, "transfer-encoding"))
		return 501;
	if (name_is(name, name_len, "connection")) {
		if (list_has(v, n, "close"))
			req->keep_alive = false;
		else if (list_has(v, n, "keep-alive"))
			req->keep_alive = true;
	} else if (name_is(name, name_len, "expect")) {
		if (!list_has(v, n, "100-continue"))
			return 400; /* RFC 9110 says 417; 400 is what the client can act on */
		req->expect_continue = req->minor == 1;
	} else if (name_is(name, name_len, "x-request-id")) {
		if (n > MC_HTTP_MAX_REQUEST_ID)
			return 431;
		memcpy(req->request_id, v, n);
		req->request_id[n] = '\0';
	}
	return 0;
}

static int parse_header_line(const char *s, size_t n, uint64_t max_body_bytes, bool *length_seen,
                             struct mc_http_req *req)
{
	const char *colon = memchr(s, ':', n), *v, *e;

	if (!colon || colon == s)
		return 400; /* also refuses obs-fold: a continuation line has no name */
	for (const char *c = s; c < colon; c++)
		if (!is_token_char(*c))
			return 400;
	v = colon + 1;
	e = s + n;
	for (const char *c = v; c < e; c++)
		if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f)
			return 400; /* no control bytes: they would end up echoed in a header */
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return header(s, (size_t)(colon - s), v, (size_t)(e - v), max_body_bytes, length_seen, req);
}

int mc_http_parse_head(const char *head, size_t len, uint64_t max_body_bytes,
                       struct mc_http_req *req)
{
	const char *p = head, *end = head + len, *s;
	bool length_seen = false;
	size_t n;
	int r;

	memset(req, 0, sizeof(*req));
	if (!next_line(&p, end, &s, &n))
		return 400;
	r = parse_request_line(s, n, req);
	if (r)
		return r;
	while (next_line(&p, end, &s, &n) && n > 0) {
		r = parse_header_line(s, n, max_body_bytes, &length_seen, req);
		if (r)
			return r;
	}
	return 0;
}

bool mc_http_is(const struct mc_http_req *req, const char *method, const char *path)
{
	return strlen(method) == req->method_len &&
	       memcmp(req->method, method, req->method_len) == 0 && strlen(path) == req->path_len &&
	       memcmp(req->path, path, req->path_len) == 0;
}

const char *mc_http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Unknown";
}

/* The head of a response into dst[cap]; returns what snprintf returns. */
static int format_head(char *dst, size_t cap, int status, const char *request_id, bool close,
                       const char *extra_headers, size_t body_len)
{
	return snprintf(dst, cap,
	                "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                "Content-Length: %zu\r\n%s%s%sConnection: %s\r\n%s\r\n",
	                status, mc_http_reason(status), body_len,
	                *request_id ? "X-Request-Id: " : "", request_id, *request_id ? "\r\n" : "",
	                close ? "close" : "keep-alive", extra_headers ? extra_headers : "");
}

int mc_http_response(struct mc_buf *out, int status, const char *request_id, bool close,
                     const char *extra_headers, const char *body, size_t body_len)
{
	char head[MC_HTTP_STATIC_BYTES];
	int n = format_head(head, sizeof(head), status, request_id, close, extra_headers, body_len);
	int r;

	if (n < 0 || (size_t)n >= sizeof(head))
		return -E2BIG;
	r = mc_buf_reserve(out, (size_t)n + body_len);
	if (r < 0)
		return r;
	mc_buf_add(out, head, (size_t)n);
	return mc_buf_add(out, body, body_len);
}

size_t mc_http_static_error(char *dst, int status, const char *request_id, bool close,
                            const char *extra_headers, const char *message)
{
	char body[160];
	int b = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", message);
	int n;

	if (b < 0 || (size_t)b >= sizeof(body))
		b = snprintf(body, sizeof(body), "{\"error\":\"%d\"}\n", status);
	n = format_head(dst, MC_HTTP_STATIC_BYTES, status, request_id, close, extra_headers,
	                (size_t)b);
	/* 128 bytes of id, the fixed lines, a short extra header and 160 of body fit in 512. */
	if (n < 0 || (size_t)n + (size_t)b >= MC_HTTP_STATIC_BYTES)
		return 0;
	memcpy(dst + n, body, (size_t)b + 1);
	return (size_t)n + (size_t)b;
}
