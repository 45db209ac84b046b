/* replay.c: a plain main() for the fuzz harnesses, so the normal build (any compiler, no
 * libFuzzer) replays the kept corpus as a regression test. Arguments are files or
 * directories (one level, sorted by name); every input goes through LLVMFuzzerTestOneInput
 * once. Exit 0 when all inputs passed, 1 when no input was found, 2 on a usage or I/O
 * error; a failed check aborts. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (4u << 20) /* larger files are not fuzz inputs: refuse them */

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	uint8_t *buf = malloc(REPLAY_MAX_INPUT + 1);
	size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT + 1, f) : 0;
	int bad = !buf || ferror(f) || n > REPLAY_MAX_INPUT;
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: unreadable or larger than %u bytes\n", path,
		        REPLAY_MAX_INPUT);
		free(buf);
		return -EIO;
	}
	/* An exact-size copy: a read past the input's end is then caught by ASan. */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(exact, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns the number of inputs replayed, or -errno. */
static long replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, skip_dots, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	long done = 0;
	int err = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		struct stat st;
		if (!err && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			err = replay_file(path);
			done += err == 0;
		}
		free(names[i]);
	}
	free(names);
	return err ? err : done;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	long total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i])
		                        : (replay_file(argv[i]) == 0 ? 1 : -1);
		if (n < 0)
			return 2;
		printf("replayed %ld inputs from %s\n", n, argv[i]);
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found: the corpus is missing\n");
		return 1;
	}
	printf("replayed %ld inputs, all checks held\n", total);
	return 0;
}
