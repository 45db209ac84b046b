/* cmd_run.c: `mlchaos run` and `mlchaos trace`: options, the child's
 * environment (LD_PRELOAD, MLCHAOS_CONFIG, MLCHAOS_TRACE*), then mc_launch().
 * Never truncates a trace file and never lets trace inject: it unsets the config. */
#include "commands.h"
#include "launch.h"
#include "options.h"
#include "outfile.h"
#include "preload.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MC_EXIT_USAGE 2

static const char run_usage[] =
    "usage: mlchaos run [-c FILE] [-q] [--] CMD [ARGS...]\n"
    "\n"
    "Run CMD with libmlchaos.so preloaded, injecting the faults FILE describes.\n"
    "Options go before CMD: what follows CMD is its own.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  the experiment (INI); MLCHAOS_CONFIG is set to its absolute\n"
    "                     path (without -c, MLCHAOS_CONFIG is left as it is)\n"
    "  -q, --quiet        do not warn about programs preloading cannot reach\n"
    "                     (static, Go, setuid)\n"
    "  -h, --help         show this help\n"
    "\n"
    "The library is put first in LD_PRELOAD, after any sanitizer runtime.\n"
    "It is $MLCHAOS_LIB if set, else libmlchaos.so next to mlchaos, else the\n"
    "installed one.\n"
    "\n"
    "exit status: CMD's; 128+N if CMD was killed by signal N; 126 CMD cannot be\n"
    "executed; 127 CMD not found; 2 usage or config error.\n";

static const char trace_usage[] =
    "usage: mlchaos trace [--json FILE] [--all] [--suggest] [-q] [--] CMD [ARGS...]\n"
    "\n"
    "Run CMD with libmlchaos.so preloaded in observation mode: nothing is\n"
    "injected; at the exit of every process, a table of calls and bytes per\n"
    "function and target is printed on stderr: model files first (format,\n"
    "tensor count), then sockets (with the HTTP requests they carried), memory,\n"
    "other files folded into one line, calls made through syscall(), the rest.\n"
    "Options go before CMD: what follows CMD is its own.\n"
    "\n"
    "options:\n"
    "  -j, --json FILE    also append one JSON object per process to FILE\n"
    "                     (created 0600 if missing, never truncated)\n"
    "  -a, --all          list every row: nothing folded\n"
    "  -s, --suggest      after each table, print rules (INI) that aim at the\n"
    "                     model files and the requests seen\n"
    "  -q, --quiet        do not warn about programs preloading cannot reach\n"
    "                     (static, Go, setuid)\n"
    "  -h, --help         show this help\n"
    "\n"
    "MLCHAOS_CONFIG is removed from CMD's environment: trace observes only.\n"
    "\n"
    "exit status: CMD's; 128+N if CMD was killed by signal N; 126 CMD cannot be\n"
    "executed; 127 CMD not found; 2 usage error.\n";

struct run_opts {
	const char *name;  /* "run" or "trace", for messages */
	const char *usage; /* its --help text */
	const char *config;
	const char *json;
	bool all;     /* trace: every row */
	bool suggest; /* trace: rules after the table */
	bool quiet;
	char **cmd; /* CMD ARGS..., NULL-terminated */
};

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_ERROR };

static void usage_error(const struct run_opts *o, const char *what, const char *arg)
{
	fprintf(stderr, "mlchaos %s: %s%s%s\n", o->name, what, arg ? " " : "", arg ? arg : "");
	/* the first line of the help text is the usage line */
	fprintf(stderr, "%.*s", (int)(strchr(o->usage, '\n') + 1 - o->usage), o->usage);
	fprintf(stderr, "see 'mlchaos %s --help'\n", o->name);
}

static enum parse_result parse_options(int argc, char **argv, bool trace, struct run_opts *o)
{
	static const struct option run_long[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option trace_long[] = {
		{ "json", required_argument, NULL, 'j' }, { "all", no_argument, NULL, 'a' },
		{ "suggest", no_argument, NULL, 's' },    { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
	};
	/* '+': options end at CMD, unlike the other commands' (options.h): everything after
	 * CMD is its own command line, and `mlchaos run server -c x.ini` must hand -c to the
	 * server, not take it. `--` still ends our options first, for a CMD that begins
	 * with '-'. */
	const char *short_opts = trace ? "+:j:asqh" : "+:c:qh";
	int c;

	opterr = 0;
	optind = 0; /* glibc: 0 also resets getopt's internal state */
	while ((c = getopt_long(argc, argv, short_opts, trace ? trace_long : run_long, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'a':
			o->all = true;
			break;
		case 's':
			o->suggest = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			return PARSE_HELP;
		case ':':
			usage_error(o, "missing the FILE argument of", mc_opt_rejected(argv));
			return PARSE_ERROR;
		default:
			usage_error(o, "unknown option", mc_opt_rejected(argv));
			return PARSE_ERROR;
		}
	}
	if (optind >= argc) {
		usage_error(o, "no command to run", NULL);
		return PARSE_ERROR;
	}
	o->cmd = argv + optind;
	return PARSE_OK;
}

static int set_config_env(const struct run_opts *o)
{
	char *abs = realpath(o->config, NULL);
	struct stat st;

	if (!abs || stat(abs, &st) < 0) {
		fprintf(stderr,
		        "mlchaos %s: cannot use config %s: %s (give the path of an INI file)\n",
		        o->name, o->config, strerror(errno));
		free(abs);
		return -1;
	}
	if (S_ISDIR(st.st_mode) || access(abs, R_OK) < 0) {
		fprintf(
		    stderr,
		    "mlchaos %s: cannot use config %s: %s (give the path of a readable INI file)\n",
		    o->name, o->config, S_ISDIR(st.st_mode) ? strerror(EISDIR) : strerror(errno));
		free(abs);
		return -1;
	}
	setenv("MLCHAOS_CONFIG", abs, 1);
	free(abs);
	return 0;
}

/* Creates the JSON file if needed (0600, never truncated: every traced process appends its
 * line; refused as the library's log is, see safefile.h) and exports its path. */
static int set_trace_json_env(const struct run_opts *o)
{
	int fd = mc_outfile_open("trace", o->json, O_APPEND, "--json file", "nothing was run");
	char *abs;

	if (fd < 0)
		return -1;
	close(fd);
	abs = realpath(o->json, NULL);
	if (!abs) {
		fprintf(stderr, "mlchaos trace: %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	setenv("MLCHAOS_TRACE_JSON", abs, 1);
	free(abs);
	return 0;
}

/* A flag of the library's report: set when asked for, removed otherwise (one left in the
 * environment would change a report this command line did not ask to change). */
static void set_trace_flag(const char *name, bool on)
{
	if (on)
		setenv(name, "1", 1);
	else
		unsetenv(name);
}

static void report_missing_library(const struct mc_lib_lookup *l)
{
	static const char *const where[MC_LIB_SOURCE_COUNT] = {
		[MC_LIB_FROM_ENV] = "$MLCHAOS_LIB",
		[MC_LIB_NEXT_TO_EXE] = "next to mlchaos",
		[MC_LIB_FROM_LIBDIR] = "install directory",
	};

	if (l->env_error) {
		fprintf(
		    stderr,
		    "mlchaos: MLCHAOS_LIB=%s: %s (point it at libmlchaos.so, or unset it to use the one next to mlchaos or installed)\n",
		    l->tried[MC_LIB_FROM_ENV], strerror(-l->env_error));
		return;
	}
	fprintf(stderr, "mlchaos: cannot find %s; looked at:\n", MC_LIB_NAME);
	for (int s = 0; s < MC_LIB_SOURCE_COUNT; s++)
		if (l->tried[s][0])
			fprintf(stderr, "  %s (%s)\n", l->tried[s], where[s]);
	fprintf(stderr, "build it (ninja -C build), install it (meson install -C build), or set "
	                "MLCHAOS_LIB to its path\n");
}

/* Finds the library and puts it into LD_PRELOAD; copies its path to lib. */
static int set_preload_env(char *lib, size_t size)
{
	struct mc_lib_lookup *l = calloc(1, sizeof(*l));
	char *value = NULL;
	int r = -ENOMEM;

	if (l && mc_preload_find_library(l) < 0) {
		report_missing_library(l);
		free(l);
		return -ENOENT;
	}
	if (l && strlen(l->path) < size &&
	    mc_preload_compose(getenv("LD_PRELOAD"), l->path, &value) == 0) {
		memcpy(lib, l->path, strlen(l->path) + 1);
		r = setenv("LD_PRELOAD", value, 1) < 0 ? -errno : 0;
	}
	if (r < 0)
		fprintf(stderr, "mlchaos: cannot set LD_PRELOAD: %s\n", strerror(-r));
	free(value);
	free(l);
	return r;
}

static int launch(int argc, char **argv, bool trace)
{
	struct run_opts o = { .name = trace ? "trace" : "run",
		              .usage = trace ? trace_usage : run_usage };
	char lib[4096];

	switch (parse_options(argc, argv, trace, &o)) {
	case PARSE_HELP:
		fputs(o.usage, stdout);
		return 0;
	case PARSE_ERROR:
		return MC_EXIT_USAGE;
	case PARSE_OK:
		break;
	}
	if (o.config && set_config_env(&o) < 0)
		return MC_EXIT_USAGE;
	if (trace) {
		unsetenv("MLCHAOS_CONFIG");
		setenv("MLCHAOS_TRACE", "1", 1);
		/* Without --json, a path left in the environment would make the
		 * library append to a file this command line never named. */
		unsetenv("MLCHAOS_TRACE_JSON");
		set_trace_flag("MLCHAOS_TRACE_ALL", o.all);
		set_trace_flag("MLCHAOS_TRACE_SUGGEST", o.suggest);
		if (o.json && set_trace_json_env(&o) < 0)
			return MC_EXIT_USAGE;
	}
	if (set_preload_env(lib, sizeof(lib)) < 0)
		return MC_EXIT_USAGE;
	return mc_launch(o.cmd, lib, o.quiet);
}

int mc_cmd_run(int argc, char **argv)
{
	return launch(argc, argv, false);
}

int mc_cmd_trace(int argc, char **argv)
{
	return launch(argc, argv, true);
}
