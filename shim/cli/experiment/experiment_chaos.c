/* experiment_chaos.c: chaos on and off (the run's halt file, and the control word of the
 * segments running the run's own config), and the faults counted from the run's event logs.
 * Never touches the segment of a process that runs another config. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiment.h"
#include "json.h"
#include "segments.h"

/* The library looks at its halt file at most every 100 ms (shim/segment.c): after removing it, a
 * little more than that guarantees every process has seen it gone at its next decision. */
#define HALT_FILE_SETTLE_NS 150000000ull
#define INFLIGHT_POLL_NS    1000000ull
#define MAX_PIDS            256

/* The segments of the processes whose config is config; the others are closed. */
static int run_segments(const char *config, struct mc_seg_list *list)
{
	int r = mc_seg_list_all(MC_SEG_WRITE, list);
	size_t k = 0, want = strlen(config);

	if (r < 0)
		return r;
	for (size_t i = 0; i < list->n; i++) {
		struct mc_seg *s = &list->segs[i];
		size_t n = (size_t)mc_seg_strlen(s->shm->config_path, sizeof(s->shm->config_path));
		if (n == want && memcmp(s->shm->config_path, config, n) == 0)
			list->segs[k++] = *s;
		else
			mc_seg_close(s);
	}
	list->n = k;
	return 0;
}

int mc_exp_chaos_resume(const char *halt_file, const char *config)
{
	struct mc_seg_list list;
	int n = 0;

	if (unlink(halt_file) < 0 && errno != ENOENT)
		return -errno;
	if (run_segments(config, &list) == 0) {
		for (size_t i = 0; i < list.n; i++)
			atomic_fetch_and(&list.segs[i].shm->control,
			                 ~(MC_CTL_HALTED | MC_CTL_HALT_FILE));
		n = (int)list.n;
		mc_seg_list_free(&list);
	}
	/* A process that looked at the file just before it went may set its bit again: the
	 * next look, after this wait, clears it for good. */
	return mc_exp_sleep_ns(HALT_FILE_SETTLE_NS) < 0 ? -EINTR : n;
}

static int create_halt_file(const char *halt_file)
{
	int fd = open(halt_file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Waits until no fault that started before the halt is still being applied. */
static void wait_quiet(const struct mc_seg *seg, uint64_t deadline_ns)
{
	while (atomic_load(&seg->shm->inflight) != 0) {
		if (kill(seg->pid, 0) < 0 && errno == ESRCH)
			return;
		if (mc_exp_now_ns() >= deadline_ns) {
			fprintf(
			    stderr,
			    "mlchaos experiment: process %d still applies a fault after the halt "
			    "(a long delay?); going on\n",
			    seg->pid);
			return;
		}
		struct timespec ts = { 0, (long)INFLIGHT_POLL_NS };
		nanosleep(&ts, NULL);
	}
}

int mc_exp_chaos_halt(const char *halt_file, const char *config, uint64_t timeout_ns)
{
	struct mc_seg_list list;
	int r = create_halt_file(halt_file);

	if (r < 0)
		return r;
	r = run_segments(config, &list);
	if (r < 0)
		return r;
	for (size_t i = 0; i < list.n; i++)
		atomic_fetch_or(&list.segs[i].shm->control, MC_CTL_HALTED);
	uint64_t deadline = mc_exp_now_ns() + timeout_ns;
	for (size_t i = 0; i < list.n; i++)
		wait_quiet(&list.segs[i], deadline);
	r = (int)list.n;
	mc_seg_list_free(&list);
	/* a process whose segment was not found (not published yet, or no /dev/shm) halts
	 * when it next looks at the halt file */
	mc_exp_sleep_ns(HALT_FILE_SETTLE_NS);
	return r;
}

/* ---- halts the experiment did not make ---- */

/* Between the experiment's resume and its own halt, a bit of the control word is set only by
 * someone else: `mlchaos halt` (HALTED), the library itself (WATCHDOG, MAX_FAULTS). The
 * HALT_FILE bit is left aside: a process may set it once more just after the resume (see
 * mc_exp_chaos_resume); the file itself is looked at instead. */
static void halts_of_segment(const struct mc_seg *seg, struct mc_exp_halts *h)
{
	uint32_t bits = mc_seg_halts(seg) & ~MC_CTL_HALT_FILE;
	int n = mc_seg_strlen(seg->shm->halt_reason, sizeof(seg->shm->halt_reason));

	for (size_t i = 0; i < sizeof(mc_seg_halt_bits) / sizeof(mc_seg_halt_bits[0]); i++) {
		uint32_t bit = mc_seg_halt_bits[i];
		struct mc_exp_halt halt = { .reason = mc_seg_halt_name(bit), .pid = seg->pid };
		if (!(bits & bit))
			continue;
		if (bit == MC_CTL_HALTED)
			snprintf(halt.detail, sizeof(halt.detail), "halted by `mlchaos halt`");
		else if (bit == MC_CTL_WATCHDOG && n > 0)
			snprintf(halt.detail, sizeof(halt.detail), "%.*s", n,
			         seg->shm->halt_reason);
		else
			snprintf(halt.detail, sizeof(halt.detail), "halted by %s", halt.reason);
		mc_exp_halts_add(h, &halt);
	}
}

void mc_exp_chaos_halts_now(const char *halt_file, const char *config, struct mc_exp_halts *h)
{
	struct mc_seg_list list;

	if (run_segments(config, &list) == 0) {
		for (size_t i = 0; i < list.n; i++)
			halts_of_segment(&list.segs[i], h);
		mc_seg_list_free(&list);
	}
	if (access(halt_file, F_OK) == 0) {
		struct mc_exp_halt halt = { .reason = "halt_file" };
		snprintf(halt.detail, sizeof(halt.detail), "%s was created during chaos",
		         halt_file);
		mc_exp_halts_add(h, &halt);
	}
}

/* ---- counting ---- */

static void note_pid(struct mc_exp_faults *f, long *pids, long pid)
{
	for (unsigned i = 0; i < f->processes; i++)
		if (pids[i] == pid)
			return;
	if (f->processes < MAX_PIDS)
		pids[f->processes++] = pid;
}

struct counting {
	const struct mc_config *cfg;
	struct mc_exp_faults *f;
	long pids[MAX_PIDS];
};

static void count_line(void *user, const char *line, size_t len)
{
	struct counting *c = user;
	const struct mc_config *cfg = c->cfg;
	struct mc_exp_faults *f = c->f;
	long *pids = c->pids;
	json_t *e;
	const char *event, *rule;
	uint64_t pid;

	if (mc_json_parse(line, len, &e, NULL, 0, NULL) < 0 ||
	    !(event = mc_json_get_str(e, "event"))) {
		f->unreadable++;
		json_decref(e);
		return;
	}
	rule = mc_json_get_str(e, "rule");
	if (strcmp(event, "halt") == 0) {
		const char *reason = mc_json_get_str(e, "reason");
		if (reason && strcmp(reason, "watchdog") == 0)
			f->watchdog_halts++;
	} else if ((strcmp(event, "fault") == 0 || strcmp(event, "would_inject") == 0) && rule) {
		unsigned id = 0;
		while (id < cfg->n_rules && strcmp(cfg->rules[id].name, rule) != 0)
			id++;
		if (id == cfg->n_rules) {
			/* a rule of another config */
		} else if (strcmp(event, "would_inject") == 0 || mc_json_get_true(e, "shadow")) {
			f->shadow[id]++;
		} else if (mc_json_get_true(e, "applied")) {
			f->injected[id]++;
			f->total++;
			if (mc_json_get_u64(e, "pid", &pid))
				note_pid(f, pids, (long)pid);
		} else if (mc_json_get_true(e, "no_effect")) {
			/* corrupt, but no byte changed: no fault, nor one suppressed */
		} else {
			f->suppressed++;
		}
	}
	json_decref(e);
}

/* Calls each for every whole line of run_dir/name; returns 1 when its last line was torn
 * (skipped), else 0. */
static unsigned each_line_of(int dir_fd, const char *name, mc_exp_line_fn *each, void *user)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *in = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!in) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* whole lines only: a last line without its newline was cut (SIGKILL can stop a
	 * write(2) to a file between two pages), and is skipped and counted */
	while ((n = getline(&line, &cap, in)) > 0 && line[n - 1] == '\n')
		each(user, line, (size_t)n - 1);
	free(line);
	fclose(in);
	return n > 0;
}

int mc_exp_each_log_line(const char *run_dir, const char *prefix, mc_exp_line_fn *each, void *user,
                         unsigned *ret_torn)
{
	DIR *d = opendir(run_dir);
	struct dirent *e;
	size_t plen = strlen(prefix);

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		unsigned torn;
		if (n <= plen + 6 || strncmp(e->d_name, prefix, plen) != 0 ||
		    strcmp(e->d_name + n - 6, ".jsonl") != 0)
			continue;
		torn = each_line_of(dirfd(d), e->d_name, each, user);
		if (ret_torn)
			*ret_torn += torn;
	}
	closedir(d);
	return 0;
}

int mc_exp_faults_count(const char *run_dir, const struct mc_config *cfg, struct mc_exp_faults *ret)
{
	struct counting c = { .cfg = cfg, .f = ret };

	memset(ret, 0, sizeof(*ret));
	return mc_exp_each_log_line(run_dir, "events-", count_line, &c, &ret->torn);
}

struct keying {
	void (*each)(void *user, const char *key);
	void *user;
};

static void key_line(void *user, const char *line, size_t len)
{
	struct keying *k = user;
	json_t *e;
	const char *event, *key;

	if (mc_json_parse(line, len, &e, NULL, 0, NULL) < 0)
		return;
	event = mc_json_get_str(e, "event");
	key = mc_json_get_str(e, "key");
	if (event && key && strcmp(event, "fault") == 0 && mc_json_get_true(e, "applied"))
		k->each(k->user, key);
	json_decref(e);
}

int mc_exp_fault_keys(const char *run_dir, void (*each)(void *user, const char *key), void *user)
{
	struct keying k = { .each = each, .user = user };

	return mc_exp_each_log_line(run_dir, "events-", key_line, &k, NULL);
}
