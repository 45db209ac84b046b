/* ft_start.c: bad input at start, through the real library. An invalid config is reported on
 * stderr as "mlchaos: FILE:LINE: message", every problem, and the program then runs unharmed
 * (on_error = passthrough), or exits 78 before its main runs (on_error = abort); a missing or
 * unreadable config file is such an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ft.h"

#define DATA_SIZE 8192

/* child: DIR: leaves DIR/main-ran, prints "main ran", then reads data.bin, which the rules of
 * every config here would fail or damage if they were in force, and prints what it got. */
static void child_work(int argc, char **argv)
{
	(void)argc;
	char path[4096];
	snprintf(path, sizeof(path), "%s/main-ran", argv[1]);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	printf("main ran\n");
	fflush(stdout);
	snprintf(path, sizeof(path), "%s/data.bin", argv[1]);
	static uint8_t buf[DATA_SIZE];
	int fd = open(path, O_RDONLY);
	size_t got = ft_read_full(fd, buf, sizeof(buf));
	close(fd);
	size_t wrong = 0;
	for (size_t i = 0; i < got; i++)
		wrong += buf[i] != ft_pattern(i);
	FT_EQ(got, DATA_SIZE);
	FT_EQ(wrong, 0);
	void *big = malloc(8 << 20);
	FT_CHECK(big != NULL);
	free(big);
	printf("read %zu bytes, %zu wrong\n", got, wrong);
}

/* ---- parent ------------------------------------------------------------------------------------
 */

/* A rule that would break the child if it were in force. */
static const char harmful[] = "[fault.eio]\nhook = read\naction = fail\npath = */data.bin\n"
                              "[fault.no-heap]\nhook = malloc\naction = fail\nmin_size = 1MiB\n";

static struct ft_run run_work(enum ft_how how, const char *cfg)
{
	ft_pattern_file("data.bin", DATA_SIZE);
	unlink(ft_path("main-ran"));
	struct ft_run r = { .how = how, .config = cfg };
	ft_run(&r, "work", ft_dir(), NULL);
	return r;
}

/* The child ran to the end, unharmed. */
static void expect_unharmed(const struct ft_run *r)
{
	FT_RUN_OK(r);
	FT_CHECKF(strstr(r->out, "main ran\nread 8192 bytes, 0 wrong\n") != NULL,
	          "the program did not run unharmed: stdout '%s'", r->out);
}

/* stderr holds the line "mlchaos: FILE:LINE: " + what. */
static void expect_message(const struct ft_run *r, const char *file, int line, const char *what)
{
	char want[4400];
	snprintf(want, sizeof(want), "mlchaos: %s:%d: %s", file, line, what);
	const char *at = strstr(r->err, want);
	FT_CHECKF(at && (at == r->err || at[-1] == '\n'), "stderr lacks the line '%s...':\n%s",
	          want, r->err);
}

static void test_invalid_passthrough(void)
{
	const char *cfg = ft_config("bad.ini", "[mlchaos]\n"         /* 1 */
	                                       "seed = 1\n"          /* 2 */
	                                       "bogus = 2\n"         /* 3 */
	                                       "[fault.eio]\n"       /* 4 */
	                                       "hook = read\n"       /* 5 */
	                                       "action = fail\n"     /* 6 */
	                                       "errno = EIOO\n"      /* 7 */
	                                       "path = */data.bin\n" /* 8 */
	                                       "[fault.odd]\n"       /* 9 */
	                                       "hook = malloc\n"     /* 10 */
	                                       "action = short\n"    /* 11 */
	                                       "[fault.no-heap]\n"   /* 12 */
	                                       "hook = malloc\n"     /* 13 */
	                                       "action = fail\n"     /* 14 */
	                                       "min_size = 1MiB\n"   /* 15 */
	                                       "rate = 120%%\n");    /* 16 */
	struct ft_run r = run_work(FT_PRELOAD, cfg);
	expect_unharmed(&r);
	expect_message(&r, cfg, 3, "");
	expect_message(&r, cfg, 7, "");
	expect_message(&r, cfg, 9, "");
	expect_message(&r, cfg, 11, "");
	expect_message(&r, cfg, 16, "");
	FT_CHECKF(strstr(r.err, "running without faults") != NULL, "no word of passthrough:\n%s",
	          r.err);
	ft_run_free(&r);
	/* mlchaos check reports the same problems, without the prefix */
	const char *cmd[] = { ft_mlchaos(), "check", cfg, NULL };
	struct ft_run c = { .how = FT_PLAIN, .cmd = cmd };
	FT_EQ(ft_run_cmd(&c), 1);
	char want[4400];
	for (int line = 3; line <= 16; line++) {
		snprintf(want, sizeof(want), "%s:%d: ", cfg, line);
		/* line 9: the rule lacks max_bytes, which short needs */
		bool expected = line == 3 || line == 7 || line == 9 || line == 11 || line == 16;
		bool said = strstr(c.err, want) || strstr(c.out, want);
		FT_CHECKF(said == expected, "mlchaos check %s line %d", said ? "reports" : "misses",
		          line);
	}
	ft_run_free(&c);
}

static void test_invalid_abort(void)
{
	/* on_error = abort, before or after the bad line */
	static const char *const configs[] = {
		"[mlchaos]\non_error = abort\nbogus = 2\n%s",
		"[mlchaos]\nbogus = 2\non_error = abort\n%s",
	};
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		const char *cfg = ft_config("abort.ini", configs[i], harmful);
		struct ft_run r = run_work(FT_PRELOAD, cfg);
		FT_CHECKF(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 78,
		          "config %zu: status 0x%x, expected exit 78", i, (unsigned)r.status);
		FT_CHECKF(r.out_len == 0, "config %zu: main ran: stdout '%s'", i, r.out);
		FT_CHECKF(access(ft_path("main-ran"), F_OK) != 0, "config %zu: main ran", i);
		expect_message(&r, cfg, i == 0 ? 3 : 2, "unknown key");
		ft_run_free(&r);
		/* the same through mlchaos run */
		struct ft_run m = run_work(FT_MLCHAOS_RUN, cfg);
		FT_CHECKF(WIFEXITED(m.status) && WEXITSTATUS(m.status) == 78,
		          "mlchaos run: status 0x%x, expected exit 78", (unsigned)m.status);
		FT_CHECKF(access(ft_path("main-ran"), F_OK) != 0, "under mlchaos run, main ran");
		ft_run_free(&m);
	}
	/* a valid config with on_error = abort runs, its rules in force */
	const char *ok = ft_config("ok.ini", "[mlchaos]\non_error = abort\n"
	                                     "[fault.eio]\nhook = read\naction = fail\n"
	                                     "path = */elsewhere/*\n");
	struct ft_run r = run_work(FT_PRELOAD, ok);
	expect_unharmed(&r);
	ft_run_free(&r);
}

static void test_missing_config(void)
{
	const char *missing = ft_path("no-such.ini");
	struct ft_run r = run_work(FT_PRELOAD, missing);
	expect_unharmed(&r);
	char want[4400];
	snprintf(want, sizeof(want), "mlchaos: %s", missing);
	FT_CHECKF(strstr(r.err, want) != NULL, "stderr does not name the missing file:\n%s", r.err);
	ft_run_free(&r);
	/* a directory is no config either */
	r = run_work(FT_PRELOAD, ft_dir());
	expect_unharmed(&r);
	snprintf(want, sizeof(want), "mlchaos: %s", ft_dir());
	FT_CHECKF(strstr(r.err, want) != NULL, "stderr does not name the directory:\n%s", r.err);
	ft_run_free(&r);
	/* nor an unreadable file (unless we are root, who reads anything) */
	if (geteuid() != 0) {
		const char *locked = ft_config("locked.ini", "%s", harmful);
		chmod(locked, 0);
		r = run_work(FT_PRELOAD, locked);
		expect_unharmed(&r);
		snprintf(want, sizeof(want), "mlchaos: %s", locked);
		FT_CHECKF(strstr(r.err, want) != NULL, "stderr does not name the file:\n%s", r.err);
		ft_run_free(&r);
	}
}

int main(int argc, char **argv)
{
	static const struct ft_child children[] = {
		{ "work", child_work },
		{ NULL, NULL },
	};
	static const struct ft_test tests[] = {
		{ "invalid-passthrough", test_invalid_passthrough },
		{ "invalid-abort", test_invalid_abort },
		{ "missing-config", test_missing_config },
		{ NULL, NULL },
	};
	return ft_main(argc, argv, tests, children);
}
