/* devmem.h: the live device memory of the process, per device, for cuda_alloc's `budget`:
 * every device allocation the CUDA hooks saw succeed (its pointer or memory handle, its size,
 * its device) until its free. A fixed open-addressed table, lock-free and allocation-free;
 * when it is full an allocation goes uncounted (its free then finds nothing to take off). */
#ifndef MC_DEVMEM_H
#define MC_DEVMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MC_DEVMEM_DEVICES 64    /* devices counted apart; a higher number counts as the last */
#define MC_DEVMEM_SLOTS   16384 /* live allocations remembered */

/* Memory handles (cuMemCreate) and device pointers are kept apart: a handle's key. */
#define MC_DEVMEM_HANDLE (1ull << 63)

/* The table: zeroed, it is empty (one instance lives in hook_cuda.c's state). */
struct mc_devmem {
	struct {
		_Atomic uint64_t key;
		uint64_t size;
		int device;
	} slot[MC_DEVMEM_SLOTS];
	_Atomic int64_t live[MC_DEVMEM_DEVICES];
};

/* An allocation of size bytes on device, known by key (nonzero). False when the table had
 * no room. */
bool mc_devmem_add(struct mc_devmem *t, uint64_t key, uint64_t size, int device);

/* The allocation known by key is freed: its bytes leave its device's count. False when the
 * table did not hold it. */
bool mc_devmem_remove(struct mc_devmem *t, uint64_t key);

/* Bytes live on device. */
uint64_t mc_devmem_live(const struct mc_devmem *t, int device);

#endif
