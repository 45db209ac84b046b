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

/* The library looks at its halt file at most every 100 ms (record.c): after removing it, a
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

/* ---- counting ---- */

static void note_pid(struct mc_exp_faults *f, long *pids, long pid)
{
	for (unsigned i = 0; i < f->processes; i++)
		if (pids[i] == pid)
			return;
	if (f->processes < MAX_PIDS)
		pids[f->processes++] = pid;
}

static void count_line(const char *line, size_t len, const struct mc_config *cfg,
                       struct mc_exp_faults *f, long *pids)
{
	struct mc_json *e;
	const char *event, *rule;
	uint64_t pid;

	if (mc_json_parse(line, len, &e, NULL, NULL) < 0 ||
	    !(event = mc_json_get_str(e, "event"))) {
		f->unreadable++;
		mc_json_free(e);
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
		} else {
			f->suppressed++;
		}
	}
	mc_json_free(e);
}

static void count_file(int dir_fd, const char *name, const struct mc_config *cfg,
                       struct mc_exp_faults *f, long *pids)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *in = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!in) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* whole lines only: a last line without its newline was cut (SIGKILL can stop a
	 * write(2) to a file between two pages), and is skipped and counted */
	while ((n = getline(&line, &cap, in)) > 0 && line[n - 1] == '\n')
		count_line(line, (size_t)n - 1, cfg, f, pids);
	if (n > 0)
		f->torn++;
	free(line);
	fclose(in);
}

int mc_exp_faults_count(const char *run_dir, const struct mc_config *cfg, struct mc_exp_faults *ret)
{
	long pids[MAX_PIDS];
	DIR *d = opendir(run_dir);
	struct dirent *e;

	memset(ret, 0, sizeof(*ret));
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, "events-", 7) == 0 && n > 6 &&
		    strcmp(e->d_name + n - 6, ".jsonl") == 0)
			count_file(dirfd(d), e->d_name, cfg, ret, pids);
	}
	closedir(d);
	return 0;
}
