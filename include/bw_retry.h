/*
 * bw_retry.h - the rules of one connect() call's attempts: which failures
 * are retried, how long each attempt may take, and whether a backoff still
 * fits the deadline (SPEC section 4, "connect and retry").
 *
 * Pure: the caller passes the clock and the random value; the shell does
 * the connecting and the sleeping. The retry budget is bw_budget.h, the
 * delays themselves bw_backoff.h.
 */
#ifndef BW_RETRY_H
#define BW_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "bw_config.h"

typedef struct bw_retry_plan {
    int64_t t0_ms;          /* when connect() was called */
    int64_t deadline_ms;    /* after t0: deadline_ms or the program's own limit, the shorter; 0 = none */
    int64_t own_ms;         /* the program's own limit (SO_SNDTIMEO), 0 = none */
    uint32_t prev_delay_ms; /* the last backoff, for decorrelated jitter */
} bw_retry_plan;

/* The smallest positive of a and b (0 = no limit). */
static inline int64_t bw_retry_min_limit(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

/* Starts the plan of a connect() called at now_ms; own_ms is the program's
 * SO_SNDTIMEO (0 = none). Inline, as bw_retry_attempt_limit: every
 * blocking connect asks both, most with no deadline at all. */
static inline void bw_retry_plan_init(bw_retry_plan *rp, const bw_policy *p, int64_t now_ms,
                                      int64_t own_ms)
{
    rp->t0_ms = now_ms;
    rp->own_ms = own_ms > 0 ? own_ms : 0;
    rp->deadline_ms = bw_retry_min_limit(p->deadline_ms, rp->own_ms);
    rp->prev_delay_ms = 0;
}

/*
 * Time limit of the attempt starting at now_ms: connect_timeout_ms and what
 * is left of the deadline, the shorter (at least 1 ms once a deadline is
 * running); 0 = none. *own_binds is set when the program's own limit is the
 * one that binds, so that its expiry is reported as the kernel would.
 */
static inline int64_t bw_retry_attempt_limit(const bw_retry_plan *rp, const bw_policy *p,
                                             int64_t now_ms, bool *own_binds)
{
    int64_t spent = now_ms - rp->t0_ms;
    int64_t left = 0;
    if (rp->deadline_ms > 0)
        left = rp->deadline_ms - spent > 0 ? rp->deadline_ms - spent : 1;
    int64_t limit = bw_retry_min_limit(p->connect_timeout_ms, left);
    *own_binds = rp->own_ms > 0 && limit > 0 && limit >= rp->own_ms - spent;
    return limit;
}

/* True when failure err (an errno) of attempt n (0 = the first) may be retried:
 * n < retries and err is in retry_on. */
bool bw_retry_wanted(const bw_policy *p, unsigned n, int err);

/*
 * The backoff before retry n at now_ms, drawn with rnd (see bw_backoff.h), or
 * -1 when sleeping it would reach the deadline (no time for another attempt).
 */
int64_t bw_retry_delay(bw_retry_plan *rp, const bw_policy *p, unsigned n, int64_t now_ms,
                       uint64_t rnd);

#endif
