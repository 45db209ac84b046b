/* tensorgen.c: mlchaos-tensorgen, writes a safetensors or GGUF (v3) file with a few named
 * tensors of deterministic values (f32, f16, bf16, i8, and Q8_0 in GGUF) and metadata large
 * enough that the header spans more than one 4 KiB page: test material for corruption that
 * must land in tensor data only. Same seed, same bytes. Written by rename, never in place. */
#include "outfile.h"
#include "prng.h"
#include "tensorfile.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define PROG             "mlchaos-tensorgen"
#define DEFAULT_METADATA 6000
#define MAX_METADATA     (16u << 20)
#define GGUF_ALIGNMENT   32

/* ---- a growing byte buffer ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
	bool failed;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->failed)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void put_le(struct buf *b, uint64_t v, int width)
{
	uint8_t bytes[8];
	for (int i = 0; i < width; i++)
		bytes[i] = (uint8_t)(v >> (8 * i));
	put(b, bytes, (size_t)width);
}

static void put_str(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_byte_n(struct buf *b, uint8_t v, size_t n)
{
	while (n--)
		put(b, &v, 1);
}

/* ---- the tensors ---- */

struct gen_tensor {
	const char *name;
	enum mc_tt type;
	uint32_t rows, cols; /* row-major; rows 1 for a vector */
	bool gguf_only;
};

static const struct gen_tensor tensors[] = {
	{ "embed.weight", MC_TT_F32, 64, 32, false },
	{ "layers.0.attn.weight", MC_TT_F16, 32, 32, false },
	{ "layers.0.mlp.weight", MC_TT_BF16, 64, 32, false },
	{ "layers.0.norm.weight", MC_TT_F32, 1, 32, false },
	{ "layers.0.q8.weight", MC_TT_Q8_0, 8, 64, true },
	{ "tokens.map", MC_TT_I8, 1, 48, false },
	{ "head.weight", MC_TT_F32, 16, 32, false },
};
#define N_TENSORS (sizeof(tensors) / sizeof(tensors[0]))

/* The tensor's bytes, from its own stream of the seed: floats uniform in [-1, 1), int8 in
 * [-127, 127], Q8_0 blocks of a scale in [0.5/127, 1.5/127) and 32 quants. */
static void put_values(struct buf *b, const struct gen_tensor *t, size_t index, uint64_t seed)
{
	uint64_t state = seed ^ (0x9e37u * (index + 1)) << 32;
	uint64_t n = (uint64_t)t->rows * t->cols;
	for (uint64_t i = 0; i < n; i++) {
		float v = mc_prng_float(&state, -1.0f, 1.0f);
		uint32_t bits;
		switch (t->type) {
		case MC_TT_F32:
			memcpy(&bits, &v, sizeof(bits));
			put_le(b, bits, 4);
			break;
		case MC_TT_F16:
			put_le(b, mc_f32_to_f16(v), 2);
			break;
		case MC_TT_BF16:
			put_le(b, mc_f32_to_bf16(v), 2);
			break;
		case MC_TT_Q8_0:
			if (i % MC_Q8_0_BLOCK == 0)
				put_le(b, mc_f32_to_f16((1.0f + v) / 254.0f + 0.5f / 127.0f), 2);
			put_le(b, (uint8_t)(int8_t)(v * 127.0f), 1);
			break;
		default:
			put_le(b, (uint8_t)(int8_t)(v * 127.0f), 1);
			break;
		}
	}
}

static uint64_t tensor_bytes(const struct gen_tensor *t)
{
	return mc_tt_bytes(t->type, (uint64_t)t->rows * t->cols);
}

/* ---- safetensors ---- */

static void st_entry(struct buf *h, const struct gen_tensor *t, uint64_t begin, uint64_t end)
{
	char s[256];
	if (t->rows > 1)
		snprintf(s, sizeof(s), "[%" PRIu32 ",%" PRIu32 "]", t->rows, t->cols);
	else
		snprintf(s, sizeof(s), "[%" PRIu32 "]", t->cols);
	put_str(h, ",\"");
	put_str(h, t->name);
	put_str(h, "\":{\"dtype\":\"");
	put_str(h, mc_tt[t->type].st_name);
	put_str(h, "\",\"shape\":");
	put_str(h, s);
	snprintf(s, sizeof(s), ",\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", begin, end);
	put_str(h, s);
}

static void write_safetensors(struct buf *out, uint64_t seed, size_t metadata)
{
	struct buf h = { 0 };
	char s[128];
	snprintf(s, sizeof(s), "%" PRIu64, seed);
	put_str(&h, "{\"__metadata__\":{\"format\":\"pt\",\"generator\":\"" PROG "\",\"seed\":\"");
	put_str(&h, s);
	put_str(&h, "\",\"notes\":\"");
	put_byte_n(&h, 'm', metadata);
	put_str(&h, "\"}");
	uint64_t at = 0;
	for (size_t i = 0; i < N_TENSORS; i++) {
		if (tensors[i].gguf_only)
			continue;
		st_entry(&h, &tensors[i], at, at + tensor_bytes(&tensors[i]));
		at += tensor_bytes(&tensors[i]);
	}
	put_str(&h, "}");
	/* Spaces up to an 8-byte boundary, as the reference writer pads. */
	put_byte_n(&h, ' ', (8 - (8 + h.n) % 8) % 8);
	put_le(out, h.n, 8);
	put(out, h.p, h.n);
	out->failed |= h.failed;
	free(h.p);
	for (size_t i = 0; i < N_TENSORS; i++)
		if (!tensors[i].gguf_only)
			put_values(out, &tensors[i], i, seed);
}

/* ---- GGUF v3 ---- */

enum { GGUF_U32 = 4, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10 };

static void gguf_str(struct buf *b, const char *s)
{
	put_le(b, strlen(s), 8);
	put_str(b, s);
}

static void gguf_kv_str(struct buf *b, const char *key, const char *value)
{
	gguf_str(b, key);
	put_le(b, GGUF_STRING, 4);
	gguf_str(b, value);
}

/* A vocabulary "tok-00000", ... of at least bytes bytes. */
static void gguf_tokens(struct buf *b, size_t bytes)
{
	uint64_t n = bytes / 17 + 1; /* 8-byte length + 9 characters each */
	char tok[32];
	gguf_str(b, "tokenizer.ggml.tokens");
	put_le(b, GGUF_ARRAY, 4);
	put_le(b, GGUF_STRING, 4);
	put_le(b, n, 8);
	for (uint64_t i = 0; i < n; i++) {
		snprintf(tok, sizeof(tok), "tok-%05" PRIu64, i % 100000);
		gguf_str(b, tok);
	}
}

static void gguf_info(struct buf *b, const struct gen_tensor *t, uint64_t offset)
{
	gguf_str(b, t->name);
	/* ggml lists the fastest dimension first: [cols, rows]. */
	put_le(b, t->rows > 1 ? 2 : 1, 4);
	put_le(b, t->cols, 8);
	if (t->rows > 1)
		put_le(b, t->rows, 8);
	put_le(b, mc_tt[t->type].ggml_type, 4);
	put_le(b, offset, 8);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static void write_gguf(struct buf *out, uint64_t seed, size_t metadata)
{
	put_str(out, "GGUF");
	put_le(out, 3, 4);
	put_le(out, N_TENSORS, 8);
	put_le(out, 6, 8);
	gguf_kv_str(out, "general.architecture", "mlchaos");
	gguf_kv_str(out, "general.name", PROG);
	gguf_str(out, "general.alignment");
	put_le(out, GGUF_U32, 4);
	put_le(out, GGUF_ALIGNMENT, 4);
	gguf_str(out, "mlchaos.seed");
	put_le(out, GGUF_U64, 4);
	put_le(out, seed, 8);
	gguf_kv_str(out, "mlchaos.notes", "deterministic test tensors");
	gguf_tokens(out, metadata);
	uint64_t at = 0;
	for (size_t i = 0; i < N_TENSORS; i++) {
		gguf_info(out, &tensors[i], at);
		at = align_up(at + tensor_bytes(&tensors[i]), GGUF_ALIGNMENT);
	}
	put_byte_n(out, 0, (size_t)(align_up(out->n, GGUF_ALIGNMENT) - out->n));
	uint64_t data = out->n;
	for (size_t i = 0; i < N_TENSORS; i++) {
		put_byte_n(out, 0,
		           (size_t)(align_up(out->n - data, GGUF_ALIGNMENT) - (out->n - data)));
		put_values(out, &tensors[i], i, seed);
	}
}

/* ---- the command ---- */

struct opts {
	const char *format, *out;
	uint64_t seed;
	size_t metadata;
	bool quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " --format safetensors|gguf -o FILE [--seed N] [--metadata BYTES]\n"
	        "Write a model file of named tensors with deterministic values.\n"
	        "\n"
	        "  --format F         safetensors, or gguf (version 3)\n"
	        "  -o, --output FILE  where to write it (by rename)\n"
	        "  --seed N           the values' seed (default 1)\n"
	        "  --metadata BYTES   about this many bytes of metadata in the header\n"
	        "                     (default 6000: the header spans two 4 KiB pages)\n"
	        "  --quiet            print nothing on success\n"
	        "  --help, --version-info\n"
	        "\n"
	        "Exit: 0 written, 1 could not write, 2 usage.\n");
}

static int parse_args(int argc, char **argv, struct opts *o, int *ret_exit)
{
	static const struct option longs[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version-info", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	*o = (struct opts){ .seed = 1, .metadata = DEFAULT_METADATA };
	*ret_exit = 2;
	while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
		errno = 0;
		if (c == 'h' || c == 'V') {
			c == 'h' ? usage(stdout) : (void)printf(PROG " %s\n", MC_VERSION);
			*ret_exit = 0;
			return -1;
		} else if (c == 'f') {
			o->format = optarg;
		} else if (c == 'o') {
			o->out = optarg;
		} else if (c == 'q') {
			o->quiet = true;
		} else if (c == 's' || c == 'm') {
			unsigned long long v = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    (c == 'm' && v > MAX_METADATA)) {
				fprintf(stderr, PROG ": invalid value '%s'\n", optarg);
				goto bad;
			}
			if (c == 's')
				o->seed = v;
			else
				o->metadata = (size_t)v;
		} else {
			goto bad;
		}
	}
	if (optind < argc || !o->out || !o->format ||
	    (strcmp(o->format, "safetensors") != 0 && strcmp(o->format, "gguf") != 0)) {
		fprintf(stderr, PROG ": %s\n",
		        optind < argc ? "unexpected argument"
		        : !o->out     ? "give -o FILE"
		                      : "give --format safetensors or --format gguf");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	int status;
	if (parse_args(argc, argv, &o, &status) < 0)
		return status;
	struct buf file = { 0 };
	bool gguf = strcmp(o.format, "gguf") == 0;
	if (gguf)
		write_gguf(&file, o.seed, o.metadata);
	else
		write_safetensors(&file, o.seed, o.metadata);
	if (file.failed) {
		fprintf(stderr, PROG ": out of memory\n");
		free(file.p);
		return 1;
	}
	struct mc_out out;
	int r = mc_out_open(&out, o.out);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot create %s: %s\n", o.out, strerror(-r));
		free(file.p);
		return 1;
	}
	fwrite(file.p, 1, file.n, out.f);
	r = mc_out_close(&out, true, PROG);
	if (r == 0 && !o.quiet)
		printf("%s %s: seed %" PRIu64 ", %zu bytes\n", o.format, o.out, o.seed, file.n);
	free(file.p);
	return r < 0 ? 1 : 0;
}
