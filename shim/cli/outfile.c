/* outfile.c: the command's output files (outfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "outfile.h"
#include "safefile.h"

int mc_outfile_open(const char *cmd, const char *path, int flags, const char *what,
                    const char *outcome)
{
	static const struct mc_safefile_calls libc = { open, fcntl, close };
	struct mc_safefile_refusal no;
	char msg[4096 + 512];
	int fd = mc_safefile_open(&libc, path, flags, 0600, &no);

	if (fd >= 0)
		return fd;
	mc_safefile_message(&no, path, what, outcome, msg, sizeof(msg));
	fprintf(stderr, "mlchaos %s: %s\n", cmd, msg);
	errno = no.err ? no.err : EPERM; /* the caller may pass it on */
	return -1;
}
