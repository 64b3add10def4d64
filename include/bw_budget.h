/*
 * bw_budget.h - the retry budget (SPEC section 4, retry_budget_percent and
 * retry_budget_min_per_sec): retries are rationed against first attempts
 * over a sliding window of the last 10 seconds, so a failing destination
 * cannot multiply the load on it by 1 + retries.
 *
 * A bw_budget is fixed-size and pointer-free: it may live in a shared
 * mapping, and the caller holds a lock around every call but one:
 * bw_budget_note_first_unlocked, which counts a first attempt in the
 * budget's latest second (last_sec) without the lock, in unlocked_firsts,
 * a count the locked calls fold into last_sec's bucket before last_sec
 * moves on and add to its bucket when they read the window (budget.c says
 * why no interleaving loses an attempt). A build of state layout 5 or
 * before ignores that word: it must not share a budget with this one, and
 * the state layout version keeps them apart. All zeroes is a valid empty
 * budget. Any byte content is safe to use (indexes are computed, never read
 * from the struct; counts saturate), so a corrupt state file can make the
 * budget wrong but never make it crash or write outside itself. Time is
 * passed in; use a monotonic clock.
 *
 * The window is the current second and the 9 before it: 10 one-second
 * buckets, each counting the first attempts and the granted retries noted
 * during that second (second = floor(now_ms / 1000)).
 *
 * The rule, with F first attempts and R granted retries in the window:
 *   percent = 0: every retry is allowed (and still counted);
 *   else a retry is allowed when R < max(floor(percent * F / 100),
 *                                       min_per_sec * 10),
 * that is, the minimum rate is an allowance of min_per_sec retries per second
 * averaged over the window (so up to min_per_sec * 10 may come in a burst),
 * as in Finagle's RetryBudget (minRetriesPerSec over its 10 s ttl).
 */
#ifndef BW_BUDGET_H
#define BW_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define BW_BUDGET_SECONDS 10

typedef struct bw_budget {
    int64_t bucket_sec[BW_BUDGET_SECONDS];  /* second held by each bucket */
    uint32_t firsts[BW_BUDGET_SECONDS];     /* first attempts in that second */
    uint32_t retries[BW_BUDGET_SECONDS];    /* granted retries in that second */
    int64_t last_sec;                       /* latest second seen ... */
    uint32_t started;                       /* ... once this is 1 */
    uint32_t unlocked_firsts;               /* atomic: first attempts of last_sec
                                               not yet in its bucket (was reserved) */
    /* Totals since init, for status and metrics (never reset by time);
     * total_firsts gets unlocked_firsts when they are folded. */
    uint64_t total_firsts;
    uint64_t total_retries;                 /* granted */
    uint64_t total_denied;                  /* refused by the budget */
} bw_budget;

/* Empties the budget and its totals (same as zeroing it). */
void bw_budget_init(bw_budget *b);

/* Counts one first attempt (not a retry) at now_ms. */
void bw_budget_note_first(bw_budget *b, int64_t now_ms);

/*
 * bw_budget_note_first without the lock, when it can be done so: the
 * second of now_ms is the budget's latest one (the usual case: one locked
 * call a second moves the budget on). Returns true when it counted the
 * attempt, false (nothing done) when the caller must take the lock and
 * call bw_budget_note_first.
 */
bool bw_budget_note_first_unlocked(bw_budget *b, int64_t now_ms);

/*
 * Asks to spend one retry at now_ms under the rule above. Returns true and
 * counts the retry when it is allowed; returns false and counts a denial
 * otherwise.
 */
bool bw_budget_try_retry(bw_budget *b, uint32_t percent, uint32_t min_per_sec,
                         int64_t now_ms);

/* First attempts and granted retries in the window ending at now_ms. Read-only. */
void bw_budget_window(const bw_budget *b, int64_t now_ms, uint64_t *firsts,
                      uint64_t *retries);

/* Totals since init (bw_budget_init), read by status and metrics. */
uint64_t bw_budget_denied(const bw_budget *b);
uint64_t bw_budget_retries(const bw_budget *b);

/* Forgets the window (for `breakwater reset`) but keeps the totals. */
void bw_budget_clear_window(bw_budget *b);

#endif
