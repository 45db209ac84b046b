/* safefile.h: opening for writing a file at a configured path that someone else may have
 * prepared (a world-writable directory, a predictable name such as /var/tmp/chaos-%p.jsonl).
 * Shared by the library (through mc_real) and the command (plain libc): libc only, no
 * allocation, no lock, no locale, so it may run in a forked child of a threaded host. */
#ifndef MC_SAFEFILE_H
#define MC_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* The calls the opening goes through: the library passes mc_real's, the command libc's. */
struct mc_safefile_calls {
	int (*open)(const char *path, int flags, ...);
	int (*fcntl)(int fd, int cmd, ...);
	int (*close)(int fd);
};

enum mc_safefile_why {
	MC_SAFEFILE_OK,
	MC_SAFEFILE_OPEN_FAILED,    /* err: open's or ftruncate's errno */
	MC_SAFEFILE_SYMLINK,        /* the path names a symbolic link */
	MC_SAFEFILE_NOT_REGULAR,    /* mode: a FIFO, a device, a directory, a socket */
	MC_SAFEFILE_NOT_OURS,       /* uid: it belongs to another user than the effective one */
	MC_SAFEFILE_OPEN_TO_OTHERS, /* mode: group or others may write it */
	MC_SAFEFILE_LINKED,         /* nlink: it has other names (hard links) */
};

/* Why a file was refused, with the figures the message shows. */
struct mc_safefile_refusal {
	enum mc_safefile_why why;
	int err;
	mode_t mode;
	uid_t uid, euid;
	nlink_t nlink;
};

/* Opens path write-only for flags (O_APPEND to add to it, O_TRUNC to replace its content,
 * or 0), creating it with mode when it does not exist, and keeps it only if it is safe to
 * write: a regular file (never a FIFO, whose open would block until a reader comes, nor a
 * device), reached without a symbolic link at its last component (O_NOFOLLOW), owned by
 * the effective user, writable by nobody else, with no other name. The checks are made
 * with fstat on the opened fd, never on the path before opening it (no race between the
 * check and the use); O_TRUNC is applied only once they passed, so a refused file is left
 * as it was. The fd is close-on-exec and blocking as usual.
 * Returns the fd, or -1 with *ret saying why (the path is then looked at with lstat, for
 * the message only). Never blocks: the open is non-blocking. */
int mc_safefile_open(const struct mc_safefile_calls *calls, const char *path, int flags,
                     mode_t mode, struct mc_safefile_refusal *ret);

/* The message for a refusal, into buf (cut to cap, always terminated), as
 * "PATH: the WHAT WHY; OUTCOME; ADVICE": what is wrong with the file ("is a FIFO, not a
 * regular file", "belongs to uid 65534, not to uid 1000 (the user this runs as)", "is
 * writable by group or others (mode 0666)", "cannot be opened for writing: No such file or
 * directory"...), what the caller does instead (outcome), and what the user can do about
 * it, when something general can be said. */
void mc_safefile_message(const struct mc_safefile_refusal *r, const char *path, const char *what,
                         const char *outcome, char *buf, size_t cap);

#endif
