/* test_golden.c: the parser's messages against golden files.
 *   unit-golden FILE.ini FILE.expected   the diagnostics of FILE.ini, one per line, must equal
 *                                        FILE.expected byte for byte (run from data/)
 *   unit-golden --valid FILE...          each file parses with no diagnostic at all */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "mc_test.h"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[65536];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Print the first line where got and want differ. */
static void show_difference(const char *got, const char *want)
{
	int line = 1;

	for (; *got && *got == *want; got++, want++)
		if (*got == '\n')
			line++;
	fprintf(stderr, "first difference at output line %d:\n  got:  %.*s\n  want: %.*s\n", line,
	        (int)strcspn(got, "\n"), got, (int)strcspn(want, "\n"), want);
}

static void golden(const char *ini, const char *expected_path)
{
	const char *want = read_all(expected_path);
	struct mc_config *cfg = NULL;
	struct diags d;
	int r;

	MC_CHECK(want != NULL);
	if (!want) {
		fprintf(stderr, "cannot read %s\n", expected_path);
		return;
	}
	memset(&d, 0, sizeof(d));
	r = mc_cfg_parse_file(ini, collect_diag, &d, &cfg);
	MC_CHECK(strcmp(d.text, want) == 0);
	if (strcmp(d.text, want) != 0) {
		fprintf(stderr, "--- %s said:\n%s--- %s wants:\n%s", ini, d.text, expected_path,
		        want);
		show_difference(d.text, want);
	}
	/* any error makes the whole file invalid; warnings alone do not */
	MC_CHECK(d.errors ? r == -EINVAL || r == -ENOENT : r == 0);
	MC_CHECK(d.errors ? cfg == NULL : cfg != NULL);
	mc_cfg_free(cfg);
}

static void valid(const char *path)
{
	struct mc_config *cfg = NULL;
	struct diags d;

	memset(&d, 0, sizeof(d));
	MC_CHECK(mc_cfg_parse_file(path, collect_diag, &d, &cfg) == 0);
	MC_CHECK(cfg != NULL && d.len == 0);
	if (d.len)
		fprintf(stderr, "%s", d.text);
	mc_cfg_free(cfg);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--valid") == 0) {
		for (int i = 2; i < argc; i++)
			valid(argv[i]);
		return mc_test_done("golden --valid");
	}
	if (argc != 3) {
		fprintf(stderr, "usage: unit-golden FILE.ini FILE.expected | --valid FILE...\n");
		return 2;
	}
	golden(argv[1], argv[2]);
	return mc_test_done(argv[1]);
}
