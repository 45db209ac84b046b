/* response.c: the response framing of response.h. The head and chunk size lines go byte by
 * byte through a small state machine (a head is a few hundred bytes); a body is skipped by
 * its length. Every read is bounded by the length that was sent; the line kept is bounded
 * by MC_RESP_LINE. */
#include <string.h>

#include "response.h"

void mc_resp_reset(struct mc_resp *r, bool head_request)
{
	memset(r, 0, sizeof(*r));
	r->state = MC_RESP_HEAD;
	r->flags = head_request ? MC_RESPF_HEAD_REQUEST : 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

/* line[0, n) starts with the lower-case header name `name` and its ':' */
static bool is_header(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n <= k || line[k] != ':')
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower(line[i]) != name[i])
			return false;
	return true;
}

/* The value of a header line after its ':' at line[k], blanks around it removed. */
static void header_value(const char *line, size_t n, size_t k, const char **ret_v, size_t *ret_len)
{
	size_t i = k + 1;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (n > i && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n < i)
		n = i; /* no value: the name alone, or nothing of the line */
	*ret_v = line + i;
	*ret_len = n - i;
}

/* Content-Length: decimal digits, nothing else (a list of equal values, allowed by RFC
 * 9110, is not read: the response then ends with the connection). */
static void content_length(struct mc_resp *r, const char *line, size_t n)
{
	const char *v;
	size_t len;
	header_value(line, n, sizeof("content-length") - 1, &v, &len);
	uint64_t value = 0;
	if (len == 0 || len > 18)
		return;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		value = value * 10 + (uint64_t)(v[i] - '0');
	}
	r->length = value;
	r->flags |= MC_RESPF_LENGTH;
}

/* Transfer-Encoding: chunked when its last coding is chunked. */
static void transfer_encoding(struct mc_resp *r, const char *line, size_t n)
{
	const char *v;
	size_t len;
	header_value(line, n, sizeof("transfer-encoding") - 1, &v, &len);
	static const char chunked[] = "chunked";
	size_t k = sizeof(chunked) - 1;
	if (len < k)
		return;
	for (size_t i = 0; i < k; i++)
		if (lower(v[len - k + i]) != chunked[i])
			return;
	if (len == k || v[len - k - 1] == ',' || v[len - k - 1] == ' ' || v[len - k - 1] == '\t')
		r->flags |= MC_RESPF_CHUNKED;
}

/* "HTTP/1.x DDD ...": the status code, or 0 when the line is not a status line. */
static unsigned status_code(const char *line, size_t n)
{
	if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
		return 0;
	unsigned code = 0;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return 0;
		code = code * 10 + (unsigned)(line[i] - '0');
	}
	return code >= 100 && code <= 599 ? code : 0;
}

/* The response ended: r is ready for the next one. */
static unsigned ended(struct mc_resp *r)
{
	mc_resp_reset(r, false);
	return 1;
}

/* The head ended (its empty line came): where its body ends, or that it has none. Returns
 * the responses that ended (0 or 1). */
static unsigned head_done(struct mc_resp *r)
{
	unsigned status = r->status;
	if (status >= 100 && status < 200 && status != 101) { /* interim: the head comes again */
		uint8_t keep = r->flags & MC_RESPF_HEAD_REQUEST;
		mc_resp_reset(r, keep != 0);
		return 0;
	}
	if (status == 101) { /* switching protocols: what follows is not HTTP/1.x */
		r->state = MC_RESP_UNTIL_CLOSE;
		return 0;
	}
	if ((r->flags & MC_RESPF_HEAD_REQUEST) || status == 204 || status == 304)
		return ended(r);
	if (r->flags & MC_RESPF_CHUNKED) {
		r->state = MC_RESP_CHUNK_SIZE;
		r->left = 0;
		r->flags &= (uint8_t) ~(MC_RESPF_SIZE_DIGIT | MC_RESPF_SIZE_DONE);
		return 0;
	}
	if (r->flags & MC_RESPF_LENGTH) {
		if (r->length == 0)
			return ended(r);
		r->state = MC_RESP_BODY;
		r->left = r->length;
		return 0;
	}
	r->state = MC_RESP_UNTIL_CLOSE;
	return 0;
}

/* A line of the head ended (its '\n' came). Returns the responses that ended. */
static unsigned head_line(struct mc_resp *r)
{
	size_t n = r->line_len < MC_RESP_LINE ? r->line_len : MC_RESP_LINE;
	if (n > 0 && r->line_len <= MC_RESP_LINE && r->line[n - 1] == '\r')
		n--;
	bool whole = r->line_len <= MC_RESP_LINE;
	const char *line = r->line;
	r->line_len = 0;
	if (r->status == 0) {
		if (n == 0 && whole)
			return 0; /* blank lines before a status line: tolerated */
		r->status = (uint16_t)status_code(line, n);
		if (r->status == 0)
			r->state = MC_RESP_UNTIL_CLOSE; /* not HTTP/1.x: the close ends it */
		return 0;
	}
	if (n == 0 && whole)
		return head_done(r);
	if (is_header(line, n, "content-length"))
		content_length(r, line, whole ? n : 0);
	else if (is_header(line, n, "transfer-encoding") && whole)
		transfer_encoding(r, line, n);
	return 0;
}

/* One byte of a line: kept if there is room, counted in any case (capped). */
static inline void line_byte(struct mc_resp *r, char c)
{
	if (r->line_len < MC_RESP_LINE)
		r->line[r->line_len] = c;
	if (r->line_len < 255)
		r->line_len++;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One byte of a chunk size line ("1a;ext\r\n"). Returns the responses that ended. */
static unsigned chunk_size_byte(struct mc_resp *r, char c)
{
	if (c == '\n') {
		if (!(r->flags & MC_RESPF_SIZE_DIGIT)) {
			r->state = MC_RESP_UNTIL_CLOSE; /* no size: lost track */
			return 0;
		}
		r->flags &= (uint8_t) ~(MC_RESPF_SIZE_DIGIT | MC_RESPF_SIZE_DONE);
		r->line_len = 0;
		r->state = r->left ? MC_RESP_CHUNK_DATA : MC_RESP_TRAILER;
		return 0;
	}
	int d = hex_digit(c);
	if (d >= 0 && !(r->flags & MC_RESPF_SIZE_DONE)) {
		if (r->left >> 56) { /* past 2^60 bytes: not a size anyone sends */
			r->state = MC_RESP_UNTIL_CLOSE;
			return 0;
		}
		r->left = r->left << 4 | (uint64_t)d;
		r->flags |= MC_RESPF_SIZE_DIGIT;
	} else if (c != '\r') {
		r->flags |= MC_RESPF_SIZE_DONE; /* an extension or blanks: read past */
	}
	return 0;
}

/* One byte of the trailer section: it ends with an empty line. */
static unsigned trailer_byte(struct mc_resp *r, char c)
{
	if (c != '\n') {
		if (c != '\r' && r->line_len < 255)
			r->line_len++;
		return 0;
	}
	if (r->line_len == 0)
		return ended(r);
	r->line_len = 0;
	return 0;
}

unsigned mc_resp_feed(struct mc_resp *r, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len;
	unsigned done = 0;
	if (!p)
		return 0;
	while (p < end) {
		switch (r->state) {
		case MC_RESP_HEAD: {
			char c = *p++;
			if (c == '\n')
				done += head_line(r);
			else
				line_byte(r, c);
			break;
		}
		case MC_RESP_BODY: {
			size_t n = (size_t)(end - p);
			if (r->left <= n) {
				p += r->left;
				done += ended(r);
			} else {
				r->left -= n;
				p = end;
			}
			break;
		}
		case MC_RESP_CHUNK_SIZE:
			done += chunk_size_byte(r, *p++);
			break;
		case MC_RESP_CHUNK_DATA: {
			size_t n = (size_t)(end - p);
			if (r->left <= n) {
				p += r->left;
				r->left = 0;
				r->state = MC_RESP_CHUNK_END;
			} else {
				r->left -= n;
				p = end;
			}
			break;
		}
		case MC_RESP_CHUNK_END:
			if (*p++ == '\n')
				r->state = MC_RESP_CHUNK_SIZE;
			break;
		case MC_RESP_TRAILER:
			done += trailer_byte(r, *p++);
			break;
		default: /* MC_RESP_UNTIL_CLOSE, or a state no code writes */
			r->state = MC_RESP_UNTIL_CLOSE;
			return done;
		}
	}
	return done;
}
