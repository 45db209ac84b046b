/* dlsym.h: the real dlsym, for the library's own lookups (this library's dlsym is
 * hook_dlsym.c's). */
#ifndef MC_DLSYM_H
#define MC_DLSYM_H

typedef void *(*mc_dlsym_fn)(void *handle, const char *name);

/* What runs when dlsym is called before the real one is known: a sanitizer's runtime (ASan,
 * TSan) asks for its interceptors' real functions before its shadow memory or its thread state
 * exists, so this code must carry no instrumentation, not even TSan's function entries. */
#define MC_DLSYM_EARLY __attribute__((no_sanitize("address", "thread", "undefined")))

/* The real dlsym (resolved on first use; never NULL: a stand-in that finds nothing when
 * this libc has none). */
MC_DLSYM_EARLY mc_dlsym_fn mc_dlsym_resolve(void);

/* Where the real dlsym is kept, once found: the first member of hook_cuda.c's state
 * (mc_cuda), which dlsym's entry reads. */
MC_DLSYM_EARLY mc_dlsym_fn mc_dlsym_next(void);
MC_DLSYM_EARLY void mc_dlsym_found(mc_dlsym_fn f);

/* The real dlsym's answer for handle. */
void *mc_dlsym_real(void *handle, const char *name);

/* The definition of name after this library's (dlsym(RTLD_NEXT) from here). */
void *mc_dlsym_real_next(const char *name);

/* dlsym's entry hands a name that starts with "cu", on any handle but RTLD_NEXT, here;
 * RTLD_NEXT to the second when the caller is the program (the first says, by the caller's
 * return address). */
void *mc_dlsym_cuda(void *handle, const char *name);
int mc_dlsym_from_main(const void *caller);
void *mc_dlsym_cuda_next(void *handle, const char *name);

#endif
