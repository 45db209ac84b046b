/* experiment_sweep.c: [sweep] of `mlchaos experiment`: a fault's key rewritten per value, the
 * tensor names of a model file (the recognisers of shim/formats/), and each value's verdicts,
 * ranking, report, CSV and SVG plot. Starts nothing; writes only the files it is asked for,
 * through outfile.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment.h"
#include "outfile.h"
#include "segments.h" /* mc_json_str */
#include "tensors.h"

/* ---- the chaos text with one value ---- */

/* The line starting at s, as [start, end) without its newline. */
static const char *line_end(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? nl : s + strlen(s);
}

/* Whether [s, end) is the header of [fault.FAULT]; *ret_header whether it is any header. */
static bool is_fault_header(const char *s, const char *end, const char *fault, bool *ret_header)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	*ret_header = s < end && *s == '[';
	if (!*ret_header)
		return false;
	const char *close = memchr(s, ']', (size_t)(end - s));
	size_t n = strlen(fault);
	return close && (size_t)(close - s) == 7 + n && strncmp(s + 1, "fault.", 6) == 0 &&
	       strncmp(s + 7, fault, n) == 0;
}

/* Whether [s, end) is a "key = value" line for key (keys are case-insensitive). */
static bool is_key_line(const char *s, const char *end, const char *key)
{
	size_t n = strlen(key);

	while (s < end && isspace((unsigned char)*s))
		s++;
	if ((size_t)(end - s) <= n || strncasecmp(s, key, n) != 0)
		return false;
	s += n;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s < end && (*s == '=' || *s == ':');
}

char *mc_exp_sweep_rewrite(const char *text, const char *fault, const char *key, const char *value,
                           int *ret_added)
{
	const char *header = NULL, *found = NULL;
	bool inside = false, is_header;
	int header_no = 0, no = 0;

	for (const char *s = text; *s; s = *line_end(s) ? line_end(s) + 1 : line_end(s)) {
		const char *end = line_end(s);
		no++;
		bool ours = is_fault_header(s, end, fault, &is_header);
		if (is_header)
			inside = ours;
		if (ours && !header) {
			header = s;
			header_no = no;
		} else if (inside && !found && is_key_line(s, end, key)) {
			found = s;
		}
	}
	if (!header)
		return NULL;
	const char *at = found ? found : line_end(header) + (*line_end(header) ? 1 : 0);
	const char *rest = found ? line_end(found) : at;
	char *out = NULL;
	int n = asprintf(&out, "%.*s%s%s = %s%s%s", (int)(at - text), text,
	                 !found && at == line_end(header) ? "\n" : "", key, value,
	                 found ? "" : "\n", rest);
	*ret_added = found ? 0 : header_no + 1;
	return n < 0 ? NULL : out;
}

int mc_exp_glob_escape(const char *name, char *buf, size_t cap)
{
	size_t k = 0;

	for (const char *c = name; *c; c++) {
		bool special = strchr("*?[]\\", *c) != NULL;
		if (k + special + 2 > cap)
			return -ENAMETOOLONG;
		if (special)
			buf[k++] = '\\';
		buf[k++] = *c;
	}
	if (cap == 0)
		return -ENAMETOOLONG;
	buf[k] = '\0';
	return 0;
}

/* ---- the tensors of a model file ---- */

static int64_t read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);

	return n < 0 ? -1 : n;
}

static void *alloc_mem(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void free_mem(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

int mc_exp_model_tensors(const char *path, const char *glob,
                         bool (*each)(void *user, const char *name), void *user, char *why,
                         size_t why_cap)
{
	const struct mc_tensor_alloc a = { .alloc = alloc_mem, .free = free_mem };
	struct mc_tensor_map *map = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	why[0] = '\0';
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int err = S_ISREG(st.st_mode) ? errno : EINVAL;
		snprintf(why, why_cap, "not a regular file");
		close(fd);
		return -err;
	}
	struct mc_tensor_src src = { .read_at = read_at, .ctx = &fd, .size = (uint64_t)st.st_size };
	int r = mc_tensor_recognize(&src, &a, &map, why, why_cap);
	close(fd);
	if (r == 0)
		return -ENOMEDIUM;
	if (r < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < map->n; i++) {
		const char *name = map->names + map->t[i].name;
		if ((!glob || mc_glob_match(glob, name)) && !each(user, name))
			break;
	}
	mc_tensor_map_free(map, &a);
	return 0;
}

/* ---- verdicts and ranking ---- */

static bool applies_during(const struct mc_exp_hyp *h)
{
	return h->phases & (1u << MC_EXP_DURING);
}

/* The hypothesis whose figure ranks and plots: the first on agreement during chaos (the
 * answers compared with the unfaulted ones), else the first that applies during chaos. */
static int main_hypothesis(const struct mc_exp_spec *spec)
{
	int first = -1;

	for (unsigned i = 0; i < spec->n_hyps; i++) {
		if (!applies_during(&spec->hyps[i]))
			continue;
		if (spec->hyps[i].metric == MC_EXP_AGREEMENT)
			return (int)i;
		if (first < 0)
			first = (int)i;
	}
	return first;
}

/* Damage at value v by the main figure, larger is worse: a figure that should be high
 * (>=, >) counts down, one that should be low counts up; no figure is the worst. */
static double damage(const struct mc_exp_result *r, unsigned v)
{
	const struct mc_exp_sweep_result *s = r->sweep;
	const struct mc_exp_load *l = &s->load[v];

	if (s->main_hyp < 0)
		return 0;
	const struct mc_exp_hyp *h = &r->spec->hyps[s->main_hyp];
	if (s->down[v][0] || !l->ran || !l->known[h->metric])
		return INFINITY;
	double x = l->value[h->metric];
	switch (h->op) {
	case MC_EXP_GE:
	case MC_EXP_GT:
		return -x;
	case MC_EXP_EQ:
		return fabs(x - h->threshold);
	default:
		return x;
	}
}

/* Most damaging first; equal damage in the order of the values (insertion sort: at most
 * MC_EXP_SWEEP_MAX values). */
static void rank_values(struct mc_exp_result *r)
{
	struct mc_exp_sweep_result *s = r->sweep;

	for (unsigned i = 0; i < s->n; i++) {
		unsigned v = i, k = i;
		double d = damage(r, v);
		while (k > 0 && damage(r, s->rank[k - 1]) < d) {
			s->rank[k] = s->rank[k - 1];
			k--;
		}
		s->rank[k] = v;
	}
}

void mc_exp_sweep_judge(struct mc_exp_result *r)
{
	struct mc_exp_sweep_result *s = r->sweep;
	const struct mc_exp_spec *spec = r->spec;
	unsigned worst_failed = 0;

	if (!s || !s->n)
		return;
	s->main_hyp = main_hypothesis(spec);
	s->worst = 0;
	for (unsigned v = 0; v < s->n; v++) {
		unsigned failed = 0;
		for (unsigned i = 0; i < spec->n_hyps; i++) {
			enum mc_exp_verdict vd = MC_EXP_NA;
			if (applies_during(&spec->hyps[i]))
				vd = s->down[v][0] ? MC_EXP_FAILED
				                   : mc_exp_check(&spec->hyps[i], &s->load[v]);
			s->verdict[v][i] = vd;
			failed += vd == MC_EXP_FAILED;
		}
		if (failed >= worst_failed) { /* ties: the later value, the larger damage */
			worst_failed = failed;
			s->worst = v;
		}
	}
	rank_values(r);
	r->load[MC_EXP_DURING] = s->load[s->worst];
	snprintf(r->down[MC_EXP_DURING], sizeof(r->down[MC_EXP_DURING]), "%s", s->down[s->worst]);
}

void mc_exp_sweep_release(struct mc_exp_result *r)
{
	if (r->sweep && r->sweep->n)
		memset(&r->load[MC_EXP_DURING], 0, sizeof(r->load[MC_EXP_DURING]));
}

/* ---- the report ---- */

static void figure_cell(const struct mc_exp_result *r, unsigned v, unsigned i, char *buf,
                        size_t cap)
{
	const struct mc_exp_load *l = &r->sweep->load[v];
	enum mc_exp_metric m = r->spec->hyps[i].metric;
	char fig[32];

	if (r->sweep->down[v][0] || !l->ran)
		snprintf(fig, sizeof(fig), "down");
	else if (!l->known[m])
		snprintf(fig, sizeof(fig), "n/a");
	else
		mc_exp_figure(m, l->value[m], fig, sizeof(fig));
	enum mc_exp_verdict vd = r->sweep->verdict[v][i];
	snprintf(buf, cap, "%s%s", fig,
	         vd == MC_EXP_FAILED ? " FAILED"
	         : vd == MC_EXP_HELD ? " held"
	                             : "");
}

void mc_exp_sweep_text(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	const struct mc_exp_sweep_result *s = r->sweep;

	if (!s || !s->n)
		return;
	if (sw->per_tensor)
		fprintf(
		    out,
		    "\nvulnerability ranking of [fault.%s] per tensor, most damaging first%s%s:\n",
		    sw->fault, s->main_hyp >= 0 ? ", by " : "",
		    s->main_hyp >= 0 ? r->spec->hyps[s->main_hyp].text : "");
	else
		fprintf(out, "\nsweep of fault.%s.%s (gate = %s; 'during' above: value %s):\n",
		        sw->fault, sw->key, sw->gate ? "all" : "none", sw->labels[s->worst]);
	fprintf(out, "%-24s", sw->per_tensor ? "tensor" : sw->key);
	for (unsigned i = 0; i < r->spec->n_hyps; i++)
		if (applies_during(&r->spec->hyps[i]))
			fprintf(out, " %-24.24s", r->spec->hyps[i].text);
	fputc('\n', out);
	for (unsigned k = 0; k < s->n; k++) {
		unsigned v = sw->per_tensor ? s->rank[k] : k;
		fprintf(out, "%-24s", sw->labels[v]);
		for (unsigned i = 0; i < r->spec->n_hyps; i++) {
			char cell[48];
			if (!applies_during(&r->spec->hyps[i]))
				continue;
			figure_cell(r, v, i, cell, sizeof(cell));
			fprintf(out, " %-24s", cell);
		}
		fputc('\n', out);
		if (s->down[v][0])
			fprintf(out, "  %s: %s\n", sw->labels[v], s->down[v]);
	}
}

static void json_str(FILE *out, const char *s)
{
	mc_json_str(out, s, strlen(s));
}

static void json_point(FILE *out, const struct mc_exp_result *r, unsigned v)
{
	const struct mc_exp_sweep_result *s = r->sweep;
	const struct mc_exp_load *l = &s->load[v];
	const char *sep = "";

	fputs("{\"value\":", out);
	json_str(out, r->spec->sweep.values[v]);
	fputs(",\"label\":", out);
	json_str(out, r->spec->sweep.labels[v]);
	fputs(",\"down\":", out);
	if (s->down[v][0])
		json_str(out, s->down[v]);
	else
		fputs("null", out);
	fputs(",\"figures\":{", out);
	for (int m = 0; m < MC_EXP_METRICS; m++) {
		fprintf(out, "%s\"%s\":", m ? "," : "", mc_exp_metric_name(m));
		if (l->ran && l->known[m])
			fprintf(out, "%.9g", l->value[m]);
		else
			fputs("null", out);
	}
	fputs("},\"hypotheses\":{", out);
	for (unsigned i = 0; i < r->spec->n_hyps; i++) {
		enum mc_exp_verdict vd = s->verdict[v][i];
		if (vd == MC_EXP_NA)
			continue;
		fputs(sep, out);
		json_str(out, r->spec->hyps[i].text);
		fprintf(out, ":\"%s\"", vd == MC_EXP_HELD ? "held" : "failed");
		sep = ",";
	}
	fputs("}}", out);
}

void mc_exp_sweep_json(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	const struct mc_exp_sweep_result *s = r->sweep;

	if (!s || !s->n)
		return;
	fputs(",\"sweep\":{\"fault\":", out);
	json_str(out, sw->fault);
	fputs(",\"key\":", out);
	json_str(out, sw->key);
	fprintf(out,
	        ",\"per\":\"%s\",\"gate\":\"%s\",\"main\":", sw->per_tensor ? "tensor" : "value",
	        sw->gate ? "all" : "none");
	if (s->main_hyp >= 0)
		json_str(out, r->spec->hyps[s->main_hyp].text);
	else
		fputs("null", out);
	fputs(",\"worst\":", out);
	json_str(out, sw->labels[s->worst]);
	fputs(",\"points\":[", out);
	for (unsigned v = 0; v < s->n; v++) {
		fputs(v ? "," : "", out);
		json_point(out, r, v);
	}
	fputs("],\"ranking\":[", out);
	for (unsigned k = 0; k < s->n; k++) {
		fputs(k ? "," : "", out);
		json_str(out, sw->labels[s->rank[k]]);
	}
	fputs("]}", out);
}
