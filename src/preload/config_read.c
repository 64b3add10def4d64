/*
 * config_read.c - reading the config file, at start-up and on a reload,
 * with the failure reported in one line (and, at start-up with
 * on_config_error = exit, the program stopped with EX_CONFIG).
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "bw_log.h"
#include "record.h"
#include "shim.h"

/* Collects the first error of a failed load and counts the rest. */
struct first_error {
    char text[512];
    int count;
};

static void collect(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                    const char *msg)
{
    struct first_error *fe = ctx;
    if (sev != BW_DIAG_ERROR)
        return;
    if (fe->count++ == 0)
        snprintf(fe->text, sizeof fe->text, "%s:%d: %s", file, line, msg);
}

/* inih handler that only looks for on_config_error = exit in [global]. */
static int find_exit(void *user, const char *section, const char *name, const char *value)
{
    if (strcmp(section, "global") == 0 && strcmp(name, "on_config_error") == 0)
        *(bool *)user = strcmp(value, "exit") == 0;
    return 1;
}

/* on_config_error of a file that failed to load: read just that key. */
static bool wants_exit(const char *path)
{
    struct stat st;
    bool exit_wanted = false;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= BW_CONFIG_MAX_FILE)
        ini_parse(path, find_exit, &exit_wanted);
    return exit_wanted;
}

const bw_config *bw_config_read(bool at_start)
{
    const char *path = bw_env_config_path();
    bw_config *cfg = NULL;
    if (!path[0])
        return bw_config_builtin();
    struct first_error fe = {{0}, 0};
    if (bw_config_load(path, &cfg, collect, &fe) == 0)
        return cfg;
    if (at_start && wants_exit(path)) {
        bw_log(BW_LOG_ERROR, "%s%s; exiting (on_config_error = exit)", fe.text,
               fe.count > 1 ? " (and more errors: run 'breakwater check')" : "");
        _exit(EX_CONFIG);
    }
    bw_log(BW_LOG_ERROR, "%s%s; %s", fe.count ? fe.text : path,
           fe.count > 1 ? " (and more errors: run 'breakwater check')" : "",
           at_start ? "intercepting nothing" : "keeping the previous config");
    if (!at_start)
        bw_record_config(BW_EV_CONFIG_ERROR, fe.count ? fe.text : path, (uint32_t)fe.count);
    return NULL;
}
