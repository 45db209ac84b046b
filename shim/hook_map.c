/* hook_map.c: mmap, mmap64 and mremap, file-backed and anonymous. A file
 * mapped shared and writable is never altered (invariant 3): a corrupt rule
 * leaves such a mapping alone. A shared read-only mapping that a corrupt
 * rule selects is mapped private instead (same bytes, but the damage stays
 * in this process's copy), then damaged through a temporary PROT_WRITE. */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "hook.h"
#include "lazymap.h"

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

static bool shared(int flags)
{
	int type = flags & MAP_TYPE;
	return type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
}

/* Decides for a file mapping; may turn flags private for corruption.
 * Returns false when the mapping must fail (errno set). */
static bool map_file_gate(struct mc_fault *f, enum mc_fn fn, int fd, size_t len, int prot,
                          int *flags, off64_t off)
{
	struct mc_fd_info fdi;
	mc_fd_lookup(fd, &fdi);
	uint64_t n = len;
	if (!mc_fault_fd_gate(f, MC_HOOK_MMAP, fn, fd, &fdi, &n, off))
		return false;
	if (f->d.action != MC_ACTION_CORRUPT || f->d.shadow)
		return true;
	if (!(prot & PROT_READ)) {
		f->skip_note = "mapping not readable: left alone";
		return true;
	}
	if (shared(*flags) && (prot & PROT_WRITE)) {
		/* never damage what could reach the disk */
		f->skip_note = "shared writable mapping: left alone, the file is never altered";
		return true;
	}
	if (shared(*flags))
		*flags = (*flags & ~MAP_TYPE) | MAP_PRIVATE;
	return true;
}

/* Damages the mapped bytes that lie inside the file (pages past its end
 * would fault with SIGBUS). */
static void corrupt_mapping(struct mc_fault *f, int fd, void *addr, size_t len, int prot,
                            off64_t off)
{
	f->file_offset = (uint64_t)off;
	f->have_offset = true;
	struct stat st;
	if (f->skip_note || mc_real.fstat(fd, &st) != 0 || st.st_size <= off) {
		mc_fault_corrupt(f, addr, 0); /* logged, nothing to damage */
		return;
	}
	uint64_t avail = (uint64_t)(st.st_size - off);
	size_t n = avail < len ? (size_t)avail : len;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (n + page - 1) & ~(page - 1);
	if (!(prot & PROT_WRITE) && mprotect(addr, span, prot | PROT_WRITE) != 0) {
		f->skip_note = "mprotect refused: left alone";
		mc_fault_corrupt(f, addr, 0);
		return;
	}
	mc_fault_corrupt(f, addr, n);
	if (!(prot & PROT_WRITE))
		mprotect(addr, span, prot);
}

static void *call_mmap(enum mc_fn fn, void *addr, size_t len, int prot, int flags, int fd,
                       off64_t off)
{
	return fn == MC_FN_mmap ? mc_real.mmap(addr, len, prot, flags, fd, (off_t)off)
	                        : mc_real.mmap64(addr, len, prot, flags, fd, off);
}

static MC_COLD void *mmap_slow(enum mc_fn fn, void *addr, size_t len, int prot, int flags, int fd,
                               off64_t off)
{
	struct mc_hookcall c;
	struct mc_fault f;
	bool anon = (flags & MAP_ANONYMOUS) || fd < 0;
	mc_call_begin(&c, fn, anon ? -1 : fd);
	f.d.action = MC_ACTION_NONE;
	bool proceed = true;
	if (anon && mc_fault_has(MC_HOOK_MMAP) && mc_fault_decide_anon(&f, MC_HOOK_MMAP, fn, len))
		proceed = mc_fault_before(&f, NULL);
	else if (!anon)
		proceed = map_file_gate(&f, fn, fd, len, prot, &flags, off);
	void *r = MAP_FAILED;
	if (proceed) {
		r = call_mmap(fn, addr, len, prot, flags, fd, off);
		if (!anon && f.d.action == MC_ACTION_CORRUPT) {
			int e = errno;
			if (r == MAP_FAILED)
				f.skip_note = "mmap failed";
			corrupt_mapping(&f, fd, r, len, prot, off);
			errno = e;
		}
	}
	if (anon && r != MAP_FAILED && mc_armed(MC_ARM_HEAP))
		anon_remember(r, len);
	if (anon)
		mc_call_end_target(&c, MC_TGT_ANON, r == MAP_FAILED ? 0 : len);
	else
		mc_call_end_fd(&c, r == MAP_FAILED ? -1 : (long long)len);
	return r;
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

MC_EXPORT int munmap(void *addr, size_t len)
{
	if (MC_PASS(MC_ARM_HEAP))
		return mc_real.munmap(addr, len);
	return munmap_slow(addr, len);
}

MC_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (MC_PASS(MC_BIT_MMAP | MC_ARM_HEAP))
		return mc_real.mmap(addr, len, prot, flags, fd, off);
	return mmap_slow(MC_FN_mmap, addr, len, prot, flags, fd, off);
}

MC_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (MC_PASS(MC_BIT_MMAP | MC_ARM_HEAP))
		return mc_real.mmap64(addr, len, prot, flags, fd, off);
	return mmap_slow(MC_FN_mmap64, addr, len, prot, flags, fd, off);
}

static MC_COLD void *mremap_slow(void *old, size_t old_len, size_t new_len, int flags,
                                 void *new_addr)
{
	struct mc_hookcall c;
	struct mc_fault f;
	mc_call_begin(&c, MC_FN_mremap, -1);
	void *r = MAP_FAILED;
	bool grows = new_len > old_len;
	if (!grows || !mc_fault_has(MC_HOOK_MMAP) ||
	    !mc_fault_decide_anon(&f, MC_HOOK_MMAP, MC_FN_mremap, new_len - old_len) ||
	    mc_fault_before(&f, NULL))
		r = mc_real.mremap(old, old_len, new_len, flags, new_addr);
	mc_call_end_target(&c, MC_TGT_ANON, r == MAP_FAILED ? 0 : new_len);
	return r;
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
	return mremap_slow(old, old_len, new_len, flags, new_addr);
}
