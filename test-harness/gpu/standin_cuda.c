/* standin_cuda.c: the stand-in libcuda.so.1 of the gpu suite: the driver API functions of
 * standin_cuda.h over host memory, with the driver's error codes, a primary context per device
 * and cuGetProcAddress(_v2) answering base names by version, as NVIDIA's driver does. Test
 * scaffolding: it lets the suite show, without a GPU, what the preloaded library does to a
 * program that reaches the driver by any path.
 *
 * Device memory is anonymous mmap (lazily committed, so a large allocation costs nothing),
 * counted per device against STANDIN_CUDA_MEMORY, so that a genuine out-of-memory (2) happens
 * too. cuMemCreate makes a memfd that cuMemMap maps into a range cuMemAddressReserve reserved:
 * the bytes written through one mapping are there through the next, as physical memory is. */
#include "standin_cuda.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Function pointers travel as object pointers (dlsym, cuGetProcAddress, a kernel given as
 * its host function): POSIX guarantees the conversion, ISO C does not, hence no -Wpedantic. */
#pragma GCC diagnostic ignored "-Wpedantic"

#define EXPORT        __attribute__((visibility("default")))
#define MAX_DEVICES   8
#define HEADER        256 /* cudaMalloc's alignment: the pointer follows the block's header */
#define BLOCK_MAGIC   0x5354414e44494e42ull
#define HANDLE_MAGIC  0x5354414e4448444cull
#define DRIVER_VER    12080
#define GRANULARITY   (2u << 20)
#define DEFAULT_BYTES (1ull << 30)

enum block_kind { BLOCK_DEVICE, BLOCK_MANAGED, BLOCK_HOST };

/* What precedes every pointer cuMemAlloc*, cuMemAllocManaged and cuMemHostAlloc return. */
struct block {
	uint64_t magic;
	size_t size;
	int device;
	int kind;
};

/* What a CUmemGenericAllocationHandle points to. */
struct phys {
	uint64_t magic;
	size_t size;
	int device;
	int fd;
};

struct CUctx_st {
	int device;
};

static atomic_int initialized;
static int device_count;
static unsigned long long device_bytes;
static atomic_ullong device_used[MAX_DEVICES];
static struct CUctx_st contexts[MAX_DEVICES];
static _Thread_local CUcontext current;

static unsigned long long env_number(const char *name, unsigned long long fallback)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return fallback;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	return errno || *end ? fallback : v;
}

EXPORT CUresult cuInit(unsigned int Flags)
{
	if (Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned long long n = env_number("STANDIN_CUDA_DEVICES", 2);
	device_count = n > MAX_DEVICES ? MAX_DEVICES : (int)n;
	device_bytes = env_number("STANDIN_CUDA_MEMORY", DEFAULT_BYTES);
	for (int i = 0; i < device_count; i++)
		contexts[i].device = i;
	if (device_count == 0)
		return CUDA_ERROR_NO_DEVICE;
	atomic_store(&initialized, 1);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = DRIVER_VER;
	return CUDA_SUCCESS;
}

static CUresult ready(void)
{
	return atomic_load(&initialized) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

/* The device of the calling thread's current context, or an error. */
static CUresult current_device(int *dev)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	*dev = current->device;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *count)
{
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	*count = device_count;
	return CUDA_SUCCESS;
}

/* The driver is initialised, out is not NULL and dev is a device. */
static CUresult device_call(const void *out, int dev)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	return dev < 0 || dev >= device_count ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult r = device_call(device, ordinal);
	if (r == CUDA_SUCCESS)
		*device = ordinal;
	return r;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult r = device_call(pctx, dev);
	if (r == CUDA_SUCCESS)
		*pctx = &contexts[dev];
	return r;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	return device_call(contexts, dev);
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (ctx && (ctx < contexts || ctx >= contexts + device_count))
		return CUDA_ERROR_INVALID_CONTEXT;
	current = ctx;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = current;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *device)
{
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	return current_device(device);
}

EXPORT CUresult cuCtxSynchronize(void)
{
	int dev;
	return current_device(&dev);
}

EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
	(void)hStream;
	int dev;
	return current_device(&dev);
}

static const char *error_name(CUresult e)
{
	switch (e) {
	case CUDA_SUCCESS:
		return "CUDA_SUCCESS";
	case CUDA_ERROR_INVALID_VALUE:
		return "CUDA_ERROR_INVALID_VALUE";
	case CUDA_ERROR_OUT_OF_MEMORY:
		return "CUDA_ERROR_OUT_OF_MEMORY";
	case CUDA_ERROR_NOT_INITIALIZED:
		return "CUDA_ERROR_NOT_INITIALIZED";
	case CUDA_ERROR_DEINITIALIZED:
		return "CUDA_ERROR_DEINITIALIZED";
	case CUDA_ERROR_NO_DEVICE:
		return "CUDA_ERROR_NO_DEVICE";
	case CUDA_ERROR_INVALID_DEVICE:
		return "CUDA_ERROR_INVALID_DEVICE";
	case CUDA_ERROR_INVALID_CONTEXT:
		return "CUDA_ERROR_INVALID_CONTEXT";
	case CUDA_ERROR_INVALID_HANDLE:
		return "CUDA_ERROR_INVALID_HANDLE";
	case CUDA_ERROR_NOT_FOUND:
		return "CUDA_ERROR_NOT_FOUND";
	case CUDA_ERROR_ILLEGAL_ADDRESS:
		return "CUDA_ERROR_ILLEGAL_ADDRESS";
	case CUDA_ERROR_LAUNCH_FAILED:
		return "CUDA_ERROR_LAUNCH_FAILED";
	case CUDA_ERROR_NOT_SUPPORTED:
		return "CUDA_ERROR_NOT_SUPPORTED";
	case CUDA_ERROR_UNKNOWN:
		return "CUDA_ERROR_UNKNOWN";
	}
	return NULL;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	*pStr = error_name(error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	/* The stand-in's strings are the names: what a test compares is the code. */
	return cuGetErrorName(error, pStr);
}

/* ---- memory ----------------------------------------------------------------------------- */

/* Takes size bytes of device dev's memory, or says there are not enough. */
static int take(int dev, size_t size)
{
	unsigned long long used = atomic_load(&device_used[dev]);
	do {
		if (size > device_bytes || used > device_bytes - size)
			return 0;
	} while (!atomic_compare_exchange_weak(&device_used[dev], &used, used + size));
	return 1;
}

static void give(int dev, size_t size)
{
	atomic_fetch_sub(&device_used[dev], size);
}

static CUresult block_alloc(void **out, size_t size, int dev, enum block_kind kind)
{
	if (!out || size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (kind != BLOCK_HOST && !take(dev, size))
		return CUDA_ERROR_OUT_OF_MEMORY;
	void *base =
	    mmap(NULL, HEADER + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		if (kind != BLOCK_HOST)
			give(dev, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	struct block *b = base;
	b->magic = BLOCK_MAGIC;
	b->size = size;
	b->device = dev;
	b->kind = kind;
	*out = (char *)base + HEADER;
	return CUDA_SUCCESS;
}

/* The block a pointer from block_alloc() heads, or NULL when it is not one. Only pointers this
 * library handed out are passed here by a correct program; a test passes nothing else. */
static struct block *block_of(const void *p)
{
	if (!p || ((uintptr_t)p & (HEADER - 1)) != 0)
		return NULL;
	struct block *b = (struct block *)((char *)p - HEADER);
	return b->magic == BLOCK_MAGIC ? b : NULL;
}

static CUresult block_free(void *p, int host)
{
	struct block *b = block_of(p);
	if (!b || (b->kind == BLOCK_HOST) != host)
		return CUDA_ERROR_INVALID_VALUE;
	if (b->kind != BLOCK_HOST)
		give(b->device, b->size);
	b->magic = 0;
	munmap(b, HEADER + b->size);
	return CUDA_SUCCESS;
}

static CUresult device_alloc(CUdeviceptr *dptr, size_t size, enum block_kind kind)
{
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	void *p;
	r = block_alloc(&p, size, dev, kind);
	if (r == CUDA_SUCCESS)
		*dptr = (CUdeviceptr)(uintptr_t)p;
	return r;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	if (!free || !total)
		return CUDA_ERROR_INVALID_VALUE;
	*total = device_bytes;
	*free = device_bytes - atomic_load(&device_used[dev]);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	return device_alloc(dptr, bytesize, BLOCK_DEVICE);
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	(void)hStream;
	return device_alloc(dptr, bytesize, BLOCK_DEVICE);
}

EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                   size_t Height, unsigned int ElementSizeBytes)
{
	if (!pPitch || WidthInBytes == 0 || Height == 0 ||
	    (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
		return CUDA_ERROR_INVALID_VALUE;
	size_t pitch = (WidthInBytes + 511) & ~(size_t)511;
	if (Height > SIZE_MAX / pitch)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = device_alloc(dptr, pitch * Height, BLOCK_DEVICE);
	if (r == CUDA_SUCCESS)
		*pPitch = pitch;
	return r;
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != 0x2)
		return CUDA_ERROR_INVALID_VALUE;
	return device_alloc(dptr, bytesize, BLOCK_MANAGED);
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	return block_free((void *)(uintptr_t)dptr, 0);
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	(void)hStream;
	return cuMemFree_v2(dptr);
}

EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	(void)Flags;
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	return block_alloc(pp, bytesize, dev, BLOCK_HOST);
}

EXPORT CUresult cuMemFreeHost(void *p)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	return block_free(p, 1);
}

/* ---- virtual memory management (what expandable segments use) --------------------------- */

EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                              int option)
{
	(void)option;
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!granularity || !prop)
		return CUDA_ERROR_INVALID_VALUE;
	*granularity = GRANULARITY;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                    CUdeviceptr addr, unsigned long long flags)
{
	(void)alignment;
	(void)addr;
	(void)flags;
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!ptr || size == 0 || size % GRANULARITY)
		return CUDA_ERROR_INVALID_VALUE;
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	return munmap((void *)(uintptr_t)ptr, size) == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                            const CUmemAllocationProp *prop, unsigned long long flags)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	if (!handle || !prop || flags != 0 || size == 0 || size % GRANULARITY ||
	    prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	int dev = prop->location.id;
	if (dev < 0 || dev >= device_count)
		return CUDA_ERROR_INVALID_DEVICE;
	if (!take(dev, size))
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct phys *ph = NULL;
	int fd = memfd_create("standin-cuda", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)size) == 0)
		ph = mmap(NULL, sizeof *ph, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		          0);
	if (!ph || ph == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		give(dev, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*ph = (struct phys){ .magic = HANDLE_MAGIC, .size = size, .device = dev, .fd = fd };
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)ph;
	return CUDA_SUCCESS;
}

static struct phys *phys_of(CUmemGenericAllocationHandle handle)
{
	struct phys *ph = (struct phys *)(uintptr_t)handle;
	return ph && ph->magic == HANDLE_MAGIC ? ph : NULL;
}

EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	struct phys *ph = phys_of(handle);
	if (!ph)
		return CUDA_ERROR_INVALID_HANDLE;
	give(ph->device, ph->size);
	close(ph->fd);
	ph->magic = 0;
	munmap(ph, sizeof *ph);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                         CUmemGenericAllocationHandle handle, unsigned long long flags)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	struct phys *ph = phys_of(handle);
	if (!ph)
		return CUDA_ERROR_INVALID_HANDLE;
	if (flags != 0 || size == 0 || offset > ph->size || size > ph->size - offset)
		return CUDA_ERROR_INVALID_VALUE;
	void *p = mmap((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
	               ph->fd, (off_t)offset);
	return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	void *p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                               size_t count)
{
	(void)ptr;
	(void)size;
	CUresult r = ready();
	if (r != CUDA_SUCCESS)
		return r;
	return desc && count > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- kernels and copies ------------------------------------------------------------------ */

typedef void (*standin_kernel)(void **params);

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra)
{
	(void)sharedMemBytes;
	(void)hStream;
	(void)extra;
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	if (!f || !gridDimX || !gridDimY || !gridDimZ || !blockDimX || !blockDimY || !blockDimZ)
		return CUDA_ERROR_INVALID_VALUE;
	((standin_kernel)(void *)f)(kernelParams);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                                 void **extra)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	return cuLaunchKernel(f, config->gridDimX, config->gridDimY, config->gridDimZ,
	                      config->blockDimX, config->blockDimY, config->blockDimZ,
	                      config->sharedMemBytes, config->hStream, kernelParams, extra);
}

EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
	(void)hStream;
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	if (!hGraphExec)
		return CUDA_ERROR_INVALID_VALUE;
	((standin_kernel)(void *)hGraphExec)(NULL);
	return CUDA_SUCCESS;
}

static CUresult copy(void *dst, const void *src, size_t n)
{
	int dev;
	CUresult r = current_device(&dev);
	if (r != CUDA_SUCCESS)
		return r;
	if (n && (!dst || !src))
		return CUDA_ERROR_INVALID_VALUE;
	memmove(dst, src, n);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return copy((void *)(uintptr_t)dstDevice, srcHost, ByteCount);
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy(dstHost, (const void *)(uintptr_t)srcDevice, ByteCount);
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy((void *)(uintptr_t)dstDevice, (const void *)(uintptr_t)srcDevice, ByteCount);
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                     CUstream hStream)
{
	(void)hStream;
	return cuMemcpyHtoD_v2(dstDevice, srcHost, ByteCount);
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
	(void)hStream;
	return cuMemcpyDtoH_v2(dstHost, srcDevice, ByteCount);
}

/* ---- cuGetProcAddress --------------------------------------------------------------------- */

/* The driver's table: a base name, the function a caller of version `since` or later gets, and
 * for the names that have two versions, the one older callers get (NULL: none). */
struct entry {
	const char *name;
	void *fn;
	int since;
	void *older;
};

#define FN(f) ((void *)(f))

static const struct entry table[] = {
	{ "cuInit", FN(cuInit), 2000, NULL },
	{ "cuDriverGetVersion", FN(cuDriverGetVersion), 2020, NULL },
	{ "cuDeviceGetCount", FN(cuDeviceGetCount), 2000, NULL },
	{ "cuDeviceGet", FN(cuDeviceGet), 2000, NULL },
	{ "cuDevicePrimaryCtxRetain", FN(cuDevicePrimaryCtxRetain), 7000, NULL },
	{ "cuDevicePrimaryCtxRelease", FN(cuDevicePrimaryCtxRelease_v2), 11000, NULL },
	{ "cuCtxSetCurrent", FN(cuCtxSetCurrent), 4000, NULL },
	{ "cuCtxGetCurrent", FN(cuCtxGetCurrent), 4000, NULL },
	{ "cuCtxGetDevice", FN(cuCtxGetDevice), 2000, NULL },
	{ "cuCtxSynchronize", FN(cuCtxSynchronize), 2000, NULL },
	{ "cuStreamSynchronize", FN(cuStreamSynchronize), 2000, NULL },
	{ "cuGetErrorString", FN(cuGetErrorString), 6000, NULL },
	{ "cuGetErrorName", FN(cuGetErrorName), 6000, NULL },
	{ "cuMemGetInfo", FN(cuMemGetInfo_v2), 3020, NULL },
	{ "cuMemAlloc", FN(cuMemAlloc_v2), 3020, NULL },
	{ "cuMemAllocAsync", FN(cuMemAllocAsync), 11020, NULL },
	{ "cuMemAllocPitch", FN(cuMemAllocPitch_v2), 3020, NULL },
	{ "cuMemAllocManaged", FN(cuMemAllocManaged), 6000, NULL },
	{ "cuMemFree", FN(cuMemFree_v2), 3020, NULL },
	{ "cuMemFreeAsync", FN(cuMemFreeAsync), 11020, NULL },
	{ "cuMemHostAlloc", FN(cuMemHostAlloc), 2020, NULL },
	{ "cuMemFreeHost", FN(cuMemFreeHost), 2000, NULL },
	{ "cuMemGetAllocationGranularity", FN(cuMemGetAllocationGranularity), 10020, NULL },
	{ "cuMemAddressReserve", FN(cuMemAddressReserve), 10020, NULL },
	{ "cuMemAddressFree", FN(cuMemAddressFree), 10020, NULL },
	{ "cuMemCreate", FN(cuMemCreate), 10020, NULL },
	{ "cuMemRelease", FN(cuMemRelease), 10020, NULL },
	{ "cuMemMap", FN(cuMemMap), 10020, NULL },
	{ "cuMemUnmap", FN(cuMemUnmap), 10020, NULL },
	{ "cuMemSetAccess", FN(cuMemSetAccess), 10020, NULL },
	{ "cuLaunchKernel", FN(cuLaunchKernel), 4000, NULL },
	{ "cuLaunchKernelEx", FN(cuLaunchKernelEx), 11060, NULL },
	{ "cuGraphLaunch", FN(cuGraphLaunch), 10000, NULL },
	{ "cuMemcpyHtoD", FN(cuMemcpyHtoD_v2), 3020, NULL },
	{ "cuMemcpyDtoH", FN(cuMemcpyDtoH_v2), 3020, NULL },
	{ "cuMemcpyDtoD", FN(cuMemcpyDtoD_v2), 3020, NULL },
	{ "cuMemcpyHtoDAsync", FN(cuMemcpyHtoDAsync_v2), 3020, NULL },
	{ "cuMemcpyDtoHAsync", FN(cuMemcpyDtoHAsync_v2), 3020, NULL },
	{ "cuGetProcAddress", FN(cuGetProcAddress_v2), 12050, FN(cuGetProcAddress) },
};

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                    cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus)
{
	if (!symbol || !pfn || flags > 2)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcmp(symbol, table[i].name) != 0)
			continue;
		if (cudaVersion >= table[i].since)
			*pfn = table[i].fn;
		else if (table[i].older && cudaVersion >= 11030)
			*pfn = table[i].older;
		status =
		    *pfn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
		break;
	}
	if (symbolStatus)
		*symbolStatus = status;
	return *pfn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}
