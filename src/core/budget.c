/*
 * budget.c - the 10-second retry budget. See bw_budget.h for the rule.
 */
#include <string.h>
#include "bw_budget.h"

/* Larger percentages change nothing useful and could overflow the product. */
#define PERCENT_LIMIT 1000000u

static int64_t sec_of(int64_t now_ms)
{
    int64_t s = now_ms / 1000;
    return (now_ms % 1000 < 0) ? s - 1 : s;     /* floor, also below zero */
}

static unsigned index_of(int64_t sec)
{
    int64_t i = sec % BW_BUDGET_SECONDS;
    return (unsigned)(i < 0 ? i + BW_BUDGET_SECONDS : i);
}

static void add32(uint32_t *c)
{
    if (*c != UINT32_MAX)
        (*c)++;
}

static void add64(uint64_t *c)
{
    if (*c != UINT64_MAX)
        (*c)++;
}

/*
 * Whether last_sec means anything. The range check keeps the subtraction in
 * effective_sec from overflowing on a corrupt value: any now_ms / 1000 is
 * well inside it.
 */
static bool has_last(const bw_budget *b)
{
    return b->started == 1 && b->last_sec > -(INT64_C(1) << 60) &&
           b->last_sec < (INT64_C(1) << 60);
}

/*
 * The second a call at now_ms counts in. Callers race between reading the
 * clock and taking the lock, so a time slightly behind the latest one seen
 * counts in the latest second instead of being lost; a jump back by a whole
 * window or more (a clock that is not monotonic) starts afresh (see advance).
 */
static int64_t effective_sec(const bw_budget *b, int64_t now_ms)
{
    int64_t sec = sec_of(now_ms);

    if (has_last(b) && sec < b->last_sec && b->last_sec - sec < BW_BUDGET_SECONDS)
        return b->last_sec;
    return sec;
}

/* Moves the budget's notion of "now" to now_ms; returns the bucket to count in. */
static unsigned advance(bw_budget *b, int64_t now_ms)
{
    int64_t sec = effective_sec(b, now_ms);

    if (has_last(b) && sec < b->last_sec)
        bw_budget_clear_window(b);
    b->last_sec = sec;
    b->started = 1;
    unsigned i = index_of(sec);
    if (b->bucket_sec[i] != sec) {
        b->bucket_sec[i] = sec;
        b->firsts[i] = 0;
        b->retries[i] = 0;
    }
    return i;
}

void bw_budget_init(bw_budget *b)
{
    memset(b, 0, sizeof *b);
}

void bw_budget_clear_window(bw_budget *b)
{
    memset(b->bucket_sec, 0, sizeof b->bucket_sec);
    memset(b->firsts, 0, sizeof b->firsts);
    memset(b->retries, 0, sizeof b->retries);
}

void bw_budget_window(const bw_budget *b, int64_t now_ms, uint64_t *firsts,
                      uint64_t *retries)
{
    int64_t cur = effective_sec(b, now_ms);
    uint64_t f = 0, r = 0;

    for (unsigned i = 0; i < BW_BUDGET_SECONDS; i++) {
        int64_t s = b->bucket_sec[i];
        if (s <= cur && s > cur - BW_BUDGET_SECONDS) {
            f += b->firsts[i];
            r += b->retries[i];
        }
    }
    *firsts = f;
    *retries = r;
}

void bw_budget_note_first(bw_budget *b, int64_t now_ms)
{
    add32(&b->firsts[advance(b, now_ms)]);
    add64(&b->total_firsts);
}

bool bw_budget_try_retry(bw_budget *b, uint32_t percent, uint32_t min_per_sec,
                         int64_t now_ms)
{
    unsigned i = advance(b, now_ms);
    bool ok = percent == 0;

    if (!ok) {
        uint64_t f, r;
        uint64_t pct = percent < PERCENT_LIMIT ? percent : PERCENT_LIMIT;
        bw_budget_window(b, now_ms, &f, &r);
        uint64_t by_share = pct * f / 100;
        uint64_t by_rate = (uint64_t)min_per_sec * BW_BUDGET_SECONDS;
        ok = r < (by_share > by_rate ? by_share : by_rate);
    }
    if (ok) {
        add32(&b->retries[i]);
        add64(&b->total_retries);
    } else {
        add64(&b->total_denied);
    }
    return ok;
}

uint64_t bw_budget_denied(const bw_budget *b)
{
    return b->total_denied;
}

uint64_t bw_budget_retries(const bw_budget *b)
{
    return b->total_retries;
}
