/* preload.h: where libmlchaos.so is, and the LD_PRELOAD value that puts it in
 * a child without displacing what the user already preloads. Pure string and
 * file-system work: nothing here changes the environment or starts processes. */
#ifndef MC_CLI_PRELOAD_H
#define MC_CLI_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>

#define MC_LIB_NAME "libmlchaos.so"

/* Places mc_preload_find_library() looks, in order. */
enum mc_lib_source {
	MC_LIB_FROM_ENV,    /* $MLCHAOS_LIB */
	MC_LIB_NEXT_TO_EXE, /* the directory of /proc/self/exe (the build tree) */
	MC_LIB_FROM_LIBDIR, /* MC_LIBDIR, where meson installs it */
	MC_LIB_SOURCE_COUNT,
};

struct mc_lib_lookup {
	char path[4096];                       /* absolute, when found */
	enum mc_lib_source source;             /* where it was found */
	char tried[MC_LIB_SOURCE_COUNT][4096]; /* what was looked at ("" if skipped) */
	int env_error;                         /* -errno for a bad $MLCHAOS_LIB, else 0 */
};

/* Finds the library: $MLCHAOS_LIB when set (it must then exist: no fallback,
 * so a typo is not silently replaced by another build), else next to the
 * running executable, else MC_LIBDIR. The path returned is absolute and
 * canonical. Returns 0, or -ENOENT with every place tried recorded in
 * ret->tried (and ret->env_error set when $MLCHAOS_LIB was the problem). */
int mc_preload_find_library(struct mc_lib_lookup *ret);

/* True for a sanitizer runtime (libasan, libtsan, libubsan, liblsan,
 * libhwasan, libclang_rt.*): those must stay first in LD_PRELOAD. */
bool mc_preload_is_sanitizer(const char *entry, size_t len);

/* Composes the LD_PRELOAD value for the child: the sanitizer runtimes of
 * existing (in their order), then lib, then the other entries of existing in
 * their order. Entries are separated by ':' or ' ' as ld.so reads them and
 * joined with ':'; empty entries and entries naming lib itself are dropped.
 * existing may be NULL. Returns 0 and a malloc'd string in *ret_value, or
 * -ENOMEM. */
int mc_preload_compose(const char *existing, const char *lib, char **ret_value);

#endif
