/* gpu_paths.c: a program that makes CUDA calls the way real programs reach them, for the gpu
 * suite's driver (gpu.py) to run under the preloaded library. Linked with the stand-in
 * libcudart.so.12 and libcuda.so.1 (standin_cuda.h).
 *
 * usage: gpu-paths [--path PATH] OP...
 * PATH is how a function is found (default direct):
 *   direct              the symbol the program was linked against
 *   dlsym               dlsym() on a dlopen() handle of libcuda.so.1 or libcudart.so.12
 *   procaddr            cuGetProcAddress(base name, 12000), the 11.3 to 12.4 signature
 *   procaddr-v2         cuGetProcAddress_v2(base name, 12080, &symbolStatus)
 *   procaddr-v2-null    cuGetProcAddress_v2 with a NULL symbolStatus
 *   dlsym-procaddr-v2   cuGetProcAddress_v2 found with dlsym on a libcuda.so.1 handle, as
 *                       libcudart finds it
 *   entrypoint          cudaGetDriverEntryPoint(base name, &driverStatus)
 *   entrypoint-version  cudaGetDriverEntryPointByVersion(base name, 12080, &driverStatus)
 * The last six find driver functions only; runtime functions (cuda*) take direct or dlsym.
 *
 * OPs, each printing one line "OP fn=FUNCTION rc=CODE key=REQUEST [detail=VALUE]...":
 *   cuInit cuDeviceGetCount cudaGetDeviceCount       count=N where there is a count
 *   device:N                                         the driver's and the runtime's device
 *   ALLOC:SIZE  (cudaMalloc cudaMallocAsync cudaMallocFromPoolAsync cudaMallocManaged
 *               cudaMallocPitch cudaMallocHost cudaHostAlloc cuMemAlloc cuMemAllocAsync
 *               cuMemAllocPitch cuMemAllocManaged cuMemCreate): size=SIZE; a pitched
 *               allocation is 16 rows of SIZE/16 bytes (SIZE a multiple of 8 KiB), cuMemCreate's
 *               SIZE a multiple of 2 MiB; kept until freed
 *   free freeall     the last live allocation (all of them) with its own free function (a
 *                    line with fn=none when none is live)
 *   LAUNCH      (cudaLaunchKernel cudaLaunchKernelExC cudaGraphLaunch cuLaunchKernel
 *               cuLaunchKernelEx cuGraphLaunch): ran=1 when the kernel ran
 *   COPY:SIZE   (cudaMemcpyHtoD cudaMemcpyDtoH cudaMemcpyDtoD cudaMemcpyAsyncHtoD
 *               cudaMemcpyAsyncDtoH cuMemcpyHtoD cuMemcpyDtoH cuMemcpyDtoD cuMemcpyHtoDAsync
 *               cuMemcpyDtoHAsync): data=ok (the bytes arrived), unchanged or bad
 *   SYNC        (cudaDeviceSynchronize cudaStreamSynchronize cudaGetLastError
 *               cudaPeekAtLastError cuCtxSynchronize cuStreamSynchronize)
 *   torch:SIZE  a caching allocator's allocation (cudaMalloc; a cached block that fits is
 *               reused): on error 2 it frees every cached block and tries once more, as
 *               PyTorch's does: attempts=1|2 cache_freed=N reused=0|1
 *   torch-free  the last live torch block goes back to the cache (no cudaFree; none: a line)
 *   expand:SIZE expandable segments: SIZE bytes (2 MiB granules) of a reserved range: the
 *               cached granules when they hold SIZE (reused=), else new ones mapped with
 *               cuMemCreate + cuMemMap + cuMemSetAccess, found by PATH (mapped=); on error 2
 *               the cached granules are unmapped and released and the granule is tried once
 *               more: attempts=, cache_freed=; data=ok when the granules hold what was written
 *   expand-free the last mapped granule goes to the segment's cache (still mapped)
 *   request:KEY the thread's request key becomes KEY: a request with "X-Request-Id: KEY"
 *               arrives on a loopback connection the program accepted
 *   wait        prints "waiting pid=PID" and waits for a line (or the end) on stdin
 * Exit: 0 when every op ran (whatever the CUDA calls returned), 2 on a usage error. */
#include "standin_cuda.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Function pointers travel as object pointers (dlsym, cuGetProcAddress, a kernel given as
 * its host function): POSIX guarantees the conversion, ISO C does not, hence no -Wpedantic. */
#pragma GCC diagnostic ignored "-Wpedantic"

#define MAX_LIVE     4096
#define MAX_GRANULES 64
#define GRANULE      (2ull << 20)
#define COPY_MAX     (16u << 20)

enum path {
	PATH_DIRECT,
	PATH_DLSYM,
	PATH_PROCADDR,
	PATH_PROCADDR_V2,
	PATH_PROCADDR_V2_NULL,
	PATH_DLSYM_PROCADDR_V2,
	PATH_ENTRYPOINT,
	PATH_ENTRYPOINT_VERSION,
};

static const char *const path_names[] = { "direct",           "dlsym",
	                                  "procaddr",         "procaddr-v2",
	                                  "procaddr-v2-null", "dlsym-procaddr-v2",
	                                  "entrypoint",       "entrypoint-version" };

static enum path path = PATH_DIRECT;
static char key[160] = "-";

static void usage(const char *why)
{
	fprintf(stderr, "gpu-paths: %s\nusage: gpu-paths [--path PATH] OP...\n", why);
	exit(2);
}

/* ---- finding functions --------------------------------------------------------------------- */

/* A function: its base name (what cuGetProcAddress takes), its exported symbol, the address the
 * link gave it, and whether it is the runtime's. */
struct fn {
	const char *base;
	const char *symbol;
	void *linked;
	int runtime;
};

#define DRV(base, sym)                     \
	{                                  \
		base, #sym, (void *)sym, 0 \
	}
#define RT(sym)                            \
	{                                  \
#sym, #sym, (void *)sym, 1 \
	}

static const struct fn fns[] = {
	DRV("cuInit", cuInit),
	DRV("cuDeviceGetCount", cuDeviceGetCount),
	DRV("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain),
	DRV("cuCtxSetCurrent", cuCtxSetCurrent),
	DRV("cuCtxSynchronize", cuCtxSynchronize),
	DRV("cuStreamSynchronize", cuStreamSynchronize),
	DRV("cuMemAlloc", cuMemAlloc_v2),
	DRV("cuMemAllocAsync", cuMemAllocAsync),
	DRV("cuMemAllocPitch", cuMemAllocPitch_v2),
	DRV("cuMemAllocManaged", cuMemAllocManaged),
	DRV("cuMemFree", cuMemFree_v2),
	DRV("cuMemFreeAsync", cuMemFreeAsync),
	DRV("cuMemCreate", cuMemCreate),
	DRV("cuMemRelease", cuMemRelease),
	DRV("cuMemAddressReserve", cuMemAddressReserve),
	DRV("cuMemMap", cuMemMap),
	DRV("cuMemUnmap", cuMemUnmap),
	DRV("cuMemSetAccess", cuMemSetAccess),
	DRV("cuLaunchKernel", cuLaunchKernel),
	DRV("cuLaunchKernelEx", cuLaunchKernelEx),
	DRV("cuGraphLaunch", cuGraphLaunch),
	DRV("cuMemcpyHtoD", cuMemcpyHtoD_v2),
	DRV("cuMemcpyDtoH", cuMemcpyDtoH_v2),
	DRV("cuMemcpyDtoD", cuMemcpyDtoD_v2),
	DRV("cuMemcpyHtoDAsync", cuMemcpyHtoDAsync_v2),
	DRV("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync_v2),
	RT(cudaGetDeviceCount),
	RT(cudaSetDevice),
	RT(cudaMalloc),
	RT(cudaMallocAsync),
	RT(cudaMallocFromPoolAsync),
	RT(cudaMallocManaged),
	RT(cudaMallocPitch),
	RT(cudaMallocHost),
	RT(cudaHostAlloc),
	RT(cudaFree),
	RT(cudaFreeAsync),
	RT(cudaFreeHost),
	RT(cudaLaunchKernel),
	RT(cudaLaunchKernelExC),
	RT(cudaGraphLaunch),
	RT(cudaMemcpy),
	RT(cudaMemcpyAsync),
	RT(cudaDeviceSynchronize),
	RT(cudaStreamSynchronize),
	RT(cudaGetLastError),
	RT(cudaPeekAtLastError),
};

static const struct fn *fn_named(const char *symbol)
{
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		if (strcmp(fns[i].symbol, symbol) == 0)
			return &fns[i];
	fprintf(stderr, "gpu-paths: no function %s\n", symbol);
	exit(2);
}

static void *library(int runtime)
{
	static void *handles[2];
	if (!handles[runtime]) {
		const char *name = runtime ? "libcudart.so.12" : "libcuda.so.1";
		handles[runtime] = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (!handles[runtime]) {
			fprintf(stderr, "gpu-paths: dlopen %s: %s\n", name, dlerror());
			exit(2);
		}
	}
	return handles[runtime];
}

/* The address of the function exported as symbol, found by the chosen path; the program ends
 * when the path cannot find it (a lookup that fails is a test's failure, said on stderr). */
static void *find(const char *symbol)
{
	const struct fn *f = fn_named(symbol);
	void *p = NULL;
	int rc = 0, status = -1;
	if (f->runtime && path != PATH_DIRECT && path != PATH_DLSYM)
		usage("runtime functions are found by --path direct or dlsym only");
	switch (path) {
	case PATH_DIRECT:
		p = f->linked;
		break;
	case PATH_DLSYM:
		p = dlsym(library(f->runtime), f->symbol);
		break;
	case PATH_PROCADDR:
		rc = cuGetProcAddress(f->base, &p, 12000, CU_GET_PROC_ADDRESS_DEFAULT);
		break;
	case PATH_PROCADDR_V2: {
		CUdriverProcAddressQueryResult s;
		rc = cuGetProcAddress_v2(f->base, &p, 12080, CU_GET_PROC_ADDRESS_DEFAULT, &s);
		status = (int)s;
		break;
	}
	case PATH_PROCADDR_V2_NULL:
		rc = cuGetProcAddress_v2(f->base, &p, 12080, CU_GET_PROC_ADDRESS_DEFAULT, NULL);
		break;
	case PATH_DLSYM_PROCADDR_V2: {
		CUresult (*get)(const char *, void **, int, cuuint64_t,
		                CUdriverProcAddressQueryResult *) =
		    (CUresult(*)(const char *, void **, int, cuuint64_t,
		                 CUdriverProcAddressQueryResult *))dlsym(library(0),
		                                                         "cuGetProcAddress_v2");
		CUdriverProcAddressQueryResult s;
		rc = get ? (int)get(f->base, &p, 12080, CU_GET_PROC_ADDRESS_DEFAULT, &s) : -1;
		status = get ? (int)s : -1;
		break;
	}
	case PATH_ENTRYPOINT: {
		enum cudaDriverEntryPointQueryResult s;
		rc = cudaGetDriverEntryPoint(f->base, &p, cudaEnableDefault, &s);
		status = (int)s;
		break;
	}
	case PATH_ENTRYPOINT_VERSION: {
		enum cudaDriverEntryPointQueryResult s;
		rc = cudaGetDriverEntryPointByVersion(f->base, &p, 12080, cudaEnableDefault, &s);
		status = (int)s;
		break;
	}
	}
	if (!p || rc != 0 || status > 0) {
		fprintf(stderr, "gpu-paths: %s not found by %s (rc %d, status %d)\n", symbol,
		        path_names[path], rc, status);
		exit(3);
	}
	return p;
}

/* find() once per call site, typed as the function it finds. */
#define FIND(symbol)                                             \
	({                                                       \
		static __typeof__(&symbol) f_;                   \
		if (!f_)                                         \
			f_ = (__typeof__(&symbol))find(#symbol); \
		f_;                                              \
	})

/* ---- output -----------------------------------------------------------------------------------
 */

static void say(const char *op, const char *fn, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(const char *op, const char *fn, int rc, const char *fmt, ...)
{
	printf("%s fn=%s rc=%d key=%s", op, fn, rc, key);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		putchar(' ');
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
}

/* ---- the driver's context -------------------------------------------------------------------- */

static int driver_inited; /* cuInit succeeded (an op or the setup made it) */
static int driver_ctx_set;

/* cuInit (unless an op made it) and the device's primary context current, through the path:
 * what a driver program does first. 0, or the error of the call that failed. */
static int driver_ready(int device)
{
	if (!driver_inited) {
		int rc = FIND(cuInit)(0);
		if (rc != CUDA_SUCCESS)
			return rc;
		driver_inited = 1;
	}
	if (!driver_ctx_set) {
		CUcontext ctx;
		int rc = FIND(cuDevicePrimaryCtxRetain)(&ctx, device);
		if (rc == CUDA_SUCCESS)
			rc = FIND(cuCtxSetCurrent)(ctx);
		if (rc != CUDA_SUCCESS)
			return rc;
		driver_ctx_set = 1;
	}
	return 0;
}

static int current_device;

/* Ends the op with the setup's error when the driver could not be made ready. */
#define DRIVER_READY(op, fn)                                 \
	do {                                                 \
		int ready_ = driver_ready(current_device);   \
		if (ready_ != 0) {                           \
			say(op, fn, ready_, "setup=failed"); \
			return;                              \
		}                                            \
	} while (0)

static void op_init(const char *op)
{
	if (strcmp(op, "cuInit") == 0) {
		int rc = FIND(cuInit)(0);
		if (rc == CUDA_SUCCESS)
			driver_inited = 1;
		say(op, "cuInit", rc, NULL);
	} else if (strcmp(op, "cuDeviceGetCount") == 0) {
		int count = -1;
		int rc = FIND(cuDeviceGetCount)(&count);
		say(op, "cuDeviceGetCount", rc, "count=%d", count);
	} else {
		int count = -1;
		int rc = FIND(cudaGetDeviceCount)(&count);
		say(op, "cudaGetDeviceCount", rc, "count=%d", count);
	}
}

static void op_device(const char *op, int device)
{
	current_device = device;
	driver_ctx_set = 0;
	int rc = driver_ready(device);
	if (rc == 0 && path <= PATH_DLSYM)
		rc = FIND(cudaSetDevice)(device);
	say(op, "cudaSetDevice", rc, "device=%d", device);
}

/* ---- allocations --------------------------------------------------------------------------- */

struct live {
	void *p;
	CUmemGenericAllocationHandle handle;
	size_t size;
	const char *freer;
};

static struct live live[MAX_LIVE];
static size_t nlive;

static void keep(void *p, CUmemGenericAllocationHandle handle, size_t size, const char *freer)
{
	if (nlive == MAX_LIVE)
		usage("too many live allocations");
	live[nlive++] = (struct live){ p, handle, size, freer };
}

static CUmemAllocationProp device_prop(int device)
{
	CUmemAllocationProp prop;
	memset(&prop, 0, sizeof prop);
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = device;
	return prop;
}

static void op_alloc(const char *op, const char *name, size_t size)
{
	void *p = NULL;
	CUdeviceptr d = 0;
	CUmemGenericAllocationHandle h = 0;
	size_t pitch = 0;
	int rc;
	const char *fn = name, *freer = "cudaFree";
	if (strncmp(name, "cuda", 4) == 0) {
		if (strcmp(name, "cudaMalloc") == 0) {
			rc = FIND(cudaMalloc)(&p, size);
		} else if (strcmp(name, "cudaMallocAsync") == 0) {
			rc = FIND(cudaMallocAsync)(&p, size, NULL);
			freer = "cudaFreeAsync";
		} else if (strcmp(name, "cudaMallocFromPoolAsync") == 0) {
			rc = FIND(cudaMallocFromPoolAsync)(&p, size, NULL, NULL);
			freer = "cudaFreeAsync";
		} else if (strcmp(name, "cudaMallocManaged") == 0) {
			rc = FIND(cudaMallocManaged)(&p, size, cudaMemAttachGlobal);
		} else if (strcmp(name, "cudaMallocPitch") == 0) {
			rc = FIND(cudaMallocPitch)(&p, &pitch, size / 16, 16);
		} else if (strcmp(name, "cudaMallocHost") == 0) {
			rc = FIND(cudaMallocHost)(&p, size);
			freer = "cudaFreeHost";
		} else if (strcmp(name, "cudaHostAlloc") == 0) {
			rc = FIND(cudaHostAlloc)(&p, size, cudaHostAllocDefault);
			freer = "cudaFreeHost";
		} else {
			usage("unknown allocation");
		}
	} else {
		DRIVER_READY(op, name);
		freer = "cuMemFree_v2";
		if (strcmp(name, "cuMemAlloc") == 0) {
			fn = "cuMemAlloc_v2";
			rc = FIND(cuMemAlloc_v2)(&d, size);
		} else if (strcmp(name, "cuMemAllocAsync") == 0) {
			rc = FIND(cuMemAllocAsync)(&d, size, NULL);
			freer = "cuMemFreeAsync";
		} else if (strcmp(name, "cuMemAllocPitch") == 0) {
			fn = "cuMemAllocPitch_v2";
			rc = FIND(cuMemAllocPitch_v2)(&d, &pitch, size / 16, 16, 4);
		} else if (strcmp(name, "cuMemAllocManaged") == 0) {
			rc = FIND(cuMemAllocManaged)(&d, size, CU_MEM_ATTACH_GLOBAL);
		} else if (strcmp(name, "cuMemCreate") == 0) {
			CUmemAllocationProp prop = device_prop(current_device);
			rc = FIND(cuMemCreate)(&h, size, &prop, 0);
			freer = "cuMemRelease";
		} else {
			usage("unknown allocation");
		}
		p = (void *)(uintptr_t)d;
	}
	if (rc == 0)
		keep(p, h, size, freer);
	say(op, fn, rc, "size=%zu", size);
}

static int free_one(struct live *l)
{
	const char *f = l->freer;
	if (strcmp(f, "cudaFree") == 0)
		return FIND(cudaFree)(l->p);
	if (strcmp(f, "cudaFreeAsync") == 0)
		return FIND(cudaFreeAsync)(l->p, NULL);
	if (strcmp(f, "cudaFreeHost") == 0)
		return FIND(cudaFreeHost)(l->p);
	if (strcmp(f, "cuMemFree_v2") == 0)
		return FIND(cuMemFree_v2)((CUdeviceptr)(uintptr_t)l->p);
	if (strcmp(f, "cuMemFreeAsync") == 0)
		return FIND(cuMemFreeAsync)((CUdeviceptr)(uintptr_t)l->p, NULL);
	return FIND(cuMemRelease)(l->handle);
}

static void op_free(const char *op, int all)
{
	if (nlive == 0) /* what failed left nothing to free: said, not an error */
		say(op, "none", 0, "size=0");
	while (nlive > 0) {
		struct live *l = &live[--nlive];
		say(op, l->freer, free_one(l), "size=%zu", l->size);
		if (!all)
			break;
	}
}

/* ---- a PyTorch-like caching allocator ---------------------------------------------------------
 */

struct torch_block {
	void *p;
	size_t size;
};

static struct torch_block torch_live[MAX_LIVE], torch_cache[MAX_LIVE];
static size_t ntorch_live, ntorch_cache;

static void op_torch(const char *op, size_t size)
{
	/* The smallest cached block that fits is reused without a call. */
	size_t best = ntorch_cache;
	for (size_t i = 0; i < ntorch_cache; i++)
		if (torch_cache[i].size >= size &&
		    (best == ntorch_cache || torch_cache[i].size < torch_cache[best].size))
			best = i;
	if (best < ntorch_cache) {
		torch_live[ntorch_live++] = torch_cache[best];
		torch_cache[best] = torch_cache[--ntorch_cache];
		say(op, "cudaMalloc", 0, "size=%zu attempts=0 cache_freed=0 reused=1", size);
		return;
	}
	cudaError_t (*malloc_fn)(void **, size_t) = FIND(cudaMalloc);
	void *p = NULL;
	int attempts = 1, freed = 0;
	cudaError_t rc = malloc_fn(&p, size);
	if (rc == cudaErrorMemoryAllocation) {
		/* What PyTorch does: give the cached blocks back to the device, try once more. */
		while (ntorch_cache > 0) {
			FIND(cudaFree)(torch_cache[--ntorch_cache].p);
			freed++;
		}
		attempts = 2;
		rc = malloc_fn(&p, size);
	}
	if (rc == cudaSuccess)
		torch_live[ntorch_live++] = (struct torch_block){ p, size };
	say(op, "cudaMalloc", rc, "size=%zu attempts=%d cache_freed=%d reused=0", size, attempts,
	    freed);
}

static void op_torch_free(const char *op)
{
	size_t size = 0;
	if (ntorch_live > 0) { /* none when the allocation failed */
		torch_cache[ntorch_cache++] = torch_live[--ntorch_live];
		size = torch_cache[ntorch_cache - 1].size;
	}
	say(op, "none", 0, "size=%zu cached=%zu", size, ntorch_cache);
}

/* ---- expandable segments ----------------------------------------------------------------------
 */

enum granule_state { GRANULE_FREE, GRANULE_MAPPED, GRANULE_CACHED };

static struct {
	CUdeviceptr base;
	CUmemGenericAllocationHandle handle[MAX_GRANULES];
	enum granule_state state[MAX_GRANULES];
	int order[MAX_GRANULES]; /* mapped granules, in the order they were handed out */
	int norder;
} seg;

static int segment_reserve(void)
{
	if (seg.base)
		return 0;
	return FIND(cuMemAddressReserve)(&seg.base, MAX_GRANULES * GRANULE, 0, 0, 0);
}

static int segment_release_cached(void)
{
	int freed = 0;
	for (int i = 0; i < MAX_GRANULES; i++) {
		if (seg.state[i] != GRANULE_CACHED)
			continue;
		FIND(cuMemUnmap)(seg.base + i * GRANULE, GRANULE);
		FIND(cuMemRelease)(seg.handle[i]);
		seg.state[i] = GRANULE_FREE;
		freed++;
	}
	return freed;
}

/* Maps a new granule at slot i: cuMemCreate, cuMemMap, cuMemSetAccess. */
static int segment_map(int i, int *attempts, int *freed)
{
	CUmemAllocationProp prop = device_prop(current_device);
	CUresult (*create)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
	                   unsigned long long) = FIND(cuMemCreate);
	CUresult rc = create(&seg.handle[i], GRANULE, &prop, 0);
	if (rc == CUDA_ERROR_OUT_OF_MEMORY) {
		*freed += segment_release_cached();
		*attempts = 2;
		rc = create(&seg.handle[i], GRANULE, &prop, 0);
	}
	if (rc != CUDA_SUCCESS)
		return rc;
	CUdeviceptr at = seg.base + i * GRANULE;
	rc = FIND(cuMemMap)(at, GRANULE, 0, seg.handle[i], 0);
	if (rc == CUDA_SUCCESS) {
		CUmemAccessDesc access = { .location = prop.location,
			                   .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
		rc = FIND(cuMemSetAccess)(at, GRANULE, &access, 1);
	}
	if (rc != CUDA_SUCCESS)
		FIND(cuMemRelease)(seg.handle[i]);
	return rc;
}

static void op_expand(const char *op, size_t size)
{
	DRIVER_READY(op, "cuMemCreate");
	int rc = segment_reserve();
	int attempts = 1, freed = 0, reused = 0, mapped = 0, data_ok = 1;
	size_t want = (size + GRANULE - 1) / GRANULE, cached = 0;
	for (int i = 0; i < MAX_GRANULES; i++)
		cached += seg.state[i] == GRANULE_CACHED;
	/* The cache serves a request it can hold whole, as a cached block that fits does. */
	enum granule_state take = cached >= want ? GRANULE_CACHED : GRANULE_FREE;
	for (size_t n = 0; rc == 0 && n < want; n++) {
		int slot = -1;
		for (int i = 0; i < MAX_GRANULES && slot < 0; i++)
			if (seg.state[i] == take)
				slot = i;
		if (slot < 0)
			usage("expand: the segment is full");
		if (take == GRANULE_CACHED) {
			reused++;
		} else {
			rc = segment_map(slot, &attempts, &freed);
			if (rc != 0)
				break;
			mapped++;
		}
		seg.state[slot] = GRANULE_MAPPED;
		seg.order[seg.norder++] = slot;
		/* The granule is memory: what is written there is read back. */
		volatile unsigned char *b = (unsigned char *)(uintptr_t)(seg.base + slot * GRANULE);
		b[0] = (unsigned char)(slot + 1);
		b[GRANULE - 1] = (unsigned char)(slot + 2);
		data_ok &= b[0] == (unsigned char)(slot + 1) &&
		           b[GRANULE - 1] == (unsigned char)(slot + 2);
	}
	say(op, "cuMemCreate", rc,
	    "size=%zu attempts=%d cache_freed=%d reused=%d mapped=%d data=%s", size, attempts,
	    freed, reused, mapped, data_ok ? "ok" : "bad");
}

static void op_expand_free(const char *op)
{
	if (seg.norder == 0)
		usage("expand-free: no granule is mapped");
	int slot = seg.order[--seg.norder];
	seg.state[slot] = GRANULE_CACHED;
	say(op, "none", 0, "slot=%d", slot);
}

/* ---- kernels ----------------------------------------------------------------------------------
 */

static int kernel_runs;

/* A "kernel": the stand-ins run it on the host, with its parameters. */
static void kernel(void **params)
{
	kernel_runs += *(int *)params[0];
}

static void graph(void **params)
{
	(void)params;
	kernel_runs++;
}

static void op_launch(const char *op)
{
	int one = 1;
	void *args[] = { &one };
	int before = kernel_runs, rc;
	dim3 grid = { 1, 1, 1 }, block = { 32, 1, 1 };
	if (strcmp(op, "cudaLaunchKernel") == 0) {
		rc = FIND(cudaLaunchKernel)((const void *)kernel, grid, block, args, 0, NULL);
	} else if (strcmp(op, "cudaLaunchKernelExC") == 0) {
		cudaLaunchConfig_t config = { .gridDim = grid, .blockDim = block };
		rc = FIND(cudaLaunchKernelExC)(&config, (const void *)kernel, args);
	} else if (strcmp(op, "cudaGraphLaunch") == 0) {
		rc = FIND(cudaGraphLaunch)((cudaGraphExec_t)(void *)graph, NULL);
	} else {
		DRIVER_READY(op, op);
		if (strcmp(op, "cuLaunchKernel") == 0) {
			rc = FIND(cuLaunchKernel)((CUfunction)(void *)kernel, 1, 1, 1, 32, 1, 1, 0,
			                          NULL, args, NULL);
		} else if (strcmp(op, "cuLaunchKernelEx") == 0) {
			CUlaunchConfig config = { .gridDimX = 1,
				                  .gridDimY = 1,
				                  .gridDimZ = 1,
				                  .blockDimX = 32,
				                  .blockDimY = 1,
				                  .blockDimZ = 1 };
			rc =
			    FIND(cuLaunchKernelEx)(&config, (CUfunction)(void *)kernel, args, NULL);
		} else {
			rc = FIND(cuGraphLaunch)((CUgraphExec)(void *)graph, NULL);
		}
	}
	say(op, op, rc, "ran=%d", kernel_runs - before);
}

/* ---- copies -----------------------------------------------------------------------------------
 */

/* Device memory is host memory in the stand-ins: the device side of a copy is a buffer the
 * program can inspect, and needs no allocation (which an allocation rule would decide). */
static unsigned char device_a[COPY_MAX], device_b[COPY_MAX], host[COPY_MAX];

static const char *verdict(const unsigned char *dst, size_t n, unsigned char want,
                           unsigned char before)
{
	int all_want = 1, all_before = 1;
	for (size_t i = 0; i < n; i++) {
		all_want &= dst[i] == (unsigned char)(want + i);
		all_before &= dst[i] == before;
	}
	return n == 0 || all_want ? "ok" : all_before ? "unchanged" : "bad";
}

static void op_copy(const char *op, size_t n)
{
	if (n > COPY_MAX)
		usage("copy: at most 16 MiB");
	static unsigned char round;
	round++;
	unsigned char want = round, before = (unsigned char)(round ^ 0x80);
	const unsigned char *dst;
	int to_device = strstr(op, "HtoD") != NULL, d2d = strstr(op, "DtoD") != NULL;
	unsigned char *src_buf = to_device ? host : d2d ? device_b : device_a;
	unsigned char *dst_buf = to_device ? device_a : d2d ? device_a : host;
	for (size_t i = 0; i < n; i++) {
		src_buf[i] = (unsigned char)(want + i);
		dst_buf[i] = before;
	}
	dst = dst_buf;
	CUdeviceptr dd = (CUdeviceptr)(uintptr_t)dst_buf, sd = (CUdeviceptr)(uintptr_t)src_buf;
	const char *fn = op;
	int rc;
	if (strncmp(op, "cuda", 4) == 0) {
		enum cudaMemcpyKind kind = to_device ? cudaMemcpyHostToDevice
		                           : d2d     ? cudaMemcpyDeviceToDevice
		                                     : cudaMemcpyDeviceToHost;
		if (strncmp(op, "cudaMemcpyAsync", 15) == 0) {
			fn = "cudaMemcpyAsync";
			rc = FIND(cudaMemcpyAsync)(dst_buf, src_buf, n, kind, NULL);
		} else {
			fn = "cudaMemcpy";
			rc = FIND(cudaMemcpy)(dst_buf, src_buf, n, kind);
		}
	} else {
		DRIVER_READY(op, op);
		if (strcmp(op, "cuMemcpyHtoD") == 0) {
			fn = "cuMemcpyHtoD_v2";
			rc = FIND(cuMemcpyHtoD_v2)(dd, src_buf, n);
		} else if (strcmp(op, "cuMemcpyDtoH") == 0) {
			fn = "cuMemcpyDtoH_v2";
			rc = FIND(cuMemcpyDtoH_v2)(dst_buf, sd, n);
		} else if (strcmp(op, "cuMemcpyDtoD") == 0) {
			fn = "cuMemcpyDtoD_v2";
			rc = FIND(cuMemcpyDtoD_v2)(dd, sd, n);
		} else if (strcmp(op, "cuMemcpyHtoDAsync") == 0) {
			fn = "cuMemcpyHtoDAsync_v2";
			rc = FIND(cuMemcpyHtoDAsync_v2)(dd, src_buf, n, NULL);
		} else {
			fn = "cuMemcpyDtoHAsync_v2";
			rc = FIND(cuMemcpyDtoHAsync_v2)(dst_buf, sd, n, NULL);
		}
	}
	say(op, fn, rc, "size=%zu data=%s", n, verdict(dst, n, want, before));
}

/* ---- synchronisation and errors ----------------------------------------------------------------
 */

static void op_sync(const char *op)
{
	int rc;
	if (strcmp(op, "cudaDeviceSynchronize") == 0) {
		rc = FIND(cudaDeviceSynchronize)();
	} else if (strcmp(op, "cudaStreamSynchronize") == 0) {
		rc = FIND(cudaStreamSynchronize)(NULL);
	} else if (strcmp(op, "cudaGetLastError") == 0) {
		rc = FIND(cudaGetLastError)();
	} else if (strcmp(op, "cudaPeekAtLastError") == 0) {
		rc = FIND(cudaPeekAtLastError)();
	} else {
		DRIVER_READY(op, op);
		if (strcmp(op, "cuCtxSynchronize") == 0)
			rc = FIND(cuCtxSynchronize)();
		else
			rc = FIND(cuStreamSynchronize)(NULL);
	}
	say(op, op, rc, NULL);
}

/* ---- request keys ---------------------------------------------------------------------------- */

/* A request with "X-Request-Id: KEY" arrives on a connection this program accepted from itself:
 * the library takes the key from the bytes read on the accepted socket, and it stays the
 * thread's until the next request. The previous connection is closed first. */
static void op_request(const char *op, const char *k)
{
	static int listener = -1, conn[2] = { -1, -1 };
	static struct sockaddr_in addr;
	if (listener < 0) {
		socklen_t len = sizeof addr;
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
		    listen(listener, 4) != 0 ||
		    getsockname(listener, (struct sockaddr *)&addr, &len) != 0)
			usage("request: no loopback listener");
	}
	for (int i = 0; i < 2; i++)
		if (conn[i] >= 0)
			close(conn[i]);
	char req[256], got[256];
	int n = snprintf(req, sizeof req,
	                 "POST /infer HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: "
	                 "%s\r\nContent-Length: 0\r\n\r\n",
	                 k);
	conn[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn[0] < 0 || connect(conn[0], (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    send(conn[0], req, (size_t)n, 0) != n)
		usage("request: cannot connect to itself");
	conn[1] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	ssize_t r = 0, total = 0;
	while (conn[1] >= 0 && total < n &&
	       (r = recv(conn[1], got + total, sizeof got - 1 - total, 0)) > 0)
		total += r;
	if (total != n)
		usage("request: the request did not arrive");
	snprintf(key, sizeof key, "%s", k);
	say(op, "recv", 0, NULL);
}

static void op_wait(void)
{
	printf("waiting pid=%d\n", (int)getpid());
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return;
}

/* ---- main -------------------------------------------------------------------------------------
 */

static int is(const char *op, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(op, *names) == 0)
			return 1;
	return 0;
}

static const char *const allocs[] = { "cudaMalloc",
	                              "cudaMallocAsync",
	                              "cudaMallocFromPoolAsync",
	                              "cudaMallocManaged",
	                              "cudaMallocPitch",
	                              "cudaMallocHost",
	                              "cudaHostAlloc",
	                              "cuMemAlloc",
	                              "cuMemAllocAsync",
	                              "cuMemAllocPitch",
	                              "cuMemAllocManaged",
	                              "cuMemCreate",
	                              NULL };
static const char *const launches[] = { "cudaLaunchKernel",
	                                "cudaLaunchKernelExC",
	                                "cudaGraphLaunch",
	                                "cuLaunchKernel",
	                                "cuLaunchKernelEx",
	                                "cuGraphLaunch",
	                                NULL };
static const char *const copies[] = { "cudaMemcpyHtoD",
	                              "cudaMemcpyDtoH",
	                              "cudaMemcpyDtoD",
	                              "cudaMemcpyAsyncHtoD",
	                              "cudaMemcpyAsyncDtoH",
	                              "cuMemcpyHtoD",
	                              "cuMemcpyDtoH",
	                              "cuMemcpyDtoD",
	                              "cuMemcpyHtoDAsync",
	                              "cuMemcpyDtoHAsync",
	                              NULL };
static const char *const syncs[] = { "cudaDeviceSynchronize",
	                             "cudaStreamSynchronize",
	                             "cudaGetLastError",
	                             "cudaPeekAtLastError",
	                             "cuCtxSynchronize",
	                             "cuStreamSynchronize",
	                             NULL };
static const char *const inits[] = { "cuInit", "cuDeviceGetCount", "cudaGetDeviceCount", NULL };

static size_t number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		usage("a number is missing");
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	else if (*end != '\0')
		usage("a number has a stray suffix");
	return (size_t)v;
}

static void run(const char *arg)
{
	char op[64];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	if (len >= sizeof op)
		usage("an op is too long");
	memcpy(op, arg, len);
	op[len] = '\0';
	const char *param = colon ? colon + 1 : NULL;
	if (strcmp(op, "request") == 0 && param)
		op_request(op, param);
	else if (strcmp(op, "wait") == 0)
		op_wait();
	else if (is(op, inits))
		op_init(op);
	else if (strcmp(op, "device") == 0 && param)
		op_device(op, (int)number(param));
	else if (is(op, allocs) && param)
		op_alloc(op, op, number(param));
	else if (strcmp(op, "free") == 0 || strcmp(op, "freeall") == 0)
		op_free(op, op[4] == 'a');
	else if (is(op, launches))
		op_launch(op);
	else if (is(op, copies) && param)
		op_copy(op, number(param));
	else if (is(op, syncs))
		op_sync(op);
	else if (strcmp(op, "torch") == 0 && param)
		op_torch(op, number(param));
	else if (strcmp(op, "torch-free") == 0)
		op_torch_free(op);
	else if (strcmp(op, "expand") == 0 && param)
		op_expand(op, number(param));
	else if (strcmp(op, "expand-free") == 0)
		op_expand_free(op);
	else
		usage(arg);
}

int main(int argc, char **argv)
{
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--path") == 0) {
		size_t n = sizeof path_names / sizeof path_names[0], p = 0;
		while (p < n && strcmp(path_names[p], argv[i + 1]) != 0)
			p++;
		if (p == n)
			usage("unknown path");
		path = (enum path)p;
		i += 2;
	}
	if (i == argc)
		usage("no op");
	for (; i < argc; i++)
		run(argv[i]);
	return 0;
}
