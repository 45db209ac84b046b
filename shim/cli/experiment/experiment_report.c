/* experiment_report.c: the verdicts, the resilience score and the report of `mlchaos
 * experiment`, as text for people and JSON for machines. Pure over struct mc_exp_result:
 * never runs, signals or reads anything. */
#include <signal.h>
#include <string.h>

#include "experiment.h"
#include "segments.h" /* mc_json_str */

/* The score: the share of hypotheses that held during chaos weighs WEIGHT_DURING, the share
 * that held again after it (recovery) WEIGHT_AFTER. README.md states the formula. */
#define WEIGHT_DURING 70
#define WEIGHT_AFTER  30
#define EPSILON       1e-9 /* the client prints rates with 6 decimals, ms with 3 */

enum mc_exp_verdict mc_exp_check(const struct mc_exp_hyp *h, const struct mc_exp_load *l)
{
	if (!l->ran)
		return MC_EXP_NA;
	if (!l->known[h->metric])
		return MC_EXP_FAILED; /* no answer to measure: nothing held */
	double v = l->value[h->metric], t = h->threshold;
	bool held = false;
	switch (h->op) {
	case MC_EXP_LE:
		held = v <= t + EPSILON;
		break;
	case MC_EXP_LT:
		held = v < t - EPSILON;
		break;
	case MC_EXP_GE:
		held = v >= t - EPSILON;
		break;
	case MC_EXP_GT:
		held = v > t + EPSILON;
		break;
	case MC_EXP_EQ:
		held = v - t <= EPSILON && t - v <= EPSILON;
		break;
	}
	return held ? MC_EXP_HELD : MC_EXP_FAILED;
}

int mc_exp_score(bool baseline_failed, double held_during, double held_after)
{
	if (baseline_failed)
		return 0;
	return (int)(WEIGHT_DURING * held_during + WEIGHT_AFTER * held_after + 0.5);
}

static double share(const struct mc_exp_result *r, enum mc_exp_phase p)
{
	return r->applicable[p] ? (double)r->held[p] / r->applicable[p] : 1.0;
}

/* With [sweep], a hypothesis holds during chaos when it held at every value. */
static enum mc_exp_verdict sweep_verdict(const struct mc_exp_result *r, unsigned i)
{
	for (unsigned v = 0; v < r->sweep->n; v++)
		if (r->sweep->verdict[v][i] != MC_EXP_HELD)
			return MC_EXP_FAILED;
	return MC_EXP_HELD;
}

/* Whether hypothesis i is judged in phase p: a sweep with gate = none is reported only. */
static bool judged(const struct mc_exp_result *r, unsigned i, int p)
{
	if (!(r->spec->hyps[i].phases & (1u << p)))
		return false;
	return !(p == MC_EXP_DURING && r->sweep && r->sweep->n && !r->spec->sweep.gate);
}

/* A phase whose target never got ready fails every hypothesis that applies to it. */
static enum mc_exp_verdict verdict_of(const struct mc_exp_result *r, unsigned i,
                                      enum mc_exp_phase p)
{
	if (p == MC_EXP_DURING && r->sweep && r->sweep->n)
		return sweep_verdict(r, i);
	if (r->down[p][0])
		return MC_EXP_FAILED;
	return mc_exp_check(&r->spec->hyps[i], &r->load[p]);
}

/* The exit status: the score's alone with --min-score; else HALTED and FAILED are 1. */
static int exit_code_of(const struct mc_exp_result *r, bool all_held)
{
	if (r->use_min_score)
		return r->score >= r->min_score ? MC_EXP_EXIT_OK : MC_EXP_EXIT_FAIL;
	return all_held && !r->halted ? MC_EXP_EXIT_OK : MC_EXP_EXIT_FAIL;
}

void mc_exp_judge(struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	bool all_held = true;

	memset(r->held, 0, sizeof(r->held));
	memset(r->applicable, 0, sizeof(r->applicable));
	mc_exp_sweep_judge(r);
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			enum mc_exp_verdict v = MC_EXP_NA;
			bool applies = judged(r, i, p);
			if (applies)
				v = verdict_of(r, i, (enum mc_exp_phase)p);
			r->verdict[i][p] = v;
			if (applies && (v == MC_EXP_NA || v == MC_EXP_FAILED))
				all_held = false;
			if (v != MC_EXP_NA) {
				r->applicable[p]++;
				r->held[p] += v == MC_EXP_HELD;
			}
		}
	}
	r->baseline_failed = r->held[MC_EXP_BEFORE] < r->applicable[MC_EXP_BEFORE];
	r->score =
	    mc_exp_score(r->baseline_failed, share(r, MC_EXP_DURING), share(r, MC_EXP_AFTER));
	/* A halted chaos phase measured the target without (all of) its faults: its figures
	 * cannot pass as resilience, unless the experiment says halts are expected. */
	r->halted = (r->halts.n || r->halts.more) && !spec->allow_halt;
	if (r->halted)
		r->score = 0;
	r->exit_code = exit_code_of(r, all_held);
}

const char *mc_exp_unmeasured_why(const struct mc_exp_result *r, unsigned i, enum mc_exp_phase p)
{
	const struct mc_exp_load *l = &r->load[p];
	enum mc_exp_metric m = r->spec->hyps[i].metric;

	if (r->down[p][0])
		return r->down[p];
	if (!l->ran || l->known[m])
		return NULL;
	/* figures of another kind than the answers' (phases compared, tokens, health): their
	 * own reason, even when no request got an answer */
	if (m >= MC_EXP_AGREEMENT && l->why[m])
		return l->why[m];
	if (l->ok == 0)
		return "no request got an answer";
	if (l->why[m]) /* the load client's own reason for this figure */
		return l->why[m];
	if (m == MC_EXP_ACCURACY)
		return "no answer could be checked against the data set";
	return "the load client gave no figure for it";
}

void mc_exp_hyp_claim(const struct mc_exp_hyp *h, char *buf, size_t cap)
{
	const char *at = strstr(h->text, " @");
	int n = at ? (int)(at - h->text) : (int)strlen(h->text);

	snprintf(buf, cap, "%.*s", n, h->text);
}

void mc_exp_halt_text(const struct mc_exp_halt *h, char *buf, size_t cap)
{
	char who[48] = "", when[64];

	if (h->pid)
		snprintf(who, sizeof(who), " in process %ld", h->pid);
	if (!h->timed)
		snprintf(when, sizeof(when), "by the end of chaos");
	else if (h->at_s < 0)
		snprintf(when, sizeof(when), "%.2f s before chaos began", -h->at_s);
	else
		snprintf(when, sizeof(when), "%.2f s into chaos", h->at_s);
	snprintf(buf, cap, "injection halted by %s%s, %s: %s",
	         strcmp(h->reason, "command") == 0 ? "mlchaos halt" : h->reason, who, when,
	         h->detail);
}

void mc_exp_figure(enum mc_exp_metric m, double v, char *buf, size_t cap)
{
	switch (mc_exp_metric_kind(m)) {
	case MC_EXP_KIND_RATE:
		snprintf(buf, cap, "%.2f%%", v * 100);
		break;
	case MC_EXP_KIND_LATENCY:
		snprintf(buf, cap, "%.3fms", v);
		break;
	case MC_EXP_KIND_COUNT:
		snprintf(buf, cap, "%.0f", v);
		break;
	case MC_EXP_KIND_RPS:
		snprintf(buf, cap, "%.1f/s", v);
		break;
	}
}

static void figure_of(const struct mc_exp_load *l, enum mc_exp_metric m, char *buf, size_t cap)
{
	if (!l->ran)
		snprintf(buf, cap, "-");
	else if (!l->known[m])
		snprintf(buf, cap, "n/a");
	else
		mc_exp_figure(m, l->value[m], buf, cap);
}

static const char *verdict_word(enum mc_exp_verdict v)
{
	return v == MC_EXP_HELD ? "held" : v == MC_EXP_FAILED ? "FAILED" : "";
}

static const char *phase_label(enum mc_exp_phase p)
{
	static const char *const label[MC_EXP_PHASES] = { "before chaos", "during chaos",
		                                          "after chaos" };
	return label[p];
}

/* ---- text ---- */

static void text_phases(FILE *out, const struct mc_exp_result *r)
{
	fprintf(out, "\n%-8s %-5s %8s %7s %6s %7s %8s %9s %10s %10s\n", "phase", "chaos",
	        "requests", "ok", "wrong", "errors", "success", "accuracy", "p50", "p99");
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const struct mc_exp_load *l = &r->load[p];
		char succ[24], acc[24], p50[24], p99[24];
		if (!l->ran) {
			fprintf(out, "%-8s %-5s %8s%s%s\n", mc_exp_phase_name(p),
			        p == MC_EXP_DURING ? "on" : "off", "skipped",
			        r->down[p][0] ? ": " : "", r->down[p]);
			continue;
		}
		figure_of(l, MC_EXP_SUCCESS_RATE, succ, sizeof(succ));
		figure_of(l, MC_EXP_ACCURACY, acc, sizeof(acc));
		figure_of(l, MC_EXP_P50, p50, sizeof(p50));
		figure_of(l, MC_EXP_P99, p99, sizeof(p99));
		fprintf(out, "%-8s %-5s %8llu %7llu %6llu %7llu %8s %9s %10s %10s\n",
		        mc_exp_phase_name(p), p == MC_EXP_DURING ? "on" : "off",
		        (unsigned long long)l->requests, (unsigned long long)l->ok,
		        (unsigned long long)l->wrong, (unsigned long long)l->errors, succ, acc, p50,
		        p99);
	}
}

/* The built-in client's own figures, when any phase has one. */
static void text_client_figures(FILE *out, const struct mc_exp_result *r)
{
	static const enum mc_exp_metric shown[] = { MC_EXP_AGREEMENT,   MC_EXP_CONTAMINATED,
		                                    MC_EXP_HEALTH_LIES, MC_EXP_TTFT_P50,
		                                    MC_EXP_TTFT_P99,    MC_EXP_ITL_P50,
		                                    MC_EXP_ITL_P99 };
	const size_t n = sizeof(shown) / sizeof(shown[0]);
	bool any = false;

	for (int p = 0; p < MC_EXP_PHASES; p++)
		for (size_t i = 0; i < n; i++)
			any = any || (r->load[p].ran && r->load[p].known[shown[i]]);
	if (!any)
		return;
	fprintf(out, "\n%-8s", "phase");
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %12s", mc_exp_metric_name(shown[i]));
	fputc('\n', out);
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		if (!r->load[p].ran)
			continue;
		fprintf(out, "%-8s", mc_exp_phase_name(p));
		for (size_t i = 0; i < n; i++) {
			char fig[24];
			figure_of(&r->load[p], shown[i], fig, sizeof(fig));
			fprintf(out, " %12s", fig);
		}
		fputc('\n', out);
	}
}

/* Why a hypothesis had no figure to judge: it did not hold, and this says why. */
static void text_hypotheses(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;

	fprintf(out, "\n%-28s %-19s %-19s %s\n", "hypothesis", "before", "during", "after");
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		fprintf(out, "%-28s", spec->hyps[i].text);
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			char fig[24], cell[48];
			figure_of(&r->load[p], spec->hyps[i].metric, fig, sizeof(fig));
			if (!(spec->hyps[i].phases & (1u << p)))
				snprintf(cell, sizeof(cell), "%s (n/a)", fig);
			else if (!r->load[p].ran && !r->down[p][0])
				snprintf(cell, sizeof(cell), "%s", fig);
			else
				snprintf(cell, sizeof(cell), "%s %s", fig,
				         verdict_word(r->verdict[i][p]));
			fprintf(out, p + 1 < MC_EXP_PHASES ? " %-19s" : " %s", cell);
		}
		fputc('\n', out);
	}
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			const char *why = mc_exp_unmeasured_why(r, i, (enum mc_exp_phase)p);
			if (why && r->verdict[i][p] == MC_EXP_FAILED)
				fprintf(out, "  %s %s: not measured: %s\n", spec->hyps[i].text,
				        phase_label((enum mc_exp_phase)p), why);
		}
	}
}

static void text_halts(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_halts *h = &r->halts;

	if (!h->n && !h->more)
		return;
	fprintf(out, "\nhalts during chaos%s:\n",
	        r->spec->allow_halt ? " (allowed: allow_halt = true)" : "");
	for (unsigned i = 0; i < h->n; i++) {
		char text[400];
		mc_exp_halt_text(&h->list[i], text, sizeof(text));
		fprintf(out, "  %s\n", text);
	}
	if (h->more)
		fprintf(out, "  and %u more\n", h->more);
}

static void text_faults(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_config *cfg = r->spec->chaos;
	const struct mc_exp_faults *f = &r->faults;

	fprintf(out, "\nfaults injected: %llu in %u process%s (from the %s)\n",
	        (unsigned long long)f->total, f->processes, f->processes == 1 ? "" : "es",
	        r->spec->target_url ? "replicas' counters" : "event logs");
	if (cfg->n_rules)
		fprintf(out, "  %-24s %-16s %9s\n", "rule", "hook:action", "injected");
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		char what[40];
		snprintf(what, sizeof(what), "%s:%s", mc_hook_name(cfg->rules[i].hook),
		         mc_action_name(cfg->rules[i].action));
		fprintf(out, "  %-24s %-16s %9llu", cfg->rules[i].name, what,
		        (unsigned long long)f->injected[i]);
		if (f->shadow[i])
			fprintf(out, "  (shadow: %llu would have been)",
			        (unsigned long long)f->shadow[i]);
		fputc('\n', out);
	}
	if (f->suppressed)
		fprintf(out, "  %llu decided but dropped by a halt\n",
		        (unsigned long long)f->suppressed);
	if (f->watchdog_halts)
		fprintf(out, "  the watchdog (halt_on_error_rate) halted injection %u time%s\n",
		        f->watchdog_halts, f->watchdog_halts == 1 ? "" : "s");
	if (f->torn)
		fprintf(out,
		        "  %u event log%s ended in a torn line (no newline: its process was killed "
		        "while writing it): that line skipped\n",
		        f->torn, f->torn == 1 ? "" : "s");
}

static void text_one_target(FILE *out, const struct mc_exp_target *t, const char *label)
{
	char status[64];

	mc_exp_status_text(t->status, status, sizeof(status));
	if (t->exited_in >= 0)
		fprintf(out, "%s: %s by itself %s", label, status, phase_label(t->exited_in));
	else if (t->stop_signal)
		fprintf(out, "%s: stopped with SIG%s, %s", label, sigabbrev_np(t->stop_signal),
		        status);
	else
		fprintf(out, "%s: %s", label, status);
	if (t->others_reaped)
		fprintf(out, "; %u process%s it left behind killed", t->others_reaped,
		        t->others_reaped == 1 ? "" : "es");
	fputc('\n', out);
}

static void text_target(FILE *out, const struct mc_exp_result *r)
{
	fputc('\n', out);
	if (r->spec->target_url) {
		fprintf(out, "fleet: chaos left halted in its %u replica%s\n", r->spec->n_fleet,
		        r->spec->n_fleet == 1 ? "" : "s");
		return;
	}
	if (!r->spec->restart) {
		text_one_target(out, &r->target, "target");
		return;
	}
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		char label[96];
		if (!r->started[p])
			continue;
		if (r->down[p][0])
			snprintf(label, sizeof(label), "target %s (pid %d, never ready)",
			         mc_exp_phase_name(p), (int)r->starts[p].pid);
		else
			snprintf(label, sizeof(label), "target %s (pid %d, ready in %.2f s)",
			         mc_exp_phase_name(p), (int)r->starts[p].pid, r->starts[p].ready_s);
		text_one_target(out, &r->starts[p], label);
	}
}

static void text_score(FILE *out, const struct mc_exp_result *r)
{
	if (r->halted) {
		fprintf(out, "resilience score: 0/100 (injection was halted during chaos: its "
		             "figures do not measure the faults)\n");
		return;
	}
	if (r->baseline_failed) {
		fprintf(out,
		        "resilience score: 0/100 (the steady state did not hold before chaos)\n");
		return;
	}
	if (r->sweep && r->sweep->n && !r->spec->sweep.gate)
		fputs("[sweep] gate = none: the sweep is reported, not judged: ", out);
	fprintf(out,
	        "resilience score: %d/100 = %d x %u/%u held during chaos + %d x %u/%u held "
	        "after\n",
	        r->score, WEIGHT_DURING, r->held[MC_EXP_DURING], r->applicable[MC_EXP_DURING],
	        WEIGHT_AFTER, r->held[MC_EXP_AFTER], r->applicable[MC_EXP_AFTER]);
}

static bool every_hypothesis_held(const struct mc_exp_result *r)
{
	for (unsigned i = 0; i < r->spec->n_hyps; i++)
		for (int p = 0; p < MC_EXP_PHASES; p++)
			if (judged(r, i, p) && r->verdict[i][p] != MC_EXP_HELD)
				return false;
	return true;
}

const char *mc_exp_result_word(const struct mc_exp_result *r)
{
	if (r->halted)
		return "halted";
	return every_hypothesis_held(r) ? "passed" : "failed";
}

static void verdict_halted(FILE *out, const struct mc_exp_result *r)
{
	char text[400];

	mc_exp_halt_text(&r->halts.list[0], text, sizeof(text));
	fprintf(out, "result: HALTED: %s", r->halts.n ? text : "injection was halted");
	if (r->halts.n + r->halts.more > 1)
		fprintf(out, " (and %u more halt%s)", r->halts.n + r->halts.more - 1,
		        r->halts.n + r->halts.more > 2 ? "s" : "");
	fputs("; set [experiment] allow_halt = true to judge such a run by its figures", out);
}

static void verdict_failed(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	const char *sep = "";

	fputs("result: FAILED: ", out);
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			if (r->verdict[i][p] != MC_EXP_FAILED)
				continue;
			const char *why = mc_exp_unmeasured_why(r, i, (enum mc_exp_phase)p);
			char fig[24];
			figure_of(&r->load[p], spec->hyps[i].metric, fig, sizeof(fig));
			if (why)
				fprintf(out, "%s%s could not be measured %s (%s)", sep,
				        spec->hyps[i].text, phase_label(p), why);
			else
				fprintf(out, "%s%s was %s %s", sep, spec->hyps[i].text, fig,
				        phase_label(p));
			sep = "; ";
		}
	}
	if (r->baseline_failed)
		fputs("; chaos was not injected", out);
}

void mc_exp_report_verdict_line(FILE *out, const struct mc_exp_result *r)
{
	const char *word = mc_exp_result_word(r);

	if (strcmp(word, "halted") == 0)
		verdict_halted(out, r);
	else if (strcmp(word, "failed") == 0)
		verdict_failed(out, r);
	else
		fputs("result: PASSED: every hypothesis held before, during and after chaos", out);
	fprintf(out, " (score %d/100", r->score);
	if (r->use_min_score)
		fprintf(out, "; --min-score %d: exit %d", r->min_score, r->exit_code);
	fputs(")\n", out);
}

void mc_exp_report_text(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;

	fprintf(out, "mlchaos experiment: %s\n", spec->name);
	if (spec->target_url) {
		fprintf(out, "  %s; target %s, running (chaos through %u control endpoint%s)\n",
		        spec->file, spec->target_url, spec->n_fleet, spec->n_fleet == 1 ? "" : "s");
	} else {
		const char *slash = strrchr(spec->argv[0], '/');
		fprintf(out, "  %s; target %s (pid %d), ready in %.2f s\n", spec->file,
		        slash ? slash + 1 : spec->argv[0], (int)r->target.pid, r->target.ready_s);
	}
	fprintf(out, "  load per phase: %llu requests, concurrency %llu, %s\n",
	        (unsigned long long)spec->requests, (unsigned long long)spec->concurrency, r->url);
	text_phases(out, r);
	text_client_figures(out, r);
	text_hypotheses(out, r);
	mc_exp_sweep_text(out, r);
	text_faults(out, r);
	text_halts(out, r);
	text_target(out, r);
	text_score(out, r);
	mc_exp_report_verdict_line(out, r);
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
	mc_json_str(out, s, strlen(s));
}

const char *mc_exp_metric_unit(enum mc_exp_metric m)
{
	switch (mc_exp_metric_kind(m)) {
	case MC_EXP_KIND_RATE:
		return "fraction";
	case MC_EXP_KIND_LATENCY:
		return "ms";
	case MC_EXP_KIND_COUNT:
		return "requests";
	case MC_EXP_KIND_RPS:
		return "req/s";
	}
	return "?";
}

static void json_target(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	const struct mc_exp_target *t = &r->target;
	char status[64];

	if (spec->target_url) {
		fputs("\"target\":{\"url\":", out);
		json_str(out, spec->target_url);
		fputs(",\"control\":[", out);
		for (unsigned i = 0; i < spec->n_fleet; i++) {
			fputs(i ? "," : "", out);
			json_str(out, spec->fleet_control[i]);
		}
		fputs("]}", out);
		return;
	}
	mc_exp_status_text(t->status, status, sizeof(status));
	fputs("\"target\":{\"command\":[", out);
	for (int i = 0; i < spec->argc; i++) {
		fputs(i ? "," : "", out);
		json_str(out, spec->argv[i]);
	}
	fprintf(out, "],\"pid\":%d,\"port\":%d,\"ready_s\":%.3f,\"status\":", (int)t->pid, t->port,
	        t->ready_s);
	json_str(out, status);
	fputs(",\"exited_during\":", out);
	if (t->exited_in >= 0)
		json_str(out, mc_exp_phase_name(t->exited_in));
	else
		fputs("null", out);
	fputs(",\"stopped_by\":", out);
	if (t->stop_signal)
		fprintf(out, "\"SIG%s\"", sigabbrev_np(t->stop_signal));
	else
		fputs("null", out);
	fprintf(out, ",\"others_killed\":%u}", t->others_reaped);
}

/* Every metric by its hypothesis name, null when not measured; "unmeasured" says why. */
static void json_figures(FILE *out, const struct mc_exp_load *l)
{
	const char *sep = "";

	if (!l->ran)
		return;
	fputs(",\"figures\":{", out);
	for (int m = 0; m < MC_EXP_METRICS; m++) {
		fprintf(out, "%s\"%s\":", m ? "," : "", mc_exp_metric_name(m));
		if (l->known[m])
			fprintf(out, "%.9g", l->value[m]);
		else
			fputs("null", out);
	}
	fputs("},\"unmeasured\":{", out);
	for (int m = 0; m < MC_EXP_METRICS; m++) {
		if (l->known[m])
			continue;
		fprintf(out, "%s\"%s\":", sep, mc_exp_metric_name(m));
		json_str(out, l->why[m] ? l->why[m] : "no figure");
		sep = ",";
	}
	fputc('}', out);
}

static void json_phases(FILE *out, const struct mc_exp_result *r)
{
	fputs(",\"phases\":{", out);
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const struct mc_exp_load *l = &r->load[p];
		fprintf(out, "%s\"%s\":{\"chaos\":%s,\"ran\":%s,\"load\":", p ? "," : "",
		        mc_exp_phase_name(p), p == MC_EXP_DURING ? "true" : "false",
		        l->ran ? "true" : "false");
		if (l->ran) {
			size_t n = strlen(l->json);
			while (n && (l->json[n - 1] == '\n' || l->json[n - 1] == ' '))
				n--;
			fwrite(l->json, 1, n, out);
		} else {
			fputs("null", out);
		}
		json_figures(out, l);
		fputc('}', out);
	}
	fputc('}', out);
}

/* held, failed; skipped when the phase did not run; n/a when it does not apply. */
static const char *json_verdict(enum mc_exp_verdict v, bool applies)
{
	if (v == MC_EXP_HELD)
		return "held";
	if (v == MC_EXP_FAILED)
		return "failed";
	return applies ? "skipped" : "n/a";
}

static void json_hypothesis(FILE *out, const struct mc_exp_result *r, unsigned i)
{
	const struct mc_exp_hyp *h = &r->spec->hyps[i];
	bool held = true;

	fputs("{\"text\":", out);
	json_str(out, h->text);
	fprintf(out,
	        ",\"metric\":\"%s\",\"op\":\"%s\",\"threshold\":%.9g,\"unit\":\"%s\",\"line\":%d,"
	        "\"phases\":{",
	        mc_exp_metric_name(h->metric), mc_exp_op_name(h->op), h->threshold,
	        mc_exp_metric_unit(h->metric), h->line);
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const struct mc_exp_load *l = &r->load[p];
		enum mc_exp_verdict v = r->verdict[i][p];
		bool applies = h->phases & (1u << p);
		fprintf(out, "%s\"%s\":{\"value\":", p ? "," : "", mc_exp_phase_name(p));
		if (l->ran && l->known[h->metric])
			fprintf(out, "%.9g", l->value[h->metric]);
		else
			fputs("null", out);
		/* a sweep with gate = none: during is reported, not judged ("n/a") */
		fprintf(out, ",\"applies\":%s,\"verdict\":\"%s\"", applies ? "true" : "false",
		        json_verdict(v, judged(r, i, p)));
		const char *why = mc_exp_unmeasured_why(r, i, (enum mc_exp_phase)p);
		if (why && applies) {
			fputs(",\"why\":", out);
			json_str(out, why);
		}
		fputc('}', out);
		if (judged(r, i, p) && v != MC_EXP_HELD)
			held = false;
	}
	fprintf(out, "},\"held\":%s}", held ? "true" : "false");
}

static void json_faults(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_config *cfg = r->spec->chaos;
	const struct mc_exp_faults *f = &r->faults;

	fprintf(out,
	        ",\"faults\":{\"total\":%llu,\"processes\":%u,\"suppressed\":%llu,"
	        "\"watchdog_halts\":%u,\"halted_processes\":%d,\"torn_lines\":%u,\"rules\":[",
	        (unsigned long long)f->total, f->processes, (unsigned long long)f->suppressed,
	        f->watchdog_halts, r->halted_processes, f->torn);
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, cfg->rules[i].name);
		fprintf(out,
		        ",\"hook\":\"%s\",\"action\":\"%s\",\"injected\":%llu,\"shadow\":%llu}",
		        mc_hook_name(cfg->rules[i].hook), mc_action_name(cfg->rules[i].action),
		        (unsigned long long)f->injected[i], (unsigned long long)f->shadow[i]);
	}
	fputs("]}", out);
}

static void json_halts(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_halts *h = &r->halts;

	fprintf(out, ",\"halted\":%s,\"allow_halt\":%s,\"halts\":[", r->halted ? "true" : "false",
	        r->spec->allow_halt ? "true" : "false");
	for (unsigned i = 0; i < h->n; i++) {
		const struct mc_exp_halt *one = &h->list[i];
		char text[400];
		fprintf(out, "%s{\"reason\":", i ? "," : "");
		json_str(out, one->reason);
		fprintf(out, ",\"pid\":%ld,\"at_s\":", one->pid);
		if (one->timed)
			fprintf(out, "%.3f", one->at_s);
		else
			fputs("null", out);
		fputs(",\"detail\":", out);
		json_str(out, one->detail);
		mc_exp_halt_text(one, text, sizeof(text));
		fputs(",\"text\":", out);
		json_str(out, text);
		fputc('}', out);
	}
	fprintf(out, "],\"halts_not_listed\":%u", h->more);
}

static void json_starts(FILE *out, const struct mc_exp_result *r)
{
	fprintf(out, ",\"restart\":%s", r->spec->restart ? "true" : "false");
	if (!r->spec->restart)
		return;
	fputs(",\"starts\":{", out);
	const char *sep = "";
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const struct mc_exp_target *t = &r->starts[p];
		char status[64];
		if (!r->started[p] && !r->down[p][0])
			continue;
		mc_exp_status_text(t->status, status, sizeof(status));
		fprintf(out,
		        "%s\"%s\":{\"pid\":%d,\"port\":%d,\"ready\":%s,\"ready_s\":%.3f,"
		        "\"status\":",
		        sep, mc_exp_phase_name(p), (int)t->pid, t->port,
		        r->down[p][0] ? "false" : "true", t->ready_s);
		json_str(out, status);
		fputs(",\"stopped_by\":", out);
		if (t->stop_signal)
			fprintf(out, "\"SIG%s\"", sigabbrev_np(t->stop_signal));
		else
			fputs("null", out);
		fputs(",\"why\":", out);
		if (r->down[p][0])
			json_str(out, r->down[p]);
		else
			fputs("null", out);
		fputc('}', out);
		sep = ",";
	}
	fputc('}', out);
}

void mc_exp_report_json(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;

	fputs("{\"experiment\":", out);
	json_str(out, spec->name);
	fputs(",\"file\":", out);
	json_str(out, spec->file);
	fprintf(out, ",\"result\":\"%s\",\"exit\":%d,\"score\":%d,\"baseline_failed\":%s,",
	        mc_exp_result_word(r), r->exit_code, r->score,
	        r->baseline_failed ? "true" : "false");
	if (r->use_min_score)
		fprintf(out, "\"min_score\":%d,", r->min_score);
	else
		fputs("\"min_score\":null,", out);
	fprintf(out,
	        "\"score_formula\":\"%d x (held during chaos / applicable) + %d x (held after "
	        "/ applicable); 0 when the steady state failed before chaos or injection was "
	        "halted (without allow_halt)\",",
	        WEIGHT_DURING, WEIGHT_AFTER);
	fputs("\"url\":", out);
	json_str(out, r->url);
	fprintf(out, ",\"requests_per_phase\":%llu,\"concurrency\":%llu,",
	        (unsigned long long)spec->requests, (unsigned long long)spec->concurrency);
	json_target(out, r);
	json_phases(out, r);
	fputs(",\"hypotheses\":[", out);
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		fputs(i ? "," : "", out);
		json_hypothesis(out, r, i);
	}
	fputc(']', out);
	mc_exp_sweep_json(out, r);
	json_faults(out, r);
	json_halts(out, r);
	json_starts(out, r);
	fputs(",\"run_dir\":", out);
	if (r->run_dir)
		json_str(out, r->run_dir);
	else
		fputs("null", out);
	fputs("}\n", out);
}
