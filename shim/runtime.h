/* runtime.h: the rules in force, as one immutable snapshot. Everything a reload changes that a
 * decision reads is built whole off to the side (init, or a reload, guard held) and published
 * with one atomic store: a decision takes the snapshot once, and sees the old rules with the
 * old request-key setting or the new ones with the new, never a mix.
 *
 * A replaced snapshot is freed once no thread can still be using it. Each thread publishes,
 * in a slot of its own, the snapshot it took last (a hazard pointer), and keeps using nothing
 * older: a decision, and everything that uses it (the delay it sleeps, the real call, the
 * log line), runs with the guard held, so no hooked call of a signal handler can take another
 * snapshot on that thread in between. A reload frees every replaced snapshot that no live
 * thread's slot names. Taking the snapshot costs one load and one compare while no reload
 * has happened since the thread's last take; no lock on any path. A thread holds at most
 * one snapshot, so memory stays bounded however often the rules are reloaded. */
#ifndef MC_RUNTIME_H
#define MC_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "request.h"

/* Threads that can hold a snapshot at once; a thread beyond them makes reloads keep every
 * snapshot they replace from then on (what every reload did before slots existed). A thread
 * gives its slot back when it ends (a thread-specific key's destructor); the slot of one
 * that ended another way is taken again once it is seen gone. */
#define MC_RUNTIME_SLOTS 1024

struct mc_runtime {
	struct mc_ruleset *rs;
	const struct mc_reqconf *req; /* interned: never freed (request.h) */
	bool tensor_rules; /* some rule has region = tensors: opens look at their files */
	/* keys in headers: the rule that alone decides a request's reads, and the one for its
	 * sends, by its key (mc_engine_foreseeable), or NULL (mc_fault_foresee); none for the
	 * sends while the error-rate watchdog reads them */
	const struct mc_erule *foresee_read, *foresee_send;
	bool processes;      /* some rule has processes = P%: decisions read the process's mask */
	uint64_t generation; /* 1, 2, ... in publication order: unlike an address, never reused */
	struct mc_runtime *retired_next; /* the reclaimer's list of replaced snapshots */
};

/* Once, at init (guard held), before the first publication. */
void mc_runtime_init(void);

/* runtime.c's, read inline by the two functions below (a decision takes the snapshot once and
 * compares it once more when it is applied: no call into runtime.c for either): the snapshot
 * in force, and the one the calling thread's slot names. */
extern _Atomic(struct mc_runtime *) mc_runtime_in_force;
extern __thread const struct mc_runtime *mc_runtime_held __attribute__((tls_model("initial-exec")));

/* mc_runtime_take() when a reload has happened since the thread's last take (or at its
 * first): names rt in the thread's slot, then makes sure it is still in force. */
const struct mc_runtime *mc_runtime_take_slow(const struct mc_runtime *rt);

/* The snapshot in force, for a decision of the calling thread (NULL before init). Guard
 * held: the snapshot stays valid until this thread takes one again. The snapshot this
 * thread's slot names already cannot be freed, so finding it in force again needs no more
 * than one load and one compare. */
static inline const struct mc_runtime *mc_runtime_take(void)
{
	const struct mc_runtime *rt =
	    atomic_load_explicit(&mc_runtime_in_force, memory_order_acquire);
	if (__builtin_expect(rt == mc_runtime_held, 1))
		return rt;
	return mc_runtime_take_slow(rt);
}

/* The snapshot in force, to compare with one taken (a decision of rules since replaced);
 * never to read through. */
static inline const struct mc_runtime *mc_runtime_now(void)
{
	return atomic_load_explicit(&mc_runtime_in_force, memory_order_acquire);
}

/* Puts rt in force (at init, or a reload: one publisher at a time, guard held): the
 * snapshot it replaces is retired, and every retired snapshot no thread holds is freed
 * (with its rule set). */
void mc_runtime_publish(struct mc_runtime *rt);

/* In a forked child: its only thread holds nothing yet; the parent's threads are gone. */
void mc_runtime_child_after_fork(void);

#endif
