/* reqkey.c: the request-key scanner of reqkey.h. Every index is checked
 * against the length that arrived before it is read: the input is hostile
 * until proven otherwise (it is fuzzed in test-harness/fuzz). */
#include <stdbool.h>
#include <string.h>

#include "reqkey.h"

static bool is_token_char(unsigned char c)
{
	/* RFC 9110 tchar, enough to tell a method from binary noise. */
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
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

/* Length of the request line (up to, not including, its '\n'), or 0 when
 * the bytes do not start with "TOKEN SP TARGET SP HTTP/1.". */
static size_t request_line_len(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && i < 32 && is_token_char((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= len || buf[i] != ' ')
		return 0;
	const char *nl = memchr(buf + i, '\n', len - i);
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

/* Most lines are turned away by their length or their colon, before any byte of the name is
 * compared. */
static bool header_name_is(const char *line, size_t line_len, const char *name, size_t name_len)
{
	if (line_len <= name_len || line[name_len] != ':')
		return false;
	for (size_t i = 0; i < name_len; i++)
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
	size_t pos = request_line_len(buf, len);
	if (pos == 0)
		return MC_REQKEY_NOTHING;
	pos++; /* past the request line's '\n' */
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			break; /* a line cut off by the end of the read */
		size_t eol = (size_t)(nl - buf);
		size_t line_len = eol - pos;
		if (line_len == 0 || (line_len == 1 && buf[pos] == '\r'))
			break; /* end of the headers */
		if (name_len > 0 && header_name_is(buf + pos, line_len, name, name_len)) {
			size_t n =
			    copy_value(buf + pos + name_len + 1, line_len - name_len - 1, ret_key);
			if (n > 0) {
				*ret_len = n;
				return MC_REQKEY_FOUND;
			}
		}
		pos = eol + 1;
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
