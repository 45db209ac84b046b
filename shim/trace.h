/* trace.h: `mlchaos trace` inside the process: per function and target,
 * calls and bytes, counted without allocation or locks, reported once at
 * the process's exit (normal exit, _exit, death by SIGTERM/SIGINT/SIGHUP). */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "fn.h"
#include "target.h"

/* Set once at init when MLCHAOS_TRACE is set; read by hooks. */
extern bool mc_trace_enabled;

/* Reads MLCHAOS_TRACE_JSON, maps the counter table, installs the exit
 * paths. Returns 0 or -errno (then tracing stays off). */
int mc_trace_init(void);

/* Counts one call of fn on fd (classified through the fd table). */
void mc_trace_fd(enum mc_fn fn, int fd, uint64_t bytes);
void mc_trace_file_path(enum mc_fn fn, uint32_t path_id, uint64_t bytes);
void mc_trace_target(enum mc_fn fn, enum mc_target_kind kind, uint32_t value, uint64_t bytes);

/* Prints the table on stderr and appends the JSON line; once per process.
 * Async-signal-safe. */
void mc_trace_report(void);

#endif
