/* test_cli.c: `mlchaos check` and `mlchaos select`, run through their entry points in a
 * child process with stdin, stdout and stderr captured: exit codes, messages, summaries, and
 * the 10,000-key determinism of select against the formula. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg_util.h"
#include "commands.h"
#include "mc_test.h"

#define N_KEYS 10000

struct run {
	int status;
	char *out, *err;
};

static char dir[] = "/tmp/mc-unit-cli-XXXXXX";

static char *slurp_stream(FILE *f)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	rewind(f);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
		len += n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Run fn(argc, args) in a child with stdin_text on its stdin; capture the rest. */
static void run_cmd(int (*fn)(int, char **), const char *const *args, const char *stdin_text,
                    struct run *res)
{
	FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
	int argc = 0;
	pid_t pid;

	while (args[argc])
		argc++;
	fputs(stdin_text ? stdin_text : "", in);
	fflush(in);
	rewind(in);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(fileno(in), 0);
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		exit(fn(argc, (char **)args));
	}
	waitpid(pid, &res->status, 0);
	res->status = WIFEXITED(res->status) ? WEXITSTATUS(res->status) : 128;
	res->out = slurp_stream(out);
	res->err = slurp_stream(err);
	fclose(in);
	fclose(out);
	fclose(err);
}

static void run_free(struct run *res)
{
	free(res->out);
	free(res->err);
}

static char *write_file(const char *name, const char *text)
{
	static char paths[8][256];
	static unsigned next;
	char *path = paths[next++ % 8];
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_check(void)
{
	char *good = write_file("good.ini", "[mlchaos]\nseed = 42\n"
	                                    "[fault.a]\nhook = read\naction = fail\n"
	                                    "[fault.b]\nhook = malloc\naction = fail\n");
	char *bad = write_file("bad.ini", "[fault.a]\nhook = reed\naction = fail\nrat = 5%\n");
	char want[512], missing[300];
	struct run r;

	run_cmd(mc_cmd_check, (const char *const[]){ "check", good, NULL }, NULL, &r);
	snprintf(want, sizeof(want), "%s: 2 rules (read:fail, malloc:fail), seed 42\n", good);
	MC_CHECK_U64(r.status, 0);
	MC_CHECK_STR(r.out, want);
	MC_CHECK_STR(r.err, "");
	run_free(&r);

	run_cmd(mc_cmd_check, (const char *const[]){ "check", "-q", good, NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 0);
	MC_CHECK_STR(r.out, "");
	run_free(&r);

	run_cmd(mc_cmd_check, (const char *const[]){ "check", bad, good, NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 1);
	MC_CHECK_STR(r.out, want); /* the valid one is still summarized */
	snprintf(want, sizeof(want),
	         "%s:2: unknown hook 'reed' (did you mean read?)\n"
	         "%s:4: unknown key 'rat' in [fault.a] (did you mean rate?)\n",
	         bad, bad);
	MC_CHECK_STR(r.err, want);
	run_free(&r);

	snprintf(missing, sizeof(missing), "%s/missing.ini", dir);
	run_cmd(mc_cmd_check, (const char *const[]){ "check", missing, NULL }, NULL, &r);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory\n", missing);
	MC_CHECK_U64(r.status, 1);
	MC_CHECK_STR(r.err, want);
	run_free(&r);

	run_cmd(mc_cmd_check, (const char *const[]){ "check", NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK(starts_with(r.err, "mlchaos check: no config file given\nusage: mlchaos check"));
	run_free(&r);

	run_cmd(mc_cmd_check, (const char *const[]){ "check", "--bogus", good, NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK(starts_with(r.err, "mlchaos check: unknown option '--bogus'\nusage:"));
	run_free(&r);

	run_cmd(mc_cmd_check, (const char *const[]){ "check", "--help", NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 0);
	MC_CHECK(starts_with(r.out, "usage: mlchaos check"));
	run_free(&r);
}

static const char select_config[] =
    "[mlchaos]\nseed = %d\n"
    "[fault.pick]\nhook = read\naction = fail\nrate = 10%%\n"
    "[fault.percall]\nhook = malloc\naction = fail\nselect = call\n";

static bool formula(uint64_t seed, const char *key)
{
	uint64_t rule_seed = seed ^ hash_string("pick");

	return XXH3_64bits_withSeed(key, strlen(key), rule_seed) % 1000000 < 100000;
}

/* `select -c FILE pick -` over N_KEYS keys on stdin: check each line against the formula,
 * return the selected set. */
static unsigned select_keys(const char *cfg, int seed, bool *selected)
{
	static char keys[N_KEYS * 24];
	size_t len = 0;
	unsigned count = 0, bad = 0;
	struct run r;
	char *line;

	for (unsigned i = 0; i < N_KEYS; i++)
		len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%08x-%u\n",
		                        i * 2654435761u, i);
	run_cmd(mc_cmd_select, (const char *const[]){ "select", "-c", cfg, "pick", "-", NULL },
	        keys, &r);
	MC_CHECK_U64(r.status, 0);
	MC_CHECK_STR(r.err, "");
	line = r.out;
	for (unsigned i = 0; i < N_KEYS; i++) {
		char key[32], want[64];
		size_t n;

		snprintf(key, sizeof(key), "%08x-%u", i * 2654435761u, i);
		selected[i] = formula((uint64_t)seed, key);
		count += selected[i];
		n = (size_t)snprintf(want, sizeof(want), "%s %s\n", key,
		                     selected[i] ? "selected" : "not-selected");
		if (!line || strncmp(line, want, n) != 0) {
			bad++;
			break;
		}
		line += n;
	}
	MC_CHECK_U64(bad, 0);
	MC_CHECK(line && *line == '\0');
	run_free(&r);
	return count;
}

static void test_select(void)
{
	static bool a[N_KEYS], b[N_KEYS];
	char text[512], want[256];
	char *cfg42, *cfg43, *bad;
	unsigned na, nb, common = 0;
	struct run r;

	snprintf(text, sizeof(text), select_config, 42);
	cfg42 = write_file("s42.ini", text);
	snprintf(text, sizeof(text), select_config, 43);
	cfg43 = write_file("s43.ini", text);
	bad = write_file("sbad.ini", "[fault.pick]\nhook = read\n");

	na = select_keys(cfg42, 42, a);
	nb = select_keys(cfg43, 43, b);
	for (unsigned i = 0; i < N_KEYS; i++)
		common += a[i] && b[i];
	printf("select: seed 42 selects %u of %d keys, seed 43 %u, %u in common\n", na, N_KEYS, nb,
	       common);
	MC_CHECK(na >= N_KEYS * 9 / 100 && na <= N_KEYS * 11 / 100);
	MC_CHECK(nb >= N_KEYS * 9 / 100 && nb <= N_KEYS * 11 / 100);
	MC_CHECK(common < na / 2);

	/* keys as arguments, and stdin in the middle of them */
	run_cmd(mc_cmd_select,
	        (const char *const[]){ "select", "-c", cfg42, "pick", "alpha", "-", "omega", NULL },
	        "middle\n", &r);
	snprintf(want, sizeof(want), "alpha %s\nmiddle %s\nomega %s\n",
	         formula(42, "alpha") ? "selected" : "not-selected",
	         formula(42, "middle") ? "selected" : "not-selected",
	         formula(42, "omega") ? "selected" : "not-selected");
	MC_CHECK_U64(r.status, 0);
	MC_CHECK_STR(r.out, want);
	run_free(&r);

	/* $MLCHAOS_CONFIG stands in for -c */
	setenv("MLCHAOS_CONFIG", cfg42, 1);
	run_cmd(mc_cmd_select, (const char *const[]){ "select", "pick", "alpha", NULL }, NULL, &r);
	unsetenv("MLCHAOS_CONFIG");
	MC_CHECK_U64(r.status, 0);
	MC_CHECK(starts_with(r.out, "alpha "));
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "-c", cfg42, "nope", "k", NULL },
	        NULL, &r);
	snprintf(want, sizeof(want),
	         "mlchaos select: no rule 'nope' in %s (rules: pick, percall)\n", cfg42);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK_STR(r.err, want);
	MC_CHECK_STR(r.out, "");
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "-c", cfg42, "percall", "k", NULL },
	        NULL, &r);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK(starts_with(r.err, "mlchaos select: rule 'percall' has select = call"));
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "-c", bad, "pick", "k", NULL },
	        NULL, &r);
	snprintf(want, sizeof(want), "%s:1: rule 'pick' has no action", bad);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK(starts_with(r.err, want));
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "pick", "k", NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 2);
	MC_CHECK(starts_with(r.err, "mlchaos select: no config: give -c FILE\nusage:"));
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "-c", cfg42, "pick", NULL }, NULL,
	        &r);
	MC_CHECK_U64(r.status, 2);
	run_free(&r);

	run_cmd(mc_cmd_select, (const char *const[]){ "select", "--help", NULL }, NULL, &r);
	MC_CHECK_U64(r.status, 0);
	MC_CHECK(starts_with(r.out, "usage: mlchaos select"));
	run_free(&r);
}

int main(void)
{
	int status;

	unsetenv("MLCHAOS_CONFIG");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_check();
	test_select();
	status = mc_test_done("cli");
	for (const char *const *f = (const char *const[]){ "good.ini", "bad.ini", "s42.ini",
	                                                   "s43.ini", "sbad.ini", NULL };
	     *f; f++) {
		char path[300];

		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	return status;
}
