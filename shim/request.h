/* request.h: which request a call belongs to. The key is taken from what
 * the process reads on its sockets (a header), from the order of accepted
 * connections, or from the thread, as `request_key` says; it is current for
 * the connection it arrived on and for the thread that read it, until the
 * next request on either. Lock-free and allocation-free. */
#ifndef MC_REQUEST_H
#define MC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reqkey.h"

struct iovec;

enum mc_reqkey_mode {
	MC_REQ_NONE,
	MC_REQ_HEADER,
	MC_REQ_CONNECTION,
	MC_REQ_THREAD,
};

struct mc_reqkey {
	size_t len;   /* 0: no key */
	uint64_t gen; /* a number no other key seen by this process has had */
	char bytes[MC_REQKEY_MAX];
};

/* How keys are found: `request_key` and, for MC_REQ_HEADER, the header's
 * name. Immutable once published (a reload publishes a new one). */
#define MC_REQ_HEADER_MAX 64

struct mc_reqconf {
	enum mc_reqkey_mode mode;
	size_t header_len;
	char header[MC_REQ_HEADER_MAX];
};

/* The setting for mode and header (ignored unless mode is MC_REQ_HEADER; cut to
 * MC_REQ_HEADER_MAX - 1 bytes), interned: equal settings are one object, never freed, so
 * that the socket hooks can scan with a setting whatever becomes of the rules that named it.
 * NULL without memory. At init or a reload (guard held): one caller at a time. */
const struct mc_reqconf *mc_reqconf_intern(enum mc_reqkey_mode mode, const char *header);

/* Publishes c (interned) for the socket hooks: accepts and reads are scanned with it from
 * now on. One atomic store, so a scanner sees the old setting or the new one whole. */
void mc_request_configure(const struct mc_reqconf *c);

/* True when reads on sockets must be shown to mc_request_on_read. */
bool mc_request_wants_reads(void);

/* A connection was accepted on fd. */
void mc_request_on_accept(int fd);
/* n bytes arrived on socket fd into buf. Returns the key they brought, now fd's and the
 * thread's (the thread's own copy: valid until it reads its next request), and fd's entry
 * word in *ret_word; or NULL when they brought none. Bytes that start a request give fd's
 * entry word a new request number (mc_fd_new_request), key or no key. */
const struct mc_reqkey *mc_request_on_read(int fd, const void *buf, size_t n, uint64_t *ret_word);
/* fd is about to be closed: what mc_request_on_close needs to clear its key, and no more
 * (0 when it has none). */
uint32_t mc_request_close_snapshot(int fd);
/* fd was closed: its key goes, unless the number already belongs to a new connection that
 * wrote its own (snapshot from mc_request_close_snapshot before the close). */
void mc_request_on_close(int fd, uint32_t snapshot);

/* The key of the request a call on fd belongs to (fd < 0: the thread's),
 * as setting c finds keys (the setting of the rules that decide the call,
 * so that a decision never mixes an old setting with new rules); ret->len
 * is 0 when there is none. */
void mc_request_current(const struct mc_reqconf *c, int fd, struct mc_reqkey *ret);

/* The calling thread's current key under setting c (the key for calls not
 * on a socket), without a copy: valid until this thread reads its next
 * request. With request_key = thread, the thread id. */
const struct mc_reqkey *mc_request_thread_key(const struct mc_reqconf *c);

/* In a forked child: the thread's key is its parent's no more. */
void mc_request_child_after_fork(void);

/* Requests in flight (header mode): from the read of a request's head to its response's end
 * (response.h reads the framing of what is sent on its connection) or the connection's
 * close. Turned on, for good, when a rule decides calls not on a socket by the request key;
 * sends on a connection with a request in flight must then be shown to mc_request_on_sent. */
void mc_request_track_responses(void);
bool mc_request_tracks_responses(void);
/* True when sends on fd must be shown to mc_request_on_sent. */
bool mc_request_awaits_response(int fd);
/* sent bytes of iov[0, cnt) went out on socket fd. A response that ends in them is no longer
 * in flight; with none left, the thread's key is gone (the connection's stays until its next
 * request: see response_ended in request.c). */
void mc_request_on_sent(int fd, const struct iovec *iov, int cnt, size_t sent);
/* Whether the calling thread had several requests in flight at its last
 * mc_request_thread_key() (header mode, no key set by the server): the key it returned is
 * then only the request read last. */
bool mc_request_thread_ambiguous(void);

/* The server's own key for the calling thread (the library's exported entry point,
 * mlchaos_request_key, version 1: README "Request keys and servers"): key[0, len), len cut to
 * MC_REQKEY_MAX; NULL clears it. Wins over a sniffed key for the calls not on a socket. */
void mlchaos_request_key(const char *key, size_t len);

/* True once the process has accepted a connection or seen a request key:
 * the boundary between `phase = load` and `phase = serve`. */
bool mc_request_serving(void);

#endif
