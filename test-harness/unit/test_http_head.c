/* test_http_head.c: the control endpoints' reading of a request head (shim/cli/http_head.c):
 * header lookup bounded by the head, duplicates counted, and the token comparison. */
#include <string.h>

#include "http_head.h"
#include "mc_test.h"

static const char *value(const char *head, const char *name, int *count)
{
	static char buf[256];
	size_t len = 0;
	const char *v = mc_http_header(head, name, &len, count);
	if (!v)
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)len, v);
	return buf;
}

static void test_headers(void)
{
	int n;
	const char *v;

	v = value("POST /halt HTTP/1.1\r\nHost: x\r\nauthorization:  Bearer abc \t\r\n\r\n",
	          "Authorization", &n);
	MC_CHECK(v && strcmp(v, "Bearer abc") == 0 && n == 1);
	/* a name that only begins like it, and the request line, are not the header */
	v = value("POST /Authorization: HTTP/1.1\r\nAuthorization-X: a\r\n\r\n", "Authorization",
	          &n);
	MC_CHECK(v == NULL && n == 0);
	/* two of them: counted, the first returned */
	v = value("POST / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
	          "Authorization", &n);
	MC_CHECK(v && strcmp(v, "a") == 0 && n == 2);
	/* nothing past the empty line: a body is not headers */
	v = value("POST / HTTP/1.1\r\nHost: x\r\n\r\nAuthorization: Bearer t\r\n", "Authorization",
	          &n);
	MC_CHECK(v == NULL && n == 0);
	/* bare LF line ends, and a head cut off with no empty line */
	v = value("POST / HTTP/1.1\nContent-Length: 0\n\n", "content-length", &n);
	MC_CHECK(v && strcmp(v, "0") == 0 && n == 1);
	v = value("POST / HTTP/1.1\r\nContent-Length: 12", "Content-Length", &n);
	MC_CHECK(v && strcmp(v, "12") == 0);
	v = value("POST / HTTP/1.1", "Content-Length", &n);
	MC_CHECK(v == NULL && n == 0);
	v = value("", "Content-Length", &n);
	MC_CHECK(v == NULL);
	/* an empty value */
	v = value("POST / HTTP/1.1\r\nX:   \r\n\r\n", "X", &n);
	MC_CHECK(v && strcmp(v, "") == 0 && n == 1);
}

static void test_tokens(void)
{
	MC_CHECK(mc_token_equal("secret", 6, "secret"));
	MC_CHECK(!mc_token_equal("secreT", 6, "secret"));
	MC_CHECK(!mc_token_equal("secre", 5, "secret"));
	MC_CHECK(!mc_token_equal("secrets", 7, "secret"));
	/* the given token is not NUL-terminated: only its length counts */
	MC_CHECK(mc_token_equal("secretXYZ", 6, "secret"));
	MC_CHECK(!mc_token_equal("", 0, "secret"));
	/* a NUL inside the given bytes never matches the end of the expected token */
	MC_CHECK(!mc_token_equal("sec\0et", 6, "secret"));
	MC_CHECK(!mc_token_equal("secret\0", 7, "secret"));
}

int main(void)
{
	test_headers();
	test_tokens();
	return mc_test_done("http_head");
}
