/* mc_bench.c: the loops scripts/bench times, natively and under LD_PRELOAD=libmlchaos.so.
 * Calls libc through the PLT (built with -fno-builtin) so the preloaded hooks are reached;
 * never links the library itself and never decides a verdict: it only counts and times. */
#include <errno.h>
#include <getopt.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MCB_READ_BYTES  4096u
#define MCB_SEND_BYTES  1024u
#define MCB_BIG_BYTES   (1u << 20)
#define MCB_SMALL_BYTES 64u
#define MCB_HUGE_ALIGN  ((size_t)2 << 20)
#define MCB_FILE_PAGES  256u /* the read loop rewinds after this many 4 KiB reads */
#define MCB_SEND_BATCH  64u  /* sends between two untimed drains; fits SO_SNDBUF */
#define MCB_DRAIN_BYTES (64u * 1024u)
#define MCB_MAX_THREADS 64u
#define MCB_MAX_BATCHES 65536u /* batch times kept per repetition (--threads) */

enum mcb_loop {
	MCB_LOOP_MALLOC64,
	MCB_LOOP_MALLOC1M,
	MCB_LOOP_READ4K,
	MCB_LOOP_SEND1K,
	MCB_LOOP_MMAP1M,
	MCB_LOOP_SLEEP0,
	MCB_LOOP_COUNT
};

struct mcb_loop_desc {
	const char *name;
	const char *label;
	unsigned batch_calls;        /* calls per timed batch; housekeeping runs between batches */
	unsigned long default_calls; /* timed calls per repetition at scale 1: ~10 ms natively */
};

static const struct mcb_loop_desc mcb_loops[MCB_LOOP_COUNT] = {
	[MCB_LOOP_MALLOC64] = { "malloc64", "malloc+free 64 B", 1024, 2000000 },
	[MCB_LOOP_MALLOC1M] = { "malloc1m", "malloc+free 1 MiB", 1024, 800000 },
	[MCB_LOOP_READ4K] = { "read4k", "read 4 KiB (page cache)", MCB_FILE_PAGES, 25600 },
	[MCB_LOOP_SEND1K] = { "send1k", "send 1 KiB (AF_UNIX)", MCB_SEND_BATCH, 12800 },
	[MCB_LOOP_MMAP1M] = { "mmap1m", "mmap+munmap 1 MiB", 256, 4096 },
	[MCB_LOOP_SLEEP0] = { "sleep0", "clock_nanosleep 0", 64, 640 },
};

struct mcb_ctx {
	/* With --threads: the time of each batch of a repetition, of which the median counts */
	uint64_t *batch_ns;
	unsigned long batch_ns_len;
	int file_fd;
	int sock_tx;
	int sock_rx;
	void *mmap_hint;
	char read_buf[MCB_READ_BYTES];
	char send_buf[MCB_SEND_BYTES];
	char drain_buf[MCB_DRAIN_BYTES];
};

struct mcb_opts {
	unsigned loop_mask;
	double scale;
	unsigned reps;
	long cpu;
	unsigned threads; /* 0: the loops run in the main thread, timed by the wall clock */
	int maps;         /* print the preloaded library's shared memory (scripts/bench) */
	const char *tmpdir;
};

/* Stores through a volatile pointer keep malloc's result observable, so no
 * compiler may pair the malloc with the free and drop both. */
static void *volatile mcb_sink;

static uint64_t mcb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((noinline)) unsigned long mcb_malloc_free(size_t size, unsigned n)
{
	unsigned long failed = 0;

	for (unsigned i = 0; i < n; i++) {
		void *p = malloc(size);

		if (!p)
			failed++;
		mcb_sink = p;
		free(p);
	}
	return failed;
}

static __attribute__((noinline)) unsigned long mcb_read(struct mcb_ctx *ctx, unsigned n)
{
	unsigned long failed = 0;

	for (unsigned i = 0; i < n; i++) {
		if (read(ctx->file_fd, ctx->read_buf, MCB_READ_BYTES) != (ssize_t)MCB_READ_BYTES)
			failed++;
	}
	return failed;
}

static __attribute__((noinline)) unsigned long mcb_send(struct mcb_ctx *ctx, unsigned n)
{
	unsigned long failed = 0;

	for (unsigned i = 0; i < n; i++) {
		/* MSG_DONTWAIT: a full buffer shows up as a failure, never as a hang. */
		if (send(ctx->sock_tx, ctx->send_buf, MCB_SEND_BYTES, MSG_DONTWAIT) !=
		    (ssize_t)MCB_SEND_BYTES)
			failed++;
	}
	return failed;
}

static __attribute__((noinline)) unsigned long mcb_mmap(struct mcb_ctx *ctx, unsigned n)
{
	unsigned long failed = 0;

	for (unsigned i = 0; i < n; i++) {
		void *p = mmap(ctx->mmap_hint, MCB_BIG_BYTES, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			failed++;
		else
			munmap(p, MCB_BIG_BYTES);
	}
	return failed;
}

static __attribute__((noinline)) unsigned long mcb_sleep(unsigned n)
{
	static const struct timespec zero = { 0, 0 };
	unsigned long failed = 0;

	for (unsigned i = 0; i < n; i++) {
		if (clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL) != 0)
			failed++;
	}
	return failed;
}

static unsigned long mcb_run_calls(enum mcb_loop loop, struct mcb_ctx *ctx, unsigned n)
{
	switch (loop) {
	case MCB_LOOP_MALLOC64:
		return mcb_malloc_free(MCB_SMALL_BYTES, n);
	case MCB_LOOP_MALLOC1M:
		return mcb_malloc_free(MCB_BIG_BYTES, n);
	case MCB_LOOP_READ4K:
		return mcb_read(ctx, n);
	case MCB_LOOP_SEND1K:
		return mcb_send(ctx, n);
	case MCB_LOOP_MMAP1M:
		return mcb_mmap(ctx, n);
	case MCB_LOOP_SLEEP0:
		return mcb_sleep(n);
	case MCB_LOOP_COUNT:
		break;
	}
	return n;
}

/* The only function scripts/bench names to callgrind (--toggle-collect): the
 * instructions counted are those of the timed calls, not of warm-up, drains
 * or rewinds. Keep its name in step with scripts/bench. */
__attribute__((noinline, used)) unsigned long mcb_timed_batch(enum mcb_loop loop,
                                                              struct mcb_ctx *ctx, unsigned n);
__attribute__((noinline, used)) unsigned long mcb_timed_batch(enum mcb_loop loop,
                                                              struct mcb_ctx *ctx, unsigned n)
{
	return mcb_run_calls(loop, ctx, n);
}

static int mcb_drain(struct mcb_ctx *ctx)
{
	for (;;) {
		ssize_t r =
		    recv(ctx->sock_rx, ctx->drain_buf, sizeof(ctx->drain_buf), MSG_DONTWAIT);

		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : -EPIPE;
	}
}

/* Untimed work between two batches, the same in every configuration:
 * rewind the file, empty the socket. */
static int mcb_between_batches(enum mcb_loop loop, struct mcb_ctx *ctx)
{
	if (loop == MCB_LOOP_READ4K && lseek(ctx->file_fd, 0, SEEK_SET) != 0)
		return -errno;
	if (loop == MCB_LOOP_SEND1K)
		return mcb_drain(ctx);
	return 0;
}

struct mcb_result {
	unsigned long executed; /* all calls of the loop, warm-up included */
	unsigned long calls;    /* timed calls per repetition */
	unsigned long failed;   /* over all repetitions */
	uint64_t ns;            /* the fastest repetition */
};

static int mcb_warm_up(enum mcb_loop loop, struct mcb_ctx *ctx, unsigned long batches)
{
	/* Lazy binding, first-touch faults, malloc's thresholds, caches. */
	for (unsigned long i = 0; i < batches; i++) {
		int r;

		mcb_run_calls(loop, ctx, mcb_loops[loop].batch_calls);
		r = mcb_between_batches(loop, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

static int mcb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Threads outnumbering CPUs are descheduled now and then: a batch that was ends up far
 * slower than the others. The median batch is the time of a batch that ran through, which
 * is what a call costs while its thread runs (shared cache lines included). */
static uint64_t mcb_median_batch_ns(struct mcb_ctx *ctx, unsigned long batches)
{
	unsigned long n = batches < ctx->batch_ns_len ? batches : ctx->batch_ns_len;

	qsort(ctx->batch_ns, n, sizeof(ctx->batch_ns[0]), mcb_cmp_u64);
	return ctx->batch_ns[n / 2];
}

static int mcb_time_once(enum mcb_loop loop, struct mcb_ctx *ctx, unsigned long batches,
                         uint64_t *ret_ns, unsigned long *ret_failed)
{
	unsigned batch = mcb_loops[loop].batch_calls;

	*ret_ns = 0;
	for (unsigned long i = 0; i < batches; i++) {
		uint64_t t0 = mcb_now_ns();
		uint64_t dt;
		int r;

		*ret_failed += mcb_timed_batch(loop, ctx, batch);
		dt = mcb_now_ns() - t0;
		*ret_ns += dt;
		if (ctx->batch_ns && i < ctx->batch_ns_len)
			ctx->batch_ns[i] = dt;
		r = mcb_between_batches(loop, ctx);
		if (r < 0)
			return r;
	}
	if (ctx->batch_ns)
		*ret_ns = mcb_median_batch_ns(ctx, batches) * batches;
	return 0;
}

/* The fastest of `reps` repetitions: a preemption or a burst from a neighbour
 * only ever adds time, so the minimum is the figure least touched by them. */
static int mcb_run_loop(enum mcb_loop loop, struct mcb_ctx *ctx, unsigned long calls, unsigned reps,
                        pthread_barrier_t *start, struct mcb_result *ret)
{
	unsigned batch = mcb_loops[loop].batch_calls;
	unsigned long batches = (calls + batch - 1) / batch;
	int r = mcb_warm_up(loop, ctx, batches / 10 + 1);

	/* Threads wait for each other even after a failed warm-up, or the others hang. */
	if (start)
		pthread_barrier_wait(start);
	*ret = (struct mcb_result){ (batches / 10 + 1 + reps * batches) * batch, batches * batch, 0,
		                    UINT64_MAX };
	for (unsigned i = 0; i < reps && r == 0; i++) {
		uint64_t ns;

		r = mcb_time_once(loop, ctx, batches, &ns, &ret->failed);
		if (ns < ret->ns)
			ret->ns = ns;
	}
	return r;
}

static int mcb_open_file(struct mcb_ctx *ctx, const char *tmpdir)
{
	char path[4096];
	int r = snprintf(path, sizeof(path), "%s/mc-bench-XXXXXX", tmpdir);

	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	ctx->file_fd = mkstemp(path);
	if (ctx->file_fd < 0)
		return -errno;
	/* Unlinked at once: nothing is left behind, the page cache keeps the data. */
	unlink(path);
	memset(ctx->read_buf, 0x5a, sizeof(ctx->read_buf));
	for (unsigned i = 0; i < MCB_FILE_PAGES; i++) {
		if (write(ctx->file_fd, ctx->read_buf, MCB_READ_BYTES) != (ssize_t)MCB_READ_BYTES)
			return errno ? -errno : -EIO;
	}
	if (lseek(ctx->file_fd, 0, SEEK_SET) != 0)
		return -errno;
	return 0;
}

/* Where the kernel puts a 1 MiB mapping changes what mmap+munmap cost (by
 * 20% here between a 2 MiB-aligned spot and another), and a preloaded library
 * shifts the address-space layout. So every configuration maps at the same
 * kind of spot: a 2 MiB-aligned address with free space on both sides (no
 * merge with a neighbour), given as a hint, which the kernel takes when free. */
static int mcb_pick_mmap_hint(struct mcb_ctx *ctx)
{
	const size_t span = 8 * MCB_HUGE_ALIGN;
	void *base = MAP_FAILED;
	uintptr_t mid;

	/* A rule under test may fail this call on purpose: try again. */
	for (int i = 0; i < 100 && base == MAP_FAILED; i++)
		base =
		    mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	munmap(base, span);
	mid = (uintptr_t)base + span / 2;
	ctx->mmap_hint = (void *)(mid & ~(uintptr_t)(MCB_HUGE_ALIGN - 1));
	return 0;
}

static int mcb_open_socket(struct mcb_ctx *ctx)
{
	int fds[2];
	int sndbuf = 4 * 1024 * 1024;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		return -errno;
	ctx->sock_tx = fds[0];
	ctx->sock_rx = fds[1];
	/* The kernel caps this at wmem_max; MCB_SEND_BATCH sends fit the default cap too. */
	if (setsockopt(ctx->sock_tx, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		return -errno;
	memset(ctx->send_buf, 0xa5, sizeof(ctx->send_buf));
	return 0;
}

static void mcb_pin(long cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "mc-bench: cannot pin to CPU %ld: %s (running unpinned)\n", cpu,
		        strerror(errno));
}

static void mcb_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: mc-bench [--loops NAME,...] [--scale F] [--reps N] [--cpu N] [--tmpdir DIR]\n"
	    "                [--threads T] [--maps]\n"
	    "       mc-bench --list\n"
	    "Runs each loop: a warm-up, then N timed repetitions of default_calls * F calls.\n"
	    "Prints one line per loop (calls per repetition, failures over all of them,\n"
	    "nanoseconds of the fastest repetition):\n"
	    "  loop=NAME calls=N reps=N failed=N ns=N\n"
	    "With --threads T, T threads run the loop at once; a repetition counts as its\n"
	    "median batch times its batches; calls and ns are per thread (ns: the median\n"
	    "thread's fastest repetition):\n"
	    "  loop=NAME calls=N reps=N failed=N ns=N threads=T wall_ns=N\n"
	    "--maps adds executed=N (all calls, warm-up included) and, at the end, the\n"
	    "writable memory of a preloaded libmlchaos: map=library|shm lo=ADDR hi=ADDR\n"
	    "Loops:");
	for (int i = 0; i < MCB_LOOP_COUNT; i++)
		fprintf(out, " %s", mcb_loops[i].name);
	fprintf(out, "\n");
}

static int mcb_parse_loops(const char *list, unsigned *ret_mask)
{
	char buf[256];
	char *save = NULL;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	*ret_mask = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < MCB_LOOP_COUNT; i++) {
			if (strcmp(tok, mcb_loops[i].name) == 0)
				break;
		}
		if (i == MCB_LOOP_COUNT) {
			fprintf(stderr, "mc-bench: unknown loop '%s'\n", tok);
			return -EINVAL;
		}
		*ret_mask |= 1u << i;
	}
	return *ret_mask ? 0 : -EINVAL;
}

static void mcb_list(void)
{
	for (int i = 0; i < MCB_LOOP_COUNT; i++)
		printf("%s\t%s\t%lu\n", mcb_loops[i].name, mcb_loops[i].label,
		       mcb_loops[i].default_calls);
}

/* Returns 0 to run, 1 when done (--help/--list), -1 on a usage error. */
static int mcb_parse_args(int argc, char **argv, struct mcb_opts *opts)
{
	static const struct option longopts[] = {
		{ "loops", required_argument, NULL, 'l' },
		{ "scale", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "maps", no_argument, NULL, 'M' },
		{ "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long l;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'l':
			if (mcb_parse_loops(optarg, &opts->loop_mask) < 0)
				return -1;
			break;
		case 's':
			opts->scale = strtod(optarg, &end);
			if (!end || *end || !(opts->scale > 0 && opts->scale <= 1000))
				return -1;
			break;
		case 'r':
			l = strtol(optarg, &end, 10);
			if (!end || *end || l < 1 || l > 1000)
				return -1;
			opts->reps = (unsigned)l;
			break;
		case 'c':
			opts->cpu = strtol(optarg, &end, 10);
			if (!end || *end || opts->cpu < 0 || opts->cpu >= CPU_SETSIZE)
				return -1;
			break;
		case 't':
			opts->tmpdir = optarg;
			break;
		case 'T':
			l = strtol(optarg, &end, 10);
			if (!end || *end || l < 1 || l > (long)MCB_MAX_THREADS)
				return -1;
			opts->threads = (unsigned)l;
			break;
		case 'M':
			opts->maps = 1;
			break;
		case 'L':
			mcb_list();
			return 1;
		case 'h':
			mcb_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int mcb_setup(struct mcb_ctx *ctx, const char *tmpdir)
{
	int r = mcb_open_file(ctx, tmpdir);

	if (r == 0)
		r = mcb_open_socket(ctx);
	if (r == 0)
		r = mcb_pick_mmap_hint(ctx);
	return r;
}

/* One thread of a --threads run: its own file, socket pair and mapping spot, so that the
 * threads share nothing of the bench's own; timed by the median of its batches. */
struct mcb_worker {
	pthread_t tid;
	struct mcb_ctx *ctx;
	enum mcb_loop loop;
	unsigned long calls;
	unsigned reps;
	pthread_barrier_t *start;
	struct mcb_result res;
	int err;
};

/* The rule under test may fail any allocation of this process at its rate, those of the
 * setup and of pthread_create too: try again, as the loops' own failures are counted. */
#define MCB_RETRIES 100

static void *mcb_calloc(size_t n, size_t size)
{
	void *p = NULL;

	for (int i = 0; i < MCB_RETRIES && !p; i++)
		p = calloc(n, size);
	return p;
}

static int mcb_start_thread(struct mcb_worker *w, void *(*fn)(void *))
{
	int r = EAGAIN;

	for (int i = 0; i < MCB_RETRIES && r != 0; i++)
		r = pthread_create(&w->tid, NULL, fn, w);
	return r;
}

static void *mcb_worker_main(void *arg)
{
	struct mcb_worker *w = arg;

	w->err = mcb_run_loop(w->loop, w->ctx, w->calls, w->reps, w->start, &w->res);
	return NULL;
}

/* Runs loop in n threads at once; *ret gets the sum of failures and, as ns, the median over
 * the threads of each one's fastest repetition; *ret_wall_ns the wall time of it all. */
static int mcb_run_threads(enum mcb_loop loop, struct mcb_worker *w, unsigned n,
                           unsigned long calls, unsigned reps, struct mcb_result *ret,
                           uint64_t *ret_wall_ns)
{
	pthread_barrier_t start;
	uint64_t ns[MCB_MAX_THREADS];
	uint64_t t0 = mcb_now_ns();
	unsigned started = 0;
	int r = 0;

	if (pthread_barrier_init(&start, NULL, n) != 0)
		return -EAGAIN;
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct mcb_worker){
			.ctx = w[i].ctx, .loop = loop, .calls = calls, .reps = reps, .start = &start
		};
		if (mcb_start_thread(&w[i], mcb_worker_main) != 0)
			break;
		started++;
	}
	if (started < n) {
		/* The started ones wait at the barrier forever: nothing to do but leave. */
		fprintf(stderr, "mc-bench: cannot start %u threads\n", n);
		exit(2);
	}
	*ret = (struct mcb_result){ 0, 0, 0, 0 };
	for (unsigned i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].err < 0)
			r = w[i].err;
		ret->calls = w[i].res.calls;
		ret->executed += w[i].res.executed;
		ret->failed += w[i].res.failed;
		ns[i] = w[i].res.ns;
	}
	*ret_wall_ns = mcb_now_ns() - t0;
	pthread_barrier_destroy(&start);
	qsort(ns, n, sizeof(ns[0]), mcb_cmp_u64);
	ret->ns = ns[n / 2];
	return r;
}

static int mcb_print_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libmlchaos"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		unsigned long lo = (unsigned long)(info->dlpi_addr + ph->p_vaddr);

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
			printf("map=library lo=%#lx hi=%#lx\n", lo,
			       lo + (unsigned long)ph->p_memsz);
	}
	return 0;
}

/* --maps: the memory of the preloaded library that every thread shares, its writable
 * segments and its shared-memory segment, for the store census of scripts/bench. */
static void mcb_print_maps(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	dl_iterate_phdr(mcb_print_object, NULL);
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (strstr(line, "/dev/shm/mlchaos") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			printf("map=shm lo=%#lx hi=%#lx\n", lo, hi);
	}
	if (f)
		fclose(f);
}

static int mcb_run_all(const struct mcb_opts *opts, struct mcb_ctx *ctx, struct mcb_worker *w)
{
	for (int i = 0; i < MCB_LOOP_COUNT; i++) {
		struct mcb_result res;
		unsigned long calls;
		uint64_t wall_ns = 0;
		int r;

		if (!(opts->loop_mask & (1u << i)))
			continue;
		calls = (unsigned long)(mcb_loops[i].default_calls * opts->scale);
		if (calls < 1)
			calls = 1;
		if (opts->threads)
			r = mcb_run_threads((enum mcb_loop)i, w, opts->threads, calls, opts->reps,
			                    &res, &wall_ns);
		else
			r = mcb_run_loop((enum mcb_loop)i, ctx, calls, opts->reps, NULL, &res);
		if (r < 0) {
			fprintf(stderr, "mc-bench: %s: %s\n", mcb_loops[i].name, strerror(-r));
			return r;
		}
		printf("loop=%s calls=%lu reps=%u failed=%lu ns=%llu", mcb_loops[i].name, res.calls,
		       opts->reps, res.failed, (unsigned long long)res.ns);
		if (opts->threads)
			printf(" threads=%u wall_ns=%llu", opts->threads,
			       (unsigned long long)wall_ns);
		if (opts->maps)
			printf(" executed=%lu", res.executed);
		printf("\n");
		fflush(stdout);
	}
	if (opts->maps)
		mcb_print_maps();
	return 0;
}

int main(int argc, char **argv)
{
	struct mcb_opts opts = { (1u << MCB_LOOP_COUNT) - 1, 1.0, 1, -1, 0, 0, NULL };
	static struct mcb_ctx ctx;
	static struct mcb_worker workers[MCB_MAX_THREADS];
	int r = 0;

	r = mcb_parse_args(argc, argv, &opts);
	if (r != 0) {
		if (r < 0)
			mcb_usage(stderr);
		return r < 0 ? 2 : 0;
	}
	if (!opts.tmpdir)
		opts.tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	mcb_pin(opts.cpu);
	/* A zero sleep would otherwise wait out the default 50 us timer slack and
	 * hide any per-call cost; 1 ns keeps it a bare syscall in every configuration. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* threads inherit it */
	if (!opts.threads)
		r = mcb_setup(&ctx, opts.tmpdir);
	for (unsigned i = 0; i < opts.threads && r == 0; i++) {
		workers[i].ctx = mcb_calloc(1, sizeof(*workers[i].ctx));
		if (workers[i].ctx) {
			workers[i].ctx->batch_ns_len = MCB_MAX_BATCHES;
			workers[i].ctx->batch_ns =
			    mcb_calloc(MCB_MAX_BATCHES, sizeof(workers[i].ctx->batch_ns[0]));
		}
		if (!workers[i].ctx || !workers[i].ctx->batch_ns)
			r = -ENOMEM;
		if (r == 0)
			r = mcb_setup(workers[i].ctx, opts.tmpdir);
	}
	if (r < 0) {
		fprintf(stderr, "mc-bench: setup: %s\n", strerror(-r));
		return 2;
	}
	return mcb_run_all(&opts, &ctx, workers) < 0 ? 2 : 0;
}
