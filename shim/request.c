/* request.c: per-connection and per-thread request keys (request.h).
 * Connection keys live in an mmap'd table indexed by fd, each slot behind a
 * sequence counter so a reader on another thread never sees half a key; the
 * thread's key is initial-exec TLS. No malloc (but for interning a setting, at init or a
 * reload), no lock: this runs inside recv() of a server under load, and inside malloc when a
 * rule asks. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "fdtable.h"
#include "fmt.h"
#include "lazymap.h"
#include "real.h"
#include "request.h"
#include "response.h"

#define CONN_CHUNK_BITS 10
#define CONN_CHUNK      (1u << CONN_CHUNK_BITS)
#define CONN_CHUNKS     1024u
#define KEY_WORDS       (MC_REQKEY_MAX / 8)

/* A connection's key. A sequence lock whose every access is atomic: data stores are release
 * and data loads acquire, so no fence is needed and the reader's final check of seq cannot
 * move above them (the scheme of Boehm's "Can seqlocks get along with programming language
 * memory models?"); thread sanitizers follow it. */
struct conn_slot {
	_Atomic uint32_t seq; /* odd while being written */
	_Atomic uint32_t len;
	_Atomic uint64_t gen; /* the key's number; 0 with no key */
	_Atomic uint64_t words[KEY_WORDS];
};

/* The process's requests: the setting the socket hooks scan with (NULL, no keys, until init;
 * interned, so never freed), each connection's key, and what numbers keys. */
static struct {
	_Atomic(const struct mc_reqconf *) conf;
	_Atomic(void *) conn_chunks[CONN_CHUNKS]; /* struct conn_slot by fd, mapped on first use */
	_Atomic uint64_t accepted;       /* connections accepted: a connection key's ordinal */
	_Atomic bool serving;            /* the host has left its load phase (become_serving) */
	_Atomic uint64_t key_generation; /* one more per key stored: tells equal keys apart */
	_Atomic bool tracking; /* requests in flight are followed to their responses' end */
	_Atomic(void *) resp_chunks[CONN_CHUNKS]; /* struct resp_slot by fd, mapped on first use */
} requests;

/* A connection's requests in flight: read, their responses not yet complete (response.h
 * follows the bytes sent). The framing state is written by the thread that sends on the
 * connection, one at a time as servers do; two threads sending on one connection at once
 * would garble the framing, never memory: every index in it is bounded. */
struct resp_slot {
	_Atomic uint32_t inflight;
	_Atomic uint64_t gen; /* the number of the newest request read on it */
	struct mc_resp framing;
};

/* The requests this thread read whose responses were not complete when last looked at:
 * their connections and numbers. More than one in flight, a call not on a socket belongs to
 * no single request (it is `ambiguous`). A request that finds the table full sets overflow,
 * which holds until the table empties: the count is then a floor. */
#define FLIGHT_MAX 32
struct flight {
	uint32_t n;
	bool overflow;
	bool ambiguous; /* what the last mc_request_thread_key() found */
	int fd[FLIGHT_MAX];
	uint64_t gen[FLIGHT_MAX];
};

/* This thread's requests: the key it read last, the key a server set for it with
 * mlchaos_request_key() (it wins over the sniffed one, for the calls not on a socket), and its
 * requests in flight. */
static __thread struct {
	struct mc_reqkey key;
	struct mc_reqkey api_key;
	struct flight flight;
} mine __attribute__((tls_model("initial-exec")));

/* The first settings interned need no allocation; a process sees few (one per request_key
 * and header its configs name), and one past these is allocated and kept. */
#define INTERNED_MAX 8
static struct {
	struct mc_reqconf v[INTERNED_MAX];
	unsigned n;
} interned;

const struct mc_reqconf *mc_reqconf_intern(enum mc_reqkey_mode mode, const char *header)
{
	struct mc_reqconf c;
	memset(&c, 0, sizeof(c)); /* whole, so that equal settings compare equal */
	c.mode = mode;
	if (mode == MC_REQ_HEADER && header) {
		c.header_len = strnlen(header, sizeof(c.header) - 1);
		memcpy(c.header, header, c.header_len);
	}
	for (unsigned i = 0; i < interned.n; i++)
		if (memcmp(&interned.v[i], &c, sizeof(c)) == 0)
			return &interned.v[i];
	if (interned.n < INTERNED_MAX) {
		interned.v[interned.n] = c;
		return &interned.v[interned.n++];
	}
	struct mc_reqconf *kept = malloc(sizeof(*kept));
	if (kept)
		*kept = c;
	return kept;
}

void mc_request_configure(const struct mc_reqconf *c)
{
	atomic_store_explicit(&requests.conf, c, memory_order_release);
}

static enum mc_reqkey_mode mode_now(const struct mc_reqconf **ret)
{
	const struct mc_reqconf *c = atomic_load_explicit(&requests.conf, memory_order_acquire);
	if (ret)
		*ret = c;
	return c ? c->mode : MC_REQ_NONE;
}

bool mc_request_wants_reads(void)
{
	return mode_now(NULL) == MC_REQ_HEADER;
}

bool mc_request_serving(void)
{
	return atomic_load_explicit(&requests.serving, memory_order_relaxed);
}

static inline struct conn_slot *conn_slot(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= CONN_CHUNK * CONN_CHUNKS)
		return NULL;
	struct conn_slot *chunk =
	    mc_lazy_map(&requests.conn_chunks[(unsigned)fd >> CONN_CHUNK_BITS],
	                CONN_CHUNK * sizeof(struct conn_slot), create);
	return chunk ? &chunk[(unsigned)fd & (CONN_CHUNK - 1)] : NULL;
}

static inline struct resp_slot *resp_slot(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= CONN_CHUNK * CONN_CHUNKS)
		return NULL;
	struct resp_slot *chunk =
	    mc_lazy_map(&requests.resp_chunks[(unsigned)fd >> CONN_CHUNK_BITS],
	                CONN_CHUNK * sizeof(struct resp_slot), create);
	return chunk ? &chunk[(unsigned)fd & (CONN_CHUNK - 1)] : NULL;
}

static uint64_t next_gen(void)
{
	return atomic_fetch_add_explicit(&requests.key_generation, 1, memory_order_relaxed) + 1;
}

/* Writers of a slot claim it by moving seq from even to odd. Two may meet on one number:
 * a thread closing an fd and another accepting a new connection that got the same number.
 * A writer that finds the slot claimed retries a few times, then leaves it: the key it
 * would have written is lost (its calls are not selected by request), which is safer than
 * waiting in someone else's thread. */
#define CLAIM_TRIES 64

static bool conn_claim(struct conn_slot *s, uint32_t *ret_seq)
{
	for (int tries = 0; tries < CLAIM_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
		if (!(seq & 1) && atomic_compare_exchange_weak_explicit(&s->seq, &seq, seq + 1,
		                                                        memory_order_acquire,
		                                                        memory_order_relaxed)) {
			*ret_seq = seq;
			return true;
		}
	}
	return false;
}

static inline void conn_fill(struct conn_slot *s, uint32_t seq, const char *key, size_t len,
                             uint64_t gen)
{
	atomic_store_explicit(&s->len, (uint32_t)len, memory_order_release);
	atomic_store_explicit(&s->gen, gen, memory_order_release);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) { /* whole words, the last one padded with zeros */
		uint64_t w;
		memcpy(&w, key + i, 8);
		atomic_store_explicit(&s->words[i / 8], w, memory_order_release);
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, key + i, len - i);
		atomic_store_explicit(&s->words[i / 8], w, memory_order_release);
	}
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/* Inline even where the compiler would not: a request's read stores its key here, and a call
 * would save and restore again the registers mc_request_on_read has saved already. */
static inline __attribute__((always_inline)) void conn_store(int fd, const char *key, size_t len,
                                                             uint64_t gen)
{
	struct conn_slot *s = conn_slot(fd, len > 0);
	uint32_t seq;
	if (s && conn_claim(s, &seq))
		conn_fill(s, seq, key, len, gen);
}

/* A torn read (a writer was busy) is retried a few times, then treated as
 * no key: the call is simply not selected by request. */
static bool conn_load(int fd, struct mc_reqkey *ret)
{
	struct conn_slot *s = conn_slot(fd, false);
	if (!s)
		return false;
	for (int tries = 0; tries < 4; tries++) {
		uint32_t before = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (before & 1)
			continue;
		uint32_t len = atomic_load_explicit(&s->len, memory_order_acquire);
		uint64_t gen = atomic_load_explicit(&s->gen, memory_order_acquire);
		if (len > MC_REQKEY_MAX)
			continue;
		for (size_t i = 0; i < (len + 7) / 8; i++) { /* whole words: bytes has room */
			uint64_t w = atomic_load_explicit(&s->words[i], memory_order_acquire);
			memcpy(ret->bytes + 8 * i, &w, sizeof(w));
		}
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == before) {
			ret->len = len;
			ret->gen = gen;
			return len > 0;
		}
	}
	return false;
}

/* The host leaves its load phase, for good. */
static void become_serving(void)
{
	if (!atomic_load_explicit(&requests.serving, memory_order_relaxed))
		atomic_store_explicit(&requests.serving, true, memory_order_relaxed);
}

/* key: len bytes, readable up to the next multiple of 8 (at most MC_REQKEY_MAX): copied by
 * whole words, as many as the bytes need, the way a request's key is kept once a request. */
static void set_thread_key(const char *key, size_t len, uint64_t gen)
{
	for (size_t i = 0; i < len; i += 8)
		memcpy(mine.key.bytes + i, key + i, 8);
	mine.key.len = len;
	mine.key.gen = gen;
}

/* ---- requests in flight ------------------------------------------------------------ */

void mc_request_track_responses(void)
{
	if (!atomic_load_explicit(&requests.tracking, memory_order_relaxed))
		atomic_store_explicit(&requests.tracking, true, memory_order_relaxed);
}

bool mc_request_tracks_responses(void)
{
	return atomic_load_explicit(&requests.tracking, memory_order_relaxed);
}

/* Entry i of the thread's table is in flight still: its connection has a request in flight
 * and this one is its newest, or several are (a stale entry of a closed connection whose
 * number came back then counts too: a call is then not attributed, never misattributed). */
static bool flight_live(uint32_t i)
{
	struct resp_slot *s = resp_slot(mine.flight.fd[i], false);
	if (!s)
		return false;
	uint32_t n = atomic_load_explicit(&s->inflight, memory_order_relaxed);
	return n > 1 || (n == 1 &&
	                 atomic_load_explicit(&s->gen, memory_order_relaxed) == mine.flight.gen[i]);
}

/* Drops the entries whose responses are complete (on whatever thread they were sent). */
static void flight_prune(void)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < mine.flight.n && i < FLIGHT_MAX; i++) {
		if (!flight_live(i))
			continue;
		mine.flight.fd[kept] = mine.flight.fd[i];
		mine.flight.gen[kept] = mine.flight.gen[i];
		kept++;
	}
	mine.flight.n = kept;
	if (kept == 0)
		mine.flight.overflow = false;
}

static void flight_push(int fd, uint64_t gen)
{
	if (mine.flight.n >= FLIGHT_MAX)
		flight_prune();
	if (mine.flight.n >= FLIGHT_MAX) {
		mine.flight.overflow = true;
		return;
	}
	mine.flight.fd[mine.flight.n] = fd;
	mine.flight.gen[mine.flight.n] = gen;
	mine.flight.n++;
}

/* A request started on fd (its head was read), numbered gen: in flight on the connection and
 * on this thread until its response's end. A HEAD request's response has no body. */
static void request_began(int fd, uint64_t gen, const void *buf, size_t n)
{
	struct resp_slot *s = resp_slot(fd, true);
	if (!s)
		return;
	uint32_t was = atomic_load_explicit(&s->inflight, memory_order_relaxed);
	if (was == 0)
		mc_resp_reset(&s->framing, n >= 5 && memcmp(buf, "HEAD ", 5) == 0);
	atomic_store_explicit(&s->gen, gen, memory_order_relaxed);
	atomic_store_explicit(&s->inflight, was < UINT16_MAX ? was + 1 : was, memory_order_relaxed);
	flight_push(fd, gen);
}

/* The response to the oldest request in flight on fd ended: one fewer in mine.flight. With none
 * left, the thread's key goes when it next looks (flight_prune). The connection keeps its
 * key until the next request on it: a read on a socket is decided before its bytes arrive,
 * so the read that brings the next request (or the end of the connection) is decided with
 * it, as the calls on a socket always were. */
static void response_ended(struct resp_slot *s)
{
	uint32_t was = atomic_load_explicit(&s->inflight, memory_order_relaxed);
	if (was != 0)
		atomic_store_explicit(&s->inflight, was - 1, memory_order_relaxed);
}

bool mc_request_awaits_response(int fd)
{
	if (!mc_request_tracks_responses())
		return false;
	struct resp_slot *s = resp_slot(fd, false);
	return s && atomic_load_explicit(&s->inflight, memory_order_relaxed) != 0;
}

void mc_request_on_sent(int fd, const struct iovec *iov, int cnt, size_t sent)
{
	struct resp_slot *s = resp_slot(fd, false);
	if (!s || !atomic_load_explicit(&s->inflight, memory_order_relaxed))
		return;
	for (int i = 0; i < cnt && sent > 0; i++) {
		size_t n = iov[i].iov_len < sent ? iov[i].iov_len : sent;
		sent -= n;
		for (unsigned ends = mc_resp_feed(&s->framing, iov[i].iov_base, n); ends; ends--)
			response_ended(s);
	}
}

/* fd was closed: what was in flight on it ended. */
static void responses_closed(int fd)
{
	struct resp_slot *s = resp_slot(fd, false);
	if (s && atomic_load_explicit(&s->inflight, memory_order_relaxed)) {
		atomic_store_explicit(&s->inflight, 0, memory_order_relaxed);
		mc_resp_reset(&s->framing, false);
	}
}

/* The thread's sniffed key under header mode, with what is in flight: none, no key; one, its
 * key (the connection's, if it is that request's still); several, ambiguous, and the key of
 * the request read last (what `ambiguous = last` acts on). */
static const struct mc_reqkey *sniffed_key(void)
{
	mine.flight.ambiguous = false;
	if (!mc_request_tracks_responses())
		return &mine.key;
	if (mine.flight.n)
		flight_prune();
	if (mine.flight.n > 1 || mine.flight.overflow) {
		mine.flight.ambiguous = true;
		return &mine.key;
	}
	if (mine.flight.n == 0) {
		mine.key.len = 0;
		mine.key.gen = 0;
	} else if (mine.key.gen != mine.flight.gen[0]) {
		struct mc_reqkey k;
		if (conn_load(mine.flight.fd[0], &k) && k.gen == mine.flight.gen[0]) {
			memcpy(mine.key.bytes, k.bytes, k.len);
			mine.key.len = k.len;
			mine.key.gen = k.gen;
		} else {
			mine.key.len = 0;
			mine.key.gen = 0;
		}
	}
	return &mine.key;
}

bool mc_request_thread_ambiguous(void)
{
	return mine.flight.ambiguous;
}

/* ---- the servers' own keys ---------------------------------------------------------- */

MC_EXPORT void mlchaos_request_key(const char *key, size_t len)
{
	if (!key) {
		mine.api_key.len = 0;
		mine.api_key.gen = 0;
		return;
	}
	if (len > MC_REQKEY_MAX)
		len = MC_REQKEY_MAX;
	mine.api_key.len = 0; /* a signal handler in between sees no key, not half of one */
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(mine.api_key.bytes, key, len);
	mine.api_key.gen = next_gen();
	atomic_signal_fence(memory_order_seq_cst);
	mine.api_key.len = len;
	become_serving();
}

void mc_request_on_accept(int fd)
{
	enum mc_reqkey_mode mode = mode_now(NULL);
	become_serving();
	/* The thread that accepts is done with its last request: what it does
	 * for the new connection before reading its request is nobody's. */
	if (mode == MC_REQ_HEADER)
		set_thread_key(NULL, 0, 0);
	if (mode != MC_REQ_CONNECTION) {
		conn_store(fd, "", 0, 0);
		return;
	}
	uint64_t ordinal =
	    atomic_fetch_add_explicit(&requests.accepted, 1, memory_order_relaxed) + 1;
	char digits[24];
	struct mc_buf b;
	mc_buf_init(&b, digits, sizeof(digits));
	mc_buf_u64(&b, ordinal);
	conn_store(fd, digits, b.len, next_gen());
}

const struct mc_reqkey *mc_request_on_read(int fd, const void *buf, size_t n, uint64_t *ret_word)
{
	const struct mc_reqconf *c;
	if (mode_now(&c) != MC_REQ_HEADER || n == 0)
		return NULL;
	char key[MC_REQKEY_MAX];
	size_t len;
	switch (mc_reqkey_scan(buf, n, c->header, c->header_len, key, &len)) {
	case MC_REQKEY_FOUND: {
		uint64_t gen = next_gen();
		become_serving();
		conn_store(fd, key, len, gen);
		set_thread_key(key, len, gen);
		*ret_word = mc_fd_new_request(fd, gen);
		if (mc_request_tracks_responses())
			request_began(fd, gen, buf, n);
		return &mine.key;
	}
	case MC_REQKEY_NEW_NO_KEY: {
		uint64_t gen = next_gen();
		become_serving();
		conn_store(fd, "", 0, 0);
		set_thread_key(NULL, 0, 0);
		mc_fd_new_request(fd, gen);
		if (mc_request_tracks_responses())
			request_began(fd, gen, buf, n);
		return NULL;
	}
	case MC_REQKEY_NOTHING:
		break;
	}
	return NULL;
}

uint32_t mc_request_close_snapshot(int fd)
{
	struct conn_slot *s = conn_slot(fd, false);
	if (!s || !atomic_load_explicit(&s->len, memory_order_relaxed))
		return 0;
	for (int tries = 0; tries < CLAIM_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (!(seq & 1))
			return seq + 1; /* odd, so never 0: 0 says there is nothing to clear */
	}
	return 0;
}

void mc_request_on_close(int fd, uint32_t snapshot)
{
	responses_closed(fd);
	struct conn_slot *s = conn_slot(fd, false);
	uint32_t seq = snapshot - 1;
	/* only the key the closed fd had: a connection accepted on the same number since
	 * has written its own, which moved seq on */
	if (s && snapshot &&
	    atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1, memory_order_acquire,
	                                            memory_order_relaxed))
		conn_fill(s, seq, "", 0, 0);
}

static void thread_id_key(struct mc_reqkey *ret)
{
	struct mc_buf b;
	mc_buf_init(&b, ret->bytes, sizeof(ret->bytes));
	pid_t tid = gettid();
	mc_buf_u64(&b, (uint64_t)tid);
	ret->len = b.len;
	ret->gen = (uint64_t)tid; /* the same thread always has the same key */
}

const struct mc_reqkey *mc_request_thread_key(const struct mc_reqconf *c)
{
	enum mc_reqkey_mode mode = c ? c->mode : MC_REQ_NONE;
	mine.flight.ambiguous = false;
	if (mode == MC_REQ_NONE)
		return NULL;
	if (mine.api_key.len) /* the server's own word */
		return &mine.api_key;
	if (mc_unlikely(mode == MC_REQ_THREAD) && mine.key.len == 0)
		thread_id_key(&mine.key); /* once per thread: gettid is a system call */
	if (mode == MC_REQ_HEADER)
		return sniffed_key();
	return mode == MC_REQ_THREAD ? &mine.key : NULL;
}

void mc_request_current(const struct mc_reqconf *c, int fd, struct mc_reqkey *ret)
{
	enum mc_reqkey_mode mode = c ? c->mode : MC_REQ_NONE;
	ret->len = 0;
	ret->gen = 0;
	switch (mode) {
	case MC_REQ_NONE:
		return;
	case MC_REQ_THREAD:
		*ret = *mc_request_thread_key(c);
		return;
	case MC_REQ_CONNECTION:
	case MC_REQ_HEADER:
		if (fd >= 0 && conn_load(fd, ret))
			return;
		/* the thread's key as it stands, when no server key and no request in flight
		 * can change it: the common case, kept short (every fault's log line asks) */
		const struct mc_reqkey *k = !mine.api_key.len && !mc_request_tracks_responses()
		                                ? (mode == MC_REQ_HEADER ? &mine.key : NULL)
		                                : mc_request_thread_key(c);
		if (k && k->len) {
			memcpy(ret->bytes, k->bytes, k->len);
			ret->len = k->len;
			ret->gen = k->gen;
		}
		return;
	}
}

void mc_request_child_after_fork(void)
{
	mine.key.len = 0; /* a new process: a new thread id, no request yet */
	mine.key.gen = 0;
	mine.api_key.len = 0;
	mine.flight.n = 0;
	mine.flight.overflow = false;
}
