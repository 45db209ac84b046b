/* http_head.c: header values of an untrusted request head, and the token comparison. */
#include <string.h>
#include <strings.h>

#include "http_head.h"

const char *mc_http_header(const char *head, const char *name, size_t *ret_len, int *ret_count)
{
	const char *found = NULL;
	size_t nlen = strlen(name);

	*ret_count = 0;
	for (const char *line = strchr(head, '\n'); line && line[1]; line = strchr(line, '\n')) {
		line++;
		size_t len = strcspn(line, "\r\n");
		if (len == 0)
			break; /* the end of the head: what follows is not a header */
		if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
			continue;
		const char *v = line + nlen + 1, *end = line + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (!found) {
			found = v;
			*ret_len = (size_t)(end - v);
		}
		++*ret_count;
	}
	return found;
}

bool mc_token_equal(const char *given, size_t given_len, const char *want)
{
	size_t want_len = strlen(want);
	volatile unsigned char diff = given_len != want_len;

	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned char)want[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
	return diff == 0;
}
