/*
 * bw_plock.h - a lock of one futex word for memory only this process's
 * threads use (a private state region's entries, the record pool): 0 free,
 * 1 held, 2 held and maybe waited for (Drepper's "Futexes Are Tricky",
 * mutex 2). A fifth of a glibc mutex's instructions uncontended, and none of
 * glibc's internals: compare-and-swap with acquire to take it, exchange
 * with release to give it back (so ThreadSanitizer sees the ordering
 * without annotations). Like the plain mutexes it stands in for: not
 * robust (no holder may end holding it), not recursive, no cancellation
 * point (raw futex calls), and, as a hook's lock must be, taken by no
 * signal handler on a thread that holds it (the hooks' re-entry guard).
 */
#ifndef BW_PLOCK_H
#define BW_PLOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint32_t bw_plock;

#define BW_PLOCK_INIT 0u

/* The contended half of bw_plock_lock_for: waits, at most wait_ms
 * (negative: without bound), for w to be free. 0 once held, or ETIMEDOUT. */
int bw_plock_wait(bw_plock *w, uint32_t seen, int wait_ms);

/* Takes w, waiting at most wait_ms (negative: without bound). 0, or ETIMEDOUT. */
static inline int bw_plock_lock_for(bw_plock *w, int wait_ms)
{
    uint32_t c = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(w, &c, 1, memory_order_acquire,
                                                                  memory_order_relaxed), 1))
        return 0;
    return bw_plock_wait(w, c, wait_ms);
}

static inline void bw_plock_lock(bw_plock *w)
{
    (void)bw_plock_lock_for(w, -1);
}

/* Gives w back, waking its waiters if it may have some. */
void bw_plock_wake(bw_plock *w);

static inline void bw_plock_unlock(bw_plock *w)
{
    if (__builtin_expect(atomic_exchange_explicit(w, 0, memory_order_release) == 2, 0))
        bw_plock_wake(w);
}

/* Frees w whoever held it (a fork child's copy: its holder did not come along). */
static inline void bw_plock_reinit(bw_plock *w)
{
    atomic_store_explicit(w, 0, memory_order_relaxed);
}

#endif
