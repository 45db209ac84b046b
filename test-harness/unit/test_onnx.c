/* test_onnx.c: the ONNX recogniser on protobufs built in memory: initializers with raw_data,
 * packed float_data and double_data, dims packed or not, sparse initializers, data left out
 * (varint-packed, unpacked, external); every prefix, lengths past the end, overlaps, huge
 * counts, a varint of 11 bytes; and files that are no ONNX (random bytes, text, .npy, GGUF). */
#include "formats_util.h"

enum { VARINT = 0, I64 = 1, LEN = 2, I32 = 5 };

static void pb_varint(struct bytes *b, uint64_t v)
{
	while (v >= 0x80) {
		put_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_u8(b, (uint8_t)v);
}

static void pb_tag(struct bytes *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint(struct bytes *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct bytes *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, LEN);
	pb_varint(b, n);
	put(b, p, n);
}

static void pb_msg(struct bytes *b, unsigned field, struct bytes *inner)
{
	pb_bytes(b, field, inner->p, inner->n);
	bytes_free(inner);
}

static void pb_str(struct bytes *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* A TensorProto of FLOAT dims {rows, cols} with raw_data of fill bytes; *data_at is the data's
 * offset inside the tensor message. */
static void float_tensor(struct bytes *t, const char *name, uint64_t rows, uint64_t cols,
                         uint8_t fill, size_t *data_at)
{
	memset(t, 0, sizeof(*t));
	pb_uint(t, 1, rows);
	pb_uint(t, 1, cols);
	pb_uint(t, 2, 1);
	pb_str(t, 8, name);
	size_t n = (size_t)(rows * cols * 4);
	pb_tag(t, 9, LEN);
	pb_varint(t, n);
	*data_at = t->n;
	put_fill(t, fill, n);
}

/* ModelProto: ir_version 8, producer, graph (name, a node, what the caller put), opset. The
 * graph's offset in the model is returned through graph_at. */
static void model(struct bytes *m, struct bytes *graph_body, size_t *graph_at)
{
	struct bytes node = { 0 }, opset = { 0 };
	memset(m, 0, sizeof(*m));
	pb_uint(m, 1, 8);
	pb_str(m, 2, "test");
	pb_str(&node, 1, "x");
	pb_str(&node, 1, "w");
	pb_str(&node, 2, "y");
	pb_str(&node, 4, "MatMul");
	struct bytes graph = { 0 };
	pb_msg(&graph, 1, &node);
	pb_str(&graph, 2, "g");
	size_t prefix = graph.n;
	put(&graph, graph_body->p, graph_body->n);
	bytes_free(graph_body);
	pb_tag(m, 7, LEN);
	pb_varint(m, graph.n);
	*graph_at = m->n + prefix;
	put(m, graph.p, graph.n);
	bytes_free(&graph);
	pb_str(&opset, 1, "");
	pb_uint(&opset, 2, 17);
	pb_msg(m, 8, &opset);
}

/* Appends an initializer (graph field 5, or 15 for a sparse one) holding t; returns the
 * offset of t's first byte in g. */
static size_t initializer(struct bytes *g, unsigned field, struct bytes *t)
{
	pb_tag(g, field, LEN);
	pb_varint(g, t->n);
	size_t at = g->n;
	put(g, t->p, t->n);
	bytes_free(t);
	return at;
}

/* A model of three initializers: w (raw_data, 4x8 f32), b (packed float_data, dims packed),
 * d (packed double_data), and tensors whose data are left out. */
struct built {
	struct bytes file;
	size_t w_data, b_data, d_data, h_data;
};

static void build_valid(struct built *m)
{
	struct bytes g = { 0 }, t = { 0 }, dims = { 0 };
	size_t data_at, at;
	memset(m, 0, sizeof(*m));

	float_tensor(&t, "w", 4, 8, 0x3f, &data_at);
	at = initializer(&g, 5, &t);
	m->w_data = at + data_at;

	pb_varint(&dims, 3); /* b: dims packed, float_data packed */
	pb_msg(&t, 1, &dims);
	pb_uint(&t, 2, 1);
	pb_str(&t, 8, "b");
	pb_tag(&t, 4, LEN);
	pb_varint(&t, 12);
	data_at = t.n;
	put_fill(&t, 0x40, 12);
	at = initializer(&g, 5, &t);
	m->b_data = at + data_at;

	pb_uint(&t, 1, 2); /* d: double_data packed */
	pb_uint(&t, 2, 11);
	pb_str(&t, 8, "d");
	pb_tag(&t, 10, LEN);
	pb_varint(&t, 16);
	data_at = t.n;
	put_fill(&t, 0x41, 16);
	at = initializer(&g, 5, &t);
	m->d_data = at + data_at;

	pb_uint(&t, 1, 2); /* i: int64_data, varint-packed: left out */
	pb_uint(&t, 2, 7);
	pb_str(&t, 8, "i");
	pb_bytes(&t, 7, "\x01\x02", 2);
	initializer(&g, 5, &t);

	pb_uint(&t, 1, 2); /* u: float_data unpacked: left out */
	pb_uint(&t, 2, 1);
	pb_str(&t, 8, "u");
	pb_tag(&t, 4, I32);
	put_u32(&t, 0);
	pb_tag(&t, 4, I32);
	put_u32(&t, 0);
	initializer(&g, 5, &t);

	struct bytes e = { 0 }, entry = { 0 }; /* x: external: no data in this file */
	pb_uint(&e, 1, 2);
	pb_uint(&e, 2, 1);
	pb_str(&e, 8, "x");
	pb_str(&entry, 1, "location");
	pb_str(&entry, 2, "x.bin");
	pb_msg(&e, 13, &entry);
	pb_uint(&e, 14, 1);
	initializer(&g, 5, &e);

	struct bytes sparse = { 0 }, values = { 0 }; /* s: sparse, its values f16 raw_data */
	pb_uint(&values, 1, 3);
	pb_uint(&values, 2, 10);
	pb_str(&values, 8, "h");
	pb_tag(&values, 9, LEN);
	pb_varint(&values, 6);
	data_at = values.n;
	put_fill(&values, 0x3c, 6);
	pb_tag(&sparse, 1, LEN);
	pb_varint(&sparse, values.n);
	size_t values_at = sparse.n;
	put(&sparse, values.p, values.n);
	bytes_free(&values);
	pb_bytes(&sparse, 2, "\x08\x03", 2);
	pb_uint(&sparse, 3, 10);
	at = initializer(&g, 15, &sparse);
	m->h_data = at + values_at + data_at;

	size_t graph_at;
	model(&m->file, &g, &graph_at);
	m->w_data += graph_at;
	m->b_data += graph_at;
	m->d_data += graph_at;
	m->h_data += graph_at;
}

static void test_valid(void)
{
	struct built m;
	build_valid(&m);
	struct recog g;
	recognize(&g, &m.file);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->format, MC_TF_ONNX);
		MC_CHECK_U64(g.map->n, 4);
		CHECK_TENSOR(g.map, 0, m.w_data, 128, "w", MC_DT_F32);
		CHECK_TENSOR(g.map, 1, m.b_data, 12, "b", MC_DT_F32);
		CHECK_TENSOR(g.map, 2, m.d_data, 16, "d", MC_DT_F64);
		CHECK_TENSOR(g.map, 3, m.h_data, 6, "h", MC_DT_F16);
	}
	recog_done(&g);
	MC_CHECK_U64(g.count.allocs, g.count.frees);
	MC_CHECK_STR(mc_tensor_format_name(MC_TF_ONNX), "onnx");
	check_torture(&m.file);
	check_truncations(&m.file, 1);
	bytes_free(&m.file);
}

/* The data are skipped, not read: a large initializer costs no reads of its bytes. */
static void test_large_data_unread(void)
{
	struct bytes g = { 0 }, t = { 0 }, f;
	pb_uint(&t, 1, 1u << 22);
	pb_uint(&t, 2, 1);
	pb_str(&t, 8, "big");
	pb_tag(&t, 9, LEN);
	pb_varint(&t, 4ull << 22);
	size_t head = t.n;
	pb_tag(&g, 5, LEN);
	pb_varint(&g, head + (4ull << 22));
	size_t t_at = g.n;
	put(&g, t.p, t.n);
	bytes_free(&t);
	/* the model is written by hand: the graph is the file's last field */
	memset(&f, 0, sizeof(f));
	pb_uint(&f, 1, 8);
	pb_tag(&f, 7, LEN);
	pb_varint(&f, g.n + (4ull << 22));
	size_t graph_at = f.n;
	put(&f, g.p, g.n);
	bytes_free(&g);
	uint64_t size = f.n + (4ull << 22);
	struct recog r;
	recognize_sized(&r, f.p, f.n, size, 0);
	CHECK_CONTRACT(&r);
	MC_CHECK_U64(r.r, 1);
	if (r.map)
		CHECK_TENSOR(r.map, 0, graph_at + t_at + head, 4ull << 22, "big", MC_DT_F32);
	MC_CHECK(r.file.reads <= 4);
	MC_CHECK(r.count.largest <= (64u << 10));
	recog_done(&r);
	bytes_free(&f);
}

/* A graph holding only what the caller built, as the file's only field after ir_version. */
static void one_graph(struct bytes *f, struct bytes *graph_body)
{
	memset(f, 0, sizeof(*f));
	pb_uint(f, 1, 7);
	pb_msg(f, 7, graph_body);
}

static void test_malformed(void)
{
	struct bytes f, g = { 0 }, t = { 0 };

	pb_uint(&t, 2, 1); /* raw_data longer than its tensor */
	pb_str(&t, 8, "w");
	pb_tag(&t, 9, LEN);
	pb_varint(&t, 1000);
	put_fill(&t, 0, 8);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "runs past the end of its message");
	bytes_free(&f);

	pb_str(&t, 8, "w"); /* a tensor's name given as a varint */
	pb_uint(&t, 8, 3);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "wire type 0, not 2");
	bytes_free(&f);

	pb_tag(&t, 1, LEN); /* a packed dim whose varint runs past its field */
	pb_varint(&t, 1);
	put_u8(&t, 0x80);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "packed dim");
	bytes_free(&f);

	pb_tag(&t, 4, LEN); /* float_data of 6 bytes */
	pb_varint(&t, 6);
	put_fill(&t, 0, 6);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "no whole number of 4-byte elements");
	bytes_free(&f);

	pb_tag(&t, 3, LEN); /* a segment */
	pb_varint(&t, 0);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "segmented");
	bytes_free(&f);

	pb_tag(&t, 6, 3); /* a group */
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "groups are not ONNX");
	bytes_free(&f);

	for (int i = 0; i < 11; i++) /* a varint of 11 bytes */
		put_u8(&t, 0x80 | (i == 10 ? 0 : 1));
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "varint longer than 64 bits");
	bytes_free(&f);

	put_u8(&t, 0x0a); /* dims packed: a 10-byte varint whose last byte holds more than bit 63 */
	put_u8(&t, 10);
	for (int i = 0; i < 10; i++)
		put_u8(&t, i == 9 ? 0x02 : 0xff);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "varint longer than 64 bits");
	bytes_free(&f);

	pb_uint(&t, 0, 1); /* field number 0 */
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "field number 0");
	bytes_free(&f);

	pb_bytes(&t, 9, "abcd", 4); /* raw_data twice */
	pb_bytes(&t, 9, "abcd", 4);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "raw_data twice");
	bytes_free(&f);

	pb_uint(&g, 5, 1); /* an initializer as a varint */
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "an initializer (field 5) has wire type 0");
	bytes_free(&f);
}

/* A huge count or length from the file sizes nothing: lengths of 2^63 and 2^64 - 1, and 2^32
 * dims, are refused before anything is read or allocated for them. */
static void test_huge_lengths(void)
{
	struct bytes f, g = { 0 }, t = { 0 };
	pb_str(&t, 8, "w");
	pb_tag(&t, 9, LEN);
	pb_varint(&t, UINT64_MAX);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "runs past the end of its message");
	bytes_free(&f);

	pb_tag(&g, 5, LEN);
	pb_varint(&g, 1ull << 63);
	one_graph(&f, &g);
	CHECK_REJECTS(&f, "runs past the end of its message");
	bytes_free(&f);

	/* 100 dims of 2^31, more than a shape keeps: the tensor is mapped all the same */
	for (unsigned i = 0; i < 100; i++)
		pb_uint(&t, 1, 1u << 31);
	pb_uint(&t, 2, 1);
	pb_str(&t, 8, "many");
	pb_bytes(&t, 9, "abcd", 4);
	pb_msg(&g, 5, &t);
	one_graph(&f, &g);
	struct recog r;
	recognize(&r, &f);
	CHECK_CONTRACT(&r);
	MC_CHECK_U64(r.r, 1);
	recog_done(&r);
	bytes_free(&f);
}

/* Two initializers over the same bytes cannot be built from a protobuf (each field has its own
 * bytes); the top level's graph twice is refused as no ONNX file. */
static void test_two_graphs(void)
{
	struct bytes f = { 0 }, g1 = { 0 }, g2 = { 0 };
	pb_uint(&f, 1, 7);
	pb_str(&g1, 2, "a");
	pb_str(&g2, 2, "b");
	pb_msg(&f, 7, &g1);
	pb_msg(&f, 7, &g2);
	struct recog r;
	recognize(&r, &f);
	CHECK_CONTRACT(&r);
	MC_CHECK_U64(r.r, 0);
	recog_done(&r);
	bytes_free(&f);
}

/* What is not ONNX is "not a format we know", cheaply: random bytes, text, a .npy, a GGUF,
 * protobufs that are no model (no graph, first field no ir_version, a tail that is no field),
 * and an ONNX start followed by garbage. */
static void check_not_onnx(const void *p, size_t n)
{
	struct recog r;
	recognize_n(&r, p, n, 0);
	CHECK_CONTRACT(&r);
	MC_CHECK(r.r != 1 || r.map->format != MC_TF_ONNX);
	MC_CHECK(strncmp(r.why, "onnx:", 5) != 0);
	recog_done(&r);
}

static void test_not_onnx(void)
{
	uint64_t state = 0x9e3779b97f4a7c15ull;
	uint8_t buf[4096];
	for (int k = 0; k < 2000; k++) {
		size_t n = (size_t)(k * 7 % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			buf[i] = (uint8_t)(state >> 56);
		}
		if (k % 2 == 0 && n >= 3) { /* past the probe: the walk must refuse it */
			buf[0] = 0x08;
			buf[1] = 0x07;
			buf[2] = 0x3a;
		}
		check_not_onnx(buf, n);
	}
	const char *text = "# a config file\nkey = value\n";
	check_not_onnx(text, strlen(text));
	check_not_onnx("\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, }", 50);
	check_not_onnx("GGUF\x03\x00\x00\x00", 8);

	struct bytes f = { 0 }, g = { 0 };
	pb_uint(&f, 1, 7); /* no graph */
	pb_str(&f, 2, "producer");
	check_not_onnx(f.p, f.n);
	bytes_free(&f);
	pb_uint(&f, 1, 0); /* ir_version 0 */
	pb_msg(&f, 7, &g);
	check_not_onnx(f.p, f.n);
	bytes_free(&f);
	pb_uint(&f, 1, 7); /* a graph, then a tail that is no field */
	pb_str(&g, 2, "g");
	pb_msg(&f, 7, &g);
	put_str(&f, "\xff\xff");
	check_not_onnx(f.p, f.n);
	bytes_free(&f);
	pb_uint(&f, 1, 7); /* the graph's length past the end of the file */
	pb_tag(&f, 7, LEN);
	pb_varint(&f, 100);
	put_fill(&f, 0, 10);
	check_not_onnx(f.p, f.n);
	bytes_free(&f);
}

/* Every single-byte change of a valid model keeps the contract. */
static void test_flips(void)
{
	struct built m;
	build_valid(&m);
	for (size_t i = 0; i < m.file.n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			m.file.p[i] ^= (uint8_t)(1u << bit);
			struct recog r;
			recognize(&r, &m.file);
			CHECK_CONTRACT(&r);
			recog_done(&r);
			MC_CHECK_U64(r.count.allocs, r.count.frees);
			m.file.p[i] ^= (uint8_t)(1u << bit);
		}
	}
	bytes_free(&m.file);
}

/* ---- external data ---- */

static void external_tensor(struct bytes *g, const char *name, const char *location,
                            const char *offset, const char *length)
{
	struct bytes t = { 0 }, e = { 0 };
	pb_uint(&t, 1, 4);
	pb_uint(&t, 2, 1);
	pb_str(&t, 8, name);
	pb_str(&e, 1, "location");
	pb_str(&e, 2, location);
	pb_msg(&t, 13, &e);
	if (offset) {
		pb_str(&e, 1, "offset");
		pb_str(&e, 2, offset);
		pb_msg(&t, 13, &e);
	}
	if (length) {
		pb_str(&e, 2, length); /* the value before the key: any order */
		pb_str(&e, 1, "length");
		pb_msg(&t, 13, &e);
	}
	pb_str(&e, 1, "checksum");
	pb_str(&e, 2, "abc");
	pb_msg(&t, 13, &e);
	pb_uint(&t, 14, 1);
	pb_msg(g, 5, &t);
}

struct seen {
	char locations[8][64];
	unsigned n;
};

static void note_location(void *ctx, const char *location, size_t len)
{
	struct seen *s = ctx;
	if (s->n < 8 && len < 64) {
		memcpy(s->locations[s->n], location, len);
		s->locations[s->n][len] = '\0';
	}
	s->n++;
}

static void external_model(struct bytes *f)
{
	struct bytes g = { 0 }, t = { 0 };
	size_t data_at;
	float_tensor(&t, "inside", 2, 2, 1, &data_at);
	pb_msg(&g, 5, &t);
	external_tensor(&g, "a", "w.bin", "0", "16");
	external_tensor(&g, "b", "w.bin", "4096", "64");
	external_tensor(&g, "c", "sub/x.bin", NULL, NULL);
	external_tensor(&g, "evil", "../etc/passwd", "0", "4");
	external_tensor(&g, "abs", "/etc/passwd", "0", "4");
	one_graph(f, &g);
}

static void test_location_safe(void)
{
	MC_CHECK(mc_onnx_location_safe("w.bin", 5));
	MC_CHECK(mc_onnx_location_safe("sub/dir/w.bin", 13));
	MC_CHECK(mc_onnx_location_safe("..w", 3));
	MC_CHECK(mc_onnx_location_safe("a/...", 5));
	MC_CHECK(!mc_onnx_location_safe("", 0));
	MC_CHECK(!mc_onnx_location_safe("/w.bin", 6));
	MC_CHECK(!mc_onnx_location_safe("..", 2));
	MC_CHECK(!mc_onnx_location_safe("../w.bin", 8));
	MC_CHECK(!mc_onnx_location_safe("a/../../w.bin", 13));
	MC_CHECK(!mc_onnx_location_safe("a/..", 4));
	MC_CHECK(!mc_onnx_location_safe("a\0b", 3));
}

static void test_externals(void)
{
	struct bytes f;
	external_model(&f);
	struct recog g; /* the model's own map: the one initializer inside it */
	recognize(&g, &f);
	CHECK_CONTRACT(&g);
	MC_CHECK_U64(g.r, 1);
	if (g.map) {
		MC_CHECK_U64(g.map->n, 1);
		MC_CHECK_STR(g.map->names + g.map->t[0].name, "inside");
	}
	recog_done(&g);

	struct mem_file mf = { f.p, f.n, f.n, false, 0 };
	struct mc_tensor_src src = { mem_read_at, &mf, f.n };
	struct counting_alloc count = { 0 };
	struct mc_tensor_alloc a = { counting_alloc, counting_free, &count };
	struct seen seen = { 0 };
	char why[200];
	MC_CHECK_U64(mc_onnx_externals(&src, &a, note_location, &seen, why, sizeof(why)), 0);
	MC_CHECK_U64(seen.n, 3); /* the unsafe locations are never told */
	MC_CHECK_STR(seen.locations[0], "w.bin");
	MC_CHECK_STR(seen.locations[1], "w.bin");
	MC_CHECK_STR(seen.locations[2], "sub/x.bin");

	struct mc_tensor_map *map = NULL;
	MC_CHECK_U64(mc_onnx_external_map(&src, &a, "w.bin", 5, 8192, &map, why, sizeof(why)), 1);
	if (map) {
		MC_CHECK_U64(map->format, MC_TF_ONNX);
		MC_CHECK_U64(map->file_size, 8192);
		MC_CHECK_U64(map->n, 2);
		CHECK_TENSOR(map, 0, 0, 16, "a", MC_DT_F32);
		CHECK_TENSOR(map, 1, 4096, 64, "b", MC_DT_F32);
		mc_tensor_map_free(map, &a);
	}
	/* no length: up to the end of the file */
	MC_CHECK_U64(mc_onnx_external_map(&src, &a, "sub/x.bin", 9, 100, &map, why, sizeof(why)),
	             1);
	if (map) {
		CHECK_TENSOR(map, 0, 0, 100, "c", MC_DT_F32);
		mc_tensor_map_free(map, &a);
	}
	/* a range past the end of the external file: -1, saying which */
	MC_CHECK_U64(mc_onnx_external_map(&src, &a, "w.bin", 5, 4100, &map, why, sizeof(why)),
	             (uint64_t)-1);
	MC_CHECK(map == NULL && strstr(why, "onnx: tensor 'b'") && strstr(why, "past the end"));
	/* a file no initializer names, and unsafe locations: 0 */
	MC_CHECK_U64(mc_onnx_external_map(&src, &a, "v.bin", 5, 100, &map, why, sizeof(why)), 0);
	MC_CHECK_U64(
	    mc_onnx_external_map(&src, &a, "../etc/passwd", 13, 100, &map, why, sizeof(why)), 0);
	MC_CHECK(map == NULL && why[0] == '\0');
	MC_CHECK(!mf.read_outside);
	MC_CHECK_U64(count.allocs, count.frees);
	bytes_free(&f);

	struct bytes g2 = { 0 }; /* an offset that is no number */
	external_tensor(&g2, "a", "w.bin", "12x", NULL);
	one_graph(&f, &g2);
	mf = (struct mem_file){ f.p, f.n, f.n, false, 0 };
	src.size = f.n;
	MC_CHECK_U64(mc_onnx_external_map(&src, &a, "w.bin", 5, 100, &map, why, sizeof(why)),
	             (uint64_t)-1);
	MC_CHECK(strstr(why, "external_data offset at offset") != NULL);
	MC_CHECK_U64(count.allocs, count.frees);
	bytes_free(&f);
}

int main(void)
{
	test_location_safe();
	test_externals();
	test_valid();
	test_large_data_unread();
	test_malformed();
	test_huge_lengths();
	test_two_graphs();
	test_not_onnx();
	test_flips();
	return mc_test_done("unit-onnx");
}
