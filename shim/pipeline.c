/* pipeline.c: the bracket of every hooked call shape (pipeline.h says the order), and the
 * only place that enters the guard for a decision. Each pipeline is MC_COLD: a hook reaches
 * it only when its family is armed and the express memo did not let the call pass; the real
 * call of the common case of an fd call (armed, not selected) is made from here, after the
 * guard is left, through the row's thunk. Two steps serve a request's memo (fault.h), which
 * lets a request's calls pass once its key was decided: mc_pipe_scanned shows the scanner
 * what a flat read the hook let pass brought, and mc_pipe_fd's first step (pipeline.h) lets
 * vectored reads (their bytes shown to the scanner too) and writes on the socket pass. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delay.h"
#include "fault.h"
#include "hook.h"
#include "pipeline.h"
#include "record.h"
#include "request.h"
#include "truncate.h"

/* One hooked call on its slow path. */
struct mc_hookcall {
	enum mc_fn fn;
	int fd; /* -1 when the call has none */
};

static inline void mc_call_begin(struct mc_hookcall *c, enum mc_fn fn, int fd)
{
	c->fn = fn;
	c->fd = fd;
	mc_guard_enter();
}

/* Leaves the bracket before the real call: nothing of the decision is used from here on
 * and nothing is to be traced (errno as it is). */
static inline void mc_call_pass(struct mc_hookcall *c)
{
	(void)c;
	mc_guard_leave();
}

/* Ends an fd call that moved `ret` bytes (negative: failed). Leaves errno
 * exactly as the real call did. */
static inline void mc_call_end_fd(struct mc_hookcall *c, long long ret)
{
	int e = errno;
	if (mc_trace_enabled && c->fd >= 0)
		mc_trace_fd(c->fn, c->fd, ret > 0 ? (uint64_t)ret : 0);
	mc_guard_leave();
	errno = e;
}

static inline void mc_call_end_target(struct mc_hookcall *c, enum mc_target_kind kind,
                                      uint64_t bytes)
{
	int e = errno;
	if (mc_trace_enabled)
		mc_trace_target(c->fn, kind, 0, bytes);
	mc_guard_leave();
	errno = e;
}

/* A short call on a vector: the first iovecs of iov[0, cnt), the last one
 * cut, so that they hold at most want bytes; copied into out, at most
 * MC_SHORT_IOV_MAX entries. Returns how many. */
#define MC_SHORT_IOV_MAX 64

static inline int mc_iov_cut(const struct iovec *iov, size_t cnt, uint64_t want,
                             struct iovec out[MC_SHORT_IOV_MAX])
{
	int k = 0;
	for (size_t i = 0; i < cnt && k < MC_SHORT_IOV_MAX && want > 0; i++, k++) {
		out[k] = iov[i];
		if (out[k].iov_len > want)
			out[k].iov_len = (size_t)want;
		want -= out[k].iov_len;
	}
	return k;
}

/* Bytes described by an iovec array (saturating). */
static inline uint64_t mc_iov_bytes(const struct iovec *iov, int cnt)
{
	uint64_t n = 0;
	for (int i = 0; iov && i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* ---- calls on an fd ------------------------------------------------------------------- */

static enum mc_hook family_of(enum mc_hook family, const struct mc_fd_info *fdi)
{
	if (family != MC_FAMILY_BY_FD)
		return family;
	return mc_fd_is_socket(fdi) ? MC_HOOK_SEND : MC_HOOK_WRITE;
}

/* True when the call must be seen after it is made even though no rule acted: bytes from a
 * socket the request-key scanner reads, or an answer the error-rate watchdog counts. */
static bool must_see(unsigned what, enum mc_hook h, int fd, const struct mc_fd_info *fdi)
{
	if (what & MC_PIPE_ARRIVED)
		return mc_fd_is_socket(fdi) && mc_request_wants_reads();
	if (what & MC_PIPE_SENT)
		return h == MC_HOOK_SEND &&
		       (mc_rec_watches_responses() || mc_request_awaits_response(fd));
	return false;
}

/* The first n bytes that arrived on socket fd, in buf: shown to the request-key scanner;
 * when they bring a new key and foresee is set, the rules that decide by the key alone are
 * asked for it (mc_fault_foresee: they take the rules in force anew). */
static inline void scan_arrived(int fd, const void *buf, size_t n, bool foresee)
{
	uint64_t word;
	const struct mc_reqkey *key = mc_request_on_read(fd, buf, n, &word);
	if (key && foresee)
		mc_fault_foresee(word, key);
}

/* scan_arrived() for a call that passed without a decision: in the guard, errno kept. */
static inline void scan_bracketed(int fd, const void *buf, size_t n)
{
	int e = errno;
	mc_guard_enter();
	scan_arrived(fd, buf, n, true);
	mc_guard_leave();
	errno = e;
}

/* The bytes of got that iov[0] holds. */
static size_t first_part(const struct iovec *iov, size_t got)
{
	return got < iov[0].iov_len ? got : iov[0].iov_len;
}

/* What arrived (got bytes of iov, asked bytes asked): shown first to the request-key
 * scanner if it came from a socket (the key as it was sent, before any damage); then damaged
 * if a corrupt rule acted, or, when none did, if a stream rule selects the request those
 * bytes belong to (enum mc_stage). */
static void arrived(struct mc_fault *f, enum mc_fn fn, const struct mc_fd_info *fdi, int fd,
                    uint64_t asked, const struct iovec *iov, int cnt, size_t got)
{
	if (mc_trace_enabled && got > 0 && cnt > 0 && mc_fd_is_socket(fdi))
		mc_trace_arrived(fdi, iov[0].iov_base, first_part(iov, got));
	if (got > 0 && cnt > 0 && mc_fd_is_socket(fdi) && mc_request_wants_reads()) {
		/* foresight and the stream rules take the rules in force anew: only when this
		 * call's decision is done with (a rule that acted still has its snapshot in use:
		 * runtime.h) */
		bool done = f->d.action == MC_ACTION_NONE;
		scan_arrived(fd, iov[0].iov_base, first_part(iov, got), done);
		if (done)
			mc_fault_decide_stream(f, fn, fd, fdi, asked);
	}
	mc_fault_corrupt_iov(f, iov, cnt, got);
}

/* What was sent on socket fd: the head of the answer, for the watchdog; the bytes, for the end
 * of the response in flight (errno kept). */
static void sent(int fd, const struct iovec *iov, int cnt, ssize_t r)
{
	int e = errno;
	if (cnt > 0 && mc_rec_watches_responses())
		mc_rec_response(iov[0].iov_base, iov[0].iov_len, r, e);
	if (r > 0 && cnt > 0)
		mc_request_on_sent(fd, iov, cnt, (size_t)r);
	errno = e;
}

/* Bodies a send may carry through region = json: gathered into a buffer on the stack, which
 * is sent in place of the caller's (never written: it may be immutable). */
#define MC_JSON_SEND_MAX 8192

/* corrupt on a send (region = json): the bytes of c's buffers, gathered, damaged and sent
 * instead; a send of more than MC_JSON_SEND_MAX bytes is left alone (logged). The count
 * returned is of the same bytes, so that a caller that sends the rest (a short send) goes on
 * from its own, undamaged, buffer: the numbers stay well-formed either way. */
static __attribute__((noinline)) ssize_t send_json(const struct mc_fd_row *row,
                                                   struct mc_fd_call *c, struct mc_fault *f)
{
	char out[MC_JSON_SEND_MAX];
	size_t n = 0;
	for (int i = 0; i < c->cnt; i++) {
		if (c->iov[i].iov_len > sizeof(out) - n) {
			f->skip_note = "a send larger than 8 KiB: left alone";
			mc_fault_corrupt(f, out, 0);
			return row->call(c);
		}
		memcpy(out + n, c->iov[i].iov_base, c->iov[i].iov_len);
		n += c->iov[i].iov_len;
	}
	mc_fault_corrupt_json(f, out, n);
	/* the call sends the copy; the caller's vector and header come back after it */
	struct iovec one = { .iov_base = out, .iov_len = n };
	struct msghdr msg_one;
	struct mc_fd_call copy = *c;
	copy.iov = &one;
	copy.cnt = 1;
	if (c->msg) {
		msg_one = *c->msg;
		msg_one.msg_iov = &one;
		msg_one.msg_iovlen = 1;
		copy.msg = &msg_one;
	}
	return row->call(&copy);
}

/* A call a rule acted on, or that trace, the scanner or the watchdog must see: the whole
 * bracket (the guard is held). */
static inline __attribute__((always_inline)) ssize_t
fd_full(struct mc_hookcall *hc, const struct mc_fd_row *row, struct mc_fd_call *c,
        struct mc_fault *f, enum mc_hook h, const struct mc_fd_info *fdi, uint64_t asked)
{
	uint64_t want = asked;
	/* where the bytes start in the file matters only to damage, and only what arrives is
	 * damaged: a write's offset is not the rules' business */
	int64_t off = (row->what & MC_PIPE_ARRIVED) ? c->off : MC_OFF_UNKNOWN;
	if (f->d.action != MC_ACTION_NONE && !mc_fault_apply_before(f, &want, off)) {
		mc_call_end_fd(hc, -1);
		return -1;
	}
	struct iovec cut[MC_SHORT_IOV_MAX];
	struct msghdr msg_cut;
	struct msghdr *msg = c->msg;
	if (want < asked && (row->what & MC_PIPE_FLAT)) { /* short: the buffer cut */
		cut[0] = c->iov[0];
		cut[0].iov_len = (size_t)want;
		c->iov = cut;
	} else if (want < asked) { /* short: the first iovecs, the last one cut */
		c->cnt = mc_iov_cut(c->iov, (size_t)c->cnt, want, cut);
		c->iov = cut;
		if (msg) { /* recvmsg, sendmsg: the same header, the shorter vector */
			msg_cut = *msg;
			msg_cut.msg_iov = cut;
			msg_cut.msg_iovlen = (size_t)c->cnt;
			c->msg = &msg_cut;
		}
	}
	/* scale = N (a delay of N times the call's own duration): the call is timed */
	uint64_t started_ns =
	    mc_unlikely(f->d.action == MC_ACTION_DELAY && f->d.times_own > 0) ? mc_now_ns() : 0;
	bool json_out = f->d.action == MC_ACTION_CORRUPT && !f->d.shadow && h == MC_HOOK_SEND;
	ssize_t r = json_out ? send_json(row, c, f) : row->call(c);
	if (mc_unlikely(started_ns))
		mc_fault_after_own(f, started_ns);
	if (c->msg != msg && r >= 0 && (row->what & MC_PIPE_ARRIVED)) {
		/* what the kernel reported back into the copy */
		msg->msg_flags = msg_cut.msg_flags;
		msg->msg_controllen = msg_cut.msg_controllen;
		msg->msg_namelen = msg_cut.msg_namelen;
	}
	mc_fault_throttle(f, r > 0 ? (uint64_t)r : 0);
	if (row->what & MC_PIPE_ARRIVED)
		arrived(f, row->fn, fdi, c->fd, asked, c->iov, c->cnt, r > 0 ? (size_t)r : 0);
	else if ((row->what & MC_PIPE_SENT) && h == MC_HOOK_SEND)
		sent(c->fd, c->iov, c->cnt, r);
	mc_call_end_fd(hc, r);
	return r;
}

/* A read on a socket that a request's memo lets pass but whose bytes the request-key
 * scanner must see: the real call, then its bytes to the scanner, in the
 * bracket; errno as the real call left it. */
static __attribute__((noinline)) ssize_t fd_scanned(const struct mc_fd_row *row,
                                                    struct mc_fd_call *c)
{
	ssize_t r = row->call(c);
	if (r > 0)
		scan_bracketed(c->fd, c->iov[0].iov_base, first_part(c->iov, (size_t)r));
	return r;
}

ssize_t mc_pipe_scanned(int fd, const void *buf, ssize_t r)
{
	scan_bracketed(fd, buf, (size_t)r);
	return r;
}

ssize_t mc_pipe_fd_decided(const struct mc_fd_row *row, struct mc_fd_call *c)
{
	struct mc_hookcall hc;
	struct mc_fault f;
	struct mc_fd_info fdi;
	f.caller_pc = c->pc;
	mc_call_begin(&hc, row->fn, c->fd); /* the decision, and all that uses it, in the bracket */
	uint64_t word = mc_fd_lookup_word(c->fd, &fdi);
	enum mc_hook h = family_of(row->family, &fdi);
	/* a flat call's one buffer needs no loop */
	uint64_t asked =
	    (row->what & MC_PIPE_FLAT) ? c->iov[0].iov_len : mc_iov_bytes(c->iov, c->cnt);
	bool acted = mc_fault_fd_quick(&f, h, row->fn, c->fd, &fdi, asked);
	if (mc_likely(!acted && !mc_trace_enabled) && (row->what & MC_PIPE_EXPRESS) &&
	    !must_see(row->what, h, c->fd, &fdi)) {
		mc_call_pass(&hc);
		if (word) /* calls like this one need nothing either while its hint holds */
			mc_fault_express_keep(h, word, &f);
		return row->call(c); /* armed, not selected: the real call unbracketed */
	}
	return fd_full(&hc, row, c, &f, h, &fdi, asked);
}

/* A call whose first buffer is empty is decided, whatever follows it. */
ssize_t mc_pipe_fd_foreseen(const struct mc_fd_row *row, struct mc_fd_call *c, enum mc_hook h)
{
	if (c->cnt > 0 && c->iov[0].iov_len > 0 && mc_fault_foreseen_take(h, c->fd))
		return h == MC_HOOK_READ ? fd_scanned(row, c) : row->call(c);
	return mc_pipe_fd_decided(row, c);
}

/* ---- stdio ---------------------------------------------------------------------------- */

/* A failed fread or fwrite sets the stream's error indicator, as a real error would, so that
 * ferror() tells the program what happened. */
static void set_stream_error(FILE *s)
{
#ifdef _IO_ERR_SEEN
	if (s)
		s->_flags |= _IO_ERR_SEEN;
#else
	(void)s;
#endif
}

/* A truncated file's stream is at its end: feof() says so, as it would for a real one. */
static void set_stream_eof(FILE *s)
{
#ifdef _IO_EOF_SEEN
	if (s)
		s->_flags |= _IO_EOF_SEEN;
#else
	(void)s;
#endif
}

/* The stream's logical position, not the fd's (stdio reads ahead): where a corrupt rule's
 * bytes start. Asked only when a read rule may want it. */
static int64_t stream_offset(const struct mc_items_row *row, FILE *s)
{
	if (!(row->what & MC_PIPE_ARRIVED) || !s || !mc_fault_has(MC_HOOK_READ))
		return MC_OFF_UNKNOWN;
	int saved = errno;
	int64_t off = ftello(s);
	errno = saved;
	return off < 0 ? MC_OFF_UNKNOWN : off;
}

MC_COLD size_t mc_pipe_items(const struct mc_items_row *row, struct mc_items_call *c)
{
	struct mc_hookcall hc;
	struct mc_fault f;
	struct mc_fd_info fdi;
	/* fileno_unlocked: the stream's lock is not ours to take here. */
	int fd = c->stream ? fileno_unlocked(c->stream) : -1;
	f.caller_pc = c->pc;
	mc_call_begin(&hc, row->fn, fd);
	mc_fd_lookup(fd, &fdi);
	uint64_t bytes = (uint64_t)c->size * c->n;
	uint64_t want = bytes;
	int64_t off = stream_offset(row, c->stream);
	f.d.action = MC_ACTION_NONE;
	if (c->size != 0 &&
	    !mc_fault_fd_gate(&f, family_of(row->family, &fdi), row->fn, fd, &fdi, &want, off)) {
		set_stream_error(c->stream);
		mc_call_end_fd(&hc, -1);
		return 0;
	}
	if (want < bytes && f.d.action == MC_ACTION_TRUNCATE) {
		/* the items before the end; none: end of file, as the stream would say */
		c->n = (size_t)(want / c->size);
		if (c->n == 0) {
			set_stream_eof(c->stream);
			mc_call_end_fd(&hc, 0);
			return 0;
		}
	} else if (want < bytes) { /* short: fewer items, at least one */
		c->n = want / c->size ? (size_t)(want / c->size) : 1;
	}
	size_t r = row->call(c);
	mc_fault_throttle(&f, (uint64_t)r * c->size);
	if (row->what & MC_PIPE_ARRIVED)
		mc_fault_corrupt(&f, c->ptr, r * c->size);
	mc_call_end_fd(&hc, (long long)(r * c->size));
	return r;
}

/* ---- many messages at once ------------------------------------------------------------ */

MC_COLD int mc_pipe_batch(const struct mc_batch_row *row, const struct mc_batch_call *c)
{
	struct mc_hookcall hc;
	mc_call_begin(&hc, row->fn, c->fd);
	int r = row->call(c);
	uint64_t bytes = 0;
	for (int i = 0; i < r; i++)
		bytes += c->v[i].msg_len;
	mc_call_end_fd(&hc, r > 0 ? (long long)bytes : r);
	return r;
}

/* ---- allocations ---------------------------------------------------------------------- */

/* A rule acted on this allocation: apply it (it may log, sleep or kill). 0, or the error the
 * allocation must fail with (errno is set to it already: mc_fault_before). Guard held. */
static MC_COLD int alloc_fault(struct mc_fault *f)
{
	return mc_fault_before(f, NULL) ? 0 : f->d.err;
}

/* The rules' verdict on an allocation of n bytes, asked with the guard held for as long as
 * the decision is used (runtime.h); heap: the live heap is counted (a budget is armed), so
 * that every allocation must come here. Nothing here touches errno unless a rule acted.
 * Returns 0, or the error it must fail with (ENOMEM or the rule's; errno set). */
static int alloc_decide(enum mc_fn fn, size_t n, bool heap, const void *pc)
{
	struct mc_fault f;
	f.caller_pc = pc;
	mc_guard_enter();
	bool acted = mc_fault_decide_anon(&f, MC_HOOK_MALLOC, fn, n);
	int err = acted ? alloc_fault(&f) : 0;
	mc_guard_leave();
	if (!heap)
		mc_fault_express_keep(MC_HOOK_MALLOC, 0, &f);
	return err;
}

/* The real allocation with the live heap counted (a budget is armed): what a moved block
 * held leaves it, what the allocator really gave enters it. */
static MC_COLD void *alloc_counted(const struct mc_alloc_row *row, size_t n,
                                   struct mc_alloc_call *c)
{
	size_t old = 0;
	if ((row->what & MC_PIPE_MOVES) && c->p)
		old = mc_real.malloc_usable_size(c->p);
	void *q = row->call(n, c);
	/* a failed realloc leaves the old block where it was, as realloc(3) does */
	if ((row->what & MC_PIPE_MOVES) && (q || n == 0))
		mc_heap_note(-(int64_t)old);
	if (q)
		mc_heap_note((int64_t)mc_real.malloc_usable_size(q));
	return q;
}

MC_COLD void *mc_pipe_alloc(const struct mc_alloc_row *row, size_t n, struct mc_alloc_call *c,
                            const void *pc)
{
	if (mc_unlikely(mc_trace_enabled))
		mc_trace_target(row->fn, MC_TGT_ANON, 0, n);
	bool heap = mc_armed(MC_ARM_HEAP);
	int err = mc_fault_has(MC_HOOK_MALLOC) ? alloc_decide(row->fn, n, heap, pc) : 0;
	if (err) {
		if (c)
			c->err = err;
		return NULL;
	}
	if (mc_unlikely(heap))
		return alloc_counted(row, n, c);
	return row->call(n, c); /* nothing to count: the real call, a tail call */
}

/* ---- calls that name a file ----------------------------------------------------------- */

/* The rules' verdict on the file c names: false when the call must fail (errno set);
 * c->path and *id change when a redirect rule sends the call elsewhere (id: for an open,
 * whose fd is named by the file it really is). Guard held. */
static bool path_gate(const struct mc_path_row *row, struct mc_path_call *c, uint32_t *id,
                      struct mc_fault *fp)
{
	struct mc_fault f;
	bool acted;
	f.caller_pc = c->pc;
	if (c->on_fd) {
		struct mc_fd_info fdi;
		mc_fd_lookup(c->fd, &fdi);
		acted = mc_fault_decide_fd(&f, row->family, row->fn, c->fd, &fdi, 0);
	} else {
		acted = mc_fault_decide_path(&f, row->family, row->fn, *id);
	}
	if (!acted)
		return true;
	if (!mc_fault_before(&f, NULL))
		return false;
	if (f.d.action == MC_ACTION_TRUNCATE) {
		*fp = f; /* applied to what the call reports */
	} else if (f.d.action == MC_ACTION_REDIRECT && c->on_fd) {
		mc_fault_not_applied(&f, "a call on an fd: its file is the one it opened");
	} else if (mc_fault_redirect(&f)) {
		c->path = f.d.to; /* absolute: the validator requires it */
		if (row->what & MC_PIPE_OPENS)
			*id = mc_path_intern_at(AT_FDCWD, f.d.to, -1);
	}
	return true;
}

MC_COLD int mc_pipe_path(const struct mc_path_row *row, struct mc_path_call *c)
{
	struct mc_hookcall hc;
	bool opens = row->what & MC_PIPE_OPENS;
	/* freopen(NULL, ...) reopens the same file with another mode: nothing is named */
	bool named = c->path || !(row->what & MC_PIPE_STDIO);
	mc_call_begin(&hc, row->fn, c->on_fd ? c->fd : -1);
	int old_fd = c->stream ? fileno_unlocked(c->stream) : -1;
	uint64_t snap = c->stream ? mc_fd_snapshot(old_fd) : 0; /* freopen: its old fd's entry */
	uint32_t id = 0; /* the path's interned id (0: none to be had, or not needed) */
	bool ruled = named && mc_fault_has(row->family);
	if (!c->on_fd && named && (opens || ruled || mc_trace_enabled))
		id = mc_path_intern_at(c->dirfd, c->path, -1);
	uint32_t asked_id = id; /* a stat is traced by the path asked, an open by the file */
	struct mc_fault f;
	f.d.action = MC_ACTION_NONE;
	if (ruled && !path_gate(row, c, &id, &f)) {
		mc_call_end_fd(&hc, -1);
		return -1;
	}
	int r = row->call(c);
	int e = errno; /* the after's own calls (a tensor map reads the file) must not leak */
	if (r == 0 && f.d.action == MC_ACTION_TRUNCATE)
		mc_truncate_stat(&f, row->fn == MC_FN_statx, c->out);
	if (opens && named) {
		if (c->stream)
			mc_fd_forget_snapshot(old_fd, snap);
		if (r >= 0) {
			mc_fd_set_file(r, id);
			mc_fault_file_opened(r, id); /* region = tensors: the file's tensor map */
			if (mc_trace_enabled) /* trace shows model files first: the same map */
				mc_trace_file_opened(r, id);
		}
	}
	if (mc_trace_enabled && !c->on_fd && named)
		mc_trace_file_path(row->fn, opens ? id : asked_id, 0);
	errno = e;
	mc_call_end_fd(&hc, r < 0 ? -1 : 0);
	return r;
}

/* ---- mappings ------------------------------------------------------------------------- */

static bool shared(int flags)
{
	int type = flags & MAP_TYPE;
	return type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
}

/* Decides for a file mapping; may turn flags private for corruption.
 * Returns false when the mapping must fail (errno set). */
static bool map_file_gate(struct mc_fault *f, enum mc_fn fn, struct mc_map_call *c)
{
	struct mc_fd_info fdi;
	mc_fd_lookup(c->fd, &fdi);
	uint64_t n = c->len;
	int prot = c->prot;
	if (!mc_fault_fd_gate(f, MC_HOOK_MMAP, fn, c->fd, &fdi, &n, c->off))
		return false;
	if (f->d.action == MC_ACTION_TRUNCATE && !f->d.shadow) {
		/* the end's page is zeroed in the process's copy, never in the file */
		if (shared(c->flags) && !(prot & PROT_WRITE))
			c->flags = (c->flags & ~MAP_TYPE) | MAP_PRIVATE;
		return true;
	}
	if (f->d.action != MC_ACTION_CORRUPT || f->d.shadow)
		return true;
	if (!(prot & PROT_READ)) {
		f->skip_note = "mapping not readable: left alone";
		return true;
	}
	if (shared(c->flags) && (prot & PROT_WRITE)) {
		/* never damage what could reach the disk */
		f->skip_note = "shared writable mapping: left alone, the file is never altered";
		return true;
	}
	if (shared(c->flags))
		c->flags = (c->flags & ~MAP_TYPE) | MAP_PRIVATE;
	return true;
}

/* Damages the mapped bytes that lie inside the file (pages past its end
 * would fault with SIGBUS). */
static void corrupt_mapping(struct mc_fault *f, const struct mc_map_call *c, void *addr)
{
	int fd = c->fd, prot = c->prot;
	size_t len = c->len;
	int64_t off = c->off;
	f->file_offset = (uint64_t)off;
	f->have_offset = true;
	struct stat st;
	if (f->skip_note || mc_real.fstat(fd, &st) != 0 || st.st_size <= off) {
		mc_fault_corrupt(f, addr, 0); /* logged, nothing to damage */
		return;
	}
	uint64_t avail = (uint64_t)(st.st_size - off);
	size_t n = avail < len ? (size_t)avail : len;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (n + page - 1) & ~(page - 1);
	if (!(prot & PROT_WRITE) && mprotect(addr, span, prot | PROT_WRITE) != 0) {
		f->skip_note = "mprotect refused: left alone";
		mc_fault_corrupt(f, addr, 0);
		return;
	}
	mc_fault_corrupt(f, addr, n);
	if (!(prot & PROT_WRITE))
		mprotect(addr, span, prot);
}

/* action = throttle on a file mapping: the mapping is read in when it is made, as
 * MAP_POPULATE would, at the rule's pace. The bytes of the file it covers are charged to the
 * bucket and the mmap returns once they are paid for; the kernel is asked to read them ahead
 * meanwhile, so that the pages the program touches later come from the page cache (a slow
 * volume's cost is paid once, up front, where a loader waits for it). */
static void throttle_mapping(struct mc_fault *f, const struct mc_map_call *c, void *addr)
{
	uint64_t n = 0;
	struct stat st;
	int e = errno;
	if (addr != MAP_FAILED && mc_real.fstat(c->fd, &st) == 0 && st.st_size > c->off) {
		uint64_t avail = (uint64_t)(st.st_size - c->off);
		n = avail < c->len ? avail : c->len;
		madvise(addr, c->len, MADV_WILLNEED);
	}
	errno = e;
	mc_fault_throttle(f, n);
}

MC_COLD void *mc_pipe_map(const struct mc_map_row *row, struct mc_map_call *c)
{
	struct mc_hookcall hc;
	struct mc_fault f;
	bool remap = row->what & MC_PIPE_REMAP;
	bool anon = remap || (c->flags & MAP_ANONYMOUS) || c->fd < 0;
	uint64_t judged = c->len;
	if (remap) /* what it grows by; 0: it does not grow */
		judged = c->len > c->old_len ? c->len - c->old_len : 0;
	mc_call_begin(&hc, row->fn, anon ? -1 : c->fd);
	f.d.action = MC_ACTION_NONE;
	f.caller_pc = c->pc;
	bool proceed = true;
	if (anon && (judged > 0 || !remap) && mc_fault_has(MC_HOOK_MMAP) &&
	    mc_fault_decide_anon(&f, MC_HOOK_MMAP, row->fn, judged))
		proceed = mc_fault_before(&f, NULL);
	else if (!anon)
		proceed = map_file_gate(&f, row->fn, c);
	void *r = MAP_FAILED;
	if (proceed) {
		r = row->call(c);
		if (!anon && f.d.action == MC_ACTION_CORRUPT) {
			int e = errno;
			if (r == MAP_FAILED)
				f.skip_note = "mmap failed";
			corrupt_mapping(&f, c, r);
			errno = e;
		} else if (!anon && f.d.action == MC_ACTION_TRUNCATE) {
			mc_truncate_mapping(&f, c->fd, c->off, r, c->len, c->prot, c->flags);
		} else if (!anon && f.d.action == MC_ACTION_THROTTLE) {
			throttle_mapping(&f, c, r);
		} else if (anon && f.d.action == MC_ACTION_THROTTLE && !f.d.shadow) {
			mc_fault_not_applied(&f, "anonymous mapping: nothing to read in");
		}
	}
	if (anon && r != MAP_FAILED && row->made && mc_armed(MC_ARM_HEAP))
		row->made(r, c->len);
	if (anon)
		mc_call_end_target(&hc, MC_TGT_ANON, r == MAP_FAILED ? 0 : c->len);
	else
		mc_call_end_fd(&hc, r == MAP_FAILED ? -1 : (long long)c->len);
	return r;
}

/* ---- sleeps --------------------------------------------------------------------------- */

MC_COLD int mc_pipe_sleep(enum mc_fn fn, const void *pc)
{
	struct mc_hookcall hc;
	struct mc_fault f;
	f.caller_pc = pc;
	int err = 0;
	mc_call_begin(&hc, fn, -1);
	if (mc_trace_enabled)
		mc_trace_target(fn, MC_TGT_OTHER, 0, 0);
	if (!mc_fault_has(MC_HOOK_SLEEP)) {
		mc_call_pass(&hc);
		return 0;
	}
	/* a decision leaves errno as it was; applying one may not (a log line, a failure) */
	bool acted = mc_fault_decide_anon(&f, MC_HOOK_SLEEP, fn, 0);
	if (acted) {
		int saved = errno;
		if (!mc_fault_before(&f, NULL))
			err = f.d.err;
		errno = saved;
	}
	mc_call_pass(&hc);
	if (!acted) /* the next sleeps like it pass at the hook (fault.h) */
		mc_fault_express_keep(MC_HOOK_SLEEP, 0, &f);
	return err;
}
