/* cmd_inspect.c: `mlchaos inspect FILE...`: what the library's recognisers (shim/formats/)
 * make of model files, before a rule with region = tensors is written: the format, each
 * tensor's name, dtype, shape and byte range, and which tensors a `tensor =` glob selects
 * (the library's own matcher). Reads files through inspect_file.c; writes nothing. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "formats/tensors.h"
#include "inspect.h"
#include "options.h"

struct inspect_opts {
	bool json;
	const char *glob;             /* --glob: mark the tensors it selects, or NULL */
	bool raw;                     /* --format raw */
	struct mc_inspect_raw layout; /* --dtype, --offset */
};

static void inspect_usage(FILE *out)
{
	fputs(
	    "usage: mlchaos inspect [--json] [--glob PATTERN] [--format raw --dtype DTYPE\n"
	    "                       [--offset LOW[-HIGH]]] FILE...\n"
	    "\n"
	    "Shows what region = tensors sees in each model file: its format (safetensors,\n"
	    "gguf, npy, torch-zip), then each tensor's name, dtype and byte order, shape and\n"
	    "byte range [OFFSET, END), and a summary (tensors, bytes of tensor data, share of\n"
	    "the file).\n"
	    "\n"
	    "  --json            print one JSON document instead of tables\n"
	    "  --glob PATTERN    mark the tensors that tensor = PATTERN selects ('*' in the\n"
	    "                    first column, \"selected\" in JSON), with the library's matcher\n"
	    "  --format raw      take every FILE as headerless data, as a rule with\n"
	    "                    format = raw does (needs --dtype)\n"
	    "  --dtype DTYPE     the raw data's type: f32 f16 bf16 f64 i8 u8 i16 u16 i32 u32\n"
	    "                    i64 u64 bool\n"
	    "  --offset RANGE    where the raw data lies: LOW-HIGH, LOW- or LOW (to the end of\n"
	    "                    the file); sizes may have units (64, 1KiB); default 0-\n"
	    "  -h, --help        show this help\n"
	    "\n" MC_HELP_OPTION_ORDER "\n"
	    "exit status: 0 every file read (model files or not); 1 a file is malformed or\n"
	    "cannot be read; 2 usage error.\n",
	    out);
}

/* ---- what a tensor is, in words --------------------------------------------------------- */

/* "f32le", "bf16be", "u8", "other": the byte order only where there is one. */
static void dtype_text(const struct mc_tensor *t, char *out, size_t cap)
{
	enum mc_dtype dt = (enum mc_dtype)t->dtype;
	const char *name = mc_dtype_name(dt);
	snprintf(out, cap, "%s%s", name ? name : "other",
	         mc_dtype_size(dt) > 1 ? (t->big_endian ? "be" : "le") : "");
}

static const char *byte_order(const struct mc_tensor *t)
{
	if (mc_dtype_size((enum mc_dtype)t->dtype) <= 1)
		return "none";
	return t->big_endian ? "big" : "little";
}

/* "[2, 3]", "[]" for a scalar, "?" when the format does not say. Cut with "..." at cap. */
static void shape_text(const struct mc_tensor_map *map, uint32_t i, char *out, size_t cap)
{
	const uint64_t *dims;
	int n = mc_tensor_shape(map, i, &dims);
	size_t len = 0;
	if (n < 0) {
		snprintf(out, cap, "?");
		return;
	}
	len += (size_t)snprintf(out, cap, "[");
	for (int d = 0; d < n && len < cap; d++)
		len += (size_t)snprintf(out + len, cap - len, "%s%" PRIu64, d ? ", " : "", dims[d]);
	if (len < cap)
		snprintf(out + len, cap - len, "]");
	if (len >= cap - 1 && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* The name as a terminal may show it: control bytes become '?'. */
static void print_name(const char *s, int width)
{
	int n = 0;
	for (; *s; s++, n++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	for (; n < width; n++)
		putchar(' ');
}

static bool selected(const struct inspect_opts *o, const char *name)
{
	return o->glob && mc_glob_match(o->glob, name);
}

/* ---- text -------------------------------------------------------------------------------- */

static void print_summary(const struct mc_inspected *r, const struct inspect_opts *o)
{
	const struct mc_tensor_map *map = r->map;
	uint64_t bytes = 0, sel = 0, sel_bytes = 0;
	for (uint32_t i = 0; i < map->n; i++) {
		bytes += map->t[i].len;
		if (selected(o, map->names + map->t[i].name)) {
			sel++;
			sel_bytes += map->t[i].len;
		}
	}
	printf("%" PRIu32 " tensor%s, %" PRIu64 " bytes of tensor data (%.1f%% of %" PRIu64
	       " bytes)\n",
	       map->n, map->n == 1 ? "" : "s", bytes,
	       r->size ? 100.0 * (double)bytes / (double)r->size : 0.0, r->size);
	if (o->glob)
		printf("tensor = %s selects %" PRIu64 " of them (%" PRIu64 " bytes)\n", o->glob,
		       sel, sel_bytes);
}

static void print_table(const struct mc_inspected *r, const struct inspect_opts *o)
{
	const struct mc_tensor_map *map = r->map;
	char shape[128], dtype[16];
	int name_w = 4, shape_w = 5;
	/* every offset, end and size is at most the file's size: its digits size the columns */
	int num_w = snprintf(NULL, 0, "%" PRIu64, r->size);
	num_w = num_w < 6 ? 6 : num_w;
	for (uint32_t i = 0; i < map->n; i++) {
		int len = (int)strlen(map->names + map->t[i].name);
		shape_text(map, i, shape, sizeof(shape));
		name_w = len > name_w ? len : name_w;
		shape_w = (int)strlen(shape) > shape_w ? (int)strlen(shape) : shape_w;
	}
	printf("%s", o->glob ? "  " : "");
	printf("%-*s  %-7s %-*s  %*s  %*s  %*s\n", name_w, "NAME", "DTYPE", shape_w, "SHAPE", num_w,
	       "OFFSET", num_w, "END", num_w, "BYTES");
	for (uint32_t i = 0; i < map->n; i++) {
		const struct mc_tensor *t = &map->t[i];
		const char *name = map->names + t->name;
		if (o->glob)
			printf("%c ", selected(o, name) ? '*' : ' ');
		print_name(name, name_w);
		dtype_text(t, dtype, sizeof(dtype));
		shape_text(map, i, shape, sizeof(shape));
		printf("  %-7s %-*s  %*" PRIu64 "  %*" PRIu64 "  %*" PRIu64 "\n", dtype, shape_w,
		       shape, num_w, t->off, num_w, t->off + t->len, num_w, t->len);
	}
}

/* Prints one file; returns 0, or 1 when it is malformed or unreadable. */
static int print_text(const struct mc_inspected *r, const struct inspect_opts *o)
{
	if (r->status == -2) {
		fprintf(stderr, "mlchaos inspect: %s: %s\n", r->file, r->why);
		return 1;
	}
	if (r->status == 0) {
		printf("%s: not a model file we know (%" PRIu64 " bytes)\n", r->file, r->size);
		return 0;
	}
	if (r->status < 0) {
		printf("%s: malformed: %s\n", r->file, r->why);
		return 1;
	}
	printf("%s: %s, %" PRIu64 " bytes\n", r->file,
	       mc_tensor_format_name((enum mc_tensor_format)r->map->format), r->size);
	if (r->map->n)
		print_table(r, o);
	print_summary(r, o);
	return 0;
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* A JSON string of s, which may not be UTF-8 (names come from the file): bytes that are not
 * printable ASCII become '?' when jansson refuses the string as it is. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	copy[n] = '\0';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *json_shape(const struct mc_tensor_map *map, uint32_t i)
{
	const uint64_t *dims;
	int n = mc_tensor_shape(map, i, &dims);
	if (n < 0)
		return json_null();
	json_t *a = json_array();
	for (int d = 0; a && d < n; d++)
		json_array_append_new(a, json_integer((json_int_t)dims[d]));
	return a;
}

static json_t *json_tensor(const struct mc_tensor_map *map, uint32_t i,
                           const struct inspect_opts *o)
{
	const struct mc_tensor *t = &map->t[i];
	const char *name = map->names + t->name;
	const char *dt = mc_dtype_name((enum mc_dtype)t->dtype);
	json_t *j = json_pack("{s:o, s:s, s:s, s:o, s:I, s:I, s:I}", "name", json_text(name),
	                      "dtype", dt ? dt : "other", "byte_order", byte_order(t), "shape",
	                      json_shape(map, i), "offset", (json_int_t)t->off, "end",
	                      (json_int_t)(t->off + t->len), "bytes", (json_int_t)t->len);
	if (j && o->glob)
		json_object_set_new(j, "selected", json_boolean(selected(o, name)));
	return j;
}

static const char *status_word(int status)
{
	return status == 1    ? "ok"
	       : status == 0  ? "not-a-model"
	       : status == -1 ? "malformed"
	                      : "unreadable";
}

static json_t *json_file(const struct mc_inspected *r, const struct inspect_opts *o)
{
	json_t *j = json_pack("{s:s, s:s}", "file", r->file, "status", status_word(r->status));
	if (!j)
		return NULL;
	if (r->status != -2)
		json_object_set_new(j, "size", json_integer((json_int_t)r->size));
	if (r->status < 0)
		json_object_set_new(j, "reason", json_text(r->why));
	if (r->status != 1)
		return j;
	const struct mc_tensor_map *map = r->map;
	json_t *tensors = json_array();
	uint64_t bytes = 0;
	for (uint32_t i = 0; tensors && i < map->n; i++) {
		json_array_append_new(tensors, json_tensor(map, i, o));
		bytes += map->t[i].len;
	}
	json_object_set_new(j, "format",
	                    json_string(mc_tensor_format_name((enum mc_tensor_format)map->format)));
	json_object_set_new(j, "tensors", tensors);
	json_object_set_new(j, "tensor_count", json_integer(map->n));
	json_object_set_new(j, "tensor_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(j, "percent_of_file",
	                    json_real(r->size ? 100.0 * (double)bytes / (double)r->size : 0.0));
	if (o->glob)
		json_object_set_new(j, "glob", json_string(o->glob));
	return j;
}

/* ---- options ----------------------------------------------------------------------------- */

static int parse_dtype(const char *v, enum mc_dtype *ret)
{
	for (int dt = MC_DT_OTHER + 1; mc_dtype_name((enum mc_dtype)dt); dt++)
		if (strcmp(v, mc_dtype_name((enum mc_dtype)dt)) == 0) {
			*ret = (enum mc_dtype)dt;
			return 0;
		}
	fprintf(stderr,
	        "mlchaos inspect: unknown dtype '%s' (dtypes: f32, f16, bf16, f64, i8, u8, i16, "
	        "u16, i32, u32, i64, u64, bool)\n",
	        v);
	return -1;
}

/* LOW-HIGH, LOW- or LOW (to the end), sizes with units, as the config's offset key. */
static int parse_range(const char *v, uint64_t *ret_lo, uint64_t *ret_hi)
{
	char low[64];
	const char *dash = strchr(v, '-');
	size_t len = dash ? (size_t)(dash - v) : strlen(v);
	*ret_hi = MC_UNLIMITED;
	if (len == 0 || len >= sizeof(low))
		goto bad;
	memcpy(low, v, len);
	low[len] = '\0';
	if (mc_cfg_parse_size(low, ret_lo) < 0 ||
	    (dash && dash[1] && mc_cfg_parse_size(dash + 1, ret_hi) < 0))
		goto bad;
	if (*ret_lo >= *ret_hi) {
		fprintf(stderr, "mlchaos inspect: offset range '%s' is empty or reversed\n", v);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr,
	        "mlchaos inspect: bad offset '%s' (write LOW-HIGH, LOW- or LOW, such as 64 or "
	        "0-4096)\n",
	        v);
	return -1;
}

enum { OPT_JSON = 256, OPT_GLOB, OPT_FORMAT, OPT_DTYPE, OPT_OFFSET };

/* Parses argv into o; returns -1 to exit 0 (--help), -2 for a usage error, else optind. */
static int parse_options(int argc, char **argv, struct inspect_opts *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "glob", required_argument, NULL, OPT_GLOB },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "dtype", required_argument, NULL, OPT_DTYPE },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_dtype = false, have_offset = false;
	int opt;
	optind = 0; /* full getopt reset: commands may run more than once per process */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_GLOB:
			if (!*optarg || mc_glob_check(optarg) < 0) {
				fprintf(stderr, "mlchaos inspect: bad glob '%s'\n", optarg);
				return -2;
			}
			o->glob = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "auto") != 0) {
				fprintf(
				    stderr,
				    "mlchaos inspect: unknown format '%s' (formats: auto, raw)\n",
				    optarg);
				return -2;
			}
			o->raw = strcmp(optarg, "raw") == 0;
			break;
		case OPT_DTYPE:
			if (parse_dtype(optarg, &o->layout.dtype) < 0)
				return -2;
			have_dtype = true;
			break;
		case OPT_OFFSET:
			if (parse_range(optarg, &o->layout.lo, &o->layout.hi) < 0)
				return -2;
			have_offset = true;
			break;
		case 'h':
			inspect_usage(stdout);
			return -1;
		default:
			fprintf(stderr, "mlchaos inspect: bad option '%s'\n",
			        mc_opt_rejected(argv));
			return -2;
		}
	}
	if (o->raw != have_dtype || (have_offset && !o->raw)) {
		fputs(o->raw ? "mlchaos inspect: --format raw needs --dtype\n"
		             : "mlchaos inspect: --dtype and --offset need --format raw\n",
		      stderr);
		return -2;
	}
	if (optind >= argc) {
		fputs("mlchaos inspect: give at least one FILE\n", stderr);
		return -2;
	}
	return optind;
}

int mc_cmd_inspect(int argc, char **argv)
{
	struct inspect_opts o = { .layout = { .hi = MC_UNLIMITED } };
	int first = parse_options(argc, argv, &o);
	if (first == -1)
		return 0;
	if (first < 0) {
		inspect_usage(stderr);
		return 2;
	}
	int status = 0;
	json_t *all = o.json ? json_array() : NULL;
	for (int i = first; i < argc; i++) {
		struct mc_inspected r = { .file = argv[i] };
		mc_inspect_file(&r, o.raw ? &o.layout : NULL);
		if (o.json) {
			json_array_append_new(all, json_file(&r, &o));
			status |= r.status < 0;
		} else {
			if (i > first)
				putchar('\n');
			status |= print_text(&r, &o);
		}
		mc_inspected_free(&r);
	}
	if (o.json) {
		json_t *doc = json_pack("{s:o}", "files", all);
		if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) < 0)
			status = 2;
		putchar('\n');
		json_decref(doc);
	}
	if (fflush(stdout) != 0)
		status = 2;
	return status;
}
