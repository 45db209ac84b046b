/* control.h: halt, resume and reload of the processes in a segment list, shared by the
 * commands (`mlchaos halt`, `resume`, `reload`, cmd_control.c) and by the control endpoints
 * of `mlchaos metrics --listen` (metrics_control.c); and the fleet client that asks those
 * endpoints (fleet.c). Every function writes what it did, one line per process, to out. */
#ifndef MC_CLI_CONTROL_H
#define MC_CLI_CONTROL_H

#include <stdbool.h>
#include <stdio.h>

#include "segments.h"

#define MC_CONTROL_TIMEOUT_S 10.0

/* Sets the halt bit of every process of list (opened MC_SEG_WRITE), then waits until none
 * has a fault in flight, at most timeout_s. 0: all halted; 1: faults were still in flight. */
int mc_control_halt(const struct mc_seg_list *list, double timeout_s, FILE *out);

/* Clears the halt bit (and the watchdog's, with watchdog). Says which process stays halted
 * for another reason. Always 0. */
int mc_control_resume(const struct mc_seg_list *list, bool watchdog, FILE *out);

/* Validates the config of seg's process, asks it to reload and waits for its answer.
 * 0 reloaded, 1 the config is invalid (here or in the process), 2 no answer or gone.
 * Diagnostics go to err (may be out). */
int mc_control_reload(const struct mc_seg *seg, double timeout_s, FILE *out, FILE *err);

/* ---- the fleet: the control endpoints of several `mlchaos metrics` sidecars ---------- */

struct mc_fleet {
	char **urls; /* base URLs (http://host:port), as given */
	size_t n;
	char *token; /* the bearer token, from a file */
};

/* Adds the URLs of file (one a line; blank lines and # comments skipped). Messages
 * FILE:LINE on error. 0 or -1. */
int mc_fleet_add_file(struct mc_fleet *f, const char *file);
int mc_fleet_add(struct mc_fleet *f, const char *url);

/* Reads the token of file (its content, trailing white space cut; bounded). 0 or -1, a
 * message on stderr prefixed by who. */
int mc_fleet_read_token(const char *who, const char *file, char **ret);

void mc_fleet_free(struct mc_fleet *f);

/* POSTs /ACTION (halt, resume, reload; query appended when not NULL) to every URL at once
 * and waits for every answer, at most timeout_s. Writes one line per replica to out and each
 * answer's lines indented. Returns the number of replicas that did not confirm (HTTP 200),
 * or -1 on a local error; *ret_s (may be NULL) receives the seconds until the last answer. */
int mc_fleet_post(const struct mc_fleet *f, const char *action, const char *query, double timeout_s,
                  FILE *out, double *ret_s);

#endif
