/* pickle.c: walks the opcodes of a pickle (protocols 0 to 5) to find what torch.save's
 * data.pkl says about its storages: the persistent ids ('storage', torch.FloatStorage, '3',
 * 'cpu', n) and the dict keys under which the tensors built on them are stored. It executes
 * nothing: values are reduced to what matters here (a string, a class, "holds storage k", a
 * small int, a tuple of them: the size given to _rebuild_tensor_v2).
 * Every argument length is checked against the bytes left, the stacks have fixed limits, and
 * each byte and value is looked at a bounded number of times: linear in the pickle's size. */
#include <string.h>

#include "internal.h"

enum pv_kind {
	PV_OTHER,
	PV_STR,     /* off, len: the string's bytes in the pickle */
	PV_STORAGE, /* a class torch.<X>Storage; dtype set */
	PV_INT,     /* off: its opcode's position (BININT1, BININT2, BININT); len: its value */
	PV_SHAPE,   /* a tuple of PV_INTs whose opcodes follow each other: off the first's
	             * position, len their count (read back by mc_pickle_ints) */
	PV_TENSOR,  /* _rebuild_tensor_v2's arguments (or what holds them): storage, and the
	             * size as PV_SHAPE's off and len, when the storage offset is 0 */
};

struct pv {
	uint8_t kind;
	uint8_t dtype;
	uint8_t set; /* memo slots: 1 once written */
	uint8_t pad;
	int32_t storage; /* the first storage this value holds, or -1 */
	uint32_t off, len;
};

struct walk {
	struct mc_tf *tf;
	const struct mc_pickle_hooks *h;
	const uint8_t *p;
	size_t n, pos;
	struct pv *stack;
	uint32_t depth, stack_cap;
	uint32_t marks[MC_PICKLE_MARKS_MAX];
	uint32_t n_marks;
	struct pv *memo;
	uint32_t memo_cap, memo_count;
};

static const struct pv pv_other = { PV_OTHER, MC_DT_OTHER, 0, 0, -1, 0, 0 };

static int truncated(struct walk *w)
{
	return mc_tf_fail(w->tf, "data.pkl is truncated at byte %zu", w->pos);
}

/* The opcode's argument: k bytes at pos, or a failure. */
static const uint8_t *arg(struct walk *w, size_t k)
{
	if (k > w->n - w->pos) {
		truncated(w);
		return NULL;
	}
	const uint8_t *a = w->p + w->pos;
	w->pos += k;
	return a;
}

/* A text argument up to its newline (protocol 0 opcodes); *ret_len excludes the newline. */
static const uint8_t *line(struct walk *w, size_t *ret_len)
{
	const uint8_t *start = w->p + w->pos;
	const uint8_t *nl = memchr(start, '\n', w->n - w->pos);
	if (!nl) {
		truncated(w);
		return NULL;
	}
	*ret_len = (size_t)(nl - start);
	w->pos += *ret_len + 1;
	return start;
}

static int push(struct walk *w, struct pv v)
{
	if (w->depth >= w->stack_cap)
		return mc_tf_fail(w->tf, "data.pkl holds more than %u values at once (byte %zu)",
		                  w->stack_cap, w->pos);
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
		return mc_tf_fail(w->tf, "data.pkl pops an empty stack at byte %zu", w->pos);
	*ret = w->stack[--w->depth];
	return 0;
}

static struct pv *top(struct walk *w)
{
	if (w->depth <= frame_base(w)) {
		mc_tf_fail(w->tf, "data.pkl reads an empty stack at byte %zu", w->pos);
		return NULL;
	}
	return &w->stack[w->depth - 1];
}

static int mark(struct walk *w)
{
	if (w->n_marks >= MC_PICKLE_MARKS_MAX)
		return mc_tf_fail(w->tf, "data.pkl nests deeper than %u marks",
		                  MC_PICKLE_MARKS_MAX);
	w->marks[w->n_marks++] = w->depth;
	return 0;
}

/* Pops everything down to the last MARK: the items are stack[*ret_first, old depth). */
static int pop_mark(struct walk *w, uint32_t *ret_first, uint32_t *ret_count)
{
	if (w->n_marks == 0)
		return mc_tf_fail(w->tf, "data.pkl has no MARK to pop at byte %zu", w->pos);
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

static bool str_is(const struct walk *w, const struct pv *v, const char *s)
{
	size_t n = strlen(s);
	return v->kind == PV_STR && v->len == n && memcmp(w->p + v->off, s, n) == 0;
}

/* torch.FloatStorage and its kin: the class's dtype. */
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
	struct pv v = pv_other;
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

/* Bytes of a small-int opcode's argument: BININT1, BININT2, BININT; 0 for any other. */
static size_t int_arg_size(uint8_t op)
{
	return op == 'K' ? 1 : op == 'M' ? 2 : op == 'J' ? 4 : 0;
}

/* Whether items are n PV_INTs written one right after the other (how a pickler writes a
 * tuple of ints), which mc_pickle_ints() can read back from the first's position. */
static bool is_shape(const struct pv *items, uint32_t n)
{
	if (n > MC_TENSOR_DIMS_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (items[i].kind != PV_INT)
			return false;
		uint32_t prev = items[i - (i > 0)].off;
		size_t next = (prev & 0xffffff) + 1 + int_arg_size((uint8_t)(prev >> 24));
		if (i > 0 && (items[i].off & 0xffffff) != next)
			return false;
	}
	return true;
}

/* A tuple: ('storage', torch.<X>Storage, key, location, size) is a storage's persistent id;
 * (storage, 0, size, ...) the arguments of torch's _rebuild_tensor_v2; a tuple of ints a
 * shape; any other tuple holds the first storage among its items (and its size, if known). */
static struct pv tuple(struct walk *w, const struct pv *items, uint32_t n)
{
	if (n >= 3 && str_is(w, &items[0], "storage") && items[1].kind == PV_STORAGE &&
	    items[2].kind == PV_STR)
		return holding(w->h->storage(w->h->ctx, (const char *)w->p + items[2].off,
		                             items[2].len, (enum mc_dtype)items[1].dtype));
	if (n >= 3 && items[0].storage >= 0 && items[1].kind == PV_INT && items[1].len == 0 &&
	    items[2].kind == PV_SHAPE) {
		struct pv v = items[2];
		v.kind = PV_TENSOR;
		v.storage = items[0].storage;
		return v;
	}
	if (is_shape(items, n)) {
		struct pv v = pv_other;
		v.kind = PV_SHAPE;
		v.off = n ? items[0].off & 0xffffff : 0;
		v.len = n;
		return v;
	}
	for (uint32_t i = 0; i < n; i++)
		if (items[i].storage >= 0)
			return items[i].kind == PV_TENSOR ? items[i] : holding(items[i].storage);
	return holding(-1);
}

/* key names the storage value holds (and gives it its shape, when value knows one). */
static void name_value(struct walk *w, const struct pv *key, const struct pv *value)
{
	if (key->kind != PV_STR || value->storage < 0)
		return;
	w->h->name(w->h->ctx, value->storage, (const char *)w->p + key->off, key->len);
	if (value->kind == PV_TENSOR && w->h->shape)
		w->h->shape(w->h->ctx, value->storage, value->off, value->len);
}

static void name_pairs(struct walk *w, const struct pv *items, uint32_t n)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		name_value(w, &items[i], &items[i + 1]);
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
		return mc_tf_fail(w->tf, "data.pkl has a bad memo index at byte %zu", w->pos);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return mc_tf_fail(w->tf, "data.pkl has a bad memo index at byte %zu",
			                  w->pos);
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
	case ')':  /* EMPTY_TUPLE */
	case ']':  /* EMPTY_LIST */
	case '}':  /* EMPTY_DICT */
	case 0x8f: /* EMPTY_SET */
	case 0x97: /* NEXT_BUFFER */
		return 0;
	case 'K':  /* BININT1 */
	case 0x82: /* EXT1 */
		return 1;
	case 'M':  /* BININT2 */
	case 0x83: /* EXT2 */
		return 2;
	case 'J':  /* BININT */
	case 0x84: /* EXT4 */
		return 4;
	case 'G': /* BINFLOAT */
		return 8;
	default:
		return -1;
	}
}

/* Length-prefixed arguments: the width of the length; *ret_str when the bytes are text. */
static int counted_arg_width(uint8_t op, bool *ret_str)
{
	*ret_str = op == 'U' || op == 'T' || op == 'X' || op == 0x8c || op == 0x8d;
	switch (op) {
	case 'U':  /* SHORT_BINSTRING */
	case 'C':  /* SHORT_BINBYTES */
	case 0x8c: /* SHORT_BINUNICODE */
	case 0x8a: /* LONG1 */
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

static int op_counted(struct walk *w, int width, bool is_str)
{
	const uint8_t *a = arg(w, (size_t)width);
	if (!a)
		return -1;
	uint64_t len = width == 1 ? a[0] : width == 4 ? mc_le32(a) : mc_le64(a);
	if (len > w->n - w->pos)
		return truncated(w);
	struct pv v = pv_other;
	if (is_str) {
		v.kind = PV_STR;
		v.off = (uint32_t)w->pos;
		v.len = (uint32_t)len;
	}
	w->pos += (size_t)len;
	return push(w, v);
}

/* Text opcodes of protocol 0 that push a value: INT, LONG, FLOAT, STRING, UNICODE, PERSID. */
static int op_text(struct walk *w, uint8_t op)
{
	size_t len;
	const uint8_t *s = line(w, &len);
	if (!s)
		return -1;
	struct pv v = pv_other;
	if (op == 'V') {
		v.kind = PV_STR;
		v.off = (uint32_t)(s - w->p);
		v.len = (uint32_t)len;
	}
	return push(w, v);
}

static int op_global(struct walk *w)
{
	size_t mlen, nlen;
	const uint8_t *m = line(w, &mlen);
	const uint8_t *n = m ? line(w, &nlen) : NULL;
	if (!n)
		return -1;
	return push(w, global((const char *)m, mlen, (const char *)n, nlen));
}

static int op_stack_global(struct walk *w)
{
	struct pv name, module;
	if (pop(w, &name) < 0 || pop(w, &module) < 0)
		return -1;
	if (name.kind != PV_STR || module.kind != PV_STR)
		return push(w, pv_other);
	return push(w, global((const char *)w->p + module.off, module.len,
	                      (const char *)w->p + name.off, name.len));
}

/* Pops n values and pushes what a call or tuple of them holds. */
static int op_combine(struct walk *w, uint32_t n, bool as_tuple)
{
	struct pv items[3];
	for (uint32_t i = n; i-- > 0;)
		if (pop(w, &items[i]) < 0)
			return -1;
	if (as_tuple)
		return push(w, tuple(w, items, n));
	/* a call of _rebuild_tensor_v2 (or any callable) on arguments that know a tensor's size:
	 * the result keeps it */
	if (items[1].kind == PV_TENSOR)
		return push(w, items[1]);
	return push(w, holding(first_storage(items, n)));
}

/* MARK ... op: TUPLE, LIST, DICT, FROZENSET, INST, OBJ, and the in-place APPENDS, SETITEMS,
 * ADDITEMS that add to the value under the mark. */
static int op_marked(struct walk *w, uint8_t op)
{
	uint32_t first = 0, n = 0;
	size_t len;
	if (op == 'i' && (!line(w, &len) || !line(w, &len))) /* INST: module, name */
		return -1;
	if (pop_mark(w, &first, &n) < 0)
		return -1;
	const struct pv *items = &w->stack[first];
	if (op == 'd' || op == 'u')
		name_pairs(w, items, n);
	if (op == 't')
		return push(w, tuple(w, items, n));
	if (op == 'e' || op == 'u' || op == 0x90) {
		struct pv *t = top(w);
		if (!t)
			return -1;
		if (t->storage < 0)
			t->storage = first_storage(items, n);
		return 0;
	}
	return push(w, holding(first_storage(items, n)));
}

/* APPEND, SETITEM, BUILD: pop what is added to the value below it. */
static int op_into(struct walk *w, uint8_t op)
{
	struct pv value, key = pv_other;
	if (pop(w, &value) < 0 || (op == 's' && pop(w, &key) < 0))
		return -1;
	if (op == 's')
		name_value(w, &key, &value);
	struct pv *t = top(w);
	if (!t)
		return -1;
	if (t->storage < 0)
		t->storage = value.storage;
	return 0;
}

static int op_memo(struct walk *w, uint8_t op)
{
	const uint8_t *a;
	size_t len;
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
		if (!(a = line(w, &len)) || parse_decimal(w, a, len, &idx) < 0)
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

/* BININT1, BININT2, BININT: a non-negative value is kept (sizes and offsets); its opcode's
 * position goes in the top byte's place of off, with the opcode in the top byte, so that
 * is_shape() can tell whether ints follow each other. Positions past 2^24 keep no int. */
static int op_int(struct walk *w, uint8_t op)
{
	size_t at = w->pos - 1;
	const uint8_t *a = arg(w, int_arg_size(op));
	if (!a)
		return -1;
	int64_t v = op == 'K' ? a[0] : op == 'M' ? mc_le16(a) : (int32_t)mc_le32(a);
	struct pv p = pv_other;
	if (v >= 0 && at < (1u << 24)) {
		p.kind = PV_INT;
		p.off = (uint32_t)at | (uint32_t)op << 24;
		p.len = (uint32_t)v;
	}
	return push(w, p);
}

uint64_t mc_pickle_ints(const uint8_t *p, size_t n, uint32_t at, uint32_t count, uint64_t *dims)
{
	uint64_t product = 1;
	size_t pos = at;
	for (uint32_t i = 0; i < count && i < MC_TENSOR_DIMS_MAX; i++) {
		size_t k = pos < n ? int_arg_size(p[pos]) : 0;
		if (!k || k > n - pos - 1)
			return UINT64_MAX;
		const uint8_t *a = p + pos + 1;
		dims[i] = p[pos] == 'K' ? a[0] : p[pos] == 'M' ? mc_le16(a) : mc_le32(a);
		if (__builtin_mul_overflow(product, dims[i], &product))
			return UINT64_MAX;
		pos += 1 + k;
	}
	return product;
}

/* STOP: a pickle of one bare tensor (torch.save(t)) names no storage, but its size is on
 * the stack. */
static int stop(struct walk *w)
{
	const struct pv *v = w->depth ? &w->stack[w->depth - 1] : NULL;
	if (v && v->kind == PV_TENSOR && w->h->shape)
		w->h->shape(w->h->ctx, v->storage, v->off, v->len);
	return 0;
}

static int step(struct walk *w, uint8_t op)
{
	bool is_str;
	int k = fixed_arg_size(op);
	if (k >= 0 && int_arg_size(op))
		return op_int(w, op);
	if (op == ')') /* EMPTY_TUPLE: also the shape of a scalar */
		return push(w, tuple(w, NULL, 0));
	if (k >= 0)
		return arg(w, (size_t)k) ? push(w, pv_other) : -1;
	if ((k = counted_arg_width(op, &is_str)) >= 0)
		return op_counted(w, k, is_str);
	switch (op) {
	case 0x80: /* PROTO */
		return arg(w, 1) ? 0 : -1;
	case 0x95: /* FRAME: its length; the framed opcodes follow inline */
		return arg(w, 8) ? 0 : -1;
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
		return op_combine(w, 2, false);
	case 0x92: /* NEWOBJ_EX: class, args, kwargs */
		return op_combine(w, 3, false);
	case 0x85: /* TUPLE1 */
	case 0x86: /* TUPLE2 */
	case 0x87: /* TUPLE3 */
		return op_combine(w, (uint32_t)(op - 0x84), true);
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
		return mc_tf_fail(w->tf, "data.pkl has unknown opcode 0x%x at byte %zu", op,
		                  w->pos - 1);
	}
}

int mc_pickle_walk(struct mc_tf *tf, const uint8_t *p, size_t n, const struct mc_pickle_hooks *h)
{
	struct walk *w = mc_tf_alloc(tf, sizeof(*w));
	if (!w)
		return -1;
	memset(w, 0, offsetof(struct walk, marks));
	w->tf = tf;
	w->h = h;
	w->p = p;
	w->n = n;
	w->n_marks = 0;
	w->memo_count = 0;
	/* Each value and each memo slot needs at least one opcode byte to exist. */
	w->stack_cap = n < MC_PICKLE_STACK_MAX ? (uint32_t)n + 1 : MC_PICKLE_STACK_MAX;
	w->memo_cap = n < MC_PICKLE_MEMO_MAX ? (uint32_t)n + 1 : MC_PICKLE_MEMO_MAX;
	w->stack = mc_tf_alloc(tf, (size_t)w->stack_cap * sizeof(struct pv));
	w->memo = w->stack ? mc_tf_alloc(tf, (size_t)w->memo_cap * sizeof(struct pv)) : NULL;
	int r = w->memo ? 1 : -1;
	if (w->memo)
		memset(w->memo, 0, (size_t)w->memo_cap * sizeof(struct pv));
	while (r == 1) {
		if (w->pos >= w->n) {
			r = mc_tf_fail(tf, "data.pkl ends without STOP");
			break;
		}
		uint8_t op = w->p[w->pos++];
		if (op == '.')
			r = stop(w);
		else if (step(w, op) < 0)
			r = -1;
	}
	mc_tf_free(tf, w->memo);
	mc_tf_free(tf, w->stack);
	mc_tf_free(tf, w);
	return r;
}
