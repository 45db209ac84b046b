/* registry.c: model references and the atomic swap on reload (see registry.h).
 * The lock is held only to read or swap a pointer and bump a count: never during a load,
 * a prediction or a free, so a slow or failing reload never stalls a request. */
#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mc_reg_init(struct mc_registry *reg, const char *path, const char *fallback_path,
                enum mc_load_method method, bool verify)
{
	int r;

	memset(reg, 0, sizeof(*reg));
	r = pthread_mutex_init(&reg->lock, NULL);
	if (r)
		return -r;
	reg->path = path;
	reg->fallback_path = fallback_path;
	reg->method = method;
	reg->verify = verify;
	return 0;
}

void mc_reg_destroy(struct mc_registry *reg)
{
	mc_ref_put(reg->primary);
	mc_ref_put(reg->fallback);
	reg->primary = NULL;
	reg->fallback = NULL;
	pthread_mutex_destroy(&reg->lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int make_ref(const char *path, enum mc_load_method method, bool verify, bool fallback,
                    struct mc_model_ref **ret, char *err, size_t err_size)
{
	struct mc_model_ref *ref = calloc(1, sizeof(*ref));
	int r;

	if (!ref) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	r = mc_model_load(path, method, verify, &ref->model, err, err_size);
	if (r < 0) {
		free(ref);
		return r;
	}
	atomic_init(&ref->refs, 1);
	ref->path = path;
	ref->fallback = fallback;
	ref->loaded_at_ms = now_ms();
	*ret = ref;
	return 0;
}

static void remember_file(struct mc_registry *reg)
{
	reg->seen_exists = stat(reg->path, &reg->seen) == 0;
}

int mc_reg_load(struct mc_registry *reg, uint32_t *ret_old_version, char *err, size_t err_size)
{
	struct mc_model_ref *ref = NULL, *old;
	int r;

	/* Remember the file before reading it: a change during the load shows at the next poll. */
	remember_file(reg);
	r = make_ref(reg->path, reg->method, reg->verify, false, &ref, err, err_size);
	pthread_mutex_lock(&reg->lock);
	old = reg->primary;
	*ret_old_version = old             ? old->model->version
	                   : reg->fallback ? reg->fallback->model->version
	                                   : 0;
	if (r == 0) {
		reg->primary = ref;
		reg->reloads += old != NULL;
		reg->last_error[0] = '\0';
	} else {
		reg->reload_failures++;
		snprintf(reg->last_error, sizeof(reg->last_error), "%s", err);
	}
	pthread_mutex_unlock(&reg->lock);
	if (r == 0)
		mc_ref_put(old); /* outside the lock: the free may be long */
	return r;
}

int mc_reg_load_fallback(struct mc_registry *reg, char *err, size_t err_size)
{
	struct mc_model_ref *ref = NULL;
	int r;

	if (!reg->fallback_path)
		return -ENOENT;
	r = make_ref(reg->fallback_path, reg->method, reg->verify, true, &ref, err, err_size);
	if (r < 0)
		return r;
	pthread_mutex_lock(&reg->lock);
	mc_ref_put(reg->fallback); /* NULL the first time; never the last ref of one in use */
	reg->fallback = ref;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

bool mc_reg_changed(struct mc_registry *reg)
{
	struct stat st;

	if (stat(reg->path, &st) < 0)
		return false;
	if (!reg->seen_exists)
		return true;
	return st.st_ino != reg->seen.st_ino || st.st_dev != reg->seen.st_dev ||
	       st.st_size != reg->seen.st_size || st.st_mtim.tv_sec != reg->seen.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != reg->seen.st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != reg->seen.st_ctim.tv_sec ||
	       st.st_ctim.tv_nsec != reg->seen.st_ctim.tv_nsec;
}

static struct mc_model_ref *get(struct mc_registry *reg, bool fallback_only)
{
	struct mc_model_ref *ref;

	pthread_mutex_lock(&reg->lock);
	ref = fallback_only ? reg->fallback : reg->primary ? reg->primary : reg->fallback;
	if (ref)
		atomic_fetch_add_explicit(&ref->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&reg->lock);
	return ref;
}

struct mc_model_ref *mc_reg_get(struct mc_registry *reg)
{
	return get(reg, false);
}

struct mc_model_ref *mc_reg_get_fallback(struct mc_registry *reg)
{
	return get(reg, true);
}

void mc_ref_put(struct mc_model_ref *ref)
{
	if (!ref)
		return;
	/* acq_rel: the thread that frees must see every other user's reads finished. */
	if (atomic_fetch_sub_explicit(&ref->refs, 1, memory_order_acq_rel) == 1) {
		mc_model_free(ref->model);
		free(ref);
	}
}

void mc_reg_stats(struct mc_registry *reg, struct mc_reg_stats *ret)
{
	pthread_mutex_lock(&reg->lock);
	ret->reloads = reg->reloads;
	ret->reload_failures = reg->reload_failures;
	memcpy(ret->last_error, reg->last_error, sizeof(ret->last_error));
	pthread_mutex_unlock(&reg->lock);
}
