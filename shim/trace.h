/* trace.h: `mlchaos trace` inside the process: per function and target,
 * calls and bytes, counted without allocation or locks, reported once at
 * the process's exit (normal exit, _exit, death by SIGTERM/SIGINT/SIGHUP). */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
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

/* fd was just opened on the file interned as path_id: recognised as the tensor maps do
 * (tensormap.h), and remembered by path when it is a model file, so that the report shows it
 * first with its format and tensor count. Guard held; keeps errno. */
void mc_trace_file_opened(int fd, uint32_t path_id);

/* n bytes arrived on the socket fdi describes (buf: the first of them): a request head
 * among them is counted for that socket target. Bounded (reqkey.h). */
void mc_trace_arrived(const struct mc_fd_info *fdi, const void *buf, size_t n);

/* Prints the table on stderr and appends the JSON line; once per process.
 * Async-signal-safe. */
void mc_trace_report(void);

#endif
