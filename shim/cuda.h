/* cuda.h: the CUDA runtime and driver functions the library interposes, with the real
 * signatures in the ABI's plain types (no CUDA header is needed to build the library: every
 * handle is a pointer, CUdeviceptr and memory handles are 64-bit integers, the error enums
 * are ints). Their real functions are not in real.h: the CUDA libraries are not loaded when
 * the library starts, so each is found on first use, or handed over by the lookup that found
 * it (hook_dlsym.c, cuGetProcAddress), and cached (hook_cuda.c). */
#ifndef MC_CUDA_H
#define MC_CUDA_H

#include <stddef.h>

typedef unsigned long long mc_cu_ptr; /* CUdeviceptr, CUmemGenericAllocationHandle */

struct mc_dim3 { /* dim3, passed by value */
	unsigned int x, y, z;
};

/* X(name, family, (parameters), (arguments), size, kind): every interposed CUDA function that
 * returns an error (family COUNT: watched for a poisoned context, never faulted). size: the
 * bytes the call asks for or moves, as an expression of the arguments; kind: what it is
 * (enum mc_cuda_kind, hook_cuda.c). The names of fn.h and shim.map. */
#define MC_CUDA_FNS(X)                                                                             \
	X(cudaMalloc, CUDA_ALLOC, (void **p, size_t n), (p, n), n, RT_ALLOC)                       \
	X(cudaMallocAsync, CUDA_ALLOC, (void **p, size_t n, void *s), (p, n, s), n, RT_ALLOC)      \
	X(cudaMallocFromPoolAsync, CUDA_ALLOC, (void **p, size_t n, void *pool, void *s),          \
	  (p, n, pool, s), n, RT_ALLOC)                                                            \
	X(cudaMallocManaged, CUDA_ALLOC, (void **p, size_t n, unsigned int fl), (p, n, fl), n,     \
	  RT_ALLOC)                                                                                \
	X(cudaMallocPitch, CUDA_ALLOC, (void **p, size_t *pitch, size_t w, size_t h),              \
	  (p, pitch, w, h), mul(w, h), RT_PITCH)                                                   \
	X(cudaMallocHost, CUDA_ALLOC, (void **p, size_t n), (p, n), n, PINNED)                     \
	X(cudaHostAlloc, CUDA_ALLOC, (void **p, size_t n, unsigned int fl), (p, n, fl), n, PINNED) \
	X(cuMemAlloc_v2, CUDA_ALLOC, (mc_cu_ptr * p, size_t n), (p, n), n, DRV_ALLOC)              \
	X(cuMemAllocAsync, CUDA_ALLOC, (mc_cu_ptr * p, size_t n, void *s), (p, n, s), n,           \
	  DRV_ALLOC)                                                                               \
	X(cuMemAllocPitch_v2, CUDA_ALLOC,                                                          \
	  (mc_cu_ptr * p, size_t * pitch, size_t w, size_t h, unsigned int el),                    \
	  (p, pitch, w, h, el), mul(w, h), DRV_PITCH)                                              \
	X(cuMemAllocManaged, CUDA_ALLOC, (mc_cu_ptr * p, size_t n, unsigned int fl), (p, n, fl),   \
	  n, DRV_ALLOC)                                                                            \
	X(cuMemCreate, CUDA_ALLOC,                                                                 \
	  (mc_cu_ptr * p, size_t n, const void *prop, unsigned long long fl), (p, n, prop, fl), n, \
	  CREATE)                                                                                  \
	X(cudaFree, CUDA_ALLOC, (void *p), (p), 0, RT_FREE)                                        \
	X(cudaFreeAsync, CUDA_ALLOC, (void *p, void *s), (p, s), 0, RT_FREE)                       \
	X(cuMemFree_v2, CUDA_ALLOC, (mc_cu_ptr p), (p), 0, DRV_FREE)                               \
	X(cuMemRelease, CUDA_ALLOC, (mc_cu_ptr p), (p), 0, RELEASE)                                \
	X(cudaLaunchKernel, CUDA_LAUNCH,                                                           \
	  (const void *f, struct mc_dim3 g, struct mc_dim3 b, void **a, size_t sh, void *s),       \
	  (f, g, b, a, sh, s), 0, LAUNCH)                                                          \
	X(cudaLaunchKernelExC, CUDA_LAUNCH, (const void *cfg, const void *f, void **a),            \
	  (cfg, f, a), 0, LAUNCH)                                                                  \
	X(cuLaunchKernel, CUDA_LAUNCH,                                                             \
	  (void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,            \
	   unsigned int by, unsigned int bz, unsigned int sh, void *s, void **a, void **ex),       \
	  (f, gx, gy, gz, bx, by, bz, sh, s, a, ex), 0, LAUNCH)                                    \
	X(cuLaunchKernelEx, CUDA_LAUNCH, (const void *cfg, void *f, void **a, void **ex),          \
	  (cfg, f, a, ex), 0, LAUNCH)                                                              \
	X(cudaGraphLaunch, CUDA_LAUNCH, (void *g, void *s), (g, s), 0, LAUNCH)                     \
	X(cuGraphLaunch, CUDA_LAUNCH, (void *g, void *s), (g, s), 0, LAUNCH)                       \
	X(cudaMemcpy, CUDA_COPY, (void *d, const void *src, size_t n, int k), (d, src, n, k), n,   \
	  RT_COPY)                                                                                 \
	X(cudaMemcpyAsync, CUDA_COPY, (void *d, const void *src, size_t n, int k, void *s),        \
	  (d, src, n, k, s), n, RT_COPY)                                                           \
	X(cuMemcpyHtoD_v2, CUDA_COPY, (mc_cu_ptr d, const void *src, size_t n), (d, src, n), n,    \
	  HTOD)                                                                                    \
	X(cuMemcpyDtoH_v2, CUDA_COPY, (void *d, mc_cu_ptr src, size_t n), (d, src, n), n, DTOH)    \
	X(cuMemcpyHtoDAsync_v2, CUDA_COPY, (mc_cu_ptr d, const void *src, size_t n, void *s),      \
	  (d, src, n, s), n, HTOD)                                                                 \
	X(cuMemcpyDtoHAsync_v2, CUDA_COPY, (void *d, mc_cu_ptr src, size_t n, void *s),            \
	  (d, src, n, s), n, DTOH)                                                                 \
	X(cuMemcpyDtoD_v2, CUDA_COPY, (mc_cu_ptr d, mc_cu_ptr src, size_t n), (d, src, n), n,      \
	  DTOD)                                                                                    \
	X(cuInit, CUDA_INIT, (unsigned int fl), (fl), 0, INIT)                                     \
	X(cuDeviceGetCount, CUDA_INIT, (int *count), (count), 0, COUNT_DEVICES)                    \
	X(cudaGetDeviceCount, CUDA_INIT, (int *count), (count), 0, COUNT_DEVICES)                  \
	X(cudaGetLastError, COUNT, (void), (), 0, STATUS)                                          \
	X(cudaPeekAtLastError, COUNT, (void), (), 0, STATUS)                                       \
	X(cuCtxSynchronize, COUNT, (void), (), 0, STATUS)                                          \
	X(cudaDeviceSynchronize, COUNT, (void), (), 0, STATUS)                                     \
	X(cudaStreamSynchronize, COUNT, (void *s), (s), 0, STATUS)

#define MC_CUDA_PROTO(name, family, params, ...) int name params;
MC_CUDA_FNS(MC_CUDA_PROTO)
#undef MC_CUDA_PROTO

/* The lookup functions, whose answers the library replaces with its wrappers. */
int cuGetProcAddress(const char *sym, void **pfn, int version, unsigned long long flags);
int cuGetProcAddress_v2(const char *sym, void **pfn, int version, unsigned long long flags,
                        int *status);
int cudaGetDriverEntryPoint(const char *sym, void **pfn, unsigned long long flags, int *status);
int cudaGetDriverEntryPointByVersion(const char *sym, void **pfn, unsigned int version,
                                     unsigned long long flags, int *status);

/* What dlsym found for name (never NULL): the library's wrapper when name is a CUDA function
 * it interposes (its real one, found, is then cached), found itself otherwise. */
void *mc_cuda_substitute(const char *name, void *found);

#endif
