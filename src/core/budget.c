/*
 * budget.c - the 10-second retry budget. See bw_budget.h for the rule, and
 * for the one field written without the lock (unlocked_firsts).
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

/* n more in *c, saturating. */
static void add32_n(uint32_t *c, uint32_t n)
{
    *c = *c > UINT32_MAX - n ? UINT32_MAX : *c + n;
}

static void add64_n(uint64_t *c, uint64_t n)
{
    *c = *c > UINT64_MAX - n ? UINT64_MAX : *c + n;
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

/*
 * Moves the first attempts counted without the lock into the bucket of
 * last_sec, the second they were counted in (made anew when a cleared
 * window took it), and into the total. Only while has_last.
 */
static void fold_unlocked(bw_budget *b)
{
    uint32_t n = __atomic_exchange_n(&b->unlocked_firsts, 0, __ATOMIC_RELAXED);
    if (n == 0)
        return;
    unsigned i = index_of(b->last_sec);
    if (b->bucket_sec[i] != b->last_sec) {
        b->bucket_sec[i] = b->last_sec;
        b->firsts[i] = 0;
        b->retries[i] = 0;
    }
    add32_n(&b->firsts[i], n);
    add64_n(&b->total_firsts, n);
}

/*
 * Moves the budget's notion of "now" to now_ms; returns the bucket to count
 * in. Before last_sec moves, the first attempts counted without the lock
 * for it are folded into its bucket; last_sec is published after (release),
 * so a writer without the lock that sees the new second adds after the fold
 * (bw_budget_note_first_unlocked). Such a writer never reads a bucket: one
 * may be emptied after last_sec is published.
 */
static unsigned advance(bw_budget *b, int64_t now_ms)
{
    /* The usual call: in the latest second (compared by its first
     * millisecond, in wrapping arithmetic: exact for any last_sec a clock
     * gave; a corrupt one may pass, and then counts go to a bucket index
     * computed as ever), whose bucket is its own already. What follows would
     * change nothing then: it is skipped, with its divisions. */
    int64_t last = b->last_sec;
    if (b->started == 1 && (uint64_t)now_ms - (uint64_t)last * 1000u < 1000u) {
        unsigned i = index_of(last);
        if (b->bucket_sec[i] == last)
            return i;
    }
    int64_t sec = effective_sec(b, now_ms);

    if (sec != b->last_sec || b->started != 1) {   /* once a second */
        if (!has_last(b)) {   /* no writer without the lock got in: it needs has_last */
            __atomic_store_n(&b->unlocked_firsts, 0, __ATOMIC_RELAXED);
        } else {
            fold_unlocked(b);
            if (sec < b->last_sec)
                bw_budget_clear_window(b);
        }
        __atomic_store_n(&b->started, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&b->last_sec, sec, __ATOMIC_RELEASE);
    }
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
    if (has_last(b))   /* kept in the total; those still to come count after the clearing */
        add64_n(&b->total_firsts, __atomic_exchange_n(&b->unlocked_firsts, 0, __ATOMIC_RELAXED));
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
            uint32_t n = b->firsts[i];
            if (has_last(b) && s == b->last_sec)   /* and those counted without the lock */
                add32_n(&n, __atomic_load_n(&b->unlocked_firsts, __ATOMIC_RELAXED));
            f += n;
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

/*
 * Why no interleaving with a writer under the lock (W) loses an attempt
 * that this function (A, for second s) counts: A adds to unlocked_firsts
 * only, with an atomic read-modify-write, and W touches that field only by
 * atomic exchange (fold_unlocked, bw_budget_clear_window) or, when no A can
 * get in (!has_last), by a store. Every add of A lands either before W's
 * exchange (folded into last_sec's bucket by W) or after it (folded by the
 * next one), never in between, so each attempt is counted exactly once.
 * Where: A saw last_sec == s (acquire); W exchanges before it publishes a
 * new last_sec (release), so an A that saw the new second adds after the
 * exchange, into that second. An A that saw s just before W moved on may
 * add after the exchange, into the next second: counted a moment late, as
 * the locked call counts a time just behind the latest (effective_sec).
 * One that saw s and stalls 10 s before adding counts in a later second:
 * harmless (at most percent/100 of a retry more). started is read after
 * last_sec: a W stores it before publishing last_sec.
 */
bool bw_budget_note_first_unlocked(bw_budget *b, int64_t now_ms)
{
    if (now_ms < 0)
        return false;   /* never on a monotonic clock: below, an unsigned sec_of */
    int64_t sec = (int64_t)((uint64_t)now_ms / 1000);
    if (__atomic_load_n(&b->last_sec, __ATOMIC_ACQUIRE) != sec ||
        __atomic_load_n(&b->started, __ATOMIC_RELAXED) != 1)
        return false;
    uint32_t v = __atomic_load_n(&b->unlocked_firsts, __ATOMIC_RELAXED);
    while (v != UINT32_MAX && !__atomic_compare_exchange_n(&b->unlocked_firsts, &v, v + 1, true,
                                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return true;
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
