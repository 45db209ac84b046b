/* tensormap.c: the tensor maps of tensormap.h. Lock-free and never on the malloc family's
 * paths: reads go through the real pread, memory comes from the real mmap (never the host's
 * allocator, which may be inside a hook of ours), and nothing blocks.
 * Risky spot, and the choice made: a map is never freed. Another thread may be damaging a
 * read with it at any moment, without a lock or a reference count; files are few (at most
 * MC_TMAP_FILES) and a map is small beside the weights it describes, so it lives as long as
 * the process (a file rewritten in place gets a new map beside the old one). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fdtable.h"
#include "formats/tensors.h"
#include "lazymap.h"
#include "real.h"
#include "tensormap.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

/* fd tags (fdtable.h): 0 unknown, 1..MC_TMAP_FILES a file, or one of these */
#define TAG_NOT_TENSORS 0xffffu /* recognised: not a format with tensors */
#define TAG_FULL        0xfffeu /* no room was left for its map */

/* Tensor globs whose match bitmap a file keeps; more rules with other globs on one file are
 * matched by the engine per call (the same result, slower). */
#define MATCH_SLOTS 8
#define WHY_MAX     200

#define TEXT_(x) #x
#define TEXT(x)  TEXT_(x)

struct match_slot {
	_Atomic uint64_t key;     /* hash of the glob (never 0), 0 while free */
	_Atomic(uint64_t *) bits; /* NULL while being filled */
};

enum { FILE_UNPUBLISHED, FILE_READY, FILE_MALFORMED };

struct tmap_file {
	_Atomic uint32_t state; /* FILE_*: published last, with release */
	uint32_t format;        /* enum mc_tensor_format */
	uint64_t dev, ino, size, mtime_ns;
	struct mc_tensor_map *map; /* FILE_READY */
	_Atomic uint32_t noted;    /* FILE_MALFORMED: its log line was asked for */
	char why[WHY_MAX];
	struct match_slot match[MATCH_SLOTS];
};

/* The files seen: MC_TMAP_FILES entries, mapped on first use; used of them handed out;
 * full_noted once the log was told the table is full; raw_short_noted, a bit per rule id,
 * once the log was told a format = raw rule's file ends before its declared data (kept
 * across a reload: a rule of the same position is not told again). */
static struct {
	_Atomic(void *) mem;
	_Atomic uint32_t used;
	_Atomic uint32_t full_noted;
	_Atomic uint64_t raw_short_noted[MC_MAX_RULES / 64];
} table;

static struct tmap_file *files(bool create)
{
	return mc_lazy_map(&table.mem, MC_TMAP_FILES * sizeof(struct tmap_file), create);
}

/* ---- memory and reads for the recognisers -------------------------------------------- */

/* Each block is its own anonymous mapping, its size kept in front of it. */
#define BLOCK_HEAD 16

static void *block_alloc(void *ctx, size_t n)
{
	(void)ctx;
	if (n > SIZE_MAX - BLOCK_HEAD)
		return NULL;
	size_t total = n + BLOCK_HEAD;
	void *p =
	    mc_real.mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, &total, sizeof(total));
	return (char *)p + BLOCK_HEAD;
}

static void block_free(void *ctx, void *p)
{
	(void)ctx;
	if (!p)
		return;
	size_t total;
	char *base = (char *)p - BLOCK_HEAD;
	memcpy(&total, base, sizeof(total));
	mc_real.munmap(base, total);
}

static const struct mc_tensor_alloc block_allocator = { block_alloc, block_free, NULL };

static int64_t read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	int fd = *(const int *)ctx;
	size_t got = 0;
	while (got < len) {
		ssize_t r = mc_real.pread64(fd, (char *)buf + got, len - got, (off64_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (int64_t)got;
}

/* ---- files ------------------------------------------------------------------------------ */

static uint64_t mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
}

static bool same_file(const struct tmap_file *e, const struct stat *st)
{
	return e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
	       e->size == (uint64_t)st->st_size && e->mtime_ns == mtime_ns(st);
}

/* The published entry of the file st describes: its tag, or 0. */
static uint16_t find_file(const struct stat *st)
{
	struct tmap_file *t = files(false);
	uint32_t n = atomic_load_explicit(&table.used, memory_order_acquire);
	for (uint32_t i = 0; t && i < n && i < MC_TMAP_FILES; i++)
		if (atomic_load_explicit(&t[i].state, memory_order_acquire) != FILE_UNPUBLISHED &&
		    same_file(&t[i], st))
			return (uint16_t)(i + 1);
	return 0;
}

/* An entry of its own for a new file, or NULL when all are taken. */
static struct tmap_file *claim_file(uint32_t *ret_index)
{
	struct tmap_file *t = files(true);
	uint32_t n = atomic_load_explicit(&table.used, memory_order_relaxed);
	do {
		if (!t || n >= MC_TMAP_FILES)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(
	    &table.used, &n, n + 1, memory_order_acq_rel, memory_order_relaxed));
	*ret_index = n;
	return &t[n];
}

/* The format a recogniser's message names: a malformed file has no map to say it, and its
 * message starts with the format's name ("safetensors: ..."). */
static uint32_t format_of_why(const char *why)
{
	/* Every format after MC_TF_NONE has a name; the first "none" past them ends the list. */
	for (uint32_t f = MC_TF_SAFETENSORS;; f++) {
		const char *name = mc_tensor_format_name((enum mc_tensor_format)f);
		if (strcmp(name, "none") == 0)
			break;
		size_t n = strlen(name);
		if (strncmp(why, name, n) == 0 && why[n] == ':')
			return f;
	}
	return MC_TF_NONE;
}

/* Publishes the entry of the file st describes: its map (r 1) or why it has none (r -1).
 * Returns its tag, or TAG_FULL (the map is freed). */
static uint16_t publish(const struct stat *st, struct mc_tensor_map *map, int r, const char *why)
{
	uint32_t index;
	struct tmap_file *e = claim_file(&index);
	if (!e) {
		mc_tensor_map_free(map, &block_allocator);
		return TAG_FULL;
	}
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = mtime_ns(st);
	e->map = map;
	e->format = map ? map->format : format_of_why(why);
	memcpy(e->why, why, WHY_MAX);
	e->why[WHY_MAX - 1] = '\0';
	atomic_store_explicit(&e->state, r > 0 ? FILE_READY : FILE_MALFORMED, memory_order_release);
	return (uint16_t)(index + 1);
}

/* ---- ONNX external data ------------------------------------------------------------------
 * An ONNX model may keep initializers in other files (external_data: a location relative to
 * the model's directory, an offset, a length). Once the model is recognised, each such file
 * that exists gets an entry of its own now, its map built from the model alone, so that when
 * the process opens it later it is found like any recognised file (by device, inode, size and
 * time), in any thread and in children forked after. */

#define EXTERNAL_FILES_MAX 16 /* external files linked per model; more are left alone */

struct externals {
	const struct mc_tensor_src *model;
	char path[PATH_MAX]; /* the model's directory, dir_len bytes, then a location */
	size_t dir_len;
	uint64_t seen[EXTERNAL_FILES_MAX]; /* hashes of the locations tried */
	unsigned n_seen;
};

/* Called by the walk for every external initializer: the first time a location comes, the
 * file it names gets its entry (unless it has one, does not exist or is no regular file). */
static void link_external(void *ctx, const char *location, size_t len)
{
	struct externals *x = ctx;
	uint64_t h = XXH3_64bits(location, len);
	for (unsigned i = 0; i < x->n_seen; i++)
		if (x->seen[i] == h)
			return;
	if (x->n_seen == EXTERNAL_FILES_MAX)
		return;
	x->seen[x->n_seen++] = h;
	struct stat st;
	if (x->dir_len + 1 + len >= sizeof(x->path))
		return;
	x->path[x->dir_len] = '/';
	memcpy(x->path + x->dir_len + 1, location, len);
	x->path[x->dir_len + 1 + len] = '\0';
	if (mc_real.stat(x->path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    find_file(&st))
		return;
	struct mc_tensor_map *map = NULL;
	char why[WHY_MAX];
	int r = mc_onnx_external_map(x->model, &block_allocator, location, len,
	                             (uint64_t)st.st_size, &map, why, sizeof(why));
	if (r != 0)
		publish(&st, map, r, why);
}

/* After an ONNX model open on fd was recognised: entries for its external data files. */
static void link_externals(int fd, const struct mc_tensor_src *model)
{
	struct externals x = { .model = model };
	if (mc_fd_real_path(fd, x.path, sizeof(x.path)) <= 0)
		return;
	x.dir_len = (size_t)(strrchr(x.path, '/') - x.path); /* the path is absolute */
	char why[WHY_MAX];
	mc_onnx_externals(model, &block_allocator, link_external, &x, why, sizeof(why));
}

/* Recognises the file open on fd (st: its status) and returns its tag. Two threads that
 * recognise the same new file at once each publish an entry: a duplicate, never a wrong map. */
static uint16_t recognise(int fd, const struct stat *st)
{
	struct mc_tensor_src src = { .read_at = read_at,
		                     .ctx = &fd,
		                     .size = (uint64_t)st->st_size };
	struct mc_tensor_map *map = NULL;
	char why[WHY_MAX];
	int r = mc_tensor_recognize(&src, &block_allocator, &map, why, sizeof(why));
	if (r == 0)
		return TAG_NOT_TENSORS;
	bool onnx = map && map->format == MC_TF_ONNX;
	uint16_t tag = publish(st, map, r, why);
	if (onnx)
		link_externals(fd, &src);
	return tag;
}

static uint16_t tag_for(int fd, const struct stat *st)
{
	uint16_t tag = find_file(st);
	if (!tag)
		tag = recognise(fd, st);
	mc_fd_set_tag(fd, tag);
	return tag;
}

void mc_tmap_opened(int fd)
{
	struct stat st;
	int saved = errno;
	int flags = mc_real.fcntl(fd, F_GETFL);
	/* write-only: nothing to read it with (and nothing will be read); empty: being written */
	if (flags >= 0 && (flags & O_ACCMODE) != O_WRONLY && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size > 0)
		tag_for(fd, &st);
	errno = saved;
}

/* ---- match bitmaps ------------------------------------------------------------------- */

/* The bitmap of which tensors of e's map the rule's glob selects: filled by the first caller
 * that asks for this glob, NULL while another thread fills it or when the slots are taken
 * (the engine then matches the names itself). */
static const uint64_t *match_bits(struct tmap_file *e, const struct mc_erule *rule)
{
	if (!rule->tensor)
		return NULL; /* every tensor: nothing to look up */
	uint64_t key = XXH3_64bits(rule->tensor, strlen(rule->tensor)) | 1;
	for (unsigned i = 0; i < MATCH_SLOTS; i++) {
		struct match_slot *s = &e->match[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == 0 && atomic_compare_exchange_strong_explicit(
		                  &s->key, &k, key, memory_order_acq_rel, memory_order_acquire)) {
			uint64_t *bits =
			    block_alloc(NULL, mc_engine_tensor_match_words(e->map->n) * 8);
			if (bits) {
				mc_engine_tensor_match(rule, e->map, bits);
				atomic_store_explicit(&s->bits, bits, memory_order_release);
			}
			return bits;
		}
		if (k == key)
			return atomic_load_explicit(&s->bits, memory_order_acquire);
	}
	return NULL;
}

/* ---- decisions ------------------------------------------------------------------------ */

static enum mc_tmap_status use_file(struct tmap_file *e, const struct mc_erule *rule,
                                    struct mc_tmap_use *ret)
{
	ret->format = mc_tensor_format_name((enum mc_tensor_format)e->format);
	if (atomic_load_explicit(&e->state, memory_order_acquire) != FILE_READY) {
		if (atomic_exchange_explicit(&e->noted, 1, memory_order_relaxed) == 0)
			ret->note = e->why;
		return MC_TMAP_MALFORMED;
	}
	ret->view.map = e->map;
	ret->view.match = match_bits(e, rule);
	return MC_TMAP_READY;
}

static enum mc_tmap_status for_file(int fd, const struct mc_erule *rule, struct mc_tmap_use *ret)
{
	uint16_t tag = mc_fd_tag(fd);
	struct stat st;
	if (tag == TAG_NOT_TENSORS)
		return MC_TMAP_NONE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return MC_TMAP_NONE;
	struct tmap_file *t = files(false);
	/* the tag names the file still open on fd, unchanged since: the common case */
	if (!(t && tag >= 1 && tag <= MC_TMAP_FILES && same_file(&t[tag - 1], &st)))
		tag = tag_for(fd, &st);
	if (tag == TAG_NOT_TENSORS)
		return MC_TMAP_NONE;
	if (tag == TAG_FULL) {
		if (atomic_exchange_explicit(&table.full_noted, 1, memory_order_relaxed) == 0)
			ret->note = "no room for another tensor map (" TEXT(
			    MC_TMAP_FILES) " files have one): this file and later ones are left alone";
		return MC_TMAP_FULL;
	}
	return use_file(&files(false)[tag - 1], rule, ret);
}

bool mc_tmap_nothing_to_damage(int fd)
{
	uint16_t tag = fd >= 0 ? mc_fd_tag(fd) : 0;
	if (tag == TAG_NOT_TENSORS)
		return true;
	if (tag == TAG_FULL)
		return atomic_load_explicit(&table.full_noted, memory_order_relaxed) != 0;
	struct tmap_file *t = tag >= 1 && tag <= MC_TMAP_FILES ? files(false) : NULL;
	return t &&
	       atomic_load_explicit(&t[tag - 1].state, memory_order_acquire) == FILE_MALFORMED &&
	       atomic_load_explicit(&t[tag - 1].noted, memory_order_relaxed) != 0;
}

/* format = raw: the rule's declared layout over the file open on fd, recognised or not (the
 * user said raw). Nothing is allocated or kept: the map lives in ret. */
static enum mc_tmap_status for_raw(int fd, const struct mc_erule *rule, struct mc_tmap_use *ret)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return MC_TMAP_NONE;
	ret->format = "raw";
	if (mc_tensor_raw_map(&ret->raw, (uint64_t)st.st_size, rule->offset_lo, rule->offset_hi,
	                      (enum mc_dtype)rule->raw_dtype, ret->raw_why,
	                      sizeof(ret->raw_why)) < 0) {
		uint64_t bit = 1ull << (rule->id % 64);
		if (!(atomic_fetch_or_explicit(&table.raw_short_noted[rule->id / 64], bit,
		                               memory_order_relaxed) &
		      bit))
			ret->note = ret->raw_why;
		return MC_TMAP_MALFORMED;
	}
	ret->view.map = &ret->raw.map;
	ret->view.match = NULL; /* one tensor: the engine matches its name itself */
	return MC_TMAP_READY;
}

enum mc_tmap_status mc_tmap_for(int fd, const struct mc_erule *rule, struct mc_tmap_use *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (fd < 0)
		return MC_TMAP_NONE;
	int saved = errno;
	enum mc_tmap_status s = rule->raw ? for_raw(fd, rule, ret) : for_file(fd, rule, ret);
	errno = saved;
	return s;
}

/* ---- what trace reports -------------------------------------------------------------- */

uint16_t mc_tmap_model_tag(int fd)
{
	uint16_t tag = fd >= 0 ? mc_fd_tag(fd) : 0;
	return tag >= 1 && tag <= MC_TMAP_FILES ? tag : 0;
}

bool mc_tmap_about(uint16_t tag, struct mc_tmap_about *ret)
{
	struct tmap_file *t = tag >= 1 && tag <= MC_TMAP_FILES ? files(false) : NULL;
	if (!t)
		return false;
	struct tmap_file *e = &t[tag - 1];
	uint32_t state = atomic_load_explicit(&e->state, memory_order_acquire);
	if (state == FILE_UNPUBLISHED)
		return false;
	ret->format = mc_tensor_format_name((enum mc_tensor_format)e->format);
	ret->tensors = state == FILE_READY ? e->map->n : 0;
	ret->why = state == FILE_READY ? NULL : e->why;
	return true;
}
