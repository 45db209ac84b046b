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

/* Equal but for the case of a letter. */
static bool same_letter(unsigned char a, unsigned char b)
{
	if (a == b)
		return true;
	unsigned char la = a | 0x20;
	return (a ^ b) == 0x20 && la >= 'a' && la <= 'z';
}

/* Eight bytes at once, through memcpy: one unaligned load or store, inline. */
static inline uint64_t load8(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static inline void store8(char *p, uint64_t w)
{
	memcpy(p, &w, sizeof(w));
}

static inline uint32_t load4(const char *p)
{
	uint32_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static inline void store4(char *p, uint32_t w)
{
	memcpy(p, &w, sizeof(w));
}

#define BYTES8(c) (0x0101010101010101ull * (unsigned char)(c))

/* same_letter on eight pairs of bytes at once: where the words differ, they differ by 0x20
 * alone, and there the byte is a letter. */
static bool same_letters8(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ b;
	if (x & ~BYTES8(0x20))
		return false;
	uint64_t lower = a | BYTES8(0x20);
	uint64_t low7 = lower & BYTES8(0x7f);        /* so that no sum carries into the next byte */
	uint64_t from_a = low7 + BYTES8(0x80 - 'a'); /* bit 7: at least 'a' */
	uint64_t past_z = low7 + BYTES8(0x80 - 'z' - 1); /* bit 7: past 'z' */
	uint64_t letter = from_a & ~past_z & ~lower & BYTES8(0x80);
	return ((x << 2) & ~letter) == 0; /* x << 2: a differing 0x20 onto bit 7 of its byte */
}

/* line[0, n) and name[0, n) are the same but for the case of letters: by words where n is
 * eight or more, the last word overlapping the one before so that neither side is read past n. */
static __attribute__((noinline)) bool same_name_folded(const char *line, const char *name, size_t n)
{
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if (!same_letter((unsigned char)line[i], (unsigned char)name[i]))
				return false;
		return true;
	}
	for (size_t i = 0; i < n - 8; i += 8)
		if (!same_letters8(load8(line + i), load8(name + i)))
			return false;
	return same_letters8(load8(line + n - 8), load8(name + n - 8));
}

/* Whether a name of 8 to 16 bytes is sent as the config spells it, as clients mostly do: two
 * words each side, equal. */
static inline bool same_name_exactly(const char *line, const char *name, size_t n)
{
	return n - 8 <= 8 &&
	       ((load8(line) ^ load8(name)) | (load8(line + n - 8) ^ load8(name + n - 8))) == 0;
}

/* The '\n's of a read, 64 bytes at a time, as a bit mask: the lines between two of them are
 * then looked at without reading their bytes again. Where the processor has SSE2 (every
 * x86-64) sixteen bytes are compared at once, inline, and the last few with a load that ends
 * at `end` and starts no earlier than buf; elsewhere, or in a read shorter than sixteen bytes,
 * one byte at a time. */
#ifdef __SSE2__
static inline uint64_t newlines16(const char *p)
{
	__m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)p);
	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('\n')));
}
#endif

#ifdef __SSE2__
static inline uint64_t newlines64_whole(const char *at)
{
	return newlines16(at) | newlines16(at + 16) << 16 | newlines16(at + 32) << 32 |
	       newlines16(at + 48) << 48;
}
#endif

/* Bit k set where at[k] is a '\n', for k < 64 and at + k < end; buf <= at < end, and fewer
 * than 64 bytes from at to end. */
static uint64_t newlines_tail(const char *buf, const char *at, const char *end)
{
	uint64_t bits = 0;
	unsigned k = 0;
#ifdef __SSE2__
	if (end - buf >= 64) { /* the 64 bytes that end at end, those before at shifted off */
		const char *q = end - 64;
		return newlines64_whole(q) >> (at - q);
	}
	for (; end - (at + k) >= 16; k += 16)
		bits |= newlines16(at + k) << k;
	if (at + k < end && end - buf >= 16) {
		unsigned left = (unsigned)(end - (at + k)); /* 1..15 */
		return bits | (newlines16(end - 16) >> (16 - left)) << k;
	}
#else
	(void)buf;
#endif
	for (; k < 64 && at + k < end; k++)
		bits |= (uint64_t)(at[k] == '\n') << k;
	return bits;
}

static inline uint64_t newlines64(const char *buf, const char *at, const char *end)
{
#ifdef __SSE2__
	if (end - at >= 64)
		return newlines64_whole(at);
#endif
	return newlines_tail(buf, at, end);
}

/* Where the method ends: the index of the space after it, or 0 when the bytes do not start
 * with a token (at most 32 tchars, the space may be the 33rd byte) and a space. */
static size_t method_end_bytewise(const char *buf, size_t len)
{
	size_t i = 0, longest = len < 32 ? len : 32;
	while (i < longest && is_tchar((unsigned char)buf[i]))
		i++;
	return i < len && buf[i] == ' ' ? i : 0;
}

/* method_end_bytewise, at once where sixteen bytes are upper-case letters up to a space: a
 * method is such letters, as a rule. */
static inline size_t method_end(const char *buf, size_t len)
{
#ifdef __SSE2__
	if (len >= 16) {
		__m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)buf);
		__m128i from_a = _mm_sub_epi8(bytes, _mm_set1_epi8('A'));
		__m128i upper = _mm_cmpeq_epi8(_mm_min_epu8(from_a, _mm_set1_epi8(25)), from_a);
		unsigned i = (unsigned)__builtin_ctz(~(unsigned)_mm_movemask_epi8(upper));
		if (i - 1 < 15 && buf[i] == ' ')
			return i;
	}
#endif
	return method_end_bytewise(buf, len);
}

/* The request line ends at its '\n', nl, and reads "TOKEN SP TARGET SP HTTP/1.x", the
 * token's space at buf[i]. */
static inline bool is_request_line(const char *buf, size_t i, const char *nl)
{
	const char *end = nl - (nl[-1] == '\r'); /* buf[i] is a space: nl > buf + i */
	return end - buf >= (ptrdiff_t)(i + 9) && load8(end - 9) == load8(" HTTP/1.");
}

/* ' ' or '\t', and with '\r' the bytes taken off the end of a value: one bit test each. */
#define BLANKS    ((1ull << ' ') | (1ull << '\t'))
#define BLANKS_CR (BLANKS | (1ull << '\r'))

static inline bool is_one_of(unsigned char c, uint64_t set)
{
	return c <= ' ' && ((set >> c) & 1);
}

/* ret_key[0, n) = v[0, n), n <= MC_REQKEY_MAX, in a few loads and stores that overlap
 * rather than pass n on either side. */
static inline void copy_short(char *ret_key, const char *v, size_t n)
{
	if (n >= 8) {
		for (size_t i = 0; i < n - 8; i += 8)
			store8(ret_key + i, load8(v + i));
		store8(ret_key + n - 8, load8(v + n - 8));
	} else if (n >= 4) {
		uint32_t head = load4(v), tail = load4(v + n - 4);
		store4(ret_key, head);
		store4(ret_key + n - 4, tail);
	} else if (n > 0) {
		ret_key[0] = v[0];
		ret_key[n / 2] = v[n / 2];
		ret_key[n - 1] = v[n - 1];
	}
}

/* Blanks around a header's value, v[0, e), are not part of it; '\r' is the line end's. */
static inline size_t copy_value(const char *v, const char *e, char ret_key[MC_REQKEY_MAX])
{
	while (v < e && is_one_of((unsigned char)*v, BLANKS))
		v++;
	while (e > v && is_one_of((unsigned char)e[-1], BLANKS_CR))
		e--;
	size_t n = (size_t)(e - v);
	if (n > MC_REQKEY_MAX)
		n = MC_REQKEY_MAX;
	copy_short(ret_key, v, n);
	return n;
}

/* The length of the value copied to ret_key when the line [line, nl), which has a ':' after
 * name_len bytes, is the header `name` in another case, or spelt otherwise; else 0. */
static __attribute__((noinline)) size_t folded_header_value(const char *line, const char *nl,
                                                            const char *name, size_t name_len,
                                                            char ret_key[MC_REQKEY_MAX])
{
	if (!same_name_folded(line, name, name_len))
		return 0;
	return copy_value(line + name_len + 1, nl, ret_key);
}

/* The length of the value copied to ret_key when the line [line, nl) is the header `name`,
 * else 0. The compare that allows for case is a function apart, so that the scan around this
 * keeps its few values in registers. */
static inline size_t header_value(const char *line, const char *nl, const char *name,
                                  size_t name_len, char ret_key[MC_REQKEY_MAX])
{
	if ((size_t)(nl - line) <= name_len || line[name_len] != ':')
		return 0;
	if (!same_name_exactly(line, name, name_len))
		return folded_header_value(line, nl, name, name_len, ret_key);
	return copy_value(line + name_len + 1, nl, ret_key);
}

/* The line [line, nl) ends the headers: it is empty, or "\r" alone. */
static inline bool ends_headers(const char *line, const char *nl)
{
	return *line == '\n' || (*line == '\r' && nl == line + 1);
}

enum mc_reqkey_result mc_reqkey_scan(const char *buf, size_t len, const char *name, size_t name_len,
                                     char ret_key[MC_REQKEY_MAX], size_t *ret_len)
{
	*ret_len = 0;
	if (!buf || len == 0)
		return MC_REQKEY_NOTHING;
	if (len > MC_REQKEY_SCAN_BYTES)
		len = MC_REQKEY_SCAN_BYTES;
	size_t i = method_end(buf, len);
	if (i == 0)
		return MC_REQKEY_NOTHING;
	const char *end = buf + len, *at = buf; /* the method holds no '\n' */
	uint64_t bits = newlines64(buf, at, end);
	while (bits == 0) {
		if (end - at <= 64)
			return MC_REQKEY_NOTHING; /* request line not complete in this read */
		at += 64;
		bits = newlines64(buf, at, end);
	}
	const char *nl = at + __builtin_ctzll(bits);
	bits &= bits - 1;
	if (!is_request_line(buf, i, nl))
		return MC_REQKEY_NOTHING;
	if (name_len == 0)
		return MC_REQKEY_NEW_NO_KEY; /* no header to look for */
	const unsigned char folded = (unsigned char)name[0] | 0x20;
	/* Each line [line, nl) in turn; a line cut off by the end of the read has no '\n': it is
	 * not used. */
	for (const char *line = nl + 1;;) {
		for (; bits; bits &= bits - 1, line = nl + 1) {
			nl = at + __builtin_ctzll(bits);
			unsigned char c = (unsigned char)*line;
			if (c <= '\r' && ends_headers(line, nl))
				return MC_REQKEY_NEW_NO_KEY;
			/* most lines are turned away by their first letter */
			if ((c | 0x20) != folded)
				continue;
			size_t n = header_value(line, nl, name, name_len, ret_key);
			if (n > 0) {
				*ret_len = n;
				return MC_REQKEY_FOUND;
			}
		}
		if (end - at <= 64)
			return MC_REQKEY_NEW_NO_KEY;
		at += 64;
		bits = newlines64(at - 64, at, end); /* buf <= at - 64: buf need not be kept */
	}
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
