/* cmd_check.c - `breakwater check`: validate a config file. */
#include <stdio.h>
#include <string.h>

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
    printf("%s: ok, %zu destination%s\n", path, cfg->n_dests, cfg->n_dests == 1 ? "" : "s");
    bw_config_free(cfg);
    return 0;
}
