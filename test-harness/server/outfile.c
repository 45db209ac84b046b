/* outfile.c: see outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int mc_out_open(struct mc_out *o, const char *path)
{
	int n = snprintf(o->tmp, sizeof(o->tmp), "%s.%ld.tmp", path, (long)getpid());

	o->path = path;
	if (n < 0 || (size_t)n >= sizeof(o->tmp))
		return -ENAMETOOLONG;
	o->f = fopen(o->tmp, "wbx");
	return o->f ? 0 : -errno;
}

int mc_out_close(struct mc_out *o, bool ok, const char *prog)
{
	int r = 0;

	if (ferror(o->f))
		r = -EIO;
	if (fclose(o->f) != 0 && r == 0)
		r = -errno;
	if (ok && r == 0 && rename(o->tmp, o->path) < 0)
		r = -errno;
	if (!ok || r < 0)
		unlink(o->tmp);
	if (r < 0)
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, o->path, strerror(-r));
	return r;
}
