/*
 * reload.c - re-reading the config file when it changes (reload = on).
 *
 * A connect looks at the file's modification time at most once every
 * BW_RELOAD_PERIOD_MS (a second).
 * A small file is parsed right there; a large one (more than
 * BW_RELOAD_INLINE_MAX bytes: some thousands of sections, whose parse can
 * take a second) in a short-lived thread of the shim's own, so that no
 * connect waits for it: connects go on under the config in force until the
 * new one is published. Old configs nobody holds any longer are freed at
 * these checks too (config_ref.c): small ones right there, large ones (whose
 * freeing can take as long as a parse) by such a thread. One check, reload
 * or sweep runs at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "bw_log.h"
#include "record.h"
#include "shim.h"

#define BW_RELOAD_INLINE_MAX (256 * 1024)
#define BW_RELOAD_PERIOD_MS 1000   /* between two looks at the file */
#define BW_RELOAD_SLOW_MS 100      /* a connect held up longer is reported */

static _Atomic int64_t next_check_us;   /* monotonic microseconds, as connect reads them */
static _Atomic int busy;                 /* a check or reload is running */
/* Written by the thread that holds `busy` (a check, or the reload thread
 * it started), read by the next one: atomics, so that no access depends on
 * `busy` alone for its ordering. */
static _Atomic int64_t failed_mtime_ns = -1;   /* a broken version already reported */
static atomic_bool pending_reload;             /* for the thread: reload, then sweep */
static _Atomic int64_t pending_mtime_ns;

/* True when the file's modification time or identity differs from cfg's
 * and it is not the broken version reported last time; *size is its size. */
static bool file_changed(const bw_config *cfg, int64_t *mtime_ns, off_t *size)
{
    struct stat st;
    if (stat(bw_env_config_path(), &st) != 0)
        return false;   /* gone: keep what we have */
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    *size = st.st_size;
    if (*mtime_ns == failed_mtime_ns)
        return false;
    return *mtime_ns != cfg->mtime_ns || st.st_ino != cfg->ino || st.st_dev != cfg->dev;
}

/* Publishes fresh, or frees it when 64 configs are still held. 0 or -1. */
static int publish(const bw_config *fresh)
{
    if (bw_cfg_publish(fresh) == 0)
        return 0;
    /* Free records pin the configs they were last made under: let go. */
    bw_conn_pool_drop_idle_configs();
    bw_cfg_sweep(false);
    if (bw_cfg_publish(fresh) == 0)
        return 0;
    bw_log(BW_LOG_WARN, "not reloading %s: 63 older configs are still in use by open "
           "connections; keeping the previous config", bw_env_config_path());
    bw_config_free((bw_config *)fresh);
    return -1;
}

/* Parses and publishes the file. The time it takes is in the info line; a
 * parse that held up a connect for long is reported once as a warning. */
static void reload(int64_t mtime_ns, bool in_thread)
{
    static bool slow_reported;
    int64_t t0 = bw_now_ms();
    const bw_config *fresh = bw_config_read(false);
    int64_t took = bw_now_ms() - t0;
    if (!fresh) {
        failed_mtime_ns = mtime_ns;   /* report a broken file once, not every second */
        return;
    }
    if (publish(fresh) != 0)
        return;
    bw_log_sink_apply(fresh);
    bw_log(BW_LOG_INFO, "reloaded %s: %zu destinations in %lld ms%s", bw_env_config_path(),
           fresh->n_dests, (long long)took, in_thread ? ", off the connect path" : "");
    bw_record_config(BW_EV_RELOAD, bw_env_config_path(), (uint32_t)fresh->n_dests);
    if (!in_thread && took >= BW_RELOAD_SLOW_MS && !slow_reported) {
        slow_reported = true;
        bw_log(BW_LOG_WARN, "reloading %s (%zu destinations) held up a connect for %lld ms",
               bw_env_config_path(), fresh->n_dests, (long long)took);
    }
}

static void *reload_thread(void *arg)
{
    (void)arg;
    if (pending_reload)
        reload(pending_mtime_ns, true);
    bw_cfg_sweep(false);
    atomic_store(&busy, 0);
    return NULL;
}

/* Starts reload_thread, detached, with every signal blocked (the program's
 * signals must go to its own threads). False when no thread could be made
 * (a seccomp filter, a thread limit): the caller then reloads itself. */
static bool start_thread(void)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int r = pthread_create(&t, &attr, reload_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return r == 0;
}

/* One check, by the thread that won `busy`: frees the configs nobody holds
 * and reloads a changed file, here or by a thread (which then clears
 * `busy`). Returns true when the file changed and was reloaded here. */
static bool check(const bw_config *cfg)
{
    /* Configs whose last connection closed since the last look. */
    size_t large_left = bw_cfg_sweep(true);
    int64_t mtime_ns = 0;
    off_t size = 0;
    bool changed = file_changed(cfg, &mtime_ns, &size);
    pending_reload = changed && size > BW_RELOAD_INLINE_MAX;
    pending_mtime_ns = mtime_ns;
    if ((pending_reload || large_left) && start_thread())
        return false;
    if (large_left)
        bw_cfg_sweep(false);
    if (changed)
        reload(mtime_ns, false);
    atomic_store(&busy, 0);
    return changed;
}

/* The check when one is due at *now_us: at most one thread a second gets
 * here, so it is kept out of the hold's own path. *now_us becomes -1 when
 * the check ran (a reload may have taken long: the caller reads the clock
 * afresh). */
static __attribute__((noinline)) const bw_config *check_due(bw_cfg_ref **ref, const bw_config *cfg,
                                                            int64_t *now_us)
{
    int64_t now = *now_us;
    int64_t due = atomic_load_explicit(&next_check_us, memory_order_relaxed);
    if (now < due ||
        !atomic_compare_exchange_strong(&next_check_us, &due, now + BW_RELOAD_PERIOD_MS * 1000))
        return cfg;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&busy, &idle, 1))
        return cfg;
    int saved = errno;
    *now_us = -1;
    if (check(cfg)) {
        bw_cfg_drop(*ref);
        *ref = bw_cfg_hold(&cfg);   /* this connect already runs under the new one */
    }
    errno = saved;
    return cfg;
}

const bw_config *bw_shim_config_hold_at(bw_cfg_ref **ref, int64_t *now_us)
{
    const bw_config *cfg;
    *ref = bw_cfg_hold(&cfg);
    if (!cfg || !cfg->reload || !bw_env_config_path()[0])
        return cfg;
    int64_t us = bw_now_us();   /* CLOCK_MONOTONIC: us / 1000 is bw_now_ms */
    *now_us = us;
    if (us < atomic_load_explicit(&next_check_us, memory_order_relaxed))
        return cfg;
    return check_due(ref, cfg, now_us);
}

const bw_config *bw_shim_config_hold(bw_cfg_ref **ref)
{
    int64_t now_us;
    return bw_shim_config_hold_at(ref, &now_us);
}

/* A fork child: a reload running in a thread that did not come along will
 * never finish there; the child checks the file afresh. */
void bw_init_atfork_child(void)
{
    atomic_store(&busy, 0);
}
