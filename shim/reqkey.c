/* reqkey.c: the request-key scanner of reqkey.h. Every index is checked
 * against the length that arrived before it is read: the input is hostile
 * until proven otherwise (it is fuzzed in test-harness/fuzz). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "reqkey.h"

/* RFC 9110 tchar, enough to tell a method from binary noise: one bit per byte value. */
#define BIT(c)     (1ull << ((unsigned)(c)&63))
#define SPAN(a, n) (((1ull << (n)) - 1) << ((unsigned)(a)&63))
static const uint64_t tchar_bits[4] = {
	BIT('!') | BIT('#') | BIT('$') | BIT('%') | BIT('&') | BIT('\'') | BIT('*') | BIT('+') |
	    BIT('-') | BIT('.') | SPAN('0', 10),
	SPAN('A', 26) | BIT('^') | BIT('_') | BIT('`') | SPAN('a', 26) | BIT('|') | BIT('~'),
	0, /* no byte past 127 is a tchar */
	0,
};
#undef BIT
#undef SPAN

static inline bool is_tchar(unsigned char c)
{
	/* methods are upper-case letters, as a rule: those first */
	return (unsigned)(c - 'A') < 26u || ((tchar_bits[c >> 6] >> (c & 63)) & 1);
}

/* Equal but for the case of a letter; clients mostly send a header's name as the config
 * spells it, so the exact test comes first. */
static bool same_letter(unsigned char a, unsigned char b)
{
	if (a == b)
		return true;
	unsigned char la = a | 0x20;
	return (a ^ b) == 0x20 && la >= 'a' && la <= 'z';
}

/* The first '\n' of [p, end), or NULL; [buf, end) is readable, buf <= p. Header lines are
 * short: where the processor has SSE2 (every x86-64) sixteen bytes are compared at once,
 * inline, and the last few with one more load that ends at `end` and starts no earlier than
 * buf; elsewhere memchr. */
static inline const char *line_end(const char *buf, const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n');
	for (; end - p >= 16; p += 16) {
		__m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, nl));
		if (m)
			return p + __builtin_ctz(m);
	}
	if (p < end && end - buf >= 16) {
		const char *q = end - 16; /* q < p: the bytes before p are masked off */
		__m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)q);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, nl)) >> (p - q);
		return m ? p + __builtin_ctz(m) : NULL;
	}
#else
	(void)buf;
#endif
	return p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
}

/* Length of the request line (up to, not including, its '\n'), or 0 when
 * the bytes do not start with "TOKEN SP TARGET SP HTTP/1.". */
static size_t request_line_len(const char *buf, size_t len)
{
	size_t i = 0, longest = len < 32 ? len : 32;
	while (i < longest && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= len || buf[i] != ' ')
		return 0;
	const char *nl = line_end(buf, buf + i, buf + len);
	if (!nl)
		return 0; /* request line not complete in this read */
	size_t eol = (size_t)(nl - buf);
	size_t end = eol;
	if (end > i && buf[end - 1] == '\r')
		end--;
	static const char version[] = " HTTP/1.";
	size_t vlen = sizeof(version) - 1;
	if (end < i + vlen + 1 || memcmp(buf + end - vlen - 1, version, vlen) != 0)
		return 0;
	return eol;
}

/* Most lines are turned away by their length, their colon or their first letter, before
 * the rest of the name is compared. */
static bool header_name_is(const char *line, size_t line_len, const char *name, size_t name_len)
{
	if (line_len <= name_len || line[name_len] != ':' ||
	    !same_letter((unsigned char)line[0], (unsigned char)name[0]))
		return false;
	if (memcmp(line, name, name_len) == 0)
		return true;
	for (size_t i = 1; i < name_len; i++)
		if (!same_letter((unsigned char)line[i], (unsigned char)name[i]))
			return false;
	return true;
}

static size_t copy_value(const char *v, size_t n, char ret_key[MC_REQKEY_MAX])
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	if (n > MC_REQKEY_MAX)
		n = MC_REQKEY_MAX;
	memcpy(ret_key, v, n);
	return n;
}

enum mc_reqkey_result mc_reqkey_scan(const char *buf, size_t len, const char *name, size_t name_len,
                                     char ret_key[MC_REQKEY_MAX], size_t *ret_len)
{
	*ret_len = 0;
	if (!buf || len == 0)
		return MC_REQKEY_NOTHING;
	if (len > MC_REQKEY_SCAN_BYTES)
		len = MC_REQKEY_SCAN_BYTES;
	size_t first = request_line_len(buf, len);
	if (first == 0)
		return MC_REQKEY_NOTHING;
	if (name_len == 0)
		return MC_REQKEY_NEW_NO_KEY; /* no header to look for */
	const char *end = buf + len;
	for (const char *line = buf + first + 1; line < end;) {
		const char *nl = line_end(buf, line, end);
		if (!nl)
			break; /* a line cut off by the end of the read */
		size_t line_len = (size_t)(nl - line);
		if (line_len == 0 || (line_len == 1 && line[0] == '\r'))
			break; /* end of the headers */
		if (header_name_is(line, line_len, name, name_len)) {
			size_t n =
			    copy_value(line + name_len + 1, line_len - name_len - 1, ret_key);
			if (n > 0) {
				*ret_len = n;
				return MC_REQKEY_FOUND;
			}
		}
		line = nl + 1;
	}
	return MC_REQKEY_NEW_NO_KEY;
}

int mc_http_status_class(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!p || len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return -1;
	return p[9] - '1';
}
