/* outfile.h: the files the command writes at a path the user gave (replay -o, trace
 * --json, an experiment's target_log), opened with safefile.h's checks through libc. */
#ifndef MC_CLI_OUTFILE_H
#define MC_CLI_OUTFILE_H

/* Opens path for writing as mc_safefile_open does (flags O_APPEND or O_TRUNC), creating
 * it 0600: what is written there (request keys, a program's output) is the user's alone.
 * Returns the fd, or -1 (errno: open's error, or EPERM for a refused file) after one line
 * on stderr, "mlchaos CMD: PATH: the WHAT ...; OUTCOME; what to do", leaving the file as
 * it was. */
int mc_outfile_open(const char *cmd, const char *path, int flags, const char *what,
                    const char *outcome);

#endif
