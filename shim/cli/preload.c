/* preload.c: finds libmlchaos.so and composes the child's LD_PRELOAD. Never
 * reorders or drops the user's own preloads (sanitizer runtimes stay first,
 * as ASan requires) and never falls back silently from an explicit $MLCHAOS_LIB. */
#include "preload.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MC_LIBDIR
#error "MC_LIBDIR must name the install directory of libmlchaos.so (set by meson)"
#endif

/* ld.so splits LD_PRELOAD on both (elf/rtld.c, handle_preload_list). */
#define MC_PRELOAD_SEPARATORS ": "

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* The canonical absolute path of a regular file, or -errno. */
static int canonical_file(const char *path, char *ret, size_t size)
{
	char *real = realpath(path, NULL);
	struct stat st;
	int r;

	if (!real)
		return -errno;
	if (stat(real, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	else
		r = copy_str(ret, size, real);
	free(real);
	return r;
}

/* dir(/proc/self/exe)/libmlchaos.so, or "" when /proc is not there. */
static void next_to_exe(char *ret, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	ret[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	if ((size_t)snprintf(ret, size, "%s/%s", exe, MC_LIB_NAME) >= size)
		ret[0] = '\0';
}

int mc_preload_find_library(struct mc_lib_lookup *ret)
{
	const char *env = getenv("MLCHAOS_LIB");

	memset(ret, 0, sizeof(*ret));
	if (env && env[0]) {
		copy_str(ret->tried[MC_LIB_FROM_ENV], sizeof(ret->tried[0]), env);
		ret->source = MC_LIB_FROM_ENV;
		ret->env_error = canonical_file(env, ret->path, sizeof(ret->path));
		return ret->env_error < 0 ? -ENOENT : 0;
	}
	next_to_exe(ret->tried[MC_LIB_NEXT_TO_EXE], sizeof(ret->tried[0]));
	snprintf(ret->tried[MC_LIB_FROM_LIBDIR], sizeof(ret->tried[0]), "%s/%s", MC_LIBDIR,
	         MC_LIB_NAME);
	for (int s = MC_LIB_NEXT_TO_EXE; s < MC_LIB_SOURCE_COUNT; s++) {
		if (ret->tried[s][0] &&
		    canonical_file(ret->tried[s], ret->path, sizeof(ret->path)) == 0) {
			ret->source = (enum mc_lib_source)s;
			return 0;
		}
	}
	ret->path[0] = '\0';
	return -ENOENT;
}

bool mc_preload_is_sanitizer(const char *entry, size_t len)
{
	static const char *const prefixes[] = {
		"libasan", "libtsan", "libubsan", "liblsan", "libhwasan", "libclang_rt.",
	};
	const char *base = entry;

	for (size_t i = 0; i < len; i++)
		if (entry[i] == '/')
			base = entry + i + 1;
	len -= (size_t)(base - entry);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (len >= n && memcmp(base, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

/* True when the entry is lib: the same string, or a path to the same file. */
static bool is_our_library(const char *entry, size_t len, const char *lib)
{
	char buf[PATH_MAX], real[PATH_MAX];

	if (len == strlen(lib) && memcmp(entry, lib, len) == 0)
		return true;
	if (len >= sizeof(buf) || !memchr(entry, '/', len))
		return false;
	memcpy(buf, entry, len);
	buf[len] = '\0';
	return canonical_file(buf, real, sizeof(real)) == 0 && strcmp(real, lib) == 0;
}

static void append_entry(char *out, size_t *len, const char *s, size_t n)
{
	if (*len)
		out[(*len)++] = ':';
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

/* Appends the entries of existing that are (or are not) sanitizer runtimes. */
static void append_existing(const char *existing, const char *lib, bool sanitizers, char *out,
                            size_t *len)
{
	const char *p = existing;

	while (p && *p) {
		size_t n = strcspn(p, MC_PRELOAD_SEPARATORS);

		if (n && mc_preload_is_sanitizer(p, n) == sanitizers && !is_our_library(p, n, lib))
			append_entry(out, len, p, n);
		p += n;
		p += strspn(p, MC_PRELOAD_SEPARATORS);
	}
}

int mc_preload_compose(const char *existing, const char *lib, char **ret_value)
{
	/* Each kept entry costs at most its bytes plus one ':'; existing already
	 * holds at least one separator between any two of its entries. */
	size_t cap = strlen(lib) + (existing ? strlen(existing) : 0) + 3;
	char *out = malloc(cap);
	size_t len = 0;

	if (!out)
		return -ENOMEM;
	out[0] = '\0';
	append_existing(existing, lib, true, out, &len);
	append_entry(out, &len, lib, strlen(lib));
	append_existing(existing, lib, false, out, &len);
	*ret_value = out;
	return 0;
}
