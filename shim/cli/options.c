/* options.c: the messages' side of the commands' option parsing (options.h). Reads getopt's
 * globals, never changes them. */
#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "options.h"

/* Whether getopt stopped inside the short options cluster argv[optind]: glibc moves optind
 * past a cluster only when it takes its last letter, so a letter rejected before the last
 * leaves optind on the cluster (and argv[optind - 1] is whatever came before it). */
static bool inside_cluster(char **argv)
{
	const char *word = argv[optind];
	const char *letter;

	if (!word || word[0] != '-' || word[1] == '-' || word[1] == '\0')
		return false;
	letter = strchr(word + 1, optopt);
	return letter && letter[1] != '\0';
}

const char *mc_opt_rejected(char **argv)
{
	static char short_opt[3] = "-?";
	const char *word = argv[optind - 1];

	/* an unknown long option leaves optopt 0; a long option's missing or unwanted value
	 * leaves its val: either way optind has moved past the option as written */
	if (optopt == 0 || (strncmp(word, "--", 2) == 0 && !inside_cluster(argv)))
		return word;
	short_opt[1] = (char)optopt;
	return short_opt;
}
