/* segment.c: the shared-memory segment of this process (shm.h) and halting (record.h): the
 * counters and the control word other processes read and set (`mlchaos stats`, `halt`,
 * `reload`), the halt file, and the bracket a fault is applied in. Set up at init and in a
 * forked child, where it also starts the event log (eventlog.h) and the watchdog
 * (watchdog.h). Every path that runs inside a hook is allocation-free, lock-free and
 * async-signal-safe; init may allocate (guard held). */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xxhash.h>

#include "common.h"
#include "delay.h"
#include "eventlog.h"
#include "fmt.h"
#include "real.h"
#include "record.h"
#include "watchdog.h"

#define HALT_FILE_PERIOD_NS (100u * 1000 * 1000)
#define CONFIG_HASH_MAX     (1u << 20)

struct mc_shm *mc_rec_segment; /* read inline by mc_rec_halted() */
/* The segment's mapping: its size, its name (empty: private memory, nobody else sees it),
 * and whether its name was removed at exit. */
static struct {
	size_t bytes;
	char path[64];
	_Atomic int removed;
} shm;

/* The halt file the config names (empty: none), and when it was last looked for. */
static struct {
	char path[1024];
	_Atomic uint64_t checked_ns;
} halt_file;
bool mc_rec_has_halt_file;

struct mc_shm *mc_rec_shm(void)
{
	return mc_rec_segment;
}

/* ---- the segment ------------------------------------------------------------- */

static size_t segment_bytes(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (sizeof(struct mc_shm) + page - 1) & ~(page - 1);
}

static void put_pid_path(char *buf, size_t cap, int pid)
{
	struct mc_buf b;
	mc_buf_init(&b, buf, cap);
	mc_buf_puts(&b, MC_SHM_DIR "/" MC_SHM_PREFIX);
	mc_buf_u64(&b, (uint64_t)pid);
}

/* Creates /dev/shm/mlchaos.<pid>: 0600, never through a link. A file left
 * by an earlier image of this pid (exec, or a SIGKILLed process whose pid
 * came back) is replaced. */
static struct mc_shm *map_segment(int pid)
{
	put_pid_path(shm.path, sizeof(shm.path), pid);
	int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	struct rlimit fsize;
	int fd = -1;
	/* ftruncate past RLIMIT_FSIZE would kill the host with SIGXFSZ: under
	 * such a limit the counters stay private. */
	if (getrlimit(RLIMIT_FSIZE, &fsize) != 0 || fsize.rlim_cur == RLIM_INFINITY ||
	    fsize.rlim_cur >= shm.bytes)
		fd = mc_real.open(shm.path, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlink(shm.path) == 0)
		fd = mc_real.open(shm.path, flags, 0600);
	void *p = MAP_FAILED;
	if (fd >= 0) {
		if (ftruncate(fd, (off_t)shm.bytes) == 0)
			p = mc_real.mmap(NULL, shm.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			                 0);
		mc_real.close(fd);
		if (p == MAP_FAILED)
			unlink(shm.path);
	}
	if (p != MAP_FAILED)
		return p;
	shm.path[0] = '\0';
	p = mc_real.mmap(NULL, shm.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	                 0);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t hash_file(const char *path)
{
	int fd = mc_real.open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char *buf = malloc(CONFIG_HASH_MAX);
	ssize_t n = buf ? mc_real.read(fd, buf, CONFIG_HASH_MAX) : -1;
	uint64_t h = n > 0 ? XXH3_64bits(buf, (size_t)n) : 0;
	free(buf);
	mc_real.close(fd);
	return h;
}

static void fill_rules(struct mc_shm *s, const struct mc_ruleset *rs)
{
	s->n_rules = mc_engine_rule_count(rs);
	for (unsigned i = 0; i < s->n_rules; i++) {
		const struct mc_erule *r = mc_engine_rule(rs, i);
		mc_copy_str(s->rules[i].name, sizeof(s->rules[i].name), r->name);
		s->rules[i].hook = r->hook;
		s->rules[i].action = r->action;
		s->rules[i].shadow = r->shadow;
		s->rules[i].enabled = r->enabled;
	}
}

/* ---- init and fork ------------------------------------------------------------ */

struct mc_engine_state *mc_rec_init(const struct mc_config *cfg, const struct mc_ruleset *rs,
                                    const char *config_path)
{
	shm.bytes = segment_bytes();
	mc_rec_segment = map_segment(getpid());
	if (!mc_rec_segment)
		return NULL;
	mc_rec_segment->version = MC_SHM_VERSION;
	mc_rec_segment->size = (uint32_t)shm.bytes;
	mc_rec_segment->pid = getpid();
	mc_rec_segment->ppid = getppid();
	mc_rec_segment->started_unix_ns = mc_unix_ns();
	mc_copy_str(mc_rec_segment->argv0, sizeof(mc_rec_segment->argv0), program_invocation_name);
	mc_copy_str(mc_rec_segment->config_path, sizeof(mc_rec_segment->config_path), config_path);
	mc_rec_segment->config_hash = hash_file(config_path);
	mc_rec_segment->seed = cfg->seed;
	mc_rec_segment->halt_window = cfg->halt_on_error_rate_ppm ? cfg->halt_window : 0;
	mc_rec_segment->halt_on_error_rate_ppm = cfg->halt_on_error_rate_ppm;
	fill_rules(mc_rec_segment, rs);
	atomic_store_explicit((_Atomic uint64_t *)&mc_rec_segment->magic, MC_SHM_MAGIC,
	                      memory_order_release);

	mc_copy_str(halt_file.path, sizeof(halt_file.path), cfg->halt_file);
	mc_rec_has_halt_file = halt_file.path[0] != '\0';
	mc_log_init(cfg, rs, config_path);
	mc_watchdog_init(mc_rec_segment->halt_window);
	return &mc_rec_segment->engine;
}

void mc_rec_rules_changed(const struct mc_config *cfg, const struct mc_ruleset *rs,
                          const char *config_path)
{
	if (!mc_rec_segment)
		return;
	mc_log_rules_changed(cfg, rs, config_path);
	for (unsigned i = 0; i < MC_MAX_RULES; i++) {
		struct mc_shm_rule *r = &mc_rec_segment->rules[i];
		atomic_store(&r->would_inject, 0);
		atomic_store(&r->applied, 0);
		for (unsigned p = 0; p < MC_SHM_PHASES; p++) {
			atomic_store(&r->by_phase[p].would_inject, 0);
			atomic_store(&r->by_phase[p].applied, 0);
		}
	}
	fill_rules(mc_rec_segment, rs);
	mc_rec_segment->config_hash = hash_file(config_path);
	mc_rec_segment->seed = mc_engine_seed(rs);
}

struct mc_engine_state *mc_rec_child_after_fork(void)
{
	if (!mc_rec_segment)
		return NULL;
	struct mc_shm *parent = mc_rec_segment;
	struct mc_shm *child = map_segment(getpid());
	if (!child)
		return NULL;
	/* the static part is the parent's; the figures start at zero */
	size_t static_part = offsetof(struct mc_shm, control);
	memcpy(child, parent, static_part);
	child->pid = getpid();
	child->ppid = getppid();
	child->started_unix_ns = mc_unix_ns();
	for (unsigned i = 0; i < child->n_rules; i++) {
		struct mc_shm_rule *to = &child->rules[i];
		const struct mc_shm_rule *from = &parent->rules[i];
		memcpy(to->name, from->name, sizeof(to->name));
		to->hook = from->hook;
		to->action = from->action;
		to->shadow = from->shadow;
		to->enabled = from->enabled;
	}
	atomic_store(&child->control, atomic_load(&parent->control) & ~MC_CTL_WATCHDOG);
	mc_real.munmap(parent, shm.bytes); /* the parent's stays the parent's */
	mc_rec_segment = child;
	atomic_store(&shm.removed, 0);
	mc_log_after_fork();
	mc_watchdog_after_fork();
	return &mc_rec_segment->engine;
}

void mc_rec_exit(void)
{
	if (shm.path[0] && atomic_exchange(&shm.removed, 1) == 0)
		unlink(shm.path);
}

/* ---- halting ---------------------------------------------------------------------- */

/* The halt file counts whoever made it, and whatever it is: access(F_OK) opens nothing (a
 * FIFO there cannot block us) and reads nothing, and a symbolic link counts when its target
 * exists (one flag file can halt many processes). The file only ever stops injection, so the
 * worst another user who can create the name can do is halt the run, which `mlchaos stats`
 * shows. Counting only the owner's file would be worse: a name planted first by another user
 * would turn the operator's own halt (`touch`, which leaves an existing file where it is)
 * into a brake that does not hold. */
static MC_COLD void look_at_halt_file(void)
{
	uint64_t now = mc_now_ns();
	uint64_t last = atomic_load_explicit(&halt_file.checked_ns, memory_order_relaxed);
	if (now - last < HALT_FILE_PERIOD_NS)
		return;
	atomic_store_explicit(&halt_file.checked_ns, now, memory_order_relaxed);
	int saved = errno;
	bool exists = access(halt_file.path, F_OK) == 0;
	errno = saved;
	if (exists)
		atomic_fetch_or(&mc_rec_segment->control, MC_CTL_HALT_FILE);
	else
		atomic_fetch_and(&mc_rec_segment->control, ~MC_CTL_HALT_FILE);
}

bool mc_rec_halted_slow(void)
{
	if (mc_rec_has_halt_file)
		look_at_halt_file();
	return atomic_load_explicit(&mc_rec_segment->control, memory_order_relaxed) != 0;
}

void mc_rec_budget_spent(uint64_t max_faults)
{
	if (!mc_rec_segment)
		return;
	uint32_t before = atomic_fetch_or(&mc_rec_segment->control, MC_CTL_MAX_FAULTS);
	if (before & MC_CTL_MAX_FAULTS)
		return; /* one line per process: the first fault past the budget says it */
	/* a reader of the log alone (mlchaos experiment, after the process is gone) learns
	 * when and why injection stopped, as it does for the watchdog */
	mc_log_halt("max_faults", max_faults);
}

/* With `mlchaos halt`: the command sets the control word, then reads
 * inflight; we raise inflight, then read the control word. Both sequentially
 * consistent, so either we see the halt or the command sees us and waits. */
bool mc_rec_apply_begin(void)
{
	if (!mc_rec_segment)
		return true;
	atomic_fetch_add(&mc_rec_segment->inflight, 1);
	if (atomic_load(&mc_rec_segment->control) == 0)
		return true;
	atomic_fetch_sub(&mc_rec_segment->inflight, 1);
	atomic_fetch_add_explicit(&mc_rec_segment->faults_suppressed, 1, memory_order_relaxed);
	return false;
}

void mc_rec_apply_end(void)
{
	if (mc_rec_segment)
		atomic_fetch_sub(&mc_rec_segment->inflight, 1);
}
