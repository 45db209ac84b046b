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

static _Atomic uint8_t *ring; /* 1 = that response was an error */
static uint32_t ring_window;
static _Atomic uint64_t ring_pos;
static _Atomic uint64_t ring_errors;

void mc_watchdog_init(uint32_t window)
{
	if (!window)
		return;
	void *p =
	    mc_real.mmap(NULL, window, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		ring = p;
		ring_window = window;
	}
}

void mc_watchdog_after_fork(void)
{
	if (ring) {
		memset((void *)ring, 0, ring_window);
		atomic_store(&ring_pos, 0);
		atomic_store(&ring_errors, 0);
	}
}

bool mc_rec_watches_responses(void)
{
	return ring != NULL;
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
	mc_buf_u64(&b, ring_window);
	mc_buf_puts(&b, " responses were errors (5xx or reset), over halt_on_error_rate = ");
	mc_buf_u64(&b, mc_rec_segment->halt_on_error_rate_ppm / 10000);
	mc_buf_puts(&b, "%: injection halted");
	mc_copy_str(mc_rec_segment->halt_reason, sizeof(mc_rec_segment->halt_reason), reason);
	mc_say(reason);
	mc_log_watchdog_halt(errors, ring_window, mc_rec_segment->halt_on_error_rate_ppm);
}

void mc_rec_response(const void *buf, size_t len, long sent, int err)
{
	if (!ring || !mc_rec_segment)
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
	uint64_t pos = atomic_fetch_add_explicit(&ring_pos, 1, memory_order_relaxed);
	uint8_t old =
	    atomic_exchange_explicit(&ring[pos % ring_window], is_error, memory_order_relaxed);
	if (is_error > old)
		atomic_fetch_add_explicit(&ring_errors, 1, memory_order_relaxed);
	else if (is_error < old)
		atomic_fetch_sub_explicit(&ring_errors, 1, memory_order_relaxed);
	if (pos + 1 < ring_window)
		return; /* not a full window yet */
	uint64_t errors = atomic_load_explicit(&ring_errors, memory_order_relaxed);
	if (errors * 1000000ull > (uint64_t)mc_rec_segment->halt_on_error_rate_ppm * ring_window)
		trip(errors);
}