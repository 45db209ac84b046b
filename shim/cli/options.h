/* options.h: what the commands share about their options (getopt_long): where they may
 * go, as each --help says it, and how a rejected one is named in a message. */
#ifndef MC_CLI_OPTIONS_H
#define MC_CLI_OPTIONS_H

/* Every command but run and trace parses its options with getopt_long() permuting (no '+'
 * in the optstring): options may come before or after the operands (`stats PID --json`), and
 * `--` ends them, so an operand that begins with '-' (a key, a file, a negative number) is
 * written after it. run and trace stop at CMD, whose own options are CMD's (cmd_run.c).
 * The --help of each permuting command says so with this line. */
#define MC_HELP_OPTION_ORDER "Options may come before or after the operands; '--' ends them.\n"

/* The option getopt_long() just rejected ('?' or ':'), for a message: a long one as written
 * (`--bogus`, `--json=x`, `--timeout` without its value), a short one by its letter (`-z`,
 * also from inside a cluster like -qz or -zq). argv is the vector given to getopt_long(),
 * NULL-terminated; reads optind and optopt. Returns a static buffer or an element of argv. */
const char *mc_opt_rejected(char **argv);

#endif
