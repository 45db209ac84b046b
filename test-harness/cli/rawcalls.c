/* rawcalls.c: system calls made through syscall(), around libc's wrappers, for
 * trace-syscalls.sh: one of the stat family's (newfstatat, or fstat where the architecture
 * has no newfstatat), one of the read family's (read), one that no family does (getpid), and
 * one that goes around the fd table (close). */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct stat st;
#ifdef SYS_newfstatat
	long r = syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0);
#else
	long r = syscall(SYS_fstat, 0, &st);
#endif
	long pid = syscall(SYS_getpid);
	char byte[4];
	int zero = open("/dev/zero", O_RDONLY);
	long got = syscall(SYS_read, zero, byte, sizeof(byte));
	close(zero);
	int fd = dup(1);
	long closed = syscall(SYS_close, fd);
	return r == 0 && pid > 0 && got == (long)sizeof(byte) && closed == 0 ? 0 : 1;
}
