/* metrics_control.h: what `mlchaos metrics` covers (every process of the user, or one process
 * tree: --tree) and its control endpoints (POST /halt, /resume, /reload with a bearer token:
 * --control-token-file). */
#ifndef MC_CLI_METRICS_CONTROL_H
#define MC_CLI_METRICS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "segments.h"

struct mc_metrics_scope {
	int tree;               /* > 0: only this pid and its descendants */
	const char *token_file; /* NULL: control is off */
};

/* The live segments the scope covers (mc_seg_list_all, filtered). 0 or -errno. */
int mc_scope_list(const struct mc_metrics_scope *scope, enum mc_seg_mode mode,
                  struct mc_seg_list *ret);

/* Whether pid is root or one of its descendants (through /proc/PID/stat). */
bool mc_pid_in_tree(int pid, int root);

/* An answer of the control endpoints: status line, extra header lines (each ending CRLF, may
 * be ""), and a text body (malloc'ed; free it). */
struct mc_answer {
	const char *status;
	const char *headers;
	char *body;
};

/* Whether path is one of the control endpoints. */
bool mc_control_path(const char *path);

/* Answers a request for a control endpoint: head is the whole request head (NUL-terminated,
 * complete: its empty line seen), method and path from its request line, query the text
 * after '?' (or ""). */
void mc_control_answer(const struct mc_metrics_scope *scope, const char *head, const char *method,
                       const char *path, const char *query, struct mc_answer *ret);

#endif
