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
static _Atomic(struct mc_runtime *) now;
/* The publisher's own (one at a time): snapshots replaced but still held, the count of those
 * published, and the key whose destructor gives an ending thread's slot back. */
static struct {
	struct mc_runtime *retired;
	uint64_t published;
	pthread_key_t slot_key;
	bool have_slot_key;
} publisher;

/* The calling thread's slot (1 + its index; 0: none claimed yet; -1: none to be had) and the
 * snapshot the slot names. */
static __thread struct {
	int slot;
	const struct mc_runtime *held;
} self __attribute__((tls_model("initial-exec")));

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
	self.slot = 0;
	self.held = NULL;
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
				self.slot = (int)i + 1;
				if (publisher.have_slot_key)
					pthread_setspecific(publisher.slot_key, &hazards.slot[i]);
				return &hazards.slot[i];
			}
		}
	}
	self.slot = -1;
	return NULL;
}

static struct slot *my_slot(void)
{
	if (self.slot > 0)
		return &hazards.slot[self.slot - 1];
	return self.slot == 0 ? claim_slot() : NULL;
}

/* A reload since this thread's last take (or its first take): name the snapshot in the slot,
 * then make sure it is still the one in force. */
static MC_COLD const struct mc_runtime *take_slow(const struct mc_runtime *rt)
{
	struct slot *s = my_slot();
	if (!s)
		atomic_store(&hazards.unslotted, true);
	for (;;) {
		if (s)
			atomic_store(&s->held, rt);
		const struct mc_runtime *again = atomic_load(&now);
		if (again == rt)
			break;
		rt = again;
	}
	self.held = rt;
	return rt;
}

const struct mc_runtime *mc_runtime_take(void)
{
	/* The snapshot this thread's slot names already cannot be freed, so finding it in
	 * force again needs no more: one load, one compare. */
	const struct mc_runtime *rt = atomic_load_explicit(&now, memory_order_acquire);
	if (mc_likely(rt == self.held))
		return rt;
	return take_slow(rt);
}

const struct mc_runtime *mc_runtime_now(void)
{
	return atomic_load_explicit(&now, memory_order_acquire);
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
	struct mc_runtime *old = atomic_exchange(&now, rt);
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
	self.slot = 0;
	self.held = NULL;
}
