/* ft.h: the small framework of the fault tests. One program holds both sides: the parent
 * (never preloaded) writes a config into a fresh temporary directory and runs the program
 * itself again as a child, preloaded with libmlchaos.so; the child makes the calls and checks
 * what it observes; the parent checks what only an outsider can (exit status, files on disk,
 * what several runs have in common). Must never depend on timing for readiness. */
#ifndef FT_H
#define FT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- checks (both sides) ------------------------------------------------------------- */

/* Prints "FILE:LINE: PROG: message" on stderr and marks the process failed. */
void ft_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FT_CHECK(cond)                                                          \
	do {                                                                    \
		if (!(cond))                                                    \
			ft_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
	} while (0)

#define FT_CHECKF(cond, ...)                                      \
	do {                                                      \
		if (!(cond))                                      \
			ft_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define FT_EQ(a, b)                                                                              \
	do {                                                                                     \
		long long ft_a_ = (long long)(a), ft_b_ = (long long)(b);                        \
		if (ft_a_ != ft_b_)                                                              \
			ft_fail(__FILE__, __LINE__, "%s is %lld, expected %s = %lld", #a, ft_a_, \
			        #b, ft_b_);                                                      \
	} while (0)

/* A failed call: returned fail_value with errno e. */
#define FT_ERRNO(ret, fail_value, e)                                      \
	do {                                                              \
		long long ft_r_ = (long long)(ret);                       \
		int ft_e_ = errno;                                        \
		if (ft_r_ != (long long)(fail_value) || ft_e_ != (e))     \
			ft_fail(__FILE__, __LINE__,                       \
			        "%s returned %lld errno %d, expected %s " \
			        "errno %s",                               \
			        #ret, ft_r_, ft_e_, #fail_value, #e);     \
	} while (0)

/* How many checks have failed in this process. */
int ft_failures(void);

/* Prints "PROG: message" on stderr (no failure). */
void ft_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the program's entry --------------------------------------------------------------- */

/* A child: runs preloaded, argv[0] is its name, argv[1..] what the parent passed. */
struct ft_child {
	const char *name;
	void (*fn)(int argc, char **argv);
};

/* A test: runs in the parent. */
struct ft_test {
	const char *name;
	void (*fn)(void);
};

/* Parent: PROG --lib LIB --mlchaos MLCHAOS [--preload-before SO] [--skip WHY] [--except TEST]...
 * [TEST...] runs the tests (those named, or all but the excepted), each with a fresh
 * temporary directory (kept when FT_KEEP is set), and returns 0
 * (all passed), 1 (some check failed), 2 (usage) or 77 (--skip). Child: PROG --child NAME
 * ARGS... runs that child; its status is 1 when a check failed. Both tables end with
 * { NULL, NULL }. */
int ft_main(int argc, char **argv, const struct ft_test *tests, const struct ft_child *children);

/* Whether the library is preloaded behind a sanitizer runtime (--preload-before given). */
bool ft_sanitized(void);

/* ---- parent: files and runs ------------------------------------------------------------ */

/* The current test's temporary directory (absolute, no symbolic link in it), and a path in
 * it. ft_path() strings live until the test ends. */
const char *ft_dir(void);
const char *ft_path(const char *name);

/* Writes a file in the test directory; returns its path. */
const char *ft_write(const char *name, const void *data, size_t len);

/* The files the open and stat tests look at: models/current.bin ("current\n"),
 * models/previous.bin ("previous\n"), models/other.bin ("other\n"), models/a.txt ("text\n")
 * and elsewhere/a.bin ("elsewhere\n"). */
void ft_models_tree(void);

/* Runs child NAME preloaded under config cfg with the test directory and param as its
 * arguments, and checks that it passed. */
void ft_run_child(const char *cfg, const char *name, const char *param);

/* Writes a config file from a format; returns its path. */
const char *ft_config(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file (malloc'ed, NUL added, *ret_len set); NULL when it cannot. */
char *ft_slurp(const char *path, size_t *ret_len);

/* Byte i of the test data: never 0, never 0xAA, so a zeroed or 0xAA byte is always a change. */
static inline uint8_t ft_pattern(uint64_t i)
{
	uint8_t b = (uint8_t)((i * 131u + 7u + (i >> 8) * 17u) % 254u + 1u);
	return b == 0xAA ? 0x55 : b;
}

/* Writes a file of n pattern bytes; returns its path. */
const char *ft_pattern_file(const char *name, size_t n);

/* True when the file holds exactly n pattern bytes (the file is unchanged on disk). */
bool ft_pattern_file_intact(const char *path, size_t n);

enum ft_how {
	FT_PRELOAD,    /* LD_PRELOAD=lib MLCHAOS_CONFIG=config */
	FT_PLAIN,      /* neither */
	FT_MLCHAOS_RUN /* mlchaos run -c config -- ... */
};

/* One run of a child (or, with cmd, of any command) and what it left. */
struct ft_run {
	enum ft_how how;
	const char *config;     /* MLCHAOS_CONFIG, or NULL: unset */
	const char *argv0;      /* the child's argv[0] (default: this program's path) */
	const char *stdin_path; /* default /dev/null */
	const char *const *cmd; /* run this instead of a child (NULL-terminated) */
	int status;             /* wait status */
	char *out, *err;        /* stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
	char out_path[4200], err_path[4200]; /* internal: where they are collected */
};

/* Runs child `name` with args (NULL-terminated list) as r says, bounded by a timeout; fills
 * r->status, r->out, r->err. Returns the exit status, 128+N when killed by signal N. */
int ft_run(struct ft_run *r, const char *name, ...) __attribute__((sentinel));

/* The same, in the background: returns the child's pid at once; ft_finish() waits for it
 * (after, say, a kill()) and fills r as ft_run() does. */
pid_t ft_start(struct ft_run *r, const char *name, ...) __attribute__((sentinel));
int ft_finish(struct ft_run *r, pid_t pid);

/* The same as ft_run, for r->cmd. */
int ft_run_cmd(struct ft_run *r);

/* Checks that the run exited 0; on failure shows its stderr. */
#define FT_RUN_OK(r) ft_run_ok(__FILE__, __LINE__, (r))
void ft_run_ok(const char *file, int line, const struct ft_run *r);

/* Frees out and err. */
void ft_run_free(struct ft_run *r);

/* The path of libmlchaos.so and of mlchaos. */
const char *ft_lib(void);
const char *ft_mlchaos(void);

/* ---- both sides: small helpers --------------------------------------------------------- */

uint64_t ft_now_ns(void);

/* "Not delayed", measured so that a busy machine cannot fake it: a call the library delays
 * by D takes at least D on every try, while a call it leaves alone takes longer than D only
 * when the machine kept it off the CPU that long. Such a call is tried up to this many times,
 * and the fastest try must be faster than D. */
#define FT_UNDELAYED_TRIES 10

/* Loopback TCP: a listening socket on an ephemeral port (returned in *ret_port). */
int ft_listen_tcp(int *ret_port);
/* A connected pair through listener lfd on port: client end and accepted end. */
void ft_tcp_pair(int lfd, int port, int *ret_client, int *ret_server);

/* Reads/writes exactly n bytes with the plain calls (read, write), retrying short ones;
 * returns n, or less on EOF/error. */
size_t ft_read_full(int fd, void *buf, size_t n);
size_t ft_write_full(int fd, const void *buf, size_t n);

/* Integer argument of a child; exits 2 when absent or malformed. */
long long ft_arg_ll(int argc, char **argv, int i);

#endif
