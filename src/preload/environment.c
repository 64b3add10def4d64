/*
 * environment.c - what the shim reads from its environment at start-up
 * (SPEC §2): BREAKWATER_DISABLE, BREAKWATER_LOG, BREAKWATER_CONFIG, and
 * secure-execution mode, in which only /etc/breakwater.ini is read. Written
 * once by start-up, before any other thread of the shim's can read it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "bw_log.h"
#include "shim.h"

#define BW_SYSTEM_CONFIG "/etc/breakwater.ini"

static bool env_level_set;
static enum bw_log_level env_level;
static char config_path[PATH_MAX];       /* "" = built-in defaults */

void bw_env_read(void)
{
    bool secure_mode = getauxval(AT_SECURE) != 0;
    const char *dis = secure_getenv("BREAKWATER_DISABLE");
    if (!dis)
        dis = getenv("BREAKWATER_DISABLE");   /* honoured in secure mode too (SPEC §7) */
    if (dis && strcmp(dis, "1") == 0)
        atomic_store(&bw_disabled, true);
    if (dis && dis[0] && strcmp(dis, "1") != 0 && strcmp(dis, "0") != 0)
        bw_log(BW_LOG_WARN, "BREAKWATER_DISABLE='%.40s' is neither 1 nor 0; not disabling", dis);
    const char *lvl = secure_mode ? NULL : getenv("BREAKWATER_LOG");
    if (lvl && !lvl[0])
        lvl = NULL;   /* set but empty: as if unset */
    if (lvl && !bw_log_level_parse(lvl, &env_level))
        bw_log(BW_LOG_ERROR, "BREAKWATER_LOG='%.40s' is not one of off, error, warn, info, "
               "debug; using the config's log_level", lvl);
    else if (lvl)
        env_level_set = true;
    const char *p = secure_mode ? NULL : getenv("BREAKWATER_CONFIG");
    if (p && p[0]) {
        if (strlen(p) >= sizeof config_path) {
            bw_log(BW_LOG_ERROR, "BREAKWATER_CONFIG is longer than %zu bytes; intercepting nothing",
                   sizeof config_path - 1);
            atomic_store(&bw_disabled, true);
            return;
        }
        strcpy(config_path, p);
    } else if (access(BW_SYSTEM_CONFIG, F_OK) == 0) {
        strcpy(config_path, BW_SYSTEM_CONFIG);
    }
}

const char *bw_env_config_path(void)
{
    return config_path;
}

bool bw_env_log_level(enum bw_log_level *level)
{
    if (env_level_set)
        *level = env_level;
    return env_level_set;
}
