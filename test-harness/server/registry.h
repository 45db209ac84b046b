/* registry.h: the models a server process answers with: the primary model (hot-reloaded),
 * an optional fallback, and a refcount on each so a reload never frees a model a request is
 * still using. Never swaps in a model that did not load and verify completely. */
#ifndef MC_REGISTRY_H
#define MC_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "model.h"

struct mc_model_ref {
	atomic_uint refs; /* one for the registry while current, one per request using it */
	struct mc_model *model;
	const char *path; /* the registry's string */
	bool fallback;
	int64_t loaded_at_ms; /* CLOCK_REALTIME, ms since the epoch */
};

struct mc_registry {
	pthread_mutex_t lock;          /* guards the two pointers and the counters below */
	struct mc_model_ref *primary;  /* NULL until the primary model loads */
	struct mc_model_ref *fallback; /* NULL without --fallback or when it failed */
	const char *path;
	const char *fallback_path; /* NULL when none */
	enum mc_load_method method;
	bool verify;
	uint32_t reloads;         /* successful loads of the primary after the first */
	uint32_t reload_failures; /* loads of the primary that failed (the model in use stays) */
	char last_error[MC_MODEL_ERR_BYTES]; /* "" when the last load succeeded */
	/* The identity of the primary file at its last load attempt; the watcher's alone. */
	bool seen_exists;
	struct stat seen;
};

/* A snapshot of the counters, taken under the lock. */
struct mc_reg_stats {
	uint32_t reloads;
	uint32_t reload_failures;
	char last_error[MC_MODEL_ERR_BYTES];
};

/* Set up an empty registry; paths must outlive it. 0 or -errno from pthread_mutex_init. */
int mc_reg_init(struct mc_registry *reg, const char *path, const char *fallback_path,
                enum mc_load_method method, bool verify);
/* Drop both models (requests still holding a ref keep theirs until they put it). */
void mc_reg_destroy(struct mc_registry *reg);

/* Load the primary model from its path and, when it loads, make it current; on failure the
 * current model stays and the reason is in err (required, MC_MODEL_ERR_BYTES is enough) and
 * in the stats. *ret_old_version is the version answered before (0 with no model). 0 or
 * -errno (see mc_model_load). */
int mc_reg_load(struct mc_registry *reg, uint32_t *ret_old_version, char *err, size_t err_size);
/* Load the fallback model once. 0 or -errno with the reason in err. */
int mc_reg_load_fallback(struct mc_registry *reg, char *err, size_t err_size);

/* True when the primary file's inode, size, mtime or ctime differ from the last load attempt
 * (a vanished file is not a change: the current model stays until something replaces it). */
bool mc_reg_changed(struct mc_registry *reg);

/* The model to answer with: the primary, else the fallback, else NULL. Put it when done. */
struct mc_model_ref *mc_reg_get(struct mc_registry *reg);
/* The fallback model, or NULL. Put it when done. */
struct mc_model_ref *mc_reg_get_fallback(struct mc_registry *reg);
/* Give a reference back; the last one frees the model. NULL is fine. */
void mc_ref_put(struct mc_model_ref *ref);

void mc_reg_stats(struct mc_registry *reg, struct mc_reg_stats *ret);

#endif
