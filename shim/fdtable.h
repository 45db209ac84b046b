/* fdtable.h: what each file descriptor is, O(1) by fd, lock-free: a regular
 * file (with its absolute path, interned once), a socket (family, local and
 * peer port), or something else. Entries are one 64-bit word each, so a
 * reader never sees a half-written entry; fork copies the table with the
 * process, exec discards it with the fds' meaning. */
#ifndef MC_FDTABLE_H
#define MC_FDTABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum mc_fd_kind {
	MC_FD_UNKNOWN = 0, /* never seen, or closed since: classified on demand */
	MC_FD_FILE,
	MC_FD_TCP,
	MC_FD_UDP,
	MC_FD_UNIX,
	MC_FD_SOCKET_OTHER,
	MC_FD_OTHER,
};

enum mc_fd_role {
	MC_ROLE_UNKNOWN = 0,
	MC_ROLE_ACCEPTED,  /* server side: the local port names the service */
	MC_ROLE_CONNECTED, /* client side: the peer port names the service */
};

struct mc_fd_info {
	enum mc_fd_kind kind;
	enum mc_fd_role role;
	uint16_t local_port;
	uint16_t peer_port;
	uint32_t path_id; /* MC_FD_FILE: 0 when the path could not be interned */
};

/* True for every kind of socket: TCP, UDP, Unix or another family (the kinds a request key
 * can arrive on and a response leave by). */
static inline bool mc_fd_is_socket(const struct mc_fd_info *info)
{
	return info->kind >= MC_FD_TCP && info->kind <= MC_FD_SOCKET_OTHER;
}

/* The port that names a socket's service in traces and rules: the local
 * port of an accepted socket, the peer port of a connected one. */
uint16_t mc_fd_service_port(const struct mc_fd_info *info);

/* Interns the absolute form of a path given to open/openat: relative to
 * the working directory, or to dirfd for *at calls, lexically normalised.
 * fd, when >= 0, is the opened file, asked for its path as a last resort.
 * 0 when it cannot be named. */
uint32_t mc_path_intern_at(int dirfd, const char *path, int fd);

/* Records what fd is. */
void mc_fd_set_file(int fd, uint32_t path_id);
void mc_fd_set_socket(int fd, int domain, int type);
void mc_fd_set_other(int fd);
void mc_fd_forget(int fd);
/* close() in two steps: take the entry before the real close, then clear
 * it only if no other thread has meanwhile reused the fd for a new file. */
uint64_t mc_fd_snapshot(int fd);
void mc_fd_forget_snapshot(int fd, uint64_t snapshot);
/* accept(): the new fd is a socket of the listening fd's kind. */
void mc_fd_set_accepted(int listen_fd, int fd);
/* bind(): the local port is known from now on. */
void mc_fd_set_bound(int fd);
/* connect(): the peer port comes from the address the program gave, since
 * a non-blocking connect has no peer yet. */
void mc_fd_set_connected(int fd, const void *addr, unsigned int addr_len);
void mc_fd_forget_range(unsigned int first, unsigned int last);
void mc_fd_copy(int from, int to);

/* A 16-bit tag per fd beside its entry, for the fault glue (the tensor map of the fd's file):
 * 0 until set, cleared whenever the fd's entry is set anew or forgotten, copied by dup (and
 * with the process by fork). Lock-free, allocation-free. */
uint16_t mc_fd_tag(int fd);
void mc_fd_set_tag(int fd, uint16_t tag);

/* What fd is; classifies it with fstat/readlink/getsockname when unknown
 * (fds opened before the shim, or by raw system calls). Async-signal-safe.
 * Inline: every armed hook asks it; the table lookup is two loads. */
#define MC_FD_CHUNK_BITS 10
#define MC_FD_CHUNK      (1u << MC_FD_CHUNK_BITS)
#define MC_FD_CHUNKS     1024u /* fds 0 .. 1,048,575; higher ones are classified per call */

extern _Atomic(void *) mc_fd_chunks[MC_FD_CHUNKS];
void mc_fd_lookup_slow(int fd, struct mc_fd_info *ret);

/* Entry word: kind 0-3, role 4-5, local port 8-23, peer port 24-39; bits 40-63 hold a
 * file's path id, and a socket's request number (mc_fd_new_request). Zero means unknown;
 * bits 6-7 are never set (MC_FD_WORD_NEVER), so that a word with them names no fd. */
#define MC_FD_WORD_NEVER   (1ull << 7)
#define MC_FD_WORD_REQUEST (0xffffffull << 40)

static inline void mc_fd_decode(uint64_t w, struct mc_fd_info *i)
{
	i->kind = (enum mc_fd_kind)(w & 0xf);
	i->role = (enum mc_fd_role)((w >> 4) & 0x3);
	i->local_port = (uint16_t)(w >> 8);
	i->peer_port = (uint16_t)(w >> 24);
	i->path_id = i->kind == MC_FD_FILE ? (uint32_t)(w >> 40) : 0;
}

/* fd's entry, or NULL when its chunk was never mapped (or fd is past the table). One load. */
static inline _Atomic uint64_t *mc_fd_entry(int fd)
{
	if (fd < 0 || (unsigned)fd >= MC_FD_CHUNK * MC_FD_CHUNKS)
		return NULL;
	_Atomic uint64_t *chunk = (_Atomic uint64_t *)atomic_load_explicit(
	    &mc_fd_chunks[(unsigned)fd >> MC_FD_CHUNK_BITS], memory_order_acquire);
	return chunk ? &chunk[(unsigned)fd & (MC_FD_CHUNK - 1)] : NULL;
}

/* fd's entry word, 0 when unknown (or past the table). Two loads. */
static inline uint64_t mc_fd_word(int fd)
{
	_Atomic uint64_t *e = mc_fd_entry(fd);
	return e ? atomic_load_explicit(e, memory_order_relaxed) : 0;
}

/* A request started on socket fd (request.c): its entry word takes the low 24 bits of
 * number, a number no other request of the process has had, so that what a thread kept
 * for the connection's last request (an express memo, fault.h) stops holding. Returns the
 * new word, or 0 when fd is not a socket the table knows. Lock-free; inline, as the
 * look-up above, for it runs once a request. */
static inline uint64_t mc_fd_new_request(int fd, uint64_t number)
{
	_Atomic uint64_t *e = mc_fd_entry(fd);
	if (!e)
		return 0;
	uint64_t w = atomic_load_explicit(e, memory_order_relaxed);
	uint64_t bits = number << 40 & MC_FD_WORD_REQUEST;
	for (;;) {
		struct mc_fd_info info;
		mc_fd_decode(w, &info);
		if (!mc_fd_is_socket(&info))
			return 0; /* not a socket the table knows (0: unknown) */
		uint64_t next = (w & ~MC_FD_WORD_REQUEST) | bits;
		if (atomic_compare_exchange_weak_explicit(e, &w, next, memory_order_relaxed,
		                                          memory_order_relaxed))
			return next;
	}
}

/* What fd is, and its entry word (0 when it had to be classified now:
 * then it is not the word of any table entry). */
static inline uint64_t mc_fd_lookup_word(int fd, struct mc_fd_info *ret)
{
	uint64_t w = mc_fd_word(fd);
	if (w)
		mc_fd_decode(w, ret);
	else
		mc_fd_lookup_slow(fd, ret);
	return w;
}

static inline void mc_fd_lookup(int fd, struct mc_fd_info *ret)
{
	(void)mc_fd_lookup_word(fd, ret);
}

/* The canonical absolute path of open fd (symbolic links resolved, from
 * /proc/self/fd), NUL-terminated; its length, or -1. */
ssize_t mc_fd_real_path(int fd, char *buf, size_t cap);

/* Maps the path registry; called once at init, before arming. */
void mc_fd_init(void);

/* The absolute path interned under id, or NULL. Valid for the life of the
 * process. */
const char *mc_path_of(uint32_t id);
uint32_t mc_path_len(uint32_t id);
/* A 64-bit identity of the path (xxh3 of its bytes): the same file has the
 * same identity in every process. */
uint64_t mc_path_hash(uint32_t id);

/* Words kept with each interned path for the fault engine's use (which
 * rules' globs match it), zero until written; NULL for id 0. */
#define MC_PATH_CACHE_WORDS 4
_Atomic uint64_t *mc_path_cache(uint32_t id);

/* Interns an absolute path; 0 when the registry is full. */
uint32_t mc_path_intern(const char *abs_path, uint32_t len);

#endif
