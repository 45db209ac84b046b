/* tensors.h: where the tensors of a model file lie. A recogniser reads the first bytes of a
 * file (safetensors, GGUF, NumPy .npy, PyTorch zip checkpoint, pickle and joblib files of
 * numpy arrays), parses its header with bounded, defensive code and returns the byte ranges
 * of tensor data: the rest of the file (headers, metadata, key-values, pickles, zip records)
 * is what `region = tensors` leaves alone. Pure: no libc hook, no global state; all reading and
 * allocation goes through the callbacks the caller passes, so the library can run it inside a
 * hooked open() and the unit tests and fuzzers on plain memory. */
#ifndef MC_FORMATS_TENSORS_H
#define MC_FORMATS_TENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mc_tensor_format {
	MC_TF_NONE, /* not a format we know: no map */
	MC_TF_SAFETENSORS,
	MC_TF_GGUF,
	MC_TF_NPY,
	MC_TF_TORCH_ZIP,
	MC_TF_ONNX,
	MC_TF_PICKLE, /* pickle.dump of numpy arrays (protocols 2-5), scikit-learn models */
	MC_TF_JOBLIB, /* joblib.dump, uncompressed: arrays' bytes inline after their wrapper */
	MC_TF_RAW,    /* no recogniser: a headerless file as a format = raw rule declares it */
};

/* Element types; only the float ones take the value modes (nan, inf, exponent, sign, zero,
 * noise, bitflip with bit), and the GGUF quantized block types take them on each block's
 * scale (see mc_dtype_block()). */
enum mc_dtype {
	MC_DT_OTHER, /* unknown: byte modes only */
	MC_DT_F32,
	MC_DT_F16,
	MC_DT_BF16,
	MC_DT_F64,
	MC_DT_F8_E4M3, /* E4M3FN: 4 exponent bits, 3 mantissa bits, no infinity, NaN 0x7f/0xff */
	MC_DT_F8_E5M2, /* 5 exponent bits, 2 mantissa bits, IEEE-like */
	MC_DT_Q4_0,    /* GGUF blocks of 32: f16 scale d, then 4-bit quants */
	MC_DT_Q4_1,
	MC_DT_Q5_0,
	MC_DT_Q5_1,
	MC_DT_Q8_0,
	MC_DT_Q8_1,
	MC_DT_Q2_K, /* GGUF super-blocks of 256 with an f16 d (Q8_K: f32 d) */
	MC_DT_Q3_K,
	MC_DT_Q4_K,
	MC_DT_Q5_K,
	MC_DT_Q6_K,
	MC_DT_Q8_K,
	/* integers and bool: byte modes only; named so that `mlchaos inspect` and format = raw
	 * can say what a tensor holds */
	MC_DT_I8,
	MC_DT_U8,
	MC_DT_I16,
	MC_DT_U16,
	MC_DT_I32,
	MC_DT_U32,
	MC_DT_I64,
	MC_DT_U64,
	MC_DT_BOOL,
};

struct mc_tensor {
	uint64_t off;       /* file offset of the first byte of its data */
	uint64_t len;       /* bytes of data */
	uint32_t name;      /* offset of its NUL-terminated name in mc_tensor_map.names */
	uint8_t dtype;      /* enum mc_dtype */
	uint8_t big_endian; /* 1 when its elements are stored big-endian (.npy '>f4') */
	/* dimensions of its shape, or MC_TENSOR_NO_SHAPE when the format did not say; the dims
	 * themselves (uint64, outermost first) lie just before its name in names, 8-aligned:
	 * a shape costs the struct nothing, names 8 bytes a dimension and up to 7 of padding */
	uint8_t ndim;
	uint8_t pad;
};

#define MC_TENSOR_NO_SHAPE 0xffu
#define MC_TENSOR_DIMS_MAX 64u /* dimensions of one shape (NumPy's own limit) */

/* The result: tensors sorted by off, non-overlapping, each inside the file (off + len <=
 * file size), len > 0. One allocation (the struct, then t[], then names). */
struct mc_tensor_map {
	uint32_t format; /* enum mc_tensor_format */
	uint32_t n;
	uint64_t file_size; /* the size the map was built for */
	const struct mc_tensor *t;
	const char *names;
};

/* The file to recognise: read_at() reads up to len bytes at off into buf and returns the
 * count read (short only at end of file) or -1. */
struct mc_tensor_src {
	int64_t (*read_at)(void *ctx, uint64_t off, void *buf, size_t len);
	void *ctx;
	uint64_t size; /* the file's size */
};

/* Memory for the map and for the parser's scratch (a header is read whole). alloc returns
 * NULL on failure; the parser then gives up cleanly. */
struct mc_tensor_alloc {
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p);
	void *ctx;
};

/* A format = raw map (one tensor named "raw" over a declared range, no allocation): the
 * storage mc_tensor_raw_map() fills, to keep as long as the map is used. */
struct mc_tensor_raw {
	struct mc_tensor_map map;
	struct mc_tensor t;
	uint64_t blob[2]; /* names: the shape's one dim, then "raw" */
};

/* Limits: past them a file is "not recognised" with a reason, never read further. */
#define MC_TENSOR_HEADER_MAX (100u << 20) /* bytes of header read and parsed */
#define MC_TENSOR_MAX        (1u << 20)   /* tensors in one file */
#define MC_TENSOR_NAME_MAX   1024         /* bytes of one name; longer names are cut */

/* Recognise src. Returns:
 *   1  a known format, well formed: *ret is the map (free it with mc_tensor_map_free)
 *   0  not a format we know (no magic matched): *ret = NULL, why = ""
 *  -1  a known format that is malformed, truncated, too large or out of memory: *ret =
 *      NULL, and why holds one line saying what is wrong (for the event log), which begins
 *      with the format's name (mc_tensor_format_name) and ": "
 * Never reads outside [0, src->size), never trusts a length or count from the file. */
int mc_tensor_recognize(const struct mc_tensor_src *src, const struct mc_tensor_alloc *a,
                        struct mc_tensor_map **ret, char *why, size_t why_len);

void mc_tensor_map_free(struct mc_tensor_map *map, const struct mc_tensor_alloc *a);

/* The index of the first tensor whose data ends after off (binary search), or map->n. */
uint32_t mc_tensor_at_or_after(const struct mc_tensor_map *map, uint64_t off);

/* Bytes per element of a dtype (0 for MC_DT_OTHER and the block types), and the format's
 * name ("safetensors", "gguf", "npy", "torch-zip", "onnx", "pickle", "joblib", "raw"). */
unsigned mc_dtype_size(enum mc_dtype dt);

/* A quantized block type's layout: bytes per block, and where in the block its scale (the
 * value modes' element) lies and its dtype (f16; f32 for Q8_K). False for other dtypes. */
struct mc_dtype_block {
	uint16_t bytes;      /* of one block */
	uint16_t scale_off;  /* first byte of the scale d in the block */
	uint8_t scale_dtype; /* enum mc_dtype: MC_DT_F16 or MC_DT_F32 */
};
bool mc_dtype_block(enum mc_dtype dt, struct mc_dtype_block *ret);
const char *mc_tensor_format_name(enum mc_tensor_format f);

/* ---- ONNX external data: initializers whose data lie in another file ---- */

#define MC_ONNX_LOCATION_MAX 1024 /* bytes of a location; longer ones are left alone */

/* True when an external_data location is safe to follow, as onnxruntime requires: not empty,
 * relative (no leading '/'), no ".." component, no NUL. */
bool mc_onnx_location_safe(const char *location, size_t len);

/* Walks the ONNX model src and calls each() for every initializer kept in another file whose
 * location is safe (the location as written, relative to the model's directory; once per
 * initializer, so the same location may come many times). 0, or -1 with why set. */
int mc_onnx_externals(const struct mc_tensor_src *model, const struct mc_tensor_alloc *a,
                      void (*each)(void *ctx, const char *location, size_t len), void *ctx,
                      char *why, size_t why_len);

/* The map of the external data file location (file_size bytes), from the model src alone:
 * the initializers kept there, named after them. Returns as mc_tensor_recognize: 1 with *ret
 * (format onnx), 0 when no initializer is kept there, -1 with why (a range past the end of
 * that file, overlapping ranges, a malformed model). */
int mc_onnx_external_map(const struct mc_tensor_src *model, const struct mc_tensor_alloc *a,
                         const char *location, size_t location_len, uint64_t file_size,
                         struct mc_tensor_map **ret, char *why, size_t why_len);
/* Whether an element is a float that the value modes (nan, inf, exponent, sign, zero as
 * values, noise, bitflip with bit) apply to: f32, f16, bf16, f64 and the 8-bit floats. A
 * quantized block type is not, though the value modes act on its blocks' scales. Inline, as
 * mc_dtype_name(). */
static inline bool mc_dtype_is_float(enum mc_dtype dt)
{
	return dt == MC_DT_F32 || dt == MC_DT_F16 || dt == MC_DT_BF16 || dt == MC_DT_F64 ||
	       dt == MC_DT_F8_E4M3 || dt == MC_DT_F8_E5M2;
}

/* Whether dt is a quantized GGUF block type: the value modes act on each block's scale. */
static inline bool mc_dtype_is_block(enum mc_dtype dt)
{
	return dt >= MC_DT_Q4_0 && dt <= MC_DT_Q8_K;
}

/* The dtype's lower-case name ("f32", "bf16", "i8", "bool", "other"), as the config's dtype
 * key and `mlchaos inspect` spell it; NULL past the last dtype, so that a caller can list
 * them all. Inline: the config parser (which links no recogniser) spells dtypes with it. */
static inline const char *mc_dtype_name(enum mc_dtype dt)
{
	static const char *const names[] = {
		[MC_DT_OTHER] = "other",     [MC_DT_F32] = "f32",   [MC_DT_F16] = "f16",
		[MC_DT_BF16] = "bf16",       [MC_DT_F64] = "f64",   [MC_DT_I8] = "i8",
		[MC_DT_U8] = "u8",           [MC_DT_I16] = "i16",   [MC_DT_U16] = "u16",
		[MC_DT_I32] = "i32",         [MC_DT_U32] = "u32",   [MC_DT_I64] = "i64",
		[MC_DT_U64] = "u64",         [MC_DT_BOOL] = "bool", [MC_DT_F8_E4M3] = "f8_e4m3",
		[MC_DT_F8_E5M2] = "f8_e5m2", [MC_DT_Q4_0] = "q4_0", [MC_DT_Q4_1] = "q4_1",
		[MC_DT_Q5_0] = "q5_0",       [MC_DT_Q5_1] = "q5_1", [MC_DT_Q8_0] = "q8_0",
		[MC_DT_Q8_1] = "q8_1",       [MC_DT_Q2_K] = "q2_k", [MC_DT_Q3_K] = "q3_k",
		[MC_DT_Q4_K] = "q4_k",       [MC_DT_Q5_K] = "q5_k", [MC_DT_Q6_K] = "q6_k",
		[MC_DT_Q8_K] = "q8_k",
	};
	if ((unsigned)dt >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[dt] ? names[dt] : "other";
}

/* The shape of tensor i of map: its dims (outermost first) in *ret_dims, and their count,
 * or -1 when the format did not say (*ret_dims = NULL). 0 dims is a scalar. */
int mc_tensor_shape(const struct mc_tensor_map *map, uint32_t i, const uint64_t **ret_dims);

/* The map of a headerless file of file_size bytes whose data of dtype dt lies in [lo, hi)
 * (hi past the end: to the end): one tensor "raw" of shape [bytes / element size] (of
 * [bytes] for MC_DT_OTHER), in raw. 1, or -1 when lo is not below file_size (why says so,
 * beginning "raw: "). Pure, no allocation. */
int mc_tensor_raw_map(struct mc_tensor_raw *raw, uint64_t file_size, uint64_t lo, uint64_t hi,
                      enum mc_dtype dt, char *why, size_t why_len);

#endif
