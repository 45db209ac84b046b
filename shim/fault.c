/* fault.c: the glue of fault.h. Runs on the slow path of armed hooks: no
 * malloc, no lock, no stdio after init (the malloc family comes through
 * here). What the rules decide with is one immutable snapshot (runtime.h),
 * built at init or by a reload and published with one atomic store, and
 * freed once no thread holds it. Everything the library does for itself (a
 * reload's parse, the log, the tensor maps) runs with the guard held, so
 * the rules never decide on the library's own calls. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "delay.h"
#include "eventlog.h"
#include "fault.h"
#include "fmt.h"
#include "guard.h"
#include "heap.h"
#include "kinds.h"
#include "record.h"
#include "real.h"
#include "request.h"
#include "runtime.h"
#include "selector.h"
#include "tensormap.h"
#include "trace.h"
#include "truncate.h"
#include "json.h"

/* The process's part of the decisions: the engine's counts shared by every thread (in the
 * segment), when the library started (the clock of the rules' phases), the start order given to
 * threads (0 is the main thread's), and whether a reload is under way (one at a time). And its
 * start order among its siblings, for processes = P%: the number its parent gave it when it
 * forked it (1, 2, ... in fork order, counted by the parent's library), or for a process
 * started otherwise $MLCHAOS_START_ORDER, else 0; the forks it has made itself; and the mask
 * of the rules its order leaves out, for the snapshot generation in word 0 (0: none yet). */
static struct {
	struct mc_engine_state *state;
	uint64_t started_ns;
	_Atomic uint64_t thread_ordinals;
	_Atomic int reloading;
	_Atomic unsigned counting; /* faults between their staleness test and their count */
	_Atomic bool loader_said;  /* the loader's allocation skipped and logged once */
	uint64_t start_order;
	_Atomic uint64_t forks;
	_Atomic uint64_t process_off[1 + MC_MASK_WORDS];
} process = { .thread_ordinals = 1 };
/* Families with at least one rule, in any rule set so far: only ever grows
 * (a family armed stays armed, so that it notices the next reload), so a
 * reader that sees it a moment early or late only asks the rules in vain. */
_Atomic uint32_t mc_fault_hooks;
__thread struct mc_express_memo mc_express_memo[MC_HOOK_COUNT]
    __attribute__((tls_model("initial-exec")));
_Atomic uint32_t mc_express_epoch;
/* This thread's part of the decisions: its generator and counts (the engine's), the snapshot
 * generation they were seeded for (it reseeds when another comes in force; 0 until its first
 * decision: generations count from 1), its start order among the threads, and the number it
 * drew for the child it is forking (before_fork). */
static __thread struct {
	struct mc_thread_state engine;
	uint64_t generation;
	uint64_t ordinal;
	uint64_t fork_ticket;
} self __attribute__((tls_model("initial-exec")));

/* ---- the express lane (fault.h) ----------------------------------------------- */

/* Empties family h's memo: the calls it passed are counted as the rule's
 * matched calls, the ones it did not use go back to the rule's gap (a
 * request's memo took nothing off a gap; its calls are not counted if a reload has replaced
 * its rule since: the counts start anew with the new rules). The exchanges keep a signal
 * handler that runs in between from counting a reservation twice. */
static inline void express_settle(enum mc_hook h)
{
	struct mc_express_memo *m = &mc_express_memo[h];
	if (!atomic_load_explicit(&m->taken, memory_order_relaxed) &&
	    !atomic_load_explicit(&m->left, memory_order_relaxed))
		return; /* nothing kept (rules the memo cannot serve): no exchange to pay */
	uint32_t left = atomic_exchange_explicit(&m->left, 0, memory_order_relaxed);
	uint32_t taken = atomic_exchange_explicit(&m->taken, 0, memory_order_relaxed);
	if (!taken || m->express < MC_EXPRESS_RULE)
		return;
	unsigned id = m->express - MC_EXPRESS_RULE;
	if (!m->foreseen)
		mc_engine_express_return(&self.engine, id, taken - left, left);
	else if (taken > left && self.generation && self.generation == m->generation)
		mc_engine_express_count(&self.engine, process.state, id, taken - left);
}

void mc_fault_express_hint(enum mc_hook h, uint64_t word, const struct mc_fault *f)
{
	/* a reload or the phase moved since the decision; or every call is to be traced, which
	 * only the pipeline does */
	if (f->epoch != atomic_load_explicit(&mc_express_epoch, memory_order_acquire) ||
	    mc_trace_enabled)
		return;
	struct mc_express_memo *m = &mc_express_memo[h];
	express_settle(h);
	uint32_t n = MC_EXPRESS_CALLS;
	if (f->d.express >= MC_EXPRESS_RULE) {
		n = mc_engine_express_reserve(&self.engine, f->d.express - MC_EXPRESS_RULE, n);
		atomic_store_explicit(&m->taken, n, memory_order_relaxed);
	}
	m->word = word;
	m->lo = f->d.express_lo;
	m->span = f->d.express_hi - f->d.express_lo;
	m->express = f->d.express;
	m->foreseen = false;
	atomic_signal_fence(memory_order_release); /* the memo whole before it opens */
	atomic_store_explicit(&m->left, n, memory_order_relaxed);
}

static void express_drop_all(void)
{
	for (unsigned h = 0; h < MC_HOOK_COUNT; h++)
		express_settle((enum mc_hook)h);
}

void mc_fault_exit(void)
{
	if (process.state && self.generation) {
		express_drop_all();
		mc_engine_thread_flush(&self.engine, process.state);
	}
	mc_rec_exit();
}

void mc_fault_count_now(void)
{
	if (process.state && self.generation)
		mc_engine_thread_flush(&self.engine, process.state);
}

static uint64_t since_start_ns(void *unused)
{
	(void)unused;
	return mc_now_ns() - process.started_ns;
}

/* True when the snapshot that made decision f has been replaced since (compared, never read
 * through). */
static bool replaced(const struct mc_fault *f)
{
	return f->rt != mc_runtime_now();
}

/* The thread's generator and counts, seeded for the rules of snapshot rt. */
static inline struct mc_thread_state *this_thread(const struct mc_runtime *rt)
{
	if (mc_unlikely(self.generation != rt->generation)) {
		if (!self.generation)
			self.ordinal = gettid() == getpid()
			                   ? 0
			                   : atomic_fetch_add_explicit(&process.thread_ordinals, 1,
			                                               memory_order_relaxed);
		else if (process.state)
			mc_engine_thread_flush(&self.engine, process.state);
		mc_engine_thread_init(&self.engine, mc_engine_seed(rt->rs), self.ordinal);
		self.generation = rt->generation;
	}
	return &self.engine;
}

/* Which rules' path globs match path id: computed once per path and snapshot,
 * kept in the path registry's cache words (the snapshot's generation, then mask). */
static const struct mc_rulemask *path_rules(const struct mc_runtime *rt, uint32_t id,
                                            struct mc_rulemask *scratch)
{
	_Atomic uint64_t *cache = mc_path_cache(id);
	if (!cache)
		return NULL;
	_Static_assert(MC_MASK_WORDS + 1 <= MC_PATH_CACHE_WORDS, "cache too small for the mask");
	uint64_t gen = rt->generation;
	if (atomic_load_explicit(&cache[0], memory_order_acquire) == gen) {
		for (unsigned i = 0; i < MC_MASK_WORDS; i++)
			scratch->w[i] = atomic_load_explicit(&cache[1 + i], memory_order_relaxed);
		return scratch;
	}
	mc_engine_match_path(rt->rs, mc_path_of(id), scratch);
	for (unsigned i = 0; i < MC_MASK_WORDS; i++)
		atomic_store_explicit(&cache[1 + i], scratch->w[i], memory_order_relaxed);
	atomic_store_explicit(&cache[0], gen, memory_order_release);
	return scratch;
}

/* The calling object of the call f decides (f given as void *: the engine asks it, for a rule
 * with caller keys) into f->caller: its name, or NULL when not known. What is done inside C++
 * operator new is its caller's (hook_new.c), unless the loader did it: a thread-local block
 * that the runtime's own code touched first. */
static MC_COLD const char *ask_caller(void *fault)
{
	struct mc_fault *f = fault;
	bool found = mc_objects_find(f->caller_pc, &f->caller);
	if (mc_inside.new_caller && !f->caller.loader)
		found = mc_objects_find(mc_inside.new_caller, &f->caller);
	return found ? f->caller.name : NULL;
}

/* A malloc rule acted on an allocation the dynamic loader made (the thread-local storage of a
 * dlopen'ed library, for a new thread or on first use): glibc aborts the process when such an
 * allocation fails ("cannot allocate memory for thread-local data"). Unless the rule names
 * its caller (caller = ld-linux* aims at the loader on purpose), the allocation is left alone:
 * the decision gives back what it took of times and max_faults, and the first such skip of
 * the process is logged. */
static MC_COLD bool loader_spared(const struct mc_runtime *rt, struct mc_fault *f,
                                  const struct mc_call *call)
{
	const struct mc_erule *r = f->d.rule;
	if (call->hook != MC_HOOK_MALLOC || !r || r->caller || !f->caller.loader)
		return false;
	mc_engine_unclaim(rt->rs, r, process.state);
	if (!atomic_exchange_explicit(&process.loader_said, true, memory_order_relaxed))
		mc_log_loader_spared(r->name, call->size, f->caller.name);
	f->d = (struct mc_decision){ .action = MC_ACTION_NONE, .express = MC_EXPRESS_NO };
	return true;
}

/* A rule acted. A malloc rule spares the loader's allocations (false when it did): the calling
 * object is asked for it, and named in the log line; so is the caller of a decision of a rule
 * with caller keys (asked again: the cost is the acting call's). Other decisions leave it
 * unnamed, and cost what they did. */
static MC_COLD bool acted(const struct mc_runtime *rt, struct mc_fault *f,
                          const struct mc_call *call)
{
	const struct mc_erule *r = f->d.rule;
	if (call->hook != MC_HOOK_MALLOC && !(r && (r->caller || r->not_caller))) {
		f->caller.name[0] = '\0';
		return true;
	}
	ask_caller(f);
	return !loader_spared(rt, f, call);
}

/* A rule did not act on an ambiguous call it would have selected: counted, and the log says
 * so. */
static MC_COLD void log_withheld(const struct mc_call *call, enum mc_fn fn)
{
	const struct mc_erule *r = self.engine.withheld;
	self.engine.withheld = NULL;
	atomic_fetch_add_explicit(&process.state->rule[r->id].ambiguous, 1, memory_order_relaxed);
	mc_log_ambiguous(r, mc_fn_name(fn), call->key, call->key ? call->key_len : 0,
	                 call->phase == MC_PHASE_SERVE ? "serve" : "load");
}

/* The rules processes = P% leaves out in this process, for snapshot rt: computed once per
 * snapshot (and again in a forked child, whose order is new), kept in process_off. Threads
 * that compute it at once for one snapshot store the same words; as with path_rules' cache,
 * a thread still deciding on the snapshot a reload replaced may store its words after those
 * of the new one, and a call decided in that moment may read them. */
static const struct mc_rulemask *process_off(const struct mc_runtime *rt,
                                             struct mc_rulemask *scratch)
{
	if (atomic_load_explicit(&process.process_off[0], memory_order_acquire) == rt->generation) {
		for (unsigned i = 0; i < MC_MASK_WORDS; i++)
			scratch->w[i] =
			    atomic_load_explicit(&process.process_off[1 + i], memory_order_relaxed);
		return scratch;
	}
	mc_engine_process_mask(rt->rs, process.start_order, scratch);
	for (unsigned i = 0; i < MC_MASK_WORDS; i++)
		atomic_store_explicit(&process.process_off[1 + i], scratch->w[i],
		                      memory_order_relaxed);
	atomic_store_explicit(&process.process_off[0], rt->generation, memory_order_release);
	return scratch;
}

/* Asks the engine. Only the decision part of f is written here; the rest
 * is filled by fault_fill() when a rule acted, so the common case (no rule
 * selects the call) touches a few words of the stack. */
static inline bool decide(const struct mc_runtime *rt, struct mc_fault *f, struct mc_call *call,
                          const struct mc_reqkey *key)
{
	if (mc_rec_halted()) {
		f->d.express = MC_EXPRESS_NO;
		return false; /* halted: no decision, so times/after are not consumed */
	}
	call->phase = mc_request_serving() ? MC_PHASE_SERVE : MC_PHASE_LOAD;
	call->now_ns = since_start_ns;
	struct mc_rulemask off;
	if (mc_unlikely(rt->processes))
		call->process_off = process_off(rt, &off);
	if (key && key->len) {
		call->key = key->bytes;
		call->key_len = key->len;
		call->key_gen = key->gen;
	}
	return mc_engine_decide(rt->rs, process.state, this_thread(rt), call, &f->d);
}

/* A call no rule acted on: false, once the log has what an ambiguous call withheld. */
static inline bool not_acted(const struct mc_call *call, enum mc_fn fn)
{
	if (mc_unlikely(call->ambiguous) && self.engine.withheld)
		log_withheld(call, fn);
	return false;
}

static enum mc_reqkey_mode reqkey_mode(const struct mc_config *cfg);

/* Whether rules of rs decide calls not on a socket by the request key read from the sockets:
 * requests in flight must then be followed to their responses' end (request.h), which needs
 * the sends. */
static bool follows_responses(const struct mc_ruleset *rs)
{
	if (!mc_request_wants_reads())
		return false;
	for (unsigned h = 0; h < MC_HOOK_COUNT; h++)
		if (h != MC_HOOK_SEND && (mc_engine_hook_needs(rs, (enum mc_hook)h) & MC_NEEDS_KEY))
			return true;
	return false;
}

/* ---- reload ------------------------------------------------------------------- */

/* A snapshot of rule set rs built from cfg, or NULL without memory. Called
 * at init and by a reload, guard held. */
static struct mc_runtime *runtime_new(const struct mc_config *cfg, struct mc_ruleset *rs)
{
	struct mc_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	struct mc_rulemask every_path;
	memset(&every_path, 0xff, sizeof(every_path));
	rt->rs = rs;
	rt->req = mc_reqconf_intern(reqkey_mode(cfg), cfg->header);
	rt->tensor_rules = mc_engine_tensor_target(rs, &every_path);
	for (unsigned i = 0; i < mc_engine_rule_count(rs); i++)
		if (mc_engine_rule(rs, i)->processes_ppm < MC_RATE_ONE)
			rt->processes = true;
	if (!rt->req) {
		free(rt);
		return NULL;
	}
	if (rt->req->mode == MC_REQ_HEADER) {
		rt->foresee_read = mc_engine_foreseeable(rs, MC_HOOK_READ);
		/* the error-rate watchdog reads each answer sent: from init on when this config
		 * asks for it, and once watching, for good (watchdog.c) */
		bool watched = cfg->halt_on_error_rate_ppm != 0 || mc_rec_watches_responses();
		rt->foresee_send = watched ? NULL : mc_engine_foreseeable(rs, MC_HOOK_SEND);
	}
	return rt;
}

/* Puts rt in force: one store for the decisions (the snapshots it replaces are freed once
 * no thread holds them), then the socket hooks' scanner (which decides nothing) follows.
 * One publisher at a time (init, or the thread holding `reloading`). */
static void publish(struct mc_runtime *rt)
{
	mc_runtime_publish(rt);
	mc_request_configure(rt->req);
}

struct reload_messages {
	struct mc_buf b;
};

static void collect_diag(void *user, enum mc_diag_level level, const char *msg)
{
	struct reload_messages *m = user;
	(void)level;
	mc_buf_puts(&m->b, msg);
	mc_buf_putc(&m->b, '\n');
}

/* The rule set and runtime a reload builds from the config at path; 0 or
 * a negative errno, with the parser's messages given to m. */
static int reload_build(const char *path, struct reload_messages *m, struct mc_config **ret_cfg,
                        struct mc_ruleset **ret_rs, struct mc_runtime **ret_rt)
{
	int r = mc_cfg_parse_file(path, collect_diag, m, ret_cfg);
	if (r < 0)
		return r;
	struct mc_proc proc = { .comm = program_invocation_short_name,
		                .argv0 = program_invocation_short_name };
	r = mc_engine_build(*ret_cfg, &proc, ret_rs);
	if (r < 0)
		return r;
	*ret_rt = runtime_new(*ret_cfg, *ret_rs);
	if (!*ret_rt) {
		mc_engine_free(*ret_rs);
		*ret_rs = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* `mlchaos reload`: re-reads the config and swaps the runtime whole. A
 * config that does not validate is rejected with its messages and the
 * running rules stay. Runs at a safe point (a hooked call outside the
 * malloc and mmap families) on whatever path the host's call took, so it
 * holds the guard itself: the parser's reads and allocations go straight
 * to libc, never to the rules; and it gives the host its errno back. */
/* After a publication, before the counters start anew: a fault of the old rules that found
 * them still in force (log_fault) must have counted itself by then, or its count would land
 * on the new rules. Such a fault is a few instructions from its count, so this waits briefly;
 * bounded, since the thread may be one that a signal handler of this thread interrupted (the
 * count is then off by that fault). */
static MC_COLD void counted_settle(void)
{
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0;
	     i < 1000 && atomic_load_explicit(&process.counting, memory_order_acquire); i++)
		sched_yield();
}

static MC_COLD void reload(struct mc_shm *s)
{
	if (atomic_exchange(&process.reloading, 1))
		return; /* another thread is at it */
	if (atomic_load(&s->reload_done) == atomic_load(&s->reload_requested)) {
		/* another thread did it between our look and here: once is enough (each
		 * reload starts the counters anew) */
		atomic_store(&process.reloading, 0);
		return;
	}
	int saved_errno = errno;
	mc_guard_enter();
	uint32_t want = atomic_load(&s->reload_requested);
	struct reload_messages m;
	mc_buf_init(&m.b, s->reload_message, sizeof(s->reload_message));
	struct mc_config *cfg = NULL;
	struct mc_ruleset *rs = NULL;
	struct mc_runtime *rt = NULL;
	int r = reload_build(s->config_path, &m, &cfg, &rs, &rt);
	if (r == 0) {
		uint32_t hooks = atomic_fetch_or(&mc_fault_hooks, mc_engine_armed_hooks(rs)) |
		                 mc_engine_armed_hooks(rs);
		/* families armed before stay armed: they keep a way to notice the
		 * next reload; new ones are armed now */
		atomic_fetch_or(&mc_armed_mask, hooks | mc_heap_arm_for(rs));
		publish(rt);
		if (follows_responses(rs)) {
			mc_request_track_responses();
			atomic_fetch_or(&mc_armed_mask, MC_HOOK_BIT(MC_HOOK_SEND));
		}
		mc_express_invalidate(); /* after the publication: a decision of the new
		                          * epoch is of a thread that saw it */
		express_drop_all();      /* this thread: the new rules from its next call on */
		/* The counters start anew for the new rules. Faults of the old
		 * ones still being applied (a delay asleep) are logged when they
		 * end, but no longer counted (mc_fault_log), and any other
		 * decision of theirs is dropped by begin(). */
		counted_settle();
		mc_engine_state_reset(process.state);
		mc_rec_rules_changed(cfg, rs, s->config_path);
	}
	mc_cfg_free(cfg);
	atomic_store(&s->reload_status, r);
	atomic_store(&s->reload_done, want);
	atomic_store(&process.reloading, 0);
	mc_guard_leave();
	errno = saved_errno;
}

/* The runtime to decide a call of family h with, after a pending reload
 * when this is a safe point for it; the express epoch read before it. */
static inline const struct mc_runtime *runtime_for(enum mc_hook h, uint32_t *epoch)
{
	struct mc_shm *s = mc_rec_shm();
	/* malloc and mmap are never a safe point for a reload */
	if (h != MC_HOOK_MALLOC && h != MC_HOOK_MMAP && s &&
	    mc_unlikely(atomic_load_explicit(&s->reload_requested, memory_order_relaxed) !=
	                atomic_load_explicit(&s->reload_done, memory_order_relaxed)))
		reload(s);
	*epoch = atomic_load_explicit(&mc_express_epoch, memory_order_acquire);
	return mc_runtime_take();
}

static void fault_fill(struct mc_fault *f, const struct mc_runtime *rt, const struct mc_call *call,
                       enum mc_fn fn, int fd, uint64_t size)
{
	f->rt = rt;
	f->phase = call->phase;
	f->fn = fn;
	f->fd = fd;
	f->asked = size;
	f->file_offset = 0;
	f->have_offset = false;
	f->skip_note = NULL;
}

/* mc_fault_decide_fd, and with after_bytes, mc_fault_decide_stream: on a socket whose
 * request keys arrive with its bytes, the stream rules decide after them, the others
 * before. */
static bool decide_fd_stage(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                            const struct mc_fd_info *fdi, uint64_t size, bool after_bytes)
{
	const struct mc_runtime *rt = runtime_for(h, &f->epoch);
	const struct mc_ruleset *rs = rt->rs;
	uint32_t needs = mc_engine_hook_needs(rs, h);
	bool socket = mc_fd_is_socket(fdi);
	bool staged = socket && (needs & MC_NEEDS_STREAM) && rt->req->mode == MC_REQ_HEADER;
	if (after_bytes && !staged) {
		f->d.action = MC_ACTION_NONE;
		return false;
	}
	express_settle(h); /* the engine sees the rules' counts and gaps as they are */
	struct mc_call call = { .hook = h,
		                .size = size,
		                .not_socket = !socket,
		                .caller = ask_caller,
		                .caller_arg = f };
	if (staged)
		call.stage = after_bytes ? MC_STAGE_AFTER_BYTES : MC_STAGE_BEFORE_BYTES;
	struct mc_rulemask mask;
	if ((needs & MC_NEEDS_PATH) && fdi->kind == MC_FD_FILE && fdi->path_id)
		call.path_rules = path_rules(rt, fdi->path_id, &mask);
	if (fdi->kind == MC_FD_TCP) {
		call.local_port = fdi->local_port;
		call.peer_port = fdi->peer_port;
	}
	if (needs & MC_NEEDS_TENSORS)
		call.no_tensors = fdi->kind != MC_FD_FILE || mc_tmap_nothing_to_damage(fd);
	struct mc_reqkey conn_key;
	const struct mc_reqkey *key = NULL;
	if ((needs & MC_NEEDS_KEY) && socket) { /* its connection's, else the thread's */
		mc_request_current(rt->req, fd, &conn_key);
		key = &conn_key;
	} else if (needs & MC_NEEDS_KEY) {
		key = mc_request_thread_key(rt->req);
		call.ambiguous = mc_request_thread_ambiguous();
	}
	if (!decide(rt, f, &call, key))
		return not_acted(&call, fn);
	if (!acted(rt, f, &call))
		return false;
	fault_fill(f, rt, &call, fn, fd, size);
	f->fdi = *fdi;
	return true;
}

bool mc_fault_decide_fd(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                        const struct mc_fd_info *fdi, uint64_t size)
{
	return decide_fd_stage(f, h, fn, fd, fdi, size, false);
}

void mc_fault_decide_stream(struct mc_fault *f, enum mc_fn fn, int fd, const struct mc_fd_info *fdi,
                            uint64_t asked)
{
	f->d.action = MC_ACTION_NONE;
	if (asked == 0 || !mc_fault_has(MC_HOOK_READ) ||
	    !decide_fd_stage(f, MC_HOOK_READ, fn, fd, fdi, asked, true))
		return;
	mc_fault_apply_before(f, NULL, MC_OFF_UNKNOWN); /* shadow: recorded; else the offset */
}

/* Family h's memo, for the calls on the connection whose entry word is `word` while it
 * carries the request whose key rule r does not select (settled before: fault.h). Every
 * size but 0, which the engine's own hint would not cover. */
static void foresee(enum mc_hook h, const struct mc_erule *r, uint64_t word)
{
	struct mc_express_memo *m = &mc_express_memo[h];
	m->word = mc_request_memo_word(h, word);
	m->lo = 1;
	m->span = UINT64_MAX - 1;
	m->express = MC_EXPRESS_RULE + r->id;
	m->foreseen = true;
	m->generation = self.generation;
	atomic_store_explicit(&m->taken, MC_EXPRESS_CALLS, memory_order_relaxed);
	atomic_signal_fence(memory_order_release); /* the memo whole before it opens */
	atomic_store_explicit(&m->left, MC_EXPRESS_CALLS, memory_order_relaxed);
}

/* True when family h's memo is rule r's, of an earlier request, on snapshot rt, and has
 * calls left: it may go on for the next request with that request's word, the calls it
 * passed counted when it settles, as a plain memo's are (at the latest when its
 * MC_EXPRESS_CALLS are used). The thread's counts are of rt then too: a memo is opened for
 * the thread's snapshot, and rt is the newest. */
static inline bool goes_on(enum mc_hook h, const struct mc_erule *r, const struct mc_runtime *rt)
{
	const struct mc_express_memo *m = &mc_express_memo[h];
	return m->foreseen && m->generation == rt->generation &&
	       m->express == (uint32_t)MC_EXPRESS_RULE + r->id &&
	       atomic_load_explicit(&m->left, memory_order_relaxed) != 0;
}

/* Family h's memo for the next request: rule r's memo goes on with its word (on, from
 * goes_on), or a new one is opened. */
static inline void foresee_next(enum mc_hook h, const struct mc_erule *r, uint64_t word, bool on)
{
	if (on) /* one store: a signal handler's call in between sees the old word or the new */
		mc_express_memo[h].word = mc_request_memo_word(h, word);
	else
		foresee(h, r, word);
}

void mc_fault_foresee(uint64_t word, const struct mc_reqkey *key)
{
	uint32_t epoch;
	if (!word || mc_trace_enabled || mc_rec_halted())
		return; /* trace counts every call; a halt decides none */
	const struct mc_runtime *rt = runtime_for(MC_HOOK_READ, &epoch);
	const struct mc_erule *r = rt->foresee_read;
	/* sends on a connection with a request in flight are looked at for the response's
	 * end: no memo may let them pass unseen */
	const struct mc_erule *s = mc_request_tracks_responses() ? NULL : rt->foresee_send;
	if (!r && !s)
		return;
	/* the memos these replace are counted with the thread's counts they were kept from;
	 * those that go on, later */
	bool read_on = r && goes_on(MC_HOOK_READ, r, rt);
	bool send_on = s && goes_on(MC_HOOK_SEND, s, rt);
	if (r && !read_on)
		express_settle(MC_HOOK_READ);
	if (s && !send_on)
		express_settle(MC_HOOK_SEND);
	(void)this_thread(rt); /* the thread's counts are this snapshot's (self.generation) */
	if (r && !mc_selector_selects(r, key->bytes, key->len))
		foresee_next(MC_HOOK_READ, r, word, read_on);
	if (s && !mc_selector_selects(s, key->bytes, key->len))
		foresee_next(MC_HOOK_SEND, s, word, send_on);
}

bool mc_fault_decide_anon(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint64_t size)
{
	return mc_fault_decide_live(f, h, fn, size,
	                            mc_armed(MC_ARM_HEAP) ? mc_heap_live_bytes() : 0);
}

bool mc_fault_decide_live(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint64_t size,
                          uint64_t live)
{
	express_settle(h);
	const struct mc_runtime *rt = runtime_for(h, &f->epoch);
	const struct mc_ruleset *rs = rt->rs;
	struct mc_call call = { .hook = h,
		                .size = size,
		                .heap_live_bytes = live == MC_LIVE_UNBUDGETED ? 0 : live,
		                .unbudgeted = live == MC_LIVE_UNBUDGETED,
		                .caller = ask_caller,
		                .caller_arg = f };
	const struct mc_reqkey *key = NULL;
	if (mc_engine_hook_needs(rs, h) & MC_NEEDS_KEY) {
		key = mc_request_thread_key(rt->req);
		call.ambiguous = mc_request_thread_ambiguous();
	}
	if (!decide(rt, f, &call, key))
		return not_acted(&call, fn);
	if (!acted(rt, f, &call))
		return false;
	fault_fill(f, rt, &call, fn, -1, size);
	memset(&f->fdi, 0, sizeof(f->fdi));
	return true;
}

bool mc_fault_decide_path(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, uint32_t path_id)
{
	express_settle(h);
	const struct mc_runtime *rt = runtime_for(h, &f->epoch);
	struct mc_call call = { .hook = h, .caller = ask_caller, .caller_arg = f };
	struct mc_rulemask mask;
	if (path_id)
		call.path_rules = path_rules(rt, path_id, &mask);
	const struct mc_reqkey *key = mc_request_thread_key(rt->req);
	call.ambiguous = mc_request_thread_ambiguous();
	if (!decide(rt, f, &call, key))
		return not_acted(&call, fn);
	if (!acted(rt, f, &call))
		return false;
	fault_fill(f, rt, &call, fn, -1, 0);
	memset(&f->fdi, 0, sizeof(f->fdi));
	f->fdi.kind = MC_FD_FILE;
	f->fdi.path_id = path_id;
	return true;
}

static void kill_like_the_oom_killer(void)
{
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

/* Logs a fault; one of a rule set that a reload has since replaced is
 * logged but not counted, so the new rules' counters are theirs alone. */
static void log_fault(const struct mc_fault *f, struct mc_rec_detail *d)
{
	/* counted while the reload waits for it (counted_settle), or stale: never counted on the
	 * new rules once their counters started anew */
	atomic_fetch_add_explicit(&process.counting, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	d->stale = replaced(f);
	mc_rec_fault(f, d);
	atomic_fetch_sub_explicit(&process.counting, 1, memory_order_release);
	uint64_t max = mc_engine_max_faults(f->rt->rs);
	if (d->applied && !d->stale && max != MC_UNLIMITED &&
	    atomic_load_explicit(&process.state->faults, memory_order_relaxed) >= max)
		mc_rec_budget_spent(max); /* stats and the log show why nothing more comes */
}

static void record(const struct mc_fault *f, bool applied, const char *note)
{
	struct mc_rec_detail d = { .applied = applied, .note = note };
	log_fault(f, &d);
}

/* Opens the application of a decision: false when a halt came in since
 * the decision, or a reload replaced the rule set that made it; the fault
 * is then logged as not applied and dropped. */
static bool begin(struct mc_fault *f)
{
	if (!mc_rec_apply_begin()) {
		record(f, false, "halted");
		return false;
	}
	if (replaced(f)) {
		mc_rec_apply_end();
		record(f, false, "rule set reloaded");
		return false;
	}
	return true;
}

static void delay(struct mc_fault *f)
{
	if (f->d.times_own > 0) { /* scale = N: slept after the call (mc_fault_after_own) */
		mc_rec_apply_end();
		return;
	}
	struct mc_rec_detail d = { .applied = true, .delay_asked_ns = f->d.delay_ns };
	d.delay_slept_ns = mc_delay_ns(f->d.delay_ns);
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

static void fail(struct mc_fault *f)
{
	struct mc_rec_detail d = { .applied = true, .err = f->d.err };
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
	if (f->d.kill)
		kill_like_the_oom_killer();
	errno = f->d.err;
}

static void cut(struct mc_fault *f, uint64_t *n)
{
	struct mc_rec_detail d = { .applied = true, .asked = n ? *n : 0 };
	if (n)
		*n = mc_engine_short_len(&f->d, *n);
	d.allowed = n ? *n : 0;
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

/* The window's end of the rule that decided f, on the CLOCK_MONOTONIC of mc_now_ns(), or
 * UINT64_MAX for a rule without one. */
static uint64_t window_end_ns(const struct mc_fault *f)
{
	const struct mc_erule *r = f->d.rule;
	if (r->duration_ns == MC_UNLIMITED || r->start_ns > UINT64_MAX - r->duration_ns)
		return UINT64_MAX;
	return process.started_ns + r->start_ns + r->duration_ns;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* signal, hang, leak, burn, hog: inside the halt bracket, logged when done (a signal before it
 * is raised: a killed process leaves its line). */
static void act_on_process(struct mc_fault *f)
{
	struct mc_rec_detail d = { .applied = true };
	switch (f->d.action) {
	case MC_ACTION_SIGNAL:
		d.signo = f->d.signo;
		log_fault(f, &d);
		mc_rec_apply_end();
		mc_kind_raise(f->d.signo);
		return;
	case MC_ACTION_HANG: {
		/* until the window ends or delay elapses, whichever is first; a halt ends it */
		uint64_t deadline = window_end_ns(f);
		if (f->d.delay_ns && add_sat(mc_now_ns(), f->d.delay_ns) < deadline)
			deadline = add_sat(mc_now_ns(), f->d.delay_ns);
		d.delay_asked_ns = f->d.delay_ns;
		d.released = mc_kind_hang(deadline, &d.delay_slept_ns);
		break;
	}
	case MC_ACTION_LEAK:
		d.bytes = f->d.bytes;
		if (mc_kind_leak(f->d.bytes, &d.leaked_bytes) < 0) {
			d.applied = false;
			d.note = "no memory to leak";
		}
		break;
	case MC_ACTION_HOG: {
		/* the memory is held by the library's thread, from now to the window's end */
		int r = mc_kind_hog(f->d.rule->id, f->d.bytes, f->d.rule->hog_rate_bps,
		                    window_end_ns(f));
		d.bytes = f->d.bytes;
		if (r == -EALREADY) { /* its memory is held already: this call did nothing */
			mc_engine_unclaim(f->rt->rs, f->d.rule, process.state);
			mc_rec_apply_end();
			return;
		}
		if (r < 0) {
			d.applied = false;
			d.note = "no thread to hold the memory";
		}
		break;
	}
	default: /* burn */
		d.delay_asked_ns = f->d.delay_ns;
		d.delay_slept_ns = mc_burn_ns(f->d.delay_ns);
		break;
	}
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

static bool on_process(enum mc_action a)
{
	return a == MC_ACTION_SIGNAL || a == MC_ACTION_HANG || a == MC_ACTION_LEAK ||
	       a == MC_ACTION_BURN || a == MC_ACTION_HOG;
}

bool mc_fault_before(struct mc_fault *f, uint64_t *n)
{
	if (f->d.shadow) {
		record(f, false, NULL); /* would_inject: counted and logged, not applied */
		return true;
	}
	enum mc_action a = f->d.action;
	if (a != MC_ACTION_DELAY && a != MC_ACTION_FAIL && a != MC_ACTION_SHORT && !on_process(a))
		return true; /* corrupt and redirect apply later */
	if (!begin(f)) {
		f->d.action = MC_ACTION_NONE;
		return true;
	}
	if (on_process(a))
		act_on_process(f);
	else if (a == MC_ACTION_DELAY)
		delay(f);
	else if (a == MC_ACTION_SHORT)
		cut(f, n);
	else {
		fail(f);
		return false;
	}
	return true;
}

void mc_fault_after_own(struct mc_fault *f, uint64_t started_ns)
{
	if (f->d.action != MC_ACTION_DELAY || f->d.shadow || f->d.times_own <= 0)
		return;
	int saved = errno;
	double own = (double)(mc_now_ns() - started_ns);
	if (!begin(f)) {
		errno = saved;
		return;
	}
	struct mc_rec_detail d = { .applied = true };
	double more = own * (f->d.times_own - 1);
	d.delay_asked_ns = more < 1.8e19 ? (uint64_t)more : UINT64_MAX;
	d.delay_slept_ns = mc_delay_ns(d.delay_asked_ns);
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
	errno = saved;
}

bool mc_fault_redirect(struct mc_fault *f)
{
	if (f->d.action != MC_ACTION_REDIRECT || f->d.shadow || !f->d.to)
		return false;
	if (!begin(f))
		return false;
	struct mc_rec_detail d = { .applied = true, .to = f->d.to };
	log_fault(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
	return true;
}

static void no_effect(struct mc_fault *f, struct mc_rec_detail *d);

bool mc_fault_apply_open(struct mc_fault *f)
{
	return begin(f);
}

void mc_fault_apply_close(struct mc_fault *f, struct mc_rec_detail *d)
{
	if (d->applied)
		log_fault(f, d);
	else
		no_effect(f, d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

void mc_fault_throttle(struct mc_fault *f, uint64_t bytes)
{
	if (f->d.action != MC_ACTION_THROTTLE || f->d.shadow || !process.state)
		return;
	int e = errno;
	if (begin(f)) {
		uint64_t now = mc_now_ns();
		uint64_t until = mc_engine_throttle(f->d.rule, process.state, bytes, now);
		struct mc_rec_detail d = { .applied = true, .bytes = bytes };
		d.delay_asked_ns = until > now ? until - now : 0;
		d.delay_slept_ns = mc_delay_ns(d.delay_asked_ns);
		log_fault(f, &d);
		mc_rec_apply_end(); /* after the record: halt waits for it */
	}
	errno = e;
}

void mc_fault_not_applied(struct mc_fault *f, const char *why)
{
	if (!f->d.shadow) /* a shadow decision was recorded as would_inject already */
		record(f, false, why);
}

void mc_fault_note_offset(struct mc_fault *f, int64_t explicit_off)
{
	if (f->d.action != MC_ACTION_CORRUPT)
		return;
	if (f->fdi.kind != MC_FD_FILE) {
		/* A socket or pipe has no file offset: damage is placed relative to
		 * each read's own buffer, the same for the same read every run. */
		f->file_offset = 0;
		f->have_offset = true;
		return;
	}
	int64_t off = explicit_off;
	if (off == MC_OFF_UNKNOWN)
		return;
	if (off < 0) {
		int saved = errno;
		off = lseek(f->fd, 0, SEEK_CUR);
		errno = saved;
	}
	if (off >= 0) {
		f->file_offset = (uint64_t)off;
		f->have_offset = true;
	}
}

bool mc_fault_apply_before(struct mc_fault *f, uint64_t *n, int64_t explicit_off)
{
	if (!mc_fault_before(f, n))
		return false;
	if (n && f->d.rule && f->d.rule->hook == MC_HOOK_READ)
		mc_truncate_read(f, n, explicit_off);
	mc_fault_note_offset(f, explicit_off);
	return true;
}

bool mc_fault_fd_gate(struct mc_fault *f, enum mc_hook h, enum mc_fn fn, int fd,
                      const struct mc_fd_info *fdi, uint64_t *n, int64_t explicit_off)
{
	if (!mc_fault_fd_quick(f, h, fn, fd, fdi, n ? *n : 1))
		return true;
	return mc_fault_apply_before(f, n, explicit_off);
}

/* The identity damage is keyed on: the canonical path of the open file, so
 * that a symbolic link and its target, or two spellings of one path, see
 * the same bits damaged; the path as opened when /proc cannot say. Asked
 * once per corrupted call, not cached: a link may be re-pointed. */
static uint64_t file_id(const struct mc_fault *f)
{
	char buf[4096];
	if (f->fdi.kind != MC_FD_FILE)
		return 0; /* streams: see mc_fault_note_offset */
	if (f->fd >= 0 && mc_fd_real_path(f->fd, buf, sizeof(buf)) > 0)
		return mc_engine_file_id(buf);
	const char *p = mc_path_of(f->fdi.path_id);
	return p ? mc_engine_file_id(p) : 0;
}

static void corrupt_tensors(struct mc_fault *f, const struct iovec *iov, int cnt, size_t len);

/* A corrupt decision that changed no byte is no fault: it is not applied, gives back what it
 * took of `times` and max_faults (the rule's next selected call may act instead), and is
 * counted and logged as what it is, no_effect, with why (d->note, or the default). */
static void no_effect(struct mc_fault *f, struct mc_rec_detail *d)
{
	d->applied = false;
	d->no_effect = true;
	if (!d->note)
		d->note = d->bytes ? "no damage position in the bytes read: nothing damaged"
		                   : "nothing arrived: nothing damaged";
	if (!replaced(f))
		mc_engine_unclaim(f->rt->rs, f->d.rule, process.state);
	log_fault(f, d);
}

/* Logs a corrupt decision as applied when it changed something, else as no_effect. */
static void corrupt_done(struct mc_fault *f, struct mc_rec_detail *d)
{
	if (d->changed)
		log_fault(f, d);
	else
		no_effect(f, d);
}

/* The positions of a corrupt rule (not region = tensors) in the len bytes of iov that
 * arrived: those of the file's pages, or for a stream those of the read's own bytes
 * (mc_engine_corrupt_stream). Returns how many changed. */
static size_t corrupt_bytes(const struct mc_fault *f, const struct iovec *iov, int cnt, size_t len)
{
	bool stream = f->fdi.kind != MC_FD_FILE;
	uint64_t id = stream ? 0 : file_id(f), off = f->file_offset;
	size_t changed = 0, total = len;
	for (int i = 0; i < cnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
		changed +=
		    stream ? mc_engine_corrupt_stream(f->d.rule, f->d.nonce, off, iov[i].iov_base,
		                                      n, total)
		           : mc_engine_corrupt(f->d.rule, id, f->d.nonce, off, iov[i].iov_base, n);
		off += n;
		len -= n;
	}
	return changed;
}

void mc_fault_corrupt(struct mc_fault *f, void *buf, size_t len)
{
	struct iovec one = { .iov_base = buf, .iov_len = len };
	mc_fault_corrupt_iov(f, &one, 1, len);
}

/* Why a JSON body was left alone, by enum mc_json_status. */
static const char *const json_notes[] = {
	[MC_JSON_NO_BODY] = "no JSON body in the bytes: nothing changed",
	[MC_JSON_PARTIAL] = "the JSON body goes on past these bytes (larger than one read or "
	                    "send, or its head cut): left alone",
	[MC_JSON_CHUNKED] = "chunked transfer encoding: left alone",
	[MC_JSON_MALFORMED] = "not JSON, or nested deeper than 32: left alone",
};

void mc_fault_corrupt_json(struct mc_fault *f, char *buf, size_t len)
{
	if (f->d.action != MC_ACTION_CORRUPT || f->d.shadow || !begin(f))
		return;
	struct mc_json_report rep;
	enum mc_json_status st = mc_json_damage(f->d.rule, f->d.draw, buf, len, &rep);
	struct mc_rec_detail d = { .applied = true, .bytes = len, .json = true };
	d.offset = rep.body;
	d.changed = rep.changed;
	d.numbers = rep.numbers;
	d.matched = rep.matched;
	d.unwritable = rep.unwritable;
	if (st != MC_JSON_DONE)
		d.note = json_notes[st];
	else if (!rep.changed)
		d.note = rep.matched ? "no picked number could be written in its width"
		                     : "no number at json_path in the body";
	corrupt_done(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

void mc_fault_corrupt_iov(struct mc_fault *f, const struct iovec *iov, int cnt, size_t len)
{
	if (f->d.action != MC_ACTION_CORRUPT || f->d.shadow)
		return;
	if (f->d.rule->region == MC_REGION_JSON) {
		/* a read's bytes, in place: the first buffer holds them (a flat read) */
		mc_fault_corrupt_json(f, iov[0].iov_base,
		                      cnt > 0 && iov[0].iov_len < len ? iov[0].iov_len : len);
		return;
	}
	if (f->skip_note) {
		struct mc_rec_detail d = { .note = f->skip_note };
		no_effect(f, &d);
		return;
	}
	if (f->d.rule->region == MC_REGION_TENSORS) {
		corrupt_tensors(f, iov, cnt, len);
		return;
	}
	if (!begin(f))
		return;
	struct mc_rec_detail d = { .applied = true, .offset = f->file_offset, .bytes = len };
	if (f->have_offset)
		d.changed = corrupt_bytes(f, iov, cnt, len);
	else
		d.note = "file offset unknown: nothing damaged";
	corrupt_done(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
}

/* ---- region = tensors ----------------------------------------------------------- */

void mc_fault_file_opened(int fd, uint32_t path_id)
{
	const struct mc_runtime *rt = mc_runtime_take();
	if (fd < 0 || !rt || !rt->tensor_rules)
		return;
	struct mc_rulemask mask;
	const struct mc_rulemask *paths = path_id ? path_rules(rt, path_id, &mask) : NULL;
	if (mc_engine_tensor_target(rt->rs, paths))
		mc_tmap_opened(fd);
}

/* The file is not one whose tensors can be damaged: no fault (its claim on `times` goes
 * back); said once per file (malformed) or once per process (no room left), as a no_effect
 * line, else silently nothing, as for a file the path glob misses. */
static void tensors_untouched(struct mc_fault *f, const struct mc_tmap_use *use)
{
	if (!use->note) {
		if (!replaced(f))
			mc_engine_unclaim(f->rt->rs, f->d.rule, process.state);
		return;
	}
	if (!begin(f))
		return;
	struct mc_rec_detail d = { .offset = f->file_offset,
		                   .note = use->note,
		                   .format = use->format ? use->format : "none" };
	no_effect(f, &d);
	mc_rec_apply_end();
}

/* The file's own bytes, for mode = noise on a value cut by the buffer's edge: read with the
 * real pread, so that no rule decides on it and the file offset stays where it was. */
static int64_t file_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	return mc_real.pread((int)(intptr_t)ctx, buf, len, (off_t)off);
}

/* Corruption with region = tensors: the bytes that arrived (iov, len in all), starting at
 * f->file_offset, are damaged only inside the tensors of the file's map. */
static void corrupt_tensors(struct mc_fault *f, const struct iovec *iov, int cnt, size_t len)
{
	struct mc_tmap_use use = { .format = NULL };
	int saved = errno;
	enum mc_tmap_status st =
	    f->fdi.kind == MC_FD_FILE ? mc_tmap_for(f->fd, f->d.rule, &use) : MC_TMAP_NONE;
	if (st != MC_TMAP_READY) {
		tensors_untouched(f, &use);
		errno = saved;
		return;
	}
	if (!begin(f)) {
		errno = saved;
		return;
	}
	struct mc_corrupt_report rep;
	rep.changed = 0;
	rep.n = 0;
	use.view.read_at = file_read_at;
	use.view.read_ctx = (void *)(intptr_t)f->fd;
	struct mc_rec_detail d = { .applied = true,
		                   .offset = f->file_offset,
		                   .bytes = len,
		                   .format = use.format,
		                   .report = &rep,
		                   .map = use.view.map };
	if (f->have_offset) {
		uint64_t id = file_id(f), off = f->file_offset;
		for (int i = 0; i < cnt && len > 0; i++) {
			size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
			mc_engine_corrupt_tensors(f->d.rule, &use.view, id, f->d.nonce, off,
			                          iov[i].iov_base, n, &rep);
			off += n;
			len -= n;
		}
	} else {
		d.note = "file offset unknown: nothing damaged";
	}
	d.changed = rep.changed;
	if (!d.changed && !d.note)
		d.note = "no value of a selected tensor in the bytes read: nothing damaged";
	corrupt_done(f, &d);
	mc_rec_apply_end(); /* after the record: halt waits for it */
	errno = saved;
}

/* ---- init -------------------------------------------------------------------- */

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	mc_say(msg);
}

static enum mc_reqkey_mode reqkey_mode(const struct mc_config *cfg)
{
	switch (cfg->request_key) {
	case MC_KEY_HEADER:
		return MC_REQ_HEADER;
	case MC_KEY_CONNECTION:
		return MC_REQ_CONNECTION;
	case MC_KEY_THREAD:
		return MC_REQ_THREAD;
	default:
		return MC_REQ_NONE;
	}
}

static const char *base_name(const char *p)
{
	const char *slash = p ? strrchr(p, '/') : NULL;
	return slash ? slash + 1 : p;
}

/* In the parent, before each fork: the child's start order, 1, 2, ... in the order this
 * process forks (a fork that fails uses its number up). */
static void before_fork(void)
{
	self.fork_ticket = atomic_fetch_add_explicit(&process.forks, 1, memory_order_relaxed) + 1;
}

/* after = N and times = N count per process: a forked child starts anew.
 * Runs inside the host's fork(), unguarded: the guard keeps the child's new
 * log and segment from the rules, and the host gets fork's errno back. */
static void child_after_fork(void)
{
	int saved_errno = errno;
	mc_guard_enter();
	process.start_order = self.fork_ticket; /* the child's siblings are its parent's children */
	atomic_store(&process.forks, 0);
	atomic_store(&process.process_off[0], 0);
	mc_kind_after_fork();
	struct mc_engine_state *mine = mc_rec_child_after_fork();
	mc_request_child_after_fork();
	mc_runtime_child_after_fork();
	if (mine)
		process.state = mine;
	if (process.state)
		mc_engine_state_reset(process.state);
	if (self.generation) /* the child's counts start at zero; its draws go on */
		for (unsigned i = 0; i < MC_MAX_RULES; i++)
			self.engine.rule[i].calls = self.engine.rule[i].counted = 0;
	mc_heap_after_fork();
	mc_guard_leave();
	errno = saved_errno;
}

/* $MLCHAOS_START_ORDER: the start order of a process not forked by a process with the
 * library (a launcher that numbers its workers may set it); digits only, else 0. */
static uint64_t start_order_from_env(void)
{
	const char *v = getenv("MLCHAOS_START_ORDER");
	uint64_t order = 0;
	if (!v || !*v)
		return 0;
	for (; *v >= '0' && *v <= '9'; v++)
		order = order * 10 + (uint64_t)(*v - '0');
	return *v ? 0 : order;
}

static void refuse_to_start(const char *path)
{
	char msg[512];
	struct mc_buf b;
	mc_buf_init(&b, msg, sizeof(msg));
	mc_buf_puts(&b, path);
	mc_buf_puts(&b, ": invalid config and on_error = abort: not starting (exit 78)");
	mc_say(msg);
	mc_real._exit(78);
}

uint32_t mc_fault_init(uint64_t start_ns)
{
	const char *path = getenv("MLCHAOS_CONFIG");
	if (!path || !path[0])
		return 0;
	process.started_ns = start_ns;
	process.start_order = start_order_from_env();
	struct mc_config *cfg = NULL;
	enum mc_on_error on_error = MC_ON_ERROR_PASSTHROUGH;
	int r = mc_cfg_parse_file_policy(path, print_diag, NULL, &cfg, &on_error);
	if (r < 0) {
		if (on_error == MC_ON_ERROR_ABORT)
			refuse_to_start(path);
		mc_say("the config is not valid: running without faults (on_error = passthrough)");
		return 0;
	}
	if (!cfg->enabled) {
		mc_cfg_free(cfg);
		return 0;
	}
	struct mc_proc proc = { .comm = program_invocation_short_name,
		                .argv0 = base_name(program_invocation_name) };
	struct mc_ruleset *rs = NULL;
	if (mc_engine_build(cfg, &proc, &rs) < 0) {
		mc_say("cannot build the rule set (out of memory): running without faults");
		mc_cfg_free(cfg);
		return 0;
	}
	uint32_t hooks = mc_engine_armed_hooks(rs);
	struct mc_runtime *rt = hooks ? runtime_new(cfg, rs) : NULL;
	struct mc_engine_state *st = rt ? mc_rec_init(cfg, rs, path) : NULL;
	if (!st) { /* no rule for this process, or no memory for counters */
		free(rt);
		mc_engine_free(rs);
		mc_cfg_free(cfg);
		return 0;
	}
	bool watchdog = cfg->halt_on_error_rate_ppm != 0;
	mc_cfg_free(cfg);
	mc_runtime_init();
	publish(rt);
	atomic_store(&mc_express_epoch, 1); /* memos may hold from now on */
	process.state = st;
	atomic_store(&mc_fault_hooks, hooks);
	pthread_atfork(before_fork, NULL, child_after_fork);
	uint32_t armed = hooks | mc_heap_arm_for(rs);
	/* The fd table names files and sockets for targeting: keep it; and
	 * request keys arrive through reads on sockets: see them. */
	armed |= MC_HOOK_BIT(MC_HOOK_OPEN);
	if (mc_request_wants_reads())
		armed |= MC_HOOK_BIT(MC_HOOK_READ);
	if (watchdog) /* the watchdog reads the responses the process sends */
		armed |= MC_HOOK_BIT(MC_HOOK_SEND);
	if (follows_responses(rs)) { /* a request's key ends with its response */
		mc_request_track_responses();
		armed |= MC_HOOK_BIT(MC_HOOK_SEND);
	}
	return armed;
}
