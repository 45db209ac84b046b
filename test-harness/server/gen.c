/* gen.c: mlchaos-gen, writes reference model files and data sets with known answers.
 * The labels are the intact model's own answers on inputs chosen with a clear margin between
 * the top two logits, so the intact model scores 100% by construction. Never writes a file in
 * place: a temporary name, then rename, so a watching server never sees half a file. */
#include "model.h"
#include "outfile.h"
#include "prng.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define PROG        "mlchaos-gen"
#define MAX_SAMPLES 10000000u
/* Draws tried for one sample of a given class before any class with the margin will do. */
#define TRIES_PER_SAMPLE 20000
/* The data set's inputs come from their own stream, apart from the weights'. */
#define DATA_STREAM 0x64617461u

struct gen_opts {
	uint64_t seed;
	uint32_t version;
	uint32_t inputs, hidden, classes;
	const char *model_out;
	const char *data_out;
	unsigned samples;
	double margin;
	bool quiet;
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: " PROG " [options] -o MODEL [--dataset FILE]\n"
	       "Write a reference model file and/or a data set with known answers.\n"
	       "\n"
	       "  -o, --output FILE   write the model there\n"
	       "  --seed N            weights and data set seed (default 1)\n"
	       "  --version N         model version stored in the header (default 1); the weights\n"
	       "                      depend on the seed and shape only\n"
	       "  --shape I-H-C       inputs, hidden units, classes (default 16-32-4)\n"
	       "  --dataset FILE      write N samples as JSON lines:\n"
	       "                      {\"index\":i,\"class\":k,\"features\":[...]}\n"
	       "  --samples N         data set size (default 256)\n"
	       "  --margin F          smallest gap between the top two logits, as a fraction of\n"
	       "                      the model's typical logit range (default 0.1)\n"
	       "  --quiet             print nothing on success\n"
	       "  --help, --version-info\n"
	       "\n"
	       "Exit: 0 written, 1 could not write, 2 usage.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_shape(const char *s, struct gen_opts *o)
{
	unsigned a, b, c;
	char tail;

	if (sscanf(s, "%u-%u-%u%c", &a, &b, &c, &tail) != 3 || !mc_model_weight_bytes(a, b, c))
		return -EINVAL;
	o->inputs = a;
	o->hidden = b;
	o->classes = c;
	return 0;
}

static int set_opt(struct gen_opts *o, int c, const char *arg)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 'o':
		o->model_out = arg;
		return 0;
	case 'd':
		o->data_out = arg;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 's':
		return parse_u64(arg, UINT64_MAX, &o->seed);
	case 'v':
		if (parse_u64(arg, UINT32_MAX, &v) < 0)
			return -EINVAL;
		o->version = (uint32_t)v;
		return 0;
	case 'n':
		if (parse_u64(arg, MAX_SAMPLES, &v) < 0 || v == 0)
			return -EINVAL;
		o->samples = (unsigned)v;
		return 0;
	case 'S':
		return parse_shape(arg, o);
	case 'm':
		o->margin = strtod(arg, &end);
		return (*end || end == arg || !(o->margin >= 0 && o->margin < 2)) ? -EINVAL : 0;
	}
	return -EINVAL;
}

/* 0 to go on, -1 to exit with *ret_exit. */
static int parse_args(int argc, char **argv, struct gen_opts *o, int *ret_exit)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "version", required_argument, NULL, 'v' },
		{ "shape", required_argument, NULL, 'S' },
		{ "dataset", required_argument, NULL, 'd' },
		{ "samples", required_argument, NULL, 'n' },
		{ "margin", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version-info", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct gen_opts){ .seed = 1,
		                .version = 1,
		                .inputs = 16,
		                .hidden = 32,
		                .classes = 4,
		                .samples = 256,
		                .margin = 0.1 };
	*ret_exit = 2;
	while ((c = getopt_long(argc, argv, "o:n:", opts, NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			if (c == 'h')
				usage(stdout);
			else
				printf(PROG " %s\n", MC_VERSION);
			*ret_exit = 0;
			return -1;
		}
		if (c == '?')
			goto bad;
		if (set_opt(o, c, optarg) < 0) {
			fprintf(stderr, PROG ": invalid value '%s'\n", optarg);
			goto bad;
		}
	}
	if (optind < argc || (!o->model_out && !o->data_out)) {
		fprintf(stderr, PROG ": %s\n",
		        optind < argc ? "unexpected argument"
		                      : "nothing to write: give -o and/or --dataset");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try '" PROG " --help'.\n");
	return -1;
}

/* ---- writing ---- */

static int write_model(const struct gen_opts *o, const struct mc_model *m)
{
	struct mc_out out;
	int r = mc_out_open(&out, o->model_out);

	if (r < 0) {
		fprintf(stderr, PROG ": cannot create %s: %s\n", o->model_out, strerror(-r));
		return r;
	}
	fwrite(m->bytes, 1, m->n_bytes, out.f);
	r = mc_out_close(&out, true, PROG);
	if (r == 0 && !o->quiet)
		printf("model %s: version %" PRIu32 ", shape %" PRIu32 "-%" PRIu32 "-%" PRIu32
		       ", seed %" PRIu64 ", %zu bytes, xxh64 %016" PRIx64 "\n",
		       o->model_out, m->version, m->n_inputs, m->n_hidden, m->n_classes, m->seed,
		       m->n_bytes, m->checksum);
	return r;
}

/* ---- the data set ---- */

struct scratch {
	float *x, *hidden, *logits;
};

/* The gap between the two largest logits. */
static float gap(const float *logits, uint32_t n, uint32_t best)
{
	float second = -INFINITY;

	for (uint32_t k = 0; k < n; k++)
		if (k != best && logits[k] > second)
			second = logits[k];
	return logits[best] - second;
}

static uint32_t draw(const struct mc_model *m, uint64_t *state, struct scratch *sc)
{
	for (uint32_t i = 0; i < m->n_inputs; i++)
		sc->x[i] = mc_prng_float(state, -1.0f, 1.0f);
	return mc_model_forward(m, sc->x, sc->hidden, sc->logits);
}

/* The model's typical logit range: the mean of (max - min) over 512 random inputs. */
static float logit_scale(const struct mc_model *m, uint64_t seed, struct scratch *sc)
{
	uint64_t state = seed ^ 0x5ca1e;
	double sum = 0;

	for (int t = 0; t < 512; t++) {
		float lo = INFINITY, hi = -INFINITY;

		draw(m, &state, sc);
		for (uint32_t k = 0; k < m->n_classes; k++) {
			lo = fminf(lo, sc->logits[k]);
			hi = fmaxf(hi, sc->logits[k]);
		}
		sum += hi - lo;
	}
	return (float)(sum / 512);
}

/* Find an input whose answer is want (or any answer, want == UINT32_MAX) with the margin.
 * Returns the class, or UINT32_MAX when none was found. */
static uint32_t find_sample(const struct mc_model *m, uint64_t *state, struct scratch *sc,
                            uint32_t want, float min_gap)
{
	for (int t = 0; t < TRIES_PER_SAMPLE; t++) {
		uint32_t k = draw(m, state, sc);

		if ((want == UINT32_MAX || k == want) &&
		    gap(sc->logits, m->n_classes, k) >= min_gap)
			return k;
	}
	return UINT32_MAX;
}

static void write_sample(FILE *f, unsigned index, uint32_t cls, const float *x, uint32_t n)
{
	fprintf(f, "{\"index\":%u,\"class\":%" PRIu32 ",\"features\":[", index, cls);
	/* %.9g: nine significant digits give back the same float (IEEE-754 binary32). */
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%.9g", i ? "," : "", (double)x[i]);
	fputs("]}\n", f);
}

/* Classes are taken in turn (i mod classes) so the set is balanced whenever the model can
 * answer each class with the margin; a constant answer then scores 1/classes, not more. */
static int fill_dataset(const struct gen_opts *o, const struct mc_model *m, FILE *f,
                        struct scratch *sc, unsigned *per_class)
{
	uint64_t state = o->seed ^ ((uint64_t)DATA_STREAM << 32);
	float min_gap = (float)o->margin * logit_scale(m, o->seed, sc);

	for (unsigned i = 0; i < o->samples; i++) {
		uint32_t k = find_sample(m, &state, sc, i % m->n_classes, min_gap);

		if (k == UINT32_MAX)
			k = find_sample(m, &state, sc, UINT32_MAX, min_gap);
		if (k == UINT32_MAX) {
			fprintf(stderr,
			        PROG ": no input with margin %g found; try a smaller --margin\n",
			        o->margin);
			return -EDOM;
		}
		per_class[k]++;
		write_sample(f, i, k, sc->x, m->n_inputs);
	}
	return 0;
}

static int write_dataset(const struct gen_opts *o, const struct mc_model *m)
{
	struct scratch sc = { malloc(sizeof(float) * m->n_inputs),
		              malloc(sizeof(float) * m->n_hidden),
		              malloc(sizeof(float) * m->n_classes) };
	unsigned *per_class = calloc(m->n_classes, sizeof(unsigned));
	struct mc_out out;
	int r = -ENOMEM;

	if (sc.x && sc.hidden && sc.logits && per_class) {
		r = mc_out_open(&out, o->data_out);
		if (r < 0)
			fprintf(stderr, PROG ": cannot create %s: %s\n", o->data_out, strerror(-r));
	}
	if (r == 0) {
		r = fill_dataset(o, m, out.f, &sc, per_class);
		r = mc_out_close(&out, r == 0, PROG) < 0 && r == 0 ? -EIO : r;
	}
	if (r == 0 && !o->quiet) {
		printf("dataset %s: %u samples, per class", o->data_out, o->samples);
		for (uint32_t k = 0; k < m->n_classes; k++)
			printf(" %u", per_class[k]);
		printf("\n");
	}
	free(per_class);
	free(sc.x);
	free(sc.hidden);
	free(sc.logits);
	return r;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct mc_model *m;
	int status;

	if (parse_args(argc, argv, &o, &status) < 0)
		return status;
	if (mc_model_generate(o.seed, o.version, o.inputs, o.hidden, o.classes, &m) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	status = 0;
	if (o.model_out && write_model(&o, m) < 0)
		status = 1;
	if (status == 0 && o.data_out && write_dataset(&o, m) < 0)
		status = 1;
	mc_model_free(m);
	return status;
}
