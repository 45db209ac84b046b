/* outfile.h: writing a file the way a watching reader never sees half of it: a temporary
 * name beside it (created exclusively), then rename into place. Shared by the generators. */
#ifndef MC_OUTFILE_H
#define MC_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

struct mc_out {
	FILE *f;
	char tmp[4096];
	const char *path;
};

/* Opens PATH.PID.tmp for writing; 0 or -errno. */
int mc_out_open(struct mc_out *o, const char *path);

/* Closes, and renames into place when ok; on any error the temporary file is removed and
 * "PROG: cannot write PATH: reason" printed. 0 or -errno. */
int mc_out_close(struct mc_out *o, bool ok, const char *prog);

#endif
