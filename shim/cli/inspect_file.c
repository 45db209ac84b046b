/* inspect_file.c: the recognisers of shim/formats/ on a file by its path, with plain pread
 * and malloc (the library's own reader, tensormap.c, must use the real pread and mmap
 * instead: it runs inside hooked calls). Reads only; writes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect.h"

static int64_t read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	int fd = *(const int *)ctx;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (int64_t)got;
}

static void *heap_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void heap_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static const struct mc_tensor_alloc heap = { heap_alloc, heap_free, NULL };

void mc_inspect_file(struct mc_inspected *r, const struct mc_inspect_raw *raw)
{
	struct stat st;
	int fd = open(r->file, O_RDONLY | O_CLOEXEC);
	r->status = -2;
	r->map = NULL;
	if (fd < 0) {
		r->err = errno;
		snprintf(r->why, sizeof(r->why), "%s", strerror(r->err));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r->err = EINVAL;
		snprintf(r->why, sizeof(r->why), "%s",
		         S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		close(fd);
		return;
	}
	r->size = (uint64_t)st.st_size;
	if (raw) {
		r->status = mc_tensor_raw_map(&r->raw, r->size, raw->lo, raw->hi, raw->dtype,
		                              r->why, sizeof(r->why));
		r->map = r->status == 1 ? &r->raw.map : NULL;
	} else {
		struct mc_tensor_src src = { read_at, &fd, r->size };
		r->status = mc_tensor_recognize(&src, &heap, &r->map, r->why, sizeof(r->why));
	}
	close(fd);
}

void mc_inspected_free(struct mc_inspected *r)
{
	if (r->map && r->map != &r->raw.map)
		mc_tensor_map_free(r->map, &heap);
	r->map = NULL;
}

const char *mc_inspect_format(const char *path)
{
	struct mc_inspected r = { .file = path };
	mc_inspect_file(&r, NULL);
	const char *name =
	    r.status == 1 ? mc_tensor_format_name((enum mc_tensor_format)r.map->format) : NULL;
	mc_inspected_free(&r);
	return name;
}
