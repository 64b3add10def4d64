/*
 * init.c - start-up of the shim: real functions, environment, config, logging,
 * and the reload check.
 *
 * Start-up runs in our constructor, or earlier from the first hook that needs
 * it (another library's constructor may connect before ours runs). It opens
 * nothing that stays open: the config is read and closed, log files are
 * opened per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bw_hostcache.h"
#include "bw_log.h"
#include "record.h"
#include "shim.h"

#define BW_SYSTEM_CONFIG "/etc/breakwater.ini"

atomic_bool bw_disabled;

static bool secure_mode;
static bool env_level_set;
static enum bw_log_level env_level;
static char config_path[PATH_MAX];       /* "" = built-in defaults */
static enum bw_log_target log_target = BW_LOGTO_STDERR;
static char log_path[PATH_MAX];

int64_t bw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = bw_real.write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        line += n;
        len -= (size_t)n;
    }
}

/*
 * Opens the log file for one line, or returns -1 (the line then goes to
 * stderr). O_NOFOLLOW: a symbolic link planted at the path (in a directory
 * another user can write to) must not redirect a root program's appends to a
 * file of the attacker's choice. A refused path is reported once on stderr.
 */
static int open_log_file(void)
{
    static _Atomic int refused_reported;
    int fd = bw_real.open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
                          0600);
    if (fd >= 0 || atomic_exchange(&refused_reported, 1))
        return fd;
    char msg[PATH_MAX + 160];
    int n = snprintf(msg, sizeof msg, "breakwater[%ld]: error: log file %s %s; logging to stderr\n",
                     (long)getpid(), log_path,
                     errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
    write_all(2, msg, n < (int)sizeof msg ? (size_t)n : sizeof msg - 1);
    return -1;
}

/* The log sink: every write goes through the real functions, never our hooks. */
static void sink(enum bw_log_level level, const char *line, size_t len)
{
    if (log_target == BW_LOGTO_SYSLOG) {
        static const int prio[] = {LOG_ERR, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        /* closelog() right away: the shim keeps no descriptor of its own open. */
        syslog(prio[level], "%.*s", (int)len - 1, line);
        closelog();
        return;
    }
    int fd = 2;
    if (log_target == BW_LOGTO_FILE) {
        fd = open_log_file();
        if (fd < 0)
            fd = 2;
    }
    write_all(fd, line, len);
    if (fd != 2)
        bw_real.close(fd);
}

void bw_init_apply_log(const bw_config *cfg)
{
    enum bw_log_level level = cfg ? cfg->log_level : BW_LOG_WARN;
    if (cfg) {
        log_target = cfg->log_target;
        memcpy(log_path, cfg->log_path, sizeof log_path);
    }
    bw_log_setup(env_level_set ? env_level : level, sink);
}

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

/* Loads path (or the built-in config when empty). Reports failure in one line. */
static const bw_config *load(const char *path, bool at_start)
{
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

static void read_environment(void)
{
    secure_mode = getauxval(AT_SECURE) != 0;
    const char *dis = secure_getenv("BREAKWATER_DISABLE");
    if (!dis)
        dis = getenv("BREAKWATER_DISABLE");   /* honoured in secure mode too (SPEC §7) */
    if (dis && strcmp(dis, "1") == 0)
        atomic_store(&bw_disabled, true);
    bw_log_setup(BW_LOG_WARN, sink);
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

static void init_once(void)
{
    int saved = errno;
    bw_real_resolve();
    read_environment();
    if (!atomic_load(&bw_disabled)) {
        const bw_config *cfg = load(config_path, true);
        if (!cfg)
            atomic_store(&bw_disabled, true);
        bw_init_apply_log(cfg);
        unsigned listed, resolved = bw_real_resolved(&listed);
        bw_log(BW_LOG_DEBUG, "real functions: %u of %u resolved", resolved, listed);
        if (cfg) {
            bw_cfg_publish(cfg);   /* the first of 64 free slots: cannot fail */
            bw_adopt_inherited();  /* connections an exec'd image left open */
            bw_log(BW_LOG_DEBUG, "breakwater " BW_VERSION " started in %s: config %s, "
                   "%zu destinations, state %s", program_invocation_name,
                   config_path[0] ? config_path : "built-in defaults", cfg->n_dests,
                   cfg->state == BW_STATE_SHARED ? cfg->state_dir : "per process");
        }
    }
    errno = saved;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread bool in_init;

void bw_shim_init(void)
{
    if (in_init)
        return;   /* re-entered from inside start-up: the caller uses the fallbacks */
    in_init = true;
    pthread_once(&once, init_once);
    in_init = false;
}

__attribute__((constructor)) static void bw_constructor(void)
{
    bw_shim_init();
}

const char *bw_init_config_path(void)
{
    return config_path;
}

const bw_config *bw_init_reload_file(void)
{
    return load(config_path, false);
}
