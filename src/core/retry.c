/* retry.c - the attempt rules of one connect() call (see bw_retry.h). */
#include <errno.h>

#include "bw_backoff.h"
#include "bw_retry.h"

bool bw_retry_wanted(const bw_policy *p, unsigned n, int err)
{
    if (n >= p->retries)
        return false;
    switch (err) {
    case ECONNREFUSED:
        return p->retry_on & BW_RETRY_REFUSED;
    case ENETUNREACH:
    case EHOSTUNREACH:
        return p->retry_on & BW_RETRY_UNREACHABLE;
    case ETIMEDOUT:
        return p->retry_on & BW_RETRY_TIMEOUT;
    default:
        return false;
    }
}

int64_t bw_retry_delay(bw_retry_plan *rp, const bw_policy *p, unsigned n, int64_t now_ms,
                       uint64_t rnd)
{
    uint32_t delay = bw_backoff_delay(p, n, rp->prev_delay_ms, rnd);
    rp->prev_delay_ms = delay;
    if (rp->deadline_ms > 0 && now_ms + delay - rp->t0_ms >= rp->deadline_ms)
        return -1;
    return delay;
}
