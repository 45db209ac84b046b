/* cl_lib.c: a small shared library that allocates on behalf of the caller test (built as
 * libfoo.so, libbar.so and libbaz.so from this one source, so that the three have the same
 * layout and a dlopen after a dlclose tends to reuse the same addresses). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cl_lib.h"

/* malloc of n bytes from this library's code: 0 when it succeeded (freed at once), else
 * the errno it failed with. */
__attribute__((visibility("default"))) int cl_alloc(size_t n)
{
	errno = 0;
	void *p = malloc(n);
	int err = p ? 0 : errno;
	free(p);
	return err;
}

/* The address of a function of this library, to compare where two loads landed. */
__attribute__((visibility("default"))) void *cl_where(void)
{
	return (void *)cl_alloc;
}

/* A microsecond's nanosleep from this library's code: 0, or the errno it failed with. */
__attribute__((visibility("default"))) int cl_nap(void)
{
	struct timespec t = { 0, 1000 };
	return nanosleep(&t, NULL) == 0 ? 0 : errno;
}
