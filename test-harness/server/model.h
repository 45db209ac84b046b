/* model.h: the reference model file format (see FORMAT.md) and the small MLP classifier it
 * holds: how the bytes arrive (read, pread, fread, mmap, and a deliberately naive read),
 * parsing, checksums and the forward pass. Never trusts a file: every size is bounded before
 * use, and a header whose own checksum does not match is refused whatever the options.
 *
 * File layout, all integers little-endian, 64-byte header then the weights:
 *   0  8  magic "MLCMODEL"
 *   8  4  format version (1)
 *  12  4  header size in bytes (64)
 *  16  4  model version (u32, chosen by the generator, bumped for each release of a model)
 *  20  4  inputs   (1..1024)
 *  24  4  hidden   (1..4096)
 *  28  4  classes  (2..256)
 *  32  8  weight bytes: 4 * (hidden*inputs + hidden + classes*hidden + classes)
 *  40  8  xxh64 (seed 0) of the weight bytes
 *  48  8  generator seed (informational)
 *  56  8  xxh64 (seed 0) of header bytes 0..55: any header flip makes the file unreadable
 *  64     float32 LE: W1[hidden][inputs], b1[hidden], W2[classes][hidden], b2[classes]
 * Forward pass: h = relu(W1 x + b1), logits = W2 h + b2, class = argmax, scores = softmax. */
#ifndef MC_MODEL_H
#define MC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_MODEL_MAGIC          "MLCMODEL"
#define MC_MODEL_FORMAT_VERSION 1u
#define MC_MODEL_HEADER_BYTES   64u
#define MC_MODEL_MAX_INPUTS     1024u
#define MC_MODEL_MAX_HIDDEN     4096u
#define MC_MODEL_MAX_CLASSES    256u
/* Larger than any shape the bounds above allow (about 20 MiB). */
#define MC_MODEL_MAX_FILE_BYTES (64u << 20)
#define MC_MODEL_ERR_BYTES      256

enum mc_load_method {
	MC_LOAD_READ,  /* read(2) in a loop until EOF, retrying EINTR and short reads */
	MC_LOAD_PREAD, /* pread(2) at increasing offsets until EOF */
	MC_LOAD_FREAD, /* fopen/fread(3), retrying after EINTR */
	MC_LOAD_MMAP,  /* mmap(2) PROT_READ, MAP_PRIVATE; weights used in place */
	MC_LOAD_NAIVE, /* one read(2) of st_size bytes, count ignored: the short-read bug */
};

struct mc_model {
	uint32_t format_version;
	uint32_t version;
	uint32_t n_inputs;
	uint32_t n_hidden;
	uint32_t n_classes;
	uint64_t seed;
	uint64_t weight_bytes;
	uint64_t checksum;        /* xxh64 of the weights as the header states it */
	uint64_t checksum_actual; /* xxh64 of the weights as they arrived */
	const float *w1, *b1, *w2, *b2;
	uint8_t *bytes; /* the whole file: malloc'd, or mapped when mapped is true */
	size_t n_bytes;
	bool mapped;
	enum mc_load_method method;
};

/* The name of a method as the command line spells it ("read", ..., "read-naive"). */
const char *mc_load_method_name(enum mc_load_method m);
/* Parse "read", "pread", "fread" or "mmap". 0 or -EINVAL. */
int mc_load_method_parse(const char *s, enum mc_load_method *ret);

/* Bytes of weights for a shape, or 0 when the shape is outside the bounds above. */
uint64_t mc_model_weight_bytes(uint32_t inputs, uint32_t hidden, uint32_t classes);

/* Load and parse the file at path. With verify, weights whose xxh64 differs from the header's
 * are refused. 0 with *ret set (free with mc_model_free), or -errno with a one-line reason in
 * err: -ENOENT and friends from the system, -EBADMSG for a malformed or corrupt file,
 * -EFBIG past MC_MODEL_MAX_FILE_BYTES, -ENOMEM. */
int mc_model_load(const char *path, enum mc_load_method method, bool verify, struct mc_model **ret,
                  char *err, size_t err_size);

/* Parse m->bytes[0..m->n_bytes) in place: fills every other field. Same returns as load. */
int mc_model_parse(struct mc_model *m, bool verify, char *err, size_t err_size);

/* A model with weights drawn from seed (splitmix64, uniform), as its file image in m->bytes.
 * The weights depend on the seed and the shape only, never on the version. 0 or -EINVAL
 * (shape out of bounds), -ENOMEM. */
int mc_model_generate(uint64_t seed, uint32_t version, uint32_t inputs, uint32_t hidden,
                      uint32_t classes, struct mc_model **ret);

/* Release a model and its bytes. NULL is fine. */
void mc_model_free(struct mc_model *m);

/* The forward pass into caller scratch: hidden[n_hidden] and logits[n_classes]. Allocates
 * nothing. Returns the arg max of the logits; NaN counts as -inf, ties go to the lowest. */
uint32_t mc_model_forward(const struct mc_model *m, const float *x, float *hidden, float *logits);

/* The forward pass with its activations on the heap (so an allocation fault during a request
 * is felt here), softmax scores into scores[n_classes], the class into *ret_class. 0; -ENOMEM;
 * -ERANGE when some logit or score is not finite (scores and class are still filled). */
int mc_model_predict(const struct mc_model *m, const float *x, float *scores, uint32_t *ret_class);

#endif
