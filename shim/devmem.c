/* t->c: the live device memory table (t->h). Linear probing from a hash of the key;
 * a freed slot keeps a tombstone, so that the keys past it stay reachable, and is taken
 * again by a later allocation. A slot is claimed by a compare-and-swap of its key; its size
 * and device are written by the thread that claimed it before the allocation is handed to
 * the program, so a free (which only a pointer the program holds can ask for) reads them
 * complete. */
#include <stdatomic.h>

#include "devmem.h"

#define EMPTY 0ull
#define TOMB  1ull /* never a key: device pointers and handles are aligned or tagged */

static unsigned first_slot(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (unsigned)(key % MC_DEVMEM_SLOTS);
}

static int device_index(int device)
{
	if (device < 0)
		return 0;
	return device < MC_DEVMEM_DEVICES ? device : MC_DEVMEM_DEVICES - 1;
}

bool mc_devmem_add(struct mc_devmem *t, uint64_t key, uint64_t size, int device)
{
	if (key == EMPTY || key == TOMB)
		return false;
	unsigned i = first_slot(key);
	for (unsigned probe = 0; probe < MC_DEVMEM_SLOTS; probe++, i = (i + 1) % MC_DEVMEM_SLOTS) {
		uint64_t seen = atomic_load_explicit(&t->slot[i].key, memory_order_relaxed);
		if (seen != EMPTY && seen != TOMB)
			continue;
		if (!atomic_compare_exchange_strong_explicit(
		        &t->slot[i].key, &seen, key, memory_order_acq_rel, memory_order_relaxed))
			continue;
		int d = device_index(device);
		t->slot[i].size = size;
		t->slot[i].device = d;
		atomic_fetch_add_explicit(&t->live[d], (int64_t)size, memory_order_relaxed);
		return true;
	}
	return false;
}

bool mc_devmem_remove(struct mc_devmem *t, uint64_t key)
{
	if (key == EMPTY || key == TOMB)
		return false;
	unsigned i = first_slot(key);
	for (unsigned probe = 0; probe < MC_DEVMEM_SLOTS; probe++, i = (i + 1) % MC_DEVMEM_SLOTS) {
		uint64_t seen = atomic_load_explicit(&t->slot[i].key, memory_order_acquire);
		if (seen == EMPTY)
			return false; /* the end of the probe chain */
		if (seen != key)
			continue;
		uint64_t size = t->slot[i].size;
		int d = t->slot[i].device;
		if (!atomic_compare_exchange_strong_explicit(
		        &t->slot[i].key, &seen, TOMB, memory_order_acq_rel, memory_order_relaxed))
			return false; /* freed twice at once: the other free takes it off */
		atomic_fetch_sub_explicit(&t->live[d], (int64_t)size, memory_order_relaxed);
		return true;
	}
	return false;
}

uint64_t mc_devmem_live(const struct mc_devmem *t, int device)
{
	int64_t v = atomic_load_explicit(&t->live[device_index(device)], memory_order_relaxed);
	return v > 0 ? (uint64_t)v : 0;
}
