/* json.h: a small strict JSON reader over a bounded span, enough for the request bodies,
 * the data set lines and the server's answers. Never reads outside [p, end), never allocates,
 * and bounds nesting, so any byte sequence from the network is safe to hand it. */
#ifndef MC_JSON_H
#define MC_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define MC_JSON_MAX_DEPTH 32

struct mc_json {
	const char *p;   /* next byte to read */
	const char *end; /* one past the last byte */
};

/* Start reading n bytes at s. */
void mc_json_init(struct mc_json *j, const char *s, size_t n);
/* Skip whitespace. */
void mc_json_ws(struct mc_json *j);
/* Skip whitespace, then consume c if it is next. True when consumed. */
bool mc_json_eat(struct mc_json *j, char c);
/* True when only whitespace is left. */
bool mc_json_at_end(struct mc_json *j);
/* Read a string; *ret_s and *ret_n get its raw bytes between the quotes, escapes not decoded
 * (keys here are plain ASCII). 0 or -EINVAL (bad escape, control byte, unterminated). */
int mc_json_string(struct mc_json *j, const char **ret_s, size_t *ret_n);
/* Read a number in JSON's own grammar (no NaN, inf, hex, leading +). 0 or -EINVAL. */
int mc_json_number(struct mc_json *j, double *ret);
/* Skip one value of any type, nested at most MC_JSON_MAX_DEPTH deep. 0 or -EINVAL. */
int mc_json_skip(struct mc_json *j);
/* Read an array of numbers into out[cap]. 0 with *ret_n set; -E2BIG when there are more
 * than cap; -EINVAL when it is not an array of numbers. */
int mc_json_floats(struct mc_json *j, float *out, size_t cap, size_t *ret_n);
/* True when the raw string s[0..n) equals key. */
bool mc_json_key_is(const char *s, size_t n, const char *key);

#endif
