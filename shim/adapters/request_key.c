/* request_key.c: how a C or C++ server tells libmlchaos.so which request a thread is working
 * on. The library's entry point, version 1:
 *
 *     void mlchaos_request_key(const char *key, size_t len);   (NULL clears)
 *
 * is looked up with dlsym at start, so that the server runs unchanged without the library
 * preloaded (the lookup finds nothing, and each call costs a test of a NULL pointer). The key
 * set is the calling thread's, for its calls not made on a socket (allocations, file reads,
 * sleeps), over the key the library finds in the request's bytes, until it is cleared: set
 * it where a worker picks a request up, clear it where the worker is done with it; a thread
 * pool that runs a part of the request sets it in the task too.
 *
 * This example works through "requests" named on its command line, one at a time: for each,
 * it sets the key, does the request's work (reads 1 KiB of the model file FILE into a buffer
 * it allocates), and prints "KEY ok" or "KEY failed" (the read or the allocation failed).
 * usage: request-key-example FILE KEY... */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*request_key_fn)(const char *key, size_t len);

static request_key_fn request_key;

static void set_request_key(const char *key)
{
	if (request_key)
		request_key(key, key ? strlen(key) : 0);
}

static int serve(int model, const char *key)
{
	set_request_key(key);
	char *buf = malloc(1024); /* the request's own work */
	int ok = buf != NULL && pread(model, buf, 1024, 0) == 1024;
	free(buf);
	set_request_key(NULL); /* what the worker does next is no request's */
	printf("%s %s\n", key, ok ? "ok" : "failed");
	return ok;
}

int main(int argc, char **argv)
{
	/* POSIX's way to take a function from dlsym (ISO C has no object-to-function cast) */
	*(void **)&request_key = dlsym(RTLD_DEFAULT, "mlchaos_request_key");
	fprintf(stderr, "request-key-example: mlchaos_request_key %s\n",
	        request_key ? "found" : "not found: running without it");
	int model = argc > 1 ? open(argv[1], O_RDONLY | O_CLOEXEC) : -1;
	if (model < 0) {
		fprintf(stderr, "usage: request-key-example FILE KEY...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		serve(model, argv[i]);
	close(model);
	return fflush(stdout) == 0 ? 0 : 1;
}
