/* pl.h: the little framework shared by the preload test programs: a transcript of results
 * (compared between the plain, preloaded and traced runs), checks that fail the program, and
 * the trace rows each process expects. Never allocates: the malloc test counts every call. */
#ifndef PL_H
#define PL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PL_STR_(x) #x
/* A macro's value as a string literal: PL_STR(SYS_dup2) is "33" on x86-64. */
#define PL_STR(x) PL_STR_(x)

/* Size of WORKDIR/data.bin, made by the runner: byte i is pl_pattern(i). */
#define PL_DATA_SIZE 65536

/* Reads argv[1] (the absolute work directory); exits 2 on usage error. */
void pl_init(int argc, char **argv, const char *name);

/* Absolute path of name inside the work directory. At most 8 live at once (a ring of
 * buffers), which is plenty for one program. */
const char *pl_path(const char *name);

static inline unsigned char pl_pattern(size_t i)
{
	return (unsigned char)(i * 131u + 7u + (i >> 8));
}

/* True when buf holds the pattern starting at offset off. */
bool pl_pattern_ok(const void *buf, size_t n, size_t off);

/* One line of the transcript on stdout (must not contain pids, ports or addresses: the three
 * runs are compared byte for byte). */
void pl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Transcript line "what = ret" or "what = -1 (ENAME)": the return value and errno are what
 * the shim must leave untouched. */
void pl_ret(const char *what, long ret, int err);

/* Fails the program (exit 1 at pl_finish) with FILE:LINE: message on stderr. */
void pl_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PL_CHECK(cond)                                                          \
	do {                                                                    \
		if (!(cond))                                                    \
			pl_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
	} while (0)

#define PL_EQ(a, b)                                                                             \
	do {                                                                                    \
		long long pl_a_ = (long long)(a), pl_b_ = (long long)(b);                       \
		if (pl_a_ != pl_b_)                                                             \
			pl_fail(__FILE__, __LINE__, "%s = %lld, expected %s = %lld", #a, pl_a_, \
			        #b, pl_b_);                                                     \
	} while (0)

/* Expects errno e after a failed call returning r (-1 or NULL as 0). */
#define PL_ERR(r, fail_value, e)                                                         \
	do {                                                                             \
		int pl_e_ = errno;                                                       \
		PL_EQ(r, fail_value);                                                    \
		if (pl_e_ != (e))                                                        \
			pl_fail(__FILE__, __LINE__, "errno %d, expected %s", pl_e_, #e); \
	} while (0)

/* Records one call the trace must count: fn on target, moving bytes (0 for a failure). */
void pl_rec(const char *fn, const char *target, long long bytes);

/* Same, for target "file:" + absolute path. */
void pl_rec_file(const char *fn, const char *path, long long bytes);

/* The trace row for fn on target must not exist in this process (calls another process made,
 * or that a process made before it forked). */
void pl_absent(const char *fn, const char *target);

/* No row of this process may name target. */
void pl_absent_target(const char *target);

/* "socket:tcp:PORT" etc. into buf. */
const char *pl_target(char *buf, size_t n, const char *kind, int port);

/* Local port of a bound socket, peer port of a connected one. */
int pl_local_port(int fd);

/* Loopback TCP pair: returns the listening port, which names both ends in traces. */
int pl_tcp_pair(int *ret_client, int *ret_server);

/* Loopback UDP: a bound receiver and a sender connected to it; returns the receiver's port. */
int pl_udp_pair(int *ret_sender, int *ret_receiver);

/* In a forked child: forgets the parent's records (the child's trace starts empty). */
void pl_forked_child(void);

/* This process will be reparented before it exits (its parent dies first): its report's ppid
 * is not checked. */
void pl_orphan(void);

/* Writes this process's "proc", "expect" and "absent" lines and returns its exit status
 * (0, or 1 after any pl_fail). Call last, then return or _exit with the result. */
int pl_finish(void);

#endif
