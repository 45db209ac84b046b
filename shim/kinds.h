/* kinds.h: the actions on the process rather than on the call: a signal raised, a call that
 * hangs, memory leaked or held (a delay spent on the CPU is delay.h's mc_burn_ns). fault.c decides
 * and logs; these only act.
 * Each is safe inside malloc (no allocation but an anonymous mmap, no lock, no stdio) and
 * preserves errno. */
#ifndef MC_KINDS_H
#define MC_KINDS_H

#include <stdbool.h>
#include <stdint.h>

/* Raises signo as the process's own fault would: SIGSEGV, SIGBUS and SIGABRT at the calling
 * thread (raise(3): a handler of the host runs, and the call goes on if it returns), SIGKILL,
 * SIGSTOP and SIGTERM at the whole process. SIGKILL does not return. */
void mc_kind_raise(int signo);

/* Blocks the calling thread until deadline_ns (CLOCK_MONOTONIC, mc_now_ns()) or until the
 * process is halted (`mlchaos halt`, the watchdog, max_faults, halt_file), whichever comes
 * first, looking every millisecond. Returns true when a halt ended it; *ret_ns is the time
 * it blocked. */
bool mc_kind_hang(uint64_t deadline_ns, uint64_t *ret_ns);

/* Leaks bytes of anonymous memory, every page written so that it is resident, never freed
 * (the kernel takes it back at exit), counted in the live heap that `budget` rules read.
 * Returns 0 or -ENOMEM; *ret_total is what the process has leaked so far. */
int mc_kind_leak(uint64_t bytes, uint64_t *ret_total);

/* Starts holding bytes of anonymous memory for rule id (a thread of the library's own does it,
 * every page written: resident, as a neighbour's memory is), at rate_bps bytes per second
 * (0: all at once), until end_ns (CLOCK_MONOTONIC) or a halt, then frees it. One hog per
 * rule at a time. Returns 0, -EALREADY when the rule's hog is running, or the negative errno
 * of a thread that could not start. */
int mc_kind_hog(unsigned id, uint64_t bytes, uint64_t rate_bps, uint64_t end_ns);

/* In a forked child: what the parent leaked is the child's too (copy on write), but the count
 * starts anew, as the heap's does; the parent's hogs are not the child's (their threads did
 * not follow it): their memory is given back. */
void mc_kind_after_fork(void);

#endif
