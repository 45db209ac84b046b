/* fdtable.c: the fd table and the path registry. Lock-free and
 * allocation-free (memory comes from mmap, never malloc), so it is usable
 * from every hook, the malloc family's included, and from signal handlers.
 * Risky spot: a path interned is never removed; the registry is bounded and
 * says so (files beyond it are tracked without their path). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xxhash.h>

#include "common.h"
#include "fdtable.h"
#include "lazymap.h"
#include "real.h"

/* ---- path registry ------------------------------------------------------ */

#define PATH_SLOTS       (1u << 16) /* at most 3/4 of them used: 49,152 paths */
#define PATH_ARENA_BYTES (32u << 20)
#define PATH_MAX_BYTES   4096u

struct path_rec {
	uint64_t hash;
	_Atomic uint64_t cache[MC_PATH_CACHE_WORDS]; /* the fault engine's, zero at first */
	uint32_t len;
	uint32_t reserved;
	char path[];
};

/* The interned paths: an open-addressing table of PATH_SLOTS arena offsets (a path's id),
 * the arena the records live in (arena_used bytes of it handed out), and how many. */
static struct {
	_Atomic uint32_t *slots;
	unsigned char *arena;
	_Atomic size_t arena_used;
	_Atomic uint32_t count;
} paths = { .arena_used = 8 }; /* offset 0 would be id 0 */

static void *map_anon(size_t bytes)
{
	void *p = mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Called once by mc_init, before any hook is armed (so never raced). */
void mc_fd_init(void)
{
	if (paths.slots)
		return;
	paths.arena = map_anon(PATH_ARENA_BYTES);
	void *slots = map_anon(PATH_SLOTS * sizeof(uint32_t));
	if (!paths.arena || !slots)
		return; /* paths are then not interned: traces say file:? */
	paths.slots = slots;
}

static struct path_rec *rec_of(uint32_t id)
{
	return (struct path_rec *)(paths.arena + (size_t)id * 8);
}

const char *mc_path_of(uint32_t id)
{
	return id && paths.arena ? rec_of(id)->path : NULL;
}

uint32_t mc_path_len(uint32_t id)
{
	return id && paths.arena ? rec_of(id)->len : 0;
}

_Atomic uint64_t *mc_path_cache(uint32_t id)
{
	return id && paths.arena ? rec_of(id)->cache : NULL;
}

uint64_t mc_path_hash(uint32_t id)
{
	return id && paths.arena ? rec_of(id)->hash : 0;
}

static uint32_t path_new_record(const char *path, uint32_t len, uint64_t hash)
{
	size_t need = (sizeof(struct path_rec) + len + 1 + 7) & ~(size_t)7;
	size_t off = atomic_fetch_add_explicit(&paths.arena_used, need, memory_order_relaxed);
	if (off + need > PATH_ARENA_BYTES)
		return 0;
	struct path_rec *r = (struct path_rec *)(paths.arena + off);
	r->hash = hash;
	for (unsigned i = 0; i < MC_PATH_CACHE_WORDS; i++)
		atomic_init(&r->cache[i], 0);
	r->len = len;
	memcpy(r->path, path, len);
	r->path[len] = '\0';
	return (uint32_t)(off / 8);
}

uint32_t mc_path_intern(const char *path, uint32_t len)
{
	if (!paths.slots || len == 0 || len >= PATH_MAX_BYTES)
		return 0;
	uint64_t hash = XXH3_64bits(path, len);
	uint32_t mine = 0;
	for (uint32_t i = 0; i < PATH_SLOTS; i++) {
		_Atomic uint32_t *slot = &paths.slots[(hash + i) & (PATH_SLOTS - 1)];
		uint32_t id = atomic_load_explicit(slot, memory_order_acquire);
		if (id == 0) {
			if (atomic_load_explicit(&paths.count, memory_order_relaxed) >=
			    PATH_SLOTS / 4 * 3)
				return 0;
			if (!mine && !(mine = path_new_record(path, len, hash)))
				return 0;
			uint32_t expected = 0;
			if (atomic_compare_exchange_strong_explicit(slot, &expected, mine,
			                                            memory_order_release,
			                                            memory_order_acquire)) {
				atomic_fetch_add_explicit(&paths.count, 1, memory_order_relaxed);
				return mine;
			}
			id = expected; /* another thread filled it: compare with theirs */
		}
		struct path_rec *r = rec_of(id);
		if (r->hash == hash && r->len == len && memcmp(r->path, path, len) == 0)
			return id; /* a record of ours, if any, stays unused in the arena */
	}
	return 0;
}

/* Lexical normalisation of an absolute path: "//", "." and ".." removed
 * without touching the file system (symbolic links are kept as written,
 * which is what a user's glob refers to). Returns the length. */
static size_t normalise(char *p, size_t len)
{
	size_t out = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && p[i] == '/')
			i++;
		size_t start = i;
		while (i < len && p[i] != '/')
			i++;
		size_t n = i - start;
		if (n == 0 || (n == 1 && p[start] == '.'))
			continue;
		if (n == 2 && p[start] == '.' && p[start + 1] == '.') {
			while (out > 0 && p[out - 1] != '/')
				out--;
			if (out > 0)
				out--;
			continue;
		}
		p[out++] = '/';
		memmove(p + out, p + start, n);
		out += n;
	}
	if (out == 0)
		p[out++] = '/';
	p[out] = '\0';
	return out;
}

/* Writes the absolute path of an open fd (from /proc) into buf. */
ssize_t mc_fd_real_path(int fd, char *buf, size_t cap)
{
	char link[32] = "/proc/self/fd/";
	size_t n = strlen(link);
	char digits[12];
	size_t d = 0;
	unsigned v = (unsigned)fd;
	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (d)
		link[n++] = digits[--d];
	link[n] = '\0';
	ssize_t len = readlink(link, buf, cap - 1);
	if (len <= 0 || buf[0] != '/')
		return -1;
	buf[len] = '\0';
	return len;
}

uint32_t mc_path_intern_at(int dirfd, const char *path, int fd)
{
	if (!path)
		return 0;
	char buf[PATH_MAX_BYTES];
	size_t len;
	size_t plen = strnlen(path, PATH_MAX_BYTES);
	if (plen >= PATH_MAX_BYTES)
		return 0;
	if (path[0] == '/') {
		memcpy(buf, path, plen + 1);
		len = plen;
	} else {
		ssize_t base;
		if (dirfd == AT_FDCWD) {
			base = getcwd(buf, sizeof(buf)) ? (ssize_t)strlen(buf) : -1;
		} else {
			base = mc_fd_real_path(dirfd, buf, sizeof(buf));
		}
		if (base < 0 || (size_t)base + 1 + plen >= sizeof(buf)) {
			ssize_t n = fd >= 0 ? mc_fd_real_path(fd, buf, sizeof(buf)) : -1;
			if (n < 0)
				return 0;
			return mc_path_intern(buf, (uint32_t)n);
		}
		buf[base] = '/';
		memcpy(buf + base + 1, path, plen + 1);
		len = (size_t)base + 1 + plen;
	}
	len = normalise(buf, len);
	return mc_path_intern(buf, (uint32_t)len);
}

/* ---- the table ------------------------------------------------------------ */

#define FD_CHUNK_BITS MC_FD_CHUNK_BITS
#define FD_CHUNK      MC_FD_CHUNK
#define FD_CHUNKS     MC_FD_CHUNKS

_Atomic(void *) mc_fd_chunks[FD_CHUNKS];

/* The entry word of fdtable.h's mc_fd_decode. */
static uint64_t encode(const struct mc_fd_info *i)
{
	return (uint64_t)i->kind | (uint64_t)i->role << 4 | (uint64_t)i->local_port << 8 |
	       (uint64_t)i->peer_port << 24 | (uint64_t)(i->path_id & 0xffffffu) << 40;
}

/* Element fd of a lazily mapped table of FD_CHUNKS chunks of FD_CHUNK elements of elem
 * bytes; NULL for an fd out of range, or a chunk not mapped (and create false, or no
 * memory). */
static void *element_of(_Atomic(void *) *chunks, int fd, size_t elem, bool create)
{
	if (fd < 0 || (unsigned)fd >= FD_CHUNK * FD_CHUNKS)
		return NULL;
	char *chunk = mc_lazy_map(&chunks[(unsigned)fd >> FD_CHUNK_BITS], FD_CHUNK * elem, create);
	return chunk ? chunk + ((unsigned)fd & (FD_CHUNK - 1)) * elem : NULL;
}

static _Atomic uint64_t *slot_of(int fd, bool create)
{
	return element_of(mc_fd_chunks, fd, sizeof(uint64_t), create);
}

/* ---- tags: one 16-bit word per fd, in chunks like the entries -------------------- */

static _Atomic(void *) tag_chunks[FD_CHUNKS];

static _Atomic uint16_t *tag_of(int fd, bool create)
{
	return element_of(tag_chunks, fd, sizeof(uint16_t), create);
}

uint16_t mc_fd_tag(int fd)
{
	_Atomic uint16_t *t = tag_of(fd, false);
	return t ? atomic_load_explicit(t, memory_order_acquire) : 0;
}

void mc_fd_set_tag(int fd, uint16_t tag)
{
	_Atomic uint16_t *t = tag_of(fd, tag != 0);
	if (t)
		atomic_store_explicit(t, tag, memory_order_release);
}

static void store(int fd, const struct mc_fd_info *info)
{
	_Atomic uint64_t *s = slot_of(fd, true);
	if (s)
		atomic_store_explicit(s, encode(info), memory_order_relaxed);
	mc_fd_set_tag(fd, 0); /* a new meaning for the fd: its old tag does not apply */
}

uint16_t mc_fd_service_port(const struct mc_fd_info *info)
{
	if (info->role == MC_ROLE_CONNECTED)
		return info->peer_port;
	return info->local_port;
}

void mc_fd_set_file(int fd, uint32_t path_id)
{
	if (fd < 0)
		return;
	struct mc_fd_info info = { .kind = MC_FD_FILE, .path_id = path_id };
	store(fd, &info);
}

static enum mc_fd_kind kind_of_socket(int domain, int type)
{
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (domain == AF_UNIX)
		return MC_FD_UNIX;
	if (domain == AF_INET || domain == AF_INET6) {
		if (type == SOCK_STREAM)
			return MC_FD_TCP;
		if (type == SOCK_DGRAM)
			return MC_FD_UDP;
	}
	return MC_FD_SOCKET_OTHER;
}

void mc_fd_set_socket(int fd, int domain, int type)
{
	struct mc_fd_info info = { .kind = kind_of_socket(domain, type) };
	store(fd, &info);
}

void mc_fd_set_other(int fd)
{
	struct mc_fd_info info = { .kind = MC_FD_OTHER };
	store(fd, &info);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void read_ports(int fd, struct mc_fd_info *info)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		info->local_port = port_of(&ss);
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		info->peer_port = port_of(&ss);
}

void mc_fd_set_accepted(int listen_fd, int fd)
{
	struct mc_fd_info info;
	mc_fd_lookup(listen_fd, &info);
	if (info.kind != MC_FD_TCP && info.kind != MC_FD_UDP) {
		mc_fd_forget(fd); /* classified on first use */
		return;
	}
	info.local_port = info.peer_port = 0;
	read_ports(fd, &info);
	info.role = MC_ROLE_ACCEPTED;
	store(fd, &info);
}

void mc_fd_set_connected(int fd, const void *addr, unsigned int addr_len)
{
	struct mc_fd_info info;
	mc_fd_lookup(fd, &info);
	if (info.kind != MC_FD_TCP && info.kind != MC_FD_UDP)
		return;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (addr && addr_len <= sizeof(ss))
		memcpy(&ss, addr, addr_len);
	read_ports(fd, &info);
	if (port_of(&ss))
		info.peer_port = port_of(&ss);
	info.role = MC_ROLE_CONNECTED;
	store(fd, &info);
}

void mc_fd_set_bound(int fd)
{
	struct mc_fd_info info;
	mc_fd_lookup(fd, &info);
	if (info.kind != MC_FD_TCP && info.kind != MC_FD_UDP)
		return;
	read_ports(fd, &info);
	store(fd, &info);
}

uint64_t mc_fd_snapshot(int fd)
{
	_Atomic uint64_t *s = slot_of(fd, false);
	return s ? atomic_load_explicit(s, memory_order_relaxed) : 0;
}

/* The same fd meaning in both words: for a socket, whatever request it carries. */
static bool same_entry(uint64_t a, uint64_t b)
{
	struct mc_fd_info i;
	mc_fd_decode(a, &i);
	uint64_t mask = mc_fd_is_socket(&i) ? ~MC_FD_WORD_REQUEST : ~0ull;
	return ((a ^ b) & mask) == 0;
}

void mc_fd_forget_snapshot(int fd, uint64_t snapshot)
{
	_Atomic uint64_t *s = slot_of(fd, false);
	if (!s || !snapshot)
		return;
	/* a read on the fd in another thread may have started a request since: still the fd
	 * that was closed */
	uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
	while (w && same_entry(w, snapshot))
		if (atomic_compare_exchange_weak_explicit(s, &w, 0, memory_order_relaxed,
		                                          memory_order_relaxed)) {
			mc_fd_set_tag(fd, 0);
			return;
		}
}

void mc_fd_forget(int fd)
{
	_Atomic uint64_t *s = slot_of(fd, false);
	if (s)
		atomic_store_explicit(s, 0, memory_order_relaxed);
	mc_fd_set_tag(fd, 0);
}

void mc_fd_forget_range(unsigned int first, unsigned int last)
{
	if (last >= FD_CHUNK * FD_CHUNKS)
		last = FD_CHUNK * FD_CHUNKS - 1;
	for (unsigned fd = first; fd <= last && fd >= first; fd++) {
		if (((fd & (FD_CHUNK - 1)) == 0) && !slot_of((int)fd, false)) {
			fd += FD_CHUNK - 1; /* a chunk never created holds nothing */
			continue;
		}
		mc_fd_forget((int)fd);
	}
}

void mc_fd_copy(int from, int to)
{
	if (from == to || to < 0)
		return;
	_Atomic uint64_t *s = slot_of(from, false);
	uint64_t w = s ? atomic_load_explicit(s, memory_order_relaxed) : 0;
	if (w == 0) {
		mc_fd_forget(to);
		return;
	}
	_Atomic uint64_t *d = slot_of(to, true);
	if (d)
		atomic_store_explicit(d, w, memory_order_relaxed);
	mc_fd_set_tag(to, mc_fd_tag(from));
}

/* For a socket found already open: a connected TCP socket whose local port
 * is below the usual ephemeral range was accepted by a server; otherwise it
 * was connected by a client. A heuristic, used only for fds the shim did not
 * see being created. */
static enum mc_fd_role guess_role(const struct mc_fd_info *info)
{
	if (info->peer_port == 0)
		return MC_ROLE_UNKNOWN;
	return info->local_port < 32768 ? MC_ROLE_ACCEPTED : MC_ROLE_CONNECTED;
}

static void classify(int fd, struct mc_fd_info *info)
{
	struct stat st;
	memset(info, 0, sizeof(*info));
	if (mc_real.fstat(fd, &st) != 0)
		return; /* not open: stays unknown */
	if (S_ISREG(st.st_mode)) {
		char buf[PATH_MAX_BYTES];
		ssize_t n = mc_fd_real_path(fd, buf, sizeof(buf));
		info->kind = MC_FD_FILE;
		info->path_id = n > 0 ? mc_path_intern(buf, (uint32_t)n) : 0;
	} else if (S_ISSOCK(st.st_mode)) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int type = 0;
		socklen_t tlen = sizeof(type);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			ss.ss_family = AF_UNSPEC;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
			type = 0;
		info->kind = kind_of_socket(ss.ss_family, type);
		if (info->kind == MC_FD_TCP || info->kind == MC_FD_UDP) {
			read_ports(fd, info);
			info->role = guess_role(info);
		}
	} else {
		info->kind = MC_FD_OTHER;
	}
}

void mc_fd_lookup_slow(int fd, struct mc_fd_info *ret)
{
	_Atomic uint64_t *s = slot_of(fd, false);
	uint64_t w = s ? atomic_load_explicit(s, memory_order_relaxed) : 0;
	if (mc_likely(w != 0)) {
		mc_fd_decode(w, ret);
		return;
	}
	int saved = errno;
	classify(fd, ret);
	if (ret->kind != MC_FD_UNKNOWN)
		store(fd, ret);
	errno = saved;
}
