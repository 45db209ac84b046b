/* cl_prog.c: the program of the caller test (run by cl_caller.py with libmlchaos.so
 * preloaded). Commands, one per argument:
 *   libs DIR    dlopen DIR/libfoo.so and DIR/libbar.so; 8 allocations from each, and 8
 *               from the program itself; prints "foo N", "bar N", "prog N": how many failed;
 *               then dlclose libfoo.so, dlopen DIR/libbaz.so, print "same_address 0|1" and
 *               "baz N" for 8 allocations from libbaz.so
 *   naps DIR    dlopen DIR/libfoo.so and DIR/libbar.so; 8 nanosleeps from each and from the
 *               program; prints "foo N", "bar N", "prog N": how many failed
 *   tls DIR     dlopen DIR/libcltls.so, start a thread that touches its thread-local block
 *               (the loader allocates it with malloc), print "tls R" (R the touch's result)
 *               and "prog N" for 8 allocations of 10000 bytes from the program
 * Sizes: 10000 bytes, which the test's rules aim at. Exit status 0 unless something could
 * not be loaded (2). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIZE  10000
#define CALLS 8

typedef int (*alloc_fn)(size_t);
typedef void *(*where_fn)(void);

static void *load(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cl_prog: dlopen %s: %s\n", path, dlerror());
		exit(2);
	}
	return h;
}

static int failed_in(void *h)
{
	alloc_fn f = (alloc_fn)dlsym(h, "cl_alloc");
	int failed = 0;
	for (int i = 0; i < CALLS; i++)
		failed += f(SIZE) != 0;
	return failed;
}

static int failed_here(void)
{
	int failed = 0;
	for (int i = 0; i < CALLS; i++) {
		void *p = malloc(SIZE);
		failed += p == NULL;
		free(p);
	}
	return failed;
}

static void libs(const char *dir)
{
	void *foo = load(dir, "libfoo.so");
	void *bar = load(dir, "libbar.so");
	printf("foo %d\n", failed_in(foo));
	printf("bar %d\n", failed_in(bar));
	printf("prog %d\n", failed_here());
	void *was = ((where_fn)dlsym(foo, "cl_where"))();
	dlclose(foo);
	void *baz = load(dir, "libbaz.so");
	void *now = ((where_fn)dlsym(baz, "cl_where"))();
	printf("same_address %d\n", was == now);
	printf("baz %d\n", failed_in(baz));
	dlclose(baz);
	dlclose(bar);
}

static int naps_failed(int (*nap)(void))
{
	int failed = 0;
	for (int i = 0; i < CALLS; i++)
		failed += nap() != 0;
	return failed;
}

static int prog_nap(void)
{
	struct timespec t = { 0, 1000 };
	return nanosleep(&t, NULL);
}

static void naps(const char *dir)
{
	void *foo = load(dir, "libfoo.so");
	void *bar = load(dir, "libbar.so");
	printf("foo %d\n", naps_failed((int (*)(void))dlsym(foo, "cl_nap")));
	printf("bar %d\n", naps_failed((int (*)(void))dlsym(bar, "cl_nap")));
	printf("prog %d\n", naps_failed(prog_nap));
	dlclose(foo);
	dlclose(bar);
}

static int (*touch)(int);

static void *toucher(void *arg)
{
	(void)arg;
	return (void *)(long)touch(21);
}

static void tls(const char *dir)
{
	void *h = load(dir, "libcltls.so");
	touch = (int (*)(int))dlsym(h, "cl_tls_touch");
	pthread_t t;
	void *ret;
	if (pthread_create(&t, NULL, toucher, NULL) != 0 || pthread_join(t, &ret) != 0) {
		fprintf(stderr, "cl_prog: no thread\n");
		exit(2);
	}
	printf("tls %ld\n", (long)ret);
	printf("prog %d\n", failed_here());
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer for the rules to fail */
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "libs") == 0)
			libs(argv[i + 1]);
		else if (strcmp(argv[i], "naps") == 0)
			naps(argv[i + 1]);
		else if (strcmp(argv[i], "tls") == 0)
			tls(argv[i + 1]);
	}
	return 0;
}
