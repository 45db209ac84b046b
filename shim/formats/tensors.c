/* tensors.c: the front of the recognisers: dispatch on the first bytes of a file, the map
 * builder (bounds, sorting, overlaps, names, one allocation), the bounded reads and messages
 * every recogniser uses. Never reads outside the file, never allocates but through the
 * caller's allocator, never formats with stdio (it runs inside a hooked open()). */
#include <stdarg.h>
#include <string.h>

#include "internal.h"

/* ---- messages ---- */

struct why_buf {
	char *p;
	size_t len, cap;
};

static void why_putc(struct why_buf *b, char c)
{
	if (b->len + 1 < b->cap) {
		unsigned char u = (unsigned char)c;
		b->p[b->len++] = (u < 0x20 || u == 0x7f) ? '?' : c;
		b->p[b->len] = '\0';
	}
}

static void why_puts(struct why_buf *b, const char *s)
{
	while (*s)
		why_putc(b, *s++);
}

static void why_u64(struct why_buf *b, uint64_t v, unsigned base)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		why_putc(b, digits[--n]);
}

/* The one conversion of fmt at *fmt (after '%'); advances *fmt past it. */
static void why_conv(struct why_buf *b, const char **fmt, va_list *ap)
{
	const char *f = *fmt;
	int longs = 0, size = 0;
	size_t precision = SIZE_MAX;
	if (f[0] == '.' && f[1] == '*') {
		int p = va_arg(*ap, int);
		precision = p < 0 ? SIZE_MAX : (size_t)p;
		f += 2;
	}
	while (*f == 'l' || *f == 'z') {
		longs += *f == 'l';
		size += *f == 'z';
		f++;
	}
	char c = *f ? *f++ : '\0';
	*fmt = f;
	if (c == 's') {
		const char *s = va_arg(*ap, const char *);
		for (size_t i = 0; s && i < precision && s[i]; i++)
			why_putc(b, s[i]);
	} else if (c == 'c') {
		why_putc(b, (char)va_arg(*ap, int));
	} else if (c == 'd') {
		long long v = longs ? va_arg(*ap, long long) : va_arg(*ap, int);
		if (v < 0)
			why_putc(b, '-');
		why_u64(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10);
	} else if (c == 'u' || c == 'x') {
		uint64_t v = size    ? va_arg(*ap, size_t)
		             : longs ? va_arg(*ap, unsigned long long)
		                     : va_arg(*ap, unsigned);
		why_u64(b, v, c == 'x' ? 16 : 10);
	} else if (c == '%') {
		why_putc(b, '%');
	}
}

int mc_tf_fail(struct mc_tf *tf, const char *fmt, ...)
{
	if (!tf->why || tf->why_len == 0)
		return -1;
	struct why_buf b = { tf->why, 0, tf->why_len };
	tf->why[0] = '\0';
	why_puts(&b, tf->format);
	why_puts(&b, ": ");
	va_list ap;
	va_start(ap, fmt);
	while (*fmt) {
		if (*fmt != '%') {
			why_putc(&b, *fmt++);
			continue;
		}
		fmt++;
		why_conv(&b, &fmt, &ap);
	}
	va_end(ap);
	return -1;
}

/* ---- memory and reads ---- */

void *mc_tf_alloc(struct mc_tf *tf, size_t n)
{
	void *p = tf->a->alloc(tf->a->ctx, n ? n : 1);
	if (!p)
		mc_tf_fail(tf, "out of memory (%zu bytes)", n);
	return p;
}

void mc_tf_free(struct mc_tf *tf, void *p)
{
	if (p)
		tf->a->free(tf->a->ctx, p);
}

/* 0 when [off, off + len) lies inside the file; else -1, why says it does not. */
static int inside_file(struct mc_tf *tf, uint64_t off, uint64_t len, const char *what)
{
	uint64_t size = tf->src->size;
	if (off <= size && len <= size - off)
		return 0;
	return mc_tf_fail(tf,
	                  "truncated: %s (%llu bytes at offset %llu) is past the end of the file "
	                  "(%llu bytes)",
	                  what, (unsigned long long)len, (unsigned long long)off,
	                  (unsigned long long)size);
}

int mc_tf_read(struct mc_tf *tf, uint64_t off, void *buf, size_t len, const char *what)
{
	if (inside_file(tf, off, len, what) < 0)
		return -1;
	size_t done = 0;
	while (done < len) {
		int64_t r =
		    tf->src->read_at(tf->src->ctx, off + done, (char *)buf + done, len - done);
		if (r <= 0 || (uint64_t)r > len - done)
			return mc_tf_fail(tf, "read error at offset %llu (%s)",
			                  (unsigned long long)(off + done), what);
		done += (size_t)r;
	}
	return 0;
}

char *mc_tf_read_alloc(struct mc_tf *tf, uint64_t off, uint64_t len, const char *what)
{
	/* Checked before allocating: a length from the file sizes nothing the file cannot hold. */
	if (inside_file(tf, off, len, what) < 0)
		return NULL;
	char *p = mc_tf_alloc(tf, (size_t)len + 1);
	if (!p)
		return NULL;
	if (mc_tf_read(tf, off, p, (size_t)len, what) < 0) {
		mc_tf_free(tf, p);
		return NULL;
	}
	p[len] = '\0';
	return p;
}

/* ---- the cursor ---- */

/* 0 when n bytes from the cursor lie below its limit; else why says which limit they pass. */
static int cur_room(struct mc_tf_cur *c, uint64_t n, const char *what)
{
	uint64_t size = c->tf->src->size;
	if (c->pos <= c->limit && n <= c->limit - c->pos)
		return 0;
	if (c->pos <= size && n <= size - c->pos)
		return mc_tf_fail(c->tf, "header is larger than %u bytes (at %s)",
		                  MC_TENSOR_HEADER_MAX, what);
	return mc_tf_fail(c->tf,
	                  "truncated: %s (%llu bytes at offset %llu) is past the end of the file "
	                  "(%llu bytes)",
	                  what, (unsigned long long)n, (unsigned long long)c->pos,
	                  (unsigned long long)size);
}

int mc_tf_cur_get(struct mc_tf_cur *c, void *dst, size_t n, const char *what)
{
	uint8_t *out = dst;
	if (cur_room(c, n, what) < 0)
		return -1;
	while (n > 0) {
		if (c->pos < c->buf_off || c->pos >= c->buf_off + c->buf_len) {
			uint64_t left = c->limit - c->pos;
			size_t want = left < c->cap ? (size_t)left : c->cap;
			if (mc_tf_read(c->tf, c->pos, c->buf, want, what) < 0)
				return -1;
			c->buf_off = c->pos;
			c->buf_len = want;
		}
		size_t at = (size_t)(c->pos - c->buf_off);
		size_t k = c->buf_len - at < n ? c->buf_len - at : n;
		memcpy(out, c->buf + at, k);
		out += k;
		n -= k;
		c->pos += k;
	}
	return 0;
}

int mc_tf_cur_skip(struct mc_tf_cur *c, uint64_t n, const char *what)
{
	if (cur_room(c, n, what) < 0)
		return -1;
	c->pos += n;
	return 0;
}

int mc_tf_cur_u32(struct mc_tf_cur *c, uint32_t *ret, const char *what)
{
	uint8_t b[4];
	if (mc_tf_cur_get(c, b, sizeof(b), what) < 0)
		return -1;
	*ret = mc_le32(b);
	return 0;
}

int mc_tf_cur_u64(struct mc_tf_cur *c, uint64_t *ret, const char *what)
{
	uint8_t b[8];
	if (mc_tf_cur_get(c, b, sizeof(b), what) < 0)
		return -1;
	*ret = mc_le64(b);
	return 0;
}

/* ---- sorting ---- */

static void swap_bytes(char *a, char *b, size_t size)
{
	while (size--) {
		char t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void sift_down(char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *, void *), void *ctx)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size, ctx) < 0)
			child++;
		if (cmp(base + root * size, base + child * size, ctx) >= 0)
			return;
		swap_bytes(base + root * size, base + child * size, size);
		root = child;
	}
}

void mc_tf_sort(void *base, size_t n, size_t size,
                int (*cmp)(const void *a, const void *b, void *ctx), void *ctx)
{
	char *b = base;
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(b, i, n, size, cmp, ctx);
	for (size_t end = n - 1; end > 0; end--) {
		swap_bytes(b, b + end * size, size);
		sift_down(b, 0, end, size, cmp, ctx);
	}
}

/* ---- the map builder ---- */

int mc_tf_grow(struct mc_tf *tf, void **p, size_t *cap, size_t elem, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	void *np = mc_tf_alloc(tf, ncap * elem);
	if (!np)
		return -1;
	if (*p)
		memcpy(np, *p, *cap * elem);
	mc_tf_free(tf, *p);
	*p = np;
	*cap = ncap;
	return 0;
}

int mc_tf_add(struct mc_tf *tf, uint64_t off, uint64_t len, const char *name, size_t name_len,
              enum mc_dtype dt, bool big_endian)
{
	uint64_t size = tf->src->size;
	if (name_len > MC_TENSOR_NAME_MAX)
		name_len = MC_TENSOR_NAME_MAX;
	tf->last_added = false;
	if (len == 0)
		return 0;
	if (tf->n >= MC_TENSOR_MAX)
		return mc_tf_fail(tf, "more than %u tensors", MC_TENSOR_MAX);
	size_t cap = tf->cap;
	if (mc_tf_grow(tf, (void **)&tf->t, &cap, sizeof(*tf->t), (size_t)tf->n + 1) < 0)
		return -1;
	tf->cap = (uint32_t)cap;
	if (mc_tf_grow(tf, (void **)&tf->names, &tf->names_cap, 1, tf->names_len + name_len + 1) <
	    0)
		return -1;
	/* The name goes in first, so that a message can quote it as a C string. */
	char *copy = tf->names + tf->names_len;
	memcpy(copy, name, name_len);
	copy[name_len] = '\0';
	if (off > size || (len != MC_TF_LEN_TO_NEXT && len > size - off))
		return mc_tf_fail(tf,
		                  "tensor '%s' (%llu bytes at offset %llu) is past the end of the "
		                  "file (%llu bytes)",
		                  copy, (unsigned long long)len, (unsigned long long)off,
		                  (unsigned long long)size);
	struct mc_tensor *t = &tf->t[tf->n++];
	memset(t, 0, sizeof(*t));
	t->off = off;
	t->len = len;
	t->name = (uint32_t)tf->names_len;
	t->dtype = (uint8_t)dt;
	t->big_endian = big_endian;
	t->ndim = MC_TENSOR_NO_SHAPE;
	tf->names_len += name_len + 1;
	tf->last_added = true;
	return 0;
}

/* The dims go in front of the name, which is the last thing in names: the name moves up by
 * the padding to 8 bytes and the dims' bytes, so that mc_tensor_shape() finds them from the
 * name's offset alone and struct mc_tensor needs no field for them. */
int mc_tf_shape(struct mc_tf *tf, const uint64_t *dims, unsigned ndim)
{
	if (!tf->last_added)
		return 0;
	if (ndim > MC_TENSOR_DIMS_MAX)
		return 0; /* past the limit: the shape stays unknown, the tensor is still damaged */
	struct mc_tensor *t = &tf->t[tf->n - 1];
	size_t name_bytes = tf->names_len - t->name; /* with its NUL */
	size_t dims_at = ((size_t)t->name + 7) & ~(size_t)7;
	size_t name_at = dims_at + (size_t)ndim * sizeof(uint64_t);
	if (name_at + name_bytes > UINT32_MAX)
		return mc_tf_fail(tf, "tensor names and shapes take more than 4 GiB");
	if (mc_tf_grow(tf, (void **)&tf->names, &tf->names_cap, 1, name_at + name_bytes) < 0)
		return -1;
	memmove(tf->names + name_at, tf->names + t->name, name_bytes);
	if (ndim)
		memcpy(tf->names + dims_at, dims, (size_t)ndim * sizeof(uint64_t));
	t->name = (uint32_t)name_at;
	t->ndim = (uint8_t)ndim;
	tf->names_len = name_at + name_bytes;
	return 0;
}

static int by_offset(const void *a, const void *b, void *ctx)
{
	const struct mc_tensor *x = a, *y = b;
	(void)ctx;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	/* Equal starts: one of unknown length comes last and reaches past the other, which
	 * then overlaps it (two tensors over the same bytes are malformed). */
	return (x->len == MC_TF_LEN_TO_NEXT) - (y->len == MC_TF_LEN_TO_NEXT);
}

/* Resolves lengths up to the next tensor and drops empty entries; returns the new count. */
static uint32_t resolve_lengths(struct mc_tf *tf)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < tf->n; i++) {
		struct mc_tensor t = tf->t[i];
		if (t.len == MC_TF_LEN_TO_NEXT)
			t.len = (i + 1 < tf->n ? tf->t[i + 1].off : tf->src->size) - t.off;
		if (t.len > 0)
			tf->t[kept++] = t;
	}
	return kept;
}

int mc_tf_finish(struct mc_tf *tf, enum mc_tensor_format format, struct mc_tensor_map **ret)
{
	mc_tf_sort(tf->t, tf->n, sizeof(*tf->t), by_offset, NULL);
	uint32_t n = resolve_lengths(tf);
	for (uint32_t i = 0; i + 1 < n; i++) {
		const struct mc_tensor *a = &tf->t[i], *b = &tf->t[i + 1];
		if (a->off + a->len > b->off)
			return mc_tf_fail(
			    tf,
			    "tensors '%s' (bytes %llu..%llu) and '%s' (from byte %llu) "
			    "overlap",
			    tf->names + a->name, (unsigned long long)a->off,
			    (unsigned long long)(a->off + a->len), tf->names + b->name,
			    (unsigned long long)b->off);
	}
	size_t bytes =
	    sizeof(struct mc_tensor_map) + (size_t)n * sizeof(struct mc_tensor) + tf->names_len + 1;
	char *mem = mc_tf_alloc(tf, bytes);
	if (!mem)
		return -1;
	struct mc_tensor_map *map = (struct mc_tensor_map *)mem;
	struct mc_tensor *t = (struct mc_tensor *)(mem + sizeof(*map));
	/* 8-aligned, as the allocator's block is (the sizes are multiples of 8): the dims of
	 * the shapes in names are read in place */
	_Static_assert(sizeof(struct mc_tensor_map) % 8 == 0 && sizeof(struct mc_tensor) % 8 == 0,
	               "names must stay 8-aligned");
	char *names = (char *)(t + n);
	if (n)
		memcpy(t, tf->t, (size_t)n * sizeof(*t));
	if (tf->names_len)
		memcpy(names, tf->names, tf->names_len);
	names[tf->names_len] = '\0';
	map->format = format;
	map->n = n;
	map->file_size = tf->src->size;
	map->t = t;
	map->names = names;
	*ret = map;
	return 1;
}

/* ---- dispatch ---- */

#define PROBE_BYTES 16

/* ONNX has no magic: a protobuf ModelProto whose first field is ir_version (tag 0x08) with a
 * plausible one-byte value, followed by the tag of another ModelProto field with its wire
 * type (or nothing). The recogniser then walks the top level before it says "onnx". */
static bool probe_onnx(const uint8_t *b, size_t n)
{
	static const uint8_t next_tags[] = {
		0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, /* fields 2-8, 14 */
	};
	static const uint8_t next_tags_2[] = { 0xa2, 0xca, 0xd2 }; /* fields 20, 25, 26 */
	if (n < 3 || b[0] != 0x08 || b[1] < 1 || b[1] > 0x3f)
		return false;
	if (memchr(next_tags, b[2], sizeof(next_tags)))
		return true;
	return n >= 4 && b[3] == 0x01 && memchr(next_tags_2, b[2], sizeof(next_tags_2));
}

static enum mc_tensor_format probe(const uint8_t *b, size_t n)
{
	if (n >= 4 && memcmp(b, "GGUF", 4) == 0)
		return MC_TF_GGUF;
	if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
		return MC_TF_NPY;
	if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
		return MC_TF_TORCH_ZIP;
	/* A pickle of protocol 2 to 5 opens with PROTO and its version; protocols 4 and 5
	 * frame what follows, older ones go on with any opcode we know. */
	if (n >= 3 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5 &&
	    (b[1] >= 4 ? b[2] == 0x95 : mc_pickle_opcode_known(b[2])))
		return MC_TF_PICKLE;
	/* safetensors has no magic: a u64 length, then the JSON header's '{' and what JSON
	 * allows after it. */
	if (n >= 10 && b[8] == '{' && strchr("\"} \t\r\n", b[9]) && b[9] != '\0')
		return MC_TF_SAFETENSORS;
	if (probe_onnx(b, n))
		return MC_TF_ONNX;
	return MC_TF_NONE;
}

static void tf_release(struct mc_tf *tf)
{
	mc_tf_free(tf, tf->t);
	mc_tf_free(tf, tf->names);
	tf->t = NULL;
	tf->names = NULL;
}

int mc_tensor_recognize(const struct mc_tensor_src *src, const struct mc_tensor_alloc *a,
                        struct mc_tensor_map **ret, char *why, size_t why_len)
{
	uint8_t head[PROBE_BYTES];
	struct mc_tf tf = {
		.src = src, .a = a, .format = "tensors", .why = why, .why_len = why_len
	};
	*ret = NULL;
	if (why && why_len)
		why[0] = '\0';
	size_t n = src->size < sizeof(head) ? (size_t)src->size : sizeof(head);
	if (mc_tf_read(&tf, 0, head, n, "the first bytes") < 0)
		return -1;
	enum mc_tensor_format f = probe(head, n);
	if (f == MC_TF_NONE)
		return 0;
	tf.format = mc_tensor_format_name(f);
	int r;
	switch (f) {
	case MC_TF_SAFETENSORS:
		r = mc_tf_safetensors(&tf);
		break;
	case MC_TF_GGUF:
		r = mc_tf_gguf(&tf);
		break;
	case MC_TF_NPY:
		r = mc_tf_npy(&tf);
		break;
	case MC_TF_ONNX:
		r = mc_tf_onnx(&tf);
		break;
	case MC_TF_PICKLE:
		r = mc_tf_pickle(&tf, &f);
		break;
	default:
		r = mc_tf_torchzip(&tf);
		break;
	}
	if (r == 1)
		r = mc_tf_finish(&tf, f, ret);
	if (r == 0 && why && why_len)
		why[0] = '\0';
	tf_release(&tf);
	return r;
}

void mc_tensor_map_free(struct mc_tensor_map *map, const struct mc_tensor_alloc *a)
{
	if (map)
		a->free(a->ctx, map);
}

uint32_t mc_tensor_at_or_after(const struct mc_tensor_map *map, uint64_t off)
{
	uint32_t lo = 0, hi = map->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct mc_tensor *t = &map->t[mid];
		if (t->off + t->len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

unsigned mc_dtype_size(enum mc_dtype dt)
{
	switch (dt) {
	case MC_DT_I8:
	case MC_DT_U8:
	case MC_DT_BOOL:
		return 1;
	case MC_DT_F16:
	case MC_DT_BF16:
	case MC_DT_I16:
	case MC_DT_U16:
		return 2;
	case MC_DT_F32:
	case MC_DT_I32:
	case MC_DT_U32:
		return 4;
	case MC_DT_F64:
	case MC_DT_I64:
	case MC_DT_U64:
		return 8;
	case MC_DT_F8_E4M3:
	case MC_DT_F8_E5M2:
		return 1;
	default:
		return 0;
	}
}

/* The layouts of ggml's blocks (ggml-common.h: block_q4_0 ... block_q8_K): the scale d is the
 * first field, but for Q2_K, Q3_K and Q6_K, whose d follows the quants and scales. */
bool mc_dtype_block(enum mc_dtype dt, struct mc_dtype_block *ret)
{
	static const struct mc_dtype_block blocks[] = {
		[MC_DT_Q4_0 - MC_DT_Q4_0] = { 18, 0, MC_DT_F16 },
		[MC_DT_Q4_1 - MC_DT_Q4_0] = { 20, 0, MC_DT_F16 },
		[MC_DT_Q5_0 - MC_DT_Q4_0] = { 22, 0, MC_DT_F16 },
		[MC_DT_Q5_1 - MC_DT_Q4_0] = { 24, 0, MC_DT_F16 },
		[MC_DT_Q8_0 - MC_DT_Q4_0] = { 34, 0, MC_DT_F16 },
		[MC_DT_Q8_1 - MC_DT_Q4_0] = { 36, 0, MC_DT_F16 },
		[MC_DT_Q2_K - MC_DT_Q4_0] = { 84, 80, MC_DT_F16 },
		[MC_DT_Q3_K - MC_DT_Q4_0] = { 110, 108, MC_DT_F16 },
		[MC_DT_Q4_K - MC_DT_Q4_0] = { 144, 0, MC_DT_F16 },
		[MC_DT_Q5_K - MC_DT_Q4_0] = { 176, 0, MC_DT_F16 },
		[MC_DT_Q6_K - MC_DT_Q4_0] = { 210, 208, MC_DT_F16 },
		[MC_DT_Q8_K - MC_DT_Q4_0] = { 292, 0, MC_DT_F32 },
	};

	if (dt < MC_DT_Q4_0 || dt > MC_DT_Q8_K)
		return false;
	*ret = blocks[dt - MC_DT_Q4_0];
	return true;
}

int mc_tensor_shape(const struct mc_tensor_map *map, uint32_t i, const uint64_t **ret_dims)
{
	const struct mc_tensor *t = &map->t[i];
	*ret_dims = NULL;
	if (t->ndim == MC_TENSOR_NO_SHAPE)
		return -1;
	/* the dims lie just before the name, 8-aligned (mc_tf_shape) */
	*ret_dims = (const uint64_t *)(const void *)(map->names + t->name) - t->ndim;
	return t->ndim;
}

int mc_tensor_raw_map(struct mc_tensor_raw *raw, uint64_t file_size, uint64_t lo, uint64_t hi,
                      enum mc_dtype dt, char *why, size_t why_len)
{
	struct mc_tf tf = { .format = "raw", .why = why, .why_len = why_len };
	unsigned size = mc_dtype_size(dt);
	memset(raw, 0, sizeof(*raw));
	if (lo >= file_size)
		return mc_tf_fail(&tf,
		                  "the file (%llu bytes) ends before the declared data, which "
		                  "starts at offset %llu",
		                  (unsigned long long)file_size, (unsigned long long)lo);
	uint64_t end = hi < file_size ? hi : file_size;
	raw->t.off = lo;
	raw->t.len = end - lo;
	raw->t.dtype = (uint8_t)dt;
	raw->t.ndim = 1;
	raw->t.name = sizeof(uint64_t);
	raw->blob[0] = raw->t.len / (size ? size : 1);
	memcpy(&raw->blob[1], "raw", 4);
	raw->map.format = MC_TF_RAW;
	raw->map.n = 1;
	raw->map.file_size = file_size;
	raw->map.t = &raw->t;
	raw->map.names = (const char *)raw->blob;
	return 1;
}

const char *mc_tensor_format_name(enum mc_tensor_format f)
{
	switch (f) {
	case MC_TF_SAFETENSORS:
		return "safetensors";
	case MC_TF_GGUF:
		return "gguf";
	case MC_TF_NPY:
		return "npy";
	case MC_TF_TORCH_ZIP:
		return "torch-zip";
	case MC_TF_ONNX:
		return "onnx";
	case MC_TF_PICKLE:
		return "pickle";
	case MC_TF_JOBLIB:
		return "joblib";
	case MC_TF_RAW:
		return "raw";
	default:
		return "none";
	}
}
