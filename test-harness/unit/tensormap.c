/* tensormap.c: prints what the recogniser (shim/formats/) finds in a file, as one JSON object:
 * {"result":1,"format":"npy","why":"","tensors":[{"name":..,"off":..,"len":..,"dtype":..,
 * "big_endian":..}]}. The real-file tests compare it with what numpy and torch say. Exit 0
 * when the recogniser answered (whatever the answer), 2 on a usage or I/O error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensors.h"

static int64_t read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
	return n < 0 ? -1 : n;
}

static void *std_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void std_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *dtype_name(unsigned dt)
{
	const char *name = mc_dtype_name((enum mc_dtype)dt);
	return name ? name : "?";
}

/* ,"shape":[d0,...] or ,"shape":null when the format did not say */
static void print_shape(const struct mc_tensor_map *map, uint32_t i)
{
	const uint64_t *dims;
	int n = mc_tensor_shape(map, i, &dims);
	if (n < 0) {
		printf(",\"shape\":null");
		return;
	}
	printf(",\"shape\":[");
	for (int d = 0; d < n; d++)
		printf("%s%llu", d ? "," : "", (unsigned long long)dims[d]);
	putchar(']');
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
		return 2;
	}
	struct mc_tensor_src src = { read_at, &fd, (uint64_t)st.st_size };
	struct mc_tensor_alloc a = { std_alloc, std_free, NULL };
	struct mc_tensor_map *map;
	char why[256];
	int r = mc_tensor_recognize(&src, &a, &map, why, sizeof(why));
	close(fd);
	printf("{\"result\":%d,\"format\":", r);
	print_json_string(map ? mc_tensor_format_name(map->format) : "none");
	printf(",\"why\":");
	print_json_string(why);
	printf(",\"tensors\":[");
	for (uint32_t i = 0; map && i < map->n; i++) {
		const struct mc_tensor *t = &map->t[i];
		printf("%s{\"name\":", i ? "," : "");
		print_json_string(map->names + t->name);
		printf(",\"off\":%llu,\"len\":%llu,\"dtype\":\"%s\",\"big_endian\":%s",
		       (unsigned long long)t->off, (unsigned long long)t->len, dtype_name(t->dtype),
		       t->big_endian ? "true" : "false");
		print_shape(map, i);
		putchar('}');
	}
	printf("]}\n");
	mc_tensor_map_free(map, &a);
	return 0;
}
