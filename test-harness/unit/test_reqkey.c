/* test_reqkey.c: the request-key scanner on well-formed, split, hostile
 * and oversized input. Every buffer is allocated at its exact length so
 * that a read past its end is caught by ASan in the sanitizer build. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "mc_test.h"
#include "reqkey.h"

/* The reference, reference_scan and its ref_ helpers: the scanner that looks for each line's
 * '\n' in turn and then at the line, reqkey.h's contract read plainly. mc_reqkey_scan must
 * answer as it does, byte for byte, for every input (same_as_reference). */

/* RFC 9110 tchar, enough to tell a method from binary noise: one bit per byte value. */
#define BIT(c)     (1ull << ((unsigned)(c)&63))
#define SPAN(a, n) (((1ull << (n)) - 1) << ((unsigned)(a)&63))
static const uint64_t ref_tchar_bits[4] = {
	BIT('!') | BIT('#') | BIT('$') | BIT('%') | BIT('&') | BIT('\'') | BIT('*') | BIT('+') |
	    BIT('-') | BIT('.') | SPAN('0', 10),
	SPAN('A', 26) | BIT('^') | BIT('_') | BIT('`') | SPAN('a', 26) | BIT('|') | BIT('~'),
	0, /* no byte past 127 is a tchar */
	0,
};
#undef BIT
#undef SPAN

static inline bool ref_is_tchar(unsigned char c)
{
	/* methods are upper-case letters, as a rule: those first */
	return (unsigned)(c - 'A') < 26u || ((ref_tchar_bits[c >> 6] >> (c & 63)) & 1);
}

/* Equal but for the case of a letter; clients mostly send a header's name as the config
 * spells it, so the exact test comes first. */
static bool ref_same_letter(unsigned char a, unsigned char b)
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
static inline const char *ref_line_end(const char *buf, const char *p, const char *end)
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
static size_t ref_request_line_len(const char *buf, size_t len)
{
	size_t i = 0, longest = len < 32 ? len : 32;
	while (i < longest && ref_is_tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= len || buf[i] != ' ')
		return 0;
	const char *nl = ref_line_end(buf, buf + i, buf + len);
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
static bool ref_header_name_is(const char *line, size_t line_len, const char *name, size_t name_len)
{
	if (line_len <= name_len || line[name_len] != ':' ||
	    !ref_same_letter((unsigned char)line[0], (unsigned char)name[0]))
		return false;
	if (memcmp(line, name, name_len) == 0)
		return true;
	for (size_t i = 1; i < name_len; i++)
		if (!ref_same_letter((unsigned char)line[i], (unsigned char)name[i]))
			return false;
	return true;
}

static size_t ref_copy_value(const char *v, size_t n, char ret_key[MC_REQKEY_MAX])
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

static enum mc_reqkey_result reference_scan(const char *buf, size_t len, const char *name,
                                            size_t name_len, char ret_key[MC_REQKEY_MAX],
                                            size_t *ret_len)
{
	*ret_len = 0;
	if (!buf || len == 0)
		return MC_REQKEY_NOTHING;
	if (len > MC_REQKEY_SCAN_BYTES)
		len = MC_REQKEY_SCAN_BYTES;
	size_t first = ref_request_line_len(buf, len);
	if (first == 0)
		return MC_REQKEY_NOTHING;
	if (name_len == 0)
		return MC_REQKEY_NEW_NO_KEY; /* no header to look for */
	const char *end = buf + len;
	for (const char *line = buf + first + 1; line < end;) {
		const char *nl = ref_line_end(buf, line, end);
		if (!nl)
			break; /* a line cut off by the end of the read */
		size_t line_len = (size_t)(nl - line);
		if (line_len == 0 || (line_len == 1 && line[0] == '\r'))
			break; /* end of the headers */
		if (ref_header_name_is(line, line_len, name, name_len)) {
			size_t n =
			    ref_copy_value(line + name_len + 1, line_len - name_len - 1, ret_key);
			if (n > 0) {
				*ret_len = n;
				return MC_REQKEY_FOUND;
			}
		}
		line = nl + 1;
	}
	return MC_REQKEY_NEW_NO_KEY;
}

static enum mc_reqkey_result scan(const char *text, size_t len, char *key, size_t *key_len)
{
	char *exact = malloc(len ? len : 1);
	memcpy(exact, text, len);
	enum mc_reqkey_result r = mc_reqkey_scan(exact, len, "X-Request-Id", 12, key, key_len);
	free(exact);
	return r;
}

static enum mc_reqkey_result scan_str(const char *text, char *key, size_t *key_len)
{
	return scan(text, strlen(text), key, key_len);
}

static void found(const char *text, const char *want)
{
	char key[MC_REQKEY_MAX + 1];
	size_t n = 99;
	MC_CHECK(scan_str(text, key, &n) == MC_REQKEY_FOUND);
	key[n <= MC_REQKEY_MAX ? n : 0] = '\0';
	MC_CHECK_STR(key, want);
}

static void test_found(void)
{
	found("POST /predict HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-42\r\n\r\n", "abc-42");
	found("GET / HTTP/1.0\r\nx-request-id:   spaced  \r\n\r\n", "spaced");
	found("GET / HTTP/1.1\nX-REQUEST-ID: bare-newlines\n\n", "bare-newlines");
	found("PUT /a HTTP/1.1\r\nX-Request-Id:\tt\r\nContent-Length: 3\r\n\r\nabc", "t");
}

static void test_not_a_request(void)
{
	char key[MC_REQKEY_MAX];
	size_t n = 7;
	MC_CHECK(scan_str("", key, &n) == MC_REQKEY_NOTHING);
	MC_CHECK_U64(n, 0);
	MC_CHECK(scan_str("{\"features\":[1,2,3]}", key, &n) == MC_REQKEY_NOTHING);
	MC_CHECK(scan_str("HTTP/1.1 200 OK\r\nX-Request-Id: r\r\n\r\n", key, &n) ==
	         MC_REQKEY_NOTHING); /* a response, not a request */
	MC_CHECK(scan_str("GET / SPDY/3\r\n\r\n", key, &n) == MC_REQKEY_NOTHING);
	MC_CHECK(scan_str("GET / HTTP/1.1", key, &n) == MC_REQKEY_NOTHING); /* no line end */
	MC_CHECK(scan("\0\0\0\0 / HTTP/1.1\r\n", 17, key, &n) == MC_REQKEY_NOTHING);
}

static void test_request_without_key(void)
{
	char key[MC_REQKEY_MAX];
	size_t n = 7;
	MC_CHECK(scan_str("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", key, &n) ==
	         MC_REQKEY_NEW_NO_KEY);
	MC_CHECK_U64(n, 0);
	/* the header in the body does not count */
	MC_CHECK(scan_str("POST / HTTP/1.1\r\n\r\nX-Request-Id: body\r\n", key, &n) ==
	         MC_REQKEY_NEW_NO_KEY);
	/* a header cut off by the end of the read is not used */
	MC_CHECK(scan_str("POST / HTTP/1.1\r\nX-Request-Id: trunc", key, &n) ==
	         MC_REQKEY_NEW_NO_KEY);
	/* a name that only starts like ours */
	MC_CHECK(scan_str("GET / HTTP/1.1\r\nX-Request-Identity: no\r\n\r\n", key, &n) ==
	         MC_REQKEY_NEW_NO_KEY);
	MC_CHECK(scan_str("GET / HTTP/1.1\r\nX-Request-Id:   \r\n\r\n", key, &n) ==
	         MC_REQKEY_NEW_NO_KEY);
}

static void test_long_value_capped(void)
{
	char text[1024];
	int len = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nX-Request-Id: ");
	memset(text + len, 'k', 500);
	memcpy(text + len + 500, "\r\n\r\n", 4);
	char key[MC_REQKEY_MAX];
	size_t n = 0;
	MC_CHECK(scan(text, (size_t)len + 504, key, &n) == MC_REQKEY_FOUND);
	MC_CHECK_U64(n, MC_REQKEY_MAX);
	MC_CHECK(key[0] == 'k' && key[MC_REQKEY_MAX - 1] == 'k');
}

/* Every prefix of a request, and random bytes: no read outside the buffer
 * (ASan), and a found key is always whole. */
static void test_every_prefix_and_noise(void)
{
	const char *req = "POST /predict HTTP/1.1\r\nX-Request-Id: prefix-7\r\nA: b\r\n\r\n{}";
	size_t full = strlen(req);
	for (size_t len = 0; len <= full; len++) {
		char key[MC_REQKEY_MAX];
		size_t n = 0;
		if (scan(req, len, key, &n) == MC_REQKEY_FOUND)
			MC_CHECK(n == 8 && memcmp(key, "prefix-7", 8) == 0);
	}
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		char noise[300];
		size_t len = (size_t)(round % 300);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			noise[i] = (char)(seed >> 16);
		}
		if (round % 3 == 0 && len > 20)
			memcpy(noise, "GET / HTTP/1.1\r\n", 16);
		char key[MC_REQKEY_MAX];
		size_t n = 0;
		scan(noise, len, key, &n);
		MC_CHECK(n <= MC_REQKEY_MAX);
	}
}

static void test_status_class(void)
{
	MC_CHECK(mc_http_status_class("HTTP/1.1 200 OK\r\n", 17) == 1);
	MC_CHECK(mc_http_status_class("HTTP/1.0 503 Busy\r\n", 19) == 4);
	MC_CHECK(mc_http_status_class("HTTP/1.1 101 Switching", 22) == 0);
	MC_CHECK(mc_http_status_class("HTTP/1.1 404", 12) == 3);
	MC_CHECK(mc_http_status_class("HTTP/1.1 50", 11) == -1); /* cut short */
	MC_CHECK(mc_http_status_class("HTTP/2 200 OK", 13) == -1);
	MC_CHECK(mc_http_status_class("HTTP/1.1 600 X", 14) == -1);
	MC_CHECK(mc_http_status_class("HTTP/1.1 2x0 X", 14) == -1);
	MC_CHECK(mc_http_status_class("{\"class\":1}", 11) == -1);
	MC_CHECK(mc_http_status_class(NULL, 0) == -1);
}

/* mc_reqkey_scan and reference_scan on the same bytes, each in a buffer of their exact length:
 * the same result, the same length, and the same 128 bytes of key (so no byte past the length
 * written either). Only the first few differences are printed. */
static unsigned differences;

static void same_as_reference(const char *bytes, size_t len, const char *name, size_t name_len)
{
	char *exact = malloc(len ? len : 1);
	char *exact_name = malloc(name_len ? name_len : 1);
	memcpy(exact, bytes, len);
	memcpy(exact_name, name, name_len);
	char key[MC_REQKEY_MAX], want_key[MC_REQKEY_MAX];
	memset(key, 0xa5, sizeof(key));
	memset(want_key, 0xa5, sizeof(want_key));
	size_t n = 999, want_n = 999;
	enum mc_reqkey_result r = mc_reqkey_scan(exact, len, exact_name, name_len, key, &n);
	enum mc_reqkey_result want =
	    reference_scan(exact, len, exact_name, name_len, want_key, &want_n);
	bool same = r == want && n == want_n && memcmp(key, want_key, sizeof(key)) == 0;
	if (same || ++differences <= 5)
		MC_CHECKF(same,
		          "%zu bytes \"%.*s\", name \"%.*s\": result %d length %zu, the reference "
		          "%d length %zu",
		          len, (int)(len < 200 ? len : 200), bytes, (int)name_len, name, (int)r, n,
		          (int)want, want_n);
	free(exact_name);
	free(exact);
}

static const char *const names_checked[] = {
	"X-Request-Id",
	"x-request-id",
	"X-REQUEST-ID",
	"Host",
	"A",
	"Content-Length",
	"X",
	"X-Request-Id-That-Is-Long",
	"X-Req",
	"@-request-id",
	"X-Request:Id",
	"X\nRequest-Id",
	"X\rRequest-Id",
	"[-Request-Id",
	"\r",
	"\n",
	":",
	"",
};
#define N_NAMES (sizeof(names_checked) / sizeof(names_checked[0]))

static void every_name(const char *bytes, size_t len)
{
	for (size_t k = 0; k < N_NAMES; k++)
		same_as_reference(bytes, len, names_checked[k], strlen(names_checked[k]));
}

/* A realistic head cut at every length, with every name. */
static void test_every_prefix_same(void)
{
	static const char *const heads[] = {
		"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:40000\r\nContent-Type: application/json\r\n"
		"Content-Length: 123\r\nX-Request-Id: req-17\r\n\r\n{\"features\":[1,2,3]}",
		"GET /a HTTP/1.0\nx-request-id:\t lower \t\nHost: h\n\nX-Request-Id: body\n",
		"PUT / HTTP/1.1\r\nX-REQUEST-ID: upper\r\nX-Request-Id: second\r\n\r\n",
		"POST / HTTP/1.1\r\nX-Request-Id:\r\nX-Request-Id:  \t \r\nX-Request-Id: third\r\n\r\n",
		"GET / HTTP/1.1\r\n\rX-Request-Id: after-lone-cr\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\r\nX-Request-Id: cr-cr\r\n\r\n",
		"GET / HTTP/1.1\r\nA: 1\r\n\r\nX-Request-Id: in-body\r\n",
		"GET / HTTP/1.1\r\nA: 1\n\nX-Request-Id: in-body\r\n",
		"GET / HTTP/1.1\r\nX-Request-Id : spaced-name\r\nX-Request-Id:ok\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Request-Id: v\rw\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Request-Id: trailing\r\r\n\r\n",
		"GET HTTP/1.1\r\nX-Request-Id: short-line\r\n\r\n",
		"get / HTTP/1.1\r\nX-Request-Id: lower-method\r\n\r\n",
		"M-SEARCH * HTTP/1.1\r\nX-Request-Id: tchar-method\r\n\r\n",
		"GET / HTTP/1.\r\r\nX-Request-Id: odd-version\r\n\r\n",
		"GET / HTTP/2.0\r\nX-Request-Id: v2\r\n\r\n",
		"GET /HTTP/1.1\r\nX-Request-Id: no-space\r\n\r\n",
		" GET / HTTP/1.1\r\nX-Request-Id: lead-space\r\n\r\n",
	};
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		size_t full = strlen(heads[h]);
		for (size_t len = 0; len <= full; len++)
			every_name(heads[h], len);
	}
}

/* The sought header after filler lines of every length from 0 to 80, so that its line, and the
 * lines before, start and end at every offset of the 16 and 64 byte blocks; and lines of 15, 16
 * and 17 bytes. */
static void test_every_offset_same(void)
{
	char head[512];
	for (size_t fill = 0; fill <= 80; fill++) {
		for (int form = 0; form < 4; form++) {
			size_t len = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n");
			if (fill > 0) {
				memcpy(head + len, "F: ", 3);
				memset(head + len + 3, 'f', fill);
				len += 3 + fill;
				memcpy(head + len, "\r\n", 2);
				len += 2;
			}
			static const char *const tails[] = {
				"X-Request-Id: abcdefghijklmn\r\n\r\n", /* 15-byte value */
				"X-Request-Id:0123456789abcdef\n\n",    /* 16-byte value */
				"x-request-id: 0123456789abcdefg\r\n",  /* 17, no end */
				"Host: x\r\n\r\nX-Request-Id: body\r\n",
			};
			len += (size_t)snprintf(head + len, sizeof(head) - len, "%s", tails[form]);
			for (size_t cut = len > 40 ? len - 40 : 0; cut <= len; cut++)
				every_name(head, cut);
		}
	}
}

/* Heads around the 16 KiB the scanner looks at: the header inside, straddling, beyond. */
static void test_long_heads_same(void)
{
	size_t size = MC_REQKEY_SCAN_BYTES + 300;
	char *head = malloc(size);
	for (size_t at = MC_REQKEY_SCAN_BYTES - 60; at <= MC_REQKEY_SCAN_BYTES + 40; at += 3) {
		size_t len = (size_t)snprintf(head, size, "POST /big HTTP/1.1\r\n");
		while (len + 40 < at) { /* filler lines of 39 bytes */
			memcpy(head + len, "Filler: 0123456789012345678901234567\r\n", 39);
			len += 39;
		}
		len +=
		    (size_t)snprintf(head + len, size - len, "X-Request-Id: near-the-cap\r\n\r\n");
		same_as_reference(head, len, "X-Request-Id", 12);
		same_as_reference(head, len, "x", 1);
		same_as_reference(head, len - 2, "X-Request-Id", 12);
	}
	/* 16 KiB of request line and of header lines without the header, then more */
	memset(head, 'a', size);
	memcpy(head, "GET /", 5);
	memcpy(head + size - 30, " HTTP/1.1\r\nX-Request-Id: z\r\n\r\n", 30);
	same_as_reference(head, size, "X-Request-Id", 12);
	free(head);
}

/* Methods of 15 to 34 bytes, and bytes that are no tchar. */
static void test_methods_same(void)
{
	char head[128];
	for (size_t m = 1; m <= 34; m++) {
		for (int kind = 0; kind < 3; kind++) {
			memset(head, kind == 0 ? 'G' : kind == 1 ? 'g' : '!', m);
			if (m > 2 && kind == 0)
				head[m / 2] = '-';
			size_t len = m + (size_t)snprintf(head + m, sizeof(head) - m,
			                                  " / HTTP/1.1\r\nX-Request-Id: m\r\n\r\n");
			every_name(head, len);
		}
	}
	same_as_reference("\x80GET / HTTP/1.1\r\nX-Request-Id: hi\r\n\r\n", 37, "X-Request-Id", 12);
	same_as_reference("GET\0/ HTTP/1.1\r\nX-Request-Id: nul\r\n\r\n", 37, "X-Request-Id", 12);
}

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Random heads from a small alphabet that makes request lines, header lines, blank lines and
 * lone '\r's likely, with random names from letters in both cases, letter-like bytes
 * ('@', '[', '`', '{' differ from letters by 0x20) and separators. */
static void test_random_same(void)
{
	static const char *const chunks[] = {
		"\r",
		"\n",
		":",
		" ",
		"\t",
		"x",
		"X",
		"-",
		"r",
		"R",
		"e",
		"I",
		"d",
		"@",
		"`",
		"[",
		"{",
		"\r\n",
		"\r\n\r\n",
		"POST / HTTP/1.1\r\n",
		"GET / HTTP/1.0\n",
		"X-Request-Id:",
		"x-request-id: ",
		"X-REQUEST-ID:  v ",
		"Host: h\r\n",
		"\x80",
	};
	static const char name_bytes[] = "xXrReEiIdD-@`[{:\r\n ";
	char head[700], name[40];
	for (int round = 0; round < 300000; round++) {
		size_t len = 0, limit = round % 10 == 0 ? sizeof(head) - 20 : 120;
		if (rng() % 4 != 0) {
			const char *line =
			    rng() % 2 ? "POST /predict HTTP/1.1\r\n" : "GET / HTTP/1.1\n";
			len = strlen(line);
			memcpy(head, line, len);
		}
		while (len < limit && rng() % 40 != 0) {
			const char *c = chunks[rng() % (sizeof(chunks) / sizeof(chunks[0]))];
			size_t n = strlen(c);
			memcpy(head + len, c, n);
			len += n;
		}
		size_t name_len;
		if (rng() % 2) {
			static const char *const usual[] = { "X-Request-Id", "x-request-id", "Id",
				                             "X" };
			const char *u = usual[rng() % 4];
			name_len = strlen(u);
			memcpy(name, u, name_len);
		} else {
			name_len = rng() % 20;
			for (size_t i = 0; i < name_len; i++)
				name[i] = name_bytes[rng() % (sizeof(name_bytes) - 1)];
		}
		same_as_reference(head, len, name, name_len);
	}
}

/* Names of 1 to 24 bytes against lines that differ from them in one byte, at every place: by
 * the case of a letter (the same name), by 0x20 where the byte is no letter (in the name or
 * in the line), or otherwise. */
static void test_name_lengths_same(void)
{
	static const char letters[] = "aBcDeFgHiJkLmNoPqRsTuVwX";
	static const char others[] = "Zz@`[{^~_-\xc1\xe1";
	char name[32], head[128];
	for (size_t n = 1; n <= 24; n++) {
		for (size_t k = 0; k <= n; k++) {
			for (size_t o = 0; o <= sizeof(others) - 1; o++) {
				memcpy(name, letters, n);
				size_t len =
				    (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n");
				memcpy(head + len, name, n);
				if (k < n && o < sizeof(others) - 1) {
					head[len + k] = others[o];
					name[k] = (char)(others[o] ^ 0x20);
				} else if (k < n) {
					head[len + k] = (char)(name[k] ^ 0x20);
				}
				len += n;
				len += (size_t)snprintf(head + len, sizeof(head) - len,
				                        ": v%zu\r\n\r\n", k);
				same_as_reference(head, len, name, n);
				head[len - n - 8 + (k < n ? k : 0)] ^= 0x20;
				same_as_reference(head, len, name, n);
			}
		}
	}
}

/* Values of every length around the cap, with blanks around them. */
static void test_value_lengths_same(void)
{
	char head[300];
	for (size_t v = 0; v <= MC_REQKEY_MAX + 12; v++) {
		size_t len =
		    (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX-Request-Id: ");
		for (size_t i = 0; i < v; i++)
			head[len + i] = (char)('a' + i % 26);
		len += v;
		len += (size_t)snprintf(head + len, sizeof(head) - len, " \t\r\n\r\n");
		for (size_t cut = len - 6; cut <= len; cut++)
			same_as_reference(head, cut, "X-Request-Id", 12);
	}
}

int main(void)
{
	test_status_class();
	test_found();
	test_not_a_request();
	test_request_without_key();
	test_long_value_capped();
	test_every_prefix_and_noise();
	test_every_prefix_same();
	test_every_offset_same();
	test_long_heads_same();
	test_methods_same();
	test_name_lengths_same();
	test_value_lengths_same();
	test_random_same();
	MC_CHECK_U64(differences, 0);
	return mc_test_done("unit-reqkey");
}
