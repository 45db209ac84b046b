/* objects.c: the calling object of a hooked call (objects.h). After init it only reads: the
 * loader's table through _dl_find_object and a link map's name, copied out at once, so a
 * dlclose that follows cannot pull a name from under a decision. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "common.h"
#include "objects.h"
#include "real.h"

/* Set once at init, read-only afterwards. */
static struct {
	char program[MC_CALLER_NAME_MAX]; /* the program's file name */
	uintptr_t loader_base; /* where the loader is loaded (AT_BASE), 0: not known */
} objects;

void mc_objects_basename(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t len = strlen(name);
	if (cap == 0)
		return;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, name, len);
	out[len] = '\0';
}

void mc_objects_init(void)
{
	char exe[4096];
	int saved = errno;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	errno = saved;
	exe[n > 0 ? n : 0] = '\0';
	mc_objects_basename(n > 0 ? exe : program_invocation_short_name, objects.program,
	                    sizeof(objects.program));
	/* the kernel says where it put the program's interpreter; 0 for a static program, or
	 * one the loader was run as (then no allocation is known as the loader's) */
	objects.loader_base = getauxval(AT_BASE);
}

bool mc_objects_find(const void *pc, struct mc_caller *ret)
{
	struct dl_find_object found;
	ret->name[0] = '\0';
	ret->loader = false;
	if (!mc_real.dl_find_object || !pc ||
	    mc_real.dl_find_object((void *)((uintptr_t)pc - 1), &found) != 0 ||
	    !found.dlfo_link_map)
		return false;
	const struct link_map *map = found.dlfo_link_map;
	ret->loader = objects.loader_base && map->l_addr == objects.loader_base;
	if (map->l_name && map->l_name[0])
		mc_objects_basename(map->l_name, ret->name, sizeof(ret->name));
	else
		memcpy(ret->name, objects.program, sizeof(ret->name));
	return true;
}
