/* json.h: reading one JSON text (a line of an event log) into a tree, for the commands that
 * read logs (report, replay, experiment). Strict RFC 8259, nesting at most MC_JSON_MAX_DEPTH
 * deep, strings decoded (\u escapes to UTF-8), never reads past the bytes given. */
#ifndef MC_CLI_JSON_H
#define MC_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_JSON_MAX_DEPTH 32

enum mc_json_type {
	MC_JSON_NULL,
	MC_JSON_BOOL,
	MC_JSON_NUMBER,
	MC_JSON_STRING,
	MC_JSON_ARRAY,
	MC_JSON_OBJECT
};

struct mc_json {
	enum mc_json_type type;
	bool boolean;
	bool whole; /* a number that is a whole number from 0 to UINT64_MAX: in u64 */
	uint64_t u64;
	char *str;          /* a string, decoded and NUL-terminated (it may hold NULs: see len) */
	size_t len;         /* bytes of str; members of an array or object */
	struct mc_json *at; /* an array's or object's len members, in order */
	char **names;       /* an object's member names (decoded, NUL-terminated) */
};

/* Parses text[0, len) as one JSON value with only blanks around it. Returns 0 and a tree to
 * free with mc_json_free() in *ret; -EINVAL with *ret_why (a static phrase, such as "a
 * string is not closed") and *ret_at (the byte offset of the problem); or -ENOMEM. */
int mc_json_parse(const char *text, size_t len, struct mc_json **ret, const char **ret_why,
                  size_t *ret_at);

void mc_json_free(struct mc_json *v);

/* The first member called name of object obj; NULL when obj is NULL, not an object, or has
 * no such member. */
const struct mc_json *mc_json_get(const struct mc_json *obj, const char *name);

/* Member name of obj as a string (NULL when absent or not a string), or as a whole number
 * (false when absent or not one). */
const char *mc_json_get_str(const struct mc_json *obj, const char *name);
bool mc_json_get_u64(const struct mc_json *obj, const char *name, uint64_t *ret);

/* Member name of obj is true (false when absent, false or not a boolean). */
bool mc_json_get_true(const struct mc_json *obj, const char *name);

#endif
