/* glob.c: the glob patterns of `path =` and `process =`. Our own matcher rather than
 * fnmatch(3): it runs in open() hooks and must never allocate, take a locale lock or touch
 * errno. Iterative with one backtrack point, so time is O(len(pattern) * len(str)). */
#include <errno.h>

#include "config.h"

/* The end of the bracket class opening at p (p[0] == '['): the pointer past its ']', or NULL
 * when the class is unterminated. A ']' right after "[", "[!" or "[^" is a literal. */
static const char *class_end(const char *p)
{
	p++;
	if (*p == '!' || *p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p && *p != ']'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == ']' ? p + 1 : NULL;
}

/* Whether c belongs to the class [p, end) (p[0] == '['). */
static bool class_has(const char *p, const char *end, unsigned char c)
{
	bool negate = false, found = false;

	p++;
	if (*p == '!' || *p == '^') {
		negate = true;
		p++;
	}
	for (bool first = true; p < end - 1; first = false) {
		unsigned char lo, hi;

		if (*p == ']' && !first)
			break;
		if (*p == '\\' && p + 1 < end - 1)
			p++;
		lo = hi = (unsigned char)*p++;
		if (*p == '-' && p + 1 < end - 1 && p[1] != ']') {
			p++;
			if (*p == '\\' && p + 1 < end - 1)
				p++;
			hi = (unsigned char)*p++;
		}
		if (c >= lo && c <= hi)
			found = true;
	}
	return found != negate;
}

/* Whether the single-character pattern element at p matches c; *ret_len is its length. */
static bool match_one(const char *p, unsigned char c, size_t *ret_len)
{
	const char *end;

	switch (*p) {
	case '?':
		*ret_len = 1;
		return true;
	case '[':
		end = class_end(p);
		if (end) {
			*ret_len = (size_t)(end - p);
			return class_has(p, end, c);
		}
		break; /* unterminated: a literal '[', as fnmatch does */
	case '\\':
		if (p[1]) {
			*ret_len = 2;
			return (unsigned char)p[1] == c;
		}
		break;
	default:
		break;
	}
	*ret_len = 1;
	return (unsigned char)*p == c;
}

bool mc_glob_match(const char *pattern, const char *str)
{
	const char *p = pattern, *s = str;
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		size_t len;

		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p && match_one(p, (unsigned char)*s, &len)) {
			p += len;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		/* Let the last '*' swallow one more character and retry from there. */
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int mc_glob_check(const char *pattern)
{
	for (const char *p = pattern; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return -EINVAL;
			p++;
		} else if (*p == '[') {
			const char *end = class_end(p);

			if (!end)
				return -EINVAL;
			p = end - 1;
		}
	}
	return 0;
}
