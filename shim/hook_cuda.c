/* hook_cuda.c: the CUDA families (cuda_alloc, cuda_launch, cuda_copy, cuda_init), for the
 * runtime (libcudart) and the driver (libcuda) alike: each function of cuda.h's list, the
 * lookups that hand out driver functions (cuGetProcAddress, cudaGetDriverEntryPoint), and
 * what dlsym on a CUDA library's handle finds (hook_dlsym.c asks mc_cuda_substitute()).
 *
 * The real functions are not in real.h: no CUDA library is loaded when the library starts,
 * and one loaded with RTLD_LOCAL is out of dlsym(RTLD_NEXT)'s reach. Each function's slot
 * holds a stub until its real one is known: the pointer a lookup returned (dlsym on the
 * handle, cuGetProcAddress), or, for a direct call, what dlsym(RTLD_NEXT) finds on the first
 * call. Then every call costs the one load of that slot.
 *
 * A call made while this thread is inside an interposed CUDA call (libcudart's cudaMalloc
 * calling the driver's cuMemAlloc_v2) is part of that call: decided, counted and budgeted
 * once, by the outer one. A rule with `sticky = true` that fails a call poisons the context
 * as real device errors do: every later interposed call returns that error. */
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "cuda.h"
#include "devmem.h"
#include "dlsym.h"
#include "fault.h"
#include "hook.h"

/* dlsym returns an object pointer that POSIX guarantees converts to a function pointer. */
#pragma GCC diagnostic ignored "-Wpedantic"

#define CUDA_NOT_FOUND 500 /* cudaErrorSymbolNotFound, CUDA_ERROR_NOT_FOUND */

enum cuda_kind {
	K_RT_ALLOC,
	K_RT_PITCH,
	K_PINNED,
	K_DRV_ALLOC,
	K_DRV_PITCH,
	K_CREATE,
	K_RT_FREE,
	K_DRV_FREE,
	K_RELEASE,
	K_LAUNCH,
	K_RT_COPY,
	K_HTOD,
	K_DTOH,
	K_DTOD,
	K_INIT,
	K_COUNT_DEVICES,
	K_STATUS,
};

/* The slots: the interposed functions, the lookups, and two the library asks itself. */
#define SLOT_ENUM(name, ...) S_##name,
enum cuda_slot {
	MC_CUDA_FNS(SLOT_ENUM) S_cuGetProcAddress,
	S_cuGetProcAddress_v2,
	S_cudaGetDriverEntryPoint,
	S_cudaGetDriverEntryPointByVersion,
	S_COUNT
};
#undef SLOT_ENUM

#define STUB_DECL(name, family, params, ...) static int stub_##name params;
MC_CUDA_FNS(STUB_DECL)
#undef STUB_DECL
static int stub_cuGetProcAddress(const char *sym, void **pfn, int version,
                                 unsigned long long flags);
static int stub_cuGetProcAddress_v2(const char *sym, void **pfn, int version,
                                    unsigned long long flags, int *status);
static int stub_cudaGetDriverEntryPoint(const char *sym, void **pfn, unsigned long long flags,
                                        int *status);
static int stub_cudaGetDriverEntryPointByVersion(const char *sym, void **pfn, unsigned int version,
                                                 unsigned long long flags, int *status);

#define SLOT_STUB(name, ...) [S_##name] = (void *)stub_##name,
/* The library's CUDA state, one object: dlsym's entry (hook_dlsym.c) reads the real dlsym
 * from its first member, by the symbol's name. */
struct cuda_state {
	mc_dlsym_fn _Atomic dlsym_next; /* the real dlsym, NULL until found */
	void *_Atomic real[S_COUNT];
	_Atomic int poison;           /* the error a sticky failure left, 0 when none */
	void *_Atomic get_device;     /* cudaGetDevice of the runtime in use */
	void *_Atomic ctx_get_device; /* cuCtxGetDevice of the driver in use */
	struct mc_devmem live;        /* device memory, for cuda_alloc's budget */
};
__attribute__((visibility("hidden"))) struct cuda_state mc_cuda = {
	.real = { MC_CUDA_FNS(SLOT_STUB) SLOT_STUB(cuGetProcAddress) SLOT_STUB(cuGetProcAddress_v2)
	              SLOT_STUB(cudaGetDriverEntryPoint)
	                  SLOT_STUB(cudaGetDriverEntryPointByVersion) }
};
#undef SLOT_STUB

/* Depth of interposed CUDA calls on this thread: the calls they make are theirs. */

MC_DLSYM_EARLY mc_dlsym_fn mc_dlsym_next(void)
{
	return atomic_load_explicit(&mc_cuda.dlsym_next, memory_order_acquire);
}

MC_DLSYM_EARLY void mc_dlsym_found(mc_dlsym_fn f)
{
	atomic_store_explicit(&mc_cuda.dlsym_next, f, memory_order_release);
}

#define REAL(slot, type) ((type)atomic_load_explicit(&mc_cuda.real[slot], memory_order_relaxed))

/* Keeps p as the real function of slot, unless one is known already (the stub is replaced
 * once: every lookup of one name in one process finds the same function). */
static void cache_real(enum cuda_slot slot, void *stub, void *p)
{
	void *expected = stub;
	atomic_compare_exchange_strong_explicit(&mc_cuda.real[slot], &expected, p,
	                                        memory_order_relaxed, memory_order_relaxed);
}

static void *beside(enum cuda_slot slot, const char *name);
static void *lookup_stub(enum cuda_slot slot);

/* A call with no real function known yet (a direct call; or one through a pointer a lookup
 * handed out as this library's own, a driver's table of interposable addresses): the next
 * definition after this library, else the one beside a lookup function already found (a
 * library opened with RTLD_LOCAL is out of RTLD_NEXT's reach). wrapper: this library's. */
static void *resolve_next(enum cuda_slot slot, void *stub, const char *name, void *wrapper)
{
	int saved = errno;
	mc_guard_enter();
	void *p = mc_dlsym_real_next(name);
	for (int s = S_cuGetProcAddress; !p && s < S_COUNT; s++) {
		if (REAL((enum cuda_slot)s, void *) == lookup_stub((enum cuda_slot)s))
			continue; /* not found yet: beside it is this library */
		p = beside((enum cuda_slot)s, name);
		if (p == wrapper)
			p = NULL;
	}
	mc_guard_leave();
	errno = saved;
	if (p)
		cache_real(slot, stub, p);
	return p;
}

/* ---- the calls -------------------------------------------------------------------------- */

struct cuda_call {
	enum mc_fn fn;
	enum mc_hook hook; /* MC_HOOK_COUNT: watched for poison only */
	enum cuda_kind kind;
	uint64_t size;
	void *out;        /* the allocation's out-parameter (void ** or mc_cu_ptr *) */
	size_t *pitch;    /* the pitched ones': the pitch the call chose */
	uint64_t height;  /* and their rows */
	uint64_t freed;   /* a free's key */
	const void *prop; /* cuMemCreate's CUmemAllocationProp */
	int copy;         /* cudaMemcpy's kind */
	int *count;       /* cuDeviceGetCount, cudaGetDeviceCount */
};

static uint64_t mul(size_t a, size_t b)
{
	size_t n;
	return __builtin_mul_overflow(a, b, &n) ? UINT64_MAX : n;
}

/* cuMemCreate's device: the location of its CUmemAllocationProp when that is a device
 * (struct { int type; int handle_types; struct { int type; int id; } location; ...}), else
 * -1: the memory lives on the host and no device budget counts it. */
static int created_on(const void *prop)
{
	int loc[2];
	if (!prop)
		return -1;
	memcpy(loc, (const char *)prop + 2 * sizeof(int), sizeof(loc));
	return loc[0] == 1 /* CU_MEM_LOCATION_TYPE_DEVICE */ ? loc[1] : -1;
}

/* The function name of the library whose real function is in slot: asked of that library's
 * handle (already loaded: RTLD_NOLOAD), so that a library opened with RTLD_LOCAL answers
 * too. NULL when not found. Guard held. */
static void *beside(enum cuda_slot slot, const char *name)
{
	Dl_info info;
	void *h, *p = NULL;
	if (dladdr(REAL(slot, void *), &info) && info.dli_fname &&
	    (h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD))) {
		p = mc_dlsym_real(h, name);
		dlclose(h);
	}
	return p;
}

/* The current device of the runtime or the driver that the call went to: asked of the same
 * library as the call's real function (found beside it, never loaded), 0 when unknown. */
static int current_device(enum cuda_slot slot, bool runtime)
{
	void *_Atomic *cache = runtime ? &mc_cuda.get_device : &mc_cuda.ctx_get_device;
	int saved = errno;
	mc_guard_enter(); /* the library's own calls: no rule decides on them */
	int (*get)(int *) = (int (*)(int *))atomic_load_explicit(cache, memory_order_relaxed);
	if (!get) {
		get = (int (*)(int *))beside(slot, runtime ? "cudaGetDevice" : "cuCtxGetDevice");
		if (get)
			atomic_store_explicit(cache, (void *)get, memory_order_relaxed);
	}
	int dev = 0;
	if (get && get(&dev) != 0)
		dev = 0;
	mc_guard_leave();
	errno = saved;
	return dev;
}

static int device_of(const struct cuda_call *c, enum cuda_slot slot)
{
	switch (c->kind) {
	case K_RT_ALLOC:
	case K_RT_PITCH:
		return current_device(slot, true);
	case K_CREATE:
		return created_on(c->prop);
	default:
		return current_device(slot, false);
	}
}

static enum mc_gpu_target copy_target(const struct cuda_call *c)
{
	switch (c->kind) {
	case K_HTOD:
		return MC_GPU_TO_DEVICE;
	case K_DTOH:
		return MC_GPU_TO_HOST;
	case K_DTOD:
		return MC_GPU_ON_DEVICE;
	default:
		break;
	}
	switch (c->copy) { /* cudaMemcpyKind */
	case 1:
		return MC_GPU_TO_DEVICE;
	case 2:
		return MC_GPU_TO_HOST;
	case 3:
		return MC_GPU_ON_DEVICE;
	default:
		return MC_GPU_OTHER; /* host to host, or cudaMemcpyDefault: unknown direction */
	}
}

static bool is_free(enum cuda_kind k)
{
	return k == K_RT_FREE || k == K_DRV_FREE || k == K_RELEASE;
}

static bool counts_device_memory(enum cuda_kind k)
{
	return k == K_RT_ALLOC || k == K_RT_PITCH || k == K_DRV_ALLOC || k == K_DRV_PITCH ||
	       k == K_CREATE;
}

/* The budget's live memory: counted while cuda_alloc is armed (frees included). */
static bool budgeting(void)
{
	return mc_armed(MC_HOOK_BIT(MC_HOOK_CUDA_ALLOC));
}

/* A failed call's out-parameters, as the real failure leaves them. */
static int failed(const struct cuda_call *c, int err)
{
	if (c->kind == K_COUNT_DEVICES && c->count)
		*c->count = 0;
	if (c->out && (c->kind == K_RT_ALLOC || c->kind == K_RT_PITCH || c->kind == K_PINNED))
		*(void **)c->out = NULL;
	return err;
}

/* A call the trace counts with no bytes (it failed before its real call). */
static void traced_failure(const struct cuda_call *c)
{
	if (!mc_trace_enabled)
		return;
	int saved = errno;
	mc_guard_enter();
	mc_trace_target(c->fn, MC_TGT_GPU, MC_GPU_OTHER, 0);
	mc_guard_leave();
	errno = saved;
}

/* Before the real call: the poison, then the rules. 0 to make the real call, or the error
 * to return instead. Guard held for the decision; errno as it was. */
static MC_COLD int cuda_before(struct cuda_call *c, enum cuda_slot slot)
{
	int err = atomic_load_explicit(&mc_cuda.poison, memory_order_acquire);
	if (err) {
		traced_failure(c);
		return failed(c, err);
	}
	if (c->hook == MC_HOOK_COUNT || is_free(c->kind) || !mc_fault_has(c->hook))
		return 0;
	int saved = errno;
	uint64_t live = 0;
	if (c->hook == MC_HOOK_CUDA_ALLOC) {
		int dev = counts_device_memory(c->kind) ? device_of(c, slot) : -1;
		live = dev >= 0 ? mc_devmem_live(&mc_cuda.live, dev) : MC_LIVE_UNBUDGETED;
	}
	/* the calling object of a CUDA call is not looked up: caller never matches it, not_caller
	 * always does */
	struct mc_fault f = { .caller_pc = NULL };
	mc_guard_enter();
	bool acted = mc_fault_decide_live(&f, c->hook, c->fn, c->size, live);
	mc_fault_count_now(); /* CUDA calls are few and slow: their counts are exact, live */
	if (acted && !mc_fault_before(&f, NULL)) {
		err = f.d.err;
		if (f.d.rule->sticky) {
			int none = 0;
			atomic_compare_exchange_strong_explicit(&mc_cuda.poison, &none, err,
			                                        memory_order_release,
			                                        memory_order_relaxed);
		}
	}
	mc_guard_leave();
	errno = saved;
	if (!err)
		return 0;
	traced_failure(c);
	return failed(c, err);
}

/* After the real call (r: its result): the live memory and the trace. */
static MC_COLD void cuda_after(const struct cuda_call *c, enum cuda_slot slot, int r)
{
	enum mc_gpu_target what = MC_GPU_OTHER;
	uint64_t bytes = 0;
	if (r == 0 && c->out && (counts_device_memory(c->kind) || c->kind == K_PINNED)) {
		uint64_t key = c->kind == K_RT_ALLOC || c->kind == K_RT_PITCH
		                   ? (uint64_t)(uintptr_t) * (void **)c->out
		                   : *(mc_cu_ptr *)c->out;
		bytes = c->pitch ? mul(*c->pitch, c->height) : c->size;
		what = c->kind == K_PINNED ? MC_GPU_PINNED : MC_GPU_DEVICE_MEMORY;
		if (c->kind == K_CREATE)
			key |= MC_DEVMEM_HANDLE;
		int dev = what == MC_GPU_DEVICE_MEMORY && budgeting() ? device_of(c, slot) : -1;
		if (dev >= 0)
			mc_devmem_add(&mc_cuda.live, key, bytes, dev);
	} else if (r == 0 && is_free(c->kind)) {
		mc_devmem_remove(&mc_cuda.live, c->freed);
	} else if (c->hook == MC_HOOK_CUDA_COPY) {
		what = copy_target(c);
		bytes = r == 0 ? c->size : 0;
	}
	if (mc_trace_enabled) {
		int saved = errno;
		mc_guard_enter();
		mc_trace_target(c->fn, MC_TGT_GPU, what, bytes);
		mc_guard_leave();
		errno = saved;
	}
}

/* What each kind of call hands to the bracket, from its parameters (cuda.h's names). */
#define PREP_RT_ALLOC      c.out = (void *)p;
#define PREP_PINNED        c.out = (void *)p;
#define PREP_DRV_ALLOC     c.out = (void *)p;
#define PREP_RT_PITCH      c.out = (void *)p, c.pitch = pitch, c.height = h;
#define PREP_DRV_PITCH     c.out = (void *)p, c.pitch = pitch, c.height = h;
#define PREP_CREATE        c.out = (void *)p, c.prop = prop;
#define PREP_RT_FREE       c.freed = (uint64_t)(uintptr_t)p;
#define PREP_DRV_FREE      c.freed = p;
#define PREP_RELEASE       c.freed = p | MC_DEVMEM_HANDLE;
#define PREP_LAUNCH        ;
#define PREP_RT_COPY       c.copy = k;
#define PREP_HTOD          ;
#define PREP_DTOH          ;
#define PREP_DTOD          ;
#define PREP_INIT          ;
#define PREP_COUNT_DEVICES c.count = count;
#define PREP_STATUS        ;

/* family COUNT is no family: its calls are watched for the poison alone (MC_HOOK_COUNT) */
#define HOOK_OF(family) MC_HOOK_##family

/* The stub of each slot, its slow half, and the exported function. The exported one passes
 * with a tail call when no CUDA family is armed, the library is calling, or the thread is
 * inside an interposed CUDA call. */
#define WRAP(name, family, params, args, bytes, what)                                  \
	static int stub_##name params                                                  \
	{                                                                              \
		if (!resolve_next(S_##name, (void *)stub_##name, #name, (void *)name)) \
			return CUDA_NOT_FOUND;                                         \
		return REAL(S_##name, int(*) params) args;                             \
	}                                                                              \
	static MC_COLD int slow_##name params                                          \
	{                                                                              \
		struct cuda_call c = { .fn = MC_FN_##name,                             \
			               .hook = HOOK_OF(family),                        \
			               .kind = K_##what,                               \
			               .size = (uint64_t)(bytes) };                    \
		PREP_##what int err = cuda_before(&c, S_##name);                       \
		if (err)                                                               \
			return err;                                                    \
		mc_inside.cuda++;                                                      \
		int r = REAL(S_##name, int(*) params) args;                            \
		mc_inside.cuda--;                                                      \
		cuda_after(&c, S_##name, r);                                           \
		return r;                                                              \
	}                                                                              \
	MC_EXPORT int name params                                                      \
	{                                                                              \
		if (MC_PASS(MC_HOOKS_CUDA) || mc_inside.cuda)                          \
			return REAL(S_##name, int(*) params) args;                     \
		return slow_##name args;                                               \
	}
MC_CUDA_FNS(WRAP)
#undef WRAP

/* ---- lookups ------------------------------------------------------------------------------ */

/* The functions a lookup by name can hand out, with the stub that stands for "not found yet". */
struct cuda_name {
	const char *name;
	void *wrapper;
	void *stub;
	enum cuda_slot slot;
};

#define NAME_ROW(name, ...) { #name, (void *)name, (void *)stub_##name, S_##name },
static const struct cuda_name cuda_names[] = { MC_CUDA_FNS(NAME_ROW) };
#undef NAME_ROW

static const struct cuda_name *by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(cuda_names) / sizeof(cuda_names[0]); i++)
		if (strcmp(cuda_names[i].name, name) == 0)
			return &cuda_names[i];
	return NULL;
}

void *mc_cuda_substitute(const char *name, void *found)
{
	const struct cuda_name *n = by_name(name);
	void *stub = n ? n->stub : NULL;
	enum cuda_slot slot = n ? n->slot : S_COUNT;
	void *wrapper = n ? n->wrapper : NULL;
	if (!n) {
		/* the lookups themselves */
		static const char *const lookups[] = { "cuGetProcAddress", "cuGetProcAddress_v2",
			                               "cudaGetDriverEntryPoint",
			                               "cudaGetDriverEntryPointByVersion" };
		static void *const wrappers[] = { (void *)cuGetProcAddress,
			                          (void *)cuGetProcAddress_v2,
			                          (void *)cudaGetDriverEntryPoint,
			                          (void *)cudaGetDriverEntryPointByVersion };
		for (int i = 0; i < 4 && !n; i++)
			if (strcmp(lookups[i], name) == 0) {
				slot = (enum cuda_slot)(S_cuGetProcAddress + i);
				wrapper = wrappers[i];
				stub = lookup_stub(slot);
				n = cuda_names; /* found */
			}
		if (!n)
			return found;
	}
	if (found == wrapper) {
		/* the program asked the global scope and found this library's own: its real one
		 * is the next; none means no CUDA library is loaded, and the lookup fails */
		int saved = errno;
		mc_guard_enter();
		found = mc_dlsym_real_next(name);
		mc_guard_leave();
		errno = saved;
		if (!found)
			return NULL;
	}
	cache_real(slot, stub, found);
	return wrapper;
}

/* cuGetProcAddress's names (without the _v2 a version chooses) and the version from which
 * they mean the function interposed here; the ones that take a stream are not substituted
 * when the per-thread default stream is asked for (their _ptsz twins are not interposed). */
static const struct {
	const char *name;
	int since;
	bool stream;
	enum cuda_slot slot;
} driver_names[] = {
	{ "cuMemAlloc", 3020, false, S_cuMemAlloc_v2 },
	{ "cuMemAllocAsync", 11020, true, S_cuMemAllocAsync },
	{ "cuMemAllocPitch", 3020, false, S_cuMemAllocPitch_v2 },
	{ "cuMemAllocManaged", 6000, false, S_cuMemAllocManaged },
	{ "cuMemCreate", 10020, false, S_cuMemCreate },
	{ "cuMemFree", 3020, false, S_cuMemFree_v2 },
	{ "cuMemRelease", 10020, false, S_cuMemRelease },
	{ "cuLaunchKernel", 4000, true, S_cuLaunchKernel },
	{ "cuLaunchKernelEx", 11060, true, S_cuLaunchKernelEx },
	{ "cuGraphLaunch", 10000, true, S_cuGraphLaunch },
	{ "cuMemcpyHtoD", 3020, false, S_cuMemcpyHtoD_v2 },
	{ "cuMemcpyDtoH", 3020, false, S_cuMemcpyDtoH_v2 },
	{ "cuMemcpyDtoD", 3020, false, S_cuMemcpyDtoD_v2 },
	{ "cuMemcpyHtoDAsync", 3020, true, S_cuMemcpyHtoDAsync_v2 },
	{ "cuMemcpyDtoHAsync", 3020, true, S_cuMemcpyDtoHAsync_v2 },
	{ "cuInit", 2000, false, S_cuInit },
	{ "cuDeviceGetCount", 2000, false, S_cuDeviceGetCount },
	{ "cuCtxSynchronize", 2000, false, S_cuCtxSynchronize },
};

#define PER_THREAD_STREAM                                              \
	2ull /* CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, and the \
	        runtime's cudaEnablePerThreadDefaultStream */

/* A driver function found by a lookup (p: what the real lookup gave): the wrapper that
 * stands for it, or p itself. */
static void *driver_substitute(enum cuda_slot lookup, const char *sym, void *p, int version,
                               unsigned long long flags)
{
	if (!sym || !p || sym[0] != 'c' || sym[1] != 'u')
		return p;
	for (size_t i = 0; i < sizeof(driver_names) / sizeof(driver_names[0]); i++) {
		if (strcmp(driver_names[i].name, sym) != 0)
			continue;
		if (version < driver_names[i].since ||
		    (driver_names[i].stream && (flags & PER_THREAD_STREAM)))
			return p;
		const struct cuda_name *n = &cuda_names[driver_names[i].slot];
		if (p == n->wrapper) {
			/* a driver whose table holds its functions' interposable addresses, which
			 * the preloaded library's own: its real one is the one beside the lookup */
			int saved = errno;
			mc_guard_enter();
			p = beside(lookup, n->name);
			if (!p) /* the runtime's entry points: the driver's lookup knows */
				p = beside(S_cuGetProcAddress_v2, n->name);
			mc_guard_leave();
			errno = saved;
			if (!p)
				return n->wrapper;
		}
		cache_real(n->slot, n->stub, p);
		return n->wrapper;
	}
	return p;
}

#define LOOKUP_STUB(name, params, args)                                                  \
	static int stub_##name params                                                    \
	{                                                                                \
		if (!resolve_next(S_##name, lookup_stub(S_##name), #name, (void *)name)) \
			return CUDA_NOT_FOUND;                                           \
		return REAL(S_##name, int(*) params) args;                               \
	}
LOOKUP_STUB(cuGetProcAddress, (const char *sym, void **pfn, int version, unsigned long long flags),
            (sym, pfn, version, flags))
LOOKUP_STUB(cuGetProcAddress_v2,
            (const char *sym, void **pfn, int version, unsigned long long flags, int *status),
            (sym, pfn, version, flags, status))
LOOKUP_STUB(cudaGetDriverEntryPoint,
            (const char *sym, void **pfn, unsigned long long flags, int *status),
            (sym, pfn, flags, status))
LOOKUP_STUB(cudaGetDriverEntryPointByVersion,
            (const char *sym, void **pfn, unsigned int version, unsigned long long flags,
             int *status),
            (sym, pfn, version, flags, status))

static void *lookup_stub(enum cuda_slot slot)
{
	switch (slot) {
	case S_cuGetProcAddress:
		return (void *)stub_cuGetProcAddress;
	case S_cuGetProcAddress_v2:
		return (void *)stub_cuGetProcAddress_v2;
	case S_cudaGetDriverEntryPoint:
		return (void *)stub_cudaGetDriverEntryPoint;
	default:
		return (void *)stub_cudaGetDriverEntryPointByVersion;
	}
}

/* A lookup's answer is replaced only when the real lookup succeeded (a status, when the
 * caller asked for one, says found: 0 in both APIs). */
static void substitute_found(enum cuda_slot lookup, int r, const char *sym, void **pfn, int version,
                             unsigned long long flags, const int *status)
{
	if (r == 0 && pfn && *pfn && (!status || *status == 0))
		*pfn = driver_substitute(lookup, sym, *pfn, version, flags);
}

MC_EXPORT int cuGetProcAddress(const char *sym, void **pfn, int version, unsigned long long flags)
{
	mc_inside.cuda++; /* the runtime's start-up calls (cuInit...) are the lookup's */
	int r = REAL(S_cuGetProcAddress, int (*)(const char *, void **, int, unsigned long long))(
	    sym, pfn, version, flags);
	mc_inside.cuda--;
	substitute_found(S_cuGetProcAddress, r, sym, pfn, version, flags, NULL);
	return r;
}

MC_EXPORT int cuGetProcAddress_v2(const char *sym, void **pfn, int version,
                                  unsigned long long flags, int *status)
{
	mc_inside.cuda++; /* the runtime's start-up calls (cuInit...) are the lookup's */
	int r = REAL(S_cuGetProcAddress_v2, int (*)(const char *, void **, int, unsigned long long,
	                                            int *))(sym, pfn, version, flags, status);
	mc_inside.cuda--;
	substitute_found(S_cuGetProcAddress_v2, r, sym, pfn, version, flags, status);
	return r;
}

MC_EXPORT int cudaGetDriverEntryPoint(const char *sym, void **pfn, unsigned long long flags,
                                      int *status)
{
	mc_inside.cuda++; /* the runtime's start-up calls (cuInit...) are the lookup's */
	int r = REAL(S_cudaGetDriverEntryPoint, int (*)(const char *, void **, unsigned long long,
	                                                int *))(sym, pfn, flags, status);
	mc_inside.cuda--;
	substitute_found(S_cudaGetDriverEntryPoint, r, sym, pfn, INT_MAX, flags, status);
	return r;
}

MC_EXPORT int cudaGetDriverEntryPointByVersion(const char *sym, void **pfn, unsigned int version,
                                               unsigned long long flags, int *status)
{
	mc_inside.cuda++; /* the runtime's start-up calls (cuInit...) are the lookup's */
	int r = REAL(S_cudaGetDriverEntryPointByVersion,
	             int (*)(const char *, void **, unsigned int, unsigned long long, int *))(
	    sym, pfn, version, flags, status);
	mc_inside.cuda--;
	substitute_found(S_cudaGetDriverEntryPointByVersion, r, sym, pfn,
	                 version > INT_MAX ? INT_MAX : (int)version, flags, status);
	return r;
}
