/* pl_dlsym_after.c: a library the program links, so loaded after the preloaded one: its
 * dlsym(RTLD_NEXT) must answer for it, not for the library that interposes dlsym. */
#include <dlfcn.h>

void *pl_next_malloc_from_library(void);

void *pl_next_malloc_from_library(void)
{
	/* not a tail call: dlsym must see this library as its caller */
	void *volatile p = dlsym(RTLD_NEXT, "malloc");
	return p;
}
