/* commands.h: one entry point per mlchaos subcommand. Each takes the
 * arguments after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit code: 0 ok, 1 the thing checked failed, 2 usage
 * or config error (run/trace: the command's own status, 127 not found). */
#ifndef MC_CLI_COMMANDS_H
#define MC_CLI_COMMANDS_H

int mc_cmd_run(int argc, char **argv);
int mc_cmd_trace(int argc, char **argv);
int mc_cmd_check(int argc, char **argv);
int mc_cmd_select(int argc, char **argv);
int mc_cmd_stats(int argc, char **argv);
int mc_cmd_top(int argc, char **argv);
int mc_cmd_halt(int argc, char **argv);
int mc_cmd_resume(int argc, char **argv);
int mc_cmd_reload(int argc, char **argv);
int mc_cmd_report(int argc, char **argv);
int mc_cmd_metrics(int argc, char **argv);
int mc_cmd_experiment(int argc, char **argv);
int mc_cmd_replay(int argc, char **argv);
int mc_cmd_load(int argc, char **argv);
int mc_cmd_inspect(int argc, char **argv);
int mc_cmd_inject(int argc, char **argv);

#endif
