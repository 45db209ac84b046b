/* options.h: what the commands share about their options (getopt_long): how a rejected one
 * is named in a message. */
#ifndef MC_CLI_OPTIONS_H
#define MC_CLI_OPTIONS_H

/* The option getopt_long() just rejected ('?' or ':'), for a message: a long one as written
 * (`--bogus`, `--json=x`, `--timeout` without its value), a short one by its letter (`-z`,
 * also from inside a cluster like -qz or -zq). argv is the vector given to getopt_long(),
 * NULL-terminated; reads optind and optopt. Returns a static buffer or an element of argv. */
const char *mc_opt_rejected(char **argv);

#endif
