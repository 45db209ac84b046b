/* hd_shm.c: the tests' window on a running process's segment, /dev/shm/mlchaos.<pid>
 * (shim/shm.h), independent of the mlchaos command. Prints the figures as one JSON object,
 * or asks for a reload the way `mlchaos reload` does and waits for the answer, once or
 * again and again until told to stop (SIGTERM). Only reads the segment, except the reload
 * request word. Exit 0 done, 1 no such segment or timeout, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

static int usage(void)
{
	fprintf(stderr, "usage: hd-shm PID                   print the segment's figures as JSON\n"
	                "       hd-shm --reload PID TIMEOUT-MS  request a reload, wait for it\n"
	                "       hd-shm --reloads PID PAUSE-MS   reload, pause, again, until "
	                "SIGTERM;\n"
	                "                                       prints the counts as JSON\n");
	return 2;
}

/* The file exists before it has its size and before its header is written (the magic is
 * stored last): a process still starting is waited for, up to 10 s (STARTING_TRIES of 10 ms),
 * before the segment is called too small or foreign. */
#define STARTING_TRIES 1000

static void *map_sized(const char *path, int writable)
{
	for (int tries = 0;; tries++) {
		int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "hd-shm: %s: %s\n", path, strerror(errno));
			return NULL;
		}
		struct stat st;
		bool sized = fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct mc_shm);
		void *p = sized ? mmap(NULL, sizeof(struct mc_shm),
		                       PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0)
		                : MAP_FAILED;
		close(fd);
		if (p != MAP_FAILED)
			return p;
		if (sized || tries >= STARTING_TRIES) {
			fprintf(stderr, "hd-shm: %s: too small or cannot be mapped\n", path);
			return NULL;
		}
		usleep(10000);
	}
}

static struct mc_shm *map_segment(long pid, int writable)
{
	char path[64];
	snprintf(path, sizeof(path), MC_SHM_DIR "/" MC_SHM_PREFIX "%ld", pid);
	void *p = map_sized(path, writable);
	if (!p)
		return NULL;
	struct mc_shm *s = p;
	for (int tries = 0;
	     tries < STARTING_TRIES && atomic_load((_Atomic uint64_t *)&s->magic) == 0; tries++)
		usleep(10000);
	if (atomic_load((_Atomic uint64_t *)&s->magic) != MC_SHM_MAGIC ||
	    s->version != MC_SHM_VERSION) {
		fprintf(stderr, "hd-shm: %s: not a version %u segment\n", path, MC_SHM_VERSION);
		munmap(p, sizeof(struct mc_shm));
		return NULL;
	}
	return s;
}

/* A JSON string of the bytes up to the first NUL (names and messages the library wrote). */
static void put_json_str(const char *s, size_t cap)
{
	putchar('"');
	for (size_t i = 0; i < cap && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static uint64_t ld(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void print_rules(struct mc_shm *s)
{
	printf(",\"rules\":[");
	unsigned n = s->n_rules < MC_MAX_RULES ? s->n_rules : MC_MAX_RULES;
	for (unsigned i = 0; i < n; i++) {
		struct mc_rule_state *e = &s->engine.rule[i];
		printf("%s{\"name\":", i ? "," : "");
		put_json_str(s->rules[i].name, sizeof(s->rules[i].name));
		printf(",\"injected\":%" PRIu64 ",\"selected\":%" PRIu64 ",\"applied\":%" PRIu64
		       ",\"would_inject\":%" PRIu64 "}",
		       ld(&e->injected), ld(&e->selected), ld(&s->rules[i].applied),
		       ld(&s->rules[i].would_inject));
	}
	printf("]");
}

static int print_figures(long pid)
{
	struct mc_shm *s = map_segment(pid, 0);
	if (!s)
		return 1;
	printf("{\"pid\":%d,\"ppid\":%d,\"n_rules\":%u,\"control\":%u", s->pid, s->ppid, s->n_rules,
	       atomic_load(&s->control));
	printf(",\"faults_injected\":%" PRIu64 ",\"faults_suppressed\":%" PRIu64
	       ",\"events_logged\":%" PRIu64 ",\"events_dropped\":%" PRIu64
	       ",\"engine_faults\":%" PRIu64,
	       ld(&s->faults_injected), ld(&s->faults_suppressed), ld(&s->events_logged),
	       ld(&s->events_dropped), ld(&s->engine.faults));
	printf(",\"reload_requested\":%u,\"reload_done\":%u,\"reload_status\":%d,"
	       "\"reload_message\":",
	       atomic_load(&s->reload_requested), atomic_load(&s->reload_done),
	       atomic_load(&s->reload_status));
	put_json_str(s->reload_message, sizeof(s->reload_message));
	printf(",\"config_path\":");
	put_json_str(s->config_path, sizeof(s->config_path));
	print_rules(s);
	printf("}\n");
	munmap(s, sizeof(*s));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static volatile sig_atomic_t told_to_stop;

/* Asks for generation reload_requested + 1 and waits until the library says it handled it
 * (it does so at its next hooked call outside malloc and mmap), timeout_ms at most or until
 * told to stop. True when it was handled. */
static int ask_reload(struct mc_shm *s, long timeout_ms, uint32_t *ret_want)
{
	uint32_t want = atomic_fetch_add(&s->reload_requested, 1) + 1;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (atomic_load(&s->reload_done) != want && now_ms() < deadline && !told_to_stop)
		pause_ms(1);
	*ret_want = want;
	return atomic_load(&s->reload_done) == want;
}

static int reload(long pid, long timeout_ms)
{
	struct mc_shm *s = map_segment(pid, 1);
	if (!s)
		return 1;
	uint32_t want;
	int done = ask_reload(s, timeout_ms, &want);
	printf("{\"generation\":%u,\"done\":%s,\"status\":%d,\"message\":", want,
	       done ? "true" : "false", atomic_load(&s->reload_status));
	put_json_str(s->reload_message, sizeof(s->reload_message));
	printf("}\n");
	munmap(s, sizeof(*s));
	return done ? 0 : 1;
}

static void on_term(int sig)
{
	(void)sig;
	told_to_stop = 1;
}

/* Reloads of process pid one after the other, pause_ms apart, until SIGTERM (or a reload
 * unanswered for a minute, or the process gone): then one JSON object with how many were
 * asked, answered and accepted, and the first refusal's status and message. */
static int reloads(long pid, long pause)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	struct mc_shm *s = map_segment(pid, 1);
	if (!s)
		return 1;
	unsigned long asked = 0, answered = 0, accepted = 0;
	int first_status = 0;
	char first_message[sizeof(s->reload_message)] = "";
	while (!told_to_stop && kill((pid_t)pid, 0) == 0) {
		uint32_t want;
		asked++;
		if (!ask_reload(s, 60 * 1000, &want))
			break;
		answered++;
		int status = atomic_load(&s->reload_status);
		if (status == 0) {
			accepted++;
		} else if (first_status == 0) {
			first_status = status;
			memcpy(first_message, s->reload_message, sizeof(first_message));
			first_message[sizeof(first_message) - 1] = '\0';
		}
		pause_ms(pause);
	}
	printf("{\"asked\":%lu,\"answered\":%lu,\"accepted\":%lu,\"first_status\":%d,"
	       "\"first_message\":",
	       asked, answered, accepted, first_status);
	put_json_str(first_message, sizeof(first_message));
	printf("}\n");
	munmap(s, sizeof(*s));
	return 0;
}

static long parse_long(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || *end || end == s || v <= 0 ? -1 : v;
}

int main(int argc, char **argv)
{
	if (argc == 2 && parse_long(argv[1]) > 0)
		return print_figures(parse_long(argv[1]));
	if (argc == 4 && strcmp(argv[1], "--reload") == 0 && parse_long(argv[2]) > 0 &&
	    parse_long(argv[3]) > 0)
		return reload(parse_long(argv[2]), parse_long(argv[3]));
	if (argc == 4 && strcmp(argv[1], "--reloads") == 0 && parse_long(argv[2]) > 0 &&
	    parse_long(argv[3]) > 0)
		return reloads(parse_long(argv[2]), parse_long(argv[3]));
	return usage();
}
