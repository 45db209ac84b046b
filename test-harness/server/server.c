/* server.c: mlchaos-model-server, the reference inference server: command line, listening
 * socket, epoll thread pool, optional prefork workers, hot reload and graceful stop.
 * Never lets one request's failure (a failed allocation, a bad body) take down the process,
 * and never answers with a model that did not load completely. */
#include "handler.h"
#include "http.h"
#include "model.h"
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define PROG "mlchaos-model-server"

/* A client that stops reading its answer gets this long before its connection is dropped. */
#define SEND_TIMEOUT_MS 5000
#define MAX_THREADS     256
#define MAX_WORKERS     64
/* A worker that dies is replaced, but no sooner than this after the last start in its slot,
 * so a crash loop cannot spin. */
#define RESPAWN_GAP_MS 500
/* How long at most, and how much, a connection closed after an error answer is still read. */
#define LINGER_MS        500
#define LINGER_MAX_BYTES (1 << 20)

struct srv_opts {
	const char *model_path;
	const char *fallback_path;
	const char *ready_file;
	const char *host;
	unsigned port;
	enum mc_load_method method;
	bool verify;
	bool allow_no_model;
	bool quiet;
	unsigned threads;
	unsigned workers;
	unsigned watch_ms;
	uint64_t max_body_bytes;
};

/* One connection; only the thread that took its (one-shot) epoll event touches it. */
struct conn {
	int fd;
	struct conn *prev, *next; /* all connections, for the final cleanup */
	bool in_body;             /* the head is parsed into req and sits at head[0..head_bytes) */
	struct mc_http_req req;
	size_t head_bytes;
	size_t head_len; /* bytes in head[], parsed head included */
	char *body;      /* content_length + 1 bytes on the heap while in_body */
	size_t body_len;
	char head[MC_HTTP_MAX_HEAD_BYTES];
};

struct srv {
	struct srv_opts o;
	struct mc_registry reg;
	struct mc_handler handler;
	int listen_fd;
	int epfd;
	int stop_fd; /* eventfd: readable once stopping, wakes every thread */
	atomic_bool stopping;
	pthread_mutex_t conns_lock;
	struct conn *conns;
	char listen_tag; /* addresses used as epoll tags */
	char stop_tag;
};

static void say(bool info, const struct srv *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Messages go to stderr, one line each, prefixed with the program and pid (workers share it). */
static void say(bool info, const struct srv *s, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	int n;

	if (info && s && s->o.quiet)
		return;
	n = snprintf(line, sizeof(line), PROG "[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	/* One write(2): lines from several workers do not interleave. */
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		return;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " --model FILE [options]\n"
	    "Serve a reference model over HTTP/1.1: POST /predict, GET /health, GET /model.\n"
	    "\n"
	    "  --model FILE        the model file (required)\n"
	    "  --port N            TCP port, 0 picks a free one (default 8080)\n"
	    "  --host ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
	    "  --load METHOD       how the bytes arrive: read, pread, fread, mmap (default read)\n"
	    "  --naive-loader      one read(2) assumed to return the whole file (a known bug)\n"
	    "  --verify            refuse weights whose xxh64 differs from the header's\n"
	    "  --threads N         request threads per process (default 4)\n"
	    "  --workers N         prefork N processes sharing the socket (default 0: none)\n"
	    "  --fallback FILE     a second model, used when the first cannot load or serve\n"
	    "  --ready-file PATH   write the port there once listening (removed at exit)\n"
	    "  --watch-ms N        poll the model file every N ms for changes, 0 = only on\n"
	    "                      SIGHUP (default 500)\n"
	    "  --max-body BYTES    largest request body, larger ones get 413 (default 65536)\n"
	    "  --allow-no-model    start even when no model loads (503 until one does)\n"
	    "  --quiet             no informational lines on stderr, errors only\n"
	    "  --help, --version\n"
	    "\n"
	    "Prints 'Listening on HOST:PORT' on stdout when ready. SIGHUP reloads the model;\n"
	    "SIGTERM or SIGINT stop gracefully. Exit: 0 stopped, 1 could not start, 2 usage.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

enum {
	OPT_MODEL = 256,
	OPT_PORT,
	OPT_HOST,
	OPT_LOAD,
	OPT_NAIVE,
	OPT_VERIFY,
	OPT_THREADS,
	OPT_WORKERS,
	OPT_FALLBACK,
	OPT_READY,
	OPT_WATCH,
	OPT_MAX_BODY,
	OPT_ALLOW_NO_MODEL,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "load", required_argument, NULL, OPT_LOAD },
	{ "naive-loader", no_argument, NULL, OPT_NAIVE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "fallback", required_argument, NULL, OPT_FALLBACK },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "watch-ms", required_argument, NULL, OPT_WATCH },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "allow-no-model", no_argument, NULL, OPT_ALLOW_NO_MODEL },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* One option into o. 0, or -EINVAL with the message printed. */
static int set_opt(struct srv_opts *o, int c, const char *arg, bool *naive)
{
	unsigned v = 0;
	int r = 0;

	switch (c) {
	case OPT_MODEL:
		o->model_path = arg;
		return 0;
	case OPT_HOST:
		o->host = strcmp(arg, "localhost") == 0 ? "127.0.0.1" : arg;
		return 0;
	case OPT_FALLBACK:
		o->fallback_path = arg;
		return 0;
	case OPT_READY:
		o->ready_file = arg;
		return 0;
	case OPT_NAIVE:
		*naive = true;
		return 0;
	case OPT_VERIFY:
		o->verify = true;
		return 0;
	case OPT_ALLOW_NO_MODEL:
		o->allow_no_model = true;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_LOAD:
		r = mc_load_method_parse(arg, &o->method);
		break;
	case OPT_PORT:
		r = parse_uint(arg, 65535, &o->port);
		break;
	case OPT_THREADS:
		r = parse_uint(arg, MAX_THREADS, &o->threads);
		r = r ? r : o->threads ? 0 : -EINVAL;
		break;
	case OPT_WORKERS:
		r = parse_uint(arg, MAX_WORKERS, &o->workers);
		break;
	case OPT_WATCH:
		r = parse_uint(arg, 3600000, &o->watch_ms);
		break;
	case OPT_MAX_BODY:
		r = parse_uint(arg, 64u << 20, &v);
		o->max_body_bytes = v;
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		fprintf(stderr, PROG ": invalid value '%s' for --%s\n", arg,
		        long_opts[c - 256].name);
	return r;
}

/* 0 to run, or the exit status (0 after --help/--version, 2 on a usage error). */
static int parse_args(int argc, char **argv, struct srv_opts *o, int *ret_exit)
{
	bool naive = false;
	struct in_addr a;
	int c;

	*o = (struct srv_opts){ .host = "127.0.0.1",
		                .port = 8080,
		                .method = MC_LOAD_READ,
		                .threads = 4,
		                .watch_ms = 500,
		                .max_body_bytes = MC_HTTP_MAX_BODY_BYTES };
	*ret_exit = 2;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == OPT_HELP || c == OPT_VERSION) {
			if (c == OPT_HELP)
				usage(stdout);
			else
				printf(PROG " %s\n", MC_VERSION);
			*ret_exit = 0;
			return -1;
		}
		if (c == '?' || set_opt(o, c, optarg, &naive) < 0)
			goto bad;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (!o->model_path) {
		fprintf(stderr, PROG ": --model FILE is required\n");
		goto bad;
	}
	if (inet_pton(AF_INET, o->host, &a) != 1) {
		fprintf(stderr, PROG ": --host '%s' is not an IPv4 address\n", o->host);
		goto bad;
	}
	if (naive)
		o->method = MC_LOAD_NAIVE;
	return 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return -1;
}

/* ---- connections ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w >= 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		w = poll(&pfd, 1, SEND_TIMEOUT_MS);
		if (w == 0)
			return -ETIMEDOUT;
		if (w < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Read what is there into dst[room]: bytes read, 0 at EOF, -EAGAIN when nothing is there. */
static ssize_t fill(int fd, char *dst, size_t room)
{
	for (;;) {
		ssize_t n = recv(fd, dst, room, 0);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void conn_close(struct srv *s, struct conn *c)
{
	pthread_mutex_lock(&s->conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->conns_lock);
	close(c->fd);
	free(c->body);
	free(c);
}

/* After an error answer the client may still be sending (a body too large, say): closing
 * with unread bytes makes the kernel send a reset, which can destroy the answer before the
 * client reads it. So: stop writing, read and drop what still comes for a short while, and
 * only then let the caller close (the "lingering close" of RFC 9112, 9.6). */
static void linger(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end_ms = mono_ms() + LINGER_MS, left_ms;
	size_t dropped = 0;
	char sink[4096];

	shutdown(fd, SHUT_WR);
	while (dropped < LINGER_MAX_BYTES && (left_ms = end_ms - mono_ms()) > 0 &&
	       poll(&pfd, 1, (int)left_ms) > 0) {
		ssize_t n = recv(fd, sink, sizeof(sink), 0);

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
		dropped += n > 0 ? (size_t)n : 0;
	}
}

static void send_error(struct conn *c, int status, const char *message)
{
	char buf[MC_HTTP_STATIC_BYTES];
	size_t n = mc_http_static_error(buf, status, c->req.request_id, true, NULL, message);

	if (send_all(c->fd, buf, n) == 0)
		linger(c->fd);
}

static const char *head_error_message(int status)
{
	switch (status) {
	case 413:
		return "request body too large";
	case 431:
		return "request header too large";
	case 501:
		return "transfer codings are not supported, send Content-Length";
	case 505:
		return "HTTP version not supported";
	}
	return "malformed request";
}

/* The head at head[0..hlen) is complete: parse it and get the body started. 0 to go on, or
 * -1 when an answer was sent and the connection must close. */
static int start_request(struct srv *s, struct conn *c, size_t hlen)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	int status = mc_http_parse_head(c->head, hlen, s->o.max_body_bytes, &c->req);
	size_t extra = c->head_len - hlen, take;

	if (status) {
		send_error(c, status, head_error_message(status));
		return -1;
	}
	c->body = malloc(c->req.content_length + 1);
	if (!c->body) {
		/* The body is still on the wire: the connection cannot be reused. */
		send_error(c, 503, "out of memory");
		return -1;
	}
	take = extra < c->req.content_length ? extra : c->req.content_length;
	memcpy(c->body, c->head + hlen, take);
	c->body_len = take;
	c->head_bytes = hlen;
	c->in_body = true;
	if (c->req.expect_continue && c->body_len < c->req.content_length &&
	    send_all(c->fd, cont, sizeof(cont) - 1) < 0)
		return -1;
	return 0;
}

/* The body is complete: answer, then keep what the client pipelined after it. 0 to go on,
 * -1 to close. */
static int finish_request(struct srv *s, struct conn *c)
{
	struct mc_reply reply;
	size_t n, used;
	const char *bytes;
	int r;

	c->body[c->body_len] = '\0';
	mc_handle(&s->handler, &c->req, c->body, c->body_len, &reply);
	bytes = mc_reply_bytes(&reply, &n);
	r = send_all(c->fd, bytes, n);
	mc_reply_free(&reply);
	free(c->body);
	c->body = NULL;
	c->in_body = false;
	/* Pipelined bytes sit after the head and the part of the body that came with it. */
	used =
	    c->head_bytes +
	    (c->head_len - c->head_bytes < c->body_len ? c->head_len - c->head_bytes : c->body_len);
	memmove(c->head, c->head + used, c->head_len - used);
	c->head_len -= used;
	c->body_len = 0;
	return r < 0 || reply.close || atomic_load(&s->stopping) ? -1 : 0;
}

/* Advance one connection as far as the bytes that are there allow. 1 when it waits for more
 * (re-arm it), 0 when it is done (close it). */
static int conn_run(struct srv *s, struct conn *c)
{
	ssize_t n = 0;
	size_t hlen;

	for (;;) {
		if (c->in_body && c->body_len == c->req.content_length) {
			if (finish_request(s, c) < 0)
				return 0;
			continue;
		}
		if (c->in_body) {
			n = fill(c->fd, c->body + c->body_len, c->req.content_length - c->body_len);
			if (n > 0)
				c->body_len += (size_t)n;
		} else if ((hlen = mc_http_head_end(c->head, c->head_len)) > 0) {
			if (start_request(s, c, hlen) < 0)
				return 0;
			continue;
		} else if (c->head_len == sizeof(c->head)) {
			send_error(c, 431, "request header too large");
			return 0;
		} else {
			n = fill(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len);
			if (n > 0)
				c->head_len += (size_t)n;
		}
		if (n == -EAGAIN)
			return 1;
		if (n <= 0)
			return 0; /* EOF or error: nothing to answer */
	}
}

#if defined(__SANITIZE_THREAD__)
#define MC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MC_TSAN 1
#endif
#endif

/* Give the connection back to epoll for its next bytes; from then on another thread may own
 * it. EPOLL_CTL_MOD is all the kernel needs, but ThreadSanitizer sees a hand-over between
 * threads only through EPOLL_CTL_ADD: its builds take the longer way (DEL, ADD) so that it
 * checks the same ownership rule instead of reporting the hand-over itself. */
static int rearm(struct srv *s, int fd, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c };

#ifdef MC_TSAN
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
#else
	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
#endif
}

static void conn_event(struct srv *s, struct conn *c)
{
	int fd = c->fd;

	/* Nothing touches c after a successful re-arm; after a failed one nobody else has it. */
	if (conn_run(s, c) == 0 || rearm(s, fd, c) < 0)
		conn_close(s, c);
}

static void refuse(int fd)
{
	char buf[MC_HTTP_STATIC_BYTES];
	size_t n = mc_http_static_error(buf, 503, "", true, NULL, "out of memory");

	if (send_all(fd, buf, n) == 0)
		linger(fd);
	close(fd);
}

static void conn_add(struct srv *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT };
	struct conn *c = malloc(sizeof(*c));
	int one = 1;

	if (!c) {
		refuse(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(c, 0, offsetof(struct conn, head));
	c->fd = fd;
	pthread_mutex_lock(&s->conns_lock);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	pthread_mutex_unlock(&s->conns_lock);
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_close(s, c);
}

static void accept_all(struct srv *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_add(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The pending connection stays in the backlog and the socket stays
			 * readable: pause instead of spinning until a descriptor frees up. */
			say(false, s, "accept: %s", strerror(errno));
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
		}
		return;
	}
}

static void *worker_main(void *arg)
{
	struct srv *s = arg;
	struct epoll_event ev;

	while (!atomic_load(&s->stopping)) {
		int n = epoll_wait(s->epfd, &ev, 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || ev.data.ptr == &s->stop_tag)
			break;
		if (ev.data.ptr == &s->listen_tag)
			accept_all(s);
		else
			conn_event(s, ev.data.ptr);
	}
	return NULL;
}

/* ---- models ---- */

static void log_model(struct srv *s, const char *what, const struct mc_model_ref *ref)
{
	const struct mc_model *m = ref->model;

	say(true, s,
	    "%s %s: version %" PRIu32 ", shape %" PRIu32 "-%" PRIu32 "-%" PRIu32
	    ", %s, xxh64 %016" PRIx64 "%s%s",
	    what, ref->path, m->version, m->n_inputs, m->n_hidden, m->n_classes,
	    mc_load_method_name(m->method), m->checksum, s->o.verify ? " (verified)" : "",
	    m->checksum == m->checksum_actual ? "" : " -- WARNING: weights do not match it");
}

static void reload(struct srv *s, const char *why)
{
	char err[MC_MODEL_ERR_BYTES] = "";
	uint32_t old = 0;
	struct mc_model_ref *ref;

	if (mc_reg_load(&s->reg, &old, err, sizeof(err)) < 0) {
		say(false, s, "reload of %s (%s) failed: %s; still serving version %" PRIu32,
		    s->o.model_path, why, err, old);
		return;
	}
	ref = mc_reg_get(&s->reg);
	say(true, s, "reloaded (%s), version %" PRIu32 " -> %" PRIu32, why, old,
	    ref->model->version);
	log_model(s, "serving", ref);
	mc_ref_put(ref);
}

/* Load what there is to load before listening. 0, or -1 when the server cannot start. */
static int load_models(struct srv *s)
{
	char err[MC_MODEL_ERR_BYTES] = "";
	struct mc_model_ref *ref;
	uint32_t old;
	bool primary = mc_reg_load(&s->reg, &old, err, sizeof(err)) == 0;

	if (!primary)
		say(false, s, "cannot load model %s: %s", s->o.model_path, err);
	if (s->o.fallback_path && mc_reg_load_fallback(&s->reg, err, sizeof(err)) < 0)
		say(false, s, "cannot load fallback model %s: %s", s->o.fallback_path, err);
	ref = mc_reg_get(&s->reg);
	if (!ref && !s->o.allow_no_model)
		return -1;
	if (ref)
		log_model(s, ref->fallback ? "serving the fallback" : "serving", ref);
	else
		say(false, s, "no model loaded; answering 503 until %s loads", s->o.model_path);
	mc_ref_put(ref);
	return 0;
}

/* ---- one serving process ---- */

/* The main thread of a serving process: signals and the file watch, until SIGTERM/SIGINT. */
static void watch_loop(struct srv *s, const sigset_t *sigs)
{
	unsigned period_ms = s->o.watch_ms ? s->o.watch_ms : 1000;
	struct timespec ts = { .tv_sec = period_ms / 1000,
		               .tv_nsec = (period_ms % 1000) * 1000000L };

	for (;;) {
		int sig = sigtimedwait(sigs, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT)
			return;
		if (sig == SIGHUP)
			reload(s, "SIGHUP");
		else if (sig < 0 && errno == EAGAIN && s->o.watch_ms && mc_reg_changed(&s->reg))
			reload(s, "file changed");
	}
}

static int setup_epoll(struct srv *s)
{
	struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->listen_tag };
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &s->stop_tag };

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->stop_fd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev) < 0) {
		say(false, s, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void stop_threads(struct srv *s, pthread_t *threads, unsigned n)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, true);
	if (write(s->stop_fd, &one, sizeof(one)) < 0)
		say(false, s, "eventfd: %s", strerror(errno));
	for (unsigned i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	while (s->conns)
		conn_close(s, s->conns);
}

/* Serve until told to stop. The exit status of the process. */
static int serve(struct srv *s, const sigset_t *sigs)
{
	pthread_t threads[MAX_THREADS];
	unsigned n = 0;
	int r;

	if (pthread_mutex_init(&s->conns_lock, NULL) || setup_epoll(s) < 0)
		return 1;
	for (; n < s->o.threads; n++) {
		r = pthread_create(&threads[n], NULL, worker_main, s);
		if (r) {
			say(false, s, "cannot start thread %u: %s", n, strerror(r));
			stop_threads(s, threads, n);
			return 1;
		}
	}
	watch_loop(s, sigs);
	say(true, s, "stopping");
	stop_threads(s, threads, n);
	close(s->epfd);
	close(s->stop_fd);
	mc_reg_destroy(&s->reg);
	return 0;
}

/* ---- prefork ---- */

struct workers {
	pid_t pid[MAX_WORKERS]; /* 0 when the slot is empty */
	int64_t started_ms[MAX_WORKERS];
	unsigned n;
	pid_t parent;
};

static pid_t spawn(struct srv *s, struct workers *w, unsigned slot, const sigset_t *sigs)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		say(false, s, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* A worker must not outlive a supervisor killed without a chance to stop it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != w->parent)
			_exit(0);
		_exit(serve(s, sigs));
	}
	w->pid[slot] = pid;
	w->started_ms[slot] = mono_ms();
	return pid;
}

static void signal_workers(struct workers *w, int sig)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->pid[i] > 0)
			kill(w->pid[i], sig);
}

static void describe_exit(int status, char *dst, size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(dst, cap, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(dst, cap, "exited with status %d", WEXITSTATUS(status));
}

/* Collect dead workers; returns how many are still running. */
static unsigned reap(struct srv *s, struct workers *w, bool stopping, int *worst)
{
	unsigned alive = 0;
	char how[64];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < w->n; i++) {
			if (w->pid[i] != pid)
				continue;
			w->pid[i] = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				*worst = 1;
			describe_exit(status, how, sizeof(how));
			if (!stopping || *worst)
				say(false, s, "worker %ld %s", (long)pid, how);
		}
	}
	for (unsigned i = 0; i < w->n; i++)
		alive += w->pid[i] > 0;
	return alive;
}

static void respawn_due(struct srv *s, struct workers *w, const sigset_t *sigs)
{
	int64_t now = mono_ms();

	for (unsigned i = 0; i < w->n; i++)
		if (w->pid[i] == 0 && now - w->started_ms[i] >= RESPAWN_GAP_MS &&
		    spawn(s, w, i, sigs) > 0)
			say(false, s, "started worker %ld in place of the one that died",
			    (long)w->pid[i]);
}

/* The supervisor of --workers: forwards SIGHUP, replaces dead workers, stops them all on
 * SIGTERM/SIGINT. The exit status: 0 when every worker stopped cleanly. */
static int supervise(struct srv *s, const sigset_t *sigs)
{
	struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	struct workers w = { .n = s->o.workers, .parent = getpid() };
	int worst = 0, sig;

	for (unsigned i = 0; i < w.n; i++)
		if (spawn(s, &w, i, sigs) < 0)
			worst = 1;
	for (;;) {
		sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			signal_workers(&w, SIGHUP);
		reap(s, &w, false, &worst);
		respawn_due(s, &w, sigs);
	}
	signal_workers(&w, SIGTERM);
	worst = 0;
	while (reap(s, &w, true, &worst) > 0)
		sigtimedwait(sigs, NULL, &tick);
	mc_reg_destroy(&s->reg);
	return worst;
}

/* ---- start ---- */

static int listen_on(struct srv *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->o.port) };
	socklen_t alen = sizeof(a);
	int one = 1;

	inet_pton(AF_INET, s->o.host, &a.sin_addr);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 ||
	    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 1024) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) < 0) {
		say(false, s, "cannot listen on %s:%u: %s", s->o.host, s->o.port, strerror(errno));
		return -1;
	}
	s->o.port = ntohs(a.sin_port);
	return 0;
}

/* Written to a temporary name and renamed: a reader never sees a half-written port. */
static int write_ready_file(struct srv *s)
{
	char tmp[4096], line[16];
	int fd, n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->o.ready_file, (long)getpid());
	bool ok;

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	n = snprintf(line, sizeof(line), "%u\n", s->o.port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	ok = fd >= 0 && write(fd, line, (size_t)n) == n;
	if (fd >= 0)
		ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, s->o.ready_file) < 0) {
		say(false, s, "cannot write the ready file %s: %s", s->o.ready_file,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct srv s;
	sigset_t sigs;
	int status;

	if (parse_args(argc, argv, &s.o, &status) < 0)
		return status;
	/* Signals are taken synchronously by the main thread (sigtimedwait): blocked before any
	 * thread or worker exists, so none of them ever runs a handler. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!s.o.workers)
		sigdelset(&sigs, SIGCHLD);
	s.handler.reg = &s.reg;
	if (mc_reg_init(&s.reg, s.o.model_path, s.o.fallback_path, s.o.method, s.o.verify) < 0 ||
	    load_models(&s) < 0 || listen_on(&s) < 0)
		return 1;
	if (s.o.ready_file && write_ready_file(&s) < 0)
		return 1;
	printf("Listening on %s:%u\n", s.o.host, s.o.port);
	fflush(stdout);
	status = s.o.workers ? supervise(&s, &sigs) : serve(&s, &sigs);
	if (s.o.ready_file)
		unlink(s.o.ready_file);
	close(s.listen_fd);
	return status;
}
