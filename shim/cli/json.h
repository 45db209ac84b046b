/* json.h: reading one JSON text (a line of an event log) for the commands that read logs
 * (report, replay, experiment), with jansson: strict RFC 8259, strings with NUL bytes kept
 * (json_string_length gives their length), never past the bytes given. */
#ifndef MC_CLI_JSON_H
#define MC_CLI_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses text[0, len) as one JSON value with only blanks around it. Returns 0 and a value to
 * release with json_decref() in *ret; -EINVAL with why (jansson's account, cut to cap) and
 * *ret_at (the byte offset of the problem) when the arguments for them are given; or
 * -ENOMEM. */
int mc_json_parse(const char *text, size_t len, json_t **ret, char *why, size_t cap,
                  size_t *ret_at);

/* Member name of obj as a string (NULL when obj is not an object, or the member is absent or
 * not a string), or as a whole number from 0 up (false otherwise). */
const char *mc_json_get_str(const json_t *obj, const char *name);
bool mc_json_get_u64(const json_t *obj, const char *name, uint64_t *ret);

/* Member name of obj is true (false when absent, false or not a boolean). */
bool mc_json_get_true(const json_t *obj, const char *name);

#endif
