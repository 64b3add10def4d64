/*
 * log_sink.c - where the shim's log lines go: stderr, syslog or a file
 * (log_target, log_file), through the real functions, never the hooks.
 *
 * The destination is an immutable snapshot published by an atomic pointer:
 * a reload may change it while any thread logs. A replaced snapshot is
 * never freed (a thread may still be writing through it); one is made only
 * when a reload really changes log_target or log_file, so they stay few and
 * small. The shim keeps no descriptor open: a log file is opened per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "bw_log.h"
#include "shim.h"

struct log_dest {
    enum bw_log_target target;
    const char *path;          /* BW_LOGTO_FILE only */
};

static const struct log_dest to_stderr = {BW_LOGTO_STDERR, ""};
static _Atomic(const struct log_dest *) dest = &to_stderr;

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
static int open_log_file(const char *path)
{
    static _Atomic int refused_reported;
    int fd = bw_real.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
                          0600);
    if (fd >= 0 || atomic_exchange(&refused_reported, 1))
        return fd;
    char msg[PATH_MAX + 160];
    int n = snprintf(msg, sizeof msg, "breakwater[%ld]: error: log file %s %s; logging to stderr\n",
                     (long)getpid(), path,
                     errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
    write_all(2, msg, n < (int)sizeof msg ? (size_t)n : sizeof msg - 1);
    return -1;
}

/* The log sink: one line to the destination in force. */
static void sink(enum bw_log_level level, const char *line, size_t len)
{
    const struct log_dest *d = atomic_load_explicit(&dest, memory_order_acquire);
    if (d->target == BW_LOGTO_SYSLOG) {
        static const int prio[] = {LOG_ERR, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        /* closelog() right away: the shim keeps no descriptor of its own open. */
        syslog(prio[level], "%.*s", (int)len - 1, line);
        closelog();
        return;
    }
    int fd = 2;
    if (d->target == BW_LOGTO_FILE) {
        fd = open_log_file(d->path);
        if (fd < 0)
            fd = 2;
    }
    write_all(fd, line, len);
    if (fd != 2)
        bw_real.close(fd);
}

void bw_log_sink_start(void)
{
    bw_log_setup(BW_LOG_WARN, sink);
}

/* A snapshot of cfg's destination: the one in force when it is the same,
 * a new one otherwise, NULL when out of memory. */
static const struct log_dest *dest_of(const bw_config *cfg)
{
    const struct log_dest *cur = atomic_load_explicit(&dest, memory_order_relaxed);
    const char *path = cfg->log_target == BW_LOGTO_FILE ? cfg->log_path : "";
    if (cur->target == cfg->log_target && strcmp(cur->path, path) == 0)
        return cur;
    size_t len = strlen(path) + 1;
    struct log_dest *d = malloc(sizeof *d + len);
    if (!d)
        return NULL;
    char *copy = (char *)(d + 1);
    memcpy(copy, path, len);
    d->target = cfg->log_target;
    d->path = copy;
    return d;
}

void bw_log_sink_apply(const bw_config *cfg)
{
    enum bw_log_level level = cfg ? cfg->log_level : BW_LOG_WARN;
    if (cfg) {
        const struct log_dest *d = dest_of(cfg);
        if (d)
            atomic_store_explicit(&dest, d, memory_order_release);
        else
            bw_log(BW_LOG_ERROR, "out of memory: log_target and log_file left as they were");
    }
    bw_env_log_level(&level);   /* BREAKWATER_LOG wins over log_level */
    bw_log_setup(level, sink);
}
