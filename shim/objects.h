/* objects.h: which loaded object (the program, a shared library, the dynamic loader) holds a
 * code address: the caller of a hooked call, for rules with `caller =` / `not_caller =`, and
 * the loader's own allocations, which malloc rules leave alone unless they name the loader.
 * The loader itself answers (_dl_find_object, glibc 2.35): the table of loaded objects it
 * keeps for unwinders is current across dlopen and dlclose (a library's constructors
 * included, which run before dlopen returns) and is read without a lock or an allocation,
 * async-signal-safe. Nothing here allocates, locks or touches errno. */
#ifndef MC_OBJECTS_H
#define MC_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>

/* Object file names are cut to this (with the NUL) in decisions and log lines. */
#define MC_CALLER_NAME_MAX 64

struct mc_caller {
	char name[MC_CALLER_NAME_MAX]; /* the object's file name; "" when not known */
	bool loader;                   /* the dynamic loader (ld-linux-x86-64.so.2 & co.) */
};

/* The object whose code holds the return address pc (the byte before it is asked: a call
 * that ends its function returns past it). False, with ret->name "", when no loaded object
 * holds it (code made at run time, a loader without _dl_find_object). */
bool mc_objects_find(const void *pc, struct mc_caller *ret);

/* The file name of path (what follows its last '/'; path itself without one) into
 * out[cap], cut to cap - 1 bytes. Pure. */
void mc_objects_basename(const char *path, char *out, size_t cap);

#endif
