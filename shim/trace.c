/* trace.c: the per-process call counters of `mlchaos trace` and their
 * report. The table is an mmap'd open-addressing hash with atomic counters:
 * no malloc, no lock, usable from every hook and from signal handlers. It
 * never writes anything but stderr and the JSON file the user named. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdtable.h"
#include "fmt.h"
#include "real.h"
#include "safefile.h"
#include "target.h"
#include "trace.h"

#define TRACE_SLOTS    16384u /* distinct (function, target) pairs per process */
#define TABLE_MAX_ROWS 60u    /* rows on stderr; the JSON file has them all */
#define ARGV0_MAX      256u
#define JSON_PATH_MAX  4096u

struct trace_slot {
	_Atomic uint64_t key; /* fn << 48 | kind << 40 | value; 0 = empty */
	_Atomic uint64_t calls;
	_Atomic uint64_t bytes;
};

bool mc_trace_enabled;
/* The counts (TRACE_SLOTS slots, mapped at init), what did not fit, whether the report was
 * written, and where and for which program it goes. */
static struct {
	struct trace_slot *slots;
	_Atomic uint64_t dropped_calls; /* table full */
	_Atomic int reported;
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

/* ---- the report ------------------------------------------------------------ */

struct row {
	uint64_t key, calls, bytes;
};

static enum mc_fn key_fn(uint64_t key)
{
	return (enum mc_fn)(key >> 48);
}

static void put_target(struct mc_buf *b, uint64_t key, bool json)
{
	mc_target_put(b, (enum mc_target_kind)((key >> 40) & 0xff), (uint32_t)key, json);
}

/* Most bytes first, then most calls: what moved the data leads the table. */
static bool row_before(const struct row *a, const struct row *b)
{
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	if (a->calls != b->calls)
		return a->calls > b->calls;
	return a->key < b->key;
}

static void sort_rows(struct row *r, size_t n)
{
	/* Shell sort: in place, no recursion, no allocation. */
	for (size_t gap = n / 2; gap > 0; gap /= 2) {
		for (size_t i = gap; i < n; i++) {
			struct row t = r[i];
			size_t j = i;
			while (j >= gap && row_before(&t, &r[j - gap])) {
				r[j] = r[j - gap];
				j -= gap;
			}
			r[j] = t;
		}
	}
}

static size_t collect(struct row *rows)
{
	size_t n = 0;
	for (uint32_t i = 0; i < TRACE_SLOTS; i++) {
		uint64_t k = atomic_load_explicit(&trace.slots[i].key, memory_order_relaxed);
		if (!k)
			continue;
		rows[n].key = k;
		rows[n].calls = atomic_load_explicit(&trace.slots[i].calls, memory_order_relaxed);
		rows[n].bytes = atomic_load_explicit(&trace.slots[i].bytes, memory_order_relaxed);
		n++;
	}
	return n;
}

static void flush_if_full(struct mc_buf *b, int fd)
{
	if (b->len > b->cap / 2) {
		(void)mc_write_all(fd, b->p, b->len);
		b->len = 0;
	}
}

static void print_table(const struct row *rows, size_t n, int pid, int ppid)
{
	char line[8192];
	struct mc_buf b;
	mc_buf_init(&b, line, sizeof(line));
	mc_buf_puts(&b, "mlchaos trace: pid ");
	mc_buf_u64(&b, (uint64_t)pid);
	mc_buf_puts(&b, " ppid ");
	mc_buf_u64(&b, (uint64_t)ppid);
	mc_buf_puts(&b, " (");
	mc_buf_puts(&b, trace.argv0);
	mc_buf_puts(&b, "): ");
	mc_buf_u64(&b, n);
	mc_buf_puts(&b, n == 1 ? " row\n" : " rows\n");
	mc_buf_puts(&b, "  FUNCTION                  CALLS                BYTES  TARGET\n");
	for (size_t i = 0; i < n && i < TABLE_MAX_ROWS; i++) {
		mc_buf_puts(&b, "  ");
		mc_buf_str_w(&b, mc_fn_name(key_fn(rows[i].key)), -20);
		mc_buf_u64_w(&b, rows[i].calls, 11);
		mc_buf_putc(&b, ' '); /* columns stay apart even for 20-digit counts */
		mc_buf_u64_w(&b, rows[i].bytes, 20);
		mc_buf_puts(&b, "  ");
		put_target(&b, rows[i].key, false);
		mc_buf_putc(&b, '\n');
		flush_if_full(&b, 2);
	}
	if (n > TABLE_MAX_ROWS) {
		mc_buf_puts(&b, "  ... ");
		mc_buf_u64(&b, n - TABLE_MAX_ROWS);
		mc_buf_puts(&b, " more rows: `mlchaos trace --json FILE` records them all\n");
	}
	(void)mc_write_all(2, b.p, b.len);
}

/* System calls that do what a hook family would fault, or that go around libc's I/O or the fd
 * table (families.h). Others made through syscall(), such as gettid or futex, are counted but
 * not warned about. */
static bool syscall_is_faultable(uint32_t nr)
{
#define FAMILY_CALL(family, number) number,
#define AROUND_CALL(number)         number,
	static const long faultable[] = { MC_FAMILY_SYSCALLS(FAMILY_CALL)
		                              MC_AROUND_LIBC_SYSCALLS(AROUND_CALL) };
#undef FAMILY_CALL
#undef AROUND_CALL
	for (size_t i = 0; i < sizeof(faultable) / sizeof(faultable[0]); i++)
		if ((long)nr == faultable[i])
			return true;
	return false;
}

static void print_warnings(const struct row *rows, size_t n)
{
	uint64_t raw = 0;
	for (size_t i = 0; i < n; i++)
		if (key_fn(rows[i].key) == MC_FN_syscall &&
		    syscall_is_faultable((uint32_t)rows[i].key))
			raw += rows[i].calls;
	uint64_t dropped = atomic_load_explicit(&trace.dropped_calls, memory_order_relaxed);
	char line[512];
	struct mc_buf b;
	if (raw) {
		mc_buf_init(&b, line, sizeof(line));
		mc_buf_puts(&b, "trace: ");
		mc_buf_u64(&b, raw);
		mc_buf_puts(&b, " I/O, memory or sleep calls went through syscall() (rows "
		                "syscall:<nr>): they bypass the hooks, faults cannot reach them");
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

static void say_no_json(const struct mc_safefile_refusal *no)
{
	static const char prefix[] = "trace: ";
	char msg[1024];
	memcpy(msg, prefix, sizeof(prefix) - 1);
	mc_safefile_message(no, trace.json_path, "--json file", "its rows are on stderr only",
	                    msg + sizeof(prefix) - 1, sizeof(msg) - (sizeof(prefix) - 1));
	mc_say(msg);
}

static void append_json(const struct row *rows, size_t n, int pid, int ppid)
{
	if (!trace.json_path[0])
		return;
	size_t cap = 256 + ARGV0_MAX * 6;
	for (size_t i = 0; i < n; i++) {
		enum mc_target_kind kind = (enum mc_target_kind)((rows[i].key >> 40) & 0xff);
		cap += 128 + (kind == MC_TGT_FILE ? 6 * mc_path_len((uint32_t)rows[i].key) : 0);
	}
	char *mem =
	    mc_real.mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return;
	struct mc_buf b;
	mc_buf_init(&b, mem, cap);
	mc_buf_puts(&b, "{\"pid\":");
	mc_buf_u64(&b, (uint64_t)pid);
	mc_buf_puts(&b, ",\"ppid\":");
	mc_buf_u64(&b, (uint64_t)ppid);
	mc_buf_puts(&b, ",\"argv0\":\"");
	mc_buf_json_str(&b, trace.argv0, strlen(trace.argv0));
	mc_buf_puts(&b, "\",\"calls\":[");
	for (size_t i = 0; i < n; i++) {
		mc_buf_puts(&b, i ? ",{\"fn\":\"" : "{\"fn\":\"");
		mc_buf_puts(&b, mc_fn_name(key_fn(rows[i].key)));
		mc_buf_puts(&b, "\",\"target\":\"");
		put_target(&b, rows[i].key, true);
		mc_buf_puts(&b, "\",\"calls\":");
		mc_buf_u64(&b, rows[i].calls);
		mc_buf_puts(&b, ",\"bytes\":");
		mc_buf_u64(&b, rows[i].bytes);
		mc_buf_putc(&b, '}');
	}
	mc_buf_puts(&b, "]}\n");
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
	size_t bytes = TRACE_SLOTS * sizeof(struct row);
	struct row *rows =
	    mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rows != MAP_FAILED) {
		size_t n = collect(rows);
		sort_rows(rows, n);
		int pid = getpid();
		int ppid = getppid();
		print_table(rows, n, pid, ppid);
		print_warnings(rows, n);
		append_json(rows, n, pid, ppid);
		mc_real.munmap(rows, bytes);
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
	/* The child reports its own calls only. */
	if (trace.slots)
		memset(trace.slots, 0, TRACE_SLOTS * sizeof(struct trace_slot));
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
	catch_fatal_signals();
	pthread_atfork(NULL, NULL, child_after_fork);
	mc_trace_enabled = true;
	return 0;
}
