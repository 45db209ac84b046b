/* runtime.c: the snapshot in force and its reclamation (runtime.h). Every access to the
 * slots and to the snapshot pointer that the hazard protocol rests on is sequentially
 * consistent: a taker names a snapshot in its slot, then looks again at the one in force;
 * a publisher puts the new one in force, then reads the slots. Either the taker sees the
 * new snapshot (and takes that instead), or the publisher sees the old one named. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "runtime.h"

struct slot {
	_Atomic int owner; /* the thread id holding the slot; 0: free */
	_Atomic(const struct mc_runtime *) held;
};

/* Every thread's slot: slot[0, used) have had an owner; unslotted once a thread found no
 * slot free (from then on no replaced snapshot is freed). */
static struct {
	struct slot slot[MC_RUNTIME_SLOTS];
	_Atomic unsigned used;
	_Atomic bool unslotted;
} hazards;
_Atomic(struct mc_runtime *) mc_runtime_in_force;
/* The publisher's own (one at a time): snapshots replaced but still held, the count of those
 * published, and the key whose destructor gives an ending thread's slot back. */
static struct {
	struct mc_runtime *retired;
	uint64_t published;
	pthread_key_t slot_key;
	bool have_slot_key;
} publisher;

/* The calling thread's slot: 1 + its index; 0: none claimed yet; -1: none to be had. */
static __thread int my_slot_index __attribute__((tls_model("initial-exec")));
/* The snapshot the calling thread's slot names. */
__thread const struct mc_runtime *mc_runtime_held __attribute__((tls_model("initial-exec")));

/* True when thread tid of this process has ended (its slot names nothing it can use). */
static bool thread_gone(int tid)
{
	int saved = errno;
	bool gone = tgkill(getpid(), tid, 0) != 0 && errno == ESRCH;
	errno = saved;
	return gone;
}

/* An ending thread holds nothing: its slot is free again. The stores publish, to whoever
 * reads the slot next, that everything the thread did with its snapshot is done. */
static void thread_ends(void *slot)
{
	struct slot *s = slot;
	atomic_store(&s->held, NULL);
	atomic_store(&s->owner, 0);
	my_slot_index = 0;
	mc_runtime_held = NULL;
}

void mc_runtime_init(void)
{
	publisher.have_slot_key = pthread_key_create(&publisher.slot_key, thread_ends) == 0;
}

static void note_used(unsigned i)
{
	unsigned used = atomic_load(&hazards.used);
	while (used < i + 1 && !atomic_compare_exchange_weak(&hazards.used, &used, i + 1)) {
	}
}

/* A free slot, else one whose thread has ended; NULL when every slot is a live thread's. */
static struct slot *claim_slot(void)
{
	int tid = gettid();
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < MC_RUNTIME_SLOTS; i++) {
			int owner = atomic_load(&hazards.slot[i].owner);
			bool free_now = pass == 0 ? owner == 0 : owner != 0 && thread_gone(owner);
			if (free_now &&
			    atomic_compare_exchange_strong(&hazards.slot[i].owner, &owner, tid)) {
				note_used(i);
				my_slot_index = (int)i + 1;
				if (publisher.have_slot_key)
					pthread_setspecific(publisher.slot_key, &hazards.slot[i]);
				return &hazards.slot[i];
			}
		}
	}
	my_slot_index = -1;
	return NULL;
}

static struct slot *my_slot(void)
{
	if (my_slot_index > 0)
		return &hazards.slot[my_slot_index - 1];
	return my_slot_index == 0 ? claim_slot() : NULL;
}

MC_COLD const struct mc_runtime *mc_runtime_take_slow(const struct mc_runtime *rt)
{
	struct slot *s = my_slot();
	if (!s)
		atomic_store(&hazards.unslotted, true);
	for (;;) {
		if (s)
			atomic_store(&s->held, rt);
		const struct mc_runtime *again = atomic_load(&mc_runtime_in_force);
		if (again == rt)
			break;
		rt = again;
	}
	mc_runtime_held = rt;
	return rt;
}

static bool held_by_a_thread(const struct mc_runtime *rt)
{
	unsigned used = atomic_load(&hazards.used);
	for (unsigned i = 0; i < used; i++) {
		if (atomic_load(&hazards.slot[i].held) != rt)
			continue;
		int owner = atomic_load(&hazards.slot[i].owner);
		if (owner != 0 && !thread_gone(owner))
			return true;
	}
	return false;
}

/* Frees every retired snapshot no live thread holds. */
static void reclaim(void)
{
	if (atomic_load(&hazards.unslotted))
		return;
	struct mc_runtime **p = &publisher.retired;
	while (*p) {
		struct mc_runtime *rt = *p;
		if (held_by_a_thread(rt)) {
			p = &rt->retired_next;
			continue;
		}
		*p = rt->retired_next;
		mc_engine_free(rt->rs);
		free(rt);
	}
}

void mc_runtime_publish(struct mc_runtime *rt)
{
	rt->generation = ++publisher.published;
	struct mc_runtime *old = atomic_exchange(&mc_runtime_in_force, rt);
	if (old) {
		old->retired_next = publisher.retired;
		publisher.retired = old;
	}
	reclaim();
}

void mc_runtime_child_after_fork(void)
{
	unsigned used = atomic_load(&hazards.used);
	for (unsigned i = 0; i < used; i++) {
		atomic_store_explicit(&hazards.slot[i].owner, 0, memory_order_relaxed);
		atomic_store_explicit(&hazards.slot[i].held, NULL, memory_order_relaxed);
	}
	atomic_store(&hazards.used, 0);
	atomic_store(&hazards.unslotted, false);
	my_slot_index = 0;
	mc_runtime_held = NULL;
}
