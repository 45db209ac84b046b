/* truncate.c: action = truncate, the file as a download cut short would leave it. The size
 * is the file's real size when the call is made (fstat on the fd), so that at = 50% follows a
 * file that grows; a file already shorter than `at` is left alone (no_effect, said in the
 * log line). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard.h"
#include "real.h"
#include "record.h"
#include "truncate.h"

static bool applies(const struct mc_fault *f)
{
	return f->d.action == MC_ACTION_TRUNCATE && !f->d.shadow;
}

/* The real size of fd's regular file, or false. */
static bool file_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fd < 0 || mc_real.fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	*size = (uint64_t)st.st_size;
	return true;
}

/* Opens the bracket and fills what every truncate line says; false: not applicable (logged
 * as no_effect with why) or halted. */
static bool open_detail(struct mc_fault *f, int fd, struct mc_rec_detail *d)
{
	*d = (struct mc_rec_detail){ .applied = true };
	if (!mc_fault_apply_open(f))
		return false;
	if (!file_size(fd, &d->file_size)) {
		d->applied = false;
		d->note = "not a regular file: nothing to truncate";
		mc_fault_apply_close(f, d);
		return false;
	}
	d->at = mc_engine_truncate_end(f->d.rule, d->file_size);
	if (d->at >= d->file_size) {
		d->applied = false;
		d->note = "the file ends at or before at: nothing cut";
		mc_fault_apply_close(f, d);
		return false;
	}
	return true;
}

void mc_truncate_read(struct mc_fault *f, uint64_t *n, int64_t explicit_off)
{
	struct mc_rec_detail d;
	if (!applies(f))
		return;
	int e = errno;
	if (!open_detail(f, f->fd, &d)) {
		errno = e;
		return;
	}
	int64_t off = explicit_off;
	if (off == MC_OFF_CURRENT)
		off = lseek(f->fd, 0, SEEK_CUR);
	if (off < 0) {
		d.applied = false;
		d.note = "file offset unknown: nothing cut";
	} else {
		d.offset = (uint64_t)off;
		d.asked = *n;
		d.allowed = mc_engine_truncate_len(d.at, d.offset, *n);
		if (d.allowed == *n) {
			d.applied = false;
			d.note = "the read ends before the cut";
		}
		*n = d.allowed;
	}
	mc_fault_apply_close(f, &d);
	errno = e;
}

/* Replaces [addr, addr + len) with pages of an empty memory file: touching them raises
 * SIGBUS, as touching a mapping past the end of a real file does. */
static bool map_past_end(void *addr, size_t len, int prot)
{
	int fd = memfd_create("mlchaos-truncated", MFD_CLOEXEC);
	if (fd < 0)
		return false;
	void *r = mc_real.mmap(addr, len, prot, MAP_PRIVATE | MAP_FIXED, fd, 0);
	mc_real.close(fd); /* the mapping keeps the file */
	return r == addr;
}

/* Zeros [p, p + n), inside one page of a private mapping, as the tail of the page that holds
 * a file's end reads. */
static bool zero_tail(char *p, size_t n, int prot)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *base = (char *)((uintptr_t)p & ~(uintptr_t)(page - 1));
	if (!(prot & PROT_WRITE) && mprotect(base, page, prot | PROT_WRITE) != 0)
		return false;
	memset(p, 0, n);
	if (!(prot & PROT_WRITE))
		mprotect(base, page, prot);
	return true;
}

void mc_truncate_mapping(struct mc_fault *f, int fd, int64_t off, void *addr, size_t len, int prot,
                         int flags)
{
	struct mc_rec_detail d;
	if (!applies(f) || addr == MAP_FAILED || off < 0)
		return;
	int e = errno;
	if (!open_detail(f, fd, &d)) {
		errno = e;
		return;
	}
	d.offset = (uint64_t)off;
	d.bytes = len;
	uint64_t keep = d.at > d.offset ? d.at - d.offset : 0; /* mapped bytes before the end */
	if (keep >= len) {
		d.applied = false;
		d.note = "the mapping ends before the cut";
	} else if ((flags & MAP_TYPE) != MAP_PRIVATE) {
		d.applied = false;
		d.note = "shared writable mapping: left alone, the file is never altered";
	} else {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t whole =
		    ((size_t)keep + page - 1) & ~(page - 1); /* first page past the end */
		if (whole > keep && (prot & PROT_READ) &&
		    !zero_tail((char *)addr + keep, (whole < len ? whole : len) - (size_t)keep,
		               prot))
			d.note = "mprotect refused: the last page keeps its bytes";
		if (whole < len && !map_past_end((char *)addr + whole, len - whole, prot))
			d.note = "memfd_create or mmap refused: pages past the end left readable";
	}
	mc_fault_apply_close(f, &d);
	errno = e;
}

void mc_truncate_stat(struct mc_fault *f, bool is_statx, void *out)
{
	if (!applies(f) || !out)
		return;
	int e = errno;
	struct mc_rec_detail d = { .applied = true };
	if (mc_fault_apply_open(f)) {
		if (is_statx) {
			struct statx *sx = out;
			d.file_size = sx->stx_size;
		} else {
			d.file_size = (uint64_t)((struct stat *)out)->st_size;
		}
		d.at = mc_engine_truncate_end(f->d.rule, d.file_size);
		if (d.at >= d.file_size) {
			d.applied = false;
			d.note = "the file ends at or before at: nothing cut";
		} else if (is_statx) {
			struct statx *sx = out;
			sx->stx_size = d.at;
			sx->stx_blocks = (d.at + 511) / 512;
		} else {
			struct stat *st = out;
			st->st_size = (off_t)d.at;
			st->st_blocks = (blkcnt_t)((d.at + 511) / 512);
		}
		mc_fault_apply_close(f, &d);
	}
	errno = e;
}
