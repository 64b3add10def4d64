/* plock.c - the waiting half of bw_plock.h's futex lock. */
#include <errno.h>
#include <time.h>

#include "bw_plock.h"
#include "bw_sys.h"

/* A wait without bound still naps in slices, so a lost wake costs a second, not a hang. */
#define SLICE_MS 1000

int bw_plock_wait(bw_plock *w, uint32_t seen, int wait_ms)
{
    struct timespec t0, now;
    if (wait_ms >= 0)
        bw_sys_clock(CLOCK_MONOTONIC, &t0);
    /* Marked 2 before sleeping, so the holder's unlock knows to wake us. */
    uint32_t c = seen == 2 ? 2 : atomic_exchange_explicit(w, 2, memory_order_acquire);
    while (c != 0) {
        int64_t left = SLICE_MS;
        if (wait_ms >= 0) {
            bw_sys_clock(CLOCK_MONOTONIC, &now);
            left = wait_ms - ((int64_t)(now.tv_sec - t0.tv_sec) * 1000 +
                              (now.tv_nsec - t0.tv_nsec) / 1000000);
            if (left <= 0)
                return ETIMEDOUT;
        }
        bw_sys_futex_wait((const uint32_t *)w, 2, left);
        c = atomic_exchange_explicit(w, 2, memory_order_acquire);
    }
    return 0;
}

void bw_plock_wake(bw_plock *w)
{
    bw_sys_futex_wake_all((const uint32_t *)w);
}
