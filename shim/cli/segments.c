/* segments.c: finding, checking and mapping the segments of segments.h. A segment is removed
 * only when it is stale: its pid is dead, or the process with that pid does not map that very
 * file (same device and inode in /proc/PID/maps). Never removes a file it did not inspect. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "config.h"
#include "segments.h"

#define CONFIG_HASH_MAX (1u << 20) /* the library hashes at most this much of the file */

const uint32_t mc_seg_halt_bits[4] = { MC_CTL_HALTED, MC_CTL_WATCHDOG, MC_CTL_HALT_FILE,
	                               MC_CTL_MAX_FAULTS };

const char *mc_seg_halt_name(uint32_t bit)
{
	switch (bit) {
	case MC_CTL_HALTED:
		return "command";
	case MC_CTL_WATCHDOG:
		return "watchdog";
	case MC_CTL_HALT_FILE:
		return "halt_file";
	case MC_CTL_MAX_FAULTS:
		return "max_faults";
	default:
		return NULL;
	}
}

uint32_t mc_seg_halts(const struct mc_seg *seg)
{
	uint32_t ctl = atomic_load((_Atomic uint32_t *)&seg->shm->control);
	return ctl | seg->budget_spent;
}

int mc_seg_parse_pid(const char *s, int *ret_pid)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*ret_pid = (int)v;
	return 0;
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
	if (!why || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

static void seg_path(char *buf, size_t cap, int pid)
{
	snprintf(buf, cap, "%s/%s%d", MC_SHM_DIR, MC_SHM_PREFIX, pid);
}

/* ---- live or stale ------------------------------------------------------------------ */

/* Whether /proc/PID/maps has a mapping of (dev, ino): 1 yes, 0 no, -errno unknown. */
static int maps_file(int pid, dev_t dev, ino_t ino)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[4096 + 256];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long inode;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3)
			found = inode == (unsigned long long)ino && maj == major(dev) &&
			        min == minor(dev);
	}
	fclose(f);
	return found;
}

/* True when pid certainly does not exist. */
static bool pid_dead(int pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Stale: its process is gone, or is another program now (exec, pid reuse) that does not map
 * this file. When /proc cannot tell (permissions), the segment is taken as live. */
static bool is_stale(int pid, const struct stat *st)
{
	if (pid_dead(pid))
		return true;
	int r = maps_file(pid, st->st_dev, st->st_ino);
	if (r == -ENOENT || r == -ESRCH)
		return true; /* died while we looked */
	return r == 0;
}

/* Removes path only if it is still the file that was judged stale: a new process with the
 * same pid may have replaced it since. */
static bool remove_if_same(const char *path, const struct stat *st)
{
	struct stat now;
	if (lstat(path, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return false;
	return unlink(path) == 0;
}

/* ---- the config budget ---------------------------------------------------------------- */

void mc_seg_config_path(const struct mc_seg *seg, char *buf, size_t cap)
{
	const char *p = seg->shm->config_path;
	int n = mc_seg_strlen(p, sizeof(seg->shm->config_path));
	if (n > 0 && p[0] != '/')
		snprintf(buf, cap, "/proc/%d/cwd/%.*s", seg->pid, n, p);
	else
		snprintf(buf, cap, "%.*s", n, p);
}

static int hash_file(const char *path, uint64_t *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(CONFIG_HASH_MAX);
	size_t len = 0;
	ssize_t n = 0;
	while (buf && len < CONFIG_HASH_MAX && (n = read(fd, buf + len, CONFIG_HASH_MAX - len)) > 0)
		len += (size_t)n;
	int r = !buf ? -ENOMEM : n < 0 ? -errno : 0;
	if (r == 0)
		*ret = len ? XXH3_64bits(buf, len) : 0;
	free(buf);
	close(fd);
	return r;
}

/* The segment does not carry max_faults; the config does. When the file is still the one the
 * process loaded (same hash), its max_faults says whether the budget is used up. */
static uint32_t budget_spent(const struct mc_seg *seg)
{
	char path[1200];
	uint64_t h = 0;
	mc_seg_config_path(seg, path, sizeof(path));
	if (!path[0] || hash_file(path, &h) < 0 || h != seg->shm->config_hash)
		return 0;
	struct mc_config *cfg;
	if (mc_cfg_parse_file(path, NULL, NULL, &cfg) < 0)
		return 0;
	uint64_t max = cfg->max_faults;
	mc_cfg_free(cfg);
	if (max == MC_UNLIMITED || mc_seg_u64(&seg->shm->engine.faults) < max)
		return 0;
	return MC_CTL_MAX_FAULTS;
}

/* ---- opening ------------------------------------------------------------------------- */

/* Whether the mapped bytes are a published segment of pid this command reads. 0, -EAGAIN (not
 * published yet) or -EPROTO. */
static int check_header(const struct mc_shm *s, size_t bytes, int pid, char *why, size_t cap)
{
	uint64_t magic = atomic_load_explicit((_Atomic uint64_t *)&s->magic, memory_order_acquire);
	if (magic == 0)
		return -EAGAIN;
	if (magic != MC_SHM_MAGIC) {
		say(why, cap, "not an mlchaos segment (bad magic)");
		return -EPROTO;
	}
	if (s->version != MC_SHM_VERSION) {
		say(why, cap, "segment of layout version %u; this mlchaos reads version %u",
		    s->version, MC_SHM_VERSION);
		return -EPROTO;
	}
	if (s->size < sizeof(struct mc_shm) || s->size > bytes || s->pid != pid ||
	    s->n_rules > MC_MAX_RULES) {
		say(why, cap, "malformed segment (size %u of %zu, pid %d, %u rules)", s->size,
		    bytes, (int)s->pid, s->n_rules);
		return -EPROTO;
	}
	return 0;
}

static int check_file(int fd, struct stat *st, char *why, size_t cap)
{
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode)) {
		say(why, cap, "not a regular file");
		return -EPROTO;
	}
	if (st->st_uid != geteuid()) {
		say(why, cap, "belongs to uid %u; only its owner may read or control it",
		    (unsigned)st->st_uid);
		return -EACCES;
	}
	if (st->st_mode & 077) {
		say(why, cap, "mode %03o: others could have written it; a segment is 0600",
		    (unsigned)(st->st_mode & 0777));
		return -EACCES;
	}
	return 0;
}

/* A file whose process is alive but which is not published yet (created, not yet mapped or
 * filled) belongs to a process that is starting: not stale, not listed, unless that process
 * does not map it and it has been unpublished for longer than any start takes. */
#define STARTING_MAX_S 10

static bool starting(int pid, const struct stat *st)
{
	if (pid_dead(pid))
		return false;
	return time(NULL) - st->st_ctime < STARTING_MAX_S || maps_file(pid, st->st_dev, st->st_ino);
}

static int judge(int pid, const struct stat *st, const char *path, int header, char *why,
                 size_t cap)
{
	if (header != -EAGAIN && header != 0)
		return header;
	if (header == -EAGAIN && starting(pid, st)) {
		say(why, cap, "process %d is starting: its segment is not published yet", pid);
		return -ENOENT;
	}
	if (!is_stale(pid, st))
		return 0;
	bool removed = remove_if_same(path, st);
	say(why, cap, "stale segment of process %d (%s)%s", pid,
	    pid_dead(pid) ? "no such process" : "the process does not map it",
	    removed ? ": removed" : "");
	return -ESTALE;
}

int mc_seg_open(int pid, enum mc_seg_mode mode, struct mc_seg *ret, char *why, size_t cap)
{
	char path[64];
	struct stat st;
	seg_path(path, sizeof(path), pid);
	memset(ret, 0, sizeof(*ret));
	say(why, cap, "no segment");
	/* O_NONBLOCK: a FIFO planted under our name must not hang us; it fails check_file */
	int flags =
	    (mode == MC_SEG_WRITE ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	int fd = open(path, flags);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			say(why, cap, "%s is a symbolic link: refused", path);
		else if (e != ENOENT)
			say(why, cap, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	int r = check_file(fd, &st, why, cap);
	if (r == 0 && (size_t)st.st_size < sizeof(struct mc_shm))
		r = judge(pid, &st, path, -EAGAIN, why, cap);
	if (r < 0) {
		close(fd);
		return r;
	}
	int prot = PROT_READ | (mode == MC_SEG_WRITE ? PROT_WRITE : 0);
	size_t bytes = (size_t)st.st_size;
	void *p = mmap(NULL, bytes, prot, MAP_SHARED, fd, 0);
	r = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0) {
		say(why, cap, "cannot map %s: %s", path, strerror(-r));
		return r;
	}
	r = judge(pid, &st, path, check_header(p, bytes, pid, why, cap), why, cap);
	if (r < 0) {
		munmap(p, bytes);
		return r;
	}
	*ret = (struct mc_seg){ .pid = pid, .shm = p, .bytes = bytes };
	ret->budget_spent = budget_spent(ret);
	return 0;
}

void mc_seg_close(struct mc_seg *seg)
{
	if (seg->shm)
		munmap(seg->shm, seg->bytes);
	seg->shm = NULL;
}

/* ---- listing ----------------------------------------------------------------------- */

static int pid_of_name(const char *name)
{
	size_t plen = strlen(MC_SHM_PREFIX);
	int pid;
	if (strncmp(name, MC_SHM_PREFIX, plen) != 0 || mc_seg_parse_pid(name + plen, &pid) < 0)
		return -1;
	return pid;
}

static int cmp_pid(const void *a, const void *b)
{
	int x = ((const struct mc_seg *)a)->pid, y = ((const struct mc_seg *)b)->pid;
	return (x > y) - (x < y);
}

static int push(struct mc_seg_list *list, size_t *cap, const struct mc_seg *seg)
{
	if (list->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct mc_seg *v = realloc(list->segs, ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		list->segs = v;
		*cap = ncap;
	}
	list->segs[list->n++] = *seg;
	return 0;
}

static void count_refusal(struct mc_seg_list *list, int r)
{
	if (r == -ESTALE)
		list->cleaned++;
	else if (r == -EACCES)
		list->foreign++;
	else if (r != -ENOENT) /* vanished meanwhile, or starting: not a problem */
		list->unusable++;
}

int mc_seg_list_all(enum mc_seg_mode mode, struct mc_seg_list *ret)
{
	memset(ret, 0, sizeof(*ret));
	DIR *d = opendir(MC_SHM_DIR);
	if (!d)
		return -errno;
	size_t cap = 0;
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		int pid = pid_of_name(e->d_name);
		struct mc_seg seg;
		if (pid < 0)
			continue;
		int o = mc_seg_open(pid, mode, &seg, NULL, 0);
		if (o == 0 && (r = push(ret, &cap, &seg)) < 0)
			mc_seg_close(&seg);
		else if (o < 0)
			count_refusal(ret, o);
	}
	closedir(d);
	if (r < 0) {
		mc_seg_list_free(ret);
		return r;
	}
	if (ret->n)
		qsort(ret->segs, ret->n, sizeof(ret->segs[0]), cmp_pid);
	return 0;
}

void mc_seg_list_free(struct mc_seg_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		mc_seg_close(&list->segs[i]);
	free(list->segs);
	list->segs = NULL;
	list->n = 0;
}

void mc_seg_list_note(const struct mc_seg_list *list, const char *cmd)
{
	if (list->cleaned)
		fprintf(stderr, "mlchaos %s: cleaned %u stale segment%s in %s\n", cmd,
		        list->cleaned, list->cleaned == 1 ? "" : "s", MC_SHM_DIR);
	if (list->foreign)
		fprintf(stderr, "mlchaos %s: skipped %u segment%s of other users\n", cmd,
		        list->foreign, list->foreign == 1 ? "" : "s");
	if (list->unusable)
		fprintf(stderr, "mlchaos %s: skipped %u unreadable segment%s (another version?)\n",
		        cmd, list->unusable, list->unusable == 1 ? "" : "s");
}

static int open_named(int argc, char **argv, enum mc_seg_mode mode, const char *cmd,
                      struct mc_seg_list *ret)
{
	size_t cap = 0;
	int status = 0;
	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < argc; i++) {
		int pid;
		if (mc_seg_parse_pid(argv[i], &pid) < 0) {
			fprintf(stderr, "mlchaos %s: '%s' is not a process id\n", cmd, argv[i]);
			mc_seg_list_free(ret);
			return 2;
		}
		struct mc_seg seg;
		char why[512];
		int r = mc_seg_open(pid, mode, &seg, why, sizeof(why));
		if (r == 0 && push(ret, &cap, &seg) < 0) {
			mc_seg_close(&seg);
			mc_seg_list_free(ret);
			fprintf(stderr, "mlchaos %s: out of memory\n", cmd);
			return 2;
		}
		if (r < 0) {
			fprintf(stderr, "mlchaos %s: process %d: %s\n", cmd, pid, why);
			count_refusal(ret, r);
			status = 1;
		}
	}
	return status;
}

int mc_seg_open_args(int argc, char **argv, bool all, enum mc_seg_mode mode, const char *cmd,
                     struct mc_seg_list *ret)
{
	if (argc > 0 && all) {
		memset(ret, 0, sizeof(*ret));
		fprintf(stderr, "mlchaos %s: give PIDs or --all, not both\n", cmd);
		return 2;
	}
	if (argc > 0)
		return open_named(argc, argv, mode, cmd, ret);
	int r = mc_seg_list_all(mode, ret);
	if (r < 0) {
		fprintf(stderr, "mlchaos %s: cannot list %s: %s\n", cmd, MC_SHM_DIR, strerror(-r));
		return 2;
	}
	mc_seg_list_note(ret, cmd);
	return 0;
}

/* ---- output helpers ---------------------------------------------------------------------- */

void mc_json_str(FILE *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', out);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else {
			fputc(c, out);
		}
	}
	fputc('"', out);
}

void mc_rfc3339(char *buf, size_t cap, uint64_t unix_ns)
{
	time_t secs = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	if (!gmtime_r(&secs, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "?");
}
