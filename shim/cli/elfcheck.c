/* elfcheck.c: PATH search, #! following and a bounded ELF header reader that
 * tell whether LD_PRELOAD can reach a program. Never executes, maps or writes
 * what it inspects, and never uses an offset before checking it against the file size. */
#include "elfcheck.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* What a header may make us read, far above any real program: a hostile
 * file costs at most this much I/O. */
#define MC_ELF_MAX_SECTIONS    (1u << 18)
#define MC_ELF_MAX_STRTAB      (1u << 20)
#define MC_ELF_MAX_NOTES_BYTES (1u << 16)

/* The kernel reads this much of a script for its #! line (BINPRM_BUF_SIZE). */
#define MC_SHEBANG_MAX 256

struct elf_file {
	int fd;
	uint64_t size_bytes;
	bool is_64;
	bool is_msb;
};

/* Offset, size and value of a member of the ELF32 or ELF64 form of a struct. */
#define ELF_OFF(f, T, m)      ((f)->is_64 ? offsetof(Elf64_##T, m) : offsetof(Elf32_##T, m))
#define ELF_SIZE(f, T, m)     ((f)->is_64 ? sizeof(((Elf64_##T *)0)->m) : sizeof(((Elf32_##T *)0)->m))
#define ELF_LEN(f, T)         ((f)->is_64 ? sizeof(Elf64_##T) : sizeof(Elf32_##T))
#define ELF_GET(f, buf, T, m) get_uint((f), (buf) + ELF_OFF(f, T, m), ELF_SIZE(f, T, m))

static uint64_t get_uint(const struct elf_file *f, const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[f->is_msb ? i : n - 1 - i];
	return v;
}

/* Reads exactly n bytes at off, or fails with -ENOEXEC when they lie outside
 * the file: the only way this file reads an ELF. */
static int read_at(const struct elf_file *f, uint64_t off, void *buf, size_t n)
{
	size_t done = 0;

	if (off > f->size_bytes || n > f->size_bytes - off)
		return -ENOEXEC;
	while (done < n) {
		ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENOEXEC; /* the file shrank while we read it */
		done += (size_t)r;
	}
	return 0;
}

/* The header fields this file uses, with extended numbering already applied. */
struct elf_hdr {
	uint64_t phoff, shoff;
	uint64_t phentsize, shentsize;
	uint64_t phnum, shnum, shstrndx;
};

/* A note whose name is "Go" (Go's linker writes build ID, ABI hash, ... as
 * such notes, type 1 to 4). Walks the records without trusting any size. */
static bool notes_have_go(const struct elf_file *f, const unsigned char *p, size_t len,
                          uint64_t align)
{
	size_t pad = align == 8 ? 8 : 4;
	size_t off = 0;

	while (len - off >= 12) {
		uint64_t namesz = get_uint(f, p + off, 4);
		uint64_t descsz = get_uint(f, p + off + 4, 4);
		uint64_t name_len = (namesz + pad - 1) / pad * pad;
		uint64_t desc_len = (descsz + pad - 1) / pad * pad;

		off += 12;
		if (namesz > len - off)
			return false;
		if ((namesz == 3 || namesz == 4) && memcmp(p + off, "Go", 3) == 0)
			return true;
		if (name_len > len - off)
			return false;
		off += name_len;
		if (desc_len > len - off)
			return false;
		off += desc_len;
	}
	return false;
}

/* Scans a note area (a PT_NOTE segment or an SHT_NOTE section), reading at
 * most MC_ELF_MAX_NOTES_BYTES of it. */
static int scan_notes(const struct elf_file *f, uint64_t off, uint64_t size, uint64_t align,
                      bool *ret_go)
{
	unsigned char *buf;
	size_t n = size > MC_ELF_MAX_NOTES_BYTES ? MC_ELF_MAX_NOTES_BYTES : (size_t)size;
	int r;

	if (n == 0)
		return 0;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	r = read_at(f, off, buf, n);
	if (r == 0 && notes_have_go(f, buf, n, align))
		*ret_go = true;
	free(buf);
	return r;
}

static int read_ehdr(struct elf_file *f, struct elf_hdr *h, struct mc_elf_info *info)
{
	unsigned char eh[sizeof(Elf64_Ehdr)];
	int r = read_at(f, 0, eh, ELF_LEN(f, Ehdr));

	if (r < 0)
		return r;
	info->type = (uint16_t)ELF_GET(f, eh, Ehdr, e_type);
	info->machine = (uint16_t)ELF_GET(f, eh, Ehdr, e_machine);
	h->phoff = ELF_GET(f, eh, Ehdr, e_phoff);
	h->shoff = ELF_GET(f, eh, Ehdr, e_shoff);
	h->phentsize = ELF_GET(f, eh, Ehdr, e_phentsize);
	h->shentsize = ELF_GET(f, eh, Ehdr, e_shentsize);
	h->phnum = ELF_GET(f, eh, Ehdr, e_phnum);
	h->shnum = ELF_GET(f, eh, Ehdr, e_shnum);
	h->shstrndx = ELF_GET(f, eh, Ehdr, e_shstrndx);
	return 0;
}

/* Section 0 holds the real counts when they overflow the header (elf(5):
 * PN_XNUM, SHN_XINDEX, e_shnum == 0). */
static int apply_extended_numbering(const struct elf_file *f, struct elf_hdr *h)
{
	unsigned char sh[sizeof(Elf64_Shdr)];
	int r;

	if (h->phnum != PN_XNUM && h->shstrndx != SHN_XINDEX && (h->shnum != 0 || h->shoff == 0))
		return 0;
	if (h->shoff == 0 || h->shentsize < ELF_LEN(f, Shdr))
		return -ENOEXEC;
	r = read_at(f, h->shoff, sh, ELF_LEN(f, Shdr));
	if (r < 0)
		return r;
	if (h->phnum == PN_XNUM)
		h->phnum = ELF_GET(f, sh, Shdr, sh_info);
	if (h->shnum == 0)
		h->shnum = ELF_GET(f, sh, Shdr, sh_size);
	if (h->shstrndx == SHN_XINDEX)
		h->shstrndx = ELF_GET(f, sh, Shdr, sh_link);
	return 0;
}

/* Program headers decide what the kernel does: they must be sound. */
static int scan_segments(const struct elf_file *f, const struct elf_hdr *h,
                         struct mc_elf_info *info)
{
	unsigned char ph[sizeof(Elf64_Phdr)];

	if (h->phnum == 0)
		return 0;
	if (h->phentsize < ELF_LEN(f, Phdr) || h->phoff > f->size_bytes ||
	    h->phnum > (f->size_bytes - h->phoff) / h->phentsize)
		return -ENOEXEC;
	for (uint64_t i = 0; i < h->phnum; i++) {
		int r = read_at(f, h->phoff + i * h->phentsize, ph, ELF_LEN(f, Phdr));
		uint64_t type;

		if (r < 0)
			return r;
		type = ELF_GET(f, ph, Phdr, p_type);
		if (type == PT_INTERP)
			info->has_interp = true;
		if (type == PT_NOTE && !info->is_go) {
			r = scan_notes(f, ELF_GET(f, ph, Phdr, p_offset),
			               ELF_GET(f, ph, Phdr, p_filesz),
			               ELF_GET(f, ph, Phdr, p_align), &info->is_go);
			if (r == -ENOMEM)
				return r;
		}
	}
	return 0;
}

static bool is_go_section(const char *name)
{
	static const char *const names[] = {
		".go.buildinfo",
		".gopclntab",
		".gosymtab",
		".note.go.buildid",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* The name at off in a string table of len bytes, or NULL when it does not
 * end inside the table. */
static const char *strtab_name(const char *tab, size_t len, uint64_t off)
{
	if (off >= len || !memchr(tab + off, '\0', len - off))
		return NULL;
	return tab + off;
}

static int scan_one_section(const struct elf_file *f, const unsigned char *sh, const char *tab,
                            size_t tab_len, struct mc_elf_info *info)
{
	const char *name = strtab_name(tab, tab_len, ELF_GET(f, sh, Shdr, sh_name));

	if (name && is_go_section(name)) {
		info->is_go = true;
		return 0;
	}
	if (ELF_GET(f, sh, Shdr, sh_type) != SHT_NOTE)
		return 0;
	return scan_notes(f, ELF_GET(f, sh, Shdr, sh_offset), ELF_GET(f, sh, Shdr, sh_size),
	                  ELF_GET(f, sh, Shdr, sh_addralign), &info->is_go);
}

static int read_shstrtab(const struct elf_file *f, const struct elf_hdr *h, char **ret_tab,
                         size_t *ret_len)
{
	unsigned char sh[sizeof(Elf64_Shdr)];
	uint64_t size;
	char *tab;
	int r;

	if (h->shstrndx >= h->shnum)
		return -ENOEXEC;
	r = read_at(f, h->shoff + h->shstrndx * h->shentsize, sh, ELF_LEN(f, Shdr));
	if (r < 0)
		return r;
	size = ELF_GET(f, sh, Shdr, sh_size);
	if (size == 0 || size > MC_ELF_MAX_STRTAB)
		return -ENOEXEC;
	tab = malloc((size_t)size);
	if (!tab)
		return -ENOMEM;
	r = read_at(f, ELF_GET(f, sh, Shdr, sh_offset), tab, (size_t)size);
	if (r < 0) {
		free(tab);
		return r;
	}
	*ret_tab = tab;
	*ret_len = (size_t)size;
	return 0;
}

/* Sections matter only for finding Go: the kernel ignores them, so a broken
 * section table is skipped rather than reported. */
static int scan_sections(const struct elf_file *f, const struct elf_hdr *h,
                         struct mc_elf_info *info)
{
	unsigned char sh[sizeof(Elf64_Shdr)];
	size_t tab_len = 0;
	char *tab = NULL;
	int r = 0;

	if (h->shoff == 0 || h->shnum == 0 || h->shnum > MC_ELF_MAX_SECTIONS ||
	    h->shentsize < ELF_LEN(f, Shdr) || h->shoff > f->size_bytes ||
	    h->shnum > (f->size_bytes - h->shoff) / h->shentsize)
		return 0;
	if (read_shstrtab(f, h, &tab, &tab_len) == -ENOMEM)
		return -ENOMEM;
	for (uint64_t i = 0; i < h->shnum && !info->is_go && r != -ENOMEM; i++) {
		r = read_at(f, h->shoff + i * h->shentsize, sh, ELF_LEN(f, Shdr));
		if (r == 0)
			r = scan_one_section(f, sh, tab ? tab : "", tab ? tab_len : 1, info);
	}
	free(tab);
	return r == -ENOMEM ? r : 0;
}

/* Reads e_ident: 1 for an ELF file this reader understands, 0 for anything
 * else, -ENOEXEC for an ELF magic with an unknown class, encoding or version. */
static int read_ident(struct elf_file *f)
{
	unsigned char id[EI_NIDENT];
	int r;

	if (f->size_bytes < EI_NIDENT)
		return 0;
	r = read_at(f, 0, id, sizeof(id));
	if (r < 0)
		return r;
	if (memcmp(id, ELFMAG, SELFMAG) != 0)
		return 0;
	if ((id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64) ||
	    (id[EI_DATA] != ELFDATA2LSB && id[EI_DATA] != ELFDATA2MSB) ||
	    id[EI_VERSION] != EV_CURRENT)
		return -ENOEXEC;
	f->is_64 = id[EI_CLASS] == ELFCLASS64;
	f->is_msb = id[EI_DATA] == ELFDATA2MSB;
	return 1;
}

int mc_elf_inspect_fd(int fd, struct mc_elf_info *ret_info)
{
	struct elf_file f = { .fd = fd };
	struct mc_elf_info info = { 0 };
	struct elf_hdr h;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	f.size_bytes = (uint64_t)st.st_size;
	r = read_ident(&f);
	if (r <= 0)
		return r;
	info.is_64 = f.is_64;
	info.is_msb = f.is_msb;
	r = read_ehdr(&f, &h, &info);
	if (r == 0)
		r = apply_extended_numbering(&f, &h);
	if (r == 0)
		r = scan_segments(&f, &h, &info);
	if (r == 0 && !info.is_go)
		r = scan_sections(&f, &h, &info);
	if (r < 0)
		return r;
	*ret_info = info;
	return 1;
}

int mc_elf_inspect(const char *path, struct mc_elf_info *ret_info)
{
	/* O_NONBLOCK: a FIFO named as a command must not hang us in open(). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r;

	if (fd < 0)
		return -errno;
	r = mc_elf_inspect_fd(fd, ret_info);
	close(fd);
	return r;
}

/* What execve(2) would say about one candidate, as execvp(3) sees it. */
static int check_candidate(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return -EACCES;
	return 0;
}

static int copy_path(char *dst, size_t size, const char *dir, size_t dir_len, const char *name)
{
	size_t name_len = strlen(name);

	if (dir_len + 1 + name_len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, dir, dir_len);
	dst[dir_len] = '/';
	memcpy(dst + dir_len + 1, name, name_len + 1);
	return 0;
}

int mc_exec_find(const char *cmd, char *ret_path, size_t size)
{
	const char *path = getenv("PATH");
	char candidate[PATH_MAX];
	bool denied = false;

	if (cmd[0] == '\0')
		return -ENOENT;
	if (strchr(cmd, '/')) {
		if (strlen(cmd) >= size)
			return -ENAMETOOLONG;
		memcpy(ret_path, cmd, strlen(cmd) + 1);
		return check_candidate(cmd);
	}
	if (!path)
		path = "/bin:/usr/bin"; /* what glibc's execvp uses (confstr _CS_PATH) */
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		/* An empty entry means the current directory. */
		int r = end == p
		            ? copy_path(candidate, sizeof(candidate), ".", 1, cmd)
		            : copy_path(candidate, sizeof(candidate), p, (size_t)(end - p), cmd);

		if (r == 0)
			r = check_candidate(candidate);
		if ((r == 0 || (r == -EACCES && !denied)) && strlen(candidate) < size)
			memcpy(ret_path, candidate, strlen(candidate) + 1);
		if (r == 0)
			return 0;
		denied = denied || r == -EACCES;
		p = end;
		if (*p == '\0')
			break;
	}
	return denied ? -EACCES : -ENOENT;
}

/* Splits a #! line into the interpreter and its one optional argument, as
 * binfmt_script does. Returns 1 for a script, 0 for anything else. */
static int read_shebang(const char *path, char *interp, size_t interp_size, char *arg,
                        size_t arg_size)
{
	char buf[MC_SHEBANG_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ssize_t n;
	char *p, *tok, *end;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, MC_SHEBANG_MAX, 0);
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (p = buf + 2; *p == ' ' || *p == '\t'; p++)
		;
	tok = p;
	p += strcspn(p, " \t");
	if (p == tok || (size_t)(p - tok) >= interp_size)
		return 0;
	memcpy(interp, tok, (size_t)(p - tok));
	interp[p - tok] = '\0';
	p += strspn(p, " \t");
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if ((size_t)(end - p) >= arg_size)
		return 0;
	memcpy(arg, p, (size_t)(end - p));
	arg[end - p] = '\0';
	return 1;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The program "#!/usr/bin/env ARG" runs: ARG itself, or with "-S" the first
 * word that is neither an option nor a VAR=value assignment. Returns NULL
 * when it cannot tell (an option env would interpret). */
static const char *env_program(char *arg)
{
	char *save = NULL;
	char *tok;

	if (strncmp(arg, "-S", 2) != 0)
		return arg[0] == '-' || strchr(arg, '=') || arg[0] == '\0' ? NULL : arg;
	for (tok = strtok_r(arg + 2, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		if (tok[0] != '-' && !strchr(tok, '='))
			return tok;
	return NULL;
}

static void set_path(char *dst, const char *src)
{
	size_t n = strnlen(src, PATH_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* One step down the #! chain of t->load_path. Returns 1 when it moved on,
 * 0 when load_path is what the kernel maps. */
static int follow_one(struct mc_exec_target *t)
{
	char interp[PATH_MAX], arg[MC_SHEBANG_MAX + 1], found[PATH_MAX];
	const char *prog;

	if (read_shebang(t->load_path, interp, sizeof(interp), arg, sizeof(arg)) != 1)
		return 0;
	t->interp_depth++;
	set_path(t->load_path, interp);
	if (access(interp, F_OK) < 0) {
		t->interp_missing = true;
		return 0;
	}
	if (strcmp(base_name(interp), "env") != 0 || !(prog = env_program(arg)))
		return 1;
	if (mc_exec_find(prog, found, sizeof(found)) == -ENOENT) {
		set_path(t->load_path, prog);
		t->interp_missing = true;
		return 0;
	}
	set_path(t->load_path, found);
	return 1;
}

int mc_exec_resolve(const char *cmd, struct mc_exec_target *ret_target)
{
	struct mc_exec_target *t = ret_target;
	int r;

	memset(t, 0, sizeof(*t));
	r = mc_exec_find(cmd, t->cmd_path, sizeof(t->cmd_path));
	if (r < 0)
		return r;
	set_path(t->load_path, t->cmd_path);
	while (t->interp_depth < MC_EXEC_MAX_INTERP && follow_one(t) == 1)
		;
	return 0;
}

/* Why the loader runs a program in secure-execution mode (AT_SECURE), where
 * it ignores LD_PRELOAD, or NULL. */
static const char *secure_reason(const char *path)
{
	struct statvfs vfs;
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return NULL; /* the kernel ignores the bits on a nosuid mount */
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
		return "setuid";
	/* setgid without group-execute marks mandatory locking, not setgid */
	if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getgid())
		return "setgid";
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return "given file capabilities";
	return NULL;
}

/* ld.so run directly has no PT_INTERP, yet it is the loader and honours LD_PRELOAD. */
static bool is_loader(const char *path)
{
	const char *b = base_name(path);

	return strncmp(b, "ld-linux", 8) == 0 || strncmp(b, "ld.so", 5) == 0 ||
	       strncmp(b, "ld64.so", 7) == 0;
}

static void describe(const struct mc_exec_target *t, char *buf, size_t size)
{
	if (t->interp_depth == 0)
		snprintf(buf, size, "%s", t->load_path);
	else
		snprintf(buf, size, "%s (the interpreter of %s)", t->load_path, t->cmd_path);
}

static int warn_linkage(const struct mc_elf_info *info, const char *what, const char *path,
                        FILE *out)
{
	if (info->type != ET_EXEC && info->type != ET_DYN)
		return 0;
	if (!info->has_interp && !is_loader(path)) {
		fprintf(
		    out,
		    "mlchaos: warning: %s is statically linked%s: LD_PRELOAD cannot reach it, no fault will be injected and trace will see nothing\n",
		    what, info->is_go ? " (a Go program)" : "");
		return 1;
	}
	if (info->is_go) {
		fprintf(
		    out,
		    "mlchaos: warning: %s is a Go program: Go makes system calls without libc, so faults reach only its cgo calls and trace sees only those\n",
		    what);
		return 1;
	}
	return 0;
}

static int warn_library_mismatch(const struct mc_elf_info *info, const char *what,
                                 const char *lib_path, FILE *out)
{
	struct mc_elf_info lib;

	if (!info->has_interp || !lib_path || mc_elf_inspect(lib_path, &lib) != 1)
		return 0;
	if (lib.is_64 == info->is_64 && lib.machine == info->machine)
		return 0;
	fprintf(
	    out,
	    "mlchaos: warning: %s is a %d-bit program for machine %u and %s is %d-bit for machine %u: the loader will skip the library, no fault will be injected\n",
	    what, info->is_64 ? 64 : 32, info->machine, lib_path, lib.is_64 ? 64 : 32, lib.machine);
	return 1;
}

int mc_exec_warn(const struct mc_exec_target *target, const char *lib_path, FILE *out)
{
	struct mc_elf_info info;
	const char *secure;
	char what[2 * PATH_MAX + 64];
	int n = 0;

	if (target->interp_missing || mc_elf_inspect(target->load_path, &info) != 1)
		return 0;
	describe(target, what, sizeof(what));
	n += warn_linkage(&info, what, target->load_path, out);
	secure = secure_reason(target->load_path);
	if (secure) {
		fprintf(
		    out,
		    "mlchaos: warning: %s is %s: the loader ignores LD_PRELOAD in secure-execution mode (and libmlchaos.so is inert there), no fault will be injected\n",
		    what, secure);
		n++;
	}
	n += warn_library_mismatch(&info, what, lib_path, out);
	return n;
}
