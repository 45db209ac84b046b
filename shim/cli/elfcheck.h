/* elfcheck.h: what the loader will do with a command before mlchaos starts it:
 * PATH search, #! interpreters, and the ELF facts that decide whether
 * LD_PRELOAD can reach the program. Reads files only; never executes them. */
#ifndef MC_CLI_ELFCHECK_H
#define MC_CLI_ELFCHECK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* #! lines followed at most; the kernel itself stops at a few levels. */
#define MC_EXEC_MAX_INTERP 4

/* Facts read from an ELF file's headers. */
struct mc_elf_info {
	bool is_64;       /* ELFCLASS64 (else ELFCLASS32) */
	bool is_msb;      /* big-endian */
	bool has_interp;  /* PT_INTERP present: ld.so runs and honours LD_PRELOAD */
	bool is_go;       /* .go.buildinfo, .gopclntab, .note.go.buildid or a "Go" note */
	uint16_t type;    /* e_type: ET_EXEC, ET_DYN, ... */
	uint16_t machine; /* e_machine */
};

/* Reads the ELF headers of the open file fd (pread only: the offset of fd is
 * not moved). Every offset and count is checked against the file's size, so a
 * truncated or hostile file is reported, never followed.
 * Returns 1 when fd is an ELF file and fills *ret_info, 0 when it is not an
 * ELF file, -ENOEXEC when it claims to be ELF but its headers are malformed,
 * or another -errno when it cannot be read. */
int mc_elf_inspect_fd(int fd, struct mc_elf_info *ret_info);

/* Same as mc_elf_inspect_fd() on the file at path. */
int mc_elf_inspect(const char *path, struct mc_elf_info *ret_info);

/* Finds cmd the way execvp(3) does: as given when it contains a '/', else in
 * each directory of $PATH (unset: "/bin:/usr/bin"; an empty entry is the
 * current directory), the first regular file that is executable.
 * Returns 0 and the path in ret_path, -ENOENT when nothing of that name
 * exists, -EACCES when one exists but is not executable (its path is then in
 * ret_path), -ENAMETOOLONG when a candidate does not fit in size bytes. */
int mc_exec_find(const char *cmd, char *ret_path, size_t size);

/* Where executing a command really lands, after #! lines. */
struct mc_exec_target {
	char cmd_path[PATH_MAX];  /* the command after the PATH search */
	char load_path[PATH_MAX]; /* the file the kernel maps: cmd_path or its interpreter */
	unsigned interp_depth;    /* #! lines followed to get there */
	bool interp_missing;      /* load_path names an interpreter that does not exist */
};

/* Resolves cmd with mc_exec_find(), then follows #! lines (up to
 * MC_EXEC_MAX_INTERP; "#!/usr/bin/env NAME" continues with NAME found on
 * PATH, as env would). Returns 0 when cmd itself was found (check
 * interp_missing for a broken #! line), or the error of mc_exec_find(). */
int mc_exec_resolve(const char *cmd, struct mc_exec_target *ret_target);

/* Prints to out, one line each prefixed "mlchaos: warning: ", what keeps
 * LD_PRELOAD (the library at lib_path) from reaching the program that
 * running target loads: statically linked, Go, setuid/setgid or file
 * capabilities, another ELF class or machine than the library.
 * Returns the number of warnings printed. */
int mc_exec_warn(const struct mc_exec_target *target, const char *lib_path, FILE *out);

#endif
