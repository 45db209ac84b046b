/* corrupt.c: the damage of action = corrupt and the length of action = short, as pure
 * functions of the rule, the file and the file offset: any reader, with any buffer size,
 * through read or mmap, sees the same damage. No allocation, no libc: async-signal-safe. */
#include "formats/tensors.h"
#include "internal.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash's symbols private: the host may have its own */
#endif
#include <xxhash.h>

uint64_t mc_engine_short_len(const struct mc_decision *d, uint64_t n)
{
	uint64_t cap;

	if (n == 0)
		return 0;
	cap = d->max_bytes && d->max_bytes < n ? d->max_bytes : n;
	return 1 + mc_mix64(d->draw ^ MC_SALT_SHORT) % cap;
}

/* A keyed bijection on [0, 2^bits), bits >= 1. Each step (xor with a key part, multiply by
 * an odd number mod 2^bits, xorshift right by at least 1) is invertible. */
static uint32_t permute(uint32_t x, uint64_t key, unsigned bits)
{
	static const uint32_t mult[4] = { 0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu };
	const uint32_t mask = (1u << bits) - 1;
	const unsigned shift = (bits + 1) / 2;

	for (unsigned round = 0; round < 4; round++) {
		x = (x ^ (uint32_t)(key >> (16 * round))) & mask;
		x = (x * mult[round]) & mask;
		x ^= x >> shift;
	}
	return x;
}

/* A keyed bijection on [0, n), n <= 32768, by cycle walking: apply permute() on the smallest
 * power of two >= n until the value falls below n (fewer than 2 steps on average). Being a
 * bijection, positions 0..count-1 map to distinct places without any bookkeeping. */
static uint32_t permute_below(uint32_t i, uint64_t key, uint32_t n)
{
	unsigned bits = n <= 1 ? 0 : 32 - (unsigned)__builtin_clz(n - 1);
	uint32_t x = i;

	if (bits == 0)
		return 0;
	do
		x = permute(x, key, bits);
	while (x >= n);
	return x;
}

/* The key of one page's damage: (seed, damage name) through damage_seed, file, page, nonce. */
static uint64_t page_key(const struct mc_erule *r, uint64_t file_id, uint64_t page, uint64_t nonce)
{
	uint64_t words[3] = { file_id, page, r->scope == MC_SCOPE_CALL ? nonce : 0 };

	return XXH3_64bits_withSeed(words, sizeof(words), r->damage_seed);
}

static void damage(const struct mc_erule *r, uint8_t *b, uint32_t pos, uint64_t key)
{
	switch (r->mode) {
	case MC_CORRUPT_BITFLIP:
		*b ^= (uint8_t)(1u << (pos & 7));
		break;
	case MC_CORRUPT_ZERO:
		*b = 0;
		break;
	case MC_CORRUPT_RANDOM:
		/* xor with a nonzero value: the byte always changes */
		*b ^= (uint8_t)(1 + mc_mix64(key ^ pos) % 255);
		break;
	case MC_CORRUPT_BYTE:
		*b = r->byte;
		break;
	default: /* value modes never reach bytes */
		break;
	}
}

/* Where the bytes a tensor-region call changes are reported (NULL for region = any). */
struct byte_sink {
	struct mc_corrupt_report *rep; /* or NULL: count only */
	uint32_t tensor;
	uint64_t tensor_off; /* the tensor's first byte in the file */
};

static void report_change(struct mc_corrupt_report *rep, const struct mc_tensor_change *c)
{
	if (!rep)
		return;
	if (rep->n < MC_CHANGES_MAX)
		rep->change[rep->n++] = *c;
	rep->changed++;
}

__extension__ typedef unsigned __int128 mc_u128;

/* How many of n values (or positions) the rule damages: count (at most n), all of them
 * (count = all), or the fraction of n, rounded to nearest and at least one. */
static uint64_t values_damaged(const struct mc_erule *r, uint64_t n)
{
	uint64_t k;

	if (r->count == MC_COUNT_ALL)
		return n;
	if (r->fraction_ppm) {
		k = (uint64_t)(((mc_u128)n * r->fraction_ppm + MC_RATE_ONE / 2) / MC_RATE_ONE);
		return k ? k : 1;
	}
	return r->count < n ? r->count : n;
}

/* Damages position pos of a page (a bit for bitflip, else a byte), at file offset off, held
 * by buf; returns 1 when it counts as a change (with a sink: only when the byte changed). */
static size_t damage_position(const struct mc_erule *r, uint64_t key, uint32_t pos, uint64_t off,
                              uint8_t *buf, uint64_t file_offset, const struct byte_sink *sink)
{
	uint8_t *b = &buf[off - file_offset], before = *b;

	damage(r, b, pos, key);
	if (!sink)
		return 1;
	if (*b == before)
		return 0;
	struct mc_tensor_change c = { .index = off - sink->tensor_off,
		                      .file_offset = off,
		                      .before = before,
		                      .after = *b,
		                      .tensor = sink->tensor,
		                      .width = 1,
		                      .held = 1 };
	report_change(sink->rep, &c);
	return 1;
}

/* One page: `count` positions drawn in the page's span [span_lo, span_hi) (the page cut to
 * the rule's offset range; it does not depend on the reader's buffer), of which those in
 * [lo, hi) (the part held by buf, which starts at file_offset) are damaged. With a sink
 * (region = tensors) only positions whose byte really changed count, each reported. When
 * every position is damaged (count = all) the held ones are visited in order, without the
 * permutation. */
static size_t corrupt_page(const struct mc_erule *r, uint64_t key, uint64_t span_lo,
                           uint64_t span_hi, uint64_t lo, uint64_t hi, uint8_t *buf,
                           uint64_t file_offset, const struct byte_sink *sink)
{
	bool bits = r->mode == MC_CORRUPT_BITFLIP;
	unsigned per_byte = bits ? 8 : 1;
	uint32_t n = (uint32_t)(span_hi - span_lo) * per_byte;
	uint32_t count = (uint32_t)values_damaged(r, n);
	size_t changed = 0;

	if (count == n) {
		for (uint32_t pos = (uint32_t)(lo - span_lo) * per_byte;
		     pos < (uint32_t)(hi - span_lo) * per_byte; pos++)
			changed += damage_position(r, key, pos, span_lo + pos / per_byte, buf,
			                           file_offset, sink);
		return changed;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t pos = permute_below(i, key, n);
		uint64_t off = span_lo + pos / per_byte;

		if (off >= lo && off < hi)
			changed += damage_position(r, key, pos, off, buf, file_offset, sink);
	}
	return changed;
}

/* The part of the file that buf ([file_offset, file_offset + len)) holds, cut to the rule's
 * offset range, into [*lo, *hi); false when nothing is left. */
static bool held_range(const struct mc_erule *rule, uint64_t file_offset, size_t len, uint64_t *lo,
                       uint64_t *hi)
{
	*lo = file_offset;
	*hi = UINT64_MAX - file_offset < len ? UINT64_MAX : file_offset + len;
	if (*lo < rule->offset_lo)
		*lo = rule->offset_lo;
	if (*hi > rule->offset_hi)
		*hi = rule->offset_hi;
	return *lo < *hi;
}

/* mc_engine_corrupt and mc_engine_corrupt_stream: pages of a space that ends at end (a
 * file's has no end that matters; a stream read's ends with its bytes). */
static size_t corrupt_span(const struct mc_erule *rule, uint64_t file_id, uint64_t nonce,
                           uint64_t file_offset, void *buf, size_t len, uint64_t end)
{
	uint64_t lo, hi;
	size_t changed = 0;

	if (!rule || rule->action != MC_ACTION_CORRUPT || len == 0 ||
	    !held_range(rule, file_offset, len, &lo, &hi))
		return 0;
	for (uint64_t page = lo / MC_CORRUPT_PAGE; page <= (hi - 1) / MC_CORRUPT_PAGE; page++) {
		uint64_t span_lo = page * MC_CORRUPT_PAGE;
		uint64_t span_hi =
		    span_lo > UINT64_MAX - MC_CORRUPT_PAGE ? UINT64_MAX : span_lo + MC_CORRUPT_PAGE;
		uint64_t key = page_key(rule, file_id, page, nonce);

		if (span_lo < rule->offset_lo)
			span_lo = rule->offset_lo;
		if (span_hi > rule->offset_hi)
			span_hi = rule->offset_hi;
		if (span_hi > end)
			span_hi = end;
		changed += corrupt_page(rule, key, span_lo, span_hi, lo > span_lo ? lo : span_lo,
		                        hi < span_hi ? hi : span_hi, buf, file_offset, NULL);
	}
	return changed;
}

size_t mc_engine_corrupt(const struct mc_erule *rule, uint64_t file_id, uint64_t nonce,
                         uint64_t file_offset, void *buf, size_t len)
{
	return corrupt_span(rule, file_id, nonce, file_offset, buf, len, UINT64_MAX);
}

size_t mc_engine_corrupt_stream(const struct mc_erule *rule, uint64_t nonce, uint64_t read_offset,
                                void *buf, size_t len, size_t read_len)
{
	return corrupt_span(rule, 0, nonce, read_offset, buf, len, read_len);
}

/* ---- region = tensors ------------------------------------------------------------------ */

#define MC_SALT_TENSOR 0x510e527fade682d1ull /* keeps tensor keys apart from page keys */

/* The key of one tensor's damage: (seed, damage name) through damage_seed, file, tensor,
 * which stretch of it (a 4 KiB chunk for byte modes, all of it for value modes), nonce. */
static uint64_t tensor_key(const struct mc_erule *r, uint64_t file_id, uint32_t tensor,
                           uint64_t chunk, uint64_t nonce)
{
	uint64_t words[4] = { file_id, MC_SALT_TENSOR ^ tensor, chunk,
		              r->scope == MC_SCOPE_CALL ? nonce : 0 };

	return XXH3_64bits_withSeed(words, sizeof(words), r->damage_seed);
}

void mc_engine_tensor_match(const struct mc_erule *rule, const struct mc_tensor_map *map,
                            uint64_t *bits)
{
	memset(bits, 0, mc_engine_tensor_match_words(map->n) * sizeof(*bits));
	for (uint32_t i = 0; i < map->n; i++)
		if (!rule->tensor || mc_glob_match(rule->tensor, map->names + map->t[i].name))
			bits[i / 64] |= 1ull << (i % 64);
}

static bool tensor_selected(const struct mc_erule *rule, const struct mc_tensor_view *tv,
                            uint32_t i)
{
	if (!rule->tensor)
		return true;
	if (tv->match)
		return (tv->match[i / 64] >> (i % 64)) & 1;
	return mc_glob_match(rule->tensor, tv->map->names + tv->map->t[i].name);
}

/* What a value mode does to an element's bits: after = ((before & keep) | set) ^ flip; noise
 * is no bitwise operation and is computed from the whole element (apply_noise()). */
struct value_op {
	uint64_t keep, set, flip;
	bool noise;
};

/* Sign, exponent, top exponent bit and quiet-NaN bit of each float type. */
struct float_bits {
	uint64_t sign, exp, top, quiet;
};

static bool float_bits_of(enum mc_dtype dt, struct float_bits *fb)
{
	switch (dt) {
	case MC_DT_F16:
		*fb = (struct float_bits){ 0x8000, 0x7c00, 0x4000, 0x0200 };
		return true;
	case MC_DT_BF16:
		*fb = (struct float_bits){ 0x8000, 0x7f80, 0x4000, 0x0040 };
		return true;
	case MC_DT_F32:
		*fb = (struct float_bits){ 0x80000000u, 0x7f800000u, 0x40000000u, 0x00400000u };
		return true;
	case MC_DT_F64:
		*fb = (struct float_bits){ 1ull << 63, 0x7ffull << 52, 1ull << 62, 1ull << 51 };
		return true;
	case MC_DT_F8_E4M3: /* NaN is S.1111.111: "quiet" fills the mantissa */
		*fb = (struct float_bits){ 0x80, 0x78, 0x40, 0x07 };
		return true;
	case MC_DT_F8_E5M2:
		*fb = (struct float_bits){ 0x80, 0x7c, 0x40, 0x02 };
		return true;
	default:
		return false;
	}
}

static bool value_op_of(const struct mc_erule *r, enum mc_dtype dt, struct value_op *op)
{
	struct float_bits fb;
	unsigned width = mc_dtype_size(dt);

	if (!float_bits_of(dt, &fb))
		return false;
	*op = (struct value_op){ .keep = ~0ull, .set = 0, .flip = 0 };
	switch ((enum mc_corrupt_mode)r->mode) {
	case MC_CORRUPT_NAN:
		*op = (struct value_op){ .keep = fb.sign, .set = fb.exp | fb.quiet };
		break;
	case MC_CORRUPT_INF:
		/* E4M3FN has no infinity: its largest value, 448, keeping the sign */
		*op = (struct value_op){ .keep = fb.sign,
			                 .set = dt == MC_DT_F8_E4M3 ? 0x7e : fb.exp };
		break;
	case MC_CORRUPT_EXPONENT:
		op->flip = fb.top;
		break;
	case MC_CORRUPT_SIGN:
		op->flip = fb.sign;
		break;
	case MC_CORRUPT_ZERO:
		op->keep = 0;
		break;
	case MC_CORRUPT_NOISE:
		op->noise = true;
		break;
	case MC_CORRUPT_BITFLIP:
		/* bit = N: values narrower than N + 1 bits are left alone */
		if (r->bit == MC_BIT_NONE || r->bit >= 8 * width)
			return false;
		op->flip = 1ull << r->bit;
		break;
	default:
		return false;
	}
	return true;
}

/* Where the values of a tensor lie: element e's width bytes start at t->off + e * stride +
 * inner. A float tensor's values are its elements (stride = width, inner = 0); a quantized
 * GGUF tensor's are its blocks' scales. */
struct value_layout {
	uint64_t stride, inner;
	unsigned width;
	enum mc_dtype dt; /* of one value */
};

static bool value_layout_of(const struct mc_tensor *t, struct value_layout *ret)
{
	struct mc_dtype_block block;

	if (mc_dtype_block((enum mc_dtype)t->dtype, &block)) {
		*ret =
		    (struct value_layout){ .stride = block.bytes,
			                   .inner = block.scale_off,
			                   .width = mc_dtype_size((enum mc_dtype)block.scale_dtype),
			                   .dt = (enum mc_dtype)block.scale_dtype };
		return true;
	}
	ret->width = mc_dtype_size((enum mc_dtype)t->dtype);
	ret->stride = ret->width;
	ret->inner = 0;
	ret->dt = (enum mc_dtype)t->dtype;
	return mc_dtype_is_float(ret->dt); /* integers and bool: byte modes only */
}

/* One value to change: the element's place and what to do to it. */
struct value_site {
	const struct mc_tensor *t;
	uint32_t ti;
	uint64_t index;       /* element (or block) index in the tensor */
	uint64_t file_offset; /* its first byte */
	uint64_t key;         /* mode = noise: the draw of this value */
};

/* What one call holds and where the report goes. */
struct value_call {
	const struct mc_erule *r;
	const struct mc_tensor_view *tv;
	const struct value_layout *lay;
	const struct value_op *op;
	uint64_t lo, hi; /* the part of the file buf holds, cut to the offset range */
	uint8_t *buf;
	uint64_t file_offset; /* of buf[0] */
	struct mc_corrupt_report *rep;
};

/* Byte j of the number (0 = least significant) sits at byte k of the element. */
static unsigned number_byte(const struct mc_tensor *t, unsigned width, unsigned k)
{
	return t->big_endian ? width - 1 - k : k;
}

/* mode = noise: the new bits of the value at v, whose held bytes are in the buffer and the
 * others read from the file; false when they cannot be, or the value stays (NaN, Inf). */
static bool noise_after(const struct value_call *vc, const struct value_site *v, uint64_t *before,
                        uint64_t *after)
{
	unsigned width = vc->lay->width;
	uint8_t bytes[8];

	for (unsigned k = 0; k < width; k++) {
		uint64_t at = v->file_offset + k;

		if (at >= vc->lo && at < vc->hi) {
			bytes[k] = vc->buf[at - vc->file_offset];
			continue;
		}
		if (!vc->tv->read_at || vc->tv->read_at(vc->tv->read_ctx, v->file_offset, bytes,
		                                        width) != (int64_t)width)
			return false;
		for (unsigned j = 0; j < width; j++) /* the held ones as the buffer has them */
			if (v->file_offset + j >= vc->lo && v->file_offset + j < vc->hi)
				bytes[j] = vc->buf[v->file_offset + j - vc->file_offset];
		break;
	}
	*before = 0;
	for (unsigned k = 0; k < width; k++)
		*before |= (uint64_t)bytes[k] << (8 * number_byte(v->t, width, k));
	return mc_engine_noise_value(vc->r, vc->lay->dt, *before, v->key, after);
}

/* Changes the value at v in the part of it that [lo, hi) holds: bitwise operations change
 * each held byte on its own, and noise writes the held bytes of the value computed from the
 * whole old one, so two buffers that split the element see together the whole changed
 * element. */
static void change_value(const struct value_call *vc, const struct value_site *v)
{
	unsigned width = vc->lay->width;
	const struct value_op *op = vc->op;
	uint64_t whole_before = 0, whole_after = 0;
	struct mc_tensor_change c = { .index = v->index,
		                      .file_offset = v->file_offset,
		                      .tensor = v->ti,
		                      .width = (uint8_t)width,
		                      .value = 1 };

	if (op->noise && !noise_after(vc, v, &whole_before, &whole_after))
		return;
	for (unsigned k = 0; k < width; k++) {
		uint64_t at = v->file_offset + k;
		unsigned j = number_byte(v->t, width, k);
		uint8_t *b;

		if (at < vc->lo || at >= vc->hi)
			continue;
		b = &vc->buf[at - vc->file_offset];
		c.before |= (uint64_t)*b << (8 * j);
		if (op->noise)
			*b = (uint8_t)(whole_after >> (8 * j));
		else
			*b = (uint8_t)(((*b & (op->keep >> (8 * j))) | (op->set >> (8 * j))) ^
			               (op->flip >> (8 * j)));
		c.after |= (uint64_t)*b << (8 * j);
		c.held |= (uint8_t)(1u << j);
	}
	if (c.before != c.after)
		report_change(vc->rep, &c);
}

#define MC_SALT_NOISE 0x1f83d9abfb41bd6bull /* keeps noise draws apart from place draws */

static void change_value_at(const struct value_call *vc, const struct value_site *base, uint64_t e)
{
	struct value_site v = *base;

	v.index = e;
	v.file_offset = base->t->off + e * vc->lay->stride + vc->lay->inner;
	if (vc->op->noise)
		v.key = mc_mix64(base->key ^ mc_mix64(e ^ MC_SALT_NOISE));
	change_value(vc, &v);
}

/* Value modes on one tensor: its values wholly inside the offset range, [first, first + n),
 * are cut into `count` stretches; stretch s is [first + s*n/count, first + (s+1)*n/count) and
 * one value drawn in it is changed (count = all: every value, in a straight loop). Only the
 * stretches that [lo, hi) overlaps are visited: the cost follows the buffer, not the tensor. */
static void corrupt_values(const struct mc_erule *r, const struct mc_tensor_view *tv,
                           const struct mc_tensor *t, uint32_t ti, uint64_t key, uint64_t lo,
                           uint64_t hi, uint8_t *buf, uint64_t file_offset,
                           struct mc_corrupt_report *rep)
{
	struct value_layout lay;
	struct value_op op;
	uint64_t from, to, base, total, first, end, n, count, b_first, b_end;

	if (!value_layout_of(t, &lay) || !value_op_of(r, lay.dt, &op))
		return;
	from = t->off > r->offset_lo ? t->off : r->offset_lo;
	to = t->off + t->len < r->offset_hi ? t->off + t->len : r->offset_hi;
	base = t->off + lay.inner; /* value e starts at base + e * stride */
	total = t->len / lay.stride;
	/* the values wholly in [from, to): first = ceil((from - base) / stride), end = the
	 * number whose last byte is below to */
	first = from > base ? (from - base + lay.stride - 1) / lay.stride : 0;
	end = to >= base + lay.width ? (to - base - lay.width) / lay.stride + 1 : 0;
	if (end > total)
		end = total;
	if (first >= end)
		return;
	/* the values [lo, hi) touches (the tensor overlaps [lo, hi), so hi > t->off) */
	b_first = lo >= base + lay.width ? (lo - base - lay.width) / lay.stride + 1 : 0;
	b_end = hi > base ? (hi - base + lay.stride - 1) / lay.stride : 0;
	if (b_first < first)
		b_first = first;
	if (b_end > end)
		b_end = end;
	if (b_first >= b_end)
		return;

	struct value_call vc = { r, tv, &lay, &op, lo, hi, buf, file_offset, rep };
	struct value_site site = { .t = t, .ti = ti, .key = key };

	n = end - first;
	count = values_damaged(r, n);
	if (count == n) {
		for (uint64_t e = b_first; e < b_end; e++)
			change_value_at(&vc, &site, e);
		return;
	}
	b_first -= first;
	b_end -= first;
	/* stretch of x: the largest s with s*n/count <= x */
	uint64_t s_first = (uint64_t)((((mc_u128)b_first + 1) * count - 1) / n);
	uint64_t s_last = (uint64_t)((((mc_u128)b_end) * count - 1) / n);

	for (uint64_t s = s_first; s <= s_last; s++) {
		uint64_t start = (uint64_t)((mc_u128)s * n / count);
		uint64_t size = (uint64_t)((mc_u128)(s + 1) * n / count) - start;
		uint64_t e = start + mc_mix64(key ^ mc_mix64(s)) % size;

		if (e >= b_first && e < b_end)
			change_value_at(&vc, &site, first + e);
	}
}

/* Byte modes on one tensor: 4 KiB chunks from its first byte, each cut to the offset range,
 * get `count` positions (as pages do for region = any). */
static void corrupt_tensor_bytes(const struct mc_erule *r, const struct mc_tensor *t, uint32_t ti,
                                 uint64_t file_id, uint64_t nonce, uint64_t lo, uint64_t hi,
                                 uint8_t *buf, uint64_t file_offset, struct mc_corrupt_report *rep)
{
	struct byte_sink sink = { .rep = rep, .tensor = ti, .tensor_off = t->off };
	uint64_t t_end = t->off + t->len;
	uint64_t c_lo = lo > t->off ? lo : t->off, c_hi = hi < t_end ? hi : t_end;

	for (uint64_t chunk = (c_lo - t->off) / MC_CORRUPT_PAGE;
	     chunk <= (c_hi - 1 - t->off) / MC_CORRUPT_PAGE; chunk++) {
		uint64_t span_lo = t->off + chunk * MC_CORRUPT_PAGE;
		uint64_t span_hi =
		    t_end - span_lo > MC_CORRUPT_PAGE ? span_lo + MC_CORRUPT_PAGE : t_end;

		if (span_lo < r->offset_lo)
			span_lo = r->offset_lo;
		if (span_hi > r->offset_hi)
			span_hi = r->offset_hi;
		if (span_lo >= span_hi)
			continue;
		corrupt_page(r, tensor_key(r, file_id, ti, chunk, nonce), span_lo, span_hi,
		             c_lo > span_lo ? c_lo : span_lo, c_hi < span_hi ? c_hi : span_hi, buf,
		             file_offset, &sink);
	}
}

uint64_t mc_engine_corrupt_tensors(const struct mc_erule *rule, const struct mc_tensor_view *tv,
                                   uint64_t file_id, uint64_t nonce, uint64_t file_offset,
                                   void *buf, size_t len, struct mc_corrupt_report *rep)
{
	struct mc_corrupt_report scratch;
	const struct mc_tensor_map *map = tv ? tv->map : NULL;
	bool value =
	    mc_cfg_mode_is_value((enum mc_corrupt_mode)rule->mode) || rule->bit != MC_BIT_NONE;
	uint64_t lo, hi, before;

	if (!rep) {
		scratch.changed = 0;
		scratch.n = 0;
		rep = &scratch;
	}
	before = rep->changed;
	if (!map || rule->action != MC_ACTION_CORRUPT || len == 0 ||
	    !held_range(rule, file_offset, len, &lo, &hi))
		return 0;
	for (uint32_t i = mc_tensor_at_or_after(map, lo); i < map->n && map->t[i].off < hi; i++) {
		const struct mc_tensor *t = &map->t[i];
		struct value_layout lay;
		bool has_values = value_layout_of(t, &lay);

		if (!tensor_selected(rule, tv, i))
			continue;
		if (value && has_values)
			corrupt_values(rule, tv, t, i,
			               tensor_key(rule, file_id, i, UINT64_MAX, nonce), lo, hi, buf,
			               file_offset, rep);
		else if (!value || rule->mode == MC_CORRUPT_ZERO)
			corrupt_tensor_bytes(rule, t, i, file_id, nonce, lo, hi, buf, file_offset,
			                     rep);
	}
	return rep->changed - before;
}
