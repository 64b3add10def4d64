/*
 * reentry.c - who may run the shim's own machinery on this thread, now.
 *
 * Two situations must not touch anything the shim shares:
 *  - a vfork child (vfork.c sets bw_vfork_child): it runs on its parent's
 *    memory, so a close() there that released a record would release the
 *    parent's record, slot and epoll facts;
 *  - a hook re-entered on a thread that is already inside the shim: a
 *    signal handler that calls close() or connect() (both async-signal-safe
 *    in POSIX) while the interrupted code holds the record pool's lock, a
 *    connection's lock or a shared entry's lock; or the shim's own calls
 *    landing in its hooks.
 * Such a hook passes the call straight through. A close there still takes
 * the descriptor's record out of the table (a lock-free exchange) before the
 * real close, and leaves the rest (releasing the slot, which takes locks)
 * to the outermost bw_leave() of the same thread: reconciled a moment later.
 */
#include <pthread.h>

#include "shim.h"

__thread bool bw_vfork_child BW_TLS;
__thread int bw_depth BW_TLS;

/* Records closed by a re-entered hook, released when the thread leaves. */
#define DEFERRED_MAX 64
static __thread bw_conn *deferred[DEFERRED_MAX] BW_TLS;
__thread volatile int bw_n_deferred BW_TLS;

bool bw_defer_unref(bw_conn *c)
{
    if (bw_vfork_child)
        return false;
    int n = bw_n_deferred;
    if (n >= DEFERRED_MAX)
        return false;
    deferred[n] = c;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    bw_n_deferred = n + 1;
    return true;
}

void bw_leave_slow(void)
{
    /* Still inside (depth 1) while draining: a signal meanwhile defers too. */
    for (;;) {
        int n = bw_n_deferred;
        if (n == 0)
            break;
        bw_conn *c = deferred[n - 1];
        bw_n_deferred = n - 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        bw_conn_release(c);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    bw_depth = 0;
}

__thread bw_conn *bw_locked_conn BW_TLS;
__thread pthread_mutex_t *bw_locked_mutex BW_TLS;

void bw_leave_cancelled(void *unused)
{
    (void)unused;
    bw_conn *c = bw_locked_conn;
    if (c) {
        bw_locked_conn = NULL;
        pthread_mutex_unlock(bw_locked_mutex);
        bw_conn_unref(c);   /* the reference the write took; released below */
    }
    bw_leave();
}
