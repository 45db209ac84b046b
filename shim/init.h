/* init.h: the shim's lazy, idempotent start. */
#ifndef MC_INIT_H
#define MC_INIT_H

/* Resolves the real functions, reads the environment and the config, and
 * arms the hook families that have work. Runs once (the constructor calls
 * it); later calls return at once. Never exits the process, except when the
 * user asked for it with on_error = abort. */
void mc_init(void);

#endif
