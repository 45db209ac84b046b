/* cl_lib.h: what the caller test's libraries export (cl_lib.c, cl_tls.c). */
#ifndef CL_LIB_H
#define CL_LIB_H

#include <stddef.h>

int cl_alloc(size_t n);
void *cl_where(void);
int cl_tls_touch(int v);
int cl_nap(void);

#endif
