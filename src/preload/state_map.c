/*
 * state_map.c - the shim's state region, mapped on first use: the shared
 * file when state = shared and it is usable, else private memory (with one
 * warning saying why).
 */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "bw_log.h"
#include "bw_state.h"
#include "shim.h"

static bw_state state;
static _Atomic int state_ready;          /* 0 not yet, 1 mapping, 2 ready, 3 failed */

bw_state *bw_shim_state(const bw_config *cfg)
{
    int r = atomic_load_explicit(&state_ready, memory_order_acquire);
    if (r == 2)
        return &state;
    /* Another thread is mapping it: wait (briefly, bounded) rather than run
     * stateless, or the first concurrent connects of a process would all
     * pass an empty bulkhead. */
    for (int i = 0; r == 1 && i < 2000; i++) {
        struct timespec nap = {0, 1000000};
        int saved = errno;
        nanosleep(&nap, NULL);
        errno = saved;
        r = atomic_load_explicit(&state_ready, memory_order_acquire);
    }
    if (r == 2)
        return &state;
    if (r != 0)
        return NULL;    /* still being mapped, or failed: run stateless */
    int expected = 0;
    if (!atomic_compare_exchange_strong(&state_ready, &expected, 1))
        return bw_shim_state(cfg);   /* lost the race: wait for the winner, as above */
    int saved = errno;
    int ok = -1;
    if (cfg->state == BW_STATE_SHARED) {
        char path[PATH_MAX], why[PATH_MAX + 128];
        bw_state_path(cfg, path, sizeof path);
        ok = bw_state_map_file(path, cfg->path, true, &state, why, sizeof why);
        if (ok != 0)
            bw_log(BW_LOG_WARN, "shared state unusable (%s); using process state", why);
    }
    if (ok != 0)
        ok = bw_state_map_private(cfg->path, &state);
    atomic_store_explicit(&state_ready, ok == 0 ? 2 : 3, memory_order_release);
    errno = saved;
    return ok == 0 ? &state : NULL;
}

bw_state *bw_shim_state_mapped(void)
{
    return atomic_load_explicit(&state_ready, memory_order_acquire) == 2 ? &state : NULL;
}

static bool is_self(int32_t pid, uint64_t start, void *ctx)
{
    (void)start;
    return pid == *(pid_t *)ctx;
}

/* Private state is the child's own copy: its locks may be held by threads
 * that did not come along, and the slots in it are the parent's. */
void bw_shim_state_atfork_child(void)
{
    int mapping = 1;   /* the thread mapping it did not come along: map afresh */
    atomic_compare_exchange_strong(&state_ready, &mapping, 0);
    if (atomic_load(&state_ready) != 2 || state.shared)
        return;
    bw_state_reinit_locks(&state);
    pid_t self = getpid();
    for (size_t i = 0; i < state.n_entries; i++) {
        bw_entry *e = &state.entries[i];
        if (__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) == 2)
            bw_bulkhead_reclaim(&e->bulkhead, is_self, &self);
    }
}
