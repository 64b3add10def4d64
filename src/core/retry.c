/* retry.c - the attempt rules of one connect() call (see bw_retry.h). */
#include <errno.h>

#include "bw_backoff.h"
#include "bw_retry.h"

/* The smallest positive of a and b (0 = no limit). */
static int64_t min_limit(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

void bw_retry_plan_init(bw_retry_plan *rp, const bw_policy *p, int64_t now_ms, int64_t own_ms)
{
    rp->t0_ms = now_ms;
    rp->own_ms = own_ms > 0 ? own_ms : 0;
    rp->deadline_ms = min_limit(p->deadline_ms, rp->own_ms);
    rp->prev_delay_ms = 0;
}

int64_t bw_retry_attempt_limit(const bw_retry_plan *rp, const bw_policy *p, int64_t now_ms,
                               bool *own_binds)
{
    int64_t spent = now_ms - rp->t0_ms;
    int64_t left = 0;
    if (rp->deadline_ms > 0)
        left = rp->deadline_ms - spent > 0 ? rp->deadline_ms - spent : 1;
    int64_t limit = min_limit(p->connect_timeout_ms, left);
    *own_binds = rp->own_ms > 0 && limit > 0 && limit >= rp->own_ms - spent;
    return limit;
}

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
