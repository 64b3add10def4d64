/* main.c - the breakwater command: dispatch, help and version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *text;
};

static const struct command commands[] = {
    {"run", bw_cmd_run, "breakwater run [-c FILE] [--] COMMAND [ARG...]",
     "Runs COMMAND with libbreakwater.so preloaded (prepended to LD_PRELOAD). With -c,\n"
     "BREAKWATER_CONFIG is set to the absolute path of FILE. COMMAND replaces this\n"
     "process: same pid, its own exit status and signals. When COMMAND cannot be\n"
     "covered (statically linked, or a Go program) one warning says so on stderr.\n"},
    {"check", bw_cmd_check, "breakwater check [FILE]",
     "Validates a config file. Every problem is one line FILE:LINE: error: MESSAGE or\n"
     "FILE:LINE: warning: MESSAGE. Exits 0 when the file is valid (warnings allowed),\n"
     "1 otherwise. FILE defaults to BREAKWATER_CONFIG, then /etc/breakwater.ini.\n"},
    {"status", bw_cmd_status, "breakwater status [-c FILE] [--json]",
     "Shows the shared state of the config FILE (default as for the library): per\n"
     "destination the active connections, their limit and the bulkhead rejections;\n"
     "per address the breaker state, failure rate, calls in the window and the\n"
     "counters. --json prints one JSON object instead (see breakwater(1)).\n"
     "Exits 1 when there is no shared state yet or it is unusable; with\n"
     "state = process it says there is nothing shared to show and exits 0.\n"},
    {"metrics", bw_cmd_metrics, "breakwater metrics [-c FILE]",
     "Prints the shared state in the Prometheus text exposition format (0.0.4),\n"
     "ready for node_exporter's textfile collector. A breaker or bulkhead with\n"
     "scope destination is one series with address=\"*\".\n"},
    {"reset", bw_cmd_reset, "breakwater reset [-c FILE] [DEST]",
     "Closes the breaker(s) of DEST (a destination name or ADDRESS:PORT, IPv6 as\n"
     "[::1]:8080; everything when absent), lifts any override, clears their windows\n"
     "and, for a destination, its retry budget's window. Prints one line per\n"
     "breaker. Exits 1 when DEST is not in the shared state, or with state = process.\n"},
    {"force", bw_cmd_force, "breakwater force [-c FILE] DEST open|closed|auto",
     "Overrides the breaker(s) of DEST: open rejects every connect, closed admits\n"
     "every one, auto hands back to the automatic state. Prints one line per breaker\n"
     "(\"payments 127.0.0.1:8080: breaker forced_open\"). Exits 1 when DEST is not\n"
     "in the shared state, or with state = process.\n"},
    {"doctor", bw_cmd_doctor, "breakwater doctor [-c FILE] [--] PROGRAM [ARG...]",
     "Says, from PROGRAM's file and its libraries (PROGRAM is not run), whether the\n"
     "shim can cover it: static or dynamic, Go, libc, TLS library, io_uring, libraries\n"
     "loaded with RTLD_DEEPBIND; and for each ARG naming a destination (a URL or\n"
     "HOST:PORT) the config section it would match. Exits 0 when PROGRAM can be\n"
     "covered, 1 when it cannot (or cannot be read).\n"},
    {"events", bw_cmd_events, "breakwater events [-c FILE] [--follow] [--json]",
     "Prints the last state changes kept in the shared state (up to 1,024), oldest\n"
     "first, one line each: \"TIME [PID] MESSAGE\", TIME in UTC. Kinds: breaker\n"
     "transitions with their reason, failovers, bulkhead saturation (at most one a\n"
     "second per bulkhead), connects rejected (one event per address, cause and\n"
     "second, counting every rejection of that second), config reloads and reload\n"
     "errors.\n"
     "--follow (-f) then waits for new events and prints each within 200 ms, until\n"
     "interrupted. --json prints one JSON object per line (see breakwater(1)).\n"},
    {"top", bw_cmd_top, "breakwater top [-c FILE] [--count N]",
     "A live table of every destination and address, refreshed every second:\n"
     "breaker state, active connections against max_connections (\"-\" when\n"
     "unlimited; on the destination's row or the address's, as bulkhead_scope\n"
     "says), and connects, failures, retries and rejections per second. On a\n"
     "terminal it fills the window (rows that do not fit are counted in a last\n"
     "line); q or Ctrl-C ends it. When standard output is not a terminal it\n"
     "measures for one second, prints one plain-text table and exits; --count N\n"
     "prints N tables, one a second (on a terminal: stops after N refreshes).\n"},
    {"install-preload", bw_cmd_install_preload, "breakwater install-preload [--library PATH]",
     "Host-wide mode: adds the library (the one 'run' uses, or PATH) to\n"
     "/etc/ld.so.preload, so every program started afterwards loads it: setuid\n"
     "programs and those started by sudo or systemd with a scrubbed environment\n"
     "included; they read /etc/breakwater.ini. Root only. Nothing is written\n"
     "unless the library and every directory above it can be changed by root\n"
     "only, /etc/breakwater.ini (if present) is valid, and a test process with\n"
     "the library preloaded starts, maps it and exits 0; the file is then\n"
     "replaced atomically. Running it again changes nothing.\n"},
    {"uninstall-preload", bw_cmd_uninstall_preload, "breakwater uninstall-preload",
     "Takes every libbreakwater.so entry out of /etc/ld.so.preload (atomically;\n"
     "other entries stay; a file left empty is removed). Programs started\n"
     "afterwards run without the shim; running ones keep it until they exit.\n"},
    {NULL, NULL, NULL, NULL},
};

void bw_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("breakwater: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int bw_cli_program_args(int argc, char **argv, const char *cmd, const char *usage,
                        const char **config)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            *config = argv[++i];
        } else {
            bw_cli_error("%s: unknown option '%s'\nusage: %s", cmd, argv[i], usage);
            return -1;
        }
    }
    if (i >= argc) {
        bw_cli_error("%s: no program given\nusage: %s", cmd, usage);
        return -1;
    }
    return i;
}

const char *bw_cli_config_path(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("BREAKWATER_CONFIG");
    if (env && env[0])
        return env;
    if (access("/etc/breakwater.ini", F_OK) == 0)
        return "/etc/breakwater.ini";
    return NULL;
}

int bw_cli_help(const char *name, FILE *out)
{
    if (!name) {
        fputs("breakwater " BW_VERSION " - retries, circuit breakers and bulkheads for the\n"
              "outgoing TCP connections of unmodified programs.\n\nUsage:\n", out);
        for (const struct command *c = commands; c->name; c++)
            fprintf(out, "  %s\n", c->usage);
        fputs("  breakwater --version | --help | help COMMAND\n\n"
              "Environment: BREAKWATER_CONFIG, BREAKWATER_LOG, BREAKWATER_DISABLE.\n"
              "See breakwater(1) and breakwater.ini(5).\n", out);
        return 0;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            fprintf(out, "Usage: %s\n\n%s", c->usage, c->text);
            return 0;
        }
    }
    bw_cli_error("no such command '%s' (try 'breakwater --help')", name);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bw_cli_help(NULL, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("breakwater %s\n", BW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return bw_cli_help(NULL, stdout);
    if (strcmp(cmd, "help") == 0) {
        if (argc > 3) {
            bw_cli_error("usage: breakwater help [COMMAND]");
            return 2;
        }
        return bw_cli_help(argc == 3 ? argv[2] : NULL, stdout);
    }
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            return c->run(argc - 1, argv + 1);
    bw_cli_error("unknown command '%s' (try 'breakwater --help')", cmd);
    return 2;
}
