/* objects.c: the calling object of a hooked call (objects.h). It only reads: the
 * loader's table through _dl_find_object and a link map's name, copied out at once, so a
 * dlclose that follows cannot pull a name from under a decision. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#include "common.h"
#include "objects.h"
#include "real.h"

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
	/* the kernel says where it put the program's interpreter: 0 for a static program, or
	 * one the loader was run as (then no object is known as the loader) */
	uintptr_t loader_base = getauxval(AT_BASE);
	ret->loader = loader_base && map->l_addr == loader_base;
	/* the loader names the program "": its name as it was run */
	const char *path =
	    map->l_name && map->l_name[0] ? map->l_name : program_invocation_short_name;
	mc_objects_basename(path, ret->name, sizeof(ret->name));
	return true;
}
