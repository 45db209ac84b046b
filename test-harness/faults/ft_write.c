/* ft_write.c: the write family under the real library: fail (ENOSPC by default) and short on
 * write, pwrite, writev and fwrite to files (checkpoint saves), with ferror() set by a failed
 * fwrite; files the rule's path does not match are written normally. Writes only inside the
 * test's own directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ft.h"

#define FILE_BYTES 16384

enum fn { FN_WRITE, FN_PWRITE, FN_WRITEV, FN_FWRITE, FN_COUNT };

static const char *const fn_names[FN_COUNT] = { "write", "pwrite", "writev", "fwrite" };

/* One call of fn writing n bytes at file offset off; returns the bytes written or -1. */
static ssize_t write_once(enum fn fn, int fd, FILE *f, const void *buf, size_t n, off_t off)
{
	const char *b = buf;
	struct iovec v[2] = { { (void *)b, n / 2 }, { (void *)(b + n / 2), n - n / 2 } };
	switch (fn) {
	case FN_WRITE:
		return write(fd, buf, n);
	case FN_PWRITE:
		return pwrite(fd, buf, n, off);
	case FN_WRITEV:
		return writev(fd, v, 2);
	case FN_FWRITE: {
		size_t r = fwrite(buf, 1, n, f);
		return r == 0 && ferror(f) ? -1 : (ssize_t)r;
	}
	default:
		return -1;
	}
}

struct out {
	int fd;
	FILE *f;
	char path[4096];
};

static void open_out(struct out *o, const char *dir, const char *name, enum fn fn)
{
	snprintf(o->path, sizeof(o->path), "%s/%s-%s.bin", dir, name, fn_names[fn]);
	o->f = NULL;
	o->fd = -1;
	if (fn == FN_FWRITE)
		o->f = fopen(o->path, "w");
	else
		o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (o->fd < 0 && !o->f) {
		ft_note("cannot create %s: %s", o->path, strerror(errno));
		exit(2);
	}
}

static void close_out(struct out *o)
{
	if (o->f)
		FT_EQ(fclose(o->f), 0);
	else
		close(o->fd);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static const uint8_t *pattern_buf(void)
{
	static uint8_t buf[FILE_BYTES];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = ft_pattern(i);
	return buf;
}

/* child: DIR ERRNO: every function fails on out-*.bin with ERRNO and writes nothing; fwrite
 * sets the stream's error indicator; other-*.bin are written in full. */
static void child_fail(int argc, char **argv)
{
	int err = (int)ft_arg_ll(argc, argv, 2);
	const uint8_t *buf = pattern_buf();
	for (int fn = 0; fn < FN_COUNT; fn++) {
		struct out o, other;
		open_out(&o, argv[1], "out", fn);
		open_out(&other, argv[1], "other", fn);
		errno = 0;
		ssize_t r = write_once(fn, o.fd, o.f, buf, 4096, 0);
		int e = errno;
		FT_CHECKF(r == -1 && e == err, "%s: returned %zd errno %d (%s), expected errno %d",
		          fn_names[fn], r, e, strerror(e), err);
		if (o.f) {
			FT_CHECKF(ferror(o.f), "fwrite failed but ferror() is not set");
			clearerr(o.f);
		}
		FT_EQ(write_once(fn, other.fd, other.f, buf, 4096, 0), 4096);
		close_out(&o);
		close_out(&other);
		FT_EQ(file_size(o.path), 0);
		FT_EQ(file_size(other.path), 4096);
	}
}

/* child: DIR MAX: every call moves 1..MAX bytes and a loop writes the whole file right. */
static void child_short(int argc, char **argv)
{
	long max = (long)ft_arg_ll(argc, argv, 2);
	const uint8_t *buf = pattern_buf();
	for (int fn = 0; fn < FN_COUNT; fn++) {
		struct out o;
		open_out(&o, argv[1], "out", fn);
		size_t put = 0;
		long calls = 0, bad = 0;
		while (put < FILE_BYTES && calls++ < FILE_BYTES + 10) {
			ssize_t r =
			    write_once(fn, o.fd, o.f, buf + put, FILE_BYTES - put, (off_t)put);
			if (r <= 0 || r > max)
				bad++;
			if (r <= 0)
				break;
			put += (size_t)r;
		}
		FT_CHECKF(bad == 0, "%s: %ld calls outside 1..%ld bytes", fn_names[fn], bad, max);
		FT_CHECKF(calls >= FILE_BYTES / max, "%s: %ld calls for %d bytes", fn_names[fn],
		          calls, FILE_BYTES);
		FT_EQ(put, FILE_BYTES);
		close_out(&o);
	}
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static void run_child(const char *cfg, const char *name, const char *param)
{
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, name, ft_dir(), param, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_fail(void)
{
	char err[16];
	snprintf(err, sizeof(err), "%d", ENOSPC);
	run_child(ft_config("c.ini", "[fault.disk-full]\nhook = write\naction = fail\n"
	                             "path = */out-*.bin\n"),
	          "fail", err);
	snprintf(err, sizeof(err), "%d", EDQUOT);
	run_child(ft_config("d.ini", "[fault.quota]\nhook = write\naction = fail\n"
	                             "path = */out-*.bin\nerrno = EDQUOT\n"),
	          "fail", err);
}

static void test_short(void)
{
	static const char *const names[] = { "write", "pwrite", "writev", "fwrite" };
	run_child(ft_config("c.ini", "[fault.trickle]\nhook = write\naction = short\n"
	                             "path = */out-*.bin\nmax_bytes = 7\n"),
	          "short", "7");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "out-%s.bin", names[i]);
		FT_CHECKF(ft_pattern_file_intact(ft_path(name), FILE_BYTES),
		          "%s: the file written by a short-write loop is wrong", names[i]);
	}
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "fail", child_fail },
		{ "short", child_short },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "fail", test_fail },
		{ "short", test_short },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
