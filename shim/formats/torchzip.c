/* torchzip.c: the PyTorch zip checkpoint recogniser (torch.save since 1.6). The archive is
 * read from its end of central directory (ZIP64 too); each record <archive>/data/<key> is a
 * storage, stored uncompressed, whose bytes start after its local header (30 bytes, the name,
 * the extra field torch uses to align them). <archive>/data.pkl names the storages: the first
 * state-dict key that uses one names it, and its class (torch.FloatStorage, ...) gives its
 * dtype. A zip without <archive>/data.pkl is not a checkpoint: not recognised. */
#include <string.h>

#include "internal.h"

#define EOCD_SIZE       22
#define EOCD_SEARCH     (EOCD_SIZE + 0xffff) /* the record and the longest comment */
#define ZIP64_LOC_SIZE  20
#define ZIP64_EOCD_SIZE 56
#define CDIR_ENTRY_SIZE 46
#define LOCAL_HDR_SIZE  30
#define BYTEORDER_MAX   8

/* One record of the central directory that matters: a storage or data.pkl. */
struct zrec {
	const char *name; /* in the central directory buffer; not NUL-terminated */
	uint32_t name_len;
	uint32_t key_at; /* where the key starts in name (after "<archive>/data/") */
	uint16_t method;
	uint16_t flags;
	uint64_t size;    /* compressed size = stored size */
	uint64_t local;   /* offset of the local header */
	uint64_t data;    /* first byte of the data, once the local header is read */
	int32_t named_at; /* pickle string naming it: offset into the pickle, or -1 */
	uint32_t named_len;
	uint32_t shape_at; /* the size: z->dims[shape_at, shape_at + shape_n), when has_shape */
	uint8_t shape_n;
	bool has_shape;
	uint8_t dtype;
};

struct zip {
	struct mc_tf *tf;
	uint64_t cd_off, cd_size, entries, cd_end_limit;
	char *cd;
	struct zrec *recs;
	uint32_t n_recs;
	const char *prefix; /* "<archive>/" of data.pkl */
	size_t prefix_len;
	struct zrec pkl, byteorder;
	bool has_pkl, has_byteorder;
	bool oom; /* a size could not be kept: the walk fails */
	const uint8_t *pickle;
	uint64_t *dims; /* the records' sizes, one after the other */
	size_t dims_len, dims_cap;
};

/* ---- the end of the archive ---- */

static int read_zip64_eocd(struct zip *z, uint64_t eocd_at)
{
	uint8_t loc[ZIP64_LOC_SIZE], rec[ZIP64_EOCD_SIZE];
	if (eocd_at < ZIP64_LOC_SIZE ||
	    mc_tf_read(z->tf, eocd_at - ZIP64_LOC_SIZE, loc, sizeof(loc), "the ZIP64 locator") < 0)
		return mc_tf_fail(z->tf, "ZIP64 end of central directory locator missing");
	if (memcmp(loc, "PK\x06\x07", 4) != 0)
		return mc_tf_fail(z->tf, "bad ZIP64 end of central directory locator");
	uint64_t at = mc_le64(loc + 8);
	if (at > eocd_at - ZIP64_LOC_SIZE ||
	    mc_tf_read(z->tf, at, rec, sizeof(rec), "the ZIP64 end of central directory") < 0 ||
	    memcmp(rec, "PK\x06\x06", 4) != 0)
		return mc_tf_fail(z->tf, "bad ZIP64 end of central directory record at %llu",
		                  (unsigned long long)at);
	z->entries = mc_le64(rec + 32);
	z->cd_size = mc_le64(rec + 40);
	z->cd_off = mc_le64(rec + 48);
	z->cd_end_limit = at;
	return 0;
}

/* The last end-of-central-directory record whose comment ends at the end of the file. */
static int find_eocd(struct zip *z, const uint8_t *tail, size_t n, uint64_t tail_at, uint64_t *ret)
{
	for (size_t i = n >= EOCD_SIZE ? n - EOCD_SIZE + 1 : 0; i-- > 0;) {
		if (memcmp(tail + i, "PK\x05\x06", 4) != 0)
			continue;
		if (i + EOCD_SIZE + mc_le16(tail + i + 20) == n) {
			*ret = tail_at + i;
			return 0;
		}
	}
	return mc_tf_fail(z->tf, "no end of central directory record (not a whole zip archive)");
}

static int read_eocd(struct zip *z)
{
	uint64_t size = z->tf->src->size;
	size_t n = size < EOCD_SEARCH ? (size_t)size : EOCD_SEARCH;
	uint8_t *tail = mc_tf_alloc(z->tf, n);
	uint64_t at = 0;
	if (!tail)
		return -1;
	int r = mc_tf_read(z->tf, size - n, tail, n, "the end of the archive");
	if (r == 0)
		r = find_eocd(z, tail, n, size - n, &at);
	if (r == 0) {
		const uint8_t *e = tail + (at - (size - n));
		z->entries = mc_le16(e + 10);
		z->cd_size = mc_le32(e + 12);
		z->cd_off = mc_le32(e + 16);
		z->cd_end_limit = at;
		if (z->entries == 0xffff || z->cd_size == 0xffffffff || z->cd_off == 0xffffffff)
			r = read_zip64_eocd(z, at);
	}
	mc_tf_free(z->tf, tail);
	if (r == 0 && (z->cd_off > z->cd_end_limit || z->cd_size > z->cd_end_limit - z->cd_off))
		r = mc_tf_fail(z->tf, "central directory (%llu bytes at %llu) is past its end",
		               (unsigned long long)z->cd_size, (unsigned long long)z->cd_off);
	if (r == 0 && z->cd_size > MC_TENSOR_HEADER_MAX)
		r = mc_tf_fail(z->tf, "central directory of %llu bytes is larger than the limit",
		               (unsigned long long)z->cd_size);
	if (r == 0 && z->entries > z->cd_size / CDIR_ENTRY_SIZE)
		r = mc_tf_fail(z->tf,
		               "%llu entries cannot fit in a central directory of %llu bytes",
		               (unsigned long long)z->entries, (unsigned long long)z->cd_size);
	return r;
}

/* ---- the central directory ---- */

/* ZIP64 extended information (extra field 0x0001): the 64-bit values of the fields that
 * read 0xffffffff, in the order uncompressed size, compressed size, local header offset. */
static int apply_zip64_extra(struct zip *z, const uint8_t *x, size_t n, uint64_t *usize,
                             struct zrec *r)
{
	while (n >= 4) {
		uint16_t id = mc_le16(x), len = mc_le16(x + 2);
		if (len > n - 4)
			break;
		if (id == 0x0001) {
			const uint8_t *v = x + 4;
			size_t left = len;
			uint64_t *fields[3] = { usize, &r->size, &r->local };
			for (int i = 0; i < 3; i++) {
				if (*fields[i] != 0xffffffff)
					continue;
				if (left < 8)
					return mc_tf_fail(z->tf, "ZIP64 extra field too short");
				*fields[i] = mc_le64(v);
				v += 8;
				left -= 8;
			}
			return 0;
		}
		x += 4 + len;
		n -= 4 + (size_t)len;
	}
	if (*usize == 0xffffffff || r->size == 0xffffffff || r->local == 0xffffffff)
		return mc_tf_fail(z->tf, "ZIP64 extra field missing");
	return 0;
}

/* The entry at *pos: fills r; *pos moves to the next. */
static int read_entry(struct zip *z, size_t *pos, struct zrec *r)
{
	const uint8_t *e = (const uint8_t *)z->cd + *pos;
	size_t left = (size_t)z->cd_size - *pos;
	if (left < CDIR_ENTRY_SIZE || memcmp(e, "PK\x01\x02", 4) != 0)
		return mc_tf_fail(z->tf, "bad central directory entry at %llu",
		                  (unsigned long long)(z->cd_off + *pos));
	size_t name_len = mc_le16(e + 28), extra_len = mc_le16(e + 30), comment = mc_le16(e + 32);
	if (CDIR_ENTRY_SIZE + name_len + extra_len + comment > left)
		return mc_tf_fail(z->tf, "central directory entry at %llu is truncated",
		                  (unsigned long long)(z->cd_off + *pos));
	memset(r, 0, sizeof(*r));
	r->flags = mc_le16(e + 8);
	r->method = mc_le16(e + 10);
	r->size = mc_le32(e + 20);
	uint64_t usize = mc_le32(e + 24);
	r->local = mc_le32(e + 42);
	r->name = (const char *)e + CDIR_ENTRY_SIZE;
	r->name_len = (uint32_t)name_len;
	r->named_at = -1;
	*pos += CDIR_ENTRY_SIZE + name_len + extra_len + comment;
	if (apply_zip64_extra(z, e + CDIR_ENTRY_SIZE + name_len, extra_len, &usize, r) < 0)
		return -1;
	if (r->method == 0 && usize != r->size)
		return mc_tf_fail(z->tf, "record '%.*s' is stored with two different sizes",
		                  (int)name_len, r->name);
	return 0;
}

static bool name_is(const struct zrec *r, size_t at, const char *s)
{
	size_t n = strlen(s);
	return r->name_len - at == n && memcmp(r->name + at, s, n) == 0;
}

/* "<archive>/data.pkl": one path component, then data.pkl. */
static bool is_pickle(const struct zrec *r, size_t *ret_prefix)
{
	const char *slash = memchr(r->name, '/', r->name_len);
	if (!slash || slash == r->name)
		return false;
	*ret_prefix = (size_t)(slash - r->name) + 1;
	return name_is(r, *ret_prefix, "data.pkl");
}

/* "<archive>/data/<key>" with a key of one component. */
static bool is_storage(const struct zip *z, struct zrec *r)
{
	size_t p = z->prefix_len;
	if (r->name_len <= p + 5 || memcmp(r->name, z->prefix, p) != 0 ||
	    memcmp(r->name + p, "data/", 5) != 0 ||
	    memchr(r->name + p + 5, '/', r->name_len - p - 5))
		return false;
	r->key_at = (uint32_t)(p + 5);
	return true;
}

static int find_pickle(struct zip *z)
{
	size_t pos = 0, prefix;
	struct zrec r;
	for (uint64_t i = 0; i < z->entries; i++) {
		if (read_entry(z, &pos, &r) < 0)
			return -1;
		if (!z->has_pkl && is_pickle(&r, &prefix)) {
			z->pkl = r;
			z->has_pkl = true;
			z->prefix = r.name;
			z->prefix_len = prefix;
		}
	}
	return 0;
}

static bool is_byteorder(const struct zip *z, const struct zrec *r)
{
	return r->name_len == z->prefix_len + 9 && memcmp(r->name, z->prefix, z->prefix_len) == 0 &&
	       name_is(r, z->prefix_len, "byteorder");
}

/* Two passes: count the storages (no count from the file sizes the array), then keep them. */
static int collect_records(struct zip *z)
{
	size_t pos = 0;
	struct zrec r;
	uint64_t n = 0;
	for (uint64_t i = 0; i < z->entries; i++) {
		if (read_entry(z, &pos, &r) < 0)
			return -1;
		n += is_storage(z, &r);
	}
	if (n > MC_TENSOR_MAX)
		return mc_tf_fail(z->tf, "%llu storages (more than %u)", (unsigned long long)n,
		                  MC_TENSOR_MAX);
	z->recs = mc_tf_alloc(z->tf, (size_t)n * sizeof(struct zrec));
	if (!z->recs)
		return -1;
	pos = 0;
	for (uint64_t i = 0; i < z->entries; i++) {
		read_entry(z, &pos, &r); /* read once already: cannot fail */
		if (is_storage(z, &r)) {
			z->recs[z->n_recs++] = r;
		} else if (is_byteorder(z, &r)) {
			z->byteorder = r;
			z->has_byteorder = true;
		}
	}
	return 0;
}

/* ---- the records' data ---- */

/* Where the record's bytes start: after its local header, name and extra field. */
static int locate_data(struct zip *z, struct zrec *r)
{
	uint8_t h[LOCAL_HDR_SIZE];
	if (r->flags & 1)
		return mc_tf_fail(z->tf, "record '%.*s' is encrypted", (int)r->name_len, r->name);
	if (r->method != 0)
		return mc_tf_fail(z->tf,
		                  "record '%.*s' is compressed (method %u); torch.save stores "
		                  "records uncompressed",
		                  (int)r->name_len, r->name, r->method);
	if (r->local > z->cd_off ||
	    mc_tf_read(z->tf, r->local, h, sizeof(h), "a local header") < 0 ||
	    memcmp(h, "PK\x03\x04", 4) != 0)
		return mc_tf_fail(z->tf, "record '%.*s': bad local header at %llu",
		                  (int)r->name_len, r->name, (unsigned long long)r->local);
	if (mc_le16(h + 26) != r->name_len)
		return mc_tf_fail(z->tf, "record '%.*s': its local header names another record",
		                  (int)r->name_len, r->name);
	r->data = r->local + LOCAL_HDR_SIZE + r->name_len + mc_le16(h + 28);
	/* The data lies before the central directory. */
	if (r->data > z->cd_off || r->size > z->cd_off - r->data)
		return mc_tf_fail(z->tf,
		                  "record '%.*s' (%llu bytes at %llu) runs into the central "
		                  "directory",
		                  (int)r->name_len, r->name, (unsigned long long)r->size,
		                  (unsigned long long)r->data);
	return 0;
}

static bool big_endian_archive(struct zip *z)
{
	char b[BYTEORDER_MAX];
	if (!z->has_byteorder || z->byteorder.size != 3 || locate_data(z, &z->byteorder) < 0)
		return false;
	return mc_tf_read(z->tf, z->byteorder.data, b, 3, "byteorder") == 0 &&
	       memcmp(b, "big", 3) == 0;
}

/* ---- naming through the pickle ---- */

static int by_key(const void *a, const void *b, void *ctx)
{
	const struct zrec *x = a, *y = b;
	size_t xn = x->name_len - x->key_at, yn = y->name_len - y->key_at;
	int c = memcmp(x->name + x->key_at, y->name + y->key_at, xn < yn ? xn : yn);
	(void)ctx;
	return c ? c : (xn > yn) - (xn < yn);
}

static int32_t on_storage(void *ctx, const char *key, size_t key_len, enum mc_dtype dt)
{
	struct zip *z = ctx;
	uint32_t lo = 0, hi = z->n_recs;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct zrec *r = &z->recs[mid];
		size_t rn = r->name_len - r->key_at;
		int c = memcmp(r->name + r->key_at, key, rn < key_len ? rn : key_len);
		c = c ? c : (rn > key_len) - (rn < key_len);
		if (c == 0) {
			z->recs[mid].dtype = (uint8_t)dt;
			return (int32_t)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void on_name(void *ctx, int32_t idx, const char *key, size_t key_len)
{
	struct zip *z = ctx;
	struct zrec *r = &z->recs[idx];
	if (r->named_at < 0 && key_len > 0) {
		r->named_at = (int32_t)((const uint8_t *)key - z->pickle);
		r->named_len = (uint32_t)key_len;
	}
}

/* The shape of the tensor that named the storage (the first), kept only if that tensor
 * covers the whole storage (checked once the dtype's size is known, in add_records). */
static void on_shape(void *ctx, int32_t idx, const uint64_t *dims, unsigned ndim)
{
	struct zip *z = ctx;
	struct zrec *r = &z->recs[idx];
	if (r->has_shape || ndim > MC_TENSOR_DIMS_MAX)
		return;
	void *p = z->dims;
	if (mc_tf_grow(z->tf, &p, &z->dims_cap, sizeof(uint64_t), z->dims_len + ndim) < 0) {
		z->oom = true;
		return;
	}
	z->dims = p;
	if (ndim)
		memcpy(z->dims + z->dims_len, dims, ndim * sizeof(uint64_t));
	r->has_shape = true;
	r->shape_at = (uint32_t)z->dims_len;
	r->shape_n = (uint8_t)ndim;
	z->dims_len += ndim;
}

/* Sets the shape of the storage just added when its tensor covers all of its bytes: a view
 * on part of a storage says nothing of the storage as a whole. */
static int add_shape(struct zip *z, const struct zrec *r)
{
	uint64_t bytes = mc_dtype_size((enum mc_dtype)r->dtype);
	if (!r->has_shape || !bytes)
		return 0;
	const uint64_t *dims = r->shape_n ? z->dims + r->shape_at : NULL;
	for (unsigned i = 0; i < r->shape_n; i++)
		if (__builtin_mul_overflow(bytes, dims[i], &bytes))
			return 0;
	if (bytes != r->size)
		return 0;
	return mc_tf_shape(z->tf, dims, r->shape_n);
}

static int walk_pickle(struct zip *z)
{
	if (locate_data(z, &z->pkl) < 0)
		return -1;
	if (z->pkl.size > MC_TENSOR_HEADER_MAX)
		return mc_tf_fail(z->tf, "data.pkl of %llu bytes is larger than the limit",
		                  (unsigned long long)z->pkl.size);
	char *p = mc_tf_read_alloc(z->tf, z->pkl.data, z->pkl.size, "data.pkl");
	if (!p)
		return -1;
	z->pickle = (const uint8_t *)p;
	struct mc_pickle_hooks h = { on_storage, on_name, z, on_shape };
	int r = mc_pickle_walk(z->tf, z->pickle, (size_t)z->pkl.size, &h);
	if (z->oom)
		r = -1; /* on_shape's mc_tf_grow said why */
	if (r < 0) {
		mc_tf_free(z->tf, p);
		z->pickle = NULL;
	}
	return r;
}

static int add_records(struct zip *z)
{
	bool big = big_endian_archive(z);
	for (uint32_t i = 0; i < z->n_recs; i++) {
		struct zrec *r = &z->recs[i];
		if (locate_data(z, r) < 0)
			return -1;
		const char *name = r->name + z->prefix_len; /* "data/<key>" */
		size_t name_len = r->name_len - z->prefix_len;
		if (r->named_at >= 0) {
			name = (const char *)z->pickle + r->named_at;
			name_len = r->named_len;
		}
		bool be = big && mc_dtype_size((enum mc_dtype)r->dtype) > 1;
		if (mc_tf_add(z->tf, r->data, r->size, name, name_len, (enum mc_dtype)r->dtype,
		              be) < 0 ||
		    add_shape(z, r) < 0)
			return -1;
	}
	return 1;
}

int mc_tf_torchzip(struct mc_tf *tf)
{
	struct zip z = { .tf = tf };
	int r = read_eocd(&z);
	if (r == 0 && !(z.cd = mc_tf_read_alloc(tf, z.cd_off, z.cd_size, "the central directory")))
		r = -1;
	if (r == 0)
		r = find_pickle(&z);
	if (r == 0 && !z.has_pkl) {
		mc_tf_free(tf, z.cd);
		return 0; /* a zip archive, but not a torch checkpoint */
	}
	if (r == 0)
		r = collect_records(&z);
	if (r == 0) {
		mc_tf_sort(z.recs, z.n_recs, sizeof(*z.recs), by_key, NULL);
		r = walk_pickle(&z);
	}
	if (r == 0)
		r = add_records(&z);
	mc_tf_free(tf, (void *)z.pickle);
	mc_tf_free(tf, z.dims);
	mc_tf_free(tf, z.recs);
	mc_tf_free(tf, z.cd);
	return r;
}
