/*
 * init.c - start-up of the shim: real functions, environment (environment.c),
 * logging (log_sink.c), the config (config_read.c), in that order.
 *
 * Start-up runs in our constructor, or earlier from the first hook that needs
 * it (another library's constructor may connect before ours runs). It opens
 * nothing that stays open: the config is read and closed, log files are
 * opened per line. Reloads are reload.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bw_log.h"
#include "shim.h"

atomic_bool bw_disabled;

static void init_once(void)
{
    int saved = errno;
    bw_real_resolve();
    bw_log_sink_start();
    bw_env_read();
    if (!atomic_load(&bw_disabled)) {
        const bw_config *cfg = bw_config_read(true);
        if (!cfg)
            atomic_store(&bw_disabled, true);
        bw_log_sink_apply(cfg);
        unsigned listed, resolved = bw_real_resolved(&listed);
        bw_log(BW_LOG_DEBUG, "real functions: %u of %u resolved", resolved, listed);
        if (cfg) {
            const char *path = bw_env_config_path();
            bw_cfg_publish(cfg);   /* the first of 64 free slots: cannot fail */
            bw_adopt_inherited();  /* connections an exec'd image left open */
            bw_log(BW_LOG_DEBUG, "breakwater " BW_VERSION " started in %s: config %s, "
                   "%zu destinations, state %s", program_invocation_name,
                   path[0] ? path : "built-in defaults", cfg->n_dests,
                   cfg->state == BW_STATE_SHARED ? cfg->state_dir : "per process");
        }
    }
    errno = saved;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread bool in_init BW_TLS;
/* Set once init_once has run: every later call (each connect's) returns at
 * once, before the thread-local flag and pthread_once (issue 18). */
static atomic_bool init_done;

void bw_shim_init(void)
{
    if (__builtin_expect(atomic_load_explicit(&init_done, memory_order_acquire), 1))
        return;
    if (in_init)
        return;   /* re-entered from inside start-up: the caller uses the fallbacks */
    in_init = true;
    pthread_once(&once, init_once);
    in_init = false;
    atomic_store_explicit(&init_done, true, memory_order_release);
}

__attribute__((constructor)) static void bw_constructor(void)
{
    bw_shim_init();
}
