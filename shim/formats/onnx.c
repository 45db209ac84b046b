/* onnx.c: the ONNX recogniser (a protobuf ModelProto). ONNX has no magic: a file is taken for
 * one when its first field is a plausible ir_version and the walk of its top level (tags and
 * lengths only: every field inside the file, no group) reaches the end of the file having met
 * one graph; anything else is "not a format we know". In the graph, each initializer (and the
 * values of each sparse initializer) whose data lie in the file as one run of bytes becomes a
 * tensor: raw_data, and the packed fixed-width float_data and double_data. Varint-packed data
 * (int32_data, int64_data, uint64_data) cannot be damaged in place without breaking the
 * protobuf, and are left out. Only the structure is read, through a window; data are skipped
 * by offset, so a file of gigabytes costs a few reads per initializer. Initializers kept in
 * other files (external data) are what two more walks of the same kind report: the files'
 * locations (mc_onnx_externals) and the map of one of them (mc_onnx_external_map). */
#include <string.h>

#include "internal.h"

#define ONNX_WINDOW           (16u << 10)
#define ONNX_IR_VERSION_MAX   63 /* the first byte's plausible ir_versions (11 is current) */
#define ONNX_TOP_FIELDS_MAX   (1u << 16)
#define ONNX_DIMS_MAX         64 /* dims kept as the shape; a tensor with more has none */
#define ONNX_FIELD_NUM_MAX    ((1u << 29) - 1)
#define ONNX_VARINT_MAX_BYTES 10
#define ONNX_KEY_MAX          16 /* external_data keys we know are shorter */
#define ONNX_NUMBER_MAX       20 /* digits of an external_data offset or length */

enum wire { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* Field numbers (onnx.proto). */
enum {
	MODEL_IR_VERSION = 1,
	MODEL_GRAPH = 7,
	GRAPH_INITIALIZER = 5,
	GRAPH_SPARSE_INITIALIZER = 15,
	SPARSE_VALUES = 1,
	TENSOR_DIMS = 1,
	TENSOR_DATA_TYPE = 2,
	TENSOR_SEGMENT = 3,
	TENSOR_FLOAT_DATA = 4,
	TENSOR_NAME = 8,
	TENSOR_RAW_DATA = 9,
	TENSOR_DOUBLE_DATA = 10,
	TENSOR_EXTERNAL_DATA = 13,
	TENSOR_DATA_LOCATION = 14,
	ENTRY_KEY = 1,
	ENTRY_VALUE = 2,
};

enum { LOCATION_EXTERNAL = 1 };

/* TensorProto.DataType values that map to a dtype of ours. */
enum { ONNX_FLOAT = 1, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11, ONNX_BFLOAT16 = 16 };

/* One walk. It maps the data in the model file itself, or, when want is set, the data that
 * its initializers keep in the external file want (into out, sized as that file); each, when
 * set, is told every external file a safe location names. */
struct onnx {
	struct mc_tf *tf;  /* the model: reads and messages */
	struct mc_tf *out; /* where tensors go */
	struct mc_tf_cur c;
	uint64_t structure; /* bytes of structure read so far */
	const char *want;
	size_t want_len;
	void (*each)(void *ctx, const char *location, size_t len);
	void *ctx;
};

/* One field: its number, wire type, and its value (varint) or payload [off, off + len). */
struct field {
	uint32_t num;
	unsigned wire;
	uint64_t value;
	uint64_t off, len;
};

/* A run of bytes in the file. */
struct span {
	uint64_t off, len;
	bool present;
};

/* What one TensorProto says. */
struct tensor_info {
	char name[MC_TENSOR_NAME_MAX];
	size_t name_len;
	uint64_t dims[ONNX_DIMS_MAX];
	unsigned ndim;
	bool too_many_dims;
	uint64_t data_type;
	struct span raw, floats, doubles;
	uint64_t data_location;
	char location[MC_ONNX_LOCATION_MAX];
	size_t location_len; /* 0: none, or longer than MC_ONNX_LOCATION_MAX */
	uint64_t ext_off, ext_len;
	bool has_ext_len;
};

/* Reads n structure bytes at the cursor; the structure read in all is bounded. */
static int take(struct onnx *o, void *dst, size_t n, const char *what)
{
	if (n > MC_TENSOR_HEADER_MAX - o->structure)
		return mc_tf_fail(o->tf, "more than %u bytes of structure (at %s)",
		                  MC_TENSOR_HEADER_MAX, what);
	o->structure += n;
	return mc_tf_cur_get(&o->c, dst, n, what);
}

/* A varint that must end before end: at most 10 bytes, the last holding bit 63 only. */
static int read_varint(struct onnx *o, uint64_t end, uint64_t *ret, const char *what)
{
	uint64_t v = 0;
	uint64_t start = o->c.pos;
	for (unsigned i = 0; i < ONNX_VARINT_MAX_BYTES; i++) {
		uint8_t b;
		if (o->c.pos >= end)
			return mc_tf_fail(o->tf,
			                  "truncated: %s at offset %llu runs past the end of its "
			                  "message",
			                  what, (unsigned long long)start);
		if (take(o, &b, 1, what) < 0)
			return -1;
		if (i == ONNX_VARINT_MAX_BYTES - 1 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return mc_tf_fail(o->tf, "%s at offset %llu: a varint longer than 64 bits", what,
	                  (unsigned long long)start);
}

/* Moves the cursor to pos, which the caller has checked lies inside the file. */
static void jump(struct onnx *o, uint64_t pos)
{
	o->c.pos = pos;
}

/* Skips n bytes that must end by end. */
static int skip_within(struct onnx *o, uint64_t end, uint64_t n, const char *what)
{
	if (n > end - o->c.pos)
		return mc_tf_fail(o->tf,
		                  "truncated: %s (%llu bytes at offset %llu) runs past the end of "
		                  "its message",
		                  what, (unsigned long long)n, (unsigned long long)o->c.pos);
	jump(o, o->c.pos + n);
	return 0;
}

/* The next field of the message that ends at end. A length-delimited field's payload is left
 * unread: the cursor is past it on return, and f->off, f->len say where it lies. */
static int read_field(struct onnx *o, uint64_t end, struct field *f)
{
	uint64_t tag_off = o->c.pos, tag;
	if (read_varint(o, end, &tag, "a field tag") < 0)
		return -1;
	memset(f, 0, sizeof(*f));
	f->wire = (unsigned)(tag & 7);
	if ((tag >> 3) == 0 || (tag >> 3) > ONNX_FIELD_NUM_MAX)
		return mc_tf_fail(o->tf, "field number %llu at offset %llu",
		                  (unsigned long long)(tag >> 3), (unsigned long long)tag_off);
	f->num = (uint32_t)(tag >> 3);
	switch (f->wire) {
	case WIRE_VARINT:
		return read_varint(o, end, &f->value, "a varint field");
	case WIRE_I64:
		return skip_within(o, end, 8, "a 64-bit field");
	case WIRE_I32:
		return skip_within(o, end, 4, "a 32-bit field");
	case WIRE_LEN:
		if (read_varint(o, end, &f->len, "a length") < 0)
			return -1;
		f->off = o->c.pos;
		return skip_within(o, end, f->len, "a length-delimited field");
	default:
		return mc_tf_fail(o->tf, "field %u at offset %llu has wire type %u%s", f->num,
		                  (unsigned long long)tag_off, f->wire,
		                  f->wire == 3 || f->wire == 4 ? " (groups are not ONNX)" : "");
	}
}

static int expect_wire(struct onnx *o, const struct field *f, unsigned wire, const char *what)
{
	if (f->wire == wire)
		return 0;
	return mc_tf_fail(o->tf, "%s (field %u) has wire type %u, not %u", what, f->num, f->wire,
	                  wire);
}

/* ---- the top level ---- */

/* Walks ModelProto's fields over the whole file: the first must be a plausible ir_version,
 * exactly one must be the graph. 0 (graph set), or -1: then the file is no ONNX model. */
static int walk_model(struct onnx *o, struct span *graph)
{
	uint64_t end = o->tf->src->size;
	unsigned fields = 0;
	graph->present = false;
	jump(o, 0);
	while (o->c.pos < end) {
		struct field f;
		if (++fields > ONNX_TOP_FIELDS_MAX)
			return mc_tf_fail(o->tf, "more than %u top-level fields",
			                  ONNX_TOP_FIELDS_MAX);
		if (read_field(o, end, &f) < 0)
			return -1;
		if (fields == 1 && !(f.num == MODEL_IR_VERSION && f.wire == WIRE_VARINT &&
		                     f.value >= 1 && f.value <= ONNX_IR_VERSION_MAX))
			return mc_tf_fail(o->tf, "the first field is no ir_version");
		if (f.num != MODEL_GRAPH)
			continue;
		if (expect_wire(o, &f, WIRE_LEN, "graph") < 0)
			return -1;
		if (graph->present)
			return mc_tf_fail(o->tf, "two graphs");
		*graph = (struct span){ f.off, f.len, true };
	}
	if (!graph->present)
		return mc_tf_fail(o->tf, "no graph");
	return 0;
}

/* ---- tensors ---- */

static enum mc_dtype dtype_of(uint64_t data_type)
{
	switch (data_type) {
	case ONNX_FLOAT:
		return MC_DT_F32;
	case ONNX_FLOAT16:
		return MC_DT_F16;
	case ONNX_BFLOAT16:
		return MC_DT_BF16;
	case ONNX_DOUBLE:
		return MC_DT_F64;
	default:
		return MC_DT_OTHER; /* integers, bool, strings, complex, 8- and 4-bit floats */
	}
}

static int read_name(struct onnx *o, const struct field *f, struct tensor_info *t)
{
	if (expect_wire(o, f, WIRE_LEN, "a tensor's name") < 0)
		return -1;
	t->name_len = f->len < sizeof(t->name) ? (size_t)f->len : sizeof(t->name);
	jump(o, f->off);
	if (take(o, t->name, t->name_len, "a tensor's name") < 0)
		return -1;
	jump(o, f->off + f->len);
	return 0;
}

static void add_dim(struct tensor_info *t, uint64_t dim)
{
	if (t->ndim < ONNX_DIMS_MAX)
		t->dims[t->ndim++] = dim;
	else
		t->too_many_dims = true;
}

/* dims: one varint per field, or a packed run of varints that fills its payload exactly. */
static int read_dims(struct onnx *o, const struct field *f, struct tensor_info *t)
{
	if (f->wire == WIRE_VARINT) {
		add_dim(t, f->value);
		return 0;
	}
	if (expect_wire(o, f, WIRE_LEN, "dims") < 0)
		return -1;
	uint64_t end = f->off + f->len;
	jump(o, f->off);
	while (o->c.pos < end) {
		uint64_t dim;
		if (read_varint(o, end, &dim, "a packed dim") < 0)
			return -1;
		add_dim(t, dim);
	}
	return 0;
}

/* A packed run of fixed-width elements (float_data, double_data); the unpacked form (one field
 * per element, tags between them) is no run of bytes and is left out. */
static int read_packed(struct onnx *o, const struct field *f, unsigned width, unsigned wire,
                       struct span *ret, const char *what)
{
	if (f->wire == wire)
		return 0;
	if (expect_wire(o, f, WIRE_LEN, what) < 0)
		return -1;
	if (f->len % width)
		return mc_tf_fail(o->tf,
		                  "%s of %llu bytes at offset %llu is no whole number of "
		                  "%u-byte elements",
		                  what, (unsigned long long)f->len, (unsigned long long)f->off,
		                  width);
	if (ret->present)
		return mc_tf_fail(o->tf, "%s twice in one tensor", what);
	*ret = (struct span){ f->off, f->len, true };
	return 0;
}

/* A decimal number of at most 20 digits that fits in 64 bits. */
static bool parse_u64(const char *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

/* Reads a string field's bytes into buf when they fit in cap (*fits says whether they did);
 * the cursor stays where it was. 0 or -1. */
static int read_string(struct onnx *o, const struct span *s, char *buf, size_t cap, bool *fits,
                       const char *what)
{
	*fits = s->present && s->len <= cap;
	if (!*fits)
		return 0;
	uint64_t back = o->c.pos;
	jump(o, s->off);
	int r = take(o, buf, (size_t)s->len, what);
	jump(o, back);
	return r;
}

/* A number-valued external_data entry (offset, length). */
static int external_number(struct onnx *o, const struct span *value, uint64_t *ret,
                           const char *what)
{
	char digits[ONNX_NUMBER_MAX];
	bool fits;
	if (read_string(o, value, digits, sizeof(digits), &fits, what) < 0)
		return -1;
	if (!fits || !parse_u64(digits, (size_t)value->len, ret))
		return mc_tf_fail(o->tf, "external_data %s at offset %llu is no number", what,
		                  (unsigned long long)value->off);
	return 0;
}

/* One external_data entry (StringStringEntryProto: key 1, value 2): location, offset and
 * length are kept; other keys (checksum) are not ours. */
static int external_entry(struct onnx *o, const struct field *entry, struct tensor_info *t)
{
	struct span key = { 0, 0, false }, value = { 0, 0, false };
	uint64_t end = entry->off + entry->len;
	if (expect_wire(o, entry, WIRE_LEN, "external_data") < 0)
		return -1;
	jump(o, entry->off);
	while (o->c.pos < end) {
		struct field f;
		if (read_field(o, end, &f) < 0)
			return -1;
		if (f.num != ENTRY_KEY && f.num != ENTRY_VALUE)
			continue;
		if (expect_wire(o, &f, WIRE_LEN, "an external_data string") < 0)
			return -1;
		*(f.num == ENTRY_KEY ? &key : &value) = (struct span){ f.off, f.len, true };
	}
	char name[ONNX_KEY_MAX];
	bool fits;
	if (read_string(o, &key, name, sizeof(name), &fits, "an external_data key") < 0)
		return -1;
	size_t n = fits ? (size_t)key.len : 0;
	if (n == 8 && memcmp(name, "location", 8) == 0) {
		if (read_string(o, &value, t->location, sizeof(t->location), &fits,
		                "an external_data location") < 0)
			return -1;
		t->location_len = fits ? (size_t)value.len : 0;
	} else if (n == 6 && memcmp(name, "offset", 6) == 0) {
		return external_number(o, &value, &t->ext_off, "offset");
	} else if (n == 6 && memcmp(name, "length", 6) == 0) {
		t->has_ext_len = true;
		return external_number(o, &value, &t->ext_len, "length");
	}
	return 0;
}

static int tensor_field(struct onnx *o, const struct field *f, struct tensor_info *t)
{
	switch (f->num) {
	case TENSOR_DIMS:
		return read_dims(o, f, t);
	case TENSOR_DATA_TYPE:
		t->data_type = f->value;
		return expect_wire(o, f, WIRE_VARINT, "data_type");
	case TENSOR_NAME:
		return read_name(o, f, t);
	case TENSOR_RAW_DATA:
		if (expect_wire(o, f, WIRE_LEN, "raw_data") < 0)
			return -1;
		if (t->raw.present)
			return mc_tf_fail(o->tf, "raw_data twice in one tensor");
		t->raw = (struct span){ f->off, f->len, true };
		return 0;
	case TENSOR_FLOAT_DATA:
		return read_packed(o, f, 4, WIRE_I32, &t->floats, "float_data");
	case TENSOR_DOUBLE_DATA:
		return read_packed(o, f, 8, WIRE_I64, &t->doubles, "double_data");
	case TENSOR_SEGMENT:
		return mc_tf_fail(o->tf, "a segmented tensor");
	case TENSOR_EXTERNAL_DATA:
		return external_entry(o, f, t);
	case TENSOR_DATA_LOCATION:
		t->data_location = f->value;
		return expect_wire(o, f, WIRE_VARINT, "data_location");
	default:
		return 0; /* varint-packed data, external_data, doc_string, ...: not ours */
	}
}

static int add_span(struct onnx *o, const struct tensor_info *t, const struct span *s,
                    enum mc_dtype dt)
{
	if (!s->present)
		return 0;
	if (mc_tf_add(o->out, s->off, s->len, t->name, t->name_len, dt, false) < 0)
		return -1;
	if (t->too_many_dims)
		return 0;
	if (mc_tf_shape(o->out, t->dims, t->ndim) < 0)
		return mc_tf_fail(o->tf, "out of memory (shape of '%.*s')", (int)t->name_len,
		                  t->name);
	return 0;
}

/* An initializer whose data lie in another file: told to each, or, in the walk for that
 * file, a tensor of it (no length: up to the next tensor or the end of the file). */
static int external_tensor(struct onnx *o, const struct tensor_info *t, enum mc_dtype dt)
{
	if (!mc_onnx_location_safe(t->location, t->location_len))
		return 0;
	if (!o->want) {
		if (o->each)
			o->each(o->ctx, t->location, t->location_len);
		return 0;
	}
	if (t->location_len != o->want_len || memcmp(t->location, o->want, o->want_len) != 0)
		return 0;
	struct span s = { t->ext_off, t->has_ext_len ? t->ext_len : MC_TF_LEN_TO_NEXT, true };
	return add_span(o, t, &s, dt);
}

/* One TensorProto in [off, end): its data runs become tensors named after it. */
static int walk_tensor(struct onnx *o, uint64_t off, uint64_t end)
{
	struct tensor_info t;
	memset(&t, 0, sizeof(t));
	jump(o, off);
	while (o->c.pos < end) {
		struct field f;
		if (read_field(o, end, &f) < 0)
			return -1;
		uint64_t next = o->c.pos;
		if (tensor_field(o, &f, &t) < 0)
			return -1;
		jump(o, next);
	}
	enum mc_dtype dt = dtype_of(t.data_type);
	if (t.data_location == LOCATION_EXTERNAL)
		return external_tensor(o, &t, dt);
	if (o->want)
		return 0;
	if (add_span(o, &t, &t.raw, dt) < 0)
		return -1;
	if (add_span(o, &t, &t.floats, t.data_type == ONNX_FLOAT ? MC_DT_F32 : MC_DT_OTHER) < 0)
		return -1;
	return add_span(o, &t, &t.doubles, t.data_type == ONNX_DOUBLE ? MC_DT_F64 : MC_DT_OTHER);
}

/* A SparseTensorProto: its values are a tensor; its indices are left alone (damaged indices
 * are refused by the runtime, not silently wrong). */
static int walk_sparse(struct onnx *o, uint64_t off, uint64_t end)
{
	jump(o, off);
	while (o->c.pos < end) {
		struct field f;
		if (read_field(o, end, &f) < 0)
			return -1;
		if (f.num != SPARSE_VALUES)
			continue;
		if (expect_wire(o, &f, WIRE_LEN, "a sparse tensor's values") < 0 ||
		    walk_tensor(o, f.off, f.off + f.len) < 0)
			return -1;
		jump(o, f.off + f.len);
	}
	return 0;
}

static int walk_graph(struct onnx *o, const struct span *graph)
{
	uint64_t end = graph->off + graph->len;
	jump(o, graph->off);
	while (o->c.pos < end) {
		struct field f;
		if (read_field(o, end, &f) < 0)
			return -1;
		if (f.num != GRAPH_INITIALIZER && f.num != GRAPH_SPARSE_INITIALIZER)
			continue;
		if (expect_wire(o, &f, WIRE_LEN, "an initializer") < 0)
			return -1;
		int r = f.num == GRAPH_INITIALIZER ? walk_tensor(o, f.off, f.off + f.len)
		                                   : walk_sparse(o, f.off, f.off + f.len);
		if (r < 0)
			return -1;
		jump(o, f.off + f.len);
	}
	return 0;
}

/* The walk o was set up for: 1, 0 (no ONNX model) or -1. */
static int walk(struct onnx *o)
{
	uint64_t size = o->tf->src->size;
	size_t cap = size < ONNX_WINDOW ? (size_t)size : ONNX_WINDOW;
	o->c = (struct mc_tf_cur){ .tf = o->tf, .limit = size, .cap = cap };
	o->c.buf = mc_tf_alloc(o->tf, cap);
	if (!o->c.buf)
		return -1;
	struct span graph = { 0, 0, false };
	int r = walk_model(o, &graph) < 0 ? 0 : 1;
	if (r == 1 && walk_graph(o, &graph) < 0)
		r = -1;
	mc_tf_free(o->tf, o->c.buf);
	return r;
}

int mc_tf_onnx(struct mc_tf *tf)
{
	struct onnx o = { .tf = tf, .out = tf };
	return walk(&o);
}

/* ---- external data ---- */

bool mc_onnx_location_safe(const char *p, size_t n)
{
	if (n == 0 || p[0] == '/' || memchr(p, '\0', n))
		return false;
	for (size_t start = 0; start < n;) {
		const char *slash = memchr(p + start, '/', n - start);
		size_t len = slash ? (size_t)(slash - (p + start)) : n - start;
		if (len == 2 && p[start] == '.' && p[start + 1] == '.')
			return false;
		start += len + 1;
	}
	return true;
}

int mc_onnx_externals(const struct mc_tensor_src *model, const struct mc_tensor_alloc *a,
                      void (*each)(void *ctx, const char *location, size_t len), void *ctx,
                      char *why, size_t why_len)
{
	struct mc_tf tf = {
		.src = model, .a = a, .format = "onnx", .why = why, .why_len = why_len
	};
	struct onnx o = { .tf = &tf, .out = &tf, .each = each, .ctx = ctx };
	if (why && why_len)
		why[0] = '\0';
	int r = walk(&o);
	mc_tf_free(&tf, tf.t);
	mc_tf_free(&tf, tf.names);
	if (r == 0 && why && why_len)
		why[0] = '\0';
	return r < 0 ? -1 : 0;
}

/* The external file is never read: its map comes from the model alone. */
static int64_t no_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	(void)off;
	(void)buf;
	(void)len;
	return -1;
}

int mc_onnx_external_map(const struct mc_tensor_src *model, const struct mc_tensor_alloc *a,
                         const char *location, size_t location_len, uint64_t file_size,
                         struct mc_tensor_map **ret, char *why, size_t why_len)
{
	struct mc_tensor_src file = { .read_at = no_read, .size = file_size };
	struct mc_tf tf = {
		.src = model, .a = a, .format = "onnx", .why = why, .why_len = why_len
	};
	struct mc_tf out = {
		.src = &file, .a = a, .format = "onnx", .why = why, .why_len = why_len
	};
	struct onnx o = { .tf = &tf, .out = &out, .want = location, .want_len = location_len };
	*ret = NULL;
	if (why && why_len)
		why[0] = '\0';
	int r = mc_onnx_location_safe(location, location_len) ? walk(&o) : 0;
	if (r == 1 && out.n == 0)
		r = 0;
	if (r == 1)
		r = mc_tf_finish(&out, MC_TF_ONNX, ret);
	mc_tf_free(&out, out.t);
	mc_tf_free(&out, out.names);
	if (r == 0 && why && why_len)
		why[0] = '\0';
	return r;
}
