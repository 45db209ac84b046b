/* ft_http.c: request selection end to end. A small thread-per-connection HTTP/1.1 server runs
 * under the library with a send rule; the parent, never preloaded, is the client. The requests
 * that saw the fault must be exactly those `mlchaos select` names, run after run, in a prefork
 * server and in one whose two threads take turns on each connection (each answer sent by a
 * thread that read the connection's request before); another seed selects others;
 * request_key = connection and thread select whole connections and threads.
 * The server only ever binds the listener the parent hands it (127.0.0.1). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ft.h"

#define REQ_MAX        8192
#define N_REQUESTS     10000
#define CLIENT_THREADS 4
#define N_CONNECTIONS  40
#define PER_CONNECTION 3

/* ---- the server (child) ------------------------------------------------------------------ */

/* Logs "tid ID ok|fail" for each response when asked to (request_key = thread). */
static bool log_responses;

/* The X-Request-Id value of a request (at most cap - 1 bytes, "-" when absent). */
static void request_id(const char *req, char *id, size_t cap)
{
	const char *h = strcasestr(req, "\r\nX-Request-Id:");
	snprintf(id, cap, "-");
	if (!h)
		return;
	h += strlen("\r\nX-Request-Id:");
	while (*h == ' ')
		h++;
	size_t n = strcspn(h, "\r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(id, h, n);
	id[n] = '\0';
}

/* Reads one request (the bytes up to the blank line) into buf; false at EOF or error. */
static bool read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

/* Answers the request in req on fd; false when the send failed (as a server does then, the
 * caller drops the connection). */
static bool answer_request(int fd, const char *req)
{
	char id[256], resp[1024], body[300];
	request_id(req, id, sizeof(id));
	int blen = snprintf(body, sizeof(body), "ok %s\n", id);
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: %d\r\n\r\n%s",
	                 blen, body);
	ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL);
	if (log_responses) {
		char line[400];
		int l = snprintf(line, sizeof(line), "tid %d %s %s\n", (int)gettid(), id,
		                 w == n ? "ok" : "fail");
		ft_write_full(STDOUT_FILENO, line, (size_t)l);
	}
	return w == n;
}

static void *serve_connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread char req[REQ_MAX];
	while (read_request(fd, req, sizeof(req)) && answer_request(fd, req))
		;
	close(fd);
	return NULL;
}

/* handoff: two threads serve one connection, taking turns: the one that reads a request hands
 * it to the other, which answers it and then reads the next. So each answer is sent by a
 * thread that last read an earlier request of the same connection, whose key it must not
 * keep for this one. */
struct handoff;
struct handoff_side {
	struct handoff *h;
	int me;
};

struct handoff {
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int who;     /* the thread (0 or 1) whose turn it is */
	bool answer; /* its turn is to answer the request in req (else to read one) */
	bool done;
	int threads; /* still running: the last one closes fd */
	struct handoff_side sides[2];
	char req[REQ_MAX];
};

static void *handoff_thread(void *arg)
{
	struct handoff_side *side = arg;
	struct handoff *h = side->h;
	for (;;) {
		pthread_mutex_lock(&h->mu);
		while (!h->done && h->who != side->me)
			pthread_cond_wait(&h->cv, &h->mu);
		bool done = h->done, answer = h->answer;
		pthread_mutex_unlock(&h->mu);
		if (done)
			break;
		bool ok = answer ? answer_request(h->fd, h->req)
		                 : read_request(h->fd, h->req, sizeof(h->req));
		pthread_mutex_lock(&h->mu);
		h->done = !ok;
		if (!answer)
			h->who = 1 - side->me; /* the other answers, then reads the next */
		h->answer = !answer;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	pthread_mutex_lock(&h->mu);
	bool last = --h->threads == 0;
	pthread_mutex_unlock(&h->mu);
	if (last) {
		close(h->fd);
		free(h);
	}
	return NULL;
}

/* Starts the thread that serves connection fd, or with handoff the two that take turns. */
static void serve(int fd, bool handoff)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	if (!handoff) {
		if (pthread_create(&t, &attr, serve_connection, (void *)(intptr_t)fd) != 0) {
			ft_note("pthread_create failed");
			close(fd);
		}
	} else {
		struct handoff *h = calloc(1, sizeof(*h));
		if (!h)
			exit(1);
		h->fd = fd;
		h->threads = 2;
		pthread_mutex_init(&h->mu, NULL);
		pthread_cond_init(&h->cv, NULL);
		for (int i = 0; i < 2; i++) {
			h->sides[i] = (struct handoff_side){ h, i };
			if (pthread_create(&t, &attr, handoff_thread, &h->sides[i]) != 0) {
				ft_note("pthread_create failed");
				exit(1); /* one of the pair started: the test ends here */
			}
		}
	}
	pthread_attr_destroy(&attr);
}

/* child: LFD [log|prefork|handoff]: accepts on the inherited listener LFD until killed, a
 * thread per connection; with prefork, in two processes (the second forked before accepting,
 * and ended with the first), as prefork servers such as gunicorn do; with handoff, two
 * threads per connection taking turns (handoff_thread). */
static void child_server(int argc, char **argv)
{
	int lfd = (int)ft_arg_ll(argc, argv, 1);
	log_responses = argc > 2 && strcmp(argv[2], "log") == 0;
	bool handoff = argc > 2 && strcmp(argv[2], "handoff") == 0;
	/* The parent ends the server; if the parent dies first, so does the server. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		exit(2);
	if (argc > 2 && strcmp(argv[2], "prefork") == 0) {
		pid_t parent = getpid();
		pid_t pid = fork();
		if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
			_exit(0);
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			ft_note("accept: %s", strerror(errno));
			exit(1);
		}
		serve(fd, handoff);
	}
}

/* ---- the client (parent) ----------------------------------------------------------------- */

static int server_port;

static int connect_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                 .sin_port = htons((uint16_t)server_port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		ft_note("connect: %s", strerror(errno));
		exit(2);
	}
	return fd;
}

enum outcome { OUT_OK, OUT_DROPPED, OUT_WRONG };

/* One request on fd, with header: id (no header when header is NULL); OUT_DROPPED when the
 * server closed without an answer. */
static enum outcome one_request_as(int fd, const char *header, const char *id)
{
	char req[512], resp[1024], hdr[300] = "";
	if (header)
		snprintf(hdr, sizeof(hdr), "%s: %s\r\n", header, id);
	int n = snprintf(req, sizeof(req),
	                 "GET /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n%sAccept: */*\r\n\r\n", hdr);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return OUT_DROPPED;
	char want[300];
	snprintf(want, sizeof(want), "ok %s\n", header ? id : "-");
	size_t len = 0;
	while (len + 1 < sizeof(resp)) {
		ssize_t r = recv(fd, resp + len, sizeof(resp) - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return len == 0 ? OUT_DROPPED : OUT_WRONG;
		len += (size_t)r;
		resp[len] = '\0';
		const char *body = strstr(resp, "\r\n\r\n");
		if (body && strlen(body + 4) >= strlen(want))
			return strcmp(body + 4, want) == 0 ? OUT_OK : OUT_WRONG;
	}
	return OUT_WRONG;
}

static enum outcome one_request(int fd, const char *id)
{
	return one_request_as(fd, "X-Request-Id", id);
}

struct client {
	int first, count;       /* request ids first .. first + count - 1 */
	unsigned char *faulted; /* per id: 1 when dropped */
	int wrong;
};

/* Request i: its id, and the header name it is sent under (NULL: none). Every 10th request
 * has no id, which no select = request rule below 100% may select; the header's name comes in
 * three cases; every 7th id is longer than the 128 bytes a key is cut to. */
static const char *request_of(int i, char *id, size_t cap)
{
	static const char *const names[] = { "X-Request-Id", "x-request-id", "X-REQUEST-ID" };
	if (i % 7 == 3)
		snprintf(id, cap, "req-%05d-%0150d", i, 0);
	else
		snprintf(id, cap, "req-%05d", i);
	return i % 10 == 9 ? NULL : names[i % 3];
}

static void *client_thread(void *arg)
{
	struct client *c = arg;
	int fd = connect_server();
	for (int i = c->first; i < c->first + c->count; i++) {
		char id[200];
		const char *header = request_of(i, id, sizeof(id));
		enum outcome o = one_request_as(fd, header, id);
		if (o == OUT_WRONG)
			c->wrong++;
		if (o != OUT_OK) {
			c->faulted[i] = 1;
			close(fd);
			fd = connect_server();
		}
	}
	close(fd);
	return NULL;
}

struct server {
	struct ft_run run;
	pid_t pid;
	int lfd;
};

static void server_start(struct server *s, const char *cfg, const char *mode)
{
	char lfd_s[16];
	s->lfd = ft_listen_tcp(&server_port);
	snprintf(lfd_s, sizeof(lfd_s), "%d", s->lfd);
	memset(&s->run, 0, sizeof(s->run));
	s->run.how = FT_PRELOAD;
	s->run.config = cfg;
	s->pid = ft_start(&s->run, "server", lfd_s, mode, NULL);
}

/* Stops the server; it must still be running (it never crashed). */
static void server_stop(struct server *s)
{
	kill(s->pid, SIGTERM);
	ft_finish(&s->run, s->pid);
	FT_CHECKF(WIFSIGNALED(s->run.status) && WTERMSIG(s->run.status) == SIGTERM,
	          "the server ended by itself (status 0x%x): %s", (unsigned)s->run.status,
	          s->run.err);
	close(s->lfd);
}

/* N_REQUESTS requests against a server under cfg; returns the faulted flags (malloc'ed). */
static unsigned char *run_requests(const char *cfg, const char *mode)
{
	struct server s;
	server_start(&s, cfg, mode);
	unsigned char *faulted = calloc(N_REQUESTS, 1);
	struct client c[CLIENT_THREADS];
	pthread_t t[CLIENT_THREADS];
	for (int i = 0; i < CLIENT_THREADS; i++) {
		c[i] = (struct client){ .first = i * (N_REQUESTS / CLIENT_THREADS),
			                .count = N_REQUESTS / CLIENT_THREADS,
			                .faulted = faulted };
		pthread_create(&t[i], NULL, client_thread, &c[i]);
	}
	for (int i = 0; i < CLIENT_THREADS; i++) {
		pthread_join(t[i], NULL);
		FT_CHECKF(c[i].wrong == 0, "client %d: %d wrong answers", i, c[i].wrong);
	}
	server_stop(&s);
	ft_run_free(&s.run);
	return faulted;
}

/* What `mlchaos select -c cfg rule -` says of the keys in keys_text (one per line): a
 * malloc'ed copy of its stdout. */
static char *select_keys(const char *cfg, const char *rule, const char *keys_text)
{
	const char *keys = ft_write("keys.txt", keys_text, strlen(keys_text));
	const char *cmd[] = { ft_mlchaos(), "select", "-c", cfg, rule, "-", NULL };
	struct ft_run r = { .how = FT_PLAIN, .cmd = cmd, .stdin_path = keys };
	ft_run_cmd(&r);
	FT_RUN_OK(&r);
	char *out = r.out;
	r.out = NULL;
	ft_run_free(&r);
	return out;
}

/* The requests whose ids mlchaos select selects, as flags (malloc'ed); requests sent
 * without an id are never selected. */
static unsigned char *selected_ids(const char *cfg, const char *rule)
{
	char *keys = malloc(N_REQUESTS * 200);
	size_t len = 0;
	int keyed = 0;
	for (int i = 0; i < N_REQUESTS; i++) {
		char id[200];
		if (request_of(i, id, sizeof(id))) {
			len += (size_t)sprintf(keys + len, "%s\n", id);
			keyed++;
		}
	}
	char *out = select_keys(cfg, rule, keys);
	unsigned char *sel = calloc(N_REQUESTS, 1);
	int lines = 0;
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		/* "KEY selected" or "KEY not-selected"; KEY is req-NNNNN, maybe more */
		int i;
		const char *end = strchr(l, '\n') ? strchr(l, '\n') : l + strlen(l);
		const char *sp = memrchr(l, ' ', (size_t)(end - l));
		if (sp && sscanf(l, "req-%d", &i) == 1 && i >= 0 && i < N_REQUESTS) {
			sel[i] = strncmp(sp, " selected\n", 10) == 0;
			lines++;
		}
	}
	FT_EQ(lines, keyed);
	free(out);
	free(keys);
	return sel;
}

static int count(const unsigned char *flags)
{
	int n = 0;
	for (int i = 0; i < N_REQUESTS; i++)
		n += flags[i];
	return n;
}

/* How many requests differ; with show, names the first few. */
static int differences(const unsigned char *a, const unsigned char *b, bool show)
{
	int n = 0;
	for (int i = 0; i < N_REQUESTS; i++) {
		if (a[i] == b[i])
			continue;
		if (show && n < 5) {
			char id[200];
			const char *h = request_of(i, id, sizeof(id));
			ft_note("request %d (%s: %.20s%s): %d vs %d", i, h ? h : "no header", id,
			        strlen(id) > 20 ? "..." : "", a[i], b[i]);
		}
		n++;
	}
	return n;
}

static const char header_cfg[] = "[mlchaos]\nseed = %d\nrequest_key = header:X-Request-Id\n"
                                 "[fault.drop-responses]\nhook = send\naction = fail\n"
                                 "rate = 10%%\n";

static void test_header_key(void)
{
	const char *cfg = ft_config("a.ini", header_cfg, 42);
	unsigned char *first = run_requests(cfg, NULL);
	unsigned char *sel = selected_ids(cfg, "drop-responses");
	int n = count(first), diff = differences(first, sel, true), keyed = N_REQUESTS * 9 / 10;
	FT_CHECKF(diff == 0, "%d requests differ between the faults seen and mlchaos select", diff);
	for (int i = 9; i < N_REQUESTS; i += 10)
		FT_CHECKF(!first[i], "request %d, sent without an id, faulted", i);
	FT_CHECKF(n >= keyed * 9 / 100 && n <= keyed * 11 / 100,
	          "%d of %d requests with ids faulted, expected 9%%..11%%", n, keyed);
	unsigned char *second = run_requests(cfg, NULL);
	FT_CHECKF(differences(first, second, true) == 0, "a second run faulted %d other requests",
	          differences(first, second, false));
	/* every process selects alike: two prefork workers fault the same requests */
	unsigned char *prefork = run_requests(cfg, "prefork");
	FT_CHECKF(differences(first, prefork, true) == 0,
	          "a prefork server faulted %d other requests", differences(first, prefork, false));
	free(prefork);
	/* a request answered by another thread than the one that read it, which read the
	 * connection's request before: decided by the key of the request it answers */
	unsigned char *handoff = run_requests(cfg, "handoff");
	FT_CHECKF(differences(first, handoff, true) == 0,
	          "two threads taking turns on each connection faulted %d other requests",
	          differences(first, handoff, false));
	free(handoff);
	const char *cfg2 = ft_config("b.ini", header_cfg, 43);
	unsigned char *other = run_requests(cfg2, NULL);
	unsigned char *sel2 = selected_ids(cfg2, "drop-responses");
	FT_CHECKF(differences(other, sel2, true) == 0,
	          "seed 43: %d requests differ from mlchaos select",
	          differences(other, sel2, false));
	FT_CHECKF(differences(first, other, false) > N_REQUESTS / 20,
	          "seeds 42 and 43 faulted nearly the same requests (%d differ)",
	          differences(first, other, false));
	ft_note("header key: %d of %d requests with ids faulted (seed 42), %d (seed 43)", n, keyed,
	        count(other));
	free(first);
	free(second);
	free(other);
	free(sel);
	free(sel2);
}

/* request_key = connection: the k-th accepted connection has key "k"; a selected connection
 * fails its first response, the others answer every request. Connections one at a time, so
 * that the server accepts them in the client's order. */
static void test_connection_key(void)
{
	const char *cfg = ft_config("c.ini", "[mlchaos]\nseed = 7\nrequest_key = connection\n"
	                                     "[fault.bad-conn]\nhook = send\naction = fail\n"
	                                     "rate = 50%%\n");
	struct server s;
	server_start(&s, cfg, NULL);
	char keys[N_CONNECTIONS * 8] = "";
	bool dropped[N_CONNECTIONS + 1] = { false };
	for (int k = 1; k <= N_CONNECTIONS; k++) {
		int fd = connect_server();
		for (int i = 0; i < PER_CONNECTION; i++) {
			char id[32];
			snprintf(id, sizeof(id), "conn%d-%d", k, i);
			enum outcome o = one_request(fd, id);
			FT_CHECKF(o != OUT_WRONG, "connection %d: a wrong answer", k);
			if (o != OUT_OK) {
				FT_CHECKF(i == 0,
				          "connection %d: answered %d requests, then dropped", k,
				          i);
				dropped[k] = true;
				break;
			}
		}
		close(fd);
		snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%d\n", k);
	}
	server_stop(&s);
	ft_run_free(&s.run);
	char *out = select_keys(cfg, "bad-conn", keys);
	int n_dropped = 0, lines = 0;
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int k;
		char verdict[32];
		if (sscanf(l, "%d %31s", &k, verdict) != 2 || k < 1 || k > N_CONNECTIONS)
			continue;
		lines++;
		bool sel = strcmp(verdict, "selected") == 0;
		FT_CHECKF(sel == dropped[k], "connection %d: %s by mlchaos select, but %s", k,
		          sel ? "selected" : "not selected", dropped[k] ? "dropped" : "served");
		n_dropped += dropped[k];
	}
	FT_EQ(lines, N_CONNECTIONS);
	FT_CHECKF(n_dropped > 0 && n_dropped < N_CONNECTIONS, "%d of %d connections dropped",
	          n_dropped, N_CONNECTIONS);
	free(out);
}

/* request_key = thread: the key is the serving thread's id; the server logs each response's
 * thread and fate. Every response of a selected thread fails, none of the others. */
static void test_thread_key(void)
{
	const char *cfg = ft_config("t.ini", "[mlchaos]\nseed = 9\nrequest_key = thread\n"
	                                     "[fault.bad-thread]\nhook = send\naction = fail\n"
	                                     "rate = 50%%\n");
	struct server s;
	server_start(&s, cfg, "log");
	for (int k = 1; k <= N_CONNECTIONS; k++) {
		int fd = connect_server();
		for (int i = 0; i < PER_CONNECTION; i++) {
			char id[32];
			snprintf(id, sizeof(id), "thr%d-%d", k, i);
			if (one_request(fd, id) != OUT_OK)
				break;
		}
		close(fd);
	}
	server_stop(&s);
	/* tid -> fate: 1 ok, 2 fail, 3 both (wrong) */
	int tids[N_CONNECTIONS * PER_CONNECTION], fate[N_CONNECTIONS * PER_CONNECTION], nt = 0;
	for (char *l = s.run.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int tid;
		char id[64], res[8];
		if (sscanf(l, "tid %d %63s %7s", &tid, id, res) != 3)
			continue;
		int j = 0;
		while (j < nt && tids[j] != tid)
			j++;
		if (j == nt && nt < N_CONNECTIONS * PER_CONNECTION) {
			tids[nt] = tid;
			fate[nt++] = 0;
		}
		if (j < nt)
			fate[j] |= strcmp(res, "ok") == 0 ? 1 : 2;
	}
	FT_EQ(nt, N_CONNECTIONS);
	char keys[N_CONNECTIONS * PER_CONNECTION * 12] = "";
	for (int j = 0; j < nt; j++) {
		FT_CHECKF(fate[j] != 3, "thread %d: some responses failed, some did not", tids[j]);
		snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%d\n", tids[j]);
	}
	char *out = select_keys(cfg, "bad-thread", keys);
	int n_failed = 0;
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int tid;
		char verdict[32];
		if (sscanf(l, "%d %31s", &tid, verdict) != 2)
			continue;
		for (int j = 0; j < nt; j++) {
			if (tids[j] != tid)
				continue;
			bool sel = strcmp(verdict, "selected") == 0;
			FT_CHECKF(sel == (fate[j] == 2), "thread %d: %s by mlchaos select, but %s",
			          tid, sel ? "selected" : "not selected",
			          fate[j] == 2 ? "its responses failed" : "it answered");
			n_failed += fate[j] == 2;
		}
	}
	FT_CHECKF(n_failed > 0 && n_failed < nt, "%d of %d threads failed", n_failed, nt);
	free(out);
	ft_run_free(&s.run);
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "server", child_server },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "header-key", test_header_key },
		{ "connection-key", test_connection_key },
		{ "thread-key", test_thread_key },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
