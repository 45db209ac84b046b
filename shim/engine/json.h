/* json.h: region = json: numbers inside a JSON body changed in place, every byte count kept
 * (a Content-Length stays true). Pure: no allocation, no libc call but memcpy and memset;
 * bounded (MC_JSON_DEPTH nested containers, MC_JSON_POINTER bytes of a value's pointer). */
#ifndef MC_JSON_H
#define MC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define MC_JSON_DEPTH   32
#define MC_JSON_POINTER 256

/* What a rewrite found. A status other than MC_JSON_DONE changed nothing. */
enum mc_json_status {
	MC_JSON_DONE,     /* the body was scanned whole; `changed` numbers were rewritten */
	MC_JSON_NO_BODY,  /* no JSON value in the bytes (an HTTP head alone, another format) */
	MC_JSON_PARTIAL,  /* the body goes on past these bytes (larger than one read or send) */
	MC_JSON_CHUNKED,  /* Transfer-Encoding: chunked: chunk sizes sit inside the body */
	MC_JSON_MALFORMED /* not JSON, or nested deeper than MC_JSON_DEPTH */
};

struct mc_json_report {
	uint32_t numbers;    /* numbers in the body */
	uint32_t matched;    /* of them, at or under json_path */
	uint32_t changed;    /* rewritten */
	uint32_t unwritable; /* chosen, but the new value does not fit the old one's width */
	size_t body;         /* where the JSON value starts in the bytes */
};

/* The body in buf[0, len): after an HTTP/1.x head when the bytes start with one (a request
 * line or a status line ending in an empty line), else the bytes themselves; its numbers at
 * or under rule->json_path (every number when NULL) are changed by rule->mode: noise
 * (v * (1 + N(0, std)), or v + N(0, std) with noise = absolute), zero, nan (written NaN, as
 * Python's json writes it), sign (-v), swap (two matched values exchanged). count of them
 * are drawn from key (count = all: every one). A new value is written in the width of the
 * number it replaces, as many digits as fit, the rest blanks (JSON whitespace); one that
 * does not fit (a sign on a one-digit number, 12 in place of 5) leaves the number as it was
 * and counts as unwritable. Returns the status; rep gets the counts. */
enum mc_json_status mc_json_damage(const struct mc_erule *rule, uint64_t key, char *buf, size_t len,
                                   struct mc_json_report *rep);

/* Writes v in exactly w bytes of out, as JSON: digits, a '.', an exponent as they fit, blanks
 * after; NaN as "NaN". Returns 0, or -1 when no spelling of v fits in w (out unchanged). */
int mc_json_write_number(double v, char *out, size_t w);

/* The value of the JSON number text s[0, n) (no locale); false when it is not one. */
bool mc_json_read_number(const char *s, size_t n, double *ret);

#endif
