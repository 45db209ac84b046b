/* experiment_fleet.c: an experiment against a target already running ([experiment] url): its
 * chaos halted and resumed through the replicas' control endpoints ([fleet] control, the
 * token of token_file; fleet.c), and its faults counted from the same endpoints' /metrics:
 * the counters after the chaos load less those before it, per rule name. Nothing here starts,
 * signals or stops a process. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "experiment.h"

#define CONTROL_TIMEOUT_S 10.0
#define METRICS_MAX_BYTES (16u << 20)

static int fleet_of(const struct mc_exp_spec *spec, struct mc_fleet *f)
{
	*f = (struct mc_fleet){ 0 };
	for (unsigned i = 0; i < spec->n_fleet; i++)
		if (mc_fleet_add(f, spec->fleet_control[i]) < 0)
			goto fail;
	if (mc_fleet_read_token("experiment", spec->fleet_token_file, &f->token) < 0)
		goto fail;
	return 0;
fail:
	mc_fleet_free(f);
	return -EINVAL;
}

int mc_exp_fleet_control(const struct mc_exp_spec *spec, const char *action, bool verbose)
{
	struct mc_fleet f;
	char *text = NULL;
	size_t len = 0;
	char query[32];

	if (fleet_of(spec, &f) < 0)
		return -EINVAL;
	FILE *out = open_memstream(&text, &len);
	if (!out) {
		mc_fleet_free(&f);
		return -ENOMEM;
	}
	snprintf(query, sizeof(query), "timeout=%g", CONTROL_TIMEOUT_S);
	int failed = mc_fleet_post(&f, action, query, CONTROL_TIMEOUT_S, out, NULL);
	fclose(out);
	if (failed != 0 || verbose)
		fprintf(stderr, "%s", text ? text : "");
	if (failed > 0)
		fprintf(stderr,
		        "mlchaos experiment: %d of %zu replica(s) did not confirm the %s (above)\n",
		        failed, f.n, action);
	free(text);
	mc_fleet_free(&f);
	return failed == 0 ? 0 : failed > 0 ? -EREMOTEIO : -ENOMEM;
}

/* ---- the counters ------------------------------------------------------------------------ */

static size_t keep(char *p, size_t size, size_t n, void *user)
{
	FILE *out = user;
	return ftell(out) + (long)(size * n) > (long)METRICS_MAX_BYTES ? 0
	                                                               : fwrite(p, size, n, out);
}

/* GET url/metrics; the body (malloc'd) or NULL after saying why. */
static char *scrape(const char *base)
{
	char url[MC_EXP_URL_MAX + 16], why[CURL_ERROR_SIZE] = "";
	char *text = NULL;
	size_t len = 0;
	long code = 0;
	CURL *e = curl_easy_init();
	FILE *out = open_memstream(&text, &len);

	snprintf(url, sizeof(url), "%s/metrics", base);
	if (e && out) {
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, why);
		if (curl_easy_perform(e) == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	}
	if (out)
		fclose(out);
	if (e)
		curl_easy_cleanup(e);
	if (code != 200) {
		fprintf(stderr, "mlchaos experiment: cannot read %s: %s\n", url,
		        why[0] ? why
		        : code ? "not HTTP 200"
		               : "out of memory");
		free(text);
		return NULL;
	}
	return text;
}

/* The value of label name in the label set that starts after '{' (unescaped into buf). */
static bool label(const char *labels, const char *end, const char *name, char *buf, size_t cap)
{
	char key[40];
	snprintf(key, sizeof(key), "%s=\"", name);
	const char *v = strstr(labels, key);
	if (!v || v > end)
		return false;
	v += strlen(key);
	size_t n = 0;
	for (; v < end && *v != '"' && n + 1 < cap; v++) {
		bool escaped = *v == '\\' && v + 1 < end;
		if (escaped)
			v++;
		buf[n++] = escaped && *v == 'n' ? '\n' : *v;
	}
	buf[n] = '\0';
	return v < end && *v == '"';
}

static struct mc_exp_fleet_rule *rule_slot(struct mc_exp_fleet_counts *c, const char *name)
{
	for (unsigned i = 0; i < c->n_rules; i++)
		if (strcmp(c->rules[i].name, name) == 0)
			return &c->rules[i];
	if (c->n_rules == MC_MAX_RULES)
		return NULL;
	struct mc_exp_fleet_rule *r = &c->rules[c->n_rules++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

static struct mc_exp_fleet_proc *proc_slot(struct mc_exp_fleet_counts *c, unsigned replica,
                                           long pid)
{
	for (unsigned i = 0; i < c->n_procs; i++)
		if (c->procs[i].replica == replica && c->procs[i].pid == pid)
			return &c->procs[i];
	if (c->n_procs == MC_EXP_FLEET_PROCS)
		return NULL;
	struct mc_exp_fleet_proc *p = &c->procs[c->n_procs++];
	*p = (struct mc_exp_fleet_proc){ .replica = replica, .pid = pid };
	return p;
}

/* One sample line of the exposition. */
static void sample(struct mc_exp_fleet_counts *c, unsigned replica, const char *line,
                   const char *eol)
{
	const char *open = memchr(line, '{', (size_t)(eol - line));
	const char *close = open ? memchr(open, '}', (size_t)(eol - open)) : NULL;
	char name[64], rule[MC_EXP_TEXT_MAX], pid_text[24], reason[24];

	if (!open || !close || (size_t)(open - line) >= sizeof(name))
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(open - line), line);
	double v = strtod(close + 1, NULL);
	uint64_t n = v > 0 ? (uint64_t)v : 0;
	long pid = label(open, close, "pid", pid_text, sizeof(pid_text)) ? atol(pid_text) : 0;
	struct mc_exp_fleet_proc *p = proc_slot(c, replica, pid);
	bool injected = strcmp(name, "mlchaos_faults_injected_total") == 0;

	if ((injected || strcmp(name, "mlchaos_would_inject_total") == 0) &&
	    label(open, close, "rule", rule, sizeof(rule))) {
		struct mc_exp_fleet_rule *r = rule_slot(c, rule);
		if (r)
			*(injected ? &r->injected : &r->shadow) += n;
		if (injected && p)
			p->injected += n;
	} else if (strcmp(name, "mlchaos_faults_suppressed_total") == 0) {
		c->suppressed += n;
	} else if (strcmp(name, "mlchaos_watchdog_trips_total") == 0 && p) {
		p->watchdog_trips = n;
	} else if (strcmp(name, "mlchaos_halted") == 0 && p &&
	           label(open, close, "reason", reason, sizeof(reason)) &&
	           strcmp(reason, "watchdog") == 0) {
		p->watchdog_halted = n != 0;
	}
}

int mc_exp_fleet_counters(const struct mc_exp_spec *spec, struct mc_exp_fleet_counts *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < spec->n_fleet; i++) {
		char *text = scrape(spec->fleet_control[i]);
		if (!text)
			return -EREMOTEIO;
		for (const char *l = text; *l;) {
			const char *eol = l + strcspn(l, "\n");
			if (*l != '#')
				sample(ret, i, l, eol);
			l = *eol ? eol + 1 : eol;
		}
		free(text);
	}
	return 0;
}

static const struct mc_exp_fleet_proc *proc_in(const struct mc_exp_fleet_counts *c,
                                               const struct mc_exp_fleet_proc *like)
{
	for (unsigned i = 0; i < c->n_procs; i++)
		if (c->procs[i].replica == like->replica && c->procs[i].pid == like->pid)
			return &c->procs[i];
	return NULL;
}

void mc_exp_fleet_faults(const struct mc_exp_spec *spec, const struct mc_exp_fleet_counts *before,
                         const struct mc_exp_fleet_counts *after, struct mc_exp_faults *ret,
                         struct mc_exp_halts *halts)
{
	const struct mc_config *cfg = spec->chaos;

	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < after->n_rules; i++) {
		const struct mc_exp_fleet_rule *a = &after->rules[i];
		uint64_t inj0 = 0, sh0 = 0;
		for (unsigned j = 0; j < before->n_rules; j++)
			if (strcmp(before->rules[j].name, a->name) == 0) {
				inj0 = before->rules[j].injected;
				sh0 = before->rules[j].shadow;
			}
		uint64_t inj = a->injected > inj0 ? a->injected - inj0 : 0;
		ret->total += inj;
		for (unsigned k = 0; k < cfg->n_rules; k++) {
			if (strcmp(cfg->rules[k].name, a->name) != 0)
				continue;
			ret->injected[k] = inj;
			ret->shadow[k] = a->shadow > sh0 ? a->shadow - sh0 : 0;
		}
	}
	ret->suppressed =
	    after->suppressed > before->suppressed ? after->suppressed - before->suppressed : 0;
	for (unsigned i = 0; i < after->n_procs; i++) {
		const struct mc_exp_fleet_proc *a = &after->procs[i], *b = proc_in(before, a);
		if (a->injected > (b ? b->injected : 0))
			ret->processes++;
		if (a->watchdog_trips > (b ? b->watchdog_trips : 0))
			ret->watchdog_halts +=
			    (unsigned)(a->watchdog_trips - (b ? b->watchdog_trips : 0));
		if (a->watchdog_halted) {
			struct mc_exp_halt h = { .reason = "watchdog", .pid = a->pid };
			snprintf(h.detail, sizeof(h.detail), "replica %s",
			         spec->fleet_control[a->replica]);
			mc_exp_halts_add(halts, &h);
		}
	}
}
