/* test_torchzip.c: the PyTorch zip recogniser on archives built in memory the way torch.save
 * writes them (records aligned by a local extra field, data.pkl in protocol 2, ZIP64 when
 * asked), pickles in protocols 0 to 4, and one malformed variant for every check it makes. */
#include "formats_util.h"

/* ---- pickles ---- */

static void p_op(struct bytes *p, uint8_t op)
{
	put_u8(p, op);
}

static void p_unicode(struct bytes *p, const char *s)
{
	p_op(p, 'X');
	put_u32(p, (uint32_t)strlen(s));
	put_str(p, s);
}

static void p_put(struct bytes *p, uint8_t idx)
{
	p_op(p, 'q');
	put_u8(p, idx);
}

static void p_get(struct bytes *p, uint8_t idx)
{
	p_op(p, 'h');
	put_u8(p, idx);
}

/* What torch.save writes for one tensor: _rebuild_tensor_v2((persid ('storage', class, key,
 * 'cpu', n)), offset, size, stride, requires_grad, OrderedDict()); the rebuild function is
 * memo 1 and the class memo (10 + its index) after their first use. */
#define MEMO_REBUILD 1
#define MEMO_ODICT   0
static void p_tensor(struct bytes *p, const char *cls, const char *key, bool *seen_rebuild,
                     bool *seen_cls, uint8_t cls_memo)
{
	if (*seen_rebuild) {
		p_get(p, MEMO_REBUILD);
	} else {
		put_str(p, "ctorch._utils\n_rebuild_tensor_v2\n");
		p_put(p, MEMO_REBUILD);
		*seen_rebuild = true;
	}
	p_op(p, '(');
	p_op(p, '(');
	p_unicode(p, "storage");
	if (*seen_cls) {
		p_get(p, cls_memo);
	} else {
		put_str(p, "ctorch\n");
		put_str(p, cls);
		put_str(p, "\n");
		p_put(p, cls_memo);
		*seen_cls = true;
	}
	p_unicode(p, key);
	p_unicode(p, "cpu");
	put_str(p, "K\x04");
	p_op(p, 't');
	p_op(p, 'Q');
	static const char args[] = "K\x00K\x04\x85K\x01\x85\x89"; /* offset, size, stride, grad */
	put(p, args, sizeof(args) - 1);
	p_get(p, MEMO_ODICT);
	p_op(p, ')');
	p_op(p, 'R');
	p_op(p, 't');
	p_op(p, 'R');
}

struct entry {
	const char *key;   /* state-dict key */
	const char *cls;   /* storage class */
	const char *store; /* storage key */
};

/* An OrderedDict state dict, as torch.save writes it. */
static void state_dict_pickle(struct bytes *p, const struct entry *e, size_t n)
{
	static const char *const classes[] = { "FloatStorage", "HalfStorage", "CharStorage",
		                               "BFloat16Storage", "DoubleStorage" };
	bool seen_rebuild = false, seen[5] = { false };
	memset(p, 0, sizeof(*p));
	put_str(p, "\x80\x02");
	put_str(p, "ccollections\nOrderedDict\n");
	p_put(p, MEMO_ODICT);
	put_str(p, ")R(");
	for (size_t i = 0; i < n; i++) {
		size_t c = 0;
		while (strcmp(classes[c], e[i].cls) != 0)
			c++;
		p_unicode(p, e[i].key);
		p_tensor(p, e[i].cls, e[i].store, &seen_rebuild, &seen[c], (uint8_t)(10 + c));
	}
	p_op(p, 'u');
	/* The _metadata attribute: a BUILD with a dict of dicts. */
	put_str(p, "}");
	p_unicode(p, "_metadata");
	put_str(p, "}");
	p_unicode(p, "");
	put_str(p, "}");
	p_unicode(p, "version");
	put_str(p, "K\x01ssb.");
}

/* ---- zip archives ---- */

struct rec {
	const char *name;
	const uint8_t *data;
	size_t len;
	uint16_t method;
	uint16_t flags;
};

struct zip_opts {
	bool zip64;
	size_t align;        /* data aligned to this through the local extra field (torch: 64) */
	const char *comment; /* the archive comment */
};

static void local_header(struct bytes *z, const struct rec *r, size_t align)
{
	size_t fixed = z->n + 30 + strlen(r->name);
	size_t extra = align ? (align - (fixed + 4) % align) % align + 4 : 0;
	put_str(z, "PK\x03\x04");
	put_u16(z, 20);
	put_u16(z, r->flags);
	put_u16(z, r->method);
	put_u32(z, 0); /* time, date */
	put_u32(z, 0); /* crc: not checked */
	put_u32(z, (uint32_t)r->len);
	put_u32(z, (uint32_t)r->len);
	put_u16(z, (uint16_t)strlen(r->name));
	put_u16(z, (uint16_t)extra);
	put_str(z, r->name);
	if (extra) {
		put_u16(z, 0x4246); /* torch's padding field "FB" */
		put_u16(z, (uint16_t)(extra - 4));
		put_fill(z, 'Z', extra - 4);
	}
}

static void central_entry(struct bytes *z, const struct rec *r, uint64_t local, bool zip64)
{
	put_str(z, "PK\x01\x02");
	put_u16(z, 45);
	put_u16(z, 20);
	put_u16(z, r->flags);
	put_u16(z, r->method);
	put_u32(z, 0);
	put_u32(z, 0);
	put_u32(z, zip64 ? 0xffffffffu : (uint32_t)r->len);
	put_u32(z, zip64 ? 0xffffffffu : (uint32_t)r->len);
	put_u16(z, (uint16_t)strlen(r->name));
	put_u16(z, zip64 ? 28 : 0);
	put_u16(z, 0); /* comment */
	put_u16(z, 0); /* disk */
	put_u16(z, 0);
	put_u32(z, 0);
	put_u32(z, zip64 ? 0xffffffffu : (uint32_t)local);
	put_str(z, r->name);
	if (zip64) {
		put_u16(z, 0x0001);
		put_u16(z, 24);
		put_u64(z, r->len);
		put_u64(z, r->len);
		put_u64(z, local);
	}
}

static void end_records(struct bytes *z, size_t n, uint64_t cd_off, uint64_t cd_size,
                        const struct zip_opts *o)
{
	if (o->zip64) {
		uint64_t at = z->n;
		put_str(z, "PK\x06\x06");
		put_u64(z, 44);
		put_u16(z, 45);
		put_u16(z, 45);
		put_u32(z, 0);
		put_u32(z, 0);
		put_u64(z, n);
		put_u64(z, n);
		put_u64(z, cd_size);
		put_u64(z, cd_off);
		put_str(z, "PK\x06\x07");
		put_u32(z, 0);
		put_u64(z, at);
		put_u32(z, 1);
	}
	const char *comment = o->comment ? o->comment : "";
	put_str(z, "PK\x05\x06");
	put_u32(z, 0);
	put_u16(z, o->zip64 ? 0xffff : (uint16_t)n);
	put_u16(z, o->zip64 ? 0xffff : (uint16_t)n);
	put_u32(z, o->zip64 ? 0xffffffffu : (uint32_t)cd_size);
	put_u32(z, o->zip64 ? 0xffffffffu : (uint32_t)cd_off);
	put_u16(z, (uint16_t)strlen(comment));
	put_str(z, comment);
}

/* Writes the archive; data_at[i] is where record i's bytes start. */
static void zip_file(struct bytes *z, const struct rec *r, size_t n, const struct zip_opts *o,
                     uint64_t *data_at)
{
	uint64_t local[16];
	memset(z, 0, sizeof(*z));
	for (size_t i = 0; i < n; i++) {
		local[i] = z->n;
		local_header(z, &r[i], o->align);
		data_at[i] = z->n;
		put(z, r[i].data, r[i].len);
	}
	uint64_t cd_off = z->n;
	for (size_t i = 0; i < n; i++)
		central_entry(z, &r[i], local[i], o->zip64);
	end_records(z, n, cd_off, z->n - cd_off, o);
}

/* An archive of <archive>/data.pkl and one storage <archive>/data/0 of len bytes; *ret_at is
 * where the storage's bytes start. */
static void one_storage_archive(struct bytes *z, const char *pkl_name, const char *storage_name,
                                const uint8_t *pickle, size_t n, size_t len, uint64_t *ret_at)
{
	static const uint8_t zeros[64];
	struct rec r[] = { { pkl_name, pickle, n, 0, 0 }, { storage_name, zeros, len, 0, 0 } };
	struct zip_opts o = { false, 0, NULL };
	uint64_t at[2];
	zip_file(z, r, 2, &o, at);
	*ret_at = at[1];
}

/* Recognises the archive and expects one tensor: this name, type and place. */
static void expect_one_tensor(const struct bytes *z, uint64_t at, uint64_t len, const char *name,
                              enum mc_dtype dt)
{
	struct recog g;
	recognize(&g, z);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->n, 1);
		CHECK_TENSOR(g.map, 0, at, len, name, dt);
	}
	recog_done(&g);
}

/* ---- the checkpoint most tests start from ---- */

static const struct entry sd_entries[] = {
	{ "enc.0.weight", "FloatStorage", "0" }, { "enc.0.bias", "HalfStorage", "1" },
	{ "head.weight", "FloatStorage", "0" }, /* tied to enc.0.weight */
	{ "mask", "CharStorage", "2" },          { "bf", "BFloat16Storage", "3" },
	{ "scale", "DoubleStorage", "4" },
};

static uint8_t storage_bytes[6][24];

struct ckpt {
	struct bytes pickle;
	struct rec recs[10];
	size_t n;
	uint64_t data_at[10];
	struct bytes file;
};

/* pkl_at: where data.pkl goes among the records (torch writes it first). */
static void make_ckpt(struct ckpt *c, const struct zip_opts *o, const char *byteorder)
{
	static const char *const names[] = { "archive/data/0", "archive/data/1", "archive/data/2",
		                             "archive/data/3", "archive/data/4", "archive/data/5" };
	static const size_t lens[] = { 16, 8, 4, 6, 16, 12 };
	state_dict_pickle(&c->pickle, sd_entries, sizeof(sd_entries) / sizeof(sd_entries[0]));
	c->n = 0;
	c->recs[c->n++] = (struct rec){ "archive/data.pkl", c->pickle.p, c->pickle.n, 0, 0 };
	if (byteorder)
		c->recs[c->n++] = (struct rec){ "archive/byteorder", (const uint8_t *)byteorder,
			                        strlen(byteorder), 0, 0 };
	for (size_t i = 0; i < 6; i++) {
		memset(storage_bytes[i], (int)(0x10 * (i + 1)), sizeof(storage_bytes[i]));
		c->recs[c->n++] = (struct rec){ names[i], storage_bytes[i], lens[i], 0, 0 };
	}
	c->recs[c->n++] = (struct rec){ "archive/version", (const uint8_t *)"3\n", 2, 0, 0 };
	zip_file(&c->file, c->recs, c->n, o, c->data_at);
}

static void free_ckpt(struct ckpt *c)
{
	bytes_free(&c->pickle);
	bytes_free(&c->file);
}

/* The records' index in c->recs of storage k. */
static size_t storage_rec(const struct ckpt *c, size_t k)
{
	return c->n - 7 + k;
}

static void check_ckpt_map(const struct ckpt *c, const struct mc_tensor_map *m, bool big)
{
	MC_CHECK_U64(m->format, MC_TF_TORCH_ZIP);
	MC_CHECK_U64(m->n, 6);
	CHECK_TENSOR(m, 0, c->data_at[storage_rec(c, 0)], 16, "enc.0.weight", MC_DT_F32);
	CHECK_TENSOR(m, 1, c->data_at[storage_rec(c, 1)], 8, "enc.0.bias", MC_DT_F16);
	CHECK_TENSOR(m, 2, c->data_at[storage_rec(c, 2)], 4, "mask", MC_DT_I8);
	CHECK_TENSOR(m, 3, c->data_at[storage_rec(c, 3)], 6, "bf", MC_DT_BF16);
	CHECK_TENSOR(m, 4, c->data_at[storage_rec(c, 4)], 16, "scale", MC_DT_F64);
	CHECK_TENSOR(m, 5, c->data_at[storage_rec(c, 5)], 12, "data/5", MC_DT_OTHER);
	/* every tensor has size (4,): a shape where it covers its storage (4 f32, 4 f16, 4 i8),
	 * none where it does not (3 bf16, 2 f64), nor for a storage no tensor names */
	CHECK_SHAPE(m, 0, 1, 4);
	CHECK_SHAPE(m, 1, 1, 4);
	CHECK_SHAPE(m, 2, 1, 4);
	CHECK_SHAPE(m, 3, -1, 0);
	CHECK_SHAPE(m, 4, -1, 0);
	CHECK_SHAPE(m, 5, -1, 0);
	for (uint32_t i = 0; i < m->n && i < 6; i++) {
		MC_CHECK_U64(m->t[i].off % 64, 0);
		bool multi_byte = mc_dtype_size((enum mc_dtype)m->t[i].dtype) > 1;
		MC_CHECK_U64(m->t[i].big_endian, big && multi_byte);
	}
}

static void test_valid(void)
{
	static const struct zip_opts opts[] = {
		{ false, 64, NULL },
		{ true, 64, NULL },
		{ false, 64, "a comment with PK\x05\x06 inside" },
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct ckpt c;
		make_ckpt(&c, &opts[i], i == 1 ? "little" : NULL);
		struct recog g;
		recognize(&g, &c.file);
		CHECK_CONTRACT(&g);
		MC_CHECK_U64(g.r, 1);
		if (g.map)
			check_ckpt_map(&c, g.map, false);
		recog_done(&g);
		MC_CHECK_U64(g.count.allocs, g.count.frees);
		if (i == 1) {
			check_torture(&c.file);
			check_truncations(&c.file, 7);
		}
		free_ckpt(&c);
	}

	struct ckpt c;
	struct zip_opts o = { false, 64, NULL };
	make_ckpt(&c, &o, "big");
	struct recog g;
	recognize(&g, &c.file);
	MC_CHECK_U64(g.r, 1);
	if (g.map)
		check_ckpt_map(&c, g.map, true);
	recog_done(&g);
	free_ckpt(&c);
}

/* torch.save(tensor): the pickle is the rebuild call itself; its storage keeps its name. */
static void test_bare_tensor(void)
{
	struct bytes p = { 0 };
	bool a = false, b = false;
	put_str(&p, "\x80\x02");
	put_str(&p, "ccollections\nOrderedDict\n");
	p_put(&p, MEMO_ODICT);
	p_op(&p, '0');
	p_tensor(&p, "FloatStorage", "0", &a, &b, 10);
	p_op(&p, '.');
	struct bytes z;
	uint64_t at;
	one_storage_archive(&z, "bare/data.pkl", "bare/data/0", p.p, p.n, 16, &at);
	expect_one_tensor(&z, at, 16, "data/0", MC_DT_F32);
	bytes_free(&z);
	bytes_free(&p);
}

/* Protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL) and protocol 0 (GLOBAL, text
 * PUT/GET, UNICODE), with a dict built by DICT and one by SETITEM, nested in a list. */
static void test_protocols(void)
{
	struct bytes p = { 0 };
	put_str(&p, "\x80\x04\x95");
	put_u64(&p, 0);
	/* {'w4': rebuild((persid ('storage', torch.HalfStorage, '7', 'cpu', 2)),)} via DICT */
	put_str(&p, "(\x8c\x02w4\x94");
	put_str(&p, "\x8c\x05torch\x94\x8c\x0d_rebuild_meow\x94\x93\x94");
	put_str(&p, "(\x8c\x07storage\x8c\x05torch\x8c\x0bHalfStorage\x93\x94");
	put_str(&p, "\x8c\x01\x37\x8c\x03\x63puK\x02tQ\x85R");
	put_str(&p, "d\x94");
	/* [ {'w0': (persid for '8', FloatStorage via GLOBAL + text PUT/GET)} ] via SETITEM */
	put_str(&p, "]}Vw0\np100\n");
	put_str(&p, "(Vstorage\ncvendor\nthing\n0g100\n0ctorch\nFloatStorage\nV8\nVcpu\nI3\ntQ");
	put_str(&p, "sa");
	/* A tuple of both, a set and a frozenset for coverage; STOP. */
	put_str(&p, "\x86\x8f(K\x01\x90(K\x02\x91\x87.");
	uint8_t d7[4] = { 7 }, d8[12] = { 8 };
	struct rec r[] = { { "a/data.pkl", p.p, p.n, 0, 0 },
		           { "a/data/7", d7, 4, 0, 0 },
		           { "a/data/8", d8, 12, 0, 0 } };
	struct zip_opts o = { false, 16, NULL };
	uint64_t at[3];
	struct bytes z;
	zip_file(&z, r, 3, &o, at);
	struct recog g;
	recognize(&g, &z);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->n, 2);
		CHECK_TENSOR(g.map, 0, at[1], 4, "w4", MC_DT_F16);
		CHECK_TENSOR(g.map, 1, at[2], 12, "w0", MC_DT_F32);
	}
	if (g.r != 1)
		fprintf(stderr, "protocols: %s\n", g.why);
	recog_done(&g);
	bytes_free(&z);
	bytes_free(&p);
}

static void test_not_torch(void)
{
	uint8_t d[4] = { 0 };
	struct rec r[] = { { "model/weights.bin", d, 4, 0, 0 }, { "data.pkl", d, 4, 0, 0 } };
	struct zip_opts o = { false, 0, NULL };
	uint64_t at[2];
	struct bytes z;
	zip_file(&z, r, 2, &o, at);
	struct recog g;
	recognize(&g, &z);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 0); /* a zip, but no <archive>/data.pkl */
	MC_CHECK_U64(g.count.allocs, g.count.frees);
	bytes_free(&z);

	z = (struct bytes){ 0 };
	put_str(&z, "PK\x03\x04 and then nothing of a zip archive");
	CHECK_REJECTS(&z, "torch-zip: no end of central directory record");
	bytes_free(&z);
}

/* The checkpoint with one change made by edit(). */
static void expect_ckpt_rejected(void (*edit)(struct ckpt *c), const char *why)
{
	struct ckpt c;
	struct zip_opts o = { false, 64, NULL };
	make_ckpt(&c, &o, NULL);
	edit(&c);
	CHECK_REJECTS(&c.file, why);
	free_ckpt(&c);
}

static size_t find(const struct bytes *b, const char *s, size_t n, size_t nth)
{
	for (size_t i = 0; i + n <= b->n; i++)
		if (memcmp(b->p + i, s, n) == 0 && nth-- == 0)
			return i;
	abort();
}

/* Offsets in the central directory entry of record k (0 = data.pkl). */
static size_t cd_entry(const struct ckpt *c, size_t k)
{
	return find(&c->file, "PK\x01\x02", 4, k);
}

static size_t eocd(const struct ckpt *c)
{
	return find(&c->file, "PK\x05\x06", 4, 0);
}

static void remake(struct ckpt *c, const struct zip_opts *o)
{
	bytes_free(&c->file);
	zip_file(&c->file, c->recs, c->n, o, c->data_at);
}

static void edit_compressed(struct ckpt *c)
{
	c->recs[storage_rec(c, 2)].method = 8;
	remake(c, &(struct zip_opts){ false, 64, NULL });
}

static void edit_pickle_compressed(struct ckpt *c)
{
	c->recs[0].method = 8;
	remake(c, &(struct zip_opts){ false, 64, NULL });
}

static void edit_encrypted(struct ckpt *c)
{
	c->recs[storage_rec(c, 1)].flags = 1;
	remake(c, &(struct zip_opts){ false, 64, NULL });
}

static void edit_local_sig(struct ckpt *c)
{
	c->file.p[find(&c->file, "PK\x03\x04", 4, 3)] = 'Q';
}

static void edit_local_name(struct ckpt *c)
{
	size_t at = find(&c->file, "PK\x03\x04", 4, 3);
	set_le(&c->file, at + 26, 3, 2);
}

static void edit_size_into_cd(struct ckpt *c)
{
	size_t e = cd_entry(c, storage_rec(c, 5));
	set_le(&c->file, e + 20, 4096, 4);
	set_le(&c->file, e + 24, 4096, 4);
}

static void edit_sizes_differ(struct ckpt *c)
{
	set_le(&c->file, cd_entry(c, storage_rec(c, 0)) + 24, 17, 4);
}

static void edit_cd_past_end(struct ckpt *c)
{
	set_le(&c->file, eocd(c) + 16, 0x7fffffff, 4);
}

static void edit_entries_huge(struct ckpt *c)
{
	set_le(&c->file, eocd(c) + 10, 0xfff0, 2);
}

static void edit_cd_sig(struct ckpt *c)
{
	c->file.p[cd_entry(c, 3)] = 'Q';
}

static void edit_cd_name_long(struct ckpt *c)
{
	set_le(&c->file, cd_entry(c, c->n - 1) + 28, 0x4000, 2);
}

static void edit_zip64_no_locator(struct ckpt *c)
{
	set_le(&c->file, eocd(c) + 16, 0xffffffff, 4);
}

static void edit_zip64_no_extra(struct ckpt *c)
{
	remake(c, &(struct zip_opts){ true, 64, NULL });
	size_t e = cd_entry(c, 2);
	set_le(&c->file, e + 30, 0, 2); /* the extra field's length: gone */
	set_le(&c->file, e + 46 + strlen(c->recs[2].name), 0x9999, 2);
}

static void edit_zip64_bad_record(struct ckpt *c)
{
	remake(c, &(struct zip_opts){ true, 64, NULL });
	c->file.p[find(&c->file, "PK\x06\x06", 4, 0) + 3] = 0;
}

static void edit_overlap(struct ckpt *c)
{
	/* Storage 1's central entry points at storage 0's local header. */
	size_t e0 = cd_entry(c, storage_rec(c, 0)), e1 = cd_entry(c, storage_rec(c, 1));
	memcpy(c->file.p + e1 + 42, c->file.p + e0 + 42, 4);
	memcpy(c->file.p + e1 + 46, c->file.p + e0 + 46, strlen(c->recs[storage_rec(c, 0)].name));
}

static void test_bad_archives(void)
{
	expect_ckpt_rejected(edit_compressed, "record 'archive/data/2' is compressed (method 8)");
	expect_ckpt_rejected(edit_pickle_compressed, "'archive/data.pkl' is compressed");
	expect_ckpt_rejected(edit_encrypted, "record 'archive/data/1' is encrypted");
	expect_ckpt_rejected(edit_local_sig, "bad local header at");
	expect_ckpt_rejected(edit_local_name, "its local header names another record");
	expect_ckpt_rejected(edit_size_into_cd, "runs into the central directory");
	expect_ckpt_rejected(edit_sizes_differ, "is stored with two different sizes");
	expect_ckpt_rejected(edit_cd_past_end, "central directory (");
	expect_ckpt_rejected(edit_entries_huge, "65520 entries cannot fit in a central directory");
	expect_ckpt_rejected(edit_cd_sig, "bad central directory entry at");
	expect_ckpt_rejected(edit_cd_name_long, "is truncated");
	expect_ckpt_rejected(edit_zip64_no_locator, "ZIP64 end of central directory locator");
	expect_ckpt_rejected(edit_zip64_no_extra, "ZIP64 extra field missing");
	expect_ckpt_rejected(edit_zip64_bad_record, "bad ZIP64 end of central directory record");
	expect_ckpt_rejected(edit_overlap, "overlap");
}

/* An archive whose data.pkl is the given bytes. */
static void expect_pickle_rejected(const char *pickle, size_t n, const char *why)
{
	struct bytes z;
	uint64_t at;
	one_storage_archive(&z, "a/data.pkl", "a/data/0", (const uint8_t *)pickle, n, 4, &at);
	CHECK_REJECTS(&z, why);
	bytes_free(&z);
}

#define PICKLE(s) s, sizeof(s) - 1

static void test_bad_pickles(void)
{
	expect_pickle_rejected(PICKLE("\x80\x02\xff."),
	                       "data.pkl has unknown opcode 0xff at byte 2");
	expect_pickle_rejected(PICKLE("\x80\x02K\x01"), "data.pkl ends without STOP");
	expect_pickle_rejected(PICKLE("\x80\x02X\xff\xff\x00\x00ab."), "data.pkl is truncated");
	expect_pickle_rejected(PICKLE("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff."),
	                       "data.pkl is truncated");
	expect_pickle_rejected(PICKLE("\x80\x02J\x01"), "data.pkl is truncated at byte 3");
	expect_pickle_rejected(PICKLE("ctorch\nFloatStorage"), "data.pkl is truncated");
	expect_pickle_rejected(PICKLE("\x80\x02R."), "data.pkl pops an empty stack at byte 3");
	expect_pickle_rejected(PICKLE("(K\x01(s."), "data.pkl pops an empty stack");
	expect_pickle_rejected(PICKLE("\x80\x02q\x00."), "data.pkl reads an empty stack");
	expect_pickle_rejected(PICKLE("1."), "data.pkl has no MARK to pop");
	expect_pickle_rejected(PICKLE("K\x01pxyz\n."), "data.pkl has a bad memo index");
	expect_pickle_rejected(PICKLE("K\x01p\n."), "data.pkl has a bad memo index");
	expect_pickle_rejected(PICKLE("\x80\x02"), "data.pkl ends without STOP");

	struct bytes deep = { 0 };
	put_fill(&deep, '(', 2000);
	put_u8(&deep, '.');
	expect_pickle_rejected((const char *)deep.p, deep.n,
	                       "data.pkl nests deeper than 1024 marks");
	bytes_free(&deep);

	/* Many values at once stay within the stack's limit or are refused, never overrun. */
	struct bytes wide = { 0 };
	put_fill(&wide, 'N', (1u << 18) + 10);
	put_u8(&wide, '.');
	expect_pickle_rejected((const char *)wide.p, wide.n,
	                       "data.pkl holds more than 262144 values");
	bytes_free(&wide);
}

/* A memo index far beyond what is kept reads back as an unknown value: recognised, and the
 * storage keeps its record name. */
static void test_memo_limits(void)
{
	struct bytes p = { 0 };
	put_str(&p, "\x80\x02}(Vw\n");
	put_str(&p, "(Vstorage\nctorch\nFloatStorage\nr\xff\xff\xff\x7f"
	            "0j\xff\xff\xff\x7f");
	put_str(&p, "V0\nVcpu\nK\x01tQu.");
	struct bytes z;
	uint64_t at;
	one_storage_archive(&z, "a/data.pkl", "a/data/0", p.p, p.n, 4, &at);
	expect_one_tensor(&z, at, 4, "data/0", MC_DT_OTHER);
	bytes_free(&z);
	bytes_free(&p);
}

int main(void)
{
	test_valid();
	test_bare_tensor();
	test_protocols();
	test_not_torch();
	test_bad_archives();
	test_bad_pickles();
	test_memo_limits();
	return mc_test_done("unit-torchzip");
}
