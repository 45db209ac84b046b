/* kinds.c: signal, hang, leak and burn (kinds.h). Runs with the guard held, inside any hook,
 * malloc's included: nothing here allocates but through mc_real.mmap, locks or uses stdio. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "delay.h"
#include "heap.h"
#include "kinds.h"
#include "real.h"
#include "record.h"

#define HANG_LOOK_NS 1000000ull /* a hang looks for a halt every millisecond */
#define PAGE         4096u

static struct {
	_Atomic uint64_t leaked_bytes;
} leaks;

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
		*ret_total = atomic_load_explicit(&leaks.leaked_bytes, memory_order_relaxed);
		errno = saved;
		return -ENOMEM;
	}
	/* a page never written is not resident: write one byte of each, as the leaking code
	 * that filled its buffers would have */
	for (uint64_t off = 0; off < bytes; off += PAGE)
		p[off] = 0xa5;
	mc_heap_note((int64_t)bytes);
	*ret_total =
	    atomic_fetch_add_explicit(&leaks.leaked_bytes, bytes, memory_order_relaxed) + bytes;
	errno = saved;
	return 0;
}

void mc_kind_after_fork(void)
{
	atomic_store_explicit(&leaks.leaked_bytes, 0, memory_order_relaxed);
}
