/* kinds.c: signal, hang, leak and hog (kinds.h). Runs with the guard held, inside any hook,
 * malloc's included: nothing here allocates but through mc_real.mmap, locks or uses stdio,
 * except that a hog starts a thread (pthread_create maps its stack and may allocate: with
 * the guard held those calls pass the hooks straight to libc; not async-signal-safe, so a
 * hog started from a signal handler's call is the one risky spot). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "delay.h"
#include "guard.h"
#include "heap.h"
#include "kinds.h"
#include "real.h"
#include "record.h"

#define HANG_LOOK_NS 1000000ull /* a hang looks for a halt every millisecond */
#define PAGE         4096u

/* One hog per rule: its memory and its schedule, written by the triggering call before the
 * thread starts, read by the thread; `state` says who owns the slot. */
enum { HOG_IDLE, HOG_RUNNING };
struct hog {
	_Atomic int state;
	unsigned char *mem;
	uint64_t bytes, rate_bps, end_ns;
};

/* What the process has leaked, and its hogs. */
static struct {
	_Atomic uint64_t leaked_bytes;
	struct hog hogs[MC_MAX_RULES];
} kinds;

void mc_kind_raise(int signo)
{
	int saved = errno;

	if (signo == SIGSEGV || signo == SIGBUS || signo == SIGABRT) {
		raise(signo); /* at this thread, where the crash would have happened */
		errno = saved;
		return;
	}
	kill(getpid(), signo);
	if (signo == SIGKILL) /* delivered before kill returns; never go on meanwhile */
		for (;;)
			pause();
	errno = saved;
}

bool mc_kind_hang(uint64_t deadline_ns, uint64_t *ret_ns)
{
	int saved = errno;
	uint64_t start = mc_now_ns(), now = start;
	bool halted = false;

	while (now < deadline_ns && !(halted = mc_rec_halted())) {
		uint64_t step = deadline_ns - now < HANG_LOOK_NS ? deadline_ns - now : HANG_LOOK_NS;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step };

		mc_real.clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		now = mc_now_ns();
	}
	*ret_ns = now - start;
	errno = saved;
	return halted;
}

int mc_kind_leak(uint64_t bytes, uint64_t *ret_total)
{
	int saved = errno;
	volatile unsigned char *p =
	    mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if ((void *)p == MAP_FAILED) {
		*ret_total = atomic_load_explicit(&kinds.leaked_bytes, memory_order_relaxed);
		errno = saved;
		return -ENOMEM;
	}
	/* a page never written is not resident: write one byte of each, as the leaking code
	 * that filled its buffers would have */
	for (uint64_t off = 0; off < bytes; off += PAGE)
		p[off] = 0xa5;
	mc_heap_note((int64_t)bytes);
	*ret_total =
	    atomic_fetch_add_explicit(&kinds.leaked_bytes, bytes, memory_order_relaxed) + bytes;
	errno = saved;
	return 0;
}

/* ---- hog ---------------------------------------------------------------------- */

#define HOG_STEP_NS 10000000ull /* the ramp grows, and a hog looks for its end, every 10 ms */

static void touch(unsigned char *p, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to; off += PAGE)
		((volatile unsigned char *)p)[off] = 0x5a;
}

static void *hog_main(void *arg)
{
	struct hog *h = arg;
	uint64_t start = mc_now_ns(), held = 0;

	mc_guard_enter(); /* the library's own thread: no rule decides on its calls */
	while (!mc_rec_halted()) {
		uint64_t now = mc_now_ns();
		uint64_t want = h->bytes;

		if (now >= h->end_ns)
			break;
		if (h->rate_bps) {
			double ramp = (double)(now - start) * 1e-9 * (double)h->rate_bps;
			if (ramp < (double)h->bytes)
				want = (uint64_t)ramp / PAGE * PAGE;
		}
		if (want > held) {
			touch(h->mem, held, want);
			held = want;
		}
		uint64_t step = h->end_ns - now < HOG_STEP_NS ? h->end_ns - now : HOG_STEP_NS;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step };
		mc_real.clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
	mc_real.munmap(h->mem, h->bytes);
	h->mem = NULL;
	atomic_store(&h->state, HOG_IDLE);
	return NULL;
}

int mc_kind_hog(unsigned id, uint64_t bytes, uint64_t rate_bps, uint64_t end_ns)
{
	int saved = errno, expected = HOG_IDLE, r = 0;
	struct hog *h = &kinds.hogs[id % MC_MAX_RULES];
	pthread_attr_t attr;
	pthread_t thread;

	if (!atomic_compare_exchange_strong(&h->state, &expected, HOG_RUNNING))
		return -EALREADY;
	/* reserved now, written by the thread as the ramp goes: no page is resident before */
	h->mem = mc_real.mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->mem == MAP_FAILED) {
		h->mem = NULL;
		atomic_store(&h->state, HOG_IDLE);
		errno = saved;
		return -ENOMEM;
	}
	h->bytes = bytes;
	h->rate_bps = rate_bps;
	h->end_ns = end_ns;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	r = -pthread_create(&thread, &attr, hog_main, h);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		mc_real.munmap(h->mem, bytes);
		h->mem = NULL;
		atomic_store(&h->state, HOG_IDLE);
	}
	errno = saved;
	return r;
}

void mc_kind_after_fork(void)
{
	atomic_store_explicit(&kinds.leaked_bytes, 0, memory_order_relaxed);
	for (unsigned i = 0; i < MC_MAX_RULES; i++) {
		if (atomic_load(&kinds.hogs[i].state) != HOG_RUNNING)
			continue;
		if (kinds.hogs[i].mem)
			mc_real.munmap(kinds.hogs[i].mem, kinds.hogs[i].bytes);
		kinds.hogs[i].mem = NULL;
		atomic_store(&kinds.hogs[i].state, HOG_IDLE);
	}
}
