/*
 * state_map.c - the shim's state region, mapped on first use: the shared
 * file when state = shared and it is usable, else private memory, with one
 * warning that says truthfully what the process runs with. A shared file
 * that shrinks under the program (state_guard.c) is left for a fresh
 * private region, again with one warning.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bw_log.h"
#include "bw_state.h"
#include "shim.h"

/* [0] the first mapping; [1] the private region taken when [0], a shared
 * file, shrank. Regions are never unmapped: connections keep pointers into
 * the one they started on. */
static bw_state regions[2];
static _Atomic(bw_state *) active;
enum { MAP_NOT_YET, MAP_UNDER_WAY, MAP_READY, MAP_FAILED };
static _Atomic int state_ready;          /* MAP_* */
/* A thread that finds another mapping the region naps this long, at most
 * this many times (2 s in all), before it runs stateless. */
#define MAP_NAP_NS 1000000L
#define MAP_NAPS 2000
static _Atomic int shrink_handled;
static char shared_path[PATH_MAX];

/* Maps a private region into st. Returns 0, or -1 with the reason in why. */
static int map_private(const char *config_path, bw_state *st, char *why, size_t whylen)
{
    if (bw_state_map_private(config_path, st) == 0)
        return 0;
    snprintf(why, whylen, "%s", strerror(errno));
    return -1;
}

/* Maps the first region per cfg and logs what the process runs with. */
static int map_first(const bw_config *cfg)
{
    char why[PATH_MAX + 128], pwhy[128];
    bw_state *st = &regions[0];
    if (cfg->state == BW_STATE_SHARED) {
        bw_state_path(cfg, shared_path, sizeof shared_path);
        if (bw_state_map_file(shared_path, cfg->path, true, st, why, sizeof why) == 0) {
            if (bw_state_guard_install(st->hdr, st->size) != 0)
                bw_log(BW_LOG_WARN, "no SIGBUS guard for %s (%s): a shrunk file would be fatal",
                       shared_path, strerror(errno));
            return 0;
        }
        if (map_private(cfg->path, st, pwhy, sizeof pwhy) == 0) {
            bw_log(BW_LOG_WARN, "shared state unusable (%s); using process state", why);
            return 0;
        }
        bw_log(BW_LOG_WARN, "shared state unusable (%s); process state unusable too (%s): "
               "breaker and bulkhead are off", why, pwhy);
        return -1;
    }
    if (map_private(cfg->path, st, pwhy, sizeof pwhy) == 0)
        return 0;
    bw_log(BW_LOG_WARN, "process state unusable (%s): breaker and bulkhead are off", pwhy);
    return -1;
}

/* The shared file shrank (a SIGBUS was repaired): new connections get a
 * fresh private region; the first caller maps it and says so, once. */
static __attribute__((noinline)) bw_state *after_shrink(const bw_config *cfg)
{
    if (atomic_exchange(&shrink_handled, 1))
        return atomic_load_explicit(&active, memory_order_acquire);
    char pwhy[128];
    if (map_private(cfg->path, &regions[1], pwhy, sizeof pwhy) == 0) {
        bw_log(BW_LOG_WARN, "state file %s shrank under the program; using process state",
               shared_path);
        atomic_store_explicit(&active, &regions[1], memory_order_release);
    } else {
        bw_log(BW_LOG_WARN, "state file %s shrank under the program; process state unusable (%s): "
               "breaker and bulkhead are off", shared_path, pwhy);
        atomic_store_explicit(&active, NULL, memory_order_release);
    }
    return atomic_load_explicit(&active, memory_order_acquire);
}

static bw_state *state_not_ready(const bw_config *cfg, int r);

bw_state *bw_shim_state(const bw_config *cfg)
{
    int r = atomic_load_explicit(&state_ready, memory_order_acquire);
    if (__builtin_expect(r == MAP_READY, 1)) {
        if (__builtin_expect(bw_state_guard_tripped(), 0))
            return after_shrink(cfg);
        return atomic_load_explicit(&active, memory_order_relaxed);
    }
    return state_not_ready(cfg, r);
}

/* bw_shim_state before the region is mapped (r: state_ready as read),
 * out of line: a connect finds it mapped but for the first ones. */
static __attribute__((noinline)) bw_state *state_not_ready(const bw_config *cfg, int r)
{
    /* Another thread is mapping it: wait (briefly, bounded) rather than run
     * stateless, or the first concurrent connects of a process would all
     * pass an empty bulkhead. */
    for (int i = 0; r == MAP_UNDER_WAY && i < MAP_NAPS; i++) {
        struct timespec nap = {0, MAP_NAP_NS};
        int saved = errno;
        nanosleep(&nap, NULL);
        errno = saved;
        r = atomic_load_explicit(&state_ready, memory_order_acquire);
    }
    if (r == MAP_READY)
        return bw_shim_state(cfg);
    if (r != MAP_NOT_YET)
        return NULL;    /* still being mapped, or failed: run stateless */
    int expected = MAP_NOT_YET;
    if (!atomic_compare_exchange_strong(&state_ready, &expected, MAP_UNDER_WAY))
        return bw_shim_state(cfg);   /* lost the race: wait for the winner, as above */
    int saved = errno;
    int ok = map_first(cfg);
    if (ok == 0)
        atomic_store_explicit(&active, &regions[0], memory_order_relaxed);
    atomic_store_explicit(&state_ready, ok == 0 ? MAP_READY : MAP_FAILED, memory_order_release);
    errno = saved;
    return ok == 0 ? &regions[0] : NULL;
}

bw_state *bw_shim_state_mapped(void)
{
    return atomic_load_explicit(&state_ready, memory_order_acquire) == MAP_READY ? atomic_load_explicit(&active, memory_order_acquire) : NULL;
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
    int mapping = MAP_UNDER_WAY;   /* the thread mapping it did not come along: map afresh */
    atomic_compare_exchange_strong(&state_ready, &mapping, MAP_NOT_YET);
    bw_state *st = atomic_load(&active);
    if (atomic_load(&state_ready) != MAP_READY || !st || st->shared)
        return;
    bw_state_reinit_locks(st);
    pid_t self = getpid();
    for (size_t i = 0; i < st->n_entries; i++) {
        bw_entry *e = &st->entries[i];
        if (__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) == BW_ENTRY_READY)
            bw_bulkhead_reclaim(&e->bulkhead, is_self, &self);
    }
}
