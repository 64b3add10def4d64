/* cmd_check.c - `breakwater check`: validate a config file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bw_config.h"
#include "cli.h"

static void print_diag(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                       const char *msg)
{
    int *errors = ctx;
    if (sev == BW_DIAG_ERROR)
        (*errors)++;
    fprintf(stderr, "%s:%d: %s: %s\n", file, line, sev == BW_DIAG_ERROR ? "error" : "warning", msg);
}

/*
 * Warns when the shared state cannot be made in state_dir: every process
 * using the config would then log a warning and keep its state to itself.
 */
static void check_state_dir(const bw_config *cfg)
{
    struct stat st;
    const char *why = NULL;
    if (cfg->state != BW_STATE_SHARED)
        return;
    if (stat(cfg->state_dir, &st) != 0)
        why = errno == ENOENT ? "does not exist" : strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "is not a directory";
    else if (access(cfg->state_dir, W_OK | X_OK) != 0)
        why = "is not writable by this user";
    if (why)
        fprintf(stderr, "%s:0: warning: state_dir %s %s: programs using this config will keep "
                "their state per process (breakers and bulkheads not shared) and log a warning\n",
                cfg->path, cfg->state_dir, why);
}

int bw_cmd_check(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1])) {
        bw_cli_error("usage: breakwater check [FILE]");
        return 2;
    }
    const char *path = bw_cli_config_path(argc == 2 ? argv[1] : NULL);
    if (!path) {
        printf("no config file (BREAKWATER_CONFIG unset, no /etc/breakwater.ini): "
               "the built-in defaults apply to every TCP destination\n");
        return 0;
    }
    int errors = 0;
    bw_config *cfg = NULL;
    if (bw_config_load(path, &cfg, print_diag, &errors) != 0) {
        if (errors == 0)
            fprintf(stderr, "%s:0: error: invalid config\n", path);
        return 1;
    }
    check_state_dir(cfg);
    printf("%s: ok, %zu destination%s\n", path, cfg->n_dests, cfg->n_dests == 1 ? "" : "s");
    bw_config_free(cfg);
    return 0;
}
