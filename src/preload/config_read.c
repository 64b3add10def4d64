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
    bw_diag_first fe = {.label = ""};
    if (bw_config_load(path, &cfg, bw_diag_keep_first, &fe) == 0)
        return cfg;
    if (at_start && wants_exit(path)) {
        bw_log(BW_LOG_ERROR, "%s%s; exiting (on_config_error = exit)", fe.text,
               fe.errors > 1 ? " (and more errors: run 'breakwater check')" : "");
        _exit(EX_CONFIG);
    }
    bw_log(BW_LOG_ERROR, "%s%s; %s", fe.errors ? fe.text : path,
           fe.errors > 1 ? " (and more errors: run 'breakwater check')" : "",
           at_start ? "intercepting nothing" : "keeping the previous config");
    if (!at_start)
        bw_record_config(BW_EV_CONFIG_ERROR, fe.errors ? fe.text : path, (uint32_t)fe.errors);
    return NULL;
}
