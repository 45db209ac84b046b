/* sysname.h: the name of a system call by its number on this architecture ("read" for
 * SYS_read), and whether a hook family does its work, for `mlchaos trace`'s rows of calls
 * made through syscall(). */
#ifndef MC_SYSNAME_H
#define MC_SYSNAME_H

#include <stdbool.h>

/* The call's name as in <sys/syscall.h> without SYS_, or NULL for a number the table does
 * not name. Async-signal-safe. */
const char *mc_syscall_name(long nr);

/* True for a system call that does what a hook family would fault, or that goes around
 * libc's I/O or the fd table (families.h): made through syscall(), it escapes the rules, and
 * trace warns. Others, such as gettid or futex, are only counted. Async-signal-safe. */
bool mc_syscall_bypasses_hooks(long nr);

#endif
