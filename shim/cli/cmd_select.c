/* cmd_select.c: `mlchaos select -c FILE RULE KEY...`: print, per request key, whether the
 * rule selects it, with the engine's own formula: the same answer the library gives in every
 * process. Keys come from the arguments, or one per line from stdin with "-". */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "engine.h"
#include "options.h"

static void select_usage(FILE *out)
{
	fputs("usage: mlchaos select [-c FILE] RULE KEY...\n"
	      "Print for each request KEY whether rule RULE selects it: 'KEY selected' or\n"
	      "'KEY not-selected'. A KEY of '-' reads keys from stdin, one per line.\n"
	      "  -c, --config FILE   the config (default: $MLCHAOS_CONFIG)\n"
	      "  -h, --help          this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 done, 2 usage error, bad config or unknown rule.\n",
	      out);
}

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

static void print_key(const struct mc_erule *rule, const char *key, size_t len)
{
	fwrite(key, 1, len, stdout);
	fputs(mc_engine_select_key(rule, key, len) ? " selected\n" : " not-selected\n", stdout);
}

static int keys_from_stdin(const struct mc_erule *rule)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		print_key(rule, line, (size_t)len);
	}
	free(line);
	if (ferror(stdin)) {
		fprintf(stderr, "mlchaos select: reading keys from stdin: %s\n", strerror(errno));
		return 2;
	}
	return 0;
}

static void list_rules(const struct mc_ruleset *rs)
{
	for (unsigned i = 0; i < mc_engine_rule_count(rs); i++)
		fprintf(stderr, "%s%s", i ? ", " : "", mc_engine_rule(rs, i)->name);
	fputs(mc_engine_rule_count(rs) ? ")\n" : "none)\n", stderr);
}

/* The rule to answer for, or NULL (reported). */
static const struct mc_erule *find_rule(const struct mc_ruleset *rs, const char *file,
                                        const char *name)
{
	int id = mc_engine_rule_id(rs, name);
	const struct mc_erule *rule;

	if (id < 0) {
		fprintf(stderr, "mlchaos select: no rule '%s' in %s (rules: ", name, file);
		list_rules(rs);
		return NULL;
	}
	rule = mc_engine_rule(rs, (unsigned)id);
	if (rule->select == MC_SELECT_CALL) {
		fprintf(stderr,
		        "mlchaos select: rule '%s' has select = call: it draws per call, not per "
		        "request key\n",
		        name);
		return NULL;
	}
	return rule;
}

static int run_select(const char *file, int nargs, char **args)
{
	struct mc_config *cfg;
	struct mc_ruleset *rs;
	const struct mc_erule *rule;
	int status = 0;

	if (mc_cfg_parse_file(file, print_diag, NULL, &cfg) < 0)
		return 2;
	if (mc_engine_build(cfg, NULL, &rs) < 0) {
		fputs("mlchaos select: out of memory\n", stderr);
		mc_cfg_free(cfg);
		return 2;
	}
	rule = find_rule(rs, file, args[0]);
	for (int i = 1; rule && i < nargs && status == 0; i++) {
		if (strcmp(args[i], "-") == 0)
			status = keys_from_stdin(rule);
		else
			print_key(rule, args[i], strlen(args[i]));
	}
	if (!rule)
		status = 2;
	mc_engine_free(rs);
	mc_cfg_free(cfg);
	if (fflush(stdout) != 0 && status == 0)
		status = 2;
	return status;
}

int mc_cmd_select(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = getenv("MLCHAOS_CONFIG");
	int opt;

	optind = 0; /* full getopt reset: commands may run more than once per process */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'h':
			select_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mlchaos select: bad option '%s'\n", mc_opt_rejected(argv));
			select_usage(stderr);
			return 2;
		}
	}
	if (!file || !*file || argc - optind < 2) {
		fputs(!file || !*file ? "mlchaos select: no config: give -c FILE\n"
		                      : "mlchaos select: give a rule name and at least one key\n",
		      stderr);
		select_usage(stderr);
		return 2;
	}
	return run_select(file, argc - optind, argv + optind);
}
