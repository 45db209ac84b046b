/* pipeline.c: the bracket of every hooked call shape (pipeline.h says the order). Each
 * pipeline is MC_COLD: a hook reaches it only when its family is armed and the express memo
 * did not let the call pass, and the real call of the common case (armed, not selected) is
 * made from here unbracketed, as the hooks made it before. */
#include <sys/socket.h>

#include "fault.h"
#include "hook.h"
#include "pipeline.h"
#include "record.h"
#include "request.h"

/* ---- calls on an fd ------------------------------------------------------------------- */

static enum mc_hook family_of(enum mc_hook family, const struct mc_fd_info *fdi)
{
	if (family != MC_FAMILY_BY_FD)
		return family;
	return mc_fd_is_socket(fdi) ? MC_HOOK_SEND : MC_HOOK_WRITE;
}

/* True when the call must be seen after it is made even though no rule acted: bytes from a
 * socket the request-key scanner reads, or an answer the error-rate watchdog counts. */
static bool must_see(unsigned what, enum mc_hook h, const struct mc_fd_info *fdi)
{
	if (what & MC_PIPE_ARRIVED)
		return mc_fd_is_socket(fdi) && mc_request_wants_reads();
	if (what & MC_PIPE_SENT)
		return h == MC_HOOK_SEND && mc_rec_watches_responses();
	return false;
}

/* What arrived (got bytes of iov, asked bytes asked): shown first to the request-key
 * scanner if it came from a socket (the key as it was sent, before any damage); then damaged
 * if a corrupt rule acted, or, when none did, if a stream rule selects the request those
 * bytes belong to (enum mc_stage). */
static void arrived(struct mc_fault *f, enum mc_fn fn, const struct mc_fd_info *fdi, int fd,
                    uint64_t asked, const struct iovec *iov, int cnt, size_t got)
{
	if (got > 0 && cnt > 0 && mc_fd_is_socket(fdi) && mc_request_wants_reads()) {
		mc_request_on_read(fd, iov[0].iov_base,
		                   got < iov[0].iov_len ? got : iov[0].iov_len);
		if (f->d.action == MC_ACTION_NONE)
			mc_fault_decide_stream(f, fn, fd, fdi, asked);
	}
	mc_fault_corrupt_iov(f, iov, cnt, got);
}

/* What was sent: the head of the answer, for the watchdog (errno kept). */
static void sent(const struct iovec *iov, int cnt, ssize_t r)
{
	int e = errno;
	if (cnt > 0)
		mc_rec_response(iov[0].iov_base, iov[0].iov_len, r, e);
	errno = e;
}

/* A call a rule acted on, or that trace, the scanner or the watchdog must see: the whole
 * bracket (the guard is held). */
static MC_COLD ssize_t fd_full(struct mc_hookcall *hc, const struct mc_fd_row *row,
                               struct mc_fd_call *c, struct mc_fault *f, enum mc_hook h,
                               const struct mc_fd_info *fdi, uint64_t asked)
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
	ssize_t r = row->call(c);
	if (c->msg != msg && r >= 0 && (row->what & MC_PIPE_ARRIVED)) {
		/* what the kernel reported back into the copy */
		msg->msg_flags = msg_cut.msg_flags;
		msg->msg_controllen = msg_cut.msg_controllen;
		msg->msg_namelen = msg_cut.msg_namelen;
	}
	if (row->what & MC_PIPE_ARRIVED)
		arrived(f, row->fn, fdi, c->fd, asked, c->iov, c->cnt, r > 0 ? (size_t)r : 0);
	else if ((row->what & MC_PIPE_SENT) && h == MC_HOOK_SEND && mc_rec_watches_responses())
		sent(c->iov, c->cnt, r);
	mc_call_end_fd(hc, r);
	return r;
}

MC_COLD ssize_t mc_pipe_fd(const struct mc_fd_row *row, struct mc_fd_call *c)
{
	struct mc_hookcall hc;
	struct mc_fault f;
	struct mc_fd_info fdi;
	mc_call_begin(&hc, row->fn, c->fd); /* the decision, and all that uses it, in the bracket */
	uint64_t word = mc_fd_lookup_word(c->fd, &fdi);
	enum mc_hook h = family_of(row->family, &fdi);
	uint64_t asked = mc_iov_bytes(c->iov, c->cnt);
	bool acted = mc_fault_fd_quick(&f, h, row->fn, c->fd, &fdi, asked);
	if (mc_likely(!acted && !mc_trace_enabled) && (row->what & MC_PIPE_EXPRESS) &&
	    !must_see(row->what, h, &fdi)) {
		mc_call_pass(&hc);
		if (word) /* calls like this one need nothing either while its hint holds */
			mc_fault_express_keep(h, word, &f);
		return row->call(c); /* armed, not selected: the real call unbracketed */
	}
	return fd_full(&hc, row, c, &f, h, &fdi, asked);
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
	if (want < bytes) /* short: fewer items, at least one */
		c->n = want / c->size ? (size_t)(want / c->size) : 1;
	size_t r = row->call(c);
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
