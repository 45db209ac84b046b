/* delay.h: injected latency, accurate to the microsecond. */
#ifndef MC_DELAY_H
#define MC_DELAY_H

#include <stdint.h>

/* Waits ns nanoseconds on CLOCK_MONOTONIC, to an absolute deadline so
 * signals do not stretch or cut it: sleeps until 50 us before it, with the
 * thread's timer slack lowered to 1 ns for this sleep only (the default
 * 50 us would swallow a 100 us delay) and restored after, then spins the
 * rest (a late wake-up would). Returns the nanoseconds actually waited.
 * Async-signal-safe; errno is preserved. */
uint64_t mc_delay_ns(uint64_t ns);

/* Spins on the CPU for ns nanoseconds instead of sleeping (action = burn). Returns the
 * nanoseconds spun. Async-signal-safe; errno is preserved. */
uint64_t mc_burn_ns(uint64_t ns);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t mc_now_ns(void);

/* The wall clock (CLOCK_REALTIME) in nanoseconds since the epoch. */
uint64_t mc_unix_ns(void);

#endif
