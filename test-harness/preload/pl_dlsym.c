/* pl_dlsym.c: the library interposes dlsym (to hand out its CUDA wrappers); every answer that
 * is not a CUDA name must stay the real dlsym's, for the object that asked. Run with the
 * library preloaded (after a sanitizer's runtime in that build); PL_NEXT_FIRST names the
 * object that defines malloc first after the program (the first preloaded one that does).
 * Prints one line per check; exit 0 when all hold. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpedantic"

void *pl_next_malloc_from_library(void);

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	failures += !ok;
}

/* The file name of the object that defines address p. */
static const char *object_of(void *p)
{
	Dl_info info;
	return p && dladdr(p, &info) && info.dli_fname ? info.dli_fname : "(none)";
}

int main(void)
{
	const char *first = getenv("PL_NEXT_FIRST");
	if (!first)
		return 2;
	/* RTLD_NEXT from the program: the preloaded objects come next */
	void *next = dlsym(RTLD_NEXT, "malloc");
	check(strstr(object_of(next), first) != NULL, "dlsym(RTLD_NEXT, malloc) from the program");
	/* from a library loaded after them: libc's, not the preloaded one's */
	void *from_lib = pl_next_malloc_from_library();
	check(strstr(object_of(from_lib), "libc.so") != NULL,
	      "dlsym(RTLD_NEXT, malloc) from a library loaded after the preloaded ones");
	/* RTLD_DEFAULT and a handle */
	check(dlsym(RTLD_DEFAULT, "malloc") == (void *)malloc, "dlsym(RTLD_DEFAULT, malloc)");
	void *m = dlopen("libm.so.6", RTLD_NOW);
	double (*cosine)(double) = m ? (double (*)(double))dlsym(m, "cos") : NULL;
	check(cosine && cosine(0.0) == 1.0, "dlsym(libm handle, cos)");
	check(m && dlsym(m, "no_such_function_here") == NULL && dlerror() != NULL,
	      "a name not found: NULL, and dlerror says why");
	/* CUDA names in a process with no CUDA library: nothing, however asked */
	check(dlsym(RTLD_DEFAULT, "cuMemAlloc_v2") == NULL, "dlsym(RTLD_DEFAULT, cuMemAlloc_v2)");
	check(dlsym(RTLD_NEXT, "cudaMalloc") == NULL, "dlsym(RTLD_NEXT, cudaMalloc)");
	check(m && dlsym(m, "cuInit") == NULL, "dlsym(libm handle, cuInit)");
	check(dlsym(RTLD_DEFAULT, "cu") == NULL && dlsym(RTLD_DEFAULT, "c") == NULL,
	      "short names that start like CUDA's");
	if (m)
		dlclose(m);
	return failures ? 1 : 0;
}
