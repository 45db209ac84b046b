/* npy.c: the NumPy .npy recogniser (format versions 1, 2 and 3). "\x93NUMPY", the version,
 * a u16 (v1) or u32 header length, a Python dict literal {'descr': '<f4', 'fortran_order':
 * False, 'shape': (3, 4), } padded with blanks, then the data: one tensor named "array". The
 * literal is parsed by a small scanner that knows exactly those three keys; an object array
 * ('|O') is a pickle, not a tensor. */
#include <string.h>

#include "internal.h"

struct npy_header {
	char order; /* '<', '>', '|' or '=' */
	char kind;  /* 'f', 'i', 'u', 'b', 'c', 'V', 'U', 'S', 'M', ... */
	uint64_t itemsize;
	uint64_t elements;
	bool has_descr, has_order, has_shape;
	unsigned ndim; /* all of them; dims keeps the first ones */
	uint64_t dims[MC_TENSOR_DIMS_MAX];
};

struct npy_scan {
	struct mc_tf *tf;
	const char *start, *p, *end;
};

static void skip_blanks(struct npy_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool eat(struct npy_scan *s, char c)
{
	skip_blanks(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static int scan_fail(struct npy_scan *s, const char *what)
{
	return mc_tf_fail(s->tf, "header byte %zu: %s", (size_t)(s->p - s->start), what);
}

/* A quoted Python string without escapes: 'abc' or "abc". */
static int quoted(struct npy_scan *s, const char **ret, size_t *ret_len)
{
	skip_blanks(s);
	if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
		return scan_fail(s, "expected a quoted string");
	char q = *s->p++;
	const char *body = s->p;
	while (s->p < s->end && *s->p != q) {
		if (*s->p == '\\' || *s->p == '\n')
			return scan_fail(s, "unexpected byte in a string");
		s->p++;
	}
	if (s->p >= s->end)
		return scan_fail(s, "unterminated string");
	*ret = body;
	*ret_len = (size_t)(s->p++ - body);
	return 0;
}

static bool word(struct npy_scan *s, const char *w)
{
	size_t n = strlen(w);
	skip_blanks(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* '<f4', '|i1', '>f8', '<U10', '<M8[ns]', '|V2', ...: byte order, kind, item size. */
static int parse_descr(struct npy_scan *s, struct npy_header *h)
{
	const char *d;
	size_t n, i = 0;
	skip_blanks(s);
	if (s->p < s->end && *s->p == '[')
		return mc_tf_fail(s->tf, "structured dtypes are not supported");
	if (quoted(s, &d, &n) < 0)
		return -1;
	h->order = n > 0 && strchr("<>|=", d[0]) && d[0] ? d[i++] : '=';
	h->kind = i < n ? d[i++] : '\0';
	if (h->kind == 'O')
		return mc_tf_fail(s->tf, "object array (a pickle, not a tensor)");
	uint64_t size = 0;
	size_t digits = 0;
	for (; i < n && d[i] >= '0' && d[i] <= '9' && digits < 12; i++, digits++)
		size = size * 10 + (uint64_t)(d[i] - '0');
	bool unit_ok = i == n || (d[i] == '[' && d[n - 1] == ']');
	if (!h->kind || digits == 0 || size == 0 || !unit_ok)
		return mc_tf_fail(s->tf, "descr '%.*s' is not understood", (int)(n < 32 ? n : 32),
		                  d);
	h->itemsize = h->kind == 'U' ? size * 4 : size; /* UCS-4 characters */
	h->has_descr = true;
	return 0;
}

static int parse_shape(struct npy_scan *s, struct npy_header *h)
{
	uint64_t product = 1;
	bool overflow = false, zero = false;
	if (!eat(s, '('))
		return scan_fail(s, "'shape' is not a tuple");
	skip_blanks(s);
	while (s->p < s->end && *s->p != ')') {
		uint64_t d = 0;
		const char *digits = s->p;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (d > (UINT64_MAX - 9) / 10)
				return scan_fail(s, "dimension too large");
			d = d * 10 + (uint64_t)(*s->p++ - '0');
		}
		if (s->p == digits)
			return scan_fail(s, "expected a dimension");
		if (s->p < s->end && *s->p == 'L') /* Python 2 longs */
			s->p++;
		if (h->ndim < MC_TENSOR_DIMS_MAX)
			h->dims[h->ndim] = d;
		h->ndim += h->ndim < UINT32_MAX;
		zero |= d == 0;
		overflow |= d != 0 && __builtin_mul_overflow(product, d, &product);
		if (!eat(s, ',')) {
			skip_blanks(s);
			break;
		}
		skip_blanks(s);
	}
	if (!eat(s, ')'))
		return scan_fail(s, "expected ',' or ')' in 'shape'");
	if (overflow && !zero)
		return mc_tf_fail(s->tf, "shape has too many elements");
	h->elements = zero ? 0 : product;
	h->has_shape = true;
	return 0;
}

static int parse_entry(struct npy_scan *s, struct npy_header *h)
{
	const char *key;
	size_t n;
	if (quoted(s, &key, &n) < 0)
		return -1;
	if (!eat(s, ':'))
		return scan_fail(s, "expected ':'");
	if (n == 5 && memcmp(key, "descr", 5) == 0)
		return parse_descr(s, h);
	if (n == 5 && memcmp(key, "shape", 5) == 0)
		return parse_shape(s, h);
	if (n == 13 && memcmp(key, "fortran_order", 13) == 0) {
		if (!word(s, "True") && !word(s, "False"))
			return scan_fail(s, "'fortran_order' is not True or False");
		h->has_order = true;
		return 0;
	}
	return scan_fail(s, "unexpected key (only 'descr', 'fortran_order' and 'shape')");
}

static int parse_dict(struct npy_scan *s, struct npy_header *h)
{
	if (!eat(s, '{'))
		return scan_fail(s, "the header is not a dict");
	while (!eat(s, '}')) {
		if (parse_entry(s, h) < 0)
			return -1;
		if (!eat(s, ',')) {
			if (!eat(s, '}'))
				return scan_fail(s, "expected ',' or '}'");
			break;
		}
	}
	skip_blanks(s);
	if (s->p != s->end)
		return scan_fail(s, "bytes after the dict");
	if (!h->has_descr || !h->has_order || !h->has_shape)
		return mc_tf_fail(s->tf, "the header lacks '%s'",
		                  !h->has_descr   ? "descr"
		                  : !h->has_order ? "fortran_order"
		                                  : "shape");
	return 0;
}

/* The dtype of a descr's kind and item size: floats, integers and bool by their width. */
static enum mc_dtype npy_dtype(char kind, uint64_t itemsize)
{
	static const enum mc_dtype floats[9] = {
		[2] = MC_DT_F16, [4] = MC_DT_F32, [8] = MC_DT_F64
	};
	static const enum mc_dtype ints[9] = {
		[1] = MC_DT_I8, [2] = MC_DT_I16, [4] = MC_DT_I32, [8] = MC_DT_I64
	};
	static const enum mc_dtype uints[9] = {
		[1] = MC_DT_U8, [2] = MC_DT_U16, [4] = MC_DT_U32, [8] = MC_DT_U64
	};
	if (itemsize > 8)
		return MC_DT_OTHER;
	if (kind == 'f')
		return floats[itemsize];
	if (kind == 'i')
		return ints[itemsize];
	if (kind == 'u')
		return uints[itemsize];
	return kind == 'b' && itemsize == 1 ? MC_DT_BOOL : MC_DT_OTHER;
}

static int add_array(struct mc_tf *tf, const struct npy_header *h, uint64_t data)
{
	uint64_t bytes, size = tf->src->size;
	if (__builtin_mul_overflow(h->elements, h->itemsize, &bytes))
		return mc_tf_fail(tf, "the array is too large");
	if (bytes > size - data)
		return mc_tf_fail(
		    tf,
		    "truncated: the data (%llu bytes from offset %llu) is past the end "
		    "of the file (%llu bytes)",
		    (unsigned long long)bytes, (unsigned long long)data, (unsigned long long)size);
	enum mc_dtype dt = npy_dtype(h->kind, h->itemsize);
	bool big = h->order == '>' && h->itemsize > 1;
	if (mc_tf_add(tf, data, bytes, "array", 5, dt, big) < 0)
		return -1;
	return mc_tf_shape(tf, h->dims, h->ndim) < 0 ? -1 : 1;
}

int mc_tf_npy(struct mc_tf *tf)
{
	uint8_t b[12];
	if (mc_tf_read(tf, 0, b, 10, "the preamble") < 0)
		return -1;
	unsigned major = b[6], minor = b[7];
	if (major < 1 || major > 3)
		return mc_tf_fail(tf, "version %u.%u is not supported (1.0, 2.0 and 3.0 are)",
		                  major, minor);
	uint64_t header_len, header_at = major == 1 ? 10 : 12;
	if (major == 1) {
		header_len = mc_le16(b + 8);
	} else {
		if (mc_tf_read(tf, 0, b, 12, "the preamble") < 0)
			return -1;
		header_len = mc_le32(b + 8);
	}
	if (header_len > MC_TENSOR_HEADER_MAX)
		return mc_tf_fail(tf, "header length %llu is larger than the limit (%u bytes)",
		                  (unsigned long long)header_len, MC_TENSOR_HEADER_MAX);
	char *hdr = mc_tf_read_alloc(tf, header_at, header_len, "the header");
	if (!hdr)
		return -1;
	struct npy_scan s = { tf, hdr, hdr, hdr + header_len };
	struct npy_header h = { 0 };
	int r = parse_dict(&s, &h);
	mc_tf_free(tf, hdr);
	return r < 0 ? -1 : add_array(tf, &h, header_at + header_len);
}
