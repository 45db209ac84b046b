/* fault.h: between the hooks and the engine. The hooks say what a call is
 * (family, function, fd, size); this module builds the engine's call
 * context (what the fd is, which rules' globs match its file, the request
 * key, the phase, the live heap), asks for a decision, and gives the hooks
 * small verbs to apply it. The engine itself never sees a hook. */
#ifndef MC_FAULT_H
#define MC_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "engine.h"
#include "fdtable.h"
#include "fn.h"

/* Bit of mc_armed_mask, beside the families: the live heap is tracked
 * (some malloc or mmap rule has a budget), so free must be seen too. */
#define MC_ARM_HEAP (1u << 16)

/* Loads $MLCHAOS_CONFIG and builds the rule set. Returns the bits to arm
 * (families with rules, MC_ARM_HEAP) or 0. Prints the config's messages on
 * stderr prefixed "mlchaos: ". On an invalid config with on_error = abort,
 * exits the process with status 78 (the user's choice, before main runs). */
uint32_t mc_fault_init(uint64_t start_ns);

/* Process end: pending counts are published, the segment removed. */
void mc_fault_exit(void);

/* True when family h has rules (not just trace). */
extern uint32_t mc_fault_hooks;

static inline bool mc_fault_has(enum mc_hook h)
{
	return (mc_fault_hooks & MC_HOOK_BIT(h)) != 0;
}

/* One decision, with what is needed to apply and record it. */
struct mc_fault {
	struct mc_decision d;
	const struct mc_ruleset *rs; /* the rule set that decided */
	enum mc_fn fn;
	int fd;
	struct mc_fd_info fdi;
	uint64_t asked;       /* bytes or size asked */
	uint64_t file_offset; /* corrupt: where the bytes start in the file */
	bool have_offset;
	const char *skip_note; /* corrupt decided but impossible: why (logged) */
};

/* Decides for a call of family h on fd (fdi: what fd is), asking `size`
 * bytes. False when nothing applies (f->d.action == MC_ACTION_NONE). */
bool mc_fault_decide_fd(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                        const struct mc_fd_info *fdi, uint64_t size);
/* For calls without an fd: malloc, anonymous mmap, sleep. */
bool mc_fault_decide_anon(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint64_t size);
/* For open: the path about to be opened (interned id). */
bool mc_fault_decide_path(struct mc_fault *f, enum mc_fn fn, uint32_t path_id);

/* The part of a decision that comes before the real call: sleeps a delay,
 * cuts *n for short. Returns false when the call must fail instead: errno
 * is then set to the decision's error (and the process killed for
 * oom = kill). Shadow decisions are recorded, never applied. */
bool mc_fault_before(struct mc_fault *f, uint64_t *n);

/* Corruption after a read: buf holds the len bytes that arrived, starting
 * at f->file_offset in the file. Must be called once for every corrupt
 * decision, even when nothing arrived (len 0), so that each decision has
 * its log line. */
void mc_fault_corrupt(struct mc_fault *f, void *buf, size_t len);
void mc_fault_corrupt_iov(struct mc_fault *f, const struct iovec *iov, int cnt, size_t len);

/* A file was opened on fd (path_id: its interned path, 0 when unknown): when a corrupt rule
 * with region = tensors may target it, its tensor map is made now (tensormap.h). Guard
 * held. */
void mc_fault_file_opened(int fd, uint32_t path_id);

/* Applies a redirect decision (logs it); true when the open must use
 * f->d.to instead of the path asked. */
bool mc_fault_redirect(struct mc_fault *f);

/* The file offset a read on fd is about to start at (pread's explicit
 * offset, or the fd's current one); sets f->have_offset. */
void mc_fault_note_offset(struct mc_fault *f, int64_t explicit_off);

/* explicit_off values that are not offsets: ask the fd (read, readv), or
 * there is none to be had (a stream whose position is unknown). */
#define MC_OFF_CURRENT (-1)
#define MC_OFF_UNKNOWN (-2)

/* Everything a call on fd needs before the real call: decision, delay,
 * short length (*n cut), failure, file offset for corruption. Returns false
 * when the call must fail (errno set). With no rule for h, or *n == 0 for a
 * sized call (sized: n != NULL), nothing acts (f->d.action is NONE). */
bool mc_fault_fd_gate(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                      const struct mc_fd_info *fdi, uint64_t *n, int64_t explicit_off);

/* The first half of mc_fault_fd_gate: the decision alone, with no side
 * effect, no guard needed. True when a rule acted (f is filled); false
 * with f->d.action == MC_ACTION_NONE otherwise. */
static inline bool mc_fault_fd_quick(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                                     const struct mc_fd_info *fdi, uint64_t n)
{
	f->d.action = MC_ACTION_NONE;
	return n > 0 && mc_fault_has(h) && mc_fault_decide_fd(f, h, fn, fd, fdi, n);
}

/* The second half, for a decision mc_fault_fd_quick returned: delay, cut
 * *n, or fail (false, errno set); the file offset for corruption. Call it
 * with the guard held. */
bool mc_fault_apply_before(struct mc_fault *f, uint64_t *n, int64_t explicit_off);

/* Live heap accounting while MC_ARM_HEAP is set (signed deltas in bytes). */
void mc_heap_note(int64_t delta);

#endif
