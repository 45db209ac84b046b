/* hook_map.c: mmap, mmap64 and mremap, file-backed and anonymous. A file
 * mapped shared and writable is never altered (invariant 3): a corrupt rule
 * leaves such a mapping alone. A shared read-only mapping that a corrupt
 * rule selects is mapped private instead (same bytes, but the damage stays
 * in this process's copy), then damaged through a temporary PROT_WRITE. */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "hook.h"
#include "lazymap.h"
#include "pipeline.h"

/* Anonymous mappings count toward a `budget`, as the kernel counts them
 * toward memory use: while MC_ARM_HEAP is set, each one is remembered (by
 * address, lock-free, in mmap'd memory) and given back by munmap of the
 * same address. A partial munmap or a table full leaves the figure high:
 * the budget errs on the side of failing early, never of missing it. */
#define ANON_SLOTS 16384u
#define ANON_PROBE 64u
#define ANON_TOMB  ((uintptr_t)1)

struct anon_slot {
	_Atomic uintptr_t addr;
	_Atomic size_t len;
};

static _Atomic(void *) anon_table;

static struct anon_slot *anon_slots(void)
{
	return mc_lazy_map(&anon_table, ANON_SLOTS * sizeof(struct anon_slot), true);
}

static size_t anon_hash(uintptr_t addr)
{
	return (size_t)((addr >> 12) * 0x9E3779B97F4A7C15ull >> 40);
}

static void anon_remember(void *addr, size_t len)
{
	struct anon_slot *t = anon_slots();
	if (!t)
		return;
	for (size_t i = 0, h = anon_hash((uintptr_t)addr); i < ANON_PROBE; i++) {
		struct anon_slot *s = &t[(h + i) & (ANON_SLOTS - 1)];
		uintptr_t a = atomic_load_explicit(&s->addr, memory_order_acquire);
		if ((a == 0 || a == ANON_TOMB) &&
		    atomic_compare_exchange_strong(&s->addr, &a, (uintptr_t)addr)) {
			atomic_store_explicit(&s->len, len, memory_order_release);
			mc_heap_note((int64_t)len);
			return;
		}
	}
	mc_heap_note((int64_t)len); /* counted, never given back: see above */
}

static void anon_forget(void *addr)
{
	struct anon_slot *t =
	    mc_lazy_map(&anon_table, ANON_SLOTS * sizeof(struct anon_slot), false);
	if (!t)
		return;
	for (size_t i = 0, h = anon_hash((uintptr_t)addr); i < ANON_PROBE; i++) {
		struct anon_slot *s = &t[(h + i) & (ANON_SLOTS - 1)];
		uintptr_t a = atomic_load_explicit(&s->addr, memory_order_acquire);
		if (a == 0)
			return;
		if (a == (uintptr_t)addr) {
			size_t len = atomic_load_explicit(&s->len, memory_order_acquire);
			if (atomic_compare_exchange_strong(&s->addr, &a, ANON_TOMB))
				mc_heap_note(-(int64_t)len);
			return;
		}
	}
}

static MC_COLD int munmap_slow(void *addr, size_t len)
{
	int r = mc_real.munmap(addr, len);
	if (r == 0) {
		int e = errno;
		anon_forget(addr);
		errno = e;
	}
	return r;
}

static void *call_mmap(const struct mc_map_call *c)
{
	return mc_real.mmap(c->addr, c->len, c->prot, c->flags, c->fd, (off_t)c->off);
}

static void *call_mmap64(const struct mc_map_call *c)
{
	return mc_real.mmap64(c->addr, c->len, c->prot, c->flags, c->fd, c->off);
}

static void *call_mremap(const struct mc_map_call *c)
{
	return mc_real.mremap(c->addr, c->old_len, c->len, c->flags, c->new_addr);
}

static const struct mc_map_row row_mmap = { MC_FN_mmap, 0, call_mmap, anon_remember };
static const struct mc_map_row row_mmap64 = { MC_FN_mmap64, 0, call_mmap64, anon_remember };
static const struct mc_map_row row_mremap = { MC_FN_mremap, MC_PIPE_REMAP, call_mremap, NULL };

MC_EXPORT int munmap(void *addr, size_t len)
{
	if (MC_PASS(MC_ARM_HEAP))
		return mc_real.munmap(addr, len);
	return munmap_slow(addr, len);
}

/* The pipeline of mmap and mmap64, whose arguments are the same but for off's type (inline:
 * the hook builds the call as if written in it). */
static inline __attribute__((always_inline)) void *map_pipe(const struct mc_map_row *row,
                                                            void *addr, size_t len, int prot,
                                                            int flags, int fd, int64_t off,
                                                            const void *pc)
{
	struct mc_map_call c = { .addr = addr,
		                 .len = len,
		                 .prot = prot,
		                 .flags = flags,
		                 .fd = fd,
		                 .off = off,
		                 .pc = pc };
	return mc_pipe_map(row, &c);
}

MC_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (MC_PASS(MC_BIT_MMAP | MC_ARM_HEAP))
		return mc_real.mmap(addr, len, prot, flags, fd, off);
	return map_pipe(&row_mmap, addr, len, prot, flags, fd, off, MC_CALLER_PC);
}

MC_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (MC_PASS(MC_BIT_MMAP | MC_ARM_HEAP))
		return mc_real.mmap64(addr, len, prot, flags, fd, off);
	return map_pipe(&row_mmap64, addr, len, prot, flags, fd, off, MC_CALLER_PC);
}

MC_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) { /* the fifth argument exists only then */
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (MC_PASS(MC_BIT_MMAP))
		return mc_real.mremap(old, old_len, new_len, flags, new_addr);
	struct mc_map_call c = { .pc = MC_CALLER_PC,
		                 .addr = old,
		                 .len = new_len,
		                 .flags = flags,
		                 .old_len = old_len,
		                 .new_addr = new_addr };
	return mc_pipe_map(&row_mremap, &c);
}
