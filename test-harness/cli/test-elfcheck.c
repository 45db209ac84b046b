/* test-elfcheck.c: the ELF reader on hand-built images (32/64-bit, both byte
 * orders, static, dynamic, Go by section or by note, malformed), on real
 * binaries truncated and corrupted, and the PATH / #! resolution. Writes only
 * inside its own temporary directory. Field offsets come from the ELF
 * specification, written out by hand, not from <elf.h>. */
#include "elfcheck.h"
#include "mc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/mc-test-elfcheck-XXXXXX";

/* What to put into a fabricated image. */
struct fab {
	int is_64, msb;
	unsigned type, machine;
	int interp;       /* a PT_INTERP segment */
	int go_note;      /* a PT_NOTE segment holding a "Go" note */
	int note_section; /* an SHT_NOTE section ".note.x" holding a "Go" note */
	const char *name; /* the name of one extra PROGBITS section, or NULL */
};

#define FAB_SIZE 2048
#define PH_OFF   64
#define DATA_OFF 512
#define NOTE_OFF 576
#define STR_OFF  640
#define SH_OFF   1024

static void put(unsigned char *b, size_t off, size_t n, uint64_t v, int msb)
{
	for (size_t i = 0; i < n; i++)
		b[off + (msb ? n - 1 - i : i)] = (unsigned char)(v >> (8 * i));
}

/* Header field offsets/sizes, ELF64 then ELF32 (System V gABI, chapter 4). */
static void put_ehdr(unsigned char *b, const struct fab *f, unsigned phnum, unsigned shnum)
{
	int m = f->msb;

	memcpy(b, "\177ELF", 4);
	b[4] = f->is_64 ? 2 : 1;
	b[5] = m ? 2 : 1;
	b[6] = 1;
	put(b, 16, 2, f->type, m);
	put(b, 18, 2, f->machine, m);
	put(b, 20, 4, 1, m);
	if (f->is_64) {
		put(b, 32, 8, PH_OFF, m);
		put(b, 40, 8, shnum ? SH_OFF : 0, m);
		put(b, 52, 2, 64, m);
		put(b, 54, 2, 56, m);
		put(b, 56, 2, phnum, m);
		put(b, 58, 2, 64, m);
		put(b, 60, 2, shnum, m);
		put(b, 62, 2, shnum ? 1 : 0, m);
	} else {
		put(b, 28, 4, PH_OFF, m);
		put(b, 32, 4, shnum ? SH_OFF : 0, m);
		put(b, 40, 2, 52, m);
		put(b, 42, 2, 32, m);
		put(b, 44, 2, phnum, m);
		put(b, 46, 2, 40, m);
		put(b, 48, 2, shnum, m);
		put(b, 50, 2, shnum ? 1 : 0, m);
	}
}

static void put_phdr(unsigned char *b, const struct fab *f, unsigned i, unsigned type, uint64_t off,
                     uint64_t size)
{
	size_t p = PH_OFF + i * (f->is_64 ? 56 : 32);

	put(b, p, 4, type, f->msb);
	if (f->is_64) {
		put(b, p + 8, 8, off, f->msb);
		put(b, p + 32, 8, size, f->msb);
		put(b, p + 48, 8, 4, f->msb);
	} else {
		put(b, p + 4, 4, off, f->msb);
		put(b, p + 16, 4, size, f->msb);
		put(b, p + 28, 4, 4, f->msb);
	}
}

static void put_shdr(unsigned char *b, const struct fab *f, unsigned i, unsigned name,
                     unsigned type, uint64_t off, uint64_t size)
{
	size_t p = SH_OFF + i * (f->is_64 ? 64 : 40);

	put(b, p, 4, name, f->msb);
	put(b, p + 4, 4, type, f->msb);
	put(b, p + (f->is_64 ? 24 : 16), f->is_64 ? 8 : 4, off, f->msb);
	put(b, p + (f->is_64 ? 32 : 20), f->is_64 ? 8 : 4, size, f->msb);
	put(b, p + (f->is_64 ? 48 : 32), f->is_64 ? 8 : 4, 4, f->msb);
}

/* namesz 4 "Go\0\0", descsz 4, type 4 (the Go build ID), then the desc. */
static void put_go_note(unsigned char *b, const struct fab *f)
{
	put(b, NOTE_OFF, 4, 4, f->msb);
	put(b, NOTE_OFF + 4, 4, 4, f->msb);
	put(b, NOTE_OFF + 8, 4, 4, f->msb);
	memcpy(b + NOTE_OFF + 12, "Go\0\0abcd", 8);
}

/* Sections: [0] null, [1] .shstrtab, then the named one, then .note.x. */
static unsigned put_sections(unsigned char *b, const struct fab *f)
{
	size_t len = 1;
	unsigned n = 2, name_off = 0, note_name_off;

	memcpy(b + STR_OFF + len, ".shstrtab", 10);
	len += 10;
	if (f->name) {
		name_off = (unsigned)len;
		memcpy(b + STR_OFF + len, f->name, strlen(f->name) + 1);
		len += strlen(f->name) + 1;
	}
	note_name_off = (unsigned)len;
	memcpy(b + STR_OFF + len, ".note.x", 8);
	len += 8;
	put_shdr(b, f, 1, 1, 3 /* SHT_STRTAB */, STR_OFF, len);
	if (f->name)
		put_shdr(b, f, n++, name_off, 1 /* SHT_PROGBITS */, DATA_OFF, 8);
	if (f->note_section)
		put_shdr(b, f, n++, note_name_off, 7 /* SHT_NOTE */, NOTE_OFF, 20);
	return n;
}

static void fabricate(const struct fab *f, unsigned char *b)
{
	unsigned phnum = 0, shnum = 0;

	memset(b, 0, FAB_SIZE);
	memcpy(b + DATA_OFF, "/lib/ld-fake.so.1", 18);
	if (f->go_note || f->note_section)
		put_go_note(b, f);
	if (f->interp)
		put_phdr(b, f, phnum++, 3 /* PT_INTERP */, DATA_OFF, 18);
	if (f->go_note)
		put_phdr(b, f, phnum++, 4 /* PT_NOTE */, NOTE_OFF, 20);
	put_phdr(b, f, phnum++, 1 /* PT_LOAD */, 0, FAB_SIZE);
	if (f->name || f->note_section)
		shnum = put_sections(b, f);
	put_ehdr(b, f, phnum, shnum);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n || close(fd) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	chmod(path, mode);
}

static int inspect_bytes(const void *data, size_t n, struct mc_elf_info *info)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/image", dir);
	write_file(path, data, n, 0644);
	return mc_elf_inspect(path, info);
}

static void test_fabricated(void)
{
	static unsigned char b[FAB_SIZE];

	for (int is_64 = 0; is_64 <= 1; is_64++) {
		for (int msb = 0; msb <= 1; msb++) {
			struct fab f = { .is_64 = is_64, .msb = msb, .type = 2, .machine = 0x1234 };
			struct mc_elf_info info;
			int r;

			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(
			    r == 1 && !info.has_interp && !info.is_go && info.machine == 0x1234 &&
			        info.type == 2 && info.is_64 == is_64 && info.is_msb == msb,
			    "static %d-bit msb=%d: r=%d interp=%d go=%d machine=%#x",
			    is_64 ? 64 : 32, msb, r, info.has_interp, info.is_go, info.machine);

			f.interp = 1;
			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(r == 1 && info.has_interp && !info.is_go,
			          "dynamic %d-bit msb=%d: r=%d", is_64 ? 64 : 32, msb, r);

			f.go_note = 1;
			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(r == 1 && info.is_go, "Go PT_NOTE %d-bit msb=%d: r=%d go=%d",
			          is_64 ? 64 : 32, msb, r, info.is_go);

			f.go_note = 0;
			f.note_section = 1;
			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(r == 1 && info.is_go, "Go SHT_NOTE %d-bit msb=%d: r=%d go=%d",
			          is_64 ? 64 : 32, msb, r, info.is_go);

			f.note_section = 0;
			f.name = ".gopclntab";
			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(r == 1 && info.is_go, ".gopclntab %d-bit msb=%d: r=%d go=%d",
			          is_64 ? 64 : 32, msb, r, info.is_go);

			f.name = ".gopclntab.not";
			fabricate(&f, b);
			r = inspect_bytes(b, FAB_SIZE, &info);
			MC_CHECKF(r == 1 && !info.is_go, "near-Go name %d-bit msb=%d: r=%d go=%d",
			          is_64 ? 64 : 32, msb, r, info.is_go);
		}
	}
}

/* Each mutation of a good 64-bit image, and what the reader must answer. */
static void test_malformed(void)
{
	static unsigned char b[FAB_SIZE];
	struct fab f = {
		.is_64 = 1, .type = 2, .machine = 62, .interp = 1, .go_note = 1, .name = ".text"
	};
	struct mc_elf_info info;
	int r;

	fabricate(&f, b);
	r = inspect_bytes(b, 40, &info);
	MC_CHECKF(r == -ENOEXEC, "truncated header: r=%d, want -ENOEXEC", r);
	r = inspect_bytes(b, 3, &info);
	MC_CHECKF(r == 0, "3 bytes of magic: r=%d, want 0 (not ELF)", r);
	r = inspect_bytes("#!/bin/sh\necho hi\n", 18, &info);
	MC_CHECKF(r == 0, "script: r=%d, want 0", r);
	r = inspect_bytes("", 0, &info);
	MC_CHECKF(r == 0, "empty file: r=%d, want 0", r);
	r = inspect_bytes(b, PH_OFF + 56, &info);
	MC_CHECKF(r == -ENOEXEC, "program headers cut: r=%d, want -ENOEXEC", r);

	fabricate(&f, b);
	b[4] = 3;
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == -ENOEXEC, "bad class: r=%d", r);

	fabricate(&f, b);
	put(b, 32, 8, UINT64_MAX - 8, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == -ENOEXEC, "phoff near 2^64: r=%d", r);

	fabricate(&f, b);
	put(b, 56, 2, 0xfffe, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == -ENOEXEC, "phnum beyond the file: r=%d", r);

	fabricate(&f, b);
	put(b, 54, 2, 8, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == -ENOEXEC, "phentsize too small: r=%d", r);

	/* a note whose sizes point far past its segment: not Go, no overrun */
	fabricate(&f, b);
	put(b, NOTE_OFF, 4, 0xfffffff0u, 0);
	put(b, NOTE_OFF + 4, 4, 0xfffffff0u, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == 1 && !info.is_go && info.has_interp, "hostile note sizes: r=%d go=%d", r,
	          info.is_go);

	/* sections do not matter to the kernel: a broken table is skipped */
	fabricate(&f, b);
	put(b, NOTE_OFF + 12, 1, 'X', 0);
	put(b, 62, 2, 500, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == 1 && info.has_interp && !info.is_go, "shstrndx out of range: r=%d", r);
	fabricate(&f, b);
	put(b, NOTE_OFF + 12, 1, 'X', 0);
	put(b, 60, 2, 0xffff, 0);
	r = inspect_bytes(b, FAB_SIZE, &info);
	MC_CHECKF(r == 1 && info.has_interp, "shnum beyond the file: r=%d", r);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

/* Every answer must be one of the documented ones; a crash or hang fails the
 * test by itself. */
static void fuzz_file(const char *path, unsigned rounds)
{
	static unsigned char orig[1 << 16], b[1 << 16];
	struct mc_elf_info info;
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, orig, sizeof(orig)) : -1;
	unsigned bad = 0;

	if (fd >= 0)
		close(fd);
	MC_CHECKF(n > 64, "cannot read %s for fuzzing", path);
	if (n <= 64)
		return;
	for (ssize_t len = 0; len <= n; len += (len < 512 ? 1 : 97)) {
		int r = inspect_bytes(orig, (size_t)len, &info);

		bad += !(r == 1 || r == 0 || r == -ENOEXEC);
	}
	for (unsigned i = 0; i < rounds; i++) {
		memcpy(b, orig, (size_t)n);
		for (int k = 0; k < 8; k++) {
			uint64_t x = next_random();
			/* mostly the headers: that is where the offsets are */
			size_t at = (x & 1) ? (x >> 8) % 256 : (x >> 8) % (uint64_t)n;

			b[at] = (unsigned char)(x >> 40);
		}
		int r = inspect_bytes(b, (size_t)n, &info);

		bad += !(r == 1 || r == 0 || r == -ENOEXEC);
	}
	MC_CHECKF(bad == 0, "%s: %u mutated images gave an undocumented answer", path, bad);
}

/* The fabricated image has every structure (interp, notes, sections) within
 * its first bytes, where the mutations land. */
static void fuzz_fabricated(void)
{
	static unsigned char b[FAB_SIZE];
	struct fab f = { .is_64 = 1,
		         .type = 3,
		         .machine = 62,
		         .interp = 1,
		         .go_note = 1,
		         .note_section = 1,
		         .name = ".go.buildinfo" };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/fab-fuzz", dir);
	for (int is_64 = 0; is_64 <= 1; is_64++) {
		f.is_64 = is_64;
		fabricate(&f, b);
		write_file(path, b, FAB_SIZE, 0644);
		fuzz_file(path, 3000);
	}
}

static void make_file(const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, text, strlen(text), mode);
}

static void make_script(const char *name, const char *text)
{
	make_file(name, text, 0755);
}

static void test_find(void)
{
	char path[PATH_MAX], env_path[3 * PATH_MAX], want[PATH_MAX];
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	int r;

	snprintf(path, sizeof(path), "%s/a", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/b", dir);
	mkdir(path, 0755);
	make_file("a/tool", "#!/bin/sh\n", 0644);
	make_script("b/tool", "#!/bin/sh\n");
	make_file("a/only-a", "#!/bin/sh\n", 0644);

	snprintf(env_path, sizeof(env_path), "%s/a:%s/b", dir, dir);
	setenv("PATH", env_path, 1);
	r = mc_exec_find("tool", path, sizeof(path));
	snprintf(want, sizeof(want), "%s/b/tool", dir);
	MC_CHECKF(r == 0 && strcmp(path, want) == 0, "PATH search skips a non-executable: r=%d %s",
	          r, path);
	r = mc_exec_find("only-a", path, sizeof(path));
	snprintf(want, sizeof(want), "%s/a/only-a", dir);
	MC_CHECKF(r == -EACCES && strcmp(path, want) == 0, "only non-executable: r=%d %s", r, path);
	r = mc_exec_find("no-such-tool", path, sizeof(path));
	MC_CHECKF(r == -ENOENT, "missing: r=%d", r);
	r = mc_exec_find("", path, sizeof(path));
	MC_CHECKF(r == -ENOENT, "empty name: r=%d", r);
	snprintf(want, sizeof(want), "%s/a", dir);
	r = mc_exec_find(want, path, sizeof(path));
	MC_CHECKF(r == -EACCES, "a directory: r=%d", r);
	snprintf(env_path, sizeof(env_path), "/nonexistent::%s/a", dir);
	setenv("PATH", env_path, 1);
	if (chdir(dir) == 0) {
		r = mc_exec_find("b", path, sizeof(path));
		MC_CHECKF(r == -EACCES,
		          "empty PATH entry is the current directory (b is a dir): r=%d", r);
	}
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
}

static void test_resolve(void)
{
	struct mc_exec_target t;
	char want[PATH_MAX], text[PATH_MAX + 64], env_path[2 * PATH_MAX];
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	int r;

	/* s1 -> env -S finds "final" on PATH; s2 -> s1 */
	make_script("b/final", "#!/bin/sh\n");
	make_script("s1", "#!/usr/bin/env -S X=1 final --flag\n");
	snprintf(text, sizeof(text), "#! %s/s1 arg\n", dir);
	make_script("s2", text);
	snprintf(env_path, sizeof(env_path), "%s/b:%s", dir, saved ? saved : "/usr/bin:/bin");
	setenv("PATH", env_path, 1);
	snprintf(want, sizeof(want), "%s/s2", dir);
	r = mc_exec_resolve(want, &t);
	MC_CHECKF(r == 0 && strcmp(t.load_path, "/bin/sh") == 0 && t.interp_depth == 3 &&
	              !t.interp_missing,
	          "s2 -> s1 -> env final -> /bin/sh: r=%d load=%s depth=%u", r, t.load_path,
	          t.interp_depth);

	make_script("broken", "#!/nonexistent/interp -x\n");
	snprintf(want, sizeof(want), "%s/broken", dir);
	r = mc_exec_resolve(want, &t);
	MC_CHECKF(r == 0 && t.interp_missing && strcmp(t.load_path, "/nonexistent/interp") == 0,
	          "missing interpreter: r=%d missing=%d load=%s", r, t.interp_missing, t.load_path);

	make_script("envmissing", "#!/usr/bin/env no-such-interp-xyz\n");
	snprintf(want, sizeof(want), "%s/envmissing", dir);
	r = mc_exec_resolve(want, &t);
	MC_CHECKF(r == 0 && t.interp_missing && strcmp(t.load_path, "no-such-interp-xyz") == 0,
	          "env with a missing program: r=%d missing=%d load=%s", r, t.interp_missing,
	          t.load_path);

	/* a loop of scripts stops after MC_EXEC_MAX_INTERP levels */
	snprintf(text, sizeof(text), "#!%s/loop\n", dir);
	make_script("loop", text);
	snprintf(want, sizeof(want), "%s/loop", dir);
	r = mc_exec_resolve(want, &t);
	MC_CHECKF(r == 0 && t.interp_depth == MC_EXEC_MAX_INTERP, "#! loop: r=%d depth=%u", r,
	          t.interp_depth);

	make_script("plain", "echo no shebang\n");
	snprintf(want, sizeof(want), "%s/plain", dir);
	r = mc_exec_resolve(want, &t);
	MC_CHECKF(r == 0 && t.interp_depth == 0 && strcmp(t.load_path, want) == 0,
	          "no #!: r=%d depth=%u", r, t.interp_depth);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
}

/* Captures what mc_exec_warn() prints for the file at path. */
static int warn_text(const char *path, const char *lib, char *out, size_t size)
{
	struct mc_exec_target t;
	FILE *f = fmemopen(out, size, "w");
	int n;

	memset(out, 0, size);
	if (!f || mc_exec_resolve(path, &t) != 0) {
		if (f)
			fclose(f);
		return -1;
	}
	n = mc_exec_warn(&t, lib, f);
	fclose(f);
	return n;
}

static void test_warnings(void)
{
	static unsigned char b[FAB_SIZE];
	struct fab f = { .is_64 = 1, .type = 2, .machine = 62 };
	char path[PATH_MAX], out[4096];
	int n;

	snprintf(path, sizeof(path), "%s/fab-static", dir);
	fabricate(&f, b);
	write_file(path, b, FAB_SIZE, 0755);
	n = warn_text(path, NULL, out, sizeof(out));
	MC_CHECKF(n == 1 && strstr(out, "is statically linked: LD_PRELOAD cannot reach it"),
	          "static warning: n=%d text=%s", n, out);

	f.interp = 1;
	f.name = ".go.buildinfo";
	snprintf(path, sizeof(path), "%s/fab-go", dir);
	fabricate(&f, b);
	write_file(path, b, FAB_SIZE, 0755);
	n = warn_text(path, NULL, out, sizeof(out));
	MC_CHECKF(n == 1 && strstr(out, "is a Go program") && strstr(out, "cgo"),
	          "Go warning: n=%d text=%s", n, out);

	/* a 32-bit program and a 64-bit library: the loader skips the library */
	f.is_64 = 0;
	f.machine = 3;
	f.name = NULL;
	snprintf(path, sizeof(path), "%s/fab-32", dir);
	fabricate(&f, b);
	write_file(path, b, FAB_SIZE, 0755);
	n = warn_text(path, "/proc/self/exe", out, sizeof(out));
	MC_CHECKF(n == 1 && strstr(out, "is a 32-bit program") && strstr(out, "skip the library"),
	          "class mismatch warning: n=%d text=%s", n, out);
	n = warn_text(path, NULL, out, sizeof(out));
	MC_CHECKF(n == 0 && out[0] == '\0', "dynamic 32-bit without a library: n=%d text=%s", n,
	          out);
}

int main(void)
{
	char cmd[PATH_MAX + 16];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_fabricated();
	test_malformed();
	fuzz_file("/proc/self/exe", 3000);
	fuzz_fabricated();
	test_find();
	test_resolve();
	test_warnings();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (chdir("/") != 0 || system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", dir);
	return mc_test_done("cli-elfcheck-unit");
}
