/* record.h: what the library records: one JSON line per fault in the log the user named
 * (eventlog.c), and live counters and a control word in a shared-memory segment per process
 * (segment.c, shm.h), which the watchdog (watchdog.c) can halt. Written by the hooks
 * themselves with write(2): no allocation, no lock, usable inside malloc. */
#ifndef MC_RECORD_H
#define MC_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "engine.h"
#include "shm.h"

struct mc_fault;

/* Sets up the segment (falling back to private memory when /dev/shm is not
 * usable: counters then live, but no command can see or halt them), opens
 * the log and writes the rule set's "rules" line. Returns the engine state to decide with (never
 * NULL unless even private memory cannot be mapped). Called once at init. */
struct mc_engine_state *mc_rec_init(const struct mc_config *cfg, const struct mc_ruleset *rs,
                                    const char *config_path);

/* In a forked child: a segment of its own (the parent's is unmapped, not
 * touched), a log of its own when the path has %p. Returns the child's
 * engine state (zeroed). */
struct mc_engine_state *mc_rec_child_after_fork(void);

/* A reload swapped the rule set (built from cfg): the segment's rule table follows, and the
 * log gets the new rule set's "rules" line. */
void mc_rec_rules_changed(const struct mc_config *cfg, const struct mc_ruleset *rs,
                          const char *config_path);

/* The segment, or NULL before init. */
struct mc_shm *mc_rec_shm(void);

/* True while injection is halted (command, watchdog, halt file). One
 * relaxed load, plus a look at the halt file at most every 100 ms when one
 * is configured. */
extern struct mc_shm *mc_rec_segment;
extern bool mc_rec_has_halt_file;
bool mc_rec_halted_slow(void);

static inline bool mc_rec_halted(void)
{
	if (!mc_rec_segment)
		return false;
	if (mc_likely(!mc_rec_has_halt_file))
		return atomic_load_explicit(&mc_rec_segment->control, memory_order_relaxed) != 0;
	return mc_rec_halted_slow();
}

/* Sets MC_CTL_MAX_FAULTS; the first time, logs {"event":"halt","reason":"max_faults"}.
 * Runs on the fault path of every family: write(2) only, no lock, no allocation. */
void mc_rec_budget_spent(uint64_t max_faults);

/* Brackets the application of a decision: false when a halt came in
 * between the decision and now (the fault is then dropped, and logged as
 * not applied). `mlchaos halt` waits for the brackets open when it halted. */
bool mc_rec_apply_begin(void);
void mc_rec_apply_end(void);

/* What one fault did, for its log line. */
struct mc_rec_detail {
	bool applied;
	uint64_t delay_asked_ns, delay_slept_ns;
	int err;
	uint64_t asked, allowed;         /* short: bytes asked, bytes let through */
	uint64_t offset, bytes, changed; /* corrupt: file offset, bytes seen, positions changed */
	const char *to;                  /* redirect */
	const char *note;                /* why a decision was not applied, or NULL */
	bool stale;     /* decided by a rule set since replaced: logged, not counted */
	bool no_effect; /* corrupt, but no byte changed: not a fault (note says why) */
	/* corrupt with region = tensors: the file's format (NULL: not a tensor line), what
	 * changed (NULL: nothing was damaged) and the map naming the tensors it lists */
	const char *format;
	const struct mc_corrupt_report *report;
	const struct mc_tensor_map *map;
	int signo;             /* signal: the signal raised */
	uint64_t leaked_bytes; /* leak: what the process has leaked so far, this one included */
	bool released;         /* hang: a halt ended it (else its deadline) */
	/* truncate: the file's real size and where it appears to end */
	uint64_t file_size, at;
	/* corrupt with region = json: the body's numbers, those json_path addressed, and those
	 * picked whose new value did not fit their width (left as they were) */
	bool json;
	uint32_t numbers, matched, unwritable;
};

/* Logs one fault (a decision of the engine, shadow or not) and counts it. */
void mc_rec_fault(const struct mc_fault *f, const struct mc_rec_detail *d);

/* The watchdog: the process sent bytes on a socket (sent >= 0) or failed to
 * (err). Looks at the status line of HTTP/1.x responses. */
void mc_rec_response(const void *buf, size_t len, long sent, int err);

/* True when the watchdog needs to see sends. */
bool mc_rec_watches_responses(void);

/* Process end: removes the segment. Idempotent, async-signal-safe. */
void mc_rec_exit(void);

#endif
