/* segments.h: the per-process shared-memory segments (shm.h) as the command sees them: found
 * in /dev/shm, checked (name, owner, magic, version), mapped, and told live from stale. Never
 * maps another user's segment, never follows a link, never removes a segment that a live
 * process still maps. */
#ifndef MC_CLI_SEGMENTS_H
#define MC_CLI_SEGMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shm.h"

/* One mapped segment. Read-only (MC_SEG_READ) unless opened to control the process. */
struct mc_seg {
	int pid;
	struct mc_shm *shm;
	size_t bytes;
	uint32_t budget_spent; /* MC_CTL_MAX_FAULTS when max_faults is used up, else 0 */
};

enum mc_seg_mode { MC_SEG_READ, MC_SEG_WRITE };

/* Opens the segment of pid. Returns 0 and fills *ret, or:
 *   -ENOENT  no segment (the process does not run the library, or has not published its
 *            segment yet);
 *   -ESTALE  the segment is stale (its process is dead, or alive but no longer maps it):
 *            it has been removed;
 *   -EACCES  another user owns it: only the owner may read or control a process;
 *   -EPROTO  not a segment this command can read (magic, version, size);
 *   another negative errno from open or mmap.
 * why (cap bytes, may be NULL) receives a sentence saying what was found. */
int mc_seg_open(int pid, enum mc_seg_mode mode, struct mc_seg *ret, char *why, size_t cap);

/* Unmaps; idempotent. */
void mc_seg_close(struct mc_seg *seg);

struct mc_seg_list {
	struct mc_seg *segs; /* live ones, by increasing pid */
	size_t n;
	unsigned cleaned;  /* stale segments removed */
	unsigned foreign;  /* other users' segments, left alone */
	unsigned unusable; /* segments that could not be read (version, size, errors) */
};

/* Every live segment of the caller; stale ones are removed and counted. Returns 0 or -errno
 * (/dev/shm unreadable, out of memory). */
int mc_seg_list_all(enum mc_seg_mode mode, struct mc_seg_list *ret);
void mc_seg_list_free(struct mc_seg_list *list);

/* Says on stderr, prefixed "mlchaos CMD: ", how many stale segments were cleaned and how
 * many were skipped, when any. */
void mc_seg_list_note(const struct mc_seg_list *list, const char *cmd);

/* Opens the segments named on the command line (pids), or all of them when there are none
 * or `all` is set: the shared front of stats, top, halt and resume. Prints each problem on
 * stderr; returns 0 when every named pid was opened, 1 when one was not (the others are
 * still in *ret), 2 on pids given with `all` (--all), a malformed pid or a system error.
 * *ret is always set (empty on 2), so freeing it is always safe. */
int mc_seg_open_args(int argc, char **argv, bool all, enum mc_seg_mode mode, const char *cmd,
                     struct mc_seg_list *ret);

/* Parses a pid ("1234"); 0 or -EINVAL. */
int mc_seg_parse_pid(const char *s, int *ret_pid);

/* Reasons injection is halted: the control word's bits, plus MC_CTL_MAX_FAULTS when the
 * process's budget is used up. 0: running. */
uint32_t mc_seg_halts(const struct mc_seg *seg);

/* "command", "watchdog", "max_faults", "halt_file" for one MC_CTL_* bit; NULL otherwise. */
const char *mc_seg_halt_name(uint32_t bit);

/* The bits mc_seg_halt_name() knows, in display order. */
extern const uint32_t mc_seg_halt_bits[4];

/* A counter of the segment. Relaxed 64-bit loads are plain loads on the architectures we
 * build for, so they work on a read-only mapping. */
static inline uint64_t mc_seg_u64(const _Atomic uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}

/* A fixed-size text field of the segment, as a bounded length (the writer may be rewriting
 * it: never trust its terminating NUL). */
static inline int mc_seg_strlen(const char *s, size_t cap)
{
	size_t n = 0;
	while (n < cap && s[n])
		n++;
	return (int)n;
}

/* The config path of the process as this command can open it: a relative path is resolved
 * in the process's working directory (/proc/PID/cwd). */
void mc_seg_config_path(const struct mc_seg *seg, char *buf, size_t cap);

/* Output helpers shared by the commands that print segments and logs. */
void mc_json_str(FILE *out, const char *s, size_t n);     /* "..." with JSON escapes */
void mc_rfc3339(char *buf, size_t cap, uint64_t unix_ns); /* UTC, seconds precision */

#endif
