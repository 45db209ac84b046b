/* test_reqkey.c: the request-key scanner on well-formed, split, hostile
 * and oversized input. Every buffer is allocated at its exact length so
 * that a read past its end is caught by ASan in the sanitizer build. */
#include <stdlib.h>
#include <string.h>

#include "mc_test.h"
#include "reqkey.h"

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

int main(void)
{
	test_status_class();
	test_found();
	test_not_a_request();
	test_request_without_key();
	test_long_value_capped();
	test_every_prefix_and_noise();
	return mc_test_done("unit-reqkey");
}
