/* cli.h - the subcommands of the breakwater tool, each in its own file. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include <stdio.h>

/* Each returns the process exit status: 0 success, 1 failure, 2 usage error. */
int bw_cmd_run(int argc, char **argv);
int bw_cmd_check(int argc, char **argv);
int bw_cmd_status(int argc, char **argv);
int bw_cmd_metrics(int argc, char **argv);
int bw_cmd_reset(int argc, char **argv);
int bw_cmd_force(int argc, char **argv);
int bw_cmd_doctor(int argc, char **argv);
int bw_cmd_events(int argc, char **argv);
int bw_cmd_top(int argc, char **argv);
int bw_cmd_install_preload(int argc, char **argv);
int bw_cmd_uninstall_preload(int argc, char **argv);

/* The library `run` preloads (see cmd_run.c): 0 and its path in out
 * (PATH_MAX bytes), or -1 when it is nowhere to be found. */
int bw_find_library(char *out);

/* Prints the help of one command (or the overview for NULL); returns 0, or 2 if unknown. */
int bw_cli_help(const char *command, FILE *out);

/* Prints "breakwater: MESSAGE" on stderr. */
void bw_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parses "[-c FILE] [--] PROGRAM [ARG...]" after the command name argv[0]:
 * *config gets FILE (left alone without -c). Returns the index of PROGRAM,
 * or -1 after printing a usage error naming cmd and usage.
 */
int bw_cli_program_args(int argc, char **argv, const char *cmd, const char *usage,
                        const char **config);

/* The config path the library would use: FILE from -c, else BREAKWATER_CONFIG,
 * else /etc/breakwater.ini when it exists; NULL for the built-in defaults. */
const char *bw_cli_config_path(const char *given);

#endif
