/* launch.h: starting the user's command as a child of mlchaos and waiting for
 * it, with signals forwarded. The environment is prepared by the caller. */
#ifndef MC_CLI_LAUNCH_H
#define MC_CLI_LAUNCH_H

#include <stdbool.h>

/* Exit codes of mc_launch() when the command never ran (as sh(1) uses them). */
#define MC_EXIT_NOT_FOUND      127
#define MC_EXIT_NOT_EXECUTABLE 126

/* Runs argv[0] with execvp(3) semantics in a child that inherits the current
 * environment, the signal dispositions and mask mlchaos itself started with,
 * and nothing of mlchaos' own handlers. Unless quiet, first prints what keeps
 * the library at lib_path from reaching the program (see mc_exec_warn()).
 * While waiting, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent
 * to mlchaos are passed on to the child.
 * Returns the child's exit status, 128+N when a signal N killed it, or
 * MC_EXIT_NOT_FOUND / MC_EXIT_NOT_EXECUTABLE after printing why. */
int mc_launch(char **argv, const char *lib_path, bool quiet);

/* The errno a child wrote to the close-on-exec pipe fd when its exec failed, or 0 when the
 * exec succeeded (the pipe closed without a word). */
int mc_launch_exec_error(int fd);

#endif
