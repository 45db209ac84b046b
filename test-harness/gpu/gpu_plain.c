/* gpu_plain.c: a program linked with no CUDA library, for the gpu suite's guarantees: the
 * preloaded library loads no CUDA library into a process that did not load one, answers a
 * lookup of a CUDA name that finds nothing with nothing, and leaves a process that never
 * touches CUDA as it was.
 *
 * usage: gpu-plain MODE
 *   none        ordinary work (allocations, a file read, dlopen + dlsym of libm), then lookups
 *               of CUDA names through dlsym(RTLD_DEFAULT)
 *   driver-only dlopen("libcuda.so.1") and cuInit through dlsym on its handle
 *   runtime-dl  dlopen("libcudart.so.12") and cudaMalloc, cudaLaunchKernel through dlsym on
 *               its handle (the runtime then loads the driver itself)
 * Prints "KEY=VALUE" lines; the last is "loaded=" with the CUDA libraries mapped into the
 * process (none, or their names joined by commas). Exit 0, 1 when ordinary work went wrong. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Function pointers travel as object pointers (dlsym, cuGetProcAddress, a kernel given as
 * its host function): POSIX guarantees the conversion, ISO C does not, hence no -Wpedantic. */
#pragma GCC diagnostic ignored "-Wpedantic"

static const char *const cuda_names[] = {
	"cudaMalloc",       "cuMemAlloc_v2",       "cuMemCreate",
	"cuGetProcAddress", "cuGetProcAddress_v2", "cudaGetDriverEntryPoint",
	"cuInit",           "cudaLaunchKernel",    NULL
};

/* The CUDA libraries in /proc/self/maps. */
static void print_loaded(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096], seen[1024] = "";
	while (f && fgets(line, sizeof line, f)) {
		const char *slash = strrchr(line, '/');
		if (!slash || (strncmp(slash + 1, "libcuda.", 8) != 0 &&
		               strncmp(slash + 1, "libcudart.", 10) != 0))
			continue;
		char name[256];
		snprintf(name, sizeof name, "%s", slash + 1);
		name[strcspn(name, "\n")] = '\0';
		if (strstr(seen, name))
			continue;
		if (seen[0])
			strncat(seen, ",", sizeof seen - strlen(seen) - 1);
		strncat(seen, name, sizeof seen - strlen(seen) - 1);
	}
	if (f)
		fclose(f);
	printf("loaded=%s\n", seen[0] ? seen : "none");
}

static int ordinary_work(void)
{
	int bad = 0;
	char *p = malloc(1 << 20);
	bad |= p == NULL;
	if (p)
		memset(p, 1, 1 << 20);
	free(p);
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	char buf[256];
	bad |= fd < 0 || read(fd, buf, sizeof buf) <= 0;
	if (fd >= 0)
		close(fd);
	void *m = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
	double (*cosine)(double) = m ? (double (*)(double))dlsym(m, "cos") : NULL;
	bad |= !cosine || cosine(0.0) != 1.0;
	usleep(1000);
	printf("work=%s\n", bad ? "bad" : "ok");
	return bad;
}

static int mode_none(void)
{
	int bad = ordinary_work();
	for (const char *const *n = cuda_names; *n; n++) {
		printf("default %s=%s\n", *n, dlsym(RTLD_DEFAULT, *n) ? "found" : "null");
	}
	return bad;
}

static int mode_driver_only(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	int (*init)(unsigned int) = h ? (int (*)(unsigned int))dlsym(h, "cuInit") : NULL;
	printf("cuInit rc=%d\n", init ? init(0) : -1);
	return !init;
}

static void kernel(void **params)
{
	(void)params;
	puts("kernel ran=1");
}

struct dim3 {
	unsigned int x, y, z;
};

static int mode_runtime_dl(void)
{
	void *h = dlopen("libcudart.so.12", RTLD_NOW | RTLD_LOCAL);
	int (*cuda_malloc)(void **, size_t) =
	    h ? (int (*)(void **, size_t))dlsym(h, "cudaMalloc") : NULL;
	int (*launch)(const void *, struct dim3, struct dim3, void **, size_t, void *) =
	    h ? (int (*)(const void *, struct dim3, struct dim3, void **, size_t, void *))dlsym(
	            h, "cudaLaunchKernel")
	      : NULL;
	if (!cuda_malloc || !launch)
		return 1;
	void *p = NULL;
	printf("cudaMalloc rc=%d\n", cuda_malloc(&p, 4096));
	struct dim3 one = { 1, 1, 1 };
	fflush(stdout);
	printf("cudaLaunchKernel rc=%d\n", launch((const void *)kernel, one, one, NULL, 0, NULL));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gpu-plain none|driver-only|runtime-dl\n");
		return 2;
	}
	int bad;
	if (strcmp(argv[1], "none") == 0)
		bad = mode_none();
	else if (strcmp(argv[1], "driver-only") == 0)
		bad = mode_driver_only();
	else if (strcmp(argv[1], "runtime-dl") == 0)
		bad = mode_runtime_dl();
	else
		return 2;
	print_loaded();
	return bad;
}
