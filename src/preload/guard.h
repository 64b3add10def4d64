/* guard.h - breaker and bulkhead decisions for a connection (see guard.c). */
#ifndef BW_GUARD_H
#define BW_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* A monotonic time (ms) not read yet: whoever needs it reads the clock. */
#define BW_NOW_UNREAD INT64_MIN
/* The time a first attempt's admission decides at (bw_admission_clock),
 * not looked up yet: whoever needs it does (bw_now_for). */
#define BW_NOW_ADMISSION (INT64_MIN + 1)

/* True when a first attempt's admission may take time: a connect_rate
 * token or a bulkhead slot may be waited for. */
static inline bool bw_admission_may_wait(const bw_policy *p)
{
    return p->connect_rate || p->bulkhead_wait_ms;
}

/* The time a first attempt's admission decides at: the clock read when c
 * was tracked (c->started_ms, microseconds old) while its admission cannot
 * have waited, else BW_NOW_UNREAD. */
static inline int64_t bw_admission_clock(const bw_conn *c)
{
    return bw_admission_may_wait(c->policy) ? BW_NOW_UNREAD : c->started_ms;
}

/* The time now_ms stands for in c's connect: itself, or c's admission's
 * (BW_NOW_ADMISSION), or the clock (BW_NOW_UNREAD, also what an admission
 * that may have waited gives). */
static inline int64_t bw_now_for(const bw_conn *c, int64_t now_ms)
{
    if (now_ms == BW_NOW_ADMISSION)
        now_ms = bw_admission_clock(c);
    return now_ms != BW_NOW_UNREAD ? now_ms : bw_now_ms();
}

/* Asks the breaker whether an attempt (a retry when retry is true) may go
 * out. Returns 0, or the errno to fail with; only a first attempt's
 * rejection is logged as one. */
int bw_guard_breaker_admit(bw_conn *c, bool retry);
/* The same, with *now_ms (a time, or BW_NOW_UNREAD, BW_NOW_ADMISSION:
 * bw_now_for) the time an open breaker's rejection without the lock is
 * judged at, and left there resolved for the caller's next decision; a
 * decision under the lock reads the clock itself. */
int bw_guard_breaker_admit_at(bw_conn *c, bool retry, int64_t *now_ms);

/* Logs (at info, rate-limited) that c's connect was rejected by its breaker,
 * after bw_guard_breaker_admit(c, true) said so and nothing else admitted it. */
void bw_guard_note_rejection(bw_conn *c);

/* Reports an attempt's outcome (and duration) to the breaker. */
void bw_guard_breaker_record(bw_conn *c, bool ok, uint32_t duration_ms);
/* The same, with the monotonic clock read already (now_ms). */
void bw_guard_breaker_record_at(bw_conn *c, bool ok, uint32_t duration_ms, int64_t now_ms);

/*
 * The lock-free half of bw_guard_breaker_record_at for a success: true when
 * the success changes nothing observable in c's breaker
 * (bw_breaker_success_quiet) and is thereby recorded, with no lock and no
 * number drawn: c->run_before is the core's snapshot of that instant, for a
 * later bw_guard_breaker_replace. success_recorded and run_before are then
 * written without the entry's lock; the replacement that reads them (under
 * the lock) follows this connect's return on the program's side, as for any
 * field the connect writes. Inline: on the usual connect, this is the
 * whole record. False: call bw_guard_breaker_record_at.
 */
static inline bool bw_guard_breaker_success_quiet(bw_conn *c, uint32_t duration_ms)
{
    bw_entry *e = c->breaker_entry;
    if (!e || !bw_breaker_success_quiet(&e->breaker, c->policy, duration_ms, &c->run_before))
        return false;
    c->success_recorded = true;
    c->probe_token = 0;
    return true;
}

/* Reports that c failed after all (its TLS handshake): a failure that takes
 * the place of the last success recorded for c in the breaker's failure run
 * (bw_breaker_record_replacing), or an ordinary failure when none was. */
void bw_guard_breaker_replace(bw_conn *c);

/* Takes a bulkhead slot, waiting up to bulkhead_wait_ms when may_wait.
 * Returns 0 (slot held, or no limit), or the errno to fail with. When the
 * slot's lock could also admit the first attempt (a closed breaker, the
 * destination's entry: see guard.c), it did: *admitted is true, the breaker
 * has allowed it and the retry budget has counted it, so the caller asks
 * neither bw_guard_breaker_admit nor bw_guard_budget_note_first. */
int bw_guard_bulkhead_take(bw_conn *c, bool may_wait, bool *admitted);

/* Takes c's slot back, with no limit, after it was given back for a socket
 * the program still holds (a failed exec, exec.c). */
void bw_guard_bulkhead_retake(bw_conn *c);

/* Hands one slot of e's bulkhead held for owner over to the socket id
 * (passfd.c); false, changing nothing, in another process than the owner
 * or when the bulkhead has no room for it. */
bool bw_guard_slot_hand_over(bw_entry *e, bool untracked, int32_t owner,
                             const bw_bulkhead_sock *id);

/* After an exec (inherit.c): c, a connection the old image left open,
 * takes over one of the slots this process already holds in its bulkhead
 * beyond the adopted ones already counted there. True when it did. */
bool bw_guard_bulkhead_adopt(bw_conn *c, uint32_t adopted);

/* Gives back this process's slots in e beyond the adopted ones: the old
 * image held them for sockets that did not survive the exec. */
void bw_guard_bulkhead_drop_excess(bw_entry *e, uint32_t adopted);

/* The server said, with Retry-After, not to call for ms: opens the breaker for that long. */
void bw_guard_breaker_open_for(bw_conn *c, uint32_t ms);

/*
 * Takes a token of the destination's connect_rate. A blocking connect
 * (may_wait) waits for one up to wait_limit_ms (< 0: as long as it takes);
 * returns 0, EINTR when a signal cut the wait, or bulkhead_errno when over
 * the rate (counted and logged as a rejection by the caller).
 */
int bw_guard_rate_take(bw_conn *c, bool may_wait, int64_t wait_limit_ms);

/* Counts a first attempt in the destination's retry budget, at the time
 * of its admission (bw_admission_clock); without the entry's lock when the
 * budget allows it (bw_budget_note_first_unlocked). */
void bw_guard_budget_note_first(bw_conn *c);

/* Asks the destination's retry budget for one retry: true when it allows
 * it (or there is no usable state). */
bool bw_guard_budget_allows(bw_conn *c);

/* True when the breaker of entry e (NULL: none) keeps calls out under
 * policy p: open, forced open, or letting a probe through. Read without the
 * entry's lock (bw_breaker_state_peek): no lock, no system call. */
bool bw_guard_breaker_keeps_out(bw_entry *e, const bw_policy *p);

#endif
