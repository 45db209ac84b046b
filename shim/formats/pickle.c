/* pickle.c: walks the opcodes of a pickle (protocols 0 to 5) without executing anything. In
 * torch.save's data.pkl (in memory) it finds the storages' persistent ids ('storage',
 * torch.FloatStorage, '3', 'cpu', n), the dict keys of the tensors built on them and the
 * sizes given to _rebuild_tensor_v2 (of tensors at offset 0 of their storage). In a plain
 * pickle or a joblib file (read from the file through a window, payloads skipped, never
 * read) it finds numpy arrays: their bytes (a BINBYTES/BYTEARRAY8 payload, or the raw bytes
 * joblib writes after a NumpyArrayWrapper), dtype, shape and their path in the object. Values
 * are reduced to what matters here (a string, an int, a shape, a dtype, a class, "holds
 * storage k", "is a tensor of storage k, of this size", "is container k"). Every length is checked
 * against the bytes left, the stacks and tables have fixed limits, and each byte and value is
 * looked at a bounded number of times: linear in the pickle's size. */
#include <string.h>

#include "internal.h"

enum pv_kind {
	PV_OTHER,
	PV_STR,           /* off, len: the string's bytes in the walk's text */
	PV_STORAGE,       /* a class torch.<X>Storage; dtype set */
	PV_INT,           /* a non-negative int: off */
	PV_INTS,          /* a tuple of ints: a shape (dims, ndim; PVF_SHAPE) */
	PV_BYTES,         /* bytes whose payload lies in the file: off, len (PVF_PAYLOAD) */
	PV_G_RECONSTRUCT, /* numpy.core.multiarray._reconstruct */
	PV_G_FROMBUFFER,  /* numpy.core.numeric._frombuffer */
	PV_G_DTYPE,       /* numpy.dtype */
	PV_G_WRAPPER,     /* joblib.numpy_pickle.NumpyArrayWrapper */
	PV_DTYPE_ARGS,    /* ('f4', False, True): the dtype's string at off, len */
	PV_DTYPE,         /* a numpy dtype: dtype, itemsize, PVF_BIG, PVF_OBJECT */
	PV_DTYPE_STATE,   /* (3, '<', ...): the byte order char at off */
	PV_ND_STATE,      /* (1, shape, dtype, fortran, bytes): an ndarray's BUILD state */
	PV_ND_ARGS,       /* (bytes, dtype, shape, order): _frombuffer's arguments */
	PV_ND_PENDING,    /* _reconstruct's result, waiting for its BUILD */
	PV_WRAPPER,       /* a NumpyArrayWrapper, waiting for its BUILD */
	PV_TENSOR,        /* torch: _rebuild_tensor_v2's (storage, 0, size, ...), what a call on
	                   * them returns, or a tuple whose first storage is one: storage, and
	                   * the size as a shape (PVF_SHAPE) */
};

enum {
	PVF_BIG = 1,      /* dtype stored big-endian */
	PVF_OBJECT = 2,   /* dtype holds Python objects */
	PVF_SHAPE = 4,    /* dims, ndim hold a shape */
	PVF_DTYPE = 8,    /* dtype, itemsize hold a numpy dtype's */
	PVF_PAYLOAD = 16, /* off, len: bytes in the file */
	PVF_ALIGNED = 32, /* joblib: a padding byte and padding precede the array's bytes */
};

struct pv {
	uint8_t kind;
	uint8_t dtype;
	uint8_t set; /* memo slots: 1 once written */
	uint8_t flags;
	int32_t storage; /* the first storage this value holds, or -1 */
	int32_t node;    /* the container or array this value is, for naming, or -1 */
	uint32_t count;  /* items appended so far (lists: the next index) */
	uint32_t itemsize;
	uint32_t dims, ndim; /* a shape: dims[dims, dims + ndim) of the walk's pool */
	uint64_t off, len;
};

/* A container or an array in the object, and how it is known in its parent. */
enum label { LABEL_NONE, LABEL_KEY, LABEL_INDEX };

struct node {
	int32_t parent; /* -1: none known */
	uint32_t at;    /* LABEL_KEY: the key's offset in the text (at most 100 MiB); LABEL_INDEX:
	                 * the index */
	uint32_t key_len;
	uint8_t label;
};

struct array {
	uint64_t off, len; /* file bytes */
	uint32_t dims, ndim;
	int32_t node;
	uint8_t dtype, big_endian, has_shape;
};

struct walk {
	struct mc_tf *tf;
	const struct mc_pickle_hooks *h;
	const char *what; /* the pickle in messages: "data.pkl", "the pickle" */
	/* The text: the whole pickle (in memory), or the opcodes and strings read so far from
	 * the file through cur, payloads left out. pos is the next byte to walk. */
	const uint8_t *p;
	size_t n, pos;
	struct mc_tf_cur *cur; /* NULL: the pickle is all in p */
	uint8_t *text;         /* owned when reading from the file */
	size_t text_cap;
	struct pv *stack;
	uint32_t depth, stack_cap;
	uint32_t marks[MC_PICKLE_MARKS_MAX];
	uint32_t n_marks;
	struct pv *memo;
	uint32_t memo_cap, memo_count;
	struct pv *outer_memo; /* the outer pickle's memo while a nested one is walked */
	uint32_t outer_memo_count;
	uint64_t *dims;
	size_t dims_len, dims_cap;
	struct node *nodes;
	size_t n_nodes, nodes_cap;
	struct array *arrays;
	size_t n_arrays, arrays_cap;
	unsigned nested; /* 1 inside a pickle inside the stream (a joblib object array) */
	bool joblib;     /* a NumpyArrayWrapper was seen */
	bool oom;        /* a table could not grow: the walk fails after this step */
};

static const struct pv pv_other = { PV_OTHER, MC_DT_OTHER, 0, 0, -1, -1, 0, 0, 0, 0, 0, 0 };

/* Where the walk is, as a byte offset in the pickle (the file, when reading from it). */
static uint64_t where(const struct walk *w)
{
	if (w->cur)
		return w->cur->pos - (uint64_t)(w->n - w->pos);
	return w->pos;
}

static int truncated(struct walk *w)
{
	return mc_tf_fail(w->tf, "%s is truncated at byte %llu", w->what,
	                  (unsigned long long)where(w));
}

/* Makes k more bytes than are left in the text available, reading them from the file. */
static int need(struct walk *w, size_t k)
{
	size_t left = w->n - w->pos;
	if (k <= left)
		return 0;
	if (!w->cur)
		return truncated(w);
	size_t want = k - left;
	if (want > MC_TENSOR_HEADER_MAX - w->n)
		return mc_tf_fail(w->tf,
		                  "%s has more than %u bytes of opcodes and strings (at byte %llu)",
		                  w->what, MC_TENSOR_HEADER_MAX, (unsigned long long)where(w));
	if (w->n + want > w->text_cap) {
		void *t = w->text;
		if (mc_tf_grow(w->tf, &t, &w->text_cap, 1, w->n + want) < 0)
			return -1;
		w->text = t;
		w->p = t;
	}
	if (mc_tf_cur_get(w->cur, w->text + w->n, want, "pickle opcode") < 0)
		return -1;
	w->n += want;
	return 0;
}

/* The opcode's argument: k bytes at pos, or a failure. */
static const uint8_t *arg(struct walk *w, size_t k)
{
	if (need(w, k) < 0)
		return NULL;
	const uint8_t *a = w->p + w->pos;
	w->pos += k;
	return a;
}

/* A text argument up to its newline (protocol 0 opcodes); *ret_off is where it starts in the
 * text, *ret_len excludes the newline. */
static int line(struct walk *w, size_t *ret_off, size_t *ret_len)
{
	size_t start = w->pos, scanned = w->pos;
	for (;;) {
		const uint8_t *nl = memchr(w->p + scanned, '\n', w->n - scanned);
		if (nl) {
			*ret_off = start;
			*ret_len = (size_t)(nl - (w->p + start));
			w->pos = start + *ret_len + 1;
			return 0;
		}
		scanned = w->n;
		w->pos = start;
		if (need(w, w->n - start + 1) < 0)
			return -1;
	}
}

/* A payload the walk skips: len bytes at pos, in the file at *ret_off when reading it. */
static int payload(struct walk *w, uint64_t len, uint64_t *ret_off)
{
	if (!w->cur) {
		if (len > w->n - w->pos)
			return truncated(w);
		*ret_off = w->pos;
		w->pos += (size_t)len;
		return 0;
	}
	/* need() reads only what is walked, so the file's position is the walk's here. */
	*ret_off = w->cur->pos;
	return mc_tf_cur_skip(w->cur, len, "pickle payload");
}

static int push(struct walk *w, struct pv v)
{
	if (w->depth >= w->stack_cap)
		return mc_tf_fail(w->tf, "%s holds more than %u values at once (byte %llu)",
		                  w->what, w->stack_cap, (unsigned long long)where(w));
	v.set = 0;
	w->stack[w->depth++] = v;
	return 0;
}

/* The bottom of the current frame: values under the last MARK are not ours to pop. */
static uint32_t frame_base(const struct walk *w)
{
	return w->n_marks ? w->marks[w->n_marks - 1] : 0;
}

static int pop(struct walk *w, struct pv *ret)
{
	if (w->depth <= frame_base(w))
		return mc_tf_fail(w->tf, "%s pops an empty stack at byte %llu", w->what,
		                  (unsigned long long)where(w));
	*ret = w->stack[--w->depth];
	return 0;
}

static struct pv *top(struct walk *w)
{
	if (w->depth <= frame_base(w)) {
		mc_tf_fail(w->tf, "%s reads an empty stack at byte %llu", w->what,
		           (unsigned long long)where(w));
		return NULL;
	}
	return &w->stack[w->depth - 1];
}

static int mark(struct walk *w)
{
	if (w->n_marks >= MC_PICKLE_MARKS_MAX)
		return mc_tf_fail(w->tf, "%s nests deeper than %u marks", w->what,
		                  MC_PICKLE_MARKS_MAX);
	w->marks[w->n_marks++] = w->depth;
	return 0;
}

/* Pops everything down to the last MARK: the items are stack[*ret_first, old depth). */
static int pop_mark(struct walk *w, uint32_t *ret_first, uint32_t *ret_count)
{
	if (w->n_marks == 0)
		return mc_tf_fail(w->tf, "%s has no MARK to pop at byte %llu", w->what,
		                  (unsigned long long)where(w));
	uint32_t first = w->marks[--w->n_marks];
	*ret_first = first;
	*ret_count = w->depth - first;
	w->depth = first;
	return 0;
}

static int32_t first_storage(const struct pv *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].storage >= 0)
			return v[i].storage;
	return -1;
}

static struct pv holding(int32_t storage)
{
	struct pv v = pv_other;
	v.storage = storage;
	return v;
}

static bool bytes_are(const struct walk *w, uint64_t off, uint64_t len, const char *s)
{
	size_t n = strlen(s);
	return len == n && memcmp(w->p + off, s, n) == 0;
}

static bool str_is(const struct walk *w, const struct pv *v, const char *s)
{
	return v->kind == PV_STR && bytes_are(w, v->off, v->len, s);
}

/* ---- naming: containers and arrays, linked to the container that holds them ---- */

/* A new node, or -1 past MC_PICKLE_NODES_MAX (names fall back to ordinals) or out of memory
 * (the walk then fails after this step, with mc_tf_grow's message). */
static int32_t new_node(struct walk *w)
{
	if (w->n_nodes >= MC_PICKLE_NODES_MAX)
		return -1;
	void *p = w->nodes;
	if (mc_tf_grow(w->tf, &p, &w->nodes_cap, sizeof(struct node), w->n_nodes + 1) < 0) {
		w->oom = true;
		return -1;
	}
	w->nodes = p;
	struct node *nd = &w->nodes[w->n_nodes];
	memset(nd, 0, sizeof(*nd));
	nd->parent = -1;
	return (int32_t)w->n_nodes++;
}

static bool is_ancestor(const struct walk *w, int32_t maybe, int32_t of)
{
	for (unsigned i = 0; of >= 0 && i < MC_PICKLE_PATH_MAX; i++, of = w->nodes[of].parent)
		if (of == maybe)
			return true;
	return false;
}

/* Records that child is held by parent under label (key: a string in the text; index). The
 * first holder wins: a value stored twice keeps the path it was first stored under. */
static void link(struct walk *w, const struct pv *child, struct pv *parent, enum label label,
                 uint64_t key_off, uint64_t key_len, uint32_t index)
{
	if (child->node < 0 || w->nodes[child->node].parent >= 0)
		return;
	if (parent->node < 0)
		parent->node = new_node(w);
	if (parent->node < 0 || is_ancestor(w, child->node, parent->node))
		return;
	struct node *nd = &w->nodes[child->node];
	nd->parent = parent->node;
	nd->label = (uint8_t)label;
	nd->at = label == LABEL_INDEX ? index : (uint32_t)key_off;
	nd->key_len = key_len > MC_TENSOR_NAME_MAX ? MC_TENSOR_NAME_MAX : (uint32_t)key_len;
}

static void link_items(struct walk *w, const struct pv *items, uint32_t n, struct pv *parent,
                       uint32_t first_index)
{
	for (uint32_t i = 0; i < n; i++)
		link(w, &items[i], parent, LABEL_INDEX, 0, 0, first_index + i);
}

/* ---- numpy's pieces ---- */

/* A shape: an all-int tuple of at most MC_PICKLE_NDIM_MAX items, copied to the pool. */
static bool as_shape(struct walk *w, const struct pv *items, uint32_t n, struct pv *ret)
{
	if (n > MC_PICKLE_NDIM_MAX || w->dims_len + n > MC_PICKLE_DIMS_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (items[i].kind != PV_INT)
			return false;
	void *p = w->dims;
	if (n && mc_tf_grow(w->tf, &p, &w->dims_cap, sizeof(uint64_t), w->dims_len + n) < 0) {
		w->oom = true;
		return false;
	}
	w->dims = p;
	*ret = pv_other;
	ret->kind = PV_INTS;
	ret->flags = PVF_SHAPE;
	ret->dims = (uint32_t)w->dims_len;
	ret->ndim = n;
	for (uint32_t i = 0; i < n; i++)
		w->dims[w->dims_len++] = items[i].off;
	return true;
}

/* numpy.dtype's first argument: '[<>|=]' kind letters, then the item size in bytes ('f4',
 * 'V64', 'U20', 'O8'). Floats of 2, 4 and 8 bytes have an mc_dtype; objects are flagged. */
static struct pv dtype_of(const struct walk *w, const struct pv *args)
{
	const uint8_t *s = w->p + args->off;
	uint64_t n = args->len, i = 0, size = 0;
	struct pv v = pv_other;
	v.kind = PV_DTYPE;
	v.flags = PVF_DTYPE;
	if (i < n && (s[i] == '<' || s[i] == '>' || s[i] == '|' || s[i] == '='))
		v.flags |= s[i++] == '>' ? PVF_BIG : 0;
	uint64_t kind_at = i;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	bool one_letter = i - kind_at == 1;
	for (; i < n && s[i] >= '0' && s[i] <= '9' && size < (1u << 30); i++)
		size = size * 10 + (uint64_t)(s[i] - '0');
	if (one_letter && s[kind_at] == 'O')
		v.flags |= PVF_OBJECT;
	if (one_letter && s[kind_at] == 'f')
		v.dtype = size == 2 ? MC_DT_F16 : size == 4 ? MC_DT_F32 : size == 8 ? MC_DT_F64 : 0;
	v.itemsize = (uint32_t)size;
	return v;
}

/* Copies what describes an array (shape, dtype, payload) from one value into another. */
static void take_shape(struct pv *to, const struct pv *from)
{
	to->dims = from->dims;
	to->ndim = from->ndim;
	to->flags |= from->flags & PVF_SHAPE;
}

static void take_dtype(struct pv *to, const struct pv *from)
{
	to->dtype = from->dtype;
	to->itemsize = from->itemsize;
	to->flags |= from->flags & (PVF_DTYPE | PVF_BIG | PVF_OBJECT);
}

static void take_payload(struct pv *to, const struct pv *from)
{
	to->off = from->off;
	to->len = from->len;
	to->flags |= from->flags & PVF_PAYLOAD;
}

/* Records the array that value v describes (payload, dtype, shape) as node v->node; object
 * arrays and values without a payload are not tensors. */
static int add_array(struct walk *w, struct pv *v)
{
	if (!(v->flags & PVF_PAYLOAD) || !(v->flags & PVF_DTYPE) || (v->flags & PVF_OBJECT))
		return 0;
	if (w->n_arrays >= MC_TENSOR_MAX)
		return mc_tf_fail(w->tf, "more than %u arrays", MC_TENSOR_MAX);
	void *p = w->arrays;
	if (mc_tf_grow(w->tf, &p, &w->arrays_cap, sizeof(struct array), w->n_arrays + 1) < 0)
		return -1;
	w->arrays = p;
	if (v->node < 0)
		v->node = new_node(w);
	struct array *a = &w->arrays[w->n_arrays++];
	a->off = v->off;
	a->len = v->len;
	a->dims = v->dims;
	a->ndim = v->ndim;
	a->node = v->node;
	a->dtype = v->dtype;
	a->big_endian = (v->flags & PVF_BIG) != 0;
	a->has_shape = (v->flags & PVF_SHAPE) != 0;
	return 0;
}

/* A pickle inside the stream (joblib's object arrays, pickle.dump'ed there) has a memo of its
 * own: the outer one is set aside until its STOP (unnest). */
static int nest(struct walk *w)
{
	if (!w->outer_memo) {
		w->outer_memo = mc_tf_alloc(w->tf, (size_t)w->memo_cap * sizeof(struct pv));
		if (!w->outer_memo)
			return -1;
	}
	struct pv *outer = w->memo;
	w->memo = w->outer_memo;
	w->outer_memo = outer;
	memset(w->memo, 0, (size_t)w->memo_cap * sizeof(struct pv));
	w->outer_memo_count = w->memo_count;
	w->memo_count = 0;
	w->nested++;
	return 0;
}

static void unnest(struct walk *w)
{
	struct pv *inner = w->memo;
	w->memo = w->outer_memo;
	w->outer_memo = inner;
	w->memo_count = w->outer_memo_count;
	w->nested--;
}

/* joblib writes an array's bytes into the stream right after its wrapper's BUILD: a padding
 * length byte and that many bytes when the wrapper has numpy_array_alignment_bytes, then
 * prod(shape) * itemsize bytes (numpy_pickle.py, NumpyArrayWrapper.write_array). An object
 * array is a whole pickle there instead, walked as part of this one up to its STOP. */
static int joblib_array(struct walk *w, struct pv *wrapper, const struct pv *state)
{
	if (!(state->flags & PVF_SHAPE) || !(state->flags & PVF_DTYPE))
		return mc_tf_fail(w->tf, "NumpyArrayWrapper at byte %llu has no shape or dtype",
		                  (unsigned long long)where(w));
	w->joblib = true;
	if (state->flags & PVF_OBJECT)
		return nest(w);
	const uint8_t *pad;
	uint64_t skipped, nbytes = state->itemsize;
	if (nbytes == 0)
		return mc_tf_fail(w->tf,
		                  "NumpyArrayWrapper at byte %llu has a dtype of unknown size",
		                  (unsigned long long)where(w));
	for (uint32_t i = 0; i < state->ndim; i++) {
		uint64_t d = w->dims[state->dims + i];
		if (d && nbytes > UINT64_MAX / d)
			return mc_tf_fail(w->tf, "array shape overflows at byte %llu",
			                  (unsigned long long)where(w));
		nbytes *= d;
	}
	if ((state->flags & PVF_ALIGNED) &&
	    (!(pad = arg(w, 1)) || payload(w, pad[0], &skipped) < 0))
		return -1;
	struct pv v = *wrapper;
	take_shape(&v, state);
	take_dtype(&v, state);
	v.flags |= PVF_PAYLOAD;
	v.len = nbytes;
	if (payload(w, nbytes, &v.off) < 0)
		return -1;
	if (add_array(w, &v) < 0)
		return -1;
	*wrapper = v;
	wrapper->kind = PV_OTHER;
	return 0;
}

/* ---- torch's tensors ---- */

/* torch's _rebuild_tensor_v2(storage, storage_offset, size, stride, ...): only a tensor at
 * offset 0 can say what its storage's shape is, and only when its size is a shape. */
static bool is_rebuild_args(const struct pv *items, uint32_t n)
{
	return n >= 3 && items[0].storage >= 0 && items[1].kind == PV_INT && items[1].off == 0 &&
	       items[2].kind == PV_INTS;
}

/* Makes v (holding that tensor's storage) the tensor of value t, with t's size. */
static void as_tensor(struct pv *v, const struct pv *t)
{
	v->kind = PV_TENSOR;
	v->storage = t->storage;
	take_shape(v, t);
}

/* A tuple whose first storage is a tensor's (the arguments of _rebuild_parameter(tensor, ...)
 * or of _rebuild_from_type_v2) stands for that tensor, so that the call's result does. */
static void keep_tensor(struct pv *v, const struct pv *items, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (items[i].storage < 0)
			continue;
		if (items[i].kind == PV_TENSOR)
			as_tensor(v, &items[i]);
		return;
	}
}

/* torch: the tensor value t is built on storage t->storage, at offset 0, with t's size. */
static void report_shape(struct walk *w, const struct pv *t)
{
	if (t->kind == PV_TENSOR && w->h->shape)
		w->h->shape(w->h->ctx, t->storage, t->ndim ? w->dims + t->dims : NULL, t->ndim);
}

/* ---- what values make of each other ---- */

/* What a BUILD of obj with state makes of obj (in place). */
static int build(struct walk *w, struct pv *obj, const struct pv *state)
{
	if (obj->kind == PV_DTYPE && state->kind == PV_DTYPE_STATE) {
		obj->flags = (uint8_t)((obj->flags & ~PVF_BIG) | (state->off == '>' ? PVF_BIG : 0));
		return 0;
	}
	if (obj->kind == PV_ND_PENDING && state->kind == PV_ND_STATE) {
		obj->kind = PV_OTHER;
		take_shape(obj, state);
		take_dtype(obj, state);
		take_payload(obj, state);
		return add_array(w, obj);
	}
	/* The pickle inside (an object array's) is plain: joblib's wrappers are only outside. */
	if (obj->kind == PV_WRAPPER && w->nested == 0)
		return joblib_array(w, obj, state);
	link(w, state, obj, LABEL_NONE, 0, 0, 0);
	if (obj->storage < 0)
		obj->storage = state->storage;
	return 0;
}

/* What a call of callable with args returns (REDUCE, NEWOBJ). */
static int call(struct walk *w, const struct pv *callable, const struct pv *args, struct pv *ret)
{
	*ret = pv_other;
	if (callable->kind == PV_G_DTYPE && args->kind == PV_DTYPE_ARGS) {
		*ret = dtype_of(w, args);
		return 0;
	}
	if (callable->kind == PV_G_RECONSTRUCT || callable->kind == PV_G_WRAPPER) {
		ret->kind = callable->kind == PV_G_WRAPPER ? PV_WRAPPER : PV_ND_PENDING;
		ret->node = new_node(w);
		return 0;
	}
	if (callable->kind == PV_G_FROMBUFFER && args->kind == PV_ND_ARGS) {
		*ret = *args;
		ret->kind = PV_OTHER;
		ret->node = -1;
		return add_array(w, ret);
	}
	ret->node = new_node(w);
	link(w, args, ret, LABEL_NONE, 0, 0, 0);
	/* _rebuild_tensor_v2 (or _rebuild_parameter, ...) on a tensor's arguments: that tensor */
	if (args->kind == PV_TENSOR)
		as_tensor(ret, args);
	return 0;
}

/* The classes and functions a pickle names that matter here. */
static struct pv global(const char *module, size_t module_len, const char *name, size_t name_len)
{
	static const struct {
		const char *name;
		enum mc_dtype dt;
	} classes[] = {
		{ "FloatStorage", MC_DT_F32 },     { "HalfStorage", MC_DT_F16 },
		{ "BFloat16Storage", MC_DT_BF16 }, { "DoubleStorage", MC_DT_F64 },
		{ "LongStorage", MC_DT_I64 },      { "IntStorage", MC_DT_I32 },
		{ "ShortStorage", MC_DT_I16 },     { "CharStorage", MC_DT_I8 },
		{ "ByteStorage", MC_DT_U8 },       { "BoolStorage", MC_DT_BOOL },
	};
	static const struct {
		const char *module, *name;
		enum pv_kind kind;
	} numpy[] = {
		{ "numpy.core.multiarray", "_reconstruct", PV_G_RECONSTRUCT },
		{ "numpy._core.multiarray", "_reconstruct", PV_G_RECONSTRUCT },
		{ "numpy.core.numeric", "_frombuffer", PV_G_FROMBUFFER },
		{ "numpy._core.numeric", "_frombuffer", PV_G_FROMBUFFER },
		{ "numpy", "dtype", PV_G_DTYPE },
		{ "joblib.numpy_pickle", "NumpyArrayWrapper", PV_G_WRAPPER },
	};
	struct pv v = pv_other;
	for (size_t i = 0; i < sizeof(numpy) / sizeof(numpy[0]); i++)
		if (strlen(numpy[i].module) == module_len && strlen(numpy[i].name) == name_len &&
		    memcmp(numpy[i].module, module, module_len) == 0 &&
		    memcmp(numpy[i].name, name, name_len) == 0)
			v.kind = (uint8_t)numpy[i].kind;
	if (module_len != 5 || memcmp(module, "torch", 5) != 0 || name_len < 7 ||
	    memcmp(name + name_len - 7, "Storage", 7) != 0)
		return v;
	v.kind = PV_STORAGE;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strlen(classes[i].name) == name_len &&
		    memcmp(classes[i].name, name, name_len) == 0)
			v.dtype = (uint8_t)classes[i].dt;
	return v;
}

/* numpy's tuples, told by their items' kinds; *ret unchanged when items are none of them. */
static void numpy_tuple(struct walk *w, const struct pv *items, uint32_t n, struct pv *ret)
{
	if (n == 3 && items[0].kind == PV_STR) { /* numpy.dtype's ('f4', False, True) */
		ret->kind = PV_DTYPE_ARGS;
		ret->off = items[0].off;
		ret->len = items[0].len;
	} else if (n >= 2 && items[0].kind == PV_INT && items[1].kind == PV_STR &&
	           items[1].len == 1) { /* a dtype's state: (3, '<', ...) */
		ret->kind = PV_DTYPE_STATE;
		ret->off = w->p[items[1].off];
	} else if (n == 5 && items[1].kind == PV_INTS && items[2].kind == PV_DTYPE &&
	           items[4].kind == PV_BYTES) { /* (1, shape, dtype, is_fortran, bytes) */
		ret->kind = PV_ND_STATE;
		take_shape(ret, &items[1]);
		take_dtype(ret, &items[2]);
		take_payload(ret, &items[4]);
	} else if (n == 4 && items[0].kind == PV_BYTES && items[1].kind == PV_DTYPE &&
	           items[2].kind == PV_INTS) { /* _frombuffer's (bytes, dtype, shape, order) */
		ret->kind = PV_ND_ARGS;
		take_payload(ret, &items[0]);
		take_dtype(ret, &items[1]);
		take_shape(ret, &items[2]);
	} else {
		as_shape(w, items, n, ret);
	}
}

/* A tuple: ('storage', torch.<X>Storage, key, location, size) is a storage's persistent id;
 * (storage, 0, size, ...) a torch tensor's arguments; numpy's tuples say what they are; any
 * other holds the first storage among its items, and its items are named by their index. */
static struct pv tuple(struct walk *w, const struct pv *items, uint32_t n)
{
	if (n >= 3 && str_is(w, &items[0], "storage") && items[1].kind == PV_STORAGE &&
	    items[2].kind == PV_STR)
		return holding(w->h->storage(w->h->ctx, (const char *)w->p + items[2].off,
		                             (size_t)items[2].len, (enum mc_dtype)items[1].dtype));
	struct pv v = holding(first_storage(items, n));
	if (is_rebuild_args(items, n)) { /* v holds items[0]'s storage */
		v.kind = PV_TENSOR;
		take_shape(&v, &items[2]);
	} else {
		numpy_tuple(w, items, n, &v);
	}
	if (v.kind == PV_OTHER)
		keep_tensor(&v, items, n);
	link_items(w, items, n, &v, 0);
	return v;
}

/* Key and value stored into a dict (SETITEM, SETITEMS, DICT): the torch hooks' name (and
 * size), the path of what the value holds, and the fields of a NumpyArrayWrapper's state. */
static void set_item(struct walk *w, struct pv *dict, const struct pv *key, const struct pv *value)
{
	if (key->kind != PV_STR) {
		link(w, value, dict, LABEL_NONE, 0, 0, 0);
		return;
	}
	if (value->storage >= 0) {
		w->h->name(w->h->ctx, value->storage, (const char *)w->p + key->off,
		           (size_t)key->len);
		report_shape(w, value);
	}
	link(w, value, dict, LABEL_KEY, key->off, key->len, 0);
	if (str_is(w, key, "shape") && value->kind == PV_INTS)
		take_shape(dict, value);
	else if (str_is(w, key, "dtype") && value->kind == PV_DTYPE)
		take_dtype(dict, value);
	else if (str_is(w, key, "numpy_array_alignment_bytes") && value->kind == PV_INT)
		dict->flags |= PVF_ALIGNED;
}

static void set_items(struct walk *w, struct pv *dict, const struct pv *items, uint32_t n)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		set_item(w, dict, &items[i], &items[i + 1]);
	if (dict->storage < 0)
		dict->storage = first_storage(items, n);
}

/* ---- the memo ---- */

static int memo_put(struct walk *w, uint64_t idx)
{
	struct pv *t = top(w);
	if (!t)
		return -1;
	if (idx < w->memo_cap) {
		w->memo_count += !w->memo[idx].set;
		w->memo[idx] = *t;
		w->memo[idx].set = 1;
	}
	return 0;
}

static int memo_get(struct walk *w, uint64_t idx)
{
	if (idx < w->memo_cap && w->memo[idx].set)
		return push(w, w->memo[idx]);
	return push(w, pv_other); /* beyond what we keep: a value we know nothing of */
}

static int parse_decimal(struct walk *w, const uint8_t *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return mc_tf_fail(w->tf, "%s has a bad memo index at byte %llu", w->what,
		                  (unsigned long long)where(w));
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return mc_tf_fail(w->tf, "%s has a bad memo index at byte %llu", w->what,
			                  (unsigned long long)where(w));
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* ---- opcodes ---- */

/* Opcodes that push a value we need not know, after an argument of fixed size. */
static int fixed_arg_size(uint8_t op)
{
	switch (op) {
	case 'N':  /* NONE */
	case 0x88: /* NEWTRUE */
	case 0x89: /* NEWFALSE */
	case 0x97: /* NEXT_BUFFER */
		return 0;
	case 0x82: /* EXT1 */
		return 1;
	case 0x83: /* EXT2 */
		return 2;
	case 0x84: /* EXT4 */
		return 4;
	case 'G': /* BINFLOAT */
		return 8;
	default:
		return -1;
	}
}

/* Length-prefixed arguments: the width of the length; *ret_str when the bytes are text,
 * *ret_bytes when they are a bytes payload. */
static int counted_arg_width(uint8_t op, bool *ret_str, bool *ret_bytes)
{
	*ret_str = op == 'U' || op == 'T' || op == 'X' || op == 0x8c || op == 0x8d;
	*ret_bytes = op == 'C' || op == 'B' || op == 0x8e || op == 0x96;
	switch (op) {
	case 'U':  /* SHORT_BINSTRING */
	case 'C':  /* SHORT_BINBYTES */
	case 0x8c: /* SHORT_BINUNICODE */
		return 1;
	case 'T':  /* BINSTRING */
	case 'X':  /* BINUNICODE */
	case 'B':  /* BINBYTES */
	case 0x8b: /* LONG4 */
		return 4;
	case 0x8d: /* BINUNICODE8 */
	case 0x8e: /* BINBYTES8 */
	case 0x96: /* BYTEARRAY8 */
		return 8;
	default:
		return -1;
	}
}

static int op_counted(struct walk *w, int width, bool is_str, bool is_bytes)
{
	const uint8_t *a = arg(w, (size_t)width);
	if (!a)
		return -1;
	uint64_t len = width == 1 ? a[0] : width == 4 ? mc_le32(a) : mc_le64(a);
	struct pv v = pv_other;
	if (is_bytes) {
		v.kind = PV_BYTES;
		v.flags = PVF_PAYLOAD;
		v.len = len;
		return payload(w, len, &v.off) < 0 ? -1 : push(w, v);
	}
	/* Read from the file, a string longer than any name is skipped like a payload: only
	 * names, keys and dtypes are looked at, and protocol 2 pickles hold arrays' bytes as
	 * text, which would otherwise fill the text with data. */
	if (w->cur && len > MC_TENSOR_NAME_MAX)
		return payload(w, len, &v.off) < 0 ? -1 : push(w, pv_other);
	if (len > SIZE_MAX || need(w, (size_t)len) < 0)
		return -1;
	if (is_str) {
		v.kind = PV_STR;
		v.off = w->pos;
		v.len = len;
	}
	w->pos += (size_t)len;
	return push(w, v);
}

/* BININT1, BININT2, BININT, LONG1: small ints (shapes, versions) are kept. */
static int op_int(struct walk *w, uint8_t op)
{
	size_t k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
	const uint8_t *a = arg(w, op == 0x8a ? 1 : k);
	if (!a)
		return -1;
	uint64_t v = 0;
	struct pv pv = pv_other;
	if (op == 0x8a) { /* LONG1: a length byte, then the little-endian two's complement */
		k = a[0];
		if (!(a = arg(w, k)))
			return -1;
		if (k > 8 || (k > 0 && (a[k - 1] & 0x80)))
			return push(w, pv);
		for (size_t i = k; i-- > 0;)
			v = v << 8 | a[i];
	} else {
		v = op == 'K' ? a[0] : op == 'M' ? mc_le16(a) : mc_le32(a);
		if (op == 'J' && (v & 0x80000000u))
			return push(w, pv); /* negative */
	}
	pv.kind = PV_INT;
	pv.off = v;
	return push(w, pv);
}

/* Text opcodes of protocol 0 that push a value: INT, LONG, FLOAT, STRING, UNICODE, PERSID. */
static int op_text(struct walk *w, uint8_t op)
{
	size_t off, len;
	if (line(w, &off, &len) < 0)
		return -1;
	struct pv v = pv_other;
	if (op == 'V') {
		v.kind = PV_STR;
		v.off = off;
		v.len = len;
	}
	return push(w, v);
}

static int op_global(struct walk *w)
{
	size_t moff, mlen, noff, nlen;
	if (line(w, &moff, &mlen) < 0 || line(w, &noff, &nlen) < 0)
		return -1;
	return push(w, global((const char *)w->p + moff, mlen, (const char *)w->p + noff, nlen));
}

static int op_stack_global(struct walk *w)
{
	struct pv name, module;
	if (pop(w, &name) < 0 || pop(w, &module) < 0)
		return -1;
	if (name.kind != PV_STR || module.kind != PV_STR)
		return push(w, pv_other);
	return push(w, global((const char *)w->p + module.off, (size_t)module.len,
	                      (const char *)w->p + name.off, (size_t)name.len));
}

/* REDUCE, NEWOBJ (callable, args) and NEWOBJ_EX (class, args, kwargs). */
static int op_call(struct walk *w, uint32_t n)
{
	struct pv items[3], ret;
	for (uint32_t i = n; i-- > 0;)
		if (pop(w, &items[i]) < 0)
			return -1;
	if (call(w, &items[0], &items[1], &ret) < 0)
		return -1;
	if (n == 3)
		link(w, &items[2], &ret, LABEL_NONE, 0, 0, 0);
	if (ret.kind != PV_TENSOR) /* a tensor keeps the storage its size is of */
		ret.storage = first_storage(items, n);
	return push(w, ret);
}

static int op_tuple(struct walk *w, uint32_t n)
{
	struct pv items[3];
	for (uint32_t i = n; i-- > 0;)
		if (pop(w, &items[i]) < 0)
			return -1;
	return push(w, tuple(w, items, n));
}

/* EMPTY_TUPLE (a shape, ()), EMPTY_LIST, EMPTY_DICT, EMPTY_SET: the containers get a node at
 * once, so that the memo's copy of one names what is added to it later. */
static int op_empty(struct walk *w, uint8_t op)
{
	struct pv v = pv_other;
	if (op == ')') {
		as_shape(w, NULL, 0, &v);
		return push(w, v);
	}
	v.node = new_node(w);
	return push(w, v);
}

/* MARK ... op: TUPLE, LIST, DICT, FROZENSET, INST, OBJ, and the in-place APPENDS, SETITEMS,
 * ADDITEMS that add to the value under the mark. */
static int op_marked(struct walk *w, uint8_t op)
{
	uint32_t first = 0, n = 0;
	size_t off, len;
	if (op == 'i' && (line(w, &off, &len) < 0 || line(w, &off, &len) < 0)) /* INST */
		return -1;
	if (pop_mark(w, &first, &n) < 0)
		return -1;
	const struct pv *items = &w->stack[first];
	if (op == 't')
		return push(w, tuple(w, items, n));
	struct pv made = holding(first_storage(items, n));
	struct pv *into = &made;
	if (op == 'e' || op == 'u' || op == 0x90) {
		if (!(into = top(w)))
			return -1;
	}
	if (op == 'd' || op == 'u')
		set_items(w, into, items, n);
	else if (op == 'e' || op == 'l')
		link_items(w, items, n, into, into->count);
	else
		for (uint32_t i = 0; i < n; i++)
			link(w, &items[i], into, LABEL_NONE, 0, 0, 0);
	if (op == 'e' || op == 'l')
		into->count += n;
	if (into->storage < 0)
		into->storage = first_storage(items, n);
	return into == &made ? push(w, made) : 0;
}

/* APPEND, SETITEM, BUILD: pop what is added to the value below it. */
static int op_into(struct walk *w, uint8_t op)
{
	struct pv value, key = pv_other;
	if (pop(w, &value) < 0 || (op == 's' && pop(w, &key) < 0))
		return -1;
	struct pv *t = top(w);
	if (!t)
		return -1;
	if (op == 'b')
		return build(w, t, &value);
	if (op == 's')
		set_item(w, t, &key, &value);
	else
		link(w, &value, t, LABEL_INDEX, 0, 0, t->count++);
	if (t->storage < 0)
		t->storage = value.storage;
	return 0;
}

static int op_memo(struct walk *w, uint8_t op)
{
	const uint8_t *a;
	size_t off, len;
	uint64_t idx = 0;
	switch (op) {
	case 'q': /* BINPUT */
	case 'h': /* BINGET */
		if (!(a = arg(w, 1)))
			return -1;
		return op == 'q' ? memo_put(w, a[0]) : memo_get(w, a[0]);
	case 'r': /* LONG_BINPUT */
	case 'j': /* LONG_BINGET */
		if (!(a = arg(w, 4)))
			return -1;
		return op == 'r' ? memo_put(w, mc_le32(a)) : memo_get(w, mc_le32(a));
	case 0x94: /* MEMOIZE */
		return memo_put(w, w->memo_count);
	default: /* PUT, GET */
		if (line(w, &off, &len) < 0 || parse_decimal(w, w->p + off, len, &idx) < 0)
			return -1;
		return op == 'p' ? memo_put(w, idx) : memo_get(w, idx);
	}
}

static int op_stack(struct walk *w, uint8_t op)
{
	struct pv v;
	uint32_t first = 0, n = 0;
	switch (op) {
	case '(': /* MARK */
		return mark(w);
	case '0': /* POP: the top value, or the mark when the frame is empty */
		if (w->depth > frame_base(w))
			return pop(w, &v);
		return pop_mark(w, &first, &n);
	case '1': /* POP_MARK */
		return pop_mark(w, &first, &n);
	case '2': { /* DUP */
		struct pv *t = top(w);
		return t ? push(w, *t) : -1;
	}
	case 'Q': /* BINPERSID: the id's storage goes on in the value */
		return pop(w, &v) < 0 ? -1 : push(w, holding(v.storage));
	default: /* READONLY_BUFFER: the buffer stays */
		return top(w) ? 0 : -1;
	}
}

static int step(struct walk *w, uint8_t op)
{
	bool is_str, is_bytes;
	int k = fixed_arg_size(op);
	if (k >= 0)
		return arg(w, (size_t)k) ? push(w, pv_other) : -1;
	if ((k = counted_arg_width(op, &is_str, &is_bytes)) >= 0)
		return op_counted(w, k, is_str, is_bytes);
	switch (op) {
	case 0x80: /* PROTO */
		return arg(w, 1) ? 0 : -1;
	case 0x95: /* FRAME: its length; the framed opcodes follow inline */
		return arg(w, 8) ? 0 : -1;
	case 'K':  /* BININT1 */
	case 'M':  /* BININT2 */
	case 'J':  /* BININT */
	case 0x8a: /* LONG1 */
		return op_int(w, op);
	case ')':  /* EMPTY_TUPLE */
	case ']':  /* EMPTY_LIST */
	case '}':  /* EMPTY_DICT */
	case 0x8f: /* EMPTY_SET */
		return op_empty(w, op);
	case 'I':
	case 'L':
	case 'F':
	case 'S':
	case 'V':
	case 'P':
		return op_text(w, op);
	case 'c':
		return op_global(w);
	case 0x93:
		return op_stack_global(w);
	case 'R':  /* REDUCE: callable, args */
	case 0x81: /* NEWOBJ: class, args */
		return op_call(w, 2);
	case 0x92: /* NEWOBJ_EX: class, args, kwargs */
		return op_call(w, 3);
	case 0x85: /* TUPLE1 */
	case 0x86: /* TUPLE2 */
	case 0x87: /* TUPLE3 */
		return op_tuple(w, (uint32_t)(op - 0x84));
	case 't':
	case 'l':
	case 'd':
	case 0x91: /* FROZENSET */
	case 'i':  /* INST */
	case 'o':  /* OBJ */
	case 'e':  /* APPENDS */
	case 'u':  /* SETITEMS */
	case 0x90: /* ADDITEMS */
		return op_marked(w, op);
	case 'a': /* APPEND */
	case 's': /* SETITEM */
	case 'b': /* BUILD */
		return op_into(w, op);
	case 'q':
	case 'h':
	case 'r':
	case 'j':
	case 0x94:
	case 'p':
	case 'g':
		return op_memo(w, op);
	case '(':
	case '0':
	case '1':
	case '2':
	case 'Q':
	case 0x98:
		return op_stack(w, op);
	default:
		return mc_tf_fail(w->tf, "%s has unknown opcode 0x%x at byte %llu", w->what, op,
		                  (unsigned long long)(where(w) - 1));
	}
}

bool mc_pickle_opcode_known(uint8_t op)
{
	/* Every opcode of protocols 0 to 5 (pickletools' table) but STOP, which no pickle starts
	 * with and no walk steps over. */
	static const char ops[] = "()0125FGIJKLMNPQRSTUVXabcdeghijlopqrstu}]";
	return (op >= 0x80 && op <= 0x98) || (op != 0 && strchr(ops, op) != NULL);
}

/* STOP: the end of the walk, or of a pickle inside it (a joblib object array, whose value
 * stands for the array its wrapper was: dropped, the wrapper stays). torch.save of one bare
 * tensor names no storage, but the tensor is the value on top. */
static int op_stop(struct walk *w)
{
	struct pv v;
	if (w->nested == 0) {
		if (w->depth > 0)
			report_shape(w, &w->stack[w->depth - 1]);
		return 0;
	}
	unnest(w);
	return pop(w, &v) < 0 ? -1 : 1;
}

/* Runs the walk from the text's pos to the pickle's STOP: 0, or -1 with why set. */
static int walk_to_stop(struct walk *w)
{
	for (;;) {
		const uint8_t *op = arg(w, 1);
		if (!op)
			return w->cur ? -1 : mc_tf_fail(w->tf, "%s ends without STOP", w->what);
		int r = *op == '.' ? op_stop(w) : step(w, *op) < 0 ? -1 : 1;
		if (w->oom)
			return -1;
		if (r <= 0)
			return r;
	}
}

static int walk_init(struct walk *w, struct mc_tf *tf, const struct mc_pickle_hooks *h,
                     uint64_t size)
{
	w->tf = tf;
	w->h = h;
	/* Each value and each memo slot needs at least one opcode byte to exist. */
	w->stack_cap = size < MC_PICKLE_STACK_MAX ? (uint32_t)size + 1 : MC_PICKLE_STACK_MAX;
	w->memo_cap = size < MC_PICKLE_MEMO_MAX ? (uint32_t)size + 1 : MC_PICKLE_MEMO_MAX;
	w->stack = mc_tf_alloc(tf, (size_t)w->stack_cap * sizeof(struct pv));
	w->memo = w->stack ? mc_tf_alloc(tf, (size_t)w->memo_cap * sizeof(struct pv)) : NULL;
	if (!w->memo)
		return -1;
	memset(w->memo, 0, (size_t)w->memo_cap * sizeof(struct pv));
	return 0;
}

static void walk_release(struct walk *w)
{
	mc_tf_free(w->tf, w->arrays);
	mc_tf_free(w->tf, w->nodes);
	mc_tf_free(w->tf, w->dims);
	mc_tf_free(w->tf, w->text);
	mc_tf_free(w->tf, w->outer_memo);
	mc_tf_free(w->tf, w->memo);
	mc_tf_free(w->tf, w->stack);
}

static struct walk *walk_new(struct mc_tf *tf)
{
	struct walk *w = mc_tf_alloc(tf, sizeof(*w));
	if (w)
		memset(w, 0, sizeof(*w));
	return w;
}

int mc_pickle_walk(struct mc_tf *tf, const uint8_t *p, size_t n, const struct mc_pickle_hooks *h)
{
	struct walk *w = walk_new(tf);
	if (!w)
		return -1;
	w->what = "data.pkl";
	w->p = p;
	w->n = n;
	int r = walk_init(w, tf, h, n) < 0 ? -1 : walk_to_stop(w);
	walk_release(w);
	mc_tf_free(tf, w);
	return r;
}

/* ---- plain pickles and joblib files ---- */

static int32_t no_storage(void *ctx, const char *key, size_t key_len, enum mc_dtype dt)
{
	(void)ctx;
	(void)key;
	(void)key_len;
	(void)dt;
	return -1;
}

static void no_name(void *ctx, int32_t idx, const char *key, size_t key_len)
{
	(void)ctx;
	(void)idx;
	(void)key;
	(void)key_len;
}

static void put(char *buf, size_t *len, const char *s, size_t n)
{
	if (n > MC_TENSOR_NAME_MAX - *len)
		n = MC_TENSOR_NAME_MAX - *len;
	memcpy(buf + *len, s, n);
	*len += n;
}

static void put_u32(char *buf, size_t *len, uint32_t v)
{
	char digits[12];
	size_t n = sizeof(digits);
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(buf, len, digits + n, sizeof(digits) - n);
}

/* An array's path from the outermost container that holds it: keys and attributes joined by
 * '.', list and tuple indices as [i] ("estimators_[3].tree_.values"); "arrayN" (its ordinal)
 * when nothing names it. buf holds MC_TENSOR_NAME_MAX bytes. */
static size_t array_name(const struct walk *w, const struct array *a, uint32_t ordinal, char *buf)
{
	int32_t path[MC_PICKLE_PATH_MAX];
	unsigned depth = 0, steps = 0;
	/* Links that name nothing (a call's arguments, a BUILD's state) do not count in the depth,
	 * but every step does: a chain longer than link()'s look-out for cycles may close one. */
	for (int32_t nd = a->node;
	     nd >= 0 && depth < MC_PICKLE_PATH_MAX && steps < MC_PICKLE_PATH_STEPS_MAX;
	     nd = w->nodes[nd].parent, steps++)
		if (w->nodes[nd].parent >= 0 && w->nodes[nd].label != LABEL_NONE)
			path[depth++] = nd;
	size_t len = 0;
	while (depth-- > 0) {
		const struct node *nd = &w->nodes[path[depth]];
		if (nd->label == LABEL_INDEX) {
			put(buf, &len, "[", 1);
			put_u32(buf, &len, nd->at);
			put(buf, &len, "]", 1);
			continue;
		}
		if (len)
			put(buf, &len, ".", 1);
		put(buf, &len, (const char *)w->p + nd->at, nd->key_len);
	}
	if (len == 0) {
		put(buf, &len, "array", 5);
		put_u32(buf, &len, ordinal);
	}
	return len;
}

static int add_arrays(struct walk *w)
{
	char *name = mc_tf_alloc(w->tf, MC_TENSOR_NAME_MAX);
	int r = name ? 0 : -1;
	for (size_t i = 0; r == 0 && i < w->n_arrays; i++) {
		const struct array *a = &w->arrays[i];
		size_t len = array_name(w, a, (uint32_t)i, name);
		r = mc_tf_add(w->tf, a->off, a->len, name, len, (enum mc_dtype)a->dtype,
		              a->big_endian);
		if (r == 0 && a->has_shape)
			r = mc_tf_shape(w->tf, a->ndim ? w->dims + a->dims : NULL, a->ndim);
	}
	mc_tf_free(w->tf, name);
	return r;
}

int mc_tf_pickle(struct mc_tf *tf, enum mc_tensor_format *ret_format)
{
	static const struct mc_pickle_hooks none = { no_storage, no_name, NULL, NULL };
	struct walk *w = walk_new(tf);
	if (!w)
		return -1;
	uint8_t *window = mc_tf_alloc(tf, 64 << 10);
	struct mc_tf_cur cur = { .tf = tf, .limit = tf->src->size, .buf = window, .cap = 64 << 10 };
	w->what = "the pickle";
	w->cur = &cur;
	int r = window && walk_init(w, tf, &none, tf->src->size) == 0 ? walk_to_stop(w) : -1;
	if (r == 0) {
		*ret_format = w->joblib ? MC_TF_JOBLIB : MC_TF_PICKLE;
		tf->format = mc_tensor_format_name(*ret_format);
		r = add_arrays(w) < 0 ? -1 : 1;
	}
	walk_release(w);
	mc_tf_free(tf, window);
	mc_tf_free(tf, w);
	return r;
}
