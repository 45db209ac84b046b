/* test_sysname.c: the names trace gives to calls made through syscall() (shim/sysname.c):
 * the number of each call a hook family does, or that goes around libc's I/O or the fd table
 * (families.h: those trace warns about), has a name; a number no table row has gets none. */
#include <stddef.h>
#include <sys/syscall.h>

#include "mc_test.h"
#include "sysname.h"

/* Numbers past the last system call of any architecture Linux has. */
#define NR_PAST 1024

static void every_warned_call_named(void)
{
	unsigned warned = 0;
	for (long nr = 0; nr < NR_PAST; nr++) {
		if (!mc_syscall_bypasses_hooks(nr))
			continue;
		warned++;
		MC_CHECKF(mc_syscall_name(nr) != NULL, "system call %ld has no name", nr);
	}
	MC_CHECKF(warned >= 20, "only %u system calls are warned about", warned);
	MC_CHECK(mc_syscall_bypasses_hooks(SYS_read));
	MC_CHECK(mc_syscall_bypasses_hooks(SYS_close));
	MC_CHECK(!mc_syscall_bypasses_hooks(SYS_getpid));
	MC_CHECK(!mc_syscall_bypasses_hooks(SYS_futex));
	MC_CHECK(!mc_syscall_bypasses_hooks(-1));
}

int main(void)
{
	every_warned_call_named();
	MC_CHECK_STR(mc_syscall_name(SYS_read), "read");
	MC_CHECK_STR(mc_syscall_name(SYS_pread64), "pread64");
	MC_CHECK_STR(mc_syscall_name(SYS_recvfrom), "recvfrom");
	MC_CHECK_STR(mc_syscall_name(SYS_sendto), "sendto");
	MC_CHECK_STR(mc_syscall_name(SYS_write), "write");
	MC_CHECK_STR(mc_syscall_name(SYS_mmap), "mmap");
	MC_CHECK_STR(mc_syscall_name(SYS_brk), "brk");
	MC_CHECK_STR(mc_syscall_name(SYS_openat), "openat");
	MC_CHECK_STR(mc_syscall_name(SYS_close), "close");
	MC_CHECK_STR(mc_syscall_name(SYS_statx), "statx");
	MC_CHECK_STR(mc_syscall_name(SYS_clock_nanosleep), "clock_nanosleep");
	MC_CHECK_STR(mc_syscall_name(SYS_futex), "futex");
	MC_CHECK_STR(mc_syscall_name(SYS_gettid), "gettid");
	MC_CHECK_STR(mc_syscall_name(SYS_io_uring_enter), "io_uring_enter");
	MC_CHECK(mc_syscall_name(-1) == NULL);
	MC_CHECK(mc_syscall_name(1000000) == NULL);
	return mc_test_done("unit-sysname");
}
