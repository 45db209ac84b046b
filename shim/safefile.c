/* safefile.c: opening a file for writing at a path someone else may have prepared
 * (safefile.h). Used by the library's log and trace file and by the command's outputs:
 * never blocks, never follows a link planted at the path, never writes into another
 * user's file; allocation-free and async-signal-safe (strerrordesc_np is a table lookup,
 * unlike strerror, which may translate). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

/* The file is kept only when this says MC_SAFEFILE_OK; figures go to r for the message. */
static enum mc_safefile_why classify(const struct stat *st, struct mc_safefile_refusal *r)
{
	r->mode = st->st_mode;
	r->uid = st->st_uid;
	r->nlink = st->st_nlink;
	if (S_ISLNK(st->st_mode))
		return MC_SAFEFILE_SYMLINK;
	if (!S_ISREG(st->st_mode))
		return MC_SAFEFILE_NOT_REGULAR;
	/* Another user's file: they could read what is written (request ids) or forge it. */
	if (st->st_uid != r->euid)
		return MC_SAFEFILE_NOT_OURS;
	/* Ours, but anyone could forge, cut or erase its lines. */
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return MC_SAFEFILE_OPEN_TO_OTHERS;
	/* Another name for one of our files (a hard link planted where protected_hardlinks
	 * is off): appending would write into that file. */
	if (st->st_nlink > 1)
		return MC_SAFEFILE_LINKED;
	return MC_SAFEFILE_OK;
}

static int refuse(const struct mc_safefile_calls *calls, int fd, struct mc_safefile_refusal *ret)
{
	if (fd >= 0)
		calls->close(fd);
	errno = ret->err ? ret->err : EPERM;
	return -1;
}

int mc_safefile_open(const struct mc_safefile_calls *calls, const char *path, int flags,
                     mode_t mode, struct mc_safefile_refusal *ret)
{
	/* O_NONBLOCK: opening a FIFO for writing would wait for a reader, forever (it fails
	 * with ENXIO instead), and opening a file under another process's lease would wait
	 * for the lease to be broken (EWOULDBLOCK instead). O_NOCTTY: a terminal named here
	 * must not become the host's controlling terminal before it is refused. */
	int open_flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	                 (flags & O_APPEND);
	struct stat st;

	memset(ret, 0, sizeof(*ret));
	ret->euid = geteuid();
	int fd = calls->open(path, open_flags, mode);
	if (fd < 0) {
		ret->err = errno;
		/* For the message only: the open failed, what lstat sees decides nothing. */
		if (lstat(path, &st) == 0)
			ret->why = classify(&st, ret);
		if (ret->why == MC_SAFEFILE_OK)
			ret->why = MC_SAFEFILE_OPEN_FAILED;
		return refuse(calls, -1, ret);
	}
	if (fstat(fd, &st) != 0) {
		ret->err = errno;
		ret->why = MC_SAFEFILE_OPEN_FAILED;
		return refuse(calls, fd, ret);
	}
	ret->why = classify(&st, ret);
	if (ret->why != MC_SAFEFILE_OK)
		return refuse(calls, fd, ret);
	/* O_NONBLOCK was for the open. On a regular file it makes no difference to write(2)
	 * on the usual filesystems (open(2)), but one that honours it (FUSE passes the flag on
	 * to its daemon) could fail a write with EAGAIN: cleared, the fd is an ordinary one. */
	int fl = calls->fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		(void)calls->fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if ((flags & O_TRUNC) && ftruncate(fd, 0) != 0) {
		ret->err = errno;
		ret->why = MC_SAFEFILE_OPEN_FAILED;
		return refuse(calls, fd, ret);
	}
	return fd;
}

/* ---- the message --------------------------------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *s)
{
	while (*s && t->len + 1 < t->cap)
		t->p[t->len++] = *s++;
	t->p[t->len] = '\0';
}

/* v in base 8 or 10, at least min_digits digits. */
static void put_number(struct text *t, unsigned long long v, unsigned base, int min_digits)
{
	char s[24];
	int i = (int)sizeof(s) - 1, n = 0;
	s[i] = '\0';
	do {
		s[--i] = (char)('0' + v % base);
		v /= base;
		n++;
	} while (v || n < min_digits);
	put(t, s + i);
}

static const char *kind_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFDIR:
		return "a directory";
	case S_IFSOCK:
		return "a socket";
	default:
		return "something else";
	}
}

static void put_why(struct text *t, const struct mc_safefile_refusal *r)
{
	const char *desc;

	switch (r->why) {
	case MC_SAFEFILE_OK:
		break;
	case MC_SAFEFILE_OPEN_FAILED:
		put(t, "cannot be opened for writing: ");
		desc = strerrordesc_np(r->err);
		if (desc) {
			put(t, desc);
		} else {
			put(t, "error ");
			put_number(t, (unsigned)r->err, 10, 1);
		}
		break;
	case MC_SAFEFILE_SYMLINK:
		put(t, "is a symbolic link, which is not followed");
		break;
	case MC_SAFEFILE_NOT_REGULAR:
		put(t, "is ");
		put(t, kind_of(r->mode));
		put(t, ", not a regular file");
		break;
	case MC_SAFEFILE_NOT_OURS:
		put(t, "belongs to uid ");
		put_number(t, r->uid, 10, 1);
		put(t, ", not to uid ");
		put_number(t, r->euid, 10, 1);
		put(t, " (the user this runs as)");
		break;
	case MC_SAFEFILE_OPEN_TO_OTHERS:
		put(t, "is writable by group or others (mode ");
		put_number(t, r->mode & 07777, 8, 4);
		put(t, ")");
		break;
	case MC_SAFEFILE_LINKED:
		put(t, "has ");
		put_number(t, r->nlink, 10, 1);
		put(t, " names (hard links): it may be another file");
		break;
	}
}

void mc_safefile_message(const struct mc_safefile_refusal *r, const char *path, const char *what,
                         const char *outcome, char *buf, size_t cap)
{
	struct text t = { buf, 0, cap };

	if (!cap)
		return;
	buf[0] = '\0';
	put(&t, path);
	put(&t, ": the ");
	put(&t, what);
	put(&t, " ");
	put_why(&t, r);
	put(&t, "; ");
	put(&t, outcome);
	if (r->why == MC_SAFEFILE_OPEN_TO_OTHERS)
		put(&t, "; chmod go-w it, or remove it");
	else if (r->why == MC_SAFEFILE_NOT_REGULAR && !S_ISFIFO(r->mode) && !S_ISSOCK(r->mode))
		put(&t, "; give the path of a regular file, in a directory only you can write");
	else if (r->why != MC_SAFEFILE_OPEN_FAILED)
		put(&t, "; remove it, or choose a path in a directory only you can write");
}
