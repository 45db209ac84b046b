/* watchdog.h: halt_on_error_rate, set up by segment.c. What it watches comes through
 * mc_rec_response (record.h), from the send family's hooks. */
#ifndef MC_WATCHDOG_H
#define MC_WATCHDOG_H

#include <stdint.h>

/* A ring of `window` responses (0: no watchdog). Init, guard held. */
void mc_watchdog_init(uint32_t window);

/* In a forked child: its own window, starting empty. */
void mc_watchdog_after_fork(void);

#endif
