/* standin_cudart.c: the stand-in libcudart.so.12 of the gpu suite. It reaches the driver the
 * way NVIDIA's runtime does, never through a symbol of its own link: on its first call it
 * dlopens libcuda.so.1, looks up cuGetProcAddress_v2 with dlsym on that handle, and asks it for
 * every driver function it uses, by base name and version; cudaGetDriverEntryPoint(ByVersion)
 * answers through the same cuGetProcAddress_v2. So a library that interposes the driver sees
 * the runtime's driver calls only if it covers dlsym on a handle and cuGetProcAddress_v2.
 *
 * The runtime's state as the real one keeps it: a current device per thread (0 until
 * cudaSetDevice), its primary context made current before a call that needs one, the last error
 * per thread (cudaGetLastError returns and clears it, cudaPeekAtLastError returns it). */
#include "standin_cuda.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Function pointers travel as object pointers (dlsym, cuGetProcAddress, a kernel given as
 * its host function): POSIX guarantees the conversion, ISO C does not, hence no -Wpedantic. */
#pragma GCC diagnostic ignored "-Wpedantic"

#define EXPORT __attribute__((visibility("default")))

typedef CUresult (*proc_address_fn)(const char *, void **, int, cuuint64_t,
                                    CUdriverProcAddressQueryResult *);

/* The driver functions the runtime uses, filled by cuGetProcAddress_v2. */
static struct {
	proc_address_fn get_proc_address;
	CUresult (*init)(unsigned int);
	CUresult (*driver_version)(int *);
	CUresult (*device_count)(int *);
	CUresult (*primary_ctx_retain)(CUcontext *, CUdevice);
	CUresult (*ctx_set_current)(CUcontext);
	CUresult (*ctx_synchronize)(void);
	CUresult (*stream_synchronize)(CUstream);
	CUresult (*mem_get_info)(size_t *, size_t *);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*mem_alloc_async)(CUdeviceptr *, size_t, CUstream);
	CUresult (*mem_alloc_pitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
	CUresult (*mem_alloc_managed)(CUdeviceptr *, size_t, unsigned int);
	CUresult (*mem_free)(CUdeviceptr);
	CUresult (*mem_free_async)(CUdeviceptr, CUstream);
	CUresult (*mem_host_alloc)(void **, size_t, unsigned int);
	CUresult (*mem_free_host)(void *);
	CUresult (*launch_kernel)(CUfunction, unsigned int, unsigned int, unsigned int,
	                          unsigned int, unsigned int, unsigned int, unsigned int, CUstream,
	                          void **, void **);
	CUresult (*launch_kernel_ex)(const CUlaunchConfig *, CUfunction, void **, void **);
	CUresult (*graph_launch)(CUgraphExec, CUstream);
	CUresult (*memcpy_htod)(CUdeviceptr, const void *, size_t);
	CUresult (*memcpy_dtoh)(void *, CUdeviceptr, size_t);
	CUresult (*memcpy_dtod)(CUdeviceptr, CUdeviceptr, size_t);
	CUresult (*memcpy_htod_async)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*memcpy_dtoh_async)(void *, CUdeviceptr, size_t, CUstream);
} drv;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cudaError_t init_error;
static _Thread_local int thread_device;
static _Thread_local int thread_ctx_set;
static _Thread_local cudaError_t last_error;

/* Every driver function the runtime uses; the runtime cannot start without one. */
static const struct {
	const char *name;
	size_t offset;
} wanted[] = {
#define WANT(name, field)                              \
	{                                              \
		name, offsetof(__typeof__(drv), field) \
	}
	WANT("cuInit", init),
	WANT("cuDriverGetVersion", driver_version),
	WANT("cuDeviceGetCount", device_count),
	WANT("cuDevicePrimaryCtxRetain", primary_ctx_retain),
	WANT("cuCtxSetCurrent", ctx_set_current),
	WANT("cuCtxSynchronize", ctx_synchronize),
	WANT("cuStreamSynchronize", stream_synchronize),
	WANT("cuMemGetInfo", mem_get_info),
	WANT("cuMemAlloc", mem_alloc),
	WANT("cuMemAllocAsync", mem_alloc_async),
	WANT("cuMemAllocPitch", mem_alloc_pitch),
	WANT("cuMemAllocManaged", mem_alloc_managed),
	WANT("cuMemFree", mem_free),
	WANT("cuMemFreeAsync", mem_free_async),
	WANT("cuMemHostAlloc", mem_host_alloc),
	WANT("cuMemFreeHost", mem_free_host),
	WANT("cuLaunchKernel", launch_kernel),
	WANT("cuLaunchKernelEx", launch_kernel_ex),
	WANT("cuGraphLaunch", graph_launch),
	WANT("cuMemcpyHtoD", memcpy_htod),
	WANT("cuMemcpyDtoH", memcpy_dtoh),
	WANT("cuMemcpyDtoD", memcpy_dtod),
	WANT("cuMemcpyHtoDAsync", memcpy_htod_async),
	WANT("cuMemcpyDtoHAsync", memcpy_dtoh_async),
#undef WANT
};

static void load_driver(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		init_error = cudaErrorInsufficientDriver;
		return;
	}
	drv.get_proc_address = (proc_address_fn)dlsym(h, "cuGetProcAddress_v2");
	if (!drv.get_proc_address) {
		init_error = cudaErrorInsufficientDriver;
		return;
	}
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
		void **slot = (void **)((char *)&drv + wanted[i].offset);
		CUdriverProcAddressQueryResult status;
		if (drv.get_proc_address(wanted[i].name, slot, CUDART_VERSION,
		                         CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS ||
		    status != CU_GET_PROC_ADDRESS_SUCCESS || !*slot) {
			init_error = cudaErrorInsufficientDriver;
			return;
		}
	}
	/* The driver's codes are the runtime's for every error the stand-ins return. */
	init_error = (cudaError_t)drv.init(0);
}

static cudaError_t done(cudaError_t e)
{
	if (e != cudaSuccess)
		last_error = e;
	return e;
}

static cudaError_t from_driver(CUresult r)
{
	return done((cudaError_t)r);
}

/* The driver is loaded and initialised; the thread's device's primary context is current. */
static cudaError_t ready(void)
{
	pthread_once(&once, load_driver);
	if (init_error != cudaSuccess)
		return init_error;
	if (!thread_ctx_set) {
		CUcontext ctx;
		CUresult r = drv.primary_ctx_retain(&ctx, thread_device);
		if (r == CUDA_SUCCESS)
			r = drv.ctx_set_current(ctx);
		if (r != CUDA_SUCCESS)
			return (cudaError_t)r;
		thread_ctx_set = 1;
	}
	return cudaSuccess;
}

#define READY()                               \
	do {                                  \
		cudaError_t ready_ = ready(); \
		if (ready_ != cudaSuccess)    \
			return done(ready_);  \
	} while (0)

EXPORT cudaError_t cudaGetDeviceCount(int *count)
{
	if (!count)
		return done(cudaErrorInvalidValue);
	pthread_once(&once, load_driver);
	if (init_error != cudaSuccess) {
		*count = 0;
		return done(init_error);
	}
	return from_driver(drv.device_count(count));
}

EXPORT cudaError_t cudaSetDevice(int device)
{
	pthread_once(&once, load_driver);
	if (init_error != cudaSuccess)
		return done(init_error);
	int n;
	CUresult r = drv.device_count(&n);
	if (r != CUDA_SUCCESS)
		return from_driver(r);
	if (device < 0 || device >= n)
		return done(cudaErrorInvalidDevice);
	thread_device = device;
	thread_ctx_set = 0;
	return ready();
}

EXPORT cudaError_t cudaGetDevice(int *device)
{
	if (!device)
		return done(cudaErrorInvalidValue);
	READY();
	*device = thread_device;
	return cudaSuccess;
}

EXPORT cudaError_t cudaDriverGetVersion(int *driverVersion)
{
	pthread_once(&once, load_driver);
	if (!drv.driver_version) {
		*driverVersion = 0;
		return cudaSuccess;
	}
	return from_driver(drv.driver_version(driverVersion));
}

EXPORT cudaError_t cudaRuntimeGetVersion(int *runtimeVersion)
{
	if (!runtimeVersion)
		return done(cudaErrorInvalidValue);
	*runtimeVersion = CUDART_VERSION;
	return cudaSuccess;
}

EXPORT cudaError_t cudaDeviceSynchronize(void)
{
	READY();
	return from_driver(drv.ctx_synchronize());
}

EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
	READY();
	return from_driver(drv.stream_synchronize(stream));
}

EXPORT cudaError_t cudaGetLastError(void)
{
	cudaError_t e = last_error;
	last_error = cudaSuccess;
	return e;
}

EXPORT cudaError_t cudaPeekAtLastError(void)
{
	return last_error;
}

EXPORT const char *cudaGetErrorName(cudaError_t error)
{
	switch (error) {
	case cudaSuccess:
		return "cudaSuccess";
	case cudaErrorInvalidValue:
		return "cudaErrorInvalidValue";
	case cudaErrorMemoryAllocation:
		return "cudaErrorMemoryAllocation";
	case cudaErrorInitializationError:
		return "cudaErrorInitializationError";
	case cudaErrorInsufficientDriver:
		return "cudaErrorInsufficientDriver";
	case cudaErrorNoDevice:
		return "cudaErrorNoDevice";
	case cudaErrorInvalidDevice:
		return "cudaErrorInvalidDevice";
	case cudaErrorInvalidResourceHandle:
		return "cudaErrorInvalidResourceHandle";
	case cudaErrorSymbolNotFound:
		return "cudaErrorSymbolNotFound";
	case cudaErrorIllegalAddress:
		return "cudaErrorIllegalAddress";
	case cudaErrorLaunchFailure:
		return "cudaErrorLaunchFailure";
	case cudaErrorNotSupported:
		return "cudaErrorNotSupported";
	case cudaErrorUnknown:
		return "cudaErrorUnknown";
	}
	return "unrecognized error code";
}

EXPORT const char *cudaGetErrorString(cudaError_t error)
{
	return cudaGetErrorName(error);
}

EXPORT cudaError_t cudaMemGetInfo(size_t *free, size_t *total)
{
	READY();
	return from_driver(drv.mem_get_info(free, total));
}

/* ---- memory ------------------------------------------------------------------------------ */

EXPORT cudaError_t cudaMalloc(void **devPtr, size_t size)
{
	if (!devPtr)
		return done(cudaErrorInvalidValue);
	READY();
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc(&p, size);
	*devPtr = (void *)(uintptr_t)p;
	return from_driver(r);
}

EXPORT cudaError_t cudaMallocAsync(void **devPtr, size_t size, cudaStream_t hStream)
{
	if (!devPtr)
		return done(cudaErrorInvalidValue);
	READY();
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc_async(&p, size, hStream);
	*devPtr = (void *)(uintptr_t)p;
	return from_driver(r);
}

EXPORT cudaError_t cudaMallocFromPoolAsync(void **ptr, size_t size, cudaMemPool_t memPool,
                                           cudaStream_t stream)
{
	(void)memPool; /* one pool per device: the default one */
	return cudaMallocAsync(ptr, size, stream);
}

EXPORT cudaError_t cudaMallocManaged(void **devPtr, size_t size, unsigned int flags)
{
	if (!devPtr)
		return done(cudaErrorInvalidValue);
	READY();
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc_managed(&p, size, flags);
	*devPtr = (void *)(uintptr_t)p;
	return from_driver(r);
}

EXPORT cudaError_t cudaMallocPitch(void **devPtr, size_t *pitch, size_t width, size_t height)
{
	if (!devPtr)
		return done(cudaErrorInvalidValue);
	READY();
	CUdeviceptr p = 0;
	CUresult r = drv.mem_alloc_pitch(&p, pitch, width, height, 4);
	*devPtr = (void *)(uintptr_t)p;
	return from_driver(r);
}

EXPORT cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags)
{
	if (!pHost)
		return done(cudaErrorInvalidValue);
	READY();
	*pHost = NULL;
	return from_driver(drv.mem_host_alloc(pHost, size, flags));
}

EXPORT cudaError_t cudaMallocHost(void **ptr, size_t size)
{
	return cudaHostAlloc(ptr, size, cudaHostAllocDefault);
}

EXPORT cudaError_t cudaFree(void *devPtr)
{
	READY();
	if (!devPtr)
		return cudaSuccess;
	return from_driver(drv.mem_free((CUdeviceptr)(uintptr_t)devPtr));
}

EXPORT cudaError_t cudaFreeAsync(void *devPtr, cudaStream_t hStream)
{
	READY();
	return from_driver(drv.mem_free_async((CUdeviceptr)(uintptr_t)devPtr, hStream));
}

EXPORT cudaError_t cudaFreeHost(void *ptr)
{
	READY();
	if (!ptr)
		return cudaSuccess;
	return from_driver(drv.mem_free_host(ptr));
}

/* ---- kernels and copies ------------------------------------------------------------------ */

EXPORT cudaError_t cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args,
                                    size_t sharedMem, cudaStream_t stream)
{
	READY();
	return from_driver(drv.launch_kernel((CUfunction)(uintptr_t)func, gridDim.x, gridDim.y,
	                                     gridDim.z, blockDim.x, blockDim.y, blockDim.z,
	                                     (unsigned int)sharedMem, stream, args, NULL));
}

EXPORT cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func,
                                       void **args)
{
	if (!config)
		return done(cudaErrorInvalidValue);
	READY();
	CUlaunchConfig c = {
		.gridDimX = config->gridDim.x,
		.gridDimY = config->gridDim.y,
		.gridDimZ = config->gridDim.z,
		.blockDimX = config->blockDim.x,
		.blockDimY = config->blockDim.y,
		.blockDimZ = config->blockDim.z,
		.sharedMemBytes = (unsigned int)config->dynamicSmemBytes,
		.hStream = config->stream,
	};
	return from_driver(drv.launch_kernel_ex(&c, (CUfunction)(uintptr_t)func, args, NULL));
}

EXPORT cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
	READY();
	return from_driver(drv.graph_launch(graphExec, stream));
}

static CUresult copy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                     cudaStream_t stream, int async)
{
	CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, s = (CUdeviceptr)(uintptr_t)src;
	switch (kind) {
	case cudaMemcpyHostToHost:
		memmove(dst, src, count);
		return CUDA_SUCCESS;
	case cudaMemcpyHostToDevice:
		return async ? drv.memcpy_htod_async(d, src, count, stream)
		             : drv.memcpy_htod(d, src, count);
	case cudaMemcpyDeviceToHost:
		return async ? drv.memcpy_dtoh_async(dst, s, count, stream)
		             : drv.memcpy_dtoh(dst, s, count);
	case cudaMemcpyDeviceToDevice:
	case cudaMemcpyDefault:
		return drv.memcpy_dtod(d, s, count);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

EXPORT cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
	READY();
	return from_driver(copy(dst, src, count, kind, NULL, 0));
}

EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count,
                                   enum cudaMemcpyKind kind, cudaStream_t stream)
{
	READY();
	return from_driver(copy(dst, src, count, kind, stream, 1));
}

/* ---- driver entry points ----------------------------------------------------------------- */

EXPORT cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **funcPtr,
                                                    unsigned int cudaVersion,
                                                    unsigned long long flags,
                                                    enum cudaDriverEntryPointQueryResult *status)
{
	if (!symbol || !funcPtr)
		return done(cudaErrorInvalidValue);
	pthread_once(&once, load_driver);
	if (!drv.get_proc_address)
		return done(init_error);
	CUdriverProcAddressQueryResult s;
	CUresult r = drv.get_proc_address(symbol, funcPtr, (int)cudaVersion, flags, &s);
	if (status)
		*status = (enum cudaDriverEntryPointQueryResult)s;
	/* Not finding a symbol is an answer, said by the status, as the real runtime does. */
	return r == CUDA_ERROR_NOT_FOUND ? cudaSuccess : from_driver(r);
}

EXPORT cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **funcPtr,
                                           unsigned long long flags,
                                           enum cudaDriverEntryPointQueryResult *driverStatus)
{
	return cudaGetDriverEntryPointByVersion(symbol, funcPtr, CUDART_VERSION, flags,
	                                        driverStatus);
}
