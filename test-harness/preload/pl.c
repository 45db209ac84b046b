/* pl.c: transcript, checks and expected trace rows for the preload test programs. Output goes
 * through write(2) from stack buffers, never stdio or malloc, so that the framework adds no
 * call to the families the programs count (only writes to stdout/stderr, which are pipes). */
#include "pl.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PL_MAX_ROWS   64
#define PL_MAX_ABSENT 16
#define PL_NAME_MAX   32
#define PL_TARGET_MAX (PATH_MAX + 16)
#define PL_LINE_MAX   (PL_TARGET_MAX + 128)

struct pl_row {
	char fn[PL_NAME_MAX];
	char target[PL_TARGET_MAX];
	long long calls;
	long long bytes;
	bool absent;
};

static struct pl_row rows[PL_MAX_ROWS];
static int nrows;
static int failures;
static bool orphan;
static char workdir[PATH_MAX];
static const char *progname = "pl";

static void put_line(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, line, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		len -= (size_t)w;
	}
}

static void vsay(int fd, const char *prefix, const char *fmt, va_list ap)
{
	char line[PL_LINE_MAX];
	int off = snprintf(line, sizeof(line), "%s", prefix);
	int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
	size_t len = (size_t)off + (n < 0 ? 0 : (size_t)n);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	put_line(fd, line, len);
}

void pl_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(STDOUT_FILENO, "", fmt, ap);
	va_end(ap);
}

void pl_fail(const char *file, int line, const char *fmt, ...)
{
	char prefix[PATH_MAX + 64];
	va_list ap;
	snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", file, line, progname);
	va_start(ap, fmt);
	vsay(STDERR_FILENO, prefix, fmt, ap);
	va_end(ap);
	failures++;
}

void pl_init(int argc, char **argv, const char *name)
{
	progname = name;
	if (argc < 2 || argv[1][0] != '/' || strlen(argv[1]) >= sizeof(workdir) - 64) {
		pl_fail(__FILE__, __LINE__, "usage: %s ABSOLUTE-WORKDIR [ARGS]", name);
		_exit(2);
	}
	strcpy(workdir, argv[1]);
}

const char *pl_path(const char *name)
{
	static char ring[8][PATH_MAX + 256];
	static unsigned next;
	char *p = ring[next++ % 8];
	snprintf(p, sizeof(ring[0]), "%s/%s", workdir, name);
	return p;
}

bool pl_pattern_ok(const void *buf, size_t n, size_t off)
{
	const unsigned char *b = buf;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pl_pattern(off + i))
			return false;
	return true;
}

void pl_ret(const char *what, long ret, int err)
{
	if (ret < 0)
		pl_say("%s = %ld (%s)", what, ret,
		       strerrorname_np(err) ? strerrorname_np(err) : "?");
	else
		pl_say("%s = %ld", what, ret);
}

static struct pl_row *row_for(const char *fn, const char *target, bool absent)
{
	for (int i = 0; i < nrows; i++)
		if (rows[i].absent == absent && strcmp(rows[i].fn, fn) == 0 &&
		    strcmp(rows[i].target, target) == 0)
			return &rows[i];
	if (nrows == PL_MAX_ROWS || strlen(fn) >= PL_NAME_MAX || strlen(target) >= PL_TARGET_MAX) {
		pl_fail(__FILE__, __LINE__, "too many rows, or name too long: %s %s", fn, target);
		return NULL;
	}
	struct pl_row *r = &rows[nrows++];
	strcpy(r->fn, fn);
	strcpy(r->target, target);
	r->calls = 0;
	r->bytes = 0;
	r->absent = absent;
	return r;
}

void pl_rec(const char *fn, const char *target, long long bytes)
{
	struct pl_row *r = row_for(fn, target, false);
	if (!r)
		return;
	r->calls++;
	r->bytes += bytes > 0 ? bytes : 0;
}

void pl_rec_file(const char *fn, const char *path, long long bytes)
{
	char target[PL_TARGET_MAX];
	snprintf(target, sizeof(target), "file:%s", path);
	pl_rec(fn, target, bytes);
}

void pl_absent(const char *fn, const char *target)
{
	row_for(fn, target, true);
}

void pl_absent_target(const char *target)
{
	row_for("*", target, true);
}

const char *pl_target(char *buf, size_t n, const char *kind, int port)
{
	if (port >= 0)
		snprintf(buf, n, "socket:%s:%d", kind, port);
	else
		snprintf(buf, n, "socket:%s", kind);
	return buf;
}

int pl_local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		pl_fail(__FILE__, __LINE__, "getsockname: %s", strerror(errno));
		return -1;
	}
	return ntohs(sin.sin_port);
}

/* Loopback TCP: a listener on an ephemeral port, a client connected to it and the accepted
 * end. Returns the port (what both ends' trace target names). */
int pl_tcp_pair(int *ret_client, int *ret_server)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	*ret_client = *ret_server = -1;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4) != 0) {
		pl_fail(__FILE__, __LINE__, "listen on 127.0.0.1: %s", strerror(errno));
		return -1;
	}
	int port = pl_local_port(lfd);
	sin.sin_port = htons((uint16_t)port);
	*ret_client = socket(AF_INET, SOCK_STREAM, 0);
	if (*ret_client < 0 || connect(*ret_client, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		pl_fail(__FILE__, __LINE__, "connect to 127.0.0.1: %s", strerror(errno));
	*ret_server = accept(lfd, NULL, NULL);
	if (*ret_server < 0)
		pl_fail(__FILE__, __LINE__, "accept: %s", strerror(errno));
	close(lfd);
	return port;
}

/* Loopback UDP: a receiver bound to an ephemeral port and a sender connected to it. Returns
 * the receiver's port. */
int pl_udp_pair(int *ret_sender, int *ret_receiver)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	*ret_receiver = socket(AF_INET, SOCK_DGRAM, 0);
	*ret_sender = socket(AF_INET, SOCK_DGRAM, 0);
	if (*ret_receiver < 0 || *ret_sender < 0 ||
	    bind(*ret_receiver, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		pl_fail(__FILE__, __LINE__, "udp socket on 127.0.0.1: %s", strerror(errno));
		return -1;
	}
	int port = pl_local_port(*ret_receiver);
	sin.sin_port = htons((uint16_t)port);
	if (connect(*ret_sender, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		pl_fail(__FILE__, __LINE__, "udp connect: %s", strerror(errno));
	return port;
}

void pl_orphan(void)
{
	orphan = true;
}

void pl_forked_child(void)
{
	nrows = 0;
}

int pl_finish(void)
{
	int pid = (int)getpid();
	pl_say("proc %d %d", pid, orphan ? 0 : (int)getppid());
	for (int i = 0; i < nrows; i++) {
		const struct pl_row *r = &rows[i];
		if (r->absent)
			pl_say("absent %d %s %s", pid, r->fn, r->target);
		else
			pl_say("expect %d %s %s %lld %lld", pid, r->fn, r->target, r->calls,
			       r->bytes);
	}
	return failures ? 1 : 0;
}
