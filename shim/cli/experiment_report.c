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

void mc_exp_judge(struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	bool all_held = true;

	memset(r->held, 0, sizeof(r->held));
	memset(r->applicable, 0, sizeof(r->applicable));
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			enum mc_exp_verdict v = MC_EXP_NA;
			bool applies = spec->hyps[i].phases & (1u << p);
			if (applies)
				v = mc_exp_check(&spec->hyps[i], &r->load[p]);
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
	r->exit_code = all_held ? MC_EXP_EXIT_OK : MC_EXP_EXIT_FAIL;
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
			fprintf(out, "%-8s %-5s %8s\n", mc_exp_phase_name(p),
			        p == MC_EXP_DURING ? "on" : "off", "skipped");
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
			else if (!r->load[p].ran)
				snprintf(cell, sizeof(cell), "%s", fig);
			else
				snprintf(cell, sizeof(cell), "%s %s", fig,
				         verdict_word(r->verdict[i][p]));
			fprintf(out, p + 1 < MC_EXP_PHASES ? " %-19s" : " %s", cell);
		}
		fputc('\n', out);
	}
}

static void text_faults(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_config *cfg = r->spec->chaos;
	const struct mc_exp_faults *f = &r->faults;

	fprintf(out, "\nfaults injected: %llu in %u process%s (from the event logs)\n",
	        (unsigned long long)f->total, f->processes, f->processes == 1 ? "" : "es");
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

static void text_target(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_target *t = &r->target;
	char status[64];

	mc_exp_status_text(t->status, status, sizeof(status));
	if (t->exited_in >= 0)
		fprintf(out, "\ntarget: %s by itself %s", status, phase_label(t->exited_in));
	else if (t->stop_signal)
		fprintf(out, "\ntarget: stopped with SIG%s, %s", sigabbrev_np(t->stop_signal),
		        status);
	else
		fprintf(out, "\ntarget: %s", status);
	if (t->others_reaped)
		fprintf(out, "; %u process%s it left behind killed", t->others_reaped,
		        t->others_reaped == 1 ? "" : "es");
	fputc('\n', out);
}

static void text_score(FILE *out, const struct mc_exp_result *r)
{
	if (r->baseline_failed) {
		fprintf(out,
		        "resilience score: 0/100 (the steady state did not hold before chaos)\n");
		return;
	}
	fprintf(out,
	        "resilience score: %d/100 = %d x %u/%u held during chaos + %d x %u/%u held "
	        "after\n",
	        r->score, WEIGHT_DURING, r->held[MC_EXP_DURING], r->applicable[MC_EXP_DURING],
	        WEIGHT_AFTER, r->held[MC_EXP_AFTER], r->applicable[MC_EXP_AFTER]);
}

void mc_exp_report_verdict_line(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;
	const char *sep = "";

	if (r->exit_code == MC_EXP_EXIT_OK) {
		fprintf(out,
		        "result: PASSED: every hypothesis held before, during and after chaos "
		        "(score %d/100)\n",
		        r->score);
		return;
	}
	fputs("result: FAILED: ", out);
	for (unsigned i = 0; i < spec->n_hyps; i++) {
		for (int p = 0; p < MC_EXP_PHASES; p++) {
			if (r->verdict[i][p] != MC_EXP_FAILED)
				continue;
			char fig[24];
			figure_of(&r->load[p], spec->hyps[i].metric, fig, sizeof(fig));
			fprintf(out, "%s%s was %s %s", sep, spec->hyps[i].text, fig,
			        phase_label(p));
			sep = "; ";
		}
	}
	if (r->baseline_failed)
		fputs("; chaos was not injected", out);
	fprintf(out, " (score %d/100)\n", r->score);
}

void mc_exp_report_text(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;

	fprintf(out, "mlchaos experiment: %s\n", spec->name);
	const char *slash = strrchr(spec->argv[0], '/');
	fprintf(out, "  %s; target %s (pid %d), ready in %.2f s\n", spec->file,
	        slash ? slash + 1 : spec->argv[0], (int)r->target.pid, r->target.ready_s);
	fprintf(out, "  load per phase: %llu requests, concurrency %llu, %s\n",
	        (unsigned long long)spec->requests, (unsigned long long)spec->concurrency, r->url);
	text_phases(out, r);
	text_hypotheses(out, r);
	text_faults(out, r);
	text_target(out, r);
	text_score(out, r);
	mc_exp_report_verdict_line(out, r);
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
	mc_json_str(out, s, strlen(s));
}

static const char *unit_name(enum mc_exp_metric m)
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
	        unit_name(h->metric), h->line);
	for (int p = 0; p < MC_EXP_PHASES; p++) {
		const struct mc_exp_load *l = &r->load[p];
		enum mc_exp_verdict v = r->verdict[i][p];
		bool applies = h->phases & (1u << p);
		fprintf(out, "%s\"%s\":{\"value\":", p ? "," : "", mc_exp_phase_name(p));
		if (l->ran && l->known[h->metric])
			fprintf(out, "%.9g", l->value[h->metric]);
		else
			fputs("null", out);
		fprintf(out, ",\"applies\":%s,\"verdict\":\"%s\"}", applies ? "true" : "false",
		        json_verdict(v, applies));
		if (applies && v != MC_EXP_HELD)
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

void mc_exp_report_json(FILE *out, const struct mc_exp_result *r)
{
	const struct mc_exp_spec *spec = r->spec;

	fputs("{\"experiment\":", out);
	json_str(out, spec->name);
	fputs(",\"file\":", out);
	json_str(out, spec->file);
	fprintf(out, ",\"result\":\"%s\",\"exit\":%d,\"score\":%d,\"baseline_failed\":%s,",
	        r->exit_code == MC_EXP_EXIT_OK ? "passed" : "failed", r->exit_code, r->score,
	        r->baseline_failed ? "true" : "false");
	fprintf(out,
	        "\"score_formula\":\"%d x (held during chaos / applicable) + %d x (held after "
	        "/ applicable); 0 when the steady state failed before chaos\",",
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
	json_faults(out, r);
	fputs(",\"run_dir\":", out);
	if (r->run_dir)
		json_str(out, r->run_dir);
	else
		fputs("null", out);
	fputs("}\n", out);
}
