/* eventlog.c: the event log (eventlog.h, record.h). Every path that runs inside a hook is
 * allocation-free, lock-free and async-signal-safe: lines are built in a stack buffer and
 * written whole with one write(2) on an O_APPEND file, so lines never interleave; SIGKILL
 * can still stop that write between two pages and leave the last line torn, which every
 * reader skips. A full disk or a vanished directory drops lines (counted in the segment),
 * never harms the host. Init, reload and fork may allocate (guard held). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "delay.h"
#include "eventlog.h"
#include "fault.h"
#include "fmt.h"
#include "formats/tensors.h"
#include "real.h"
#include "record.h"
#include "reqkey.h"
#include "request.h"
#include "safefile.h"
#include "target.h"

#define LINE_MAX_BYTES    4096u
#define TENSOR_LINE_BYTES 12288u /* a corrupt line of region = tensors, with its changes */
#define TENSOR_NAME_SHOWN 128u   /* bytes of a tensor's name in a change entry */
#define TARGET_MAX_BYTES  2048u

/* The log: its path as configured (%p for the pid), the file open for appending (-1: none),
 * and this process's pid, cached (see my_pid()). */
static struct {
	char template[1024];
	int fd;
	_Atomic int pid;
	/* the rules line (rules_line_build()): RULES_PREFIX_ROOM bytes, then the body, then room
	 * for '\n'; generation 0 at start, then one more per reload */
	struct {
		char *map;
		size_t map_bytes, body_len;
		uint64_t generation;
	} rules;
} event_log = { .fd = -1 };
static __thread int cached_tid __attribute__((tls_model("initial-exec")));

static void rules_line_build(const struct mc_config *cfg, const struct mc_ruleset *rs,
                             const char *config_path);
static void rules_line_write(void);

/* ---- the log --------------------------------------------------------------------- */

/* The log path with %p (pid) and %% expanded. */
static bool expand_log_path(char *out, size_t cap, int pid)
{
	struct mc_buf b;
	mc_buf_init(&b, out, cap);
	for (const char *c = event_log.template; *c; c++) {
		if (c[0] == '%' && c[1] == 'p') {
			mc_buf_u64(&b, (uint64_t)pid);
			c++;
		} else if (c[0] == '%' && c[1] == '%') {
			mc_buf_putc(&b, '%');
			c++;
		} else {
			mc_buf_putc(&b, *c);
		}
	}
	return !b.truncated;
}

static MC_COLD void say_no_log(const char *path, const struct mc_safefile_refusal *no)
{
	char msg[1024];
	mc_safefile_message(no, path, "log",
	                    "no log is written; faults are still injected and counted (mlchaos "
	                    "stats), their lines as dropped",
	                    msg, sizeof(msg));
	mc_say(msg);
}

/* The log's path is configured, and often in a world-writable directory under a name anyone
 * can predict (/var/tmp/chaos-%p.jsonl): whatever was planted there (a FIFO, whose open would
 * block the host for ever; a device; another user's file, who would read the request keys;
 * a file others may write) is refused by mc_safefile_open, and the host runs on without a
 * log: faults are still injected and counted, their lines counted as dropped. */
static void open_log(int pid, bool complain)
{
	char path[1100];
	if (!event_log.template[0] || !expand_log_path(path, sizeof(path), pid))
		return;
	const struct mc_safefile_calls calls = { mc_real.open, mc_real.fcntl, mc_real.close };
	struct mc_safefile_refusal no;
	int saved = errno; /* in a forked child, the host's fork() is still returning */
	event_log.fd = mc_safefile_open(&calls, path, O_APPEND, 0600, &no);
	if (event_log.fd < 0 && complain)
		say_no_log(path, &no);
	errno = saved;
}

/* ---- set up, reload and fork ------------------------------------------------------ */

void mc_log_init(const struct mc_config *cfg, const struct mc_ruleset *rs, const char *config_path)
{
	mc_copy_str(event_log.template, sizeof(event_log.template), cfg->log);
	open_log(getpid(), true);
	rules_line_build(cfg, rs, config_path);
	rules_line_write();
}

void mc_log_rules_changed(const struct mc_config *cfg, const struct mc_ruleset *rs,
                          const char *config_path)
{
	rules_line_build(cfg, rs, config_path);
	rules_line_write();
}

void mc_log_after_fork(void)
{
	atomic_store(&event_log.pid, 0);
	cached_tid = 0;                         /* the forking thread is the child's only thread */
	if (strstr(event_log.template, "%p")) { /* a log of its own */
		/* Said when the child loses a log its parent had; when the parent had none, the
		 * user was told already, and a prefork server's workers would each say it again. */
		bool parent_had_log = event_log.fd >= 0;
		if (event_log.fd >= 0)
			mc_real.close(event_log.fd);
		event_log.fd = -1;
		open_log(getpid(), parent_had_log);
	}
	rules_line_write(); /* the child's lines need its own: the log alone describes them */
}

/* ---- event lines ------------------------------------------------------------------ */

/* RFC 3339 UTC with microseconds, from the civil-from-days algorithm:
 * gmtime_r is not on the async-signal-safe list. */
static void put_rfc3339(struct mc_buf *b, uint64_t unix_nanos)
{
	uint64_t secs = unix_nanos / 1000000000ull;
	uint64_t micros = unix_nanos % 1000000000ull / 1000;
	int64_t days = (int64_t)(secs / 86400);
	uint64_t sod = secs % 86400;
	int64_t z = days + 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);
	const uint64_t parts[] = { (uint64_t)month, (uint64_t)day, sod / 3600, sod / 60 % 60,
		                   sod % 60 };
	static const char seps[] = { '-', '-', 'T', ':', ':' };
	mc_buf_u64(b, (uint64_t)year);
	for (int i = 0; i < 5; i++) {
		mc_buf_putc(b, seps[i]);
		if (parts[i] < 10)
			mc_buf_putc(b, '0');
		mc_buf_u64(b, parts[i]);
	}
	mc_buf_putc(b, '.');
	char digits[6];
	for (int i = 5; i >= 0; i--) {
		digits[i] = (char)('0' + micros % 10);
		micros /= 10;
	}
	mc_buf_putn(b, digits, 6);
	mc_buf_putc(b, 'Z');
}

/* ,"name": */
static void put_key(struct mc_buf *b, const char *name)
{
	mc_buf_puts(b, ",\"");
	mc_buf_puts(b, name);
	mc_buf_puts(b, "\":");
}

static void put_field_str(struct mc_buf *b, const char *name, const char *value)
{
	put_key(b, name);
	mc_buf_putc(b, '"');
	mc_buf_json_str(b, value, strlen(value));
	mc_buf_putc(b, '"');
}

/* "name":"0123456789abcdef": 16 hex digits, as a string (JSON numbers lose 64-bit values). */
static void put_field_hex(struct mc_buf *b, const char *name, uint64_t value)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	for (int i = 15; i >= 0; i--, value >>= 4)
		digits[i] = hex[value & 15];
	put_key(b, name);
	mc_buf_putc(b, '"');
	mc_buf_putn(b, digits, sizeof(digits));
	mc_buf_putc(b, '"');
}

static void put_field_u64(struct mc_buf *b, const char *name, uint64_t value)
{
	put_key(b, name);
	mc_buf_u64(b, value);
}

static const char *phase_name(enum mc_phase phase)
{
	return phase == MC_PHASE_SERVE ? "serve" : "load";
}

static void put_target_of(struct mc_buf *b, const struct mc_fault *f)
{
	char tbuf[TARGET_MAX_BYTES];
	struct mc_buf t;
	mc_buf_init(&t, tbuf, sizeof(tbuf));
	if (f->fdi.kind == MC_FD_UNKNOWN && f->fd < 0) {
		mc_buf_puts(&t, "anon");
	} else {
		enum mc_target_kind kind;
		uint32_t value;
		mc_target_of_fd(&f->fdi, &kind, &value);
		mc_target_put(&t, kind, value, true);
	}
	mc_buf_puts(b, ",\"target\":\"");
	mc_buf_putn(b, t.p, t.len); /* already escaped */
	mc_buf_putc(b, '"');
}

/* ---- region = tensors: what changed, value by value ---------------------------- */

/* The bits of a changed element, most significant first, "??" for a byte the buffer did not
 * hold (the element was cut by its edge): "0x7fc00000", "0x3f80????". */
static void put_bits(struct mc_buf *b, const char *name, uint64_t v, unsigned width, unsigned held)
{
	static const char hex[] = "0123456789abcdef";
	put_key(b, name);
	mc_buf_puts(b, "\"0x");
	for (unsigned j = width; j-- > 0;) {
		unsigned byte = (unsigned)(v >> (8 * j)) & 0xff;
		bool known = (held >> j) & 1;
		mc_buf_putc(b, known ? hex[byte >> 4] : '?');
		mc_buf_putc(b, known ? hex[byte & 15] : '?');
	}
	mc_buf_putc(b, '"');
}

/* One change: {"tensor":NAME,"index":I,...} for a value (index of the element in the tensor),
 * {"tensor":NAME,"byte":I,...} for a byte (index in the tensor's data). */
static void put_change(struct mc_buf *b, const struct mc_tensor_map *map,
                       const struct mc_tensor_change *c)
{
	const char *name = c->tensor < map->n ? map->names + map->t[c->tensor].name : "?";
	mc_buf_puts(b, "{\"tensor\":\"");
	mc_buf_json_str(b, name, strnlen(name, TENSOR_NAME_SHOWN));
	mc_buf_putc(b, '"');
	put_field_u64(b, c->value ? "index" : "byte", c->index);
	put_field_u64(b, "offset", c->file_offset);
	put_bits(b, "before", c->before, c->width, c->held);
	put_bits(b, "after", c->after, c->width, c->held);
	mc_buf_putc(b, '}');
}

/* "region":"tensors","format":..,"mode":..,"changes":[...]: as many changes as the report
 * holds and the line has room for (each may take up to its name escaped, 6 bytes a byte, and
 * 160 more); "changes_truncated":true when some were left out. */
static void put_tensor_detail(struct mc_buf *b, const struct mc_fault *f,
                              const struct mc_rec_detail *d)
{
	const size_t entry_max = 6 * TENSOR_NAME_SHOWN + 160, tail = 256;
	const struct mc_corrupt_report *rep = d->report;
	uint64_t shown = 0;
	put_field_str(b, "region", "tensors");
	put_field_str(b, "format", d->format);
	put_field_str(b, "mode", mc_corrupt_mode_name((enum mc_corrupt_mode)f->d.rule->mode));
	if (!rep || !d->map)
		return;
	mc_buf_puts(b, ",\"changes\":[");
	for (uint32_t i = 0; i < rep->n && b->len + entry_max + tail < b->cap; i++, shown++) {
		if (i)
			mc_buf_putc(b, ',');
		put_change(b, d->map, &rep->change[i]);
	}
	mc_buf_putc(b, ']');
	if (shown < rep->changed)
		mc_buf_puts(b, ",\"changes_truncated\":true");
}

/* A CUDA family's failure: the CUDA error by its `error =` name (or number), and whether it
 * poisoned the context. */
static void put_cuda_error(struct mc_buf *b, const struct mc_fault *f, int err)
{
	const char *name = mc_cuda_error_name(err);
	if (name)
		put_field_str(b, "error", name);
	else
		put_field_u64(b, "error", (uint64_t)err);
	if (f->d.rule->sticky)
		put_field_str(b, "sticky", "true");
}

static void put_detail(struct mc_buf *b, const struct mc_fault *f, const struct mc_rec_detail *d)
{
	switch (f->d.action) {
	case MC_ACTION_DELAY:
		put_field_u64(b, "delay_ns", d->delay_asked_ns);
		put_field_u64(b, "slept_ns", d->delay_slept_ns);
		break;
	case MC_ACTION_FAIL: {
		if (f->fd < 0 && f->asked)
			put_field_u64(b, "size", f->asked); /* malloc, mmap: the size asked */
		const char *name = mc_errno_name(d->err);
		if (f->d.rule && mc_hook_is_cuda((enum mc_hook)f->d.rule->hook)) {
			put_cuda_error(b, f, d->err);
			break;
		}
		if (name)
			put_field_str(b, "errno", name);
		else
			put_field_u64(b, "errno", (uint64_t)d->err);
		if (f->d.kill)
			put_field_str(b, "oom", "kill");
		break;
	}
	case MC_ACTION_SHORT:
		put_field_u64(b, "asked", d->asked);
		put_field_u64(b, "allowed", d->allowed);
		put_field_u64(b, "bytes_cut", d->asked - d->allowed);
		break;
	case MC_ACTION_CORRUPT:
		put_field_u64(b, "offset", d->offset);
		put_field_u64(b, "bytes", d->bytes);
		put_field_u64(b, "changed", d->changed);
		if (d->json) {
			put_field_u64(b, "numbers", d->numbers);
			put_field_u64(b, "matched", d->matched);
			put_field_u64(b, "unwritable", d->unwritable);
		}
		if (d->format)
			put_tensor_detail(b, f, d);
		break;
	case MC_ACTION_THROTTLE:
		put_field_u64(b, "bytes", d->bytes);
		put_field_u64(b, "delay_ns", d->delay_asked_ns);
		put_field_u64(b, "slept_ns", d->delay_slept_ns);
		break;
	case MC_ACTION_TRUNCATE:
		put_field_u64(b, "file_size", d->file_size);
		put_field_u64(b, "at", d->at);
		if (f->d.rule->hook == MC_HOOK_READ) {
			put_field_u64(b, "offset", d->offset);
			put_field_u64(b, "asked", d->asked);
			put_field_u64(b, "allowed", d->allowed);
		} else if (f->d.rule->hook == MC_HOOK_MMAP) {
			put_field_u64(b, "offset", d->offset);
			put_field_u64(b, "bytes", d->bytes);
		}
		break;
	case MC_ACTION_REDIRECT:
		if (d->to)
			put_field_str(b, "to", d->to);
		break;
	case MC_ACTION_SIGNAL:
		put_field_str(b, "signal", mc_cfg_signal_name(d->signo));
		break;
	case MC_ACTION_HANG:
		put_field_u64(b, "hung_ns", d->delay_slept_ns);
		put_field_str(b, "ended", d->released ? "halt" : "deadline");
		break;
	case MC_ACTION_LEAK:
		put_field_u64(b, "bytes", d->bytes);
		put_field_u64(b, "leaked_bytes", d->leaked_bytes);
		break;
	case MC_ACTION_HOG:
		put_field_u64(b, "bytes", d->bytes);
		if (f->d.rule->hog_rate_bps)
			put_field_u64(b, "rate_bps", f->d.rule->hog_rate_bps);
		break;
	case MC_ACTION_BURN:
		put_field_u64(b, "delay_ns", d->delay_asked_ns);
		put_field_u64(b, "burned_ns", d->delay_slept_ns);
		break;
	default:
		break;
	}
	if (d->no_effect)
		mc_buf_puts(b, ",\"no_effect\":true");
	if (d->note)
		put_field_str(b, "note", d->note);
}

static void write_line(struct mc_buf *b)
{
	if (b->truncated || event_log.fd < 0) {
		if (event_log.template[0] && mc_rec_segment)
			atomic_fetch_add_explicit(&mc_rec_segment->events_dropped, 1,
			                          memory_order_relaxed);
		return;
	}
	b->p[b->len++] = '\n'; /* room kept: mc_buf leaves one byte for the NUL */
	int r = mc_append_line(event_log.fd, b->p, b->len);
	if (mc_rec_segment)
		atomic_fetch_add_explicit(r == 0 ? &mc_rec_segment->events_logged
		                                 : &mc_rec_segment->events_dropped,
		                          1, memory_order_relaxed);
}

/* getpid and gettid are system calls in glibc: each line would pay two.
 * Cached, and forgotten in a forked child (mc_rec_child_after_fork). */

static int my_pid(void)
{
	int pid = atomic_load_explicit(&event_log.pid, memory_order_relaxed);
	if (!pid) {
		pid = getpid();
		atomic_store_explicit(&event_log.pid, pid, memory_order_relaxed);
	}
	return pid;
}

static int my_tid(void)
{
	if (!cached_tid)
		cached_tid = gettid();
	return cached_tid;
}

static void begin_line(struct mc_buf *b, const char *event)
{
	mc_buf_puts(b, "{\"time\":\"");
	put_rfc3339(b, mc_unix_ns());
	mc_buf_putc(b, '"');
	put_field_u64(b, "mono_ns", mc_now_ns());
	put_field_u64(b, "pid", (uint64_t)my_pid());
	put_field_u64(b, "tid", (uint64_t)my_tid());
	put_field_str(b, "event", event);
}

static void fault_line(const struct mc_fault *f, const struct mc_rec_detail *d, char *line,
                       size_t cap);

/* A tensor line lists its changes: a larger buffer, on the stack of this call only. */
static MC_COLD void fault_line_tensors(const struct mc_fault *f, const struct mc_rec_detail *d)
{
	char line[TENSOR_LINE_BYTES];
	fault_line(f, d, line, sizeof(line));
}

void mc_rec_fault(const struct mc_fault *f, const struct mc_rec_detail *d)
{
	const struct mc_erule *r = f->d.rule;
	if (mc_rec_segment && r && !d->stale) {
		struct mc_shm_rule *sr = &mc_rec_segment->rules[r->id];
		unsigned phase = f->phase == MC_PHASE_SERVE ? MC_SHM_SERVE : MC_SHM_LOAD;
		if (f->d.shadow) {
			atomic_fetch_add_explicit(&sr->would_inject, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&sr->by_phase[phase].would_inject, 1,
			                          memory_order_relaxed);
		} else if (d->no_effect) {
			atomic_fetch_add_explicit(&sr->no_effect, 1, memory_order_relaxed);
		} else if (d->applied) {
			atomic_fetch_add_explicit(&sr->applied, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&sr->by_phase[phase].applied, 1,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&mc_rec_segment->faults_injected, 1,
			                          memory_order_relaxed);
		}
	}
	if (!event_log.template[0])
		return;
	if (d->report) {
		fault_line_tensors(f, d);
		return;
	}
	char line[LINE_MAX_BYTES];
	fault_line(f, d, line, sizeof(line));
}

/* One fault's line, built in line[cap]. */
static void fault_line(const struct mc_fault *f, const struct mc_rec_detail *d, char *line,
                       size_t cap)
{
	const struct mc_erule *r = f->d.rule;
	struct mc_buf b;
	mc_buf_init(&b, line, cap - 1);
	begin_line(&b, f->d.shadow ? "would_inject" : "fault");
	put_field_str(&b, "rule", r ? r->name : "?");
	put_field_str(&b, "hook", mc_hook_name((enum mc_hook)(r ? r->hook : MC_HOOK_COUNT)));
	put_field_str(&b, "fn", mc_fn_name(f->fn));
	put_field_str(&b, "action", mc_action_name(f->d.action));
	put_target_of(&b, f);
	struct mc_reqkey key;
	bool socket = mc_fd_is_socket(&f->fdi);
	mc_request_current(f->rt->req, socket ? f->fd : -1, &key);
	if (key.len) {
		mc_buf_puts(&b, ",\"key\":\"");
		mc_buf_json_str(&b, key.bytes, key.len);
		mc_buf_putc(&b, '"');
	} else {
		mc_buf_puts(&b, ",\"key\":null");
	}
	put_field_str(&b, "phase", phase_name(f->phase));
	/* what `mlchaos replay` needs to make this decision again: which call of the rule on
	 * which thread, and the draw every choice of the decision came from */
	put_field_u64(&b, "thread", f->d.thread);
	put_field_u64(&b, "call", f->d.ordinal);
	put_field_hex(&b, "draw", f->d.draw);
	mc_buf_puts(&b, f->d.shadow ? ",\"shadow\":true" : ",\"shadow\":false");
	mc_buf_puts(&b, d->applied ? ",\"applied\":true" : ",\"applied\":false");
	if (f->caller.name[0])
		put_field_str(&b, "caller", f->caller.name);
	put_detail(&b, f, d);
	mc_buf_putc(&b, '}');
	write_line(&b);
}

/* ---- the rule set line ------------------------------------------------------------ */

/* At start, at each reload and in a forked child: one line describing the rule set in force
 * completely (every key of every section as written, in file order), so that the log alone is
 * enough to rebuild the config (`mlchaos replay`). Built once per rule set, off any hook path
 * (init, reload, guard held), into a private mapping kept until the next one: a forked child
 * writes it again without allocating. */

#define RULES_PREFIX_ROOM 256 /* begin_line's fields, written just before the body */

/* Bytes a JSON string of s takes at most, quotes included. */
static size_t json_bound(const char *s)
{
	return 6 * (s ? strlen(s) : 0) + 2;
}

static size_t pairs_bound(const struct mc_cfg_pairs *pairs)
{
	size_t n = 2;
	for (unsigned i = 0; i < pairs->n; i++)
		n += 4 + json_bound(pairs->v[i].key) + json_bound(pairs->v[i].value);
	return n;
}

static size_t rules_body_bound(const struct mc_config *cfg, const char *config_path)
{
	size_t n =
	    256 + json_bound(config_path) + json_bound(cfg->header) + pairs_bound(&cfg->written);
	for (unsigned i = 0; i < cfg->n_rules; i++)
		n += 128 + json_bound(cfg->rules[i].name) + pairs_bound(&cfg->rules[i].written);
	return n;
}

/* [["key","value"],...] */
static void put_pairs(struct mc_buf *b, const struct mc_cfg_pairs *pairs)
{
	mc_buf_putc(b, '[');
	for (unsigned i = 0; i < pairs->n; i++) {
		mc_buf_puts(b, i ? ",[\"" : "[\"");
		mc_buf_json_str(b, pairs->v[i].key, strlen(pairs->v[i].key));
		mc_buf_puts(b, "\",\"");
		mc_buf_json_str(b, pairs->v[i].value, strlen(pairs->v[i].value));
		mc_buf_puts(b, "\"]");
	}
	mc_buf_putc(b, ']');
}

static void put_request_key(struct mc_buf *b, const struct mc_config *cfg)
{
	static const char *const words[] = { [MC_KEY_HEADER] = "header:",
		                             [MC_KEY_CONNECTION] = "connection",
		                             [MC_KEY_THREAD] = "thread",
		                             [MC_KEY_NONE] = "none" };
	mc_buf_puts(b, ",\"request_key\":\"");
	mc_buf_puts(b, words[cfg->request_key]);
	if (cfg->request_key == MC_KEY_HEADER)
		mc_buf_json_str(b, cfg->header, strlen(cfg->header));
	mc_buf_putc(b, '"');
}

static void put_rules(struct mc_buf *b, const struct mc_config *cfg, const struct mc_ruleset *rs)
{
	mc_buf_puts(b, ",\"rules\":[");
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct mc_rule_spec *spec = &cfg->rules[i];
		const struct mc_erule *r = mc_engine_rule(rs, i);
		mc_buf_puts(b, i ? ",{\"name\":\"" : "{\"name\":\"");
		mc_buf_json_str(b, spec->name, strlen(spec->name));
		mc_buf_putc(b, '"');
		put_field_u64(b, "line", (uint64_t)spec->line);
		mc_buf_puts(b, r && r->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
		mc_buf_puts(b, r && r->shadow ? ",\"shadow\":true" : ",\"shadow\":false");
		mc_buf_puts(b, ",\"keys\":");
		put_pairs(b, &spec->written);
		mc_buf_putc(b, '}');
	}
	mc_buf_putc(b, ']');
}

static void rules_line_build(const struct mc_config *cfg, const struct mc_ruleset *rs,
                             const char *config_path)
{
	if (event_log.rules.map) { /* the previous rule set's: a reload */
		mc_real.munmap(event_log.rules.map, event_log.rules.map_bytes);
		event_log.rules.map = NULL;
		event_log.rules.generation++;
	}
	if (!event_log.template[0])
		return;
	size_t bytes = RULES_PREFIX_ROOM + rules_body_bound(cfg, config_path) + 2;
	void *p =
	    mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return; /* the line is missing from the log: replay says so */
	struct mc_buf b;
	mc_buf_init(&b, (char *)p + RULES_PREFIX_ROOM, bytes - RULES_PREFIX_ROOM - 1);
	put_field_str(&b, "config", config_path);
	put_field_u64(&b, "generation", event_log.rules.generation);
	put_field_u64(&b, "seed", cfg->seed);
	put_request_key(&b, cfg);
	mc_buf_puts(&b, ",\"mlchaos\":");
	put_pairs(&b, &cfg->written);
	put_rules(&b, cfg, rs);
	mc_buf_putc(&b, '}');
	if (b.truncated) { /* cannot happen: the bound counts every byte */
		mc_real.munmap(p, bytes);
		return;
	}
	event_log.rules.map = p;
	event_log.rules.map_bytes = bytes;
	event_log.rules.body_len = b.len;
}

static void rules_line_write(void)
{
	if (!event_log.rules.map)
		return;
	char prefix[RULES_PREFIX_ROOM];
	struct mc_buf pb;
	mc_buf_init(&pb, prefix, sizeof(prefix));
	begin_line(&pb, "rules");
	if (pb.truncated)
		return;
	char *start = event_log.rules.map + RULES_PREFIX_ROOM - pb.len;
	memcpy(start, prefix, pb.len);
	struct mc_buf line = { .p = start,
		               .len = pb.len + event_log.rules.body_len,
		               .cap = pb.len + event_log.rules.body_len + 2 };
	write_line(&line);
}

/* ---- halt lines ------------------------------------------------------------------ */

/* {"event":"halt","reason":REASON, then n numbers named names[i]}. */
/* Starts a line of event in line (LINE_MAX_BYTES): false when there is no log to write it to. */
static bool event_line(struct mc_buf *b, char *line, const char *event)
{
	if (!event_log.template[0])
		return false;
	mc_buf_init(b, line, LINE_MAX_BYTES - 1);
	begin_line(b, event);
	return true;
}

static void halt_line(const char *reason, const char *const *names, const uint64_t *values,
                      unsigned n)
{
	char line[LINE_MAX_BYTES];
	struct mc_buf b;
	if (!event_line(&b, line, "halt"))
		return;
	put_field_str(&b, "reason", reason);
	for (unsigned i = 0; i < n; i++)
		put_field_u64(&b, names[i], values[i]);
	mc_buf_putc(&b, '}');
	write_line(&b);
}

void mc_log_halt(const char *reason, uint64_t limit)
{
	static const char *const names[] = { "limit" };
	halt_line(reason, names, &limit, 1);
}

void mc_log_watchdog_halt(uint64_t errors, uint32_t window, uint32_t rate_ppm)
{
	static const char *const names[] = { "errors", "window", "rate_ppm" };
	const uint64_t values[] = { errors, window, rate_ppm };
	halt_line("watchdog", names, values, 3);
}

/* ---- the loader's allocations ------------------------------------------------------- */

void mc_log_loader_spared(const char *rule, uint64_t size, const char *caller)
{
	char line[LINE_MAX_BYTES];
	struct mc_buf b;
	if (!event_line(&b, line, "loader_spared"))
		return;
	put_field_str(&b, "rule", rule);
	put_field_u64(&b, "size", size);
	put_field_str(&b, "caller", caller);
	put_field_str(&b, "note",
	              "the dynamic loader's own allocations (thread-local storage of loaded "
	              "libraries) are not failed by a rule without caller; the next ones are "
	              "spared without a line");
	mc_buf_putc(&b, '}');
	write_line(&b);
}

/* ---- calls no single request owns ------------------------------------------------- */

void mc_log_ambiguous(const struct mc_erule *r, const char *fn, const char *key, size_t key_len,
                      const char *phase)
{
	if (!event_log.template[0])
		return;
	char line[LINE_MAX_BYTES];
	struct mc_buf b;
	mc_buf_init(&b, line, sizeof(line) - 1);
	begin_line(&b, "ambiguous");
	put_field_str(&b, "rule", r ? r->name : "?");
	put_field_str(&b, "hook", mc_hook_name((enum mc_hook)(r ? r->hook : MC_HOOK_COUNT)));
	put_field_str(&b, "fn", fn);
	mc_buf_puts(&b, ",\"key\":\"");
	mc_buf_json_str(&b, key, key_len);
	mc_buf_putc(&b, '"');
	put_field_str(&b, "phase", phase);
	mc_buf_putc(&b, '}');
	write_line(&b);
}
