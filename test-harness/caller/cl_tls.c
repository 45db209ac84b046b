/* cl_tls.c: a shared library with a large thread-local block. dlopen'ed, it cannot use the
 * static TLS surplus, so each thread's first touch makes the dynamic loader allocate its
 * block with malloc (from ld.so's code): the allocation glibc aborts the process over when
 * it fails. */
#include "cl_lib.h"

__thread char cl_tls_block[9000];

__attribute__((visibility("default"))) int cl_tls_touch(int v)
{
	cl_tls_block[0] = (char)v;
	cl_tls_block[sizeof(cl_tls_block) - 1] = (char)v;
	return cl_tls_block[0] + cl_tls_block[sizeof(cl_tls_block) - 1];
}
