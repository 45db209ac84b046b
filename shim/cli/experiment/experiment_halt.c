/* experiment_halt.c: the halts of injection that the experiment did not make itself, read from
 * the run's event logs ({"event":"halt"} lines, with their monotonic time). Reads only; the
 * segments' side of the same question is in experiment_chaos.c, which owns the segments. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment.h"
#include "json.h"

void mc_exp_halts_add(struct mc_exp_halts *h, const struct mc_exp_halt *halt)
{
	for (unsigned i = 0; i < h->n; i++) {
		struct mc_exp_halt *old = &h->list[i];
		if (old->pid != halt->pid || strcmp(old->reason, halt->reason) != 0)
			continue;
		/* the same halt seen twice (its log line, then its bit): the timed one stays */
		if (!old->timed && halt->timed)
			*old = *halt;
		return;
	}
	if (h->n == MC_EXP_MAX_HALTS) {
		h->more++;
		return;
	}
	h->list[h->n++] = *halt;
}

/* The words of a logged halt; its reason as a static string (the line is freed after). */
static bool describe(const json_t *e, struct mc_exp_halt *ret)
{
	const char *reason = mc_json_get_str(e, "reason");
	uint64_t errors = 0, window = 0, rate_ppm = 0, limit = 0;

	if (!reason)
		return false;
	if (strcmp(reason, "watchdog") == 0) {
		mc_json_get_u64(e, "errors", &errors);
		mc_json_get_u64(e, "window", &window);
		mc_json_get_u64(e, "rate_ppm", &rate_ppm);
		ret->reason = "watchdog";
		snprintf(ret->detail, sizeof(ret->detail),
		         "%llu of the last %llu responses were errors, over halt_on_error_rate = "
		         "%.4g%%",
		         (unsigned long long)errors, (unsigned long long)window,
		         (double)rate_ppm / 10000.0);
		return true;
	}
	if (strcmp(reason, "max_faults") == 0) {
		mc_json_get_u64(e, "limit", &limit);
		ret->reason = "max_faults";
		snprintf(ret->detail, sizeof(ret->detail), "max_faults = %llu faults were injected",
		         (unsigned long long)limit);
		return true;
	}
	return false; /* a reason this command does not know yet: not counted against the run */
}

static void halt_line(const char *line, size_t len, uint64_t on_ns, uint64_t until_ns,
                      struct mc_exp_halts *h)
{
	json_t *e;
	const char *event;
	uint64_t mono_ns, pid = 0;
	struct mc_exp_halt halt = { .timed = true };

	if (mc_json_parse(line, len, &e, NULL, 0, NULL) < 0)
		return;
	event = mc_json_get_str(e, "event");
	if (event && strcmp(event, "halt") == 0 && mc_json_get_u64(e, "mono_ns", &mono_ns) &&
	    mono_ns <= until_ns && describe(e, &halt)) {
		mc_json_get_u64(e, "pid", &pid);
		halt.pid = (long)pid;
		halt.at_s = ((double)mono_ns - (double)on_ns) / 1e9;
		mc_exp_halts_add(h, &halt);
	}
	json_decref(e);
}

struct halt_search {
	uint64_t on_ns, until_ns;
	struct mc_exp_halts *h;
};

static void halt_search_line(void *user, const char *line, size_t len)
{
	/* a halt line is short: looking for its word first skips parsing every fault line */
	static const char word[] = "\"event\":\"halt\"";
	struct halt_search *hs = user;

	if (memmem(line, len, word, sizeof(word) - 1))
		halt_line(line, len, hs->on_ns, hs->until_ns, hs->h);
}

int mc_exp_halts_from_logs(const char *run_dir, const char *prefix, uint64_t on_mono_ns,
                           uint64_t until_mono_ns, struct mc_exp_halts *h)
{
	struct halt_search hs = { .on_ns = on_mono_ns, .until_ns = until_mono_ns, .h = h };

	return mc_exp_each_log_line(run_dir, prefix, halt_search_line, &hs, NULL);
}
