/* watchdog.c: halt_on_error_rate (watchdog.h, record.h): the last halt_window responses the
 * process sent, each an error or not, in a ring; when the share of errors passes the rate,
 * injection halts (MC_CTL_WATCHDOG), said on stderr and in the log. Lock-free and
 * allocation-free on the send path. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "eventlog.h"
#include "fmt.h"
#include "real.h"
#include "record.h"
#include "reqkey.h"
#include "watchdog.h"

/* The last `window` responses, each 1 if it was an error; pos counts every response seen,
 * errors the 1s in the ring. */
static struct {
	_Atomic uint8_t *slots;
	uint32_t window;
	_Atomic uint64_t pos;
	_Atomic uint64_t errors;
} ring;

void mc_watchdog_init(uint32_t window)
{
	if (!window)
		return;
	void *p =
	    mc_real.mmap(NULL, window, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		ring.slots = p;
		ring.window = window;
	}
}

void mc_watchdog_after_fork(void)
{
	if (ring.slots) {
		memset((void *)ring.slots, 0, ring.window);
		atomic_store(&ring.pos, 0);
		atomic_store(&ring.errors, 0);
	}
}

bool mc_rec_watches_responses(void)
{
	return ring.slots != NULL;
}

static void trip(uint64_t errors)
{
	uint32_t before = atomic_fetch_or(&mc_rec_segment->control, MC_CTL_WATCHDOG);
	if (before & MC_CTL_WATCHDOG)
		return;
	atomic_fetch_add(&mc_rec_segment->watchdog_trips, 1);
	char reason[256];
	struct mc_buf b;
	mc_buf_init(&b, reason, sizeof(reason));
	mc_buf_puts(&b, "watchdog: ");
	mc_buf_u64(&b, errors);
	mc_buf_puts(&b, " of the last ");
	mc_buf_u64(&b, ring.window);
	mc_buf_puts(&b, " responses were errors (5xx or reset), over halt_on_error_rate = ");
	mc_buf_u64(&b, mc_rec_segment->halt_on_error_rate_ppm / 10000);
	mc_buf_puts(&b, "%: injection halted");
	mc_copy_str(mc_rec_segment->halt_reason, sizeof(mc_rec_segment->halt_reason), reason);
	mc_say(reason);
	mc_log_watchdog_halt(errors, ring.window, mc_rec_segment->halt_on_error_rate_ppm);
}

void mc_rec_response(const void *buf, size_t len, long sent, int err)
{
	if (!ring.slots || !mc_rec_segment)
		return;
	int cls;
	if (sent < 0) {
		if (err != ECONNRESET && err != EPIPE)
			return;
		cls = MC_HTTP_RESET;
	} else {
		cls = mc_http_status_class(buf, (size_t)sent < len ? (size_t)sent : len);
		if (cls < 0)
			return;
	}
	atomic_fetch_add_explicit(&mc_rec_segment->http_responses[cls], 1, memory_order_relaxed);
	uint8_t is_error = cls == MC_HTTP_5XX || cls == MC_HTTP_RESET;
	uint64_t pos = atomic_fetch_add_explicit(&ring.pos, 1, memory_order_relaxed);
	uint8_t old = atomic_exchange_explicit(&ring.slots[pos % ring.window], is_error,
	                                       memory_order_relaxed);
	if (is_error > old)
		atomic_fetch_add_explicit(&ring.errors, 1, memory_order_relaxed);
	else if (is_error < old)
		atomic_fetch_sub_explicit(&ring.errors, 1, memory_order_relaxed);
	if (pos + 1 < ring.window)
		return; /* not a full window yet */
	uint64_t errors = atomic_load_explicit(&ring.errors, memory_order_relaxed);
	if (errors * 1000000ull > (uint64_t)mc_rec_segment->halt_on_error_rate_ppm * ring.window)
		trip(errors);
}