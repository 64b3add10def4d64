/* guard.h - breaker and bulkhead decisions for a connection (see guard.c). */
#ifndef BW_GUARD_H
#define BW_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* Asks the breaker whether an attempt (a retry when retry is true) may go
 * out. Returns 0, or the errno to fail with; only a first attempt's
 * rejection is logged as one. */
int bw_guard_breaker_admit(bw_conn *c, bool retry);

/* Logs (at info, rate-limited) that c's connect was rejected by its breaker,
 * after bw_guard_breaker_admit(c, true) said so and nothing else admitted it. */
void bw_guard_note_rejection(bw_conn *c);

/* Reports an attempt's outcome (and duration) to the breaker. */
void bw_guard_breaker_record(bw_conn *c, bool ok, uint32_t duration_ms);

/* Takes a bulkhead slot, waiting up to bulkhead_wait_ms when may_wait.
 * Returns 0 (slot held, or no limit), or the errno to fail with. */
int bw_guard_bulkhead_take(bw_conn *c, bool may_wait);

/* The server said, with Retry-After, not to call for ms: opens the breaker for that long. */
void bw_guard_breaker_open_for(bw_conn *c, uint32_t ms);

/*
 * Takes a token of the destination's connect_rate. A blocking connect
 * (may_wait) waits for one up to wait_limit_ms (< 0: as long as it takes);
 * returns 0, EINTR when a signal cut the wait, or bulkhead_errno when over
 * the rate (counted and logged as a rejection by the caller).
 */
int bw_guard_rate_take(bw_conn *c, bool may_wait, int64_t wait_limit_ms);

#endif
