/* main.c: the mlchaos command's front door: one table of subcommands, global
 * --help/--version, `help CMD`. Holds no command logic of its own and never
 * touches the environment: each subcommand owns its options and exit codes. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#ifndef MC_VERSION
#error "MC_VERSION must be defined by the build (meson)"
#endif

#define MC_EXIT_USAGE 2

struct mc_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* New commands go here: dispatch, `help` and the usage text follow. */
static const struct mc_command commands[] = {
	{ "run", mc_cmd_run, "run a command with libmlchaos.so preloaded and a config's faults" },
	{ "trace", mc_cmd_trace, "run a command and count the calls and bytes mlchaos can reach" },
	{ "check", mc_cmd_check, "validate a config file" },
	{ "select", mc_cmd_select, "show which request keys a rule selects" },
	{ "stats", mc_cmd_stats, "show the live counters of processes running the library" },
	{ "top", mc_cmd_top, "the counters of stats, refreshed every second" },
	{ "halt", mc_cmd_halt, "stop fault injection in running processes, now" },
	{ "resume", mc_cmd_resume, "let halted processes inject faults again" },
	{ "reload", mc_cmd_reload, "make a running process re-read its config" },
	{ "report", mc_cmd_report, "summarize event logs: faults per rule and function, halts" },
	{ "metrics", mc_cmd_metrics, "the counters in Prometheus format, printed or served" },
	{ "replay", mc_cmd_replay, "write a config that injects an event log's faults again" },
	{ "experiment", mc_cmd_experiment,
	  "run a chaos experiment: steady state, chaos, recovery, score" },
	{ "load", mc_cmd_load, "send HTTP requests and measure answers, errors, latency, tokens" },
	{ "inspect", mc_cmd_inspect,
	  "show the tensors of model files: format, dtypes, shapes, bytes" },
	{ "inject", mc_cmd_inject, "put the library into the pods of Kubernetes manifests" },
};

#define MC_N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fputs("usage: mlchaos <command> [options] [args]\n"
	      "\n"
	      "Chaos engineering for ML inference: faults injected into an unmodified\n"
	      "process through a preloaded library.\n"
	      "\n"
	      "commands:\n",
	      out);
	for (size_t i = 0; i < MC_N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "options:\n"
	      "  -h, --help     show this help\n"
	      "  --version      show the version\n"
	      "\n"
	      "'mlchaos help COMMAND' or 'mlchaos COMMAND --help' shows a command's options.\n"
	      "They may come before or after its operands ('--' ends them), but run's and\n"
	      "trace's end at CMD: what follows is CMD's own.\n"
	      "\n"
	      "exit status: 0 ok; 1 the thing checked failed; 2 usage or config error;\n"
	      "run and trace exit with the command's own status.\n",
	      out);
}

static const struct mc_command *find_command(const char *name)
{
	for (size_t i = 0; i < MC_N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Levenshtein distance, for "did you mean"; names longer than the buffer
 * are simply too far. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t row[32];
	size_t la = strlen(a), lb = strlen(b);

	if (la >= 32 || lb >= 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_command(const char *name)
{
	const struct mc_command *near = NULL;

	for (size_t i = 0; i < MC_N_COMMANDS && !near; i++)
		if (edit_distance(name, commands[i].name) <= 2)
			near = &commands[i];
	if (near)
		fprintf(stderr, "mlchaos: unknown command '%s' (did you mean '%s'?)\n", name,
		        near->name);
	else
		fprintf(stderr, "mlchaos: unknown command '%s'\n", name);
	usage(stderr);
	return MC_EXIT_USAGE;
}

/* `mlchaos help [COMMAND]`: a command's help is its own --help. */
static int help(int argc, char **argv)
{
	const struct mc_command *cmd;
	char help_opt[] = "--help";
	char *args[3];

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	args[0] = argv[1];
	args[1] = help_opt;
	args[2] = NULL;
	return cmd->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct mc_command *cmd;

	if (argc < 2) {
		usage(stderr);
		return MC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mlchaos %s\n", MC_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc - 1, argv + 1);
	if (argv[1][0] == '-') {
		fprintf(stderr, "mlchaos: unknown option '%s' (options of a command go after it)\n",
		        argv[1]);
		usage(stderr);
		return MC_EXIT_USAGE;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	return cmd->fn(argc - 1, argv + 1);
}
