/* shm.h: the layout of the per-process shared-memory segment, read by the
 * mlchaos command (stats, top, metrics) and written by the library. One
 * file per process, /dev/shm/mlchaos.<pid>, created 0600 without following
 * links, removed at exit. Fixed layout, versioned: a command reading a
 * segment of another version says so instead of guessing. */
#ifndef MC_SHM_H
#define MC_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"

#define MC_SHM_DIR     "/dev/shm"
#define MC_SHM_PREFIX  "mlchaos."
#define MC_SHM_MAGIC   0x31736f6168636c6dull /* "mlchaos1" */
#define MC_SHM_VERSION 3u /* 2: faults counted per phase; 3: no_effect per rule */

/* Bits of the control word. Injection stops while any is set. */
#define MC_CTL_HALTED     (1u << 0) /* `mlchaos halt` */
#define MC_CTL_WATCHDOG   (1u << 1) /* halt_on_error_rate tripped */
#define MC_CTL_MAX_FAULTS (1u << 2) /* max_faults reached */
#define MC_CTL_HALT_FILE  (1u << 3) /* halt_file exists */

/* HTTP response classes counted by the watchdog. */
enum mc_http_class {
	MC_HTTP_1XX,
	MC_HTTP_2XX,
	MC_HTTP_3XX,
	MC_HTTP_4XX,
	MC_HTTP_5XX,
	MC_HTTP_RESET, /* the connection was reset (ECONNRESET/EPIPE on a send) */
	MC_HTTP_CLASSES
};

/* The phase of the host a fault was decided in (see `phase =`): the index of by_phase. */
enum mc_shm_phase { MC_SHM_LOAD, MC_SHM_SERVE, MC_SHM_PHASES };

struct mc_shm_rule {
	char name[64];
	uint8_t hook, action, shadow, enabled;
	uint32_t reserved;
	_Atomic uint64_t would_inject; /* shadow decisions */
	_Atomic uint64_t applied;      /* decisions applied (not halted in between) */
	/* corrupt decisions that changed no byte: not faults, not in applied (nor in the
	 * engine's injected: their claim on times and max_faults was given back) */
	_Atomic uint64_t no_effect;
	/* the same two, split by the phase the decision was made in; each pair sums to the
	 * total above */
	struct {
		_Atomic uint64_t would_inject, applied;
	} by_phase[MC_SHM_PHASES];
};

struct mc_shm {
	uint64_t magic;
	uint32_t version;
	uint32_t size; /* bytes of the whole segment */
	int32_t pid;
	int32_t ppid;
	uint64_t started_unix_ns;
	char argv0[256];
	char config_path[1024];
	uint64_t config_hash; /* xxh3 of the config file's bytes */
	uint64_t seed;
	uint32_t n_rules;
	uint32_t halt_window;            /* responses, 0 = no watchdog */
	uint32_t halt_on_error_rate_ppm; /* 0 = no watchdog */
	uint32_t reserved;

	/* Control: written by the command, read by the library. */
	_Atomic uint32_t control;
	_Atomic uint32_t reload_requested; /* generation asked by `mlchaos reload` */
	_Atomic uint32_t reload_done;      /* generation the library has handled */
	_Atomic int32_t reload_status;     /* 0 ok, or -errno (messages in reload_message) */
	char reload_message[2048];
	char halt_reason[256];

	/* Figures. */
	_Atomic uint64_t inflight; /* decisions being applied right now */
	_Atomic uint64_t faults_injected;
	_Atomic uint64_t faults_suppressed; /* decided, then dropped because of a halt */
	_Atomic uint64_t events_logged;
	_Atomic uint64_t events_dropped; /* log lines that could not be written */
	_Atomic uint64_t http_responses[MC_HTTP_CLASSES];
	_Atomic uint64_t watchdog_trips;

	struct mc_shm_rule rules[MC_MAX_RULES];
	struct mc_engine_state engine __attribute__((aligned(64)));
};

#endif
