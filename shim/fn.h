/* fn.h: every interposed function that counts as a call of a hook family,
 * by the name the program called. The names appear in traces, logs and
 * counters exactly as written here. */
#ifndef MC_FN_H
#define MC_FN_H

#include "common.h"

#define MC_FN_LIST(X)                          \
	X(read, READ)                          \
	X(__read_chk, READ)                    \
	X(pread, READ)                         \
	X(pread64, READ)                       \
	X(__pread_chk, READ)                   \
	X(__pread64_chk, READ)                 \
	X(readv, READ)                         \
	X(preadv, READ)                        \
	X(preadv64, READ)                      \
	X(preadv2, READ)                       \
	X(preadv64v2, READ)                    \
	X(fread, READ)                         \
	X(fread_unlocked, READ)                \
	X(__fread_chk, READ)                   \
	X(__fread_unlocked_chk, READ)          \
	X(recv, READ)                          \
	X(__recv_chk, READ)                    \
	X(recvfrom, READ)                      \
	X(__recvfrom_chk, READ)                \
	X(recvmsg, READ)                       \
	X(recvmmsg, READ)                      \
	X(send, SEND)                          \
	X(sendto, SEND)                        \
	X(sendmsg, SEND)                       \
	X(sendmmsg, SEND)                      \
	X(write, WRITE)                        \
	X(writev, WRITE)                       \
	X(pwrite, WRITE)                       \
	X(pwrite64, WRITE)                     \
	X(pwritev, WRITE)                      \
	X(pwritev64, WRITE)                    \
	X(pwritev2, WRITE)                     \
	X(pwritev64v2, WRITE)                  \
	X(fwrite, WRITE)                       \
	X(fwrite_unlocked, WRITE)              \
	X(malloc, MALLOC)                      \
	X(calloc, MALLOC)                      \
	X(realloc, MALLOC)                     \
	X(reallocarray, MALLOC)                \
	X(posix_memalign, MALLOC)              \
	X(aligned_alloc, MALLOC)               \
	X(memalign, MALLOC)                    \
	X(valloc, MALLOC)                      \
	X(pvalloc, MALLOC)                     \
	X(mmap, MMAP)                          \
	X(mmap64, MMAP)                        \
	X(mremap, MMAP)                        \
	X(clock_nanosleep, SLEEP)              \
	X(nanosleep, SLEEP)                    \
	X(usleep, SLEEP)                       \
	X(sleep, SLEEP)                        \
	X(open, OPEN)                          \
	X(open64, OPEN)                        \
	X(__open_2, OPEN)                      \
	X(__open64_2, OPEN)                    \
	X(openat, OPEN)                        \
	X(openat64, OPEN)                      \
	X(__openat_2, OPEN)                    \
	X(__openat64_2, OPEN)                  \
	X(creat, OPEN)                         \
	X(creat64, OPEN)                       \
	X(fopen, OPEN)                         \
	X(fopen64, OPEN)                       \
	X(freopen, OPEN)                       \
	X(freopen64, OPEN)                     \
	X(stat, STAT)                          \
	X(stat64, STAT)                        \
	X(lstat, STAT)                         \
	X(lstat64, STAT)                       \
	X(fstat, STAT)                         \
	X(fstat64, STAT)                       \
	X(fstatat, STAT)                       \
	X(fstatat64, STAT)                     \
	X(statx, STAT)                         \
	X(__xstat, STAT)                       \
	X(__xstat64, STAT)                     \
	X(__lxstat, STAT)                      \
	X(__lxstat64, STAT)                    \
	X(__fxstat, STAT)                      \
	X(__fxstat64, STAT)                    \
	X(__fxstatat, STAT)                    \
	X(__fxstatat64, STAT)                  \
	X(cudaMalloc, CUDA_ALLOC)              \
	X(cudaMallocAsync, CUDA_ALLOC)         \
	X(cudaMallocFromPoolAsync, CUDA_ALLOC) \
	X(cudaMallocManaged, CUDA_ALLOC)       \
	X(cudaMallocPitch, CUDA_ALLOC)         \
	X(cudaMallocHost, CUDA_ALLOC)          \
	X(cudaHostAlloc, CUDA_ALLOC)           \
	X(cuMemAlloc_v2, CUDA_ALLOC)           \
	X(cuMemAllocAsync, CUDA_ALLOC)         \
	X(cuMemAllocPitch_v2, CUDA_ALLOC)      \
	X(cuMemAllocManaged, CUDA_ALLOC)       \
	X(cuMemCreate, CUDA_ALLOC)             \
	X(cudaFree, CUDA_ALLOC)                \
	X(cudaFreeAsync, CUDA_ALLOC)           \
	X(cuMemFree_v2, CUDA_ALLOC)            \
	X(cuMemRelease, CUDA_ALLOC)            \
	X(cudaLaunchKernel, CUDA_LAUNCH)       \
	X(cudaLaunchKernelExC, CUDA_LAUNCH)    \
	X(cuLaunchKernel, CUDA_LAUNCH)         \
	X(cuLaunchKernelEx, CUDA_LAUNCH)       \
	X(cudaGraphLaunch, CUDA_LAUNCH)        \
	X(cuGraphLaunch, CUDA_LAUNCH)          \
	X(cudaMemcpy, CUDA_COPY)               \
	X(cudaMemcpyAsync, CUDA_COPY)          \
	X(cuMemcpyHtoD_v2, CUDA_COPY)          \
	X(cuMemcpyDtoH_v2, CUDA_COPY)          \
	X(cuMemcpyHtoDAsync_v2, CUDA_COPY)     \
	X(cuMemcpyDtoHAsync_v2, CUDA_COPY)     \
	X(cuMemcpyDtoD_v2, CUDA_COPY)          \
	X(cuInit, CUDA_INIT)                   \
	X(cuDeviceGetCount, CUDA_INIT)         \
	X(cudaGetDeviceCount, CUDA_INIT)       \
	X(cudaGetLastError, COUNT)             \
	X(cudaPeekAtLastError, COUNT)          \
	X(cuCtxSynchronize, COUNT)             \
	X(cudaDeviceSynchronize, COUNT)        \
	X(cudaStreamSynchronize, COUNT)        \
	X(syscall, COUNT)

#define MC_FN_ENUM(name, family) MC_FN_##name,
enum mc_fn { MC_FN_NONE = 0, MC_FN_LIST(MC_FN_ENUM) MC_FN_COUNT };
#undef MC_FN_ENUM

/* The function's name as the program called it. */
const char *mc_fn_name(enum mc_fn fn);

/* The family it belongs to (MC_HOOK_COUNT for syscall(), which belongs to
 * none: it is only counted, never faulted). */
enum mc_hook mc_fn_hook(enum mc_fn fn);

#endif
