/* fmt.h: bounded, allocation-free, async-signal-safe text building for the
 * shim's messages, traces and event lines (snprintf is none of these for
 * sure on every libc). A buffer that fills up is truncated, never overrun. */
#ifndef MC_FMT_H
#define MC_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mc_buf {
	char *p;
	size_t len;
	size_t cap; /* includes room for the final NUL */
	bool truncated;
};

static inline void mc_buf_init(struct mc_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->truncated = false;
	if (cap)
		p[0] = '\0';
}

void mc_buf_putn(struct mc_buf *b, const char *s, size_t n);
void mc_buf_puts(struct mc_buf *b, const char *s);
void mc_buf_putc(struct mc_buf *b, char c);
void mc_buf_u64(struct mc_buf *b, uint64_t v);
void mc_buf_i64(struct mc_buf *b, int64_t v);
/* Right-aligned in width columns (left-aligned when width < 0). */
void mc_buf_u64_w(struct mc_buf *b, uint64_t v, int width);
void mc_buf_str_w(struct mc_buf *b, const char *s, int width);
/* A JSON string body: quotes, backslashes and control bytes escaped; bytes
 * >= 0x80 passed as they are (paths are bytes, not always UTF-8). */
void mc_buf_json_str(struct mc_buf *b, const char *s, size_t n);

/* Writes the whole buffer to fd, retrying on EINTR and partial writes;
 * returns 0 or -errno. Uses the real write. */
int mc_write_all(int fd, const char *p, size_t n);

/* Appends one whole line (n bytes, ending in a newline) to a log file
 * opened O_APPEND, or nothing: a write the disk cut short is rolled back
 * with ftruncate so that no torn line is left, and under a file size limit
 * (RLIMIT_FSIZE) a line that would not fit is dropped before it is written,
 * with SIGXFSZ blocked, so the host is never killed by the shim's own log.
 * Returns 0, or -errno (the line is then not in the file). */
int mc_append_line(int fd, const char *p, size_t n);

/* Prints "mlchaos: <msg>\n" on stderr through one write(2). */
void mc_say(const char *msg);

/* Copies src (NULL: "") into dst[cap], cut to fit, always terminated. */
void mc_copy_str(char *dst, size_t cap, const char *src);

#endif
