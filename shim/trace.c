/* trace.c: the per-process call counters of `mlchaos trace` and their
 * report. The table is an mmap'd open-addressing hash with atomic counters:
 * no malloc, no lock, usable from every hook and from signal handlers. It
 * never writes anything but stderr and the JSON file the user named.
 * The report leads with what rules are written for: the model files (recognised at open
 * by the tensor maps' recognisers), the sockets that carried requests, memory; the other
 * files are folded into one line unless --all asked for every row. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "fmt.h"
#include "real.h"
#include "reqkey.h"
#include "safefile.h"
#include "sysname.h"
#include "target.h"
#include "tensormap.h"
#include "trace.h"

#define TRACE_SLOTS    16384u        /* distinct (function, target) pairs per process */
#define TRACE_MODELS   MC_TMAP_FILES /* model files remembered by path */
#define TRACE_SERVICES 64u           /* socket targets whose request heads are counted */
#define SOCKETS_SHOWN  16u           /* socket targets on stderr without --all */
#define ARGV0_MAX      256u
#define JSON_PATH_MAX  4096u

struct trace_slot {
	_Atomic uint64_t key; /* fn << 48 | kind << 40 | value; 0 = empty */
	_Atomic uint64_t calls;
	_Atomic uint64_t bytes;
};

/* Request heads seen on one socket target; those that carried X-Request-Id (the default
 * request key, which select = request hashes) as keyed. */
struct trace_service {
	_Atomic uint64_t key; /* make_key(MC_FN_NONE, kind, port); 0 = empty */
	_Atomic uint64_t heads;
	_Atomic uint64_t keyed;
};

bool mc_trace_enabled;
/* The counts (TRACE_SLOTS slots, mapped at init), what did not fit, whether the report was
 * written, the model files and request heads seen, what the report shows, and where and for
 * which program it goes. */
static struct {
	struct trace_slot *slots;
	_Atomic uint64_t dropped_calls; /* table full */
	_Atomic int reported;
	_Atomic uint64_t models[TRACE_MODELS]; /* path id << 16 | tensor map tag; 0 = free */
	struct trace_service services[TRACE_SERVICES];
	bool all;     /* every row, nothing folded (MLCHAOS_TRACE_ALL) */
	bool suggest; /* rules after the table (MLCHAOS_TRACE_SUGGEST) */
	char json_path[JSON_PATH_MAX];
	char argv0[ARGV0_MAX];
} trace;

static uint64_t make_key(enum mc_fn fn, enum mc_target_kind kind, uint32_t value)
{
	return (uint64_t)fn << 48 | (uint64_t)kind << 40 | (uint64_t)value;
}

void mc_trace_target(enum mc_fn fn, enum mc_target_kind kind, uint32_t value, uint64_t bytes)
{
	if (!trace.slots)
		return;
	uint64_t key = make_key(fn, kind, value);
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	for (uint32_t i = 0; i < 64; i++) {
		struct trace_slot *s = &trace.slots[((h >> 40) + i) & (TRACE_SLOTS - 1)];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
		if (k == 0) {
			uint64_t expected = 0;
			if (atomic_compare_exchange_strong_explicit(&s->key, &expected, key,
			                                            memory_order_relaxed,
			                                            memory_order_relaxed))
				k = key;
			else
				k = expected;
		}
		if (k == key) {
			atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&s->bytes, bytes, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&trace.dropped_calls, 1, memory_order_relaxed);
}

void mc_trace_file_path(enum mc_fn fn, uint32_t path_id, uint64_t bytes)
{
	mc_trace_target(fn, MC_TGT_FILE, path_id, bytes);
}

void mc_trace_fd(enum mc_fn fn, int fd, uint64_t bytes)
{
	struct mc_fd_info info;
	enum mc_target_kind kind;
	uint32_t value;
	mc_fd_lookup(fd, &info);
	mc_target_of_fd(&info, &kind, &value);
	mc_trace_target(fn, kind, value, bytes);
}

/* ---- model files and request heads ------------------------------------------------- */

/* The path's entry takes the newest tag: a model rewritten in place has a new map. Past
 * TRACE_MODELS paths, a model file is reported among the other files. */
static void remember_model(uint32_t path_id, uint16_t tag)
{
	uint64_t word = (uint64_t)path_id << 16 | tag;
	for (uint32_t i = 0; i < TRACE_MODELS; i++) {
		uint64_t w = atomic_load_explicit(&trace.models[i], memory_order_relaxed);
		while (w == 0 && !atomic_compare_exchange_weak_explicit(&trace.models[i], &w, word,
		                                                        memory_order_relaxed,
		                                                        memory_order_relaxed))
			;
		if (w == 0)
			return; /* the free entry is ours */
		if ((uint32_t)(w >> 16) == path_id) {
			atomic_store_explicit(&trace.models[i], word, memory_order_relaxed);
			return;
		}
	}
}

/* The tensor map tag of a model file's path, or 0 when the path is no model file. */
static uint16_t model_tag_of(uint32_t path_id)
{
	for (uint32_t i = 0; i < TRACE_MODELS; i++) {
		uint64_t w = atomic_load_explicit(&trace.models[i], memory_order_relaxed);
		if (w == 0)
			return 0;
		if ((uint32_t)(w >> 16) == path_id)
			return (uint16_t)w;
	}
	return 0;
}

void mc_trace_file_opened(int fd, uint32_t path_id)
{
	if (!trace.slots || fd < 0 || path_id == 0)
		return;
	mc_tmap_opened(fd); /* what a region = tensors rule would see: the same recognisers */
	uint16_t tag = mc_tmap_model_tag(fd);
	if (tag)
		remember_model(path_id, tag);
}

static struct trace_service *service_of(uint64_t key)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	for (uint32_t i = 0; i < TRACE_SERVICES; i++) {
		struct trace_service *s = &trace.services[((h >> 40) + i) % TRACE_SERVICES];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
		if (k == 0 && atomic_compare_exchange_strong_explicit(
		                  &s->key, &k, key, memory_order_relaxed, memory_order_relaxed))
			return s;
		if (k == key)
			return s;
	}
	return NULL; /* more socket targets with requests than the table holds: not counted */
}

/* The service entry of key when it has one, without making one. */
static const struct trace_service *service_seen(uint64_t key)
{
	for (uint32_t i = 0; i < TRACE_SERVICES; i++)
		if (atomic_load_explicit(&trace.services[i].key, memory_order_relaxed) == key)
			return &trace.services[i];
	return NULL;
}

void mc_trace_arrived(const struct mc_fd_info *fdi, const void *buf, size_t n)
{
	static const char header[] = "X-Request-Id";
	char key[MC_REQKEY_MAX];
	size_t key_len;
	if (!trace.slots || n == 0)
		return;
	enum mc_reqkey_result r = mc_reqkey_scan(buf, n, header, sizeof(header) - 1, key, &key_len);
	if (r == MC_REQKEY_NOTHING)
		return;
	enum mc_target_kind kind;
	uint32_t value;
	mc_target_of_fd(fdi, &kind, &value);
	struct trace_service *s = service_of(make_key(MC_FN_NONE, kind, value));
	if (!s)
		return;
	atomic_fetch_add_explicit(&s->heads, 1, memory_order_relaxed);
	if (r == MC_REQKEY_FOUND)
		atomic_fetch_add_explicit(&s->keyed, 1, memory_order_relaxed);
}

/* ---- the report ------------------------------------------------------------ */

/* The report's sections, in the order they are printed. */
enum section {
	SEC_MODEL,
	SEC_SOCKET,
	SEC_MEMORY,
	SEC_FILE,
	SEC_SYSCALL,
	SEC_OTHER,
	SEC_GPU,
	SEC_COUNT
};

struct row {
	uint64_t key, calls, bytes;
	uint16_t tag;    /* SEC_MODEL: the file's tensor map tag */
	uint8_t section; /* enum section */
};

/* The rows of one target, rows[first, end) once sorted by section and target. */
struct group {
	size_t first, end;
	uint64_t calls, bytes;
	uint64_t heads, keyed; /* SEC_SOCKET: request heads seen, those with a key */
};

/* Everything the report is built in: mapped at exit, never from the host's allocator. */
struct report {
	struct row rows[TRACE_SLOTS];
	struct group groups[TRACE_SLOTS];
	size_t n;                    /* rows */
	size_t sec_first[SEC_COUNT]; /* each section's rows: [sec_first[s], sec_end[s]) */
	size_t sec_end[SEC_COUNT];
	size_t group_first[SEC_COUNT]; /* model and socket groups: [group_first, group_end) */
	size_t group_end[SEC_COUNT];
	uint64_t targets[SEC_COUNT]; /* distinct targets of each section */
	int pid, ppid;
};

static enum mc_fn key_fn(uint64_t key)
{
	return (enum mc_fn)(key >> 48);
}

static enum mc_target_kind key_kind(uint64_t key)
{
	return (enum mc_target_kind)((key >> 40) & 0xff);
}

/* The target alone: the key without its function. */
static uint64_t key_target(uint64_t key)
{
	return key & ((1ull << 48) - 1);
}

static void put_target(struct mc_buf *b, uint64_t key, bool json)
{
	mc_target_put(b, key_kind(key), (uint32_t)key, json);
}

static enum section section_of(struct row *r)
{
	switch (key_kind(r->key)) {
	case MC_TGT_FILE:
		r->tag = model_tag_of((uint32_t)r->key);
		return r->tag ? SEC_MODEL : SEC_FILE;
	case MC_TGT_TCP:
	case MC_TGT_UDP:
	case MC_TGT_UNIX:
	case MC_TGT_SOCKET_OTHER:
		return SEC_SOCKET;
	case MC_TGT_ANON:
		return SEC_MEMORY;
	case MC_TGT_SYSCALL:
		return SEC_SYSCALL;
	case MC_TGT_GPU:
		return SEC_GPU;
	default:
		return SEC_OTHER;
	}
}

/* Most bytes first, then most calls: what moved the data leads. */
static bool row_before(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	if (a->calls != b->calls)
		return a->calls > b->calls;
	return a->key < b->key;
}

/* By section, then target, then as row_before: each target's rows together. */
static bool row_grouped_before(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	if (a->section != b->section)
		return a->section < b->section;
	if (key_target(a->key) != key_target(b->key))
		return key_target(a->key) < key_target(b->key);
	return row_before(a, b);
}

/* Sockets that carried requests first, then most bytes, then most calls. */
static bool group_before(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	if (a->heads != b->heads)
		return a->heads > b->heads;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	return a->calls > b->calls;
}

/* Shell sort of n elements of size bytes (at most sizeof(struct row) or of struct group): in
 * place, no recursion, no allocation. */
static void sort_by(void *base, size_t n, size_t size, bool (*before)(const void *, const void *))
{
	char *p = base;
	union {
		struct row r;
		struct group g;
	} t;
	for (size_t gap = n / 2; gap > 0; gap /= 2) {
		for (size_t i = gap; i < n; i++) {
			memcpy(&t, p + i * size, size);
			size_t j = i;
			while (j >= gap && before(&t, p + (j - gap) * size)) {
				memcpy(p + j * size, p + (j - gap) * size, size);
				j -= gap;
			}
			memcpy(p + j * size, &t, size);
		}
	}
}

static void collect(struct report *rep)
{
	size_t n = 0;
	for (uint32_t i = 0; i < TRACE_SLOTS; i++) {
		uint64_t k = atomic_load_explicit(&trace.slots[i].key, memory_order_relaxed);
		if (!k)
			continue;
		struct row *r = &rep->rows[n++];
		r->key = k;
		r->calls = atomic_load_explicit(&trace.slots[i].calls, memory_order_relaxed);
		r->bytes = atomic_load_explicit(&trace.slots[i].bytes, memory_order_relaxed);
		r->tag = 0;
		r->section = (uint8_t)section_of(r);
	}
	rep->n = n;
}

/* The groups of section s's rows, one per target, the model files' and sockets' in the
 * order they are shown (sockets that carried requests first, then by bytes). */
static void make_groups(struct report *rep, size_t *ng, enum section s)
{
	rep->group_first[s] = *ng;
	struct group *g = NULL; /* the group of the row before */
	for (size_t i = rep->sec_first[s]; i < rep->sec_end[s]; i++) {
		if (!g || key_target(rep->rows[g->first].key) != key_target(rep->rows[i].key)) {
			g = &rep->groups[(*ng)++];
			memset(g, 0, sizeof(*g));
			g->first = i;
			const struct trace_service *svc =
			    s == SEC_SOCKET ? service_seen(key_target(rep->rows[i].key)) : NULL;
			if (svc) {
				g->heads = atomic_load_explicit(&svc->heads, memory_order_relaxed);
				g->keyed = atomic_load_explicit(&svc->keyed, memory_order_relaxed);
			}
		}
		g->end = i + 1;
		g->calls += rep->rows[i].calls;
		g->bytes += rep->rows[i].bytes;
	}
	rep->group_end[s] = *ng;
	sort_by(rep->groups + rep->group_first[s], *ng - rep->group_first[s], sizeof(struct group),
	        group_before);
}

/* Sorts and groups the rows: sections in order, each target's rows together, and the rows of
 * the sections shown row by row (memory, syscalls, and with --all the folded ones) by bytes. */
static void arrange(struct report *rep)
{
	sort_by(rep->rows, rep->n, sizeof(struct row), row_grouped_before);
	size_t i = 0;
	for (int s = 0; s < SEC_COUNT; s++) {
		rep->sec_first[s] = i;
		rep->targets[s] = 0;
		for (; i < rep->n && rep->rows[i].section == s; i++)
			rep->targets[s] +=
			    i == rep->sec_first[s] ||
			    key_target(rep->rows[i].key) != key_target(rep->rows[i - 1].key);
		rep->sec_end[s] = i;
	}
	static const enum section by_bytes[] = { SEC_MEMORY, SEC_FILE, SEC_SYSCALL, SEC_OTHER,
		                                 SEC_GPU };
	for (size_t k = 0; k < sizeof(by_bytes) / sizeof(by_bytes[0]); k++) {
		enum section s = by_bytes[k];
		sort_by(rep->rows + rep->sec_first[s], rep->sec_end[s] - rep->sec_first[s],
		        sizeof(struct row), row_before);
	}
	size_t ng = 0;
	make_groups(rep, &ng, SEC_MODEL);
	make_groups(rep, &ng, SEC_SOCKET);
}

/* ---- stderr -------------------------------------------------------------------- */

static void flush_if_full(struct mc_buf *b, int fd)
{
	if (b->len > b->cap / 2) {
		(void)mc_write_all(fd, b->p, b->len);
		b->len = 0;
	}
}

/* "1.2 MB": decimal units, one decimal past 999 bytes. */
static void put_size(struct mc_buf *b, uint64_t n)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB", "PB", "EB" };
	unsigned u = 0;
	uint64_t div = 1;
	while (u + 1 < sizeof(units) / sizeof(units[0]) && n / div >= 1000) {
		div *= 1000;
		u++;
	}
	if (u == 0) {
		mc_buf_u64(b, n);
	} else {
		uint64_t tenths = n / (div / 10);
		mc_buf_u64(b, tenths / 10);
		mc_buf_putc(b, '.');
		mc_buf_u64(b, tenths % 10);
	}
	mc_buf_putc(b, ' ');
	mc_buf_puts(b, units[u]);
}

/* A row's function: its name, or for a call made through syscall() the system call's
 * ("read (via syscall)"; by number when the table does not name it). */
static void put_fn(struct mc_buf *b, uint64_t key, int width)
{
	char name[64];
	struct mc_buf nb;
	mc_buf_init(&nb, name, sizeof(name));
	if (key_fn(key) == MC_FN_syscall) {
		const char *sys = mc_syscall_name((long)(uint32_t)key);
		if (sys) {
			mc_buf_puts(&nb, sys);
		} else {
			mc_buf_puts(&nb, "#");
			mc_buf_u64(&nb, (uint32_t)key);
		}
		mc_buf_puts(&nb, " (via syscall)");
	} else {
		mc_buf_puts(&nb, mc_fn_name(key_fn(key)));
	}
	mc_buf_str_w(b, name, width);
}

static void print_row(struct mc_buf *b, const struct row *r)
{
	mc_buf_puts(b, "  ");
	put_fn(b, r->key, -20);
	mc_buf_u64_w(b, r->calls, 11);
	mc_buf_putc(b, ' '); /* columns stay apart even for 20-digit counts */
	mc_buf_u64_w(b, r->bytes, 20);
	mc_buf_puts(b, "  ");
	put_target(b, r->key, false);
	mc_buf_putc(b, '\n');
	flush_if_full(b, 2);
}

static void print_rows(struct mc_buf *b, const struct report *rep, size_t first, size_t end)
{
	for (size_t i = first; i < end; i++)
		print_row(b, &rep->rows[i]);
}

static void print_model_head(struct mc_buf *b, const struct row *r)
{
	struct mc_tmap_about about;
	mc_buf_puts(b, "  ");
	put_target(b, r->key, false);
	mc_buf_puts(b, ": ");
	if (!mc_tmap_about(r->tag, &about)) {
		mc_buf_puts(b, "model file");
	} else if (about.why) {
		mc_buf_puts(b, about.format);
		mc_buf_puts(b, ", malformed: ");
		mc_buf_puts(b, about.why);
	} else {
		mc_buf_puts(b, about.format);
		mc_buf_puts(b, ", ");
		mc_buf_u64(b, about.tensors);
		mc_buf_puts(b, about.tensors == 1 ? " tensor" : " tensors");
	}
	mc_buf_putc(b, '\n');
}

static void print_socket_head(struct mc_buf *b, const struct row *r, const struct group *g)
{
	mc_buf_puts(b, "  ");
	put_target(b, r->key, false);
	if (g->heads) {
		mc_buf_puts(b, ": ");
		mc_buf_u64(b, g->heads);
		mc_buf_puts(b, g->heads == 1 ? " request" : " requests");
	}
	mc_buf_putc(b, '\n');
}

static void print_models(struct mc_buf *b, const struct report *rep)
{
	if (rep->group_first[SEC_MODEL] == rep->group_end[SEC_MODEL])
		return;
	mc_buf_puts(b, "model files:\n");
	for (size_t k = rep->group_first[SEC_MODEL]; k < rep->group_end[SEC_MODEL]; k++) {
		const struct group *g = &rep->groups[k];
		print_model_head(b, &rep->rows[g->first]);
		print_rows(b, rep, g->first, g->end);
	}
}

/* Sums of a folded section, and how many distinct targets it holds. */
struct folded {
	uint64_t targets, calls, bytes, reads, read_bytes;
};

static struct folded fold(const struct report *rep, enum section s)
{
	struct folded f = { rep->targets[s], 0, 0, 0, 0 };
	for (size_t i = rep->sec_first[s]; i < rep->sec_end[s]; i++) {
		const struct row *r = &rep->rows[i];
		f.calls += r->calls;
		f.bytes += r->bytes;
		if (mc_fn_hook(key_fn(r->key)) == MC_HOOK_READ) {
			f.reads += r->calls;
			f.read_bytes += r->bytes;
		}
	}
	return f;
}

static void print_sockets(struct mc_buf *b, const struct report *rep)
{
	size_t first = rep->group_first[SEC_SOCKET], end = rep->group_end[SEC_SOCKET];
	if (first == end)
		return;
	mc_buf_puts(b, "sockets:\n");
	size_t shown = trace.all || end - first <= SOCKETS_SHOWN ? end : first + SOCKETS_SHOWN;
	struct folded rest = { 0, 0, 0, 0, 0 };
	for (size_t k = first; k < end; k++) {
		const struct group *g = &rep->groups[k];
		if (k >= shown) {
			rest.targets++;
			rest.calls += g->calls;
			rest.bytes += g->bytes;
			continue;
		}
		print_socket_head(b, &rep->rows[g->first], g);
		print_rows(b, rep, g->first, g->end);
	}
	if (rest.targets) {
		mc_buf_puts(b, "  ... ");
		mc_buf_u64(b, rest.targets);
		mc_buf_puts(b, " more sockets: ");
		mc_buf_u64(b, rest.calls);
		mc_buf_puts(b, rest.calls == 1 ? " call, " : " calls, ");
		put_size(b, rest.bytes);
		mc_buf_puts(b, "; `mlchaos trace --all` lists them\n");
	}
}

/* Section s row by row under its title, or with --all unset and fold_it set, one line. */
static void print_section(struct mc_buf *b, const struct report *rep, enum section s,
                          const char *title, bool fold_it)
{
	size_t first = rep->sec_first[s], end = rep->sec_end[s];
	if (first == end)
		return;
	if (!fold_it || trace.all) {
		mc_buf_puts(b, title);
		mc_buf_puts(b, ":\n");
		print_rows(b, rep, first, end);
		return;
	}
	struct folded f = fold(rep, s);
	mc_buf_puts(b, title);
	mc_buf_puts(b, ": ");
	if (s == SEC_FILE) {
		mc_buf_u64(b, f.targets);
		mc_buf_puts(b, f.targets == 1 ? " file, " : " files, ");
		mc_buf_u64(b, f.reads);
		mc_buf_puts(b, f.reads == 1 ? " read (" : " reads (");
		put_size(b, f.read_bytes);
		mc_buf_puts(b, "), ");
		mc_buf_u64(b, f.calls - f.reads);
		mc_buf_puts(b, f.calls - f.reads == 1 ? " other call (" : " other calls (");
		put_size(b, f.bytes - f.read_bytes);
		mc_buf_puts(b, ")");
	} else {
		mc_buf_u64(b, end - first);
		mc_buf_puts(b, end - first == 1 ? " row, " : " rows, ");
		mc_buf_u64(b, f.calls);
		mc_buf_puts(b, f.calls == 1 ? " call, " : " calls, ");
		put_size(b, f.bytes);
	}
	mc_buf_puts(b, "; `mlchaos trace --all` lists them\n");
	flush_if_full(b, 2);
}

static void print_table(const struct report *rep)
{
	char line[8192];
	struct mc_buf b;
	mc_buf_init(&b, line, sizeof(line));
	mc_buf_puts(&b, "mlchaos trace: pid ");
	mc_buf_u64(&b, (uint64_t)rep->pid);
	mc_buf_puts(&b, " ppid ");
	mc_buf_u64(&b, (uint64_t)rep->ppid);
	mc_buf_puts(&b, " (");
	mc_buf_puts(&b, trace.argv0);
	mc_buf_puts(&b, "): ");
	mc_buf_u64(&b, rep->n);
	mc_buf_puts(&b, rep->n == 1 ? " row\n" : " rows\n");
	mc_buf_puts(&b, "  FUNCTION                  CALLS                BYTES  TARGET\n");
	print_models(&b, rep);
	print_sockets(&b, rep);
	print_section(&b, rep, SEC_MEMORY, "memory", false);
	print_section(&b, rep, SEC_FILE, "other files", true);
	print_section(&b, rep, SEC_SYSCALL, "through syscall(), out of the hooks' reach", false);
	print_section(&b, rep, SEC_OTHER, "other (pipes, terminals, sleeps)", true);
	print_section(&b, rep, SEC_GPU,
	              "GPU (CUDA calls; device memory allocated, bytes copied each way)", false);
	(void)mc_write_all(2, b.p, b.len);
}

static void print_warnings(const struct report *rep)
{
	uint64_t raw = 0;
	for (size_t i = rep->sec_first[SEC_SYSCALL]; i < rep->sec_end[SEC_SYSCALL]; i++)
		if (mc_syscall_bypasses_hooks((long)(uint32_t)rep->rows[i].key))
			raw += rep->rows[i].calls;
	uint64_t dropped = atomic_load_explicit(&trace.dropped_calls, memory_order_relaxed);
	char line[512];
	struct mc_buf b;
	if (raw) {
		mc_buf_init(&b, line, sizeof(line));
		mc_buf_puts(&b, "trace: ");
		mc_buf_u64(&b, raw);
		mc_buf_puts(&b,
		            " I/O, memory or sleep calls went through syscall() (rows "
		            "NAME (via syscall)): they bypass the hooks, faults cannot reach them");
		mc_say(line);
	}
	if (dropped) {
		mc_buf_init(&b, line, sizeof(line));
		mc_buf_puts(&b, "trace: ");
		mc_buf_u64(&b, dropped);
		mc_buf_puts(&b,
		            " calls not counted: more distinct (function, target) pairs than the "
		            "table holds");
		mc_say(line);
	}
}

/* ---- --suggest ----------------------------------------------------------------- */

/* A path written as a rule's glob matches itself only without glob or comment characters
 * (and nothing that would end the INI line). */
static bool path_fits_rule(const char *p)
{
	for (; *p; p++)
		if (*p == '*' || *p == '?' || *p == '[' || *p == '\\' || *p == ';' || *p == '#' ||
		    (unsigned char)*p < 0x20)
			return false;
	return true;
}

/* The family whose functions moved most of the model's bytes, of those a corrupt rule
 * damages: read (read, pread, fread, ...) or mmap. */
static enum mc_hook model_family(const struct report *rep, const struct group *g)
{
	uint64_t read_bytes = 0, map_bytes = 0;
	for (size_t i = g->first; i < g->end; i++) {
		enum mc_hook h = mc_fn_hook(key_fn(rep->rows[i].key));
		if (h == MC_HOOK_READ)
			read_bytes += rep->rows[i].bytes;
		else if (h == MC_HOOK_MMAP)
			map_bytes += rep->rows[i].bytes;
	}
	return map_bytes > read_bytes ? MC_HOOK_MMAP : MC_HOOK_READ;
}

static void suggest_model(struct mc_buf *b, const struct report *rep, const struct group *g,
                          unsigned number)
{
	const struct row *r = &rep->rows[g->first];
	const char *path = mc_path_of((uint32_t)r->key);
	struct mc_tmap_about about;
	if (!path || !mc_tmap_about(r->tag, &about) || about.why)
		return; /* no tensors to aim at */
	if (!path_fits_rule(path)) {
		mc_buf_puts(b, "; a model file whose path is no glob of itself is left out: ");
		mc_buf_puts(b, path);
		mc_buf_puts(b, "\n\n");
		return;
	}
	enum mc_hook h = model_family(rep, g);
	mc_buf_puts(b, "; NaN in one value of the tensors of a ");
	mc_buf_puts(b, about.format);
	mc_buf_puts(b, " file, as its ");
	mc_buf_puts(b, mc_hook_name(h));
	mc_buf_puts(b, " family loads it (");
	put_size(b, g->bytes);
	mc_buf_puts(b, " seen)\n[fault.weights-");
	mc_buf_u64(b, number);
	mc_buf_puts(b, "]\nhook = ");
	mc_buf_puts(b, mc_hook_name(h));
	mc_buf_puts(b, "\npath = ");
	mc_buf_puts(b, path);
	mc_buf_puts(b, "\naction = corrupt\nregion = tensors\nmode = nan\ncount = 1\n\n");
	flush_if_full(b, 2);
}

static void suggest_requests(struct mc_buf *b, const struct report *rep, const struct group *g)
{
	const struct row *r = &rep->rows[g->first];
	mc_buf_puts(b, "; 200 ms more before the answers of 10 % of the requests on ");
	put_target(b, r->key, false);
	mc_buf_puts(b, " (");
	mc_buf_u64(b, g->heads);
	mc_buf_puts(b, g->heads == 1 ? " request seen)\n" : " requests seen)\n");
	mc_buf_puts(b, "[fault.slow-requests-");
	mc_buf_u64(b, (uint32_t)r->key);
	mc_buf_puts(b, "]\nhook = send\nport = ");
	mc_buf_u64(b, (uint32_t)r->key);
	mc_buf_puts(b, "\nselect = request\nrate = 10%\naction = delay\ndelay = 200ms\n\n");
	flush_if_full(b, 2);
}

/* Rules that aim at what was seen: each model file's tensors through the family that loaded
 * it, and the requests of each TCP port that carried some. One INI block between two comment
 * lines, that `mlchaos check` accepts as it is. */
static void print_suggestions(const struct report *rep)
{
	uint64_t heads = 0, keyed = 0;
	for (size_t k = rep->group_first[SEC_SOCKET]; k < rep->group_end[SEC_SOCKET]; k++)
		if (key_kind(rep->rows[rep->groups[k].first].key) == MC_TGT_TCP) {
			heads += rep->groups[k].heads;
			keyed += rep->groups[k].keyed;
		}
	if (!heads && rep->group_first[SEC_MODEL] == rep->group_end[SEC_MODEL])
		return; /* nothing to aim at: no block, rather than an empty one per process */
	char line[8192];
	struct mc_buf b;
	mc_buf_init(&b, line, sizeof(line));
	mc_buf_puts(&b, "; mlchaos trace --suggest: pid ");
	mc_buf_u64(&b, (uint64_t)rep->pid);
	mc_buf_puts(&b, " (");
	mc_buf_puts(&b, trace.argv0);
	mc_buf_puts(&b, "): rules for what it loaded and served\n");
	if (heads && !keyed)
		mc_buf_puts(&b, "; the requests carried no X-Request-Id: select by connection\n"
		                "[mlchaos]\nrequest_key = connection\n\n");
	unsigned number = 0;
	for (size_t k = rep->group_first[SEC_MODEL]; k < rep->group_end[SEC_MODEL]; k++)
		suggest_model(&b, rep, &rep->groups[k], ++number);
	for (size_t k = rep->group_first[SEC_SOCKET]; k < rep->group_end[SEC_SOCKET]; k++) {
		const struct group *g = &rep->groups[k];
		if (g->heads && key_kind(rep->rows[g->first].key) == MC_TGT_TCP)
			suggest_requests(&b, rep, g);
	}
	mc_buf_puts(&b, "; end of the suggested rules\n");
	(void)mc_write_all(2, b.p, b.len);
}

/* ---- the JSON line ------------------------------------------------------------- */

static void say_no_json(const struct mc_safefile_refusal *no)
{
	static const char prefix[] = "trace: ";
	char msg[1024];
	memcpy(msg, prefix, sizeof(prefix) - 1);
	mc_safefile_message(no, trace.json_path, "--json file", "its rows are on stderr only",
	                    msg + sizeof(prefix) - 1, sizeof(msg) - (sizeof(prefix) - 1));
	mc_say(msg);
}

/* {"fn":..,"calls":N,"bytes":N} for rows[first, end), comma-separated; with_target, each with
 * its "target" too (the rows of "calls", as they were before the sections). */
static void json_rows(struct mc_buf *b, const struct report *rep, size_t first, size_t end,
                      bool with_target)
{
	for (size_t i = first; i < end; i++) {
		mc_buf_puts(b, i > first ? ",{\"fn\":\"" : "{\"fn\":\"");
		mc_buf_puts(b, mc_fn_name(key_fn(rep->rows[i].key)));
		if (with_target) {
			mc_buf_puts(b, "\",\"target\":\"");
			put_target(b, rep->rows[i].key, true);
		}
		mc_buf_puts(b, "\",\"calls\":");
		mc_buf_u64(b, rep->rows[i].calls);
		mc_buf_puts(b, ",\"bytes\":");
		mc_buf_u64(b, rep->rows[i].bytes);
		mc_buf_putc(b, '}');
	}
}

static void json_models(struct mc_buf *b, const struct report *rep)
{
	mc_buf_puts(b, ",\"models\":[");
	for (size_t k = rep->group_first[SEC_MODEL]; k < rep->group_end[SEC_MODEL]; k++) {
		const struct group *g = &rep->groups[k];
		const struct row *r = &rep->rows[g->first];
		const char *path = mc_path_of((uint32_t)r->key);
		struct mc_tmap_about about = { "", 0, NULL };
		(void)mc_tmap_about(r->tag, &about);
		mc_buf_puts(b, k > rep->group_first[SEC_MODEL] ? ",{\"path\":\"" : "{\"path\":\"");
		if (path)
			mc_buf_json_str(b, path, mc_path_len((uint32_t)r->key));
		mc_buf_puts(b, "\",\"format\":\"");
		mc_buf_puts(b, about.format);
		mc_buf_puts(b, "\",\"tensors\":");
		mc_buf_u64(b, about.tensors);
		if (about.why) {
			mc_buf_puts(b, ",\"malformed\":\"");
			mc_buf_json_str(b, about.why, strlen(about.why));
			mc_buf_putc(b, '"');
		}
		mc_buf_puts(b, ",\"calls\":[");
		json_rows(b, rep, g->first, g->end, false);
		mc_buf_puts(b, "]}");
	}
	mc_buf_putc(b, ']');
}

static void json_sockets(struct mc_buf *b, const struct report *rep)
{
	mc_buf_puts(b, ",\"sockets\":[");
	for (size_t k = rep->group_first[SEC_SOCKET]; k < rep->group_end[SEC_SOCKET]; k++) {
		const struct group *g = &rep->groups[k];
		mc_buf_puts(b, k > rep->group_first[SEC_SOCKET] ? ",{\"target\":\""
		                                                : "{\"target\":\"");
		put_target(b, rep->rows[g->first].key, true);
		mc_buf_puts(b, "\",\"requests\":");
		mc_buf_u64(b, g->heads);
		mc_buf_puts(b, ",\"calls\":[");
		json_rows(b, rep, g->first, g->end, false);
		mc_buf_puts(b, "]}");
	}
	mc_buf_putc(b, ']');
}

static void json_folded(struct mc_buf *b, const struct report *rep)
{
	struct folded f = fold(rep, SEC_FILE);
	mc_buf_puts(b, ",\"other_files\":{\"files\":");
	mc_buf_u64(b, f.targets);
	mc_buf_puts(b, ",\"calls\":");
	mc_buf_u64(b, f.calls);
	mc_buf_puts(b, ",\"bytes\":");
	mc_buf_u64(b, f.bytes);
	mc_buf_puts(b, ",\"reads\":");
	mc_buf_u64(b, f.reads);
	mc_buf_puts(b, ",\"read_bytes\":");
	mc_buf_u64(b, f.read_bytes);
	mc_buf_puts(b, "},\"syscalls\":[");
	for (size_t i = rep->sec_first[SEC_SYSCALL]; i < rep->sec_end[SEC_SYSCALL]; i++) {
		uint32_t nr = (uint32_t)rep->rows[i].key;
		const char *name = mc_syscall_name((long)nr);
		mc_buf_puts(b, i > rep->sec_first[SEC_SYSCALL] ? ",{\"nr\":" : "{\"nr\":");
		mc_buf_u64(b, nr);
		if (name) {
			mc_buf_puts(b, ",\"name\":\"");
			mc_buf_puts(b, name);
			mc_buf_putc(b, '"');
		}
		mc_buf_puts(b, ",\"calls\":");
		mc_buf_u64(b, rep->rows[i].calls);
		mc_buf_putc(b, '}');
	}
	mc_buf_putc(b, ']');
}

/* Room for the line: every row twice (in calls and in its section), its path escaped. */
static size_t json_cap(const struct report *rep)
{
	size_t cap = 512 + ARGV0_MAX * 6;
	for (size_t i = 0; i < rep->n; i++) {
		size_t path = key_kind(rep->rows[i].key) == MC_TGT_FILE
		                  ? 6 * (size_t)mc_path_len((uint32_t)rep->rows[i].key)
		                  : 0;
		cap += 2 * (160 + path) + (rep->rows[i].section == SEC_MODEL ? 256 : 0);
	}
	return cap;
}

static void append_json(const struct report *rep)
{
	if (!trace.json_path[0])
		return;
	size_t cap = json_cap(rep);
	char *mem =
	    mc_real.mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return;
	struct mc_buf b;
	mc_buf_init(&b, mem, cap);
	mc_buf_puts(&b, "{\"pid\":");
	mc_buf_u64(&b, (uint64_t)rep->pid);
	mc_buf_puts(&b, ",\"ppid\":");
	mc_buf_u64(&b, (uint64_t)rep->ppid);
	mc_buf_puts(&b, ",\"argv0\":\"");
	mc_buf_json_str(&b, trace.argv0, strlen(trace.argv0));
	mc_buf_putc(&b, '"');
	mc_buf_puts(&b, ",\"calls\":[");
	json_rows(&b, rep, 0, rep->n, true);
	mc_buf_putc(&b, ']');
	json_models(&b, rep);
	json_sockets(&b, rep);
	mc_buf_puts(&b, ",\"memory\":[");
	json_rows(&b, rep, rep->sec_first[SEC_MEMORY], rep->sec_end[SEC_MEMORY], false);
	mc_buf_putc(&b, ']');
	json_folded(&b, rep);
	mc_buf_puts(&b, "}\n");
	/* The file `mlchaos trace` made may have been replaced since (a FIFO would block the
	 * exit for ever): opened as the log is, and refused likewise. */
	const struct mc_safefile_calls calls = { mc_real.open, mc_real.fcntl, mc_real.close };
	struct mc_safefile_refusal no;
	int fd = mc_safefile_open(&calls, trace.json_path, O_APPEND, 0600, &no);
	if (fd >= 0) {
		/* One write: O_APPEND keeps each process's line whole. */
		if (!b.truncated)
			(void)mc_append_line(fd, b.p, b.len);
		mc_real.close(fd);
	} else {
		say_no_json(&no);
	}
	mc_real.munmap(mem, cap);
}

void mc_trace_report(void)
{
	if (!trace.slots)
		return;
	int expected = 0;
	if (!atomic_compare_exchange_strong(&trace.reported, &expected, 1))
		return;
	int saved = errno;
	struct report *rep = mc_real.mmap(NULL, sizeof(struct report), PROT_READ | PROT_WRITE,
	                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rep != MAP_FAILED) {
		collect(rep);
		arrange(rep);
		rep->pid = getpid();
		rep->ppid = getppid();
		print_table(rep);
		print_warnings(rep);
		if (trace.suggest)
			print_suggestions(rep);
		append_json(rep);
		mc_real.munmap(rep, sizeof(struct report));
	}
	errno = saved;
}

/* ---- exit paths --------------------------------------------------------- */

static void on_fatal_signal(int sig)
{
	mc_trace_report();
	/* SA_RESETHAND restored the default action: the signal raised here is
	 * delivered as the handler returns, and the process dies by it, so the
	 * parent sees what it would have seen without the shim. */
	raise(sig);
}

static void catch_fatal_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL)
			continue; /* the host (or its parent) chose: leave it */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fatal_signal;
		/* No SA_NODEFER: a second SIGTERM arriving while the report is
		 * written waits for it; the raise() below is delivered when the
		 * handler returns, with the default action restored. */
		sa.sa_flags = SA_RESETHAND | SA_RESTART;
		/* The other fatal signals wait while one is handled, so the
		 * first one decides how the process dies, as without the shim. */
		sigemptyset(&sa.sa_mask);
		for (size_t j = 0; j < sizeof(sigs) / sizeof(sigs[0]); j++)
			if (j != i)
				sigaddset(&sa.sa_mask, sigs[j]);
		sigaction(sigs[i], &sa, NULL);
	}
}

static void child_after_fork(void)
{
	/* The child reports its own calls and requests only; the model files it inherited the
	 * fds of stay known by path. */
	if (trace.slots)
		memset(trace.slots, 0, TRACE_SLOTS * sizeof(struct trace_slot));
	memset(trace.services, 0, sizeof(trace.services));
	atomic_store(&trace.dropped_calls, 0);
	atomic_store(&trace.reported, 0);
}

static void copy_bounded(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

int mc_trace_init(void)
{
	void *p = mc_real.mmap(NULL, TRACE_SLOTS * sizeof(struct trace_slot),
	                       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	trace.slots = p;
	copy_bounded(trace.argv0, sizeof(trace.argv0), program_invocation_name);
	const char *json = getenv("MLCHAOS_TRACE_JSON");
	if (json && json[0] != '/')
		mc_say("trace: MLCHAOS_TRACE_JSON is not an absolute path; ignored");
	else
		copy_bounded(trace.json_path, sizeof(trace.json_path), json);
	const char *all = getenv("MLCHAOS_TRACE_ALL");
	const char *suggest = getenv("MLCHAOS_TRACE_SUGGEST");
	trace.all = all && strcmp(all, "1") == 0;
	trace.suggest = suggest && strcmp(suggest, "1") == 0;
	catch_fatal_signals();
	pthread_atfork(NULL, NULL, child_after_fork);
	mc_trace_enabled = true;
	return 0;
}
