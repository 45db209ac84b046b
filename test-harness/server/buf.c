/* buf.c: the bounded growable buffer behind every response and JSON document.
 * Must never write past cap nor grow past max_bytes; failures leave the contents intact. */
#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mc_buf_init(struct mc_buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max_bytes = max_bytes;
}

void mc_buf_free(struct mc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int mc_buf_reserve(struct mc_buf *b, size_t extra_bytes)
{
	size_t need, cap;
	char *p;

	if (extra_bytes > b->max_bytes - b->len)
		return -E2BIG;
	need = b->len + extra_bytes + 1; /* + NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max_bytes + 1)
		cap = b->max_bytes + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int mc_buf_add(struct mc_buf *b, const void *p, size_t n)
{
	int r = mc_buf_reserve(b, n);

	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mc_buf_adds(struct mc_buf *b, const char *s)
{
	return mc_buf_add(b, s, strlen(s));
}

int mc_buf_printf(struct mc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	/* First try in the room we have: most appends are short and need no second pass. */
	r = mc_buf_reserve(b, 64);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= b->cap - b->len) {
		b->data[b->len] = '\0';
		r = mc_buf_reserve(b, (size_t)n);
		if (r < 0)
			return r;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

int mc_buf_json_str(struct mc_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int r = mc_buf_add(b, "\"", 1);

	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			r = mc_buf_add(b, esc, 2);
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			r = mc_buf_add(b, esc, 6);
		} else {
			r = mc_buf_add(b, s, 1);
		}
	}
	return r ? r : mc_buf_add(b, "\"", 1);
}

int mc_buf_json_float(struct mc_buf *b, double v, int digits)
{
	if (!isfinite(v))
		return mc_buf_adds(b, "null");
	return mc_buf_printf(b, "%.*g", digits, v);
}
