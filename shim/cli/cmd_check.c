/* cmd_check.c: `mlchaos check FILE...`: validate config files without running anything.
 * Prints every problem as FILE:LINE: message on stderr and a one-line summary per valid file
 * on stdout. Exit 0 all valid, 1 problems found, 2 usage error. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "formats/tensors.h"
#include "inspect.h"
#include "options.h"

static void check_usage(FILE *out)
{
	fputs("usage: mlchaos check [-q] FILE...\n"
	      "Validate mlchaos config files without running anything: every problem is listed\n"
	      "as FILE:LINE: message; a valid file gets a one-line summary of its rules.\n"
	      "  -q, --quiet   no summary, only problems\n"
	      "  -h, --help    this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 valid, 1 problems found, 2 usage error.\n",
	      out);
}

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

/* The line of the rule's key, or of its section when the key is not written. */
static int key_line(const struct mc_rule_spec *r, const char *key)
{
	for (unsigned i = 0; i < r->written.n; i++)
		if (strcmp(r->written.v[i].key, key) == 0)
			return r->written.v[i].line;
	return r->line;
}

/* Whether the rule's path names one file (no glob character) that exists, and its stat. */
static bool literal_file(const struct mc_rule_spec *r, struct stat *st)
{
	return r->path && !strpbrk(r->path, "*?[\\") && stat(r->path, st) == 0 &&
	       S_ISREG(st->st_mode);
}

/* format = raw on a path that names one file (no glob character) that exists: the file must
 * reach past the declared offset, else the rule could never damage anything (an error); a
 * model file the recognisers know gets a warning, as raw ignores its header. The library
 * cannot know the file before it is opened, so only check says it. 0 or 1 (an error). */
static int check_raw_file(const char *cfg_path, const struct mc_rule_spec *r)
{
	struct stat st;
	if (!r->raw || !literal_file(r, &st))
		return 0;
	if ((uint64_t)st.st_size <= r->offset_lo) {
		fprintf(stderr,
		        "%s:%d: format = raw: %s is %" PRIu64 " bytes and ends before the declared "
		        "data (offset = %" PRIu64 "-): the rule could never damage it\n",
		        cfg_path, key_line(r, "offset"), r->path, (uint64_t)st.st_size,
		        r->offset_lo);
		return 1;
	}
	const char *format = mc_inspect_format(r->path);
	if (format)
		fprintf(stderr,
		        "%s:%d: warning: format = raw on %s, a %s file: its header is ignored and "
		        "bytes from offset %" PRIu64
		        " are damaged as %s (leave format out to damage "
		        "its tensors)\n",
		        cfg_path, key_line(r, "format"), r->path, format, r->offset_lo,
		        mc_dtype_name((enum mc_dtype)r->raw_dtype));
	return 0;
}

/* action = truncate with at = SIZE on a path that names one file that exists: at must fall
 * inside it, else the rule could never cut anything (the library says so in its log, call
 * by call, as it cannot know the file before it is opened). 0 or 1 (an error). */
static int check_truncate_file(const char *cfg_path, const struct mc_rule_spec *r)
{
	struct stat st;
	if (r->action != MC_ACTION_TRUNCATE || r->at_share || !literal_file(r, &st) ||
	    r->at_bytes < (uint64_t)st.st_size)
		return 0;
	fprintf(stderr,
	        "%s:%d: at = %" PRIu64 " is at or past the end of %s (%" PRIu64
	        " bytes): the rule could never cut it (write a size below %" PRIu64
	        " or a share such as 50%%)\n",
	        cfg_path, key_line(r, "at"), r->at_bytes, r->path, (uint64_t)st.st_size,
	        (uint64_t)st.st_size);
	return 1;
}

/* 0 when path is valid, 1 when not. */
static int check_one(const char *path, bool quiet)
{
	struct mc_config *cfg;
	char summary[1024];
	int bad = 0;

	if (mc_cfg_parse_file(path, print_diag, NULL, &cfg) < 0)
		return 1;
	for (unsigned i = 0; i < cfg->n_rules; i++)
		bad |= check_raw_file(path, &cfg->rules[i]) |
		       check_truncate_file(path, &cfg->rules[i]);
	if (bad) {
		mc_cfg_free(cfg);
		return 1;
	}
	mc_cfg_describe(cfg, summary, sizeof(summary));
	if (!quiet)
		printf("%s: %s\n", path, summary);
	mc_cfg_free(cfg);
	return 0;
}

int mc_cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false;
	int opt, status = 0;

	optind = 0; /* full getopt reset: commands may run more than once per process */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mlchaos check: unknown option '%s'\n",
			        mc_opt_rejected(argv));
			check_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("mlchaos check: no config file given\n", stderr);
		check_usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (check_one(argv[i], quiet))
			status = 1;
	fflush(stdout);
	return status;
}
