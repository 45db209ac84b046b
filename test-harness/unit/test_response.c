/* test_response.c: where responses end (shim/response.c), on the framings servers send, fed
 * whole and split at every byte, and on hostile bytes. Every buffer is allocated at its exact
 * length, so that a read past its end is caught by ASan in the sanitizer build. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mc_test.h"
#include "response.h"

/* The responses that end in text fed in pieces of `step` bytes (0: whole), each piece in a
 * buffer of its own exact size. */
static unsigned feed(struct mc_resp *r, const char *text, size_t step)
{
	size_t len = strlen(text);
	unsigned ends = 0;
	if (step == 0)
		step = len ? len : 1;
	for (size_t at = 0; at < len; at += step) {
		size_t n = len - at < step ? len - at : step;
		char *piece = malloc(n);
		memcpy(piece, text + at, n);
		ends += mc_resp_feed(r, piece, n);
		free(piece);
	}
	return ends;
}

/* text ends `want` responses, leaves r in state `state`, whole and split at every length. */
static void check_framing(const char *what, const char *text, bool head_request, unsigned want,
                          enum mc_resp_state state)
{
	size_t len = strlen(text);
	for (size_t step = 0; step <= len; step++) {
		struct mc_resp r;
		mc_resp_reset(&r, head_request);
		unsigned got = feed(&r, text, step);
		MC_CHECKF(got == want, "%s, in pieces of %zu: %u responses ended, not %u", what,
		          step, got, want);
		MC_CHECKF(r.state == state, "%s, in pieces of %zu: state %u, not %u", what, step,
		          r.state, (unsigned)state);
	}
}

static void test_framings(void)
{
	check_framing("content-length",
	              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
	              "5\r\n\r\nhello",
	              false, 1, MC_RESP_HEAD);
	check_framing("content-length, case and blanks",
	              "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:\t 3 \r\n\r\nabc", false, 1, MC_RESP_HEAD);
	check_framing("a body not yet whole", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	              false, 0, MC_RESP_BODY);
	check_framing("empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 1,
	              MC_RESP_HEAD);
	check_framing("chunked",
	              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
	              "1A;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
	              false, 1, MC_RESP_HEAD);
	check_framing("chunked with trailers",
	              "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n"
	              "0\r\nX-Checksum: 1\r\n\r\n",
	              false, 1, MC_RESP_HEAD);
	check_framing("chunked, last chunk not yet",
	              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false, 0,
	              MC_RESP_CHUNK_SIZE);
	check_framing("no length: until the close", "HTTP/1.0 200 OK\r\n\r\nsome bytes", false, 0,
	              MC_RESP_UNTIL_CLOSE);
	check_framing("204", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", false, 1,
	              MC_RESP_HEAD);
	check_framing("304", "HTTP/1.1 304 Not Modified\r\n\r\n", false, 1, MC_RESP_HEAD);
	check_framing("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", true, 1,
	              MC_RESP_HEAD);
	check_framing("100 then 200",
	              "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	              false, 1, MC_RESP_HEAD);
	check_framing("101: not HTTP any more", "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05",
	              false, 0, MC_RESP_UNTIL_CLOSE);
	check_framing("two responses in one send",
	              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 500 Oops\r\n"
	              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	              false, 2, MC_RESP_HEAD);
	check_framing("not HTTP", "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\n\n", false, 0,
	              MC_RESP_UNTIL_CLOSE);
	check_framing("bad length: until the close",
	              "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nabc", false, 0,
	              MC_RESP_UNTIL_CLOSE);
	check_framing(
	    "huge chunk size: until the close",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", false,
	    0, MC_RESP_UNTIL_CLOSE);
}

/* A header line longer than the line kept is read no further than its kept bytes, and a
 * Content-Length cut off is not used. */
static void test_long_lines(void)
{
	char text[1024];
	char pad[600];
	memset(pad, 'a', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nX-Long: %s\r\nContent-Length: 2\r\n\r\nok",
	         pad);
	check_framing("a long header line", text, false, 1, MC_RESP_HEAD);
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nContent-Length: %.60s\r\n\r\nok",
	         "000000000000000000000000000000000000000000000000000000000002");
	check_framing("a length past the line kept", text, false, 0, MC_RESP_UNTIL_CLOSE);
}

/* A body is skipped by its length: its bytes are never looked at, whatever they hold. */
static void test_body_not_read(void)
{
	struct mc_resp r;
	mc_resp_reset(&r, false);
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
	MC_CHECK(mc_resp_feed(&r, head, strlen(head)) == 0);
	size_t n = 1 << 20;
	char *body = malloc(n);
	memset(body, '\n', n);
	MC_CHECK(mc_resp_feed(&r, body, n - 1) == 0);
	MC_CHECK(r.state == MC_RESP_BODY && r.left == 1);
	MC_CHECK(mc_resp_feed(&r, body, 1) == 1);
	free(body);
}

/* Random bytes never make the parser read past what it was given, nor loop. */
static void test_noise(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 2000; round++) {
		struct mc_resp r;
		mc_resp_reset(&r, round & 1);
		size_t n = 1 + round % 97;
		char *buf = malloc(n);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			static const char alphabet[] =
			    "HTTP/1.1 200\r\n:0123456789abcdefchunkedCL-\x00\xff";
			buf[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		if (round % 3 == 0 && n >= 17)
			memcpy(buf, "HTTP/1.1 200 OK\r\n", 17);
		(void)mc_resp_feed(&r, buf, n);
		MC_CHECK(r.state <= MC_RESP_UNTIL_CLOSE);
		free(buf);
	}
	struct mc_resp r;
	mc_resp_reset(&r, false);
	MC_CHECK(mc_resp_feed(&r, NULL, 10) == 0);
}

int main(void)
{
	test_framings();
	test_long_lines();
	test_body_not_read();
	test_noise();
	return mc_test_done("unit-response");
}
