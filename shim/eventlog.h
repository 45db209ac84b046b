/* eventlog.h: the event log the user named (`log =`, %p for the pid): one JSON line per
 * event ("rules", "fault", "would_inject", "halt"), each written whole with one write(2).
 * The fault lines are written by mc_rec_fault (record.h); this header is for the parts of
 * the library that set the log up and halt: segment.c and watchdog.c. */
#ifndef MC_EVENTLOG_H
#define MC_EVENTLOG_H

#include <stdint.h>

#include "config.h"
#include "engine.h"

/* Opens the log (a refused path is said on stderr: faults are still injected, their lines
 * counted as dropped) and writes the rule set's "rules" line. Init, guard held. */
void mc_log_init(const struct mc_config *cfg, const struct mc_ruleset *rs, const char *config_path);

/* A reload put rs (built from cfg) in force: its "rules" line, with the next generation. */
void mc_log_rules_changed(const struct mc_config *cfg, const struct mc_ruleset *rs,
                          const char *config_path);

/* In a forked child: the pid and thread id forgotten, a log of its own when the path has
 * %p, and the rule set's line again (the child's log must describe its faults alone). */
void mc_log_after_fork(void);

/* {"event":"halt","reason":REASON,"limit":N}: a halt the library decided by itself. */
void mc_log_halt(const char *reason, uint64_t limit);

/* {"event":"halt","reason":"watchdog","errors":E,"window":W,"rate_ppm":R}. */
void mc_log_watchdog_halt(uint64_t errors, uint32_t window, uint32_t rate_ppm);

/* {"event":"loader_spared","rule":R,"size":N,"caller":C,"note":...}: rule R acted on an
 * allocation of the dynamic loader C and left it alone (fault.c says it once a process). */
void mc_log_loader_spared(const char *rule, uint64_t size, const char *caller);
/* {"event":"ambiguous","rule":R,"hook":H,"fn":F,"key":K,"phase":P}: rule r would have acted on
 * this call by the key read last, K, but the thread had several requests in flight: it did
 * not (ambiguous = request). */
struct mc_erule;
void mc_log_ambiguous(const struct mc_erule *r, const char *fn, const char *key, size_t key_len,
                      const char *phase);

#endif
