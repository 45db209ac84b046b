/* http.h: the server side of HTTP/1.1 as the reference server speaks it: finding and parsing a
 * request head, and formatting responses. Bytes from the network are untrusted: the head is
 * bounded (MC_HTTP_MAX_HEAD_BYTES), parsed in place, never read past its length. */
#ifndef MC_HTTP_H
#define MC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A head larger than this is answered 431. */
#define MC_HTTP_MAX_HEAD_BYTES 8192
/* Default body limit; bodies larger than the limit are answered 413. */
#define MC_HTTP_MAX_BODY_BYTES 65536
/* An X-Request-Id longer than this is answered 431 rather than cut. */
#define MC_HTTP_MAX_REQUEST_ID 128
/* A response formatted without allocating (errors, out of memory) fits in this. */
#define MC_HTTP_STATIC_BYTES 512

struct mc_http_req {
	const char *method; /* spans into the head, not NUL-terminated */
	size_t method_len;
	const char *path; /* without the query string */
	size_t path_len;
	int minor; /* HTTP/1.minor */
	bool keep_alive;
	bool expect_continue;
	uint64_t content_length;
	char request_id[MC_HTTP_MAX_REQUEST_ID + 1]; /* "" when absent */
};

/* The length of the head at the start of buf[0..n), blank line included, or 0 while it is
 * incomplete. Accepts CRLF and bare LF line ends. */
size_t mc_http_head_end(const char *buf, size_t n);

/* Parse a complete head. 0, or the HTTP status to answer before closing the connection:
 * 400 malformed, 413 body above max_body_bytes, 431 a header too large, 501 a transfer coding
 * (chunked is not spoken here), 505 not HTTP/1.x. req->request_id is filled as soon as it is
 * seen, so that even an error answer can echo it. */
int mc_http_parse_head(const char *head, size_t len, uint64_t max_body_bytes,
                       struct mc_http_req *req);

/* True when the request's method and path are exactly these. */
bool mc_http_is(const struct mc_http_req *req, const char *method, const char *path);

/* The reason phrase of a status this server uses. */
const char *mc_http_reason(int status);

/* Append a complete response: status line, Content-Type: application/json, Content-Length,
 * X-Request-Id when request_id is not empty, Connection, any extra header lines (each ending
 * CRLF, or NULL), then the body. 0, -ENOMEM or -E2BIG. */
int mc_http_response(struct mc_buf *out, int status, const char *request_id, bool close,
                     const char *extra_headers, const char *body, size_t body_len);

/* The same, for an error, into dst[MC_HTTP_STATIC_BYTES] without allocating: the body is
 * {"error":"<message>"} (message holds no quote nor backslash; extra_headers is short or
 * NULL). Returns the length. */
size_t mc_http_static_error(char *dst, int status, const char *request_id, bool close,
                            const char *extra_headers, const char *message);

#endif
