/* experiment_junit.c: the result of `mlchaos experiment` as JUnit XML for CI systems: one
 * testsuite per experiment, one testcase per hypothesis and phase, a halt as an error.
 * Everything written is XML-escaped; the file appears whole (temporary file, then rename) and
 * is never written through a link. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment.h"

/* XML 1.0 allows no control character but tab, newline and carriage return, escaped or not:
 * the others become '?'. */
void mc_exp_xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		case '\t':
		case '\n':
		case '\r':
			fputc(c, out);
			break;
		default:
			fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
		}
	}
}

static void xml_attr(FILE *out, const char *name, const char *value)
{
	fprintf(out, " %s=\"", name);
	mc_exp_xml_text(out, value);
	fputc('"', out);
}

/* ---- what each testcase says ---- */

struct counts {
	unsigned tests, failures, errors, skipped;
};

static const char *const phase_label[MC_EXP_PHASES] = { "before chaos", "during chaos",
	                                                "after chaos" };

static bool swept(const struct mc_exp_result *r)
{
	return r->sweep && r->sweep->n;
}

/* With [sweep], one testcase per hypothesis and value in place of its @during one; with
 * gate = none they report the figure and never fail. */
static void count_sweep_cases(const struct mc_exp_result *r, unsigned i, struct counts *c)
{
	for (unsigned v = 0; v < r->sweep->n; v++) {
		c->tests++;
		if (r->spec->sweep.gate && r->sweep->verdict[v][i] == MC_EXP_FAILED)
			c->failures++;
	}
}

static void count_cases(const struct mc_exp_result *r, struct counts *c)
{
	const struct mc_exp_spec *spec = r->spec;

	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			if (!(spec->hyps[i].phases & (1u << p)))
				continue;
			if (p == MC_EXP_DURING && swept(r)) {
				count_sweep_cases(r, i, c);
				continue;
			}
			c->tests++;
			if (r->verdict[i][p] == MC_EXP_FAILED)
				c->failures++;
			else if (r->verdict[i][p] == MC_EXP_NA)
				c->skipped++;
		}
	}
	c->tests++; /* the halt testcase */
	if (r->halted)
		c->errors++;
	else if (!r->load[MC_EXP_DURING].ran && !r->down[MC_EXP_DURING][0])
		c->skipped++;
}

static void hypothesis_failure(FILE *out, const struct mc_exp_result *r, unsigned i,
                               enum mc_exp_phase p)
{
	const struct mc_exp_hyp *h = &r->spec->hyps[i];
	const char *why = mc_exp_unmeasured_why(r, i, p);
	char claim[MC_EXP_TEXT_MAX], fig[32], thr[32], msg[512];

	mc_exp_hyp_claim(h, claim, sizeof(claim));
	mc_exp_figure(h->metric, h->threshold, thr, sizeof(thr));
	if (why) {
		snprintf(msg, sizeof(msg), "%s could not be measured %s: %s", claim, phase_label[p],
		         why);
		snprintf(fig, sizeof(fig), "n/a");
	} else {
		mc_exp_figure(h->metric, r->load[p].value[h->metric], fig, sizeof(fig));
		snprintf(msg, sizeof(msg), "%s was %s %s", claim, fig, phase_label[p]);
	}
	fputs("      <failure", out);
	xml_attr(out, "message", msg);
	xml_attr(out, "type", why ? "unmeasured" : "hypothesis");
	fputc('>', out);
	fprintf(out, "metric: %s\nfigure: ", mc_exp_metric_name(h->metric));
	mc_exp_xml_text(out, fig);
	fputs("\nthreshold: ", out);
	mc_exp_xml_text(out, mc_exp_op_name(h->op));
	fprintf(out, " %s\n", thr);
	if (why) {
		fputs("why: ", out);
		mc_exp_xml_text(out, why);
		fputc('\n', out);
	}
	fputs("</failure>\n", out);
}

/* "agreement >= 90% @during count=64": hypothesis i at value v of the sweep. */
static void sweep_case(FILE *out, const struct mc_exp_result *r, unsigned i, unsigned v)
{
	const struct mc_exp_sweep *sw = &r->spec->sweep;
	const struct mc_exp_hyp *h = &r->spec->hyps[i];
	const struct mc_exp_load *l = &r->sweep->load[v];
	char claim[MC_EXP_TEXT_MAX], name[MC_EXP_TEXT_MAX + 600], fig[32], msg[1200];

	mc_exp_hyp_claim(h, claim, sizeof(claim));
	snprintf(name, sizeof(name), "%s @during %s=%s", claim, sw->key, sw->labels[v]);
	if (r->sweep->down[v][0])
		snprintf(fig, sizeof(fig), "n/a");
	else if (l->ran && l->known[h->metric])
		mc_exp_figure(h->metric, l->value[h->metric], fig, sizeof(fig));
	else
		snprintf(fig, sizeof(fig), "n/a");
	snprintf(msg, sizeof(msg), "%s was %s during chaos at %s = %s%s%s", claim, fig, sw->key,
	         sw->labels[v], r->sweep->down[v][0] ? ": " : "", r->sweep->down[v]);
	fputs("    <testcase", out);
	xml_attr(out, "name", name);
	xml_attr(out, "classname", r->spec->name);
	fputs(" time=\"0\">\n", out);
	if (sw->gate && r->sweep->verdict[v][i] == MC_EXP_FAILED) {
		fputs("      <failure", out);
		xml_attr(out, "message", msg);
		xml_attr(out, "type", "hypothesis");
		fputs("/>\n", out);
	} else {
		fputs("      <system-out>", out);
		mc_exp_xml_text(out, msg);
		fputs("</system-out>\n", out);
	}
	fputs("    </testcase>\n", out);
}

static void hypothesis_case(FILE *out, const struct mc_exp_result *r, unsigned i,
                            enum mc_exp_phase p)
{
	if (p == MC_EXP_DURING && swept(r)) {
		for (unsigned v = 0; v < r->sweep->n; v++)
			sweep_case(out, r, i, v);
		return;
	}
	char claim[MC_EXP_TEXT_MAX], name[MC_EXP_TEXT_MAX + 16];

	mc_exp_hyp_claim(&r->spec->hyps[i], claim, sizeof(claim));
	snprintf(name, sizeof(name), "%s @%s", claim, mc_exp_phase_name(p));
	fputs("    <testcase", out);
	xml_attr(out, "name", name);
	xml_attr(out, "classname", r->spec->name);
	fputs(" time=\"0\"", out);
	switch (r->verdict[i][p]) {
	case MC_EXP_HELD:
		fputs("/>\n", out);
		return;
	case MC_EXP_FAILED:
		fputs(">\n", out);
		hypothesis_failure(out, r, i, p);
		break;
	case MC_EXP_NA:
		fputs(">\n      <skipped", out);
		xml_attr(out, "message",
		         r->baseline_failed ? "the steady state did not hold before chaos: "
		                              "chaos was not injected"
		                            : "the phase did not run");
		fputs("/>\n", out);
		break;
	}
	fputs("    </testcase>\n", out);
}

/* "chaos not halted @during": an error when a halt is the run's result. */
static void halt_case(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_halts *h = &r->halts;
	char text[400];

	fputs("    <testcase", out);
	xml_attr(out, "name", "chaos not halted @during");
	xml_attr(out, "classname", r->spec->name);
	fputs(" time=\"0\">\n", out);
	if (r->halted) {
		mc_exp_halt_text(&h->list[0], text, sizeof(text));
		fputs("      <error", out);
		xml_attr(out, "message", h->n ? text : "injection was halted during chaos");
		xml_attr(out, "type", "halted");
		fputc('>', out);
	} else if (!r->load[MC_EXP_DURING].ran && !r->down[MC_EXP_DURING][0]) {
		fputs("      <skipped", out);
		xml_attr(out, "message", "chaos was not injected");
		fputs("/>\n    </testcase>\n", out);
		return;
	} else if (h->n || h->more) {
		fputs("      <system-out>allowed (allow_halt = true):\n", out);
	}
	for (unsigned i = 0; i < h->n; i++) {
		mc_exp_halt_text(&h->list[i], text, sizeof(text));
		mc_exp_xml_text(out, text);
		fputc('\n', out);
	}
	if (h->more)
		fprintf(out, "and %u more\n", h->more);
	if (r->halted)
		fputs("</error>\n", out);
	else if (h->n || h->more)
		fputs("</system-out>\n", out);
	fputs("    </testcase>\n", out);
}

static void system_out(FILE *out, const struct mc_exp_result *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return;
	mc_exp_report_text(mem, r);
	if (fclose(mem) == 0 && text) {
		fputs("    <system-out>", out);
		mc_exp_xml_text(out, text);
		fputs("</system-out>\n", out);
	}
	free(text);
}

static void write_result(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	struct counts c;
	char score[16];

	count_cases(r, &c);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out,
	        "<testsuites name=\"mlchaos experiment\" tests=\"%u\" failures=\"%u\" "
	        "errors=\"%u\" skipped=\"%u\">\n",
	        c.tests, c.failures, c.errors, c.skipped);
	fputs("  <testsuite", out);
	xml_attr(out, "name", spec->name);
	fprintf(out, " tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\">\n", c.tests,
	        c.failures, c.errors, c.skipped);
	snprintf(score, sizeof(score), "%d", r->score);
	fputs("    <properties>\n      <property name=\"file\"", out);
	xml_attr(out, "value", spec->file);
	fputs("/>\n      <property name=\"result\"", out);
	xml_attr(out, "value", mc_exp_result_word(r));
	fputs("/>\n      <property name=\"score\"", out);
	xml_attr(out, "value", score);
	fputs("/>\n    </properties>\n", out);
	for (unsigned i = 0; i < spec->n_hyps; i++)
		for (int p = 0; p < MC_EXP_PHASES; p++)
			if (spec->hyps[i].phases & (1u << p))
				hypothesis_case(out, r, i, (enum mc_exp_phase)p);
	halt_case(out, r);
	system_out(out, r);
	fputs("  </testsuite>\n</testsuites>\n", out);
}

static void write_error(FILE *out, const char *name, const char *message)
{
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<testsuites name=\"mlchaos experiment\" tests=\"1\" failures=\"0\" errors=\"1\" "
	      "skipped=\"0\">\n  <testsuite",
	      out);
	xml_attr(out, "name", name);
	fputs(" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <testcase", out);
	xml_attr(out, "name", "the experiment ran");
	xml_attr(out, "classname", name);
	fputs(" time=\"0\">\n      <error", out);
	xml_attr(out, "message", message);
	xml_attr(out, "type", "could not run");
	fputs("/>\n    </testcase>\n  </testsuite>\n</testsuites>\n", out);
}

/* ---- the file ---- */

struct what {
	const struct mc_exp_result *r;
	const char *name, *message;
};

/* path must not be a link: rename() would replace the link, not write through it, but a
 * report that silently replaced a link the user made is a surprise too. */
static int refuse_link(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return -ELOOP;
	return 0;
}

static int write_file(const char *path, const struct what *w)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err = refuse_link(path);

	if (err < 0)
		return err;
	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.junit-XXXXXX", (int)(slash - path), path);
	else
		snprintf(tmp, sizeof(tmp), ".junit-XXXXXX");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	mode_t mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask); /* as a plain file the user creates, not mkstemp's 0600 */
	FILE *out = fdopen(fd, "w");
	if (!out) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	if (w->r)
		write_result(out, w->r);
	else
		write_error(out, w->name, w->message);
	if (ferror(out) | (fflush(out) != 0) | (fsync(fd) != 0))
		err = -EIO;
	if (fclose(out) != 0 && !err)
		err = -EIO;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int mc_exp_junit_write(const char *path, const struct mc_exp_result *r)
{
	struct what w = { .r = r };

	return write_file(path, &w);
}

int mc_exp_junit_write_error(const char *path, const char *name, const char *message)
{
	struct what w = { .name = name, .message = message };

	return write_file(path, &w);
}
