/* probe.c: a stand-in for libmlchaos.so in the command's tests: when preloaded
 * it appends one line (pid and program) to $MC_PROBE_LOG, proving the loader
 * took it. It interposes nothing and never writes anywhere else. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void mc_probe_loaded(void)
{
	const char *log = getenv("MC_PROBE_LOG");
	char exe[256], line[512];
	ssize_t n;
	int fd, len;

	if (!log || !log[0])
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	len = snprintf(line, sizeof(line), "loaded %d %s\n", (int)getpid(), exe);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)len) < 0) {
		/* nothing to do: the test then sees no line and says so */
	}
	close(fd);
}
