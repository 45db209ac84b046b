/* truncate.h: action = truncate applied: a file that appears to end at the rule's `at`, to
 * every call a rule of the family selects: reads return end of file there, a mapping past it
 * faults with SIGBUS, the stat family reports that size. */
#ifndef MC_TRUNCATE_H
#define MC_TRUNCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "fault.h"

/* A read of *n bytes at explicit_off (MC_OFF_CURRENT: the fd's own offset) of f's
 * file: *n cut to what lies before the end (0 at or past it: the real call then moves no
 * byte and returns 0, end of file). Nothing for another action or a shadow decision. Guard
 * held; errno preserved. */
void mc_truncate_read(struct mc_fault *f, uint64_t *n, int64_t explicit_off);

/* The mapping of len bytes at addr of fd from file offset off, made with prot and flags (a
 * private or read-only one: map_file_gate() makes a read-only shared one private): the pages
 * wholly past the end are replaced by pages of an empty file, which fault with SIGBUS when
 * touched, and the rest of the page holding the end reads zeros, as a file cut there would
 * map. Guard held; errno preserved. */
void mc_truncate_mapping(struct mc_fault *f, int fd, int64_t off, void *addr, size_t len, int prot,
                         int flags);

/* A stat call that succeeded: out (struct stat, or struct statx when is_statx) reports the
 * size where the file appears to end, and the blocks of that size. Guard held. */
void mc_truncate_stat(struct mc_fault *f, bool is_statx, void *out);

#endif
