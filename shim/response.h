/* response.h: where an HTTP/1.x response ends, from the bytes a server sends. Fed the sends of
 * one connection in order, whatever way they split the bytes; says how many responses ended
 * in them. Pure and bounded: it reads only buf[0, len), keeps at most MC_RESP_LINE bytes of a
 * header line, allocates nothing, is async-signal-safe, and skips a body's bytes without
 * looking at them (a send in the middle of a body costs a few instructions). The framing is
 * HTTP/1.1's (RFC 9112 section 6.3): no body for a HEAD request, a 1xx, 204 or 304; else
 * Transfer-Encoding: chunked up to its last chunk and trailers; else Content-Length; else
 * the connection's close. Bytes that are not HTTP (an upgrade, a protocol it does not know)
 * make the response end at the close alone. */
#ifndef MC_RESPONSE_H
#define MC_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_RESP_LINE 48 /* the bytes of a header line kept: longer values are not read */

enum mc_resp_state {
	MC_RESP_HEAD,        /* the status line and headers (the start state) */
	MC_RESP_BODY,        /* `left` bytes of a Content-Length body */
	MC_RESP_CHUNK_SIZE,  /* a chunk's size line */
	MC_RESP_CHUNK_DATA,  /* `left` bytes of a chunk */
	MC_RESP_CHUNK_END,   /* the CRLF after a chunk's data */
	MC_RESP_TRAILER,     /* the trailer lines after the last chunk */
	MC_RESP_UNTIL_CLOSE, /* the body ends with the connection, or the bytes are not HTTP */
};

struct mc_resp {
	uint8_t state;    /* enum mc_resp_state */
	uint8_t flags;    /* MC_RESPF_* */
	uint8_t line_len; /* bytes of the current line seen, capped at 255 (line[] holds the
	                     first MC_RESP_LINE) */
	uint16_t status;  /* the status code, 0 before the status line */
	uint64_t left;    /* body or chunk bytes still to come */
	uint64_t length;  /* Content-Length, when MC_RESPF_LENGTH */
	char line[MC_RESP_LINE];
};

enum {
	MC_RESPF_HEAD_REQUEST = 1u << 0, /* the request was HEAD: no body, whatever the headers */
	MC_RESPF_LENGTH = 1u << 1,       /* a Content-Length header came */
	MC_RESPF_CHUNKED = 1u << 2,      /* Transfer-Encoding ends with chunked */
	MC_RESPF_SIZE_DIGIT = 1u << 3,   /* a chunk size line: a hex digit came */
	MC_RESPF_SIZE_DONE = 1u << 4,    /* a chunk size line: its digits are over (an extension) */
};

/* A new response starts: r as at the start of one, head_request for a HEAD request. */
void mc_resp_reset(struct mc_resp *r, bool head_request);

/* buf[0, len) was sent next on the connection. Returns how many responses ended in it (a
 * response that ended leaves r at the start of the next, with no HEAD request). */
unsigned mc_resp_feed(struct mc_resp *r, const void *buf, size_t len);

#endif
