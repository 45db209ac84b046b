/* experiment_plot.c: a sweep's numbers as CSV (--csv) and as an SVG picture (--plot): the
 * degradation curve (the main figure against the value) or, per = tensor, the vulnerability
 * ranking as horizontal bars. SVG is written by hand: an output format, not a parser; every
 * text is XML-escaped. Writes only through outfile.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment.h"
#include "outfile.h"

#define SVG_W        720
#define SVG_H        420
#define MARGIN_TOP   48
#define MARGIN_RIGHT 28
#define MARGIN_LEFT  84
#define MARGIN_BOT   64
#define BAR_H        22 /* one bar per tensor, and its gap */
#define LABEL_CHAR_W 7  /* pixels per character of a tensor name, at 12px */
#define LABEL_MAX_W  320
#define LOG_DECADES  2 /* values that span more than this many decades get a log axis */

/* ---- what is plotted ---- */

static const struct mc_exp_hyp *main_hyp(const struct mc_exp_result *r)
{
	return r->sweep->main_hyp >= 0 ? &r->spec->hyps[r->sweep->main_hyp] : NULL;
}

/* The main figure at value v in plotting units (a rate in percent); false when there is none
 * (the target did not get ready, or no answer to measure). */
static bool plotted(const struct mc_exp_result *r, unsigned v, double *ret)
{
	const struct mc_exp_hyp *h = main_hyp(r);
	const struct mc_exp_load *l = &r->sweep->load[v];

	if (!h || r->sweep->down[v][0] || !l->ran || !l->known[h->metric])
		return false;
	*ret = l->value[h->metric] * (mc_exp_metric_kind(h->metric) == MC_EXP_KIND_RATE ? 100 : 1);
	return true;
}

static double threshold_units(const struct mc_exp_hyp *h)
{
	return h->threshold * (mc_exp_metric_kind(h->metric) == MC_EXP_KIND_RATE ? 100 : 1);
}

/* A share is plotted in percent; the other figures in the report's own units. */
static const char *unit_of(enum mc_exp_metric m)
{
	return mc_exp_metric_kind(m) == MC_EXP_KIND_RATE ? "%" : mc_exp_metric_unit(m);
}

/* The y (or bar) axis: 0..100 for a rate, else 0 up to the largest figure or threshold. */
static double axis_max(const struct mc_exp_result *r)
{
	const struct mc_exp_hyp *h = main_hyp(r);
	double top = 0, y;

	if (h && mc_exp_metric_kind(h->metric) == MC_EXP_KIND_RATE)
		return 100;
	for (unsigned v = 0; v < r->sweep->n; v++)
		if (plotted(r, v, &y) && y > top)
			top = y;
	if (h && threshold_units(h) > top)
		top = threshold_units(h);
	return top > 0 ? top * 1.1 : 1;
}

/* ---- a file through outfile.c ---- */

static FILE *open_out(const char *path, const char *what)
{
	int fd = mc_outfile_open("experiment", path, O_TRUNC, what, "it was not written");
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (fd >= 0 && !f) {
		fprintf(stderr, "mlchaos experiment: %s: %s\n", path, strerror(errno));
		close(fd);
	}
	return f;
}

static int close_out(FILE *f, const char *path)
{
	int bad = ferror(f) | (fclose(f) != 0);

	if (bad)
		fprintf(stderr, "mlchaos experiment: %s: write error\n", path);
	return bad ? -1 : 0;
}

/* ---- CSV ---- */

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Whether hypothesis i gets a column: it applies during chaos and no earlier one has its
 * metric (two claims on one figure have one number). */
static bool csv_column(const struct mc_exp_spec *spec, unsigned i)
{
	if (!(spec->hyps[i].phases & (1u << MC_EXP_DURING)))
		return false;
	for (unsigned k = 0; k < i; k++)
		if ((spec->hyps[k].phases & (1u << MC_EXP_DURING)) &&
		    spec->hyps[k].metric == spec->hyps[i].metric)
			return false;
	return true;
}

int mc_exp_sweep_csv(const char *path, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	const struct mc_exp_sweep_result *s = r->sweep;
	FILE *f;

	if (!s || !s->n) { /* the steady state failed before chaos: a result, not an error */
		fprintf(stderr,
		        "mlchaos experiment: --csv %s: no value of the sweep ran: not "
		        "written\n",
		        path);
		return 0;
	}
	f = open_out(path, "--csv file");
	if (!f)
		return -1;
	fputs(spec->sweep.per_tensor ? "rank,tensor" : "value", f);
	for (unsigned i = 0; i < spec->n_hyps; i++)
		if (csv_column(spec, i))
			fprintf(f, ",%s", mc_exp_metric_name(spec->hyps[i].metric));
	fputs(",down\n", f);
	for (unsigned k = 0; k < s->n; k++) {
		unsigned v = spec->sweep.per_tensor ? s->rank[k] : k;
		if (spec->sweep.per_tensor)
			fprintf(f, "%u,", k + 1);
		csv_field(f, spec->sweep.labels[v]);
		for (unsigned i = 0; i < spec->n_hyps; i++) {
			enum mc_exp_metric m = spec->hyps[i].metric;
			if (!csv_column(spec, i))
				continue;
			if (!s->down[v][0] && s->load[v].ran && s->load[v].known[m])
				fprintf(f, ",%.9g", s->load[v].value[m]);
			else
				fputc(',', f);
		}
		fputc(',', f);
		csv_field(f, s->down[v]);
		fputc('\n', f);
	}
	return close_out(f, path);
}

/* ---- SVG ---- */

static void svg_open(FILE *f, const struct mc_exp_result *r, int height)
{
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	        "<text class=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\" "
	        "font-size=\"15\">",
	        SVG_W, height, SVG_W, height, SVG_W / 2);
	mc_exp_xml_text(f, r->spec->name);
	fputs("</text>\n", f);
}

/* The label of the main figure: "agreement (%)", with the hypothesis in words. */
static void metric_label(FILE *f, const struct mc_exp_result *r)
{
	const struct mc_exp_hyp *h = main_hyp(r);

	if (!h) {
		fputs("no figure", f);
		return;
	}
	fprintf(f, "%s (%s) during chaos", mc_exp_metric_name(h->metric), unit_of(h->metric));
}

/* x positions: the values as numbers when all of them are (log when they are all positive
 * and span more than LOG_DECADES decades), else evenly by index. */
struct x_axis {
	bool numeric, log;
	double lo, hi;
};

static struct x_axis x_axis_of(const struct mc_exp_result *r)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	struct x_axis a = { .numeric = true, .lo = INFINITY, .hi = -INFINITY };

	for (unsigned v = 0; v < r->sweep->n; v++) {
		char *end;
		double x = strtod(sw->values[v], &end);
		if (end == sw->values[v] || *end || !isfinite(x)) {
			a.numeric = false;
			break;
		}
		a.lo = fmin(a.lo, x);
		a.hi = fmax(a.hi, x);
	}
	if (!a.numeric || a.hi <= a.lo) {
		a.numeric = false;
		return a;
	}
	a.log = a.lo > 0 && log10(a.hi / a.lo) > LOG_DECADES;
	return a;
}

static double x_pos(const struct mc_exp_result *r, const struct x_axis *a, unsigned v)
{
	const double left = MARGIN_LEFT + 20, width = SVG_W - MARGIN_RIGHT - 20 - left;
	double t;

	if (!a->numeric) {
		t = r->sweep->n > 1 ? (double)v / (r->sweep->n - 1) : 0.5;
	} else {
		double x = strtod(r->spec->sweep.values[v], NULL);
		t = a->log ? log10(x / a->lo) / log10(a->hi / a->lo)
		           : (x - a->lo) / (a->hi - a->lo);
	}
	return left + t * width;
}

static double y_pos(double y, double top)
{
	const double bottom = SVG_H - MARGIN_BOT;

	return bottom - (y / top) * (bottom - MARGIN_TOP);
}

static void curve_axes(FILE *f, const struct mc_exp_result *r, const struct x_axis *a, double top)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	const int bottom = SVG_H - MARGIN_BOT;

	fprintf(f,
	        "<g class=\"axes\" stroke=\"black\">\n"
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n</g>\n",
	        MARGIN_LEFT, MARGIN_TOP, MARGIN_LEFT, bottom, MARGIN_LEFT, bottom,
	        SVG_W - MARGIN_RIGHT, bottom);
	for (int k = 0; k <= 4; k++) { /* y ticks */
		double y = top * k / 4;
		fprintf(f,
		        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
		        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
		        MARGIN_LEFT + 1, y_pos(y, top), SVG_W - MARGIN_RIGHT, y_pos(y, top),
		        MARGIN_LEFT - 6, y_pos(y, top) + 4, y);
	}
	for (unsigned v = 0; v < r->sweep->n; v++) { /* x ticks: the values themselves */
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
		        x_pos(r, a, v), bottom + 18);
		mc_exp_xml_text(f, sw->labels[v]);
		fputs("</text>\n", f);
	}
	fprintf(f, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">fault.",
	        (MARGIN_LEFT + SVG_W - MARGIN_RIGHT) / 2, SVG_H - 18);
	mc_exp_xml_text(f, sw->fault);
	fputc('.', f);
	mc_exp_xml_text(f, sw->key);
	fprintf(f, "%s</text>\n", a->log ? " (log scale)" : "");
	fprintf(f,
	        "<text class=\"ylabel\" x=\"18\" y=\"%d\" text-anchor=\"middle\" "
	        "transform=\"rotate(-90 18 %d)\">",
	        (MARGIN_TOP + bottom) / 2, (MARGIN_TOP + bottom) / 2);
	metric_label(f, r);
	fputs("</text>\n", f);
}

/* The hypothesis' threshold as a dashed line across the plot (horizontal: labelled above its
 * right end), or down the bars (vertical: labelled above its top, clear of the bars). */
static void threshold_line(FILE *f, const struct mc_exp_result *r, double x1, double y1, double x2,
                           double y2)
{
	bool vertical = x1 == x2;

	fprintf(f,
	        "<line class=\"threshold\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"#c00\" stroke-dasharray=\"6 4\"/>\n"
	        "<text class=\"threshold-label\" x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" "
	        "text-anchor=\"%s\">",
	        x1, y1, x2, y2, x2, (vertical ? y1 : y2) - 4, vertical ? "middle" : "end");
	mc_exp_xml_text(f, main_hyp(r)->text);
	fputs("</text>\n", f);
}

static void svg_curve(FILE *f, const struct mc_exp_result *r)
{
	const struct x_axis a = x_axis_of(r);
	const double top = axis_max(r);
	const struct mc_exp_hyp *h = main_hyp(r);
	double y;

	svg_open(f, r, SVG_H);
	curve_axes(f, r, &a, top);
	if (h)
		threshold_line(f, r, MARGIN_LEFT, y_pos(threshold_units(h), top),
		               SVG_W - MARGIN_RIGHT, y_pos(threshold_units(h), top));
	fputs("<polyline class=\"curve\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" "
	      "points=\"",
	      f);
	for (unsigned v = 0; v < r->sweep->n; v++)
		if (plotted(r, v, &y))
			fprintf(f, "%.1f,%.1f ", x_pos(r, &a, v), y_pos(y, top));
	fputs("\"/>\n", f);
	for (unsigned v = 0; v < r->sweep->n; v++) {
		bool known = plotted(r, v, &y);
		/* no figure (the target did not get ready): a hollow point on the axis */
		fprintf(f,
		        "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
		        "stroke=\"#1f5fa8\"><title>",
		        x_pos(r, &a, v), y_pos(known ? y : 0, top), known ? "#1f5fa8" : "white");
		mc_exp_xml_text(f, r->spec->sweep.labels[v]);
		if (known)
			fprintf(f, ": %.4g", y);
		else
			fputs(": no figure", f);
		fputs("</title></circle>\n", f);
	}
	fputs("</svg>\n", f);
}

static void svg_ranking(FILE *f, const struct mc_exp_result *r)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	const struct mc_exp_sweep_result *s = r->sweep;
	const struct mc_exp_hyp *h = main_hyp(r);
	size_t longest = 0;
	double y, top = axis_max(r);

	for (unsigned v = 0; v < s->n; v++)
		longest = strlen(sw->labels[v]) > longest ? strlen(sw->labels[v]) : longest;
	double left = 16 + fmin(LABEL_MAX_W, (double)longest * LABEL_CHAR_W);
	double width = SVG_W - MARGIN_RIGHT - left;
	int height = MARGIN_TOP + (int)s->n * BAR_H + MARGIN_BOT;
	svg_open(f, r, height);
	for (unsigned k = 0; k < s->n; k++) {
		unsigned v = s->rank[k];
		bool known = plotted(r, v, &y);
		double len = known ? y / top * width : 0, at = MARGIN_TOP + k * BAR_H;
		fprintf(f, "<text class=\"name\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
		        left - 6, at + BAR_H - 8);
		mc_exp_xml_text(f, sw->labels[v]);
		fprintf(f,
		        "</text>\n<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		        "height=\"%d\" fill=\"%s\"><title>",
		        left, at + 3, len, BAR_H - 6, known ? "#1f5fa8" : "#999");
		mc_exp_xml_text(f, sw->labels[v]);
		if (known)
			fprintf(f, ": %.4g", y);
		else
			fputs(": no figure", f);
		fputs("</title></rect>\n", f);
	}
	double bottom = MARGIN_TOP + s->n * BAR_H;
	fprintf(f,
	        "<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"black\"/>\n"
	        "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"black\"/>\n",
	        left, MARGIN_TOP, left, bottom, left, bottom, left + width, bottom);
	for (int k = 0; k <= 4; k++)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>\n",
		        left + width * k / 4, bottom + 16, top * k / 4);
	fprintf(f, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
	        left + width / 2, bottom + 40);
	metric_label(f, r);
	fputs(", one start per tensor of [fault.", f);
	mc_exp_xml_text(f, sw->fault);
	fputs("], most damaging first</text>\n", f);
	if (h)
		threshold_line(f, r, left + threshold_units(h) / top * width, MARGIN_TOP - 2,
		               left + threshold_units(h) / top * width, bottom);
	fputs("</svg>\n", f);
}

int mc_exp_sweep_plot(const char *path, const struct mc_exp_result *r)
{
	FILE *f;

	if (!r->sweep || !r->sweep->n) {
		fprintf(stderr,
		        "mlchaos experiment: --plot %s: no value of the sweep ran: not "
		        "drawn\n",
		        path);
		return 0;
	}
	f = open_out(path, "--plot file");
	if (!f)
		return -1;
	if (r->spec->sweep.per_tensor)
		svg_ranking(f, r);
	else
		svg_curve(f, r);
	return close_out(f, path);
}
