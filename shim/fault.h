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

#include "common.h"
#include "engine.h"
#include "fdtable.h"
#include "fn.h"
#include "heap.h"
#include "objects.h"
#include "request.h"
#include "runtime.h"

/* Loads $MLCHAOS_CONFIG and builds the rule set. Returns the bits to arm
 * (families with rules, MC_ARM_HEAP) or 0. Prints the config's messages on
 * stderr prefixed "mlchaos: ". On an invalid config with on_error = abort,
 * exits the process with status 78 (the user's choice, before main runs). */
uint32_t mc_fault_init(uint64_t start_ns);

/* Process end: pending counts are published, the segment removed. */
void mc_fault_exit(void);

/* True when family h has rules (not just trace). */
extern _Atomic uint32_t mc_fault_hooks;

static inline bool mc_fault_has(enum mc_hook h)
{
	return (atomic_load_explicit(&mc_fault_hooks, memory_order_relaxed) & MC_HOOK_BIT(h)) != 0;
}

/* One decision, with what is needed to apply and record it. */
struct mc_fault {
	struct mc_decision d;
	const struct mc_runtime *rt; /* the snapshot whose rules decided (runtime.h) */
	enum mc_phase phase;         /* of the host when it decided: load or serve */
	uint32_t epoch;              /* mc_express_epoch before rs was read */
	enum mc_fn fn;
	int fd;
	struct mc_fd_info fdi;
	uint64_t asked;       /* bytes or size asked */
	uint64_t file_offset; /* corrupt: where the bytes start in the file */
	bool have_offset;
	const char *skip_note; /* corrupt decided but impossible: why (logged) */
	/* set by the pipeline before the decision: the hooked call's return address (NULL when
	 * the hook does not know it); the object it lies in, asked for a rule with caller keys
	 * and once a malloc rule or such a rule acted (its log line names it; "" otherwise) */
	const void *caller_pc;
	struct mc_caller caller;
};

/* A delay rule with scale = N that decided f: the call that began at started_ns
 * (mc_now_ns()) has returned; sleeps N - 1 times what it took, so that it took N times its
 * own duration, and logs it. Nothing for any other decision. errno preserved. */
void mc_fault_after_own(struct mc_fault *f, uint64_t started_ns);

/* ---- the express lane ----------------------------------------------------
 * Most calls of an armed hook are not selected, and most are like the call
 * before: same fd (so same file, path rules, ports), a size in the same
 * stretch of the rules' size index, same phase. The engine says, with a
 * not-selected decision, when every such call has the same candidates: none,
 * or one select = call rule whose per-thread gap to its next selected call
 * decides it. The thread then keeps, per family, a memo: which calls are
 * alike, and how many of them may pass straight to libc (at most
 * MC_EXPRESS_CALLS, and for a rule no more than its gap holds: taken off the
 * gap when kept, what is left given back at the next slow call of the
 * family, so the engine's counts and draws come out as if it had decided
 * each call). The check is a few compares on the thread's own memory; the
 * slow path comes back every MC_EXPRESS_CALLS calls at least, which folds
 * the counters and sees a pending reload: a reload made by another thread
 * reaches this one within that many calls of each family. The phase is no
 * matter: a hook with phase rules gets no hint while loading. */
#define MC_EXPRESS_CALLS 256

/* A memo is also kept for a request (mc_fault_foresee): the calls of read or send on one
 * connection while it carries the request, which the family's only rule does not select (it
 * decides by the key alone). Its word is the connection's entry word then (fdtable.h: a new
 * request gives the connection another, so that no thread's memo holds past it). A read
 * memo's word has MC_FD_WORD_NEVER too: the plain test never passes those reads, whose
 * bytes the request-key scanner must see; mc_fault_express_read() sends a flat read on to
 * the scanner, the pipeline a vectored one (mc_fault_foreseen_take). The calls it passed
 * are counted as the rule's matched calls when it settles; the next request's memo of the
 * same rule goes on from it with that request's word, so a thread settles its request memos
 * every MC_EXPRESS_CALLS calls, as its plain ones. */
struct mc_express_memo {
	uint64_t lo, span;      /* sizes lo .. lo + span */
	uint64_t word;          /* fd table word of the calls' fd; 0 for calls without one */
	_Atomic uint32_t left;  /* calls that may still pass; 0: the memo is empty */
	_Atomic uint32_t taken; /* calls taken off the rule's gap when kept, or opened with */
	uint32_t express;       /* MC_EXPRESS_NONE, or MC_EXPRESS_RULE + the rule's id */
	bool foreseen;          /* a request's: its calls are counted as the rule's matched */
	uint64_t generation;    /* foreseen: the snapshot (runtime.h) the rule's id is of */
};

extern __thread struct mc_express_memo mc_express_memo[MC_HOOK_COUNT]
    __attribute__((tls_model("initial-exec")));

/* The word family h's memo is kept under for a request on the connection whose entry word is
 * word (a read's marked, so that the plain test never passes it). */
static inline uint64_t mc_request_memo_word(enum mc_hook h, uint64_t word)
{
	return h == MC_HOOK_READ ? word | MC_FD_WORD_NEVER : word;
}

/* True when a call of size may go straight to libc under memo m: the memo
 * has calls left and size is in its stretch (the call takes one). */
static inline bool mc_express_take(struct mc_express_memo *m, uint64_t size)
{
	uint32_t left = atomic_load_explicit(&m->left, memory_order_relaxed);
	if (left == 0 || size - m->lo > m->span)
		return false;
	atomic_store_explicit(&m->left, left - 1, memory_order_relaxed);
	return true;
}

/* True when the call (family h, fd entry word, size) may go straight to
 * libc: it is like the calls of the family's memo, which has calls left. */
static inline bool mc_fault_express(enum mc_hook h, uint64_t word, uint64_t size)
{
	struct mc_express_memo *m = &mc_express_memo[h];
	return m->word == word && mc_express_take(m, size);
}

/* The same for calls without an fd (malloc, mmap): their memo's word is 0. */
static inline bool mc_fault_express_anon(enum mc_hook h, uint64_t size)
{
	return mc_express_take(&mc_express_memo[h], size);
}

/* The same for a call on fd: an fd the table does not know yet never. */
static inline bool mc_fault_express_fd(enum mc_hook h, int fd, uint64_t size)
{
	uint64_t w = mc_fd_word(fd);
	return w && mc_fault_express(h, w, size);
}

/* How a flat read may go when its family's memo is asked in the hook: MC_WAY_PASS straight
 * to libc; MC_WAY_SCAN to libc, then its bytes to the request-key scanner (the memo is a
 * request's: mc_pipe_scanned); MC_WAY_DECIDE to the pipeline. */
enum mc_way { MC_WAY_DECIDE, MC_WAY_PASS, MC_WAY_SCAN };

static inline enum mc_way mc_fault_express_read(int fd, uint64_t size)
{
	struct mc_express_memo *m = &mc_express_memo[MC_HOOK_READ];
	uint64_t w = mc_fd_word(fd);
	if (!w)
		return MC_WAY_DECIDE;
	if (m->word == w) /* the plain memo's test first, as short as the other hooks' */
		return mc_express_take(m, size) ? MC_WAY_PASS : MC_WAY_DECIDE;
	/* the word loaded again, so that the first test compares it in memory */
	if (__atomic_load_n(&m->word, __ATOMIC_RELAXED) == mc_request_memo_word(MC_HOOK_READ, w) &&
	    mc_express_take(m, size))
		return MC_WAY_SCAN;
	return MC_WAY_DECIDE;
}

/* The socket whose entry word is `word` has just brought the request whose key is `key`
 * (mc_request_on_read). Where read or send has one rule that decides by the key alone
 * (mc_engine_foreseeable) and the key does not select it, the family's memo is opened for
 * the request's calls on that socket: one decision per request instead of one per call,
 * with the same outcome and counts. Guard held. */
void mc_fault_foresee(uint64_t word, const struct mc_reqkey *key);

/* True when family h's memo is a request's (its calls may still pass; asked by the pipeline
 * for the calls the hook's own test cannot pass: reads, and writes on the socket). */
static inline bool mc_fault_foreseen(enum mc_hook h)
{
	return mc_express_memo[h].foreseen;
}

/* True when a call of family h on fd, asking some bytes, may pass under the family's memo,
 * a request's, without a decision (a read's bytes still go to the request-key scanner); it
 * takes one call off the memo. Outside the guard: reads the thread's own memory and fd's
 * entry word. */
static inline bool mc_fault_foreseen_take(enum mc_hook h, int fd)
{
	struct mc_express_memo *m = &mc_express_memo[h];
	uint64_t word = mc_request_memo_word(h, mc_fd_word(fd));
	uint32_t left = atomic_load_explicit(&m->left, memory_order_relaxed);
	if (left == 0 || !m->foreseen || m->word != word)
		return false;
	atomic_store_explicit(&m->left, left - 1, memory_order_relaxed);
	return true;
}

/* After a decision f (that selected nothing, or whose fault was applied)
 * for a call that needed nothing else (no bracket): keeps its express hint
 * for the next calls of family h on the fd whose entry word is word (0:
 * calls without fd). None is kept while trace counts every call: only the
 * pipeline counts them. The test for a hint is inline, so that a decision
 * that gave none (most calls of a hook with phase rules) makes no call. */
void mc_fault_express_hint(enum mc_hook h, uint64_t word, const struct mc_fault *f);

static inline void mc_fault_express_keep(enum mc_hook h, uint64_t word, const struct mc_fault *f)
{
	if (f->d.express != MC_EXPRESS_NO)
		mc_fault_express_hint(h, word, f);
}

/* Decides for a call of family h on fd (fdi: what fd is), asking `size`
 * bytes. False when nothing applies (f->d.action == MC_ACTION_NONE). */
bool mc_fault_decide_fd(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                        const struct mc_fd_info *fdi, uint64_t size);
/* After a read on socket fd (fdi: what it is; asked: bytes asked) whose bytes the request-key
 * scanner has seen, and which no rule acted on before: the stream rules decide, with the key
 * those bytes brought (enum mc_stage in engine.h). Fills f, whose action stays NONE when
 * none acts; a shadow decision is recorded here. Guard held. */
void mc_fault_decide_stream(struct mc_fault *f, enum mc_fn fn, int fd, const struct mc_fd_info *fdi,
                            uint64_t asked);
/* For calls without an fd: malloc, anonymous mmap, sleep. */
bool mc_fault_decide_anon(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint64_t size);
/* Adds the calls this thread's rules matched and has not yet counted to the shared
 * counters (they are folded in batches otherwise). Guard held. */
void mc_fault_count_now(void);

/* The same, with the live memory a budget is measured against given (a device's), or
 * MC_LIVE_UNBUDGETED for memory no budget counts. */
#define MC_LIVE_UNBUDGETED UINT64_MAX
bool mc_fault_decide_live(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint64_t size,
                          uint64_t live);
/* For a call of family h on a path (open, stat): the path about to be opened or looked at
 * (interned id). */
bool mc_fault_decide_path(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint32_t path_id);

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

/* A decision that cannot be applied to this call (why: the log line's note): logged and
 * counted as not applied. */
void mc_fault_not_applied(struct mc_fault *f, const char *why);

/* corrupt with region = json: the numbers of the JSON body in buf[0, len) changed in place
 * (engine/json.c), and the line logged: applied with the counts, or no_effect with why (a
 * body larger than the bytes, chunked, not JSON). Guard held. */
void mc_fault_corrupt_json(struct mc_fault *f, char *buf, size_t len);

/* Applying a decision outside this file (truncate.c): open the halt bracket (false: a halt or
 * a reload came in since the decision, logged as not applied: do nothing); close it with the
 * record of what was done, or, when d->applied is false, of a decision that changed nothing
 * (no_effect: its claim on `times` goes back; d->note says why). */
struct mc_rec_detail;
bool mc_fault_apply_open(struct mc_fault *f);
void mc_fault_apply_close(struct mc_fault *f, struct mc_rec_detail *d);

/* action = throttle, after the real call: charges the rule's bucket with the bytes the call
 * moved (and the call itself, for iops), then waits until the bucket has paid for them
 * (engine/throttle.c), in the halt bracket, and logs what it waited. Nothing for another
 * action or a shadow decision (logged already). errno preserved. Guard held. */
void mc_fault_throttle(struct mc_fault *f, uint64_t bytes);

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

/* The first half of mc_fault_fd_gate: the decision alone. Call it with the guard held, and
 * keep it held for as long as anything of f is used (runtime.h): a pending reload runs here
 * and gives errno back. True when a rule acted (f is filled); false with
 * f->d.action == MC_ACTION_NONE otherwise. */
static inline bool mc_fault_fd_quick(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                                     const struct mc_fd_info *fdi, uint64_t n)
{
	f->d.action = MC_ACTION_NONE;
	f->d.express = MC_EXPRESS_NO;
	if (n == 0)
		return false;
	f->epoch = atomic_load_explicit(&mc_express_epoch, memory_order_acquire);
	if (!mc_fault_has(h)) {
		/* armed for another reason (request keys, the other half of write):
		 * no call of h is a candidate until a reload moves the epoch */
		f->d.express = MC_EXPRESS_NONE;
		f->d.express_lo = 0;
		f->d.express_hi = UINT64_MAX;
		return false;
	}
	return mc_fault_decide_fd(f, h, fn, fd, fdi, n);
}

/* The second half, for a decision mc_fault_fd_quick returned: delay, cut
 * *n, or fail (false, errno set); the file offset for corruption. Call it
 * with the guard held. */
bool mc_fault_apply_before(struct mc_fault *f, uint64_t *n, int64_t explicit_off);

#endif
