/* sysname.h: the name of a system call by its number on this architecture ("read" for
 * SYS_read), for `mlchaos trace`'s rows of calls made through syscall(). */
#ifndef MC_SYSNAME_H
#define MC_SYSNAME_H

/* The call's name as in <sys/syscall.h> without SYS_, or NULL for a number the table does
 * not name. Async-signal-safe. */
const char *mc_syscall_name(long nr);

#endif
