/* ft_read.c: the read family under the real library: delay, fail, short and corrupt on read,
 * pread, readv, preadv, fread (files) and recv, recvfrom, recvmsg, read, readv (sockets), and
 * corruption of mmap'ed files. Never writes to the data files: the parent proves them intact. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ft.h"

#define DATA_SIZE  65536 /* 16 pages of 4 KiB */
#define PAGE       4096
#define SOCK_BYTES 16384

/* ---- child: one call of each function ------------------------------------------------------ */

enum fn {
	FN_READ,
	FN_PREAD,
	FN_READV,
	FN_PREADV,
	FN_FREAD,
	FN_RECV,
	FN_RECVFROM,
	FN_RECVMSG,
	FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
	"read", "pread", "readv", "preadv", "fread", "recv", "recvfrom", "recvmsg",
};

/* One call of fn for up to n bytes at file offset off (ignored on sockets); returns the byte
 * count, or -1 with errno (fread: 0 items with ferror() set, which is cleared). */
static ssize_t read_once(enum fn fn, int fd, FILE *f, void *buf, size_t n, off_t off, bool sock)
{
	char *b = buf;
	struct iovec v[2] = { { b, n / 2 }, { b + n / 2, n - n / 2 } };
	if (!sock && (fn == FN_READ || fn == FN_READV))
		lseek(fd, off, SEEK_SET);
	switch (fn) {
	case FN_READ:
		return read(fd, buf, n);
	case FN_PREAD:
		return pread(fd, buf, n, off);
	case FN_READV:
		return readv(fd, v, 2);
	case FN_PREADV:
		return preadv(fd, v, 2, off);
	case FN_FREAD: {
		fseeko(f, off, SEEK_SET);
		size_t r = fread(buf, 1, n, f);
		if (r == 0 && ferror(f)) {
			int e = errno;
			clearerr(f);
			errno = e;
			return -1;
		}
		return (ssize_t)r;
	}
	case FN_RECV:
		return recv(fd, buf, n, 0);
	case FN_RECVFROM:
		return recvfrom(fd, buf, n, 0, NULL, NULL);
	case FN_RECVMSG: {
		struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
		return recvmsg(fd, &m, 0);
	}
	default:
		return -1;
	}
}

struct src {
	bool sock;
	int fd;   /* the file, or the receiving end */
	int peer; /* sockets: the sending end */
	FILE *f;  /* files: a stream on the same file */
};

static void open_file(struct src *s, const char *path)
{
	s->sock = false;
	s->fd = open(path, O_RDONLY);
	s->f = fopen(path, "r");
	if (s->fd < 0 || !s->f) {
		ft_note("cannot open %s: %s", path, strerror(errno));
		exit(2);
	}
}

static void close_src(struct src *s)
{
	close(s->fd);
	if (s->sock)
		close(s->peer);
	else
		fclose(s->f);
}

/* Sockets: 0 a socketpair, 1 a TCP connection (the accepted end receives). */
static void open_sock(struct src *s, int kind)
{
	int sv[2];
	s->sock = true;
	s->f = NULL;
	if (kind == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			exit(2);
		s->fd = sv[0];
		s->peer = sv[1];
		return;
	}
	int port, lfd = ft_listen_tcp(&port);
	ft_tcp_pair(lfd, port, &s->peer, &s->fd);
	close(lfd);
}

static bool fn_applies(enum fn fn, bool sock)
{
	if (sock)
		return fn == FN_READ || fn == FN_READV || fn >= FN_RECV;
	return fn < FN_RECV;
}

/* Puts n pattern bytes (from offset 0) into the socket for the next receive. */
static void feed(const struct src *s, size_t n)
{
	uint8_t buf[SOCK_BYTES];
	for (size_t i = 0; i < n && i < sizeof(buf); i++)
		buf[i] = ft_pattern(i);
	if (ft_write_full(s->peer, buf, n) != n)
		ft_note("cannot feed the socket");
}

/* Bytes waiting in a socket, asked without a read (which a rule would act on). */
static int pending(const struct src *s)
{
	int n = 0;
	return ioctl(s->fd, FIONREAD, &n) == 0 ? n : -1;
}

/* Empties what is left in a socket; reads only when something is there. */
static void drain(const struct src *s)
{
	uint8_t buf[4096];
	for (int i = 0; i < 64 && pending(s) > 0; i++)
		if (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

/* Each function: a 4096-byte call takes at least delay_ms longer than on an untargeted fd. */
static void check_delay(struct src *s, struct src *other, long delay_ms)
{
	uint8_t buf[4096];
	uint64_t want_ns = (uint64_t)delay_ms * 1000000u;
	for (int fn = 0; fn < FN_COUNT; fn++) {
		if (!fn_applies(fn, s->sock))
			continue;
		if (s->sock)
			feed(s, sizeof(buf));
		uint64_t t0 = ft_now_ns();
		ssize_t r = read_once(fn, s->fd, s->f, buf, sizeof(buf), 0, s->sock);
		uint64_t dt = ft_now_ns() - t0;
		FT_CHECKF(r > 0, "%s: returned %zd", fn_names[fn], r);
		FT_CHECKF(dt >= want_ns, "%s: took %.3f ms, the delay is %ld ms", fn_names[fn],
		          (double)dt / 1e6, delay_ms);
		FT_CHECKF(dt < want_ns + 2000000000ull, "%s: took %.3f ms", fn_names[fn],
		          (double)dt / 1e6);
		if (s->sock)
			drain(s);
		if (!other)
			continue;
		/* not delayed: the fastest of a few tries beats the delay (FT_UNDELAYED_TRIES) */
		uint64_t best = UINT64_MAX;
		for (int i = 0; i < FT_UNDELAYED_TRIES && best >= want_ns; i++) {
			t0 = ft_now_ns();
			r = read_once(fn, other->fd, other->f, buf, sizeof(buf), 0, other->sock);
			dt = ft_now_ns() - t0;
			best = dt < best ? dt : best;
			FT_CHECKF(r > 0, "%s on an untargeted file: returned %zd", fn_names[fn], r);
		}
		FT_CHECKF(best < want_ns, "%s on an untargeted file: %.3f ms at best, delay %ld ms",
		          fn_names[fn], (double)best / 1e6, delay_ms);
	}
}

/* Each function fails with err (and returns nothing); the untargeted file reads fine. */
static void check_fail(struct src *s, struct src *other, int err)
{
	uint8_t buf[4096];
	for (int fn = 0; fn < FN_COUNT; fn++) {
		if (!fn_applies(fn, s->sock))
			continue;
		if (s->sock)
			feed(s, sizeof(buf));
		errno = 0;
		ssize_t r = read_once(fn, s->fd, s->f, buf, sizeof(buf), 0, s->sock);
		int e = errno;
		FT_CHECKF(r == -1 && e == err, "%s: returned %zd errno %d (%s), expected errno %d",
		          fn_names[fn], r, e, strerror(e), err);
		if (s->sock) /* the data is still there: the failure came before the call */
			FT_CHECKF(pending(s) >= (int)sizeof(buf),
			          "%s: the failed call consumed data", fn_names[fn]);
		if (other) {
			r = read_once(fn, other->fd, other->f, buf, sizeof(buf), 0, other->sock);
			FT_CHECKF(r == (ssize_t)sizeof(buf),
			          "%s on an untargeted file: returned %zd", fn_names[fn], r);
		}
	}
}

/* Each function moves between 1 and max bytes per call, and a loop gets every byte right. */
static void check_short(struct src *s, long max)
{
	static uint8_t buf[DATA_SIZE];
	size_t total = s->sock ? SOCK_BYTES : DATA_SIZE;
	for (int fn = 0; fn < FN_COUNT; fn++) {
		if (!fn_applies(fn, s->sock))
			continue;
		if (s->sock)
			feed(s, total);
		memset(buf, 0, sizeof(buf));
		size_t got = 0;
		long calls = 0, bad = 0;
		while (got < total && calls < (long)total + 10) {
			ssize_t r =
			    read_once(fn, s->fd, s->f, buf + got, total - got, (off_t)got, s->sock);
			calls++;
			if (r <= 0 || r > max) {
				bad++;
				if (r <= 0)
					break;
			}
			got += (size_t)r;
		}
		FT_CHECKF(bad == 0, "%s: %ld calls out of 1..%ld bytes", fn_names[fn], bad, max);
		FT_CHECKF(got == total, "%s: the loop got %zu of %zu bytes", fn_names[fn], got,
		          total);
		FT_CHECKF(calls >= (long)(total / (size_t)max), "%s: %ld calls for %zu bytes",
		          fn_names[fn], calls, total);
		size_t wrong = 0;
		for (size_t i = 0; i < got; i++)
			wrong += buf[i] != ft_pattern(i);
		FT_CHECKF(wrong == 0, "%s: %zu bytes differ from the file", fn_names[fn], wrong);
	}
	/* Fewer bytes asked than max_bytes: never more than asked, never 0. */
	if (s->sock)
		feed(s, 64);
	for (int i = 0; i < (s->sock ? 6 : 50); i++) {
		ssize_t r =
		    read_once(s->sock ? FN_RECV : FN_PREAD, s->fd, s->f, buf, 10, 0, s->sock);
		FT_CHECKF(r >= 1 && r <= 10, "asked 10 bytes, got %zd", r);
	}
	if (s->sock)
		drain(s);
}

/* child: ACTION SUBJECT DIR [PARAM]: ACTION delay|fail|short, SUBJECT files|sockets. */
static void child_actions(int argc, char **argv)
{
	const char *action = argv[1];
	bool sockets = strcmp(argv[2], "sockets") == 0;
	const char *dir = argv[3];
	long param = (long)ft_arg_ll(argc, argv, 4);
	char path[4096], other_path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", dir);
	snprintf(other_path, sizeof(other_path), "%s/other.bin", dir);
	for (int kind = 0; kind < (sockets ? 2 : 1); kind++) {
		struct src s, other;
		if (sockets)
			open_sock(&s, kind);
		else {
			open_file(&s, path);
			open_file(&other, other_path);
		}
		struct src *o = sockets ? NULL : &other;
		if (strcmp(action, "delay") == 0)
			check_delay(&s, o, param);
		else if (strcmp(action, "fail") == 0)
			check_fail(&s, o, (int)param);
		else
			check_short(&s, param);
		close_src(&s);
		if (!sockets)
			close_src(&other);
	}
}

/* child: DIR: 400 failing calls pick EIO or EINTR, both often, nothing else. */
static void child_errno_mix(int argc, char **argv)
{
	(void)argc;
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	int fd = open(path, O_RDONLY);
	uint8_t buf[64];
	int eio = 0, eintr = 0, other = 0;
	for (int i = 0; i < 400; i++) {
		errno = 0;
		ssize_t r = pread(fd, buf, sizeof(buf), 0);
		if (r == -1 && errno == EIO)
			eio++;
		else if (r == -1 && errno == EINTR)
			eintr++;
		else
			other++;
	}
	FT_EQ(other, 0);
	FT_CHECKF(eio >= 120 && eintr >= 120, "EIO %d times, EINTR %d times of 400", eio, eintr);
	close(fd);
}

/* ---- child: corruption ----------------------------------------------------------------------- */

struct damage_spec {
	const char *mode; /* bitflip, zero, random, byte */
	long count;
	long lo, hi; /* the rule's offset range */
};

/* Changed positions per page of img against the file, and any outside [lo, hi). */
static void check_damage(const uint8_t *img, const struct damage_spec *d, const char *what)
{
	bool bits = strcmp(d->mode, "bitflip") == 0;
	long outside = 0, wrong_value = 0;
	for (long page = 0; page < DATA_SIZE / PAGE; page++) {
		long changed = 0;
		for (long i = page * PAGE; i < (page + 1) * PAGE; i++) {
			uint8_t want = ft_pattern((uint64_t)i), got = img[i];
			if (want == got)
				continue;
			changed += bits ? __builtin_popcount(want ^ got) : 1;
			if (i < d->lo || i >= d->hi)
				outside++;
			if ((strcmp(d->mode, "zero") == 0 && got != 0) ||
			    (strcmp(d->mode, "byte") == 0 && got != 0xAA))
				wrong_value++;
		}
		long span_lo = page * PAGE > d->lo ? page * PAGE : d->lo;
		long span_hi = (page + 1) * PAGE < d->hi ? (page + 1) * PAGE : d->hi;
		long span = span_hi > span_lo ? (span_hi - span_lo) * (bits ? 8 : 1) : 0;
		long want = d->count < span ? d->count : span;
		FT_CHECKF(changed == want, "%s: page %ld has %ld changed %s, expected %ld", what,
		          page, changed, bits ? "bits" : "bytes", want);
	}
	FT_CHECKF(outside == 0, "%s: %ld changes outside offset %ld-%ld", what, outside, d->lo,
	          d->hi);
	FT_CHECKF(wrong_value == 0, "%s: %ld damaged bytes hold the wrong value", what,
	          wrong_value);
}

static void same_image(const uint8_t *a, const uint8_t *b, size_t n, const char *what)
{
	size_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff += a[i] != b[i];
	FT_CHECKF(diff == 0, "%s: %zu bytes differ from what read() saw", what, diff);
}

/* The whole file through fn in chunks of chunk bytes (0: one call), from offset start. */
static void read_all(enum fn fn, int fd, FILE *f, uint8_t *img, size_t chunk, size_t start)
{
	size_t got = start;
	int calls = 0;
	memset(img, 0, DATA_SIZE);
	while (got < DATA_SIZE && calls++ < 1000) {
		size_t n = chunk && chunk < DATA_SIZE - got ? chunk : DATA_SIZE - got;
		ssize_t r = read_once(fn, fd, f, img + got, n, (off_t)got, false);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	FT_CHECKF(got == DATA_SIZE, "%s: read %zu of %d bytes", fn_names[fn], got, DATA_SIZE);
}

static void print_damage(const uint8_t *img)
{
	for (size_t i = 0; i < DATA_SIZE; i++)
		if (img[i] != ft_pattern(i))
			printf("%zu %02x\n", i, img[i]);
}

/* Every way of reading the file sees the image the first read() saw. */
static void compare_readers(int fd, FILE *f, const uint8_t *ref, const char *path)
{
	static uint8_t img[DATA_SIZE];
	static const struct {
		enum fn fn;
		size_t chunk, start;
		const char *what;
	} ways[] = {
		{ FN_READ, 1000, 0, "read in 1000-byte chunks" },
		{ FN_PREAD, 4096, 0, "pread by pages" },
		{ FN_PREAD, 777, 0, "pread in 777-byte chunks" },
		{ FN_READV, 5000, 0, "readv" },
		{ FN_PREADV, 3000, 0, "preadv" },
		{ FN_FREAD, 333, 0, "fread in 333-byte chunks" },
		{ FN_FREAD, 0, 0, "fread in one call" },
	};
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		read_all(ways[w].fn, fd, f, img, ways[w].chunk, ways[w].start);
		same_image(ref, img, DATA_SIZE, ways[w].what);
	}
	/* mmap: private, shared read-only, and a window at a page offset */
	int mfd = open(path, O_RDONLY);
	const struct {
		int flags;
		off_t off;
		const char *what;
	} maps[] = {
		{ MAP_PRIVATE, 0, "mmap MAP_PRIVATE" },
		{ MAP_SHARED, 0, "mmap MAP_SHARED read-only" },
		{ MAP_PRIVATE, 8192, "mmap MAP_PRIVATE at offset 8192" },
	};
	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
		size_t len = DATA_SIZE - (size_t)maps[m].off;
		void *p = mmap(NULL, len, PROT_READ, maps[m].flags, mfd, maps[m].off);
		FT_CHECKF(p != MAP_FAILED, "%s: %s", maps[m].what, strerror(errno));
		if (p != MAP_FAILED) {
			same_image(ref + maps[m].off, p, len, maps[m].what);
			munmap(p, len);
		}
	}
	close(mfd);
}

/* child: DIR MODE COUNT LO HI: the damage is as the rule says and the same for every reader.
 * Prints the damaged bytes ("OFFSET VALUE" lines) for the parent to compare across runs. */
static void child_corrupt(int argc, char **argv)
{
	static uint8_t ref[DATA_SIZE];
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	struct damage_spec d = { argv[2], (long)ft_arg_ll(argc, argv, 3),
		                 (long)ft_arg_ll(argc, argv, 4), (long)ft_arg_ll(argc, argv, 5) };
	int fd = open(path, O_RDONLY);
	FILE *f = fopen(path, "r");
	if (fd < 0 || !f)
		exit(2);
	read_all(FN_READ, fd, f, ref, 0, 0);
	check_damage(ref, &d, "read");
	compare_readers(fd, f, ref, path);
	print_damage(ref);
	close(fd);
	fclose(f);
}

/* child: DIR: data.bin read through a symbolic link (link.bin) and through a path with a
 * ".." in it is the same file, with the same damage as through its own name. */
static void child_corrupt_alias(int argc, char **argv)
{
	(void)argc;
	static uint8_t ref[DATA_SIZE], img[DATA_SIZE];
	static const char *const aliases[] = { "link.bin", "sub/../data.bin" };
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	int fd = open(path, O_RDONLY);
	read_all(FN_PREAD, fd, NULL, ref, 0, 0);
	close(fd);
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1], aliases[i]);
		fd = open(path, O_RDONLY);
		read_all(FN_PREAD, fd, NULL, img, 0, 0);
		close(fd);
		same_image(ref, img, DATA_SIZE, aliases[i]);
	}
}

/* child: DIR COUNT: with scope = call, two reads of the same bytes see different damage,
 * each with COUNT bits per page. */
static void child_corrupt_call(int argc, char **argv)
{
	static uint8_t a[DATA_SIZE], b[DATA_SIZE];
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	struct damage_spec d = { "bitflip", (long)ft_arg_ll(argc, argv, 2), 0, DATA_SIZE };
	int fd = open(path, O_RDONLY);
	read_all(FN_PREAD, fd, NULL, a, 0, 0);
	read_all(FN_PREAD, fd, NULL, b, 0, 0);
	check_damage(a, &d, "first read");
	check_damage(b, &d, "second read");
	size_t diff = 0;
	for (size_t i = 0; i < DATA_SIZE; i++)
		diff += a[i] != b[i];
	FT_CHECKF(diff > 0, "two reads with scope = call saw the same damage");
	close(fd);
}

/* child: DIR: a shared writable mapping is never damaged (it could reach the disk), while a
 * private mapping of the same file is. */
static void child_shared_writable(int argc, char **argv)
{
	(void)argc;
	char path[4096];
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	int fd = open(path, O_RDWR);
	uint8_t *p = mmap(NULL, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	FT_CHECKF(p != MAP_FAILED, "mmap MAP_SHARED writable: %s", strerror(errno));
	if (p == MAP_FAILED)
		return;
	size_t diff = 0;
	for (size_t i = 0; i < DATA_SIZE; i++)
		diff += p[i] != ft_pattern(i);
	FT_CHECKF(diff == 0, "a MAP_SHARED writable mapping has %zu damaged bytes", diff);
	munmap(p, DATA_SIZE);
	uint8_t *q = mmap(NULL, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	diff = 0;
	for (size_t i = 0; q != MAP_FAILED && i < DATA_SIZE; i++)
		diff += q[i] != ft_pattern(i);
	FT_CHECKF(diff > 0, "a MAP_PRIVATE mapping of the same file was not damaged");
	if (q != MAP_FAILED)
		munmap(q, DATA_SIZE);
	close(fd);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

static const char *make_files(void)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	ft_pattern_file("other.bin", DATA_SIZE);
	return ft_path("data.bin");
}

static void run_actions(const char *cfg, const char *action, const char *subject, const char *param)
{
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, "actions", action, subject, ft_dir(), param, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_delay_files(void)
{
	const char *data = make_files();
	run_actions(ft_config("c.ini", "[fault.slow-disk]\nhook = read\naction = delay\n"
	                               "path = */data.bin\ndelay = 40ms\n"),
	            "delay", "files", "40");
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_delay_sockets(void)
{
	run_actions(ft_config("c.ini", "[fault.slow-net]\nhook = read\naction = delay\n"
	                               "delay = 40ms\n"),
	            "delay", "sockets", "40");
}

static void test_fail_files(void)
{
	const char *data = make_files();
	char err[16];
	snprintf(err, sizeof(err), "%d", EIO);
	run_actions(ft_config("c.ini", "[fault.eio]\nhook = read\naction = fail\n"
	                               "path = */data.bin\nerrno = EIO\n"),
	            "fail", "files", err);
	/* without errno =, a read fails with EIO */
	run_actions(
	    ft_config("d.ini", "[fault.eio]\nhook = read\naction = fail\npath = */data.bin\n"),
	    "fail", "files", err);
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_fail_list(void)
{
	make_files();
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[mlchaos]\nseed = 5\n[fault.flaky]\nhook = read\n"
	                              "action = fail\npath = */data.bin\nerrno = EIO,EINTR\n");
	ft_run(&r, "errno-mix", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

static void test_fail_sockets(void)
{
	char err[16];
	snprintf(err, sizeof(err), "%d", ECONNRESET);
	run_actions(ft_config("c.ini", "[fault.reset]\nhook = read\naction = fail\n"
	                               "errno = ECONNRESET\n"),
	            "fail", "sockets", err);
}

static void test_short_files(void)
{
	const char *data = make_files();
	run_actions(ft_config("c.ini", "[fault.trickle]\nhook = read\naction = short\n"
	                               "path = */data.bin\nmax_bytes = 100\n"),
	            "short", "files", "100");
	run_actions(ft_config("d.ini", "[fault.one]\nhook = read\naction = short\n"
	                               "path = */data.bin\nmax_bytes = 1KiB\n"),
	            "short", "files", "1024");
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_short_sockets(void)
{
	run_actions(ft_config("c.ini", "[fault.trickle]\nhook = read\naction = short\n"
	                               "max_bytes = 100\n"),
	            "short", "sockets", "100");
}

static const char corrupt_cfg[] = "[mlchaos]\nseed = %d\n"
                                  "[fault.read-rot]\nhook = read\naction = corrupt\n"
                                  "path = */data.bin\nmode = %s\ncount = %d\noffset = %s\n"
                                  "damage = rot\n"
                                  "[fault.map-rot]\nhook = mmap\naction = corrupt\n"
                                  "path = */data.bin\nmode = %s\ncount = %d\noffset = %s\n"
                                  "damage = rot\n";

/* One run of the corrupt child; returns its damage listing (malloc'ed). */
static char *corrupt_run(int seed, const char *mode, int count, long lo, long hi)
{
	char range[64], cnt[16], los[24], his[24];
	const char *mode_word = strcmp(mode, "byte") == 0 ? "byte:0xAA" : mode;
	snprintf(range, sizeof(range), "%ld-%ld", lo, hi);
	snprintf(cnt, sizeof(cnt), "%d", count);
	snprintf(los, sizeof(los), "%ld", lo);
	snprintf(his, sizeof(his), "%ld", hi);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config =
	    ft_config("c.ini", corrupt_cfg, seed, mode_word, count, range, mode_word, count, range);
	ft_run(&r, "corrupt", ft_dir(), mode, cnt, los, his, NULL);
	FT_RUN_OK(&r);
	char *out = r.out;
	r.out = NULL;
	ft_run_free(&r);
	return out;
}

static void test_corrupt_reproducible(void)
{
	const char *data = make_files();
	char *a = corrupt_run(1, "bitflip", 1, 0, DATA_SIZE);
	char *b = corrupt_run(1, "bitflip", 1, 0, DATA_SIZE);
	char *c = corrupt_run(2, "bitflip", 1, 0, DATA_SIZE);
	FT_CHECKF(strcmp(a, b) == 0, "two runs with seed 1 saw different damage:\n%s---\n%s", a, b);
	FT_CHECKF(strcmp(a, c) != 0, "seeds 1 and 2 saw the same damage:\n%s", a);
	FT_CHECKF(strlen(a) > 0, "no damage listed");
	free(a);
	free(b);
	free(c);
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_corrupt_modes(void)
{
	const char *data = make_files();
	free(corrupt_run(3, "bitflip", 5, 5000, 30000));
	free(corrupt_run(3, "zero", 3, 8192, 20480));
	free(corrupt_run(3, "random", 2, 0, DATA_SIZE));
	free(corrupt_run(3, "byte", 4, 4096, DATA_SIZE));
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_corrupt_scope_call(void)
{
	const char *data = make_files();
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.flaky-bus]\nhook = read\naction = corrupt\n"
	                              "path = */data.bin\ncount = 2\nscope = call\n");
	ft_run(&r, "corrupt-call", ft_dir(), "2", NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_corrupt_alias(void)
{
	const char *data = make_files();
	FT_CHECK(symlink("data.bin", ft_path("link.bin")) == 0);
	FT_CHECK(mkdir(ft_path("sub"), 0700) == 0);
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.rot]\nhook = read\naction = corrupt\n"
	                              "path = */*.bin\ncount = 4\n");
	ft_run(&r, "corrupt-alias", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
	FT_CHECK(ft_pattern_file_intact(data, DATA_SIZE));
}

static void test_mmap_shared_writable(void)
{
	const char *data = make_files();
	struct ft_run r = { .how = FT_PRELOAD };
	r.config = ft_config("c.ini", "[fault.map-rot]\nhook = mmap\naction = corrupt\n"
	                              "path = */data.bin\ncount = 8\n");
	ft_run(&r, "shared-writable", ft_dir(), NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
	FT_CHECKF(ft_pattern_file_intact(data, DATA_SIZE), "the file changed on disk");
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "actions", child_actions },
		{ "errno-mix", child_errno_mix },
		{ "corrupt", child_corrupt },
		{ "corrupt-call", child_corrupt_call },
		{ "corrupt-alias", child_corrupt_alias },
		{ "shared-writable", child_shared_writable },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "delay-files", test_delay_files },
		{ "delay-sockets", test_delay_sockets },
		{ "fail-files", test_fail_files },
		{ "fail-errno-list", test_fail_list },
		{ "fail-sockets", test_fail_sockets },
		{ "short-files", test_short_files },
		{ "short-sockets", test_short_sockets },
		{ "corrupt-reproducible", test_corrupt_reproducible },
		{ "corrupt-modes", test_corrupt_modes },
		{ "corrupt-scope-call", test_corrupt_scope_call },
		{ "corrupt-alias", test_corrupt_alias },
		{ "mmap-shared-writable", test_mmap_shared_writable },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
