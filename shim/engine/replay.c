/* replay.c: rules with replay lists (replay = THREAD:CALL:DRAW, replay_key = KEY), which act on
 * the calls a logged run's faults fell on, with the draws it had. The lists are compiled into
 * the rule set's allocation at build time and searched by bisection per call: no allocation,
 * no libc, safe where the engine runs (inside malloc, in signal handlers). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

size_t mc_replay_size(const struct mc_rule_spec *s)
{
	size_t n;

	if (!s->n_replay_calls && !s->n_replay_keys)
		return 0;
	n = ALIGN8(sizeof(struct mc_replay_list));
	n += ALIGN8(s->n_replay_calls * sizeof(struct mc_replay_call));
	n += ALIGN8(s->n_replay_keys * sizeof(struct mc_replay_hkey));
	for (unsigned i = 0; i < s->n_replay_keys; i++)
		n += s->replay_keys[i].len;
	return ALIGN8(n);
}

static uint64_t key_hash(const void *key, size_t len, uint64_t name_seed)
{
	return XXH3_64bits_withSeed(key, len > MC_KEY_MAX ? MC_KEY_MAX : len, name_seed);
}

static int by_hash(const void *a, const void *b)
{
	const struct mc_replay_hkey *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

const struct mc_replay_list *mc_replay_compile(const struct mc_rule_spec *s, uint64_t name_seed,
                                               char **pool)
{
	size_t size = mc_replay_size(s);
	struct mc_replay_list *list = (struct mc_replay_list *)*pool;
	struct mc_replay_call *calls;
	struct mc_replay_hkey *keys;
	char *bytes;

	if (!size)
		return NULL;
	calls = (struct mc_replay_call *)(*pool + ALIGN8(sizeof(*list)));
	keys =
	    (struct mc_replay_hkey *)((char *)calls + ALIGN8(s->n_replay_calls * sizeof(*calls)));
	bytes = (char *)keys + ALIGN8(s->n_replay_keys * sizeof(*keys));
	if (s->n_replay_calls) /* the list may be NULL when empty */
		memcpy(calls, s->replay_calls, s->n_replay_calls * sizeof(*calls));
	for (unsigned i = 0; i < s->n_replay_keys; i++) {
		const struct mc_replay_key *k = &s->replay_keys[i];

		memcpy(bytes, k->bytes, k->len);
		keys[i] =
		    (struct mc_replay_hkey){ key_hash(k->bytes, k->len, name_seed), bytes, k->len };
		bytes += k->len;
	}
	qsort(keys, s->n_replay_keys, sizeof(*keys), by_hash);
	*list = (struct mc_replay_list){ s->n_replay_calls, s->n_replay_keys, calls, keys };
	*pool += size;
	return list;
}

/* The listed call (thread, call), or NULL. */
static const struct mc_replay_call *find_call(const struct mc_replay_list *l, uint64_t thread,
                                              uint64_t call)
{
	size_t lo = 0, hi = l->n_calls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mc_replay_call *c = &l->calls[mid];

		if (c->thread == thread && c->call == call)
			return c;
		if (c->thread < thread || (c->thread == thread && c->call < call))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Whether key (len bytes, cut to MC_KEY_MAX as hashed) with hash h is listed. */
static bool find_key(const struct mc_replay_list *l, uint64_t h, const char *key, size_t len)
{
	size_t lo = 0, hi = l->n_keys;

	if (len > MC_KEY_MAX)
		len = MC_KEY_MAX;
	while (lo < hi) { /* the first entry with this hash */
		size_t mid = lo + (hi - lo) / 2;

		if (l->keys[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < l->n_keys && l->keys[lo].hash == h; lo++)
		if (l->keys[lo].len == len && memcmp(l->keys[lo].bytes, key, len) == 0)
			return true;
	return false;
}

bool mc_replay_select(const struct mc_erule *r, const struct mc_thread_state *ts,
                      const struct mc_call *call, uint64_t *ret_draw)
{
	const struct mc_replay_list *l = r->replay;
	const struct mc_replay_call *c;

	if (l->n_keys && call->key) {
		uint64_t h = key_hash(call->key, call->key_len, r->name_seed);

		*ret_draw = h;
		return find_key(l, h, call->key, call->key_len);
	}
	if (!ts)
		return false;
	c = find_call(l, ts->thread, ts->rule[r->id].calls);
	if (c)
		*ret_draw = c->draw;
	return c != NULL;
}
