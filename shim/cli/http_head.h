/* http_head.h: what the control endpoints of `mlchaos metrics` read of a request head, a
 * NUL-terminated text from an untrusted client, bounded by the server: header values and
 * tokens, compared so that the time says nothing of the token. Pure functions. */
#ifndef MC_CLI_HTTP_HEAD_H
#define MC_CLI_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

/* The value of header name (case-insensitive) in head, the request line skipped and nothing
 * read past the empty line that ends the head; blanks around it cut, bounded by its line
 * (*ret_len). NULL when absent. *ret_count: how many times it appears. */
const char *mc_http_header(const char *head, const char *name, size_t *ret_len, int *ret_count);

/* Constant-time equality of a given token with the expected one: the time depends on the
 * expected token's length only. */
bool mc_token_equal(const char *given, size_t given_len, const char *want);

#endif
