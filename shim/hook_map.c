/* hook_map.c: mmap, mmap64 and mremap, file-backed and anonymous. A file
 * mapped MAP_SHARED with write permission is never altered by the shim
 * (invariant 3): corruption, when it comes, applies to private copies only. */
#include <stdarg.h>
#include <sys/mman.h>

#include "hook.h"

static MC_COLD void *mmap_slow(enum mc_fn fn, void *addr, size_t len, int prot, int flags, int fd,
                               off64_t off)
{
	struct mc_call c;
	bool anon = (flags & MAP_ANONYMOUS) || fd < 0;
	mc_call_begin(&c, fn, anon ? -1 : fd);
	void *r = fn == MC_FN_mmap ? mc_real.mmap(addr, len, prot, flags, fd, (off_t)off)
	                           : mc_real.mmap64(addr, len, prot, flags, fd, off);
	if (anon)
		mc_call_end_target(&c, MC_TGT_ANON, r == MAP_FAILED ? 0 : len);
	else
		mc_call_end_fd(&c, r == MAP_FAILED ? -1 : (long long)len);
	return r;
}

MC_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (MC_PASS(MC_BIT_MMAP))
		return mc_real.mmap(addr, len, prot, flags, fd, off);
	return mmap_slow(MC_FN_mmap, addr, len, prot, flags, fd, off);
}

MC_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (MC_PASS(MC_BIT_MMAP))
		return mc_real.mmap64(addr, len, prot, flags, fd, off);
	return mmap_slow(MC_FN_mmap64, addr, len, prot, flags, fd, off);
}

static MC_COLD void *mremap_slow(void *old, size_t old_len, size_t new_len, int flags,
                                 void *new_addr)
{
	struct mc_call c;
	mc_call_begin(&c, MC_FN_mremap, -1);
	void *r = mc_real.mremap(old, old_len, new_len, flags, new_addr);
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
