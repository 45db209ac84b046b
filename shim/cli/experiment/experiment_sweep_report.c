/* experiment_sweep_report.c: a sweep's results: each value's verdicts, the ranking by
 * damage, and the sweep's part of the text and JSON reports. Pure over struct
 * mc_exp_result: never runs, signals or reads anything. */
#include <math.h>
#include <string.h>

#include "experiment.h"
#include "segments.h" /* mc_json_str */

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
	if (s->n < sw->n) {
		fprintf(out, "not run (until = failure: a hypothesis failed at %s = %s):",
		        sw->per_tensor ? "tensor" : sw->key, sw->labels[s->n - 1]);
		for (unsigned v = s->n; v < sw->n; v++)
			fprintf(out, " %s", sw->labels[v]);
		fputc('\n', out);
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
	fprintf(out, ",\"per\":\"%s\",\"gate\":\"%s\",\"until\":\"%s\",\"main\":",
	        sw->per_tensor ? "tensor" : "value", sw->gate ? "all" : "none",
	        sw->until_failure ? "failure" : "end");
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
	fputs("],\"not_run\":[", out);
	for (unsigned v = s->n; v < sw->n; v++) {
		fputs(v > s->n ? "," : "", out);
		json_str(out, sw->labels[v]);
	}
	fputs("],\"ranking\":[", out);
	for (unsigned k = 0; k < s->n; k++) {
		fputs(k ? "," : "", out);
		json_str(out, sw->labels[s->rank[k]]);
	}
	fputs("]}", out);
}
