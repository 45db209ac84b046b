/* buf.h: a growable byte buffer with a hard maximum, for responses and JSON text.
 * Never grows past its stated maximum and never aborts on allocation failure: callers get
 * -ENOMEM or -E2BIG and answer the request with an error instead. */
#ifndef MC_BUF_H
#define MC_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct mc_buf {
	char *data; /* NUL-terminated when len > 0; owned */
	size_t len;
	size_t cap;
	size_t max_bytes; /* len never exceeds this */
};

/* An empty buffer that will hold at most max_bytes; allocates nothing yet. */
void mc_buf_init(struct mc_buf *b, size_t max_bytes);
/* Release the storage; the buffer is empty and reusable afterwards. */
void mc_buf_free(struct mc_buf *b);
/* Make room for extra_bytes more (plus the NUL). 0, -ENOMEM, or -E2BIG past max_bytes. */
int mc_buf_reserve(struct mc_buf *b, size_t extra_bytes);
/* Append n bytes. 0, -ENOMEM or -E2BIG; on error the buffer is unchanged. */
int mc_buf_add(struct mc_buf *b, const void *p, size_t n);
/* Append a C string. Same returns as mc_buf_add. */
int mc_buf_adds(struct mc_buf *b, const char *s);
/* Append printf-formatted text. Same returns as mc_buf_add; -EINVAL on a format error. */
int mc_buf_printf(struct mc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included, escaping what JSON requires. */
int mc_buf_json_str(struct mc_buf *b, const char *s);
/* Append a float as a JSON number, or null when it is not finite (JSON has no NaN/inf). */
int mc_buf_json_float(struct mc_buf *b, double v, int digits);

#endif
