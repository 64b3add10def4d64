/*
 * connect.h - the pieces of a connect's life that connect.c (attempts made
 * inside connect()) and pending.c (attempts made inside the program's waits)
 * share: reporting an attempt, ending the connect, deciding on a retry.
 */
#ifndef BW_CONNECT_H
#define BW_CONNECT_H

#include <stdint.h>

#include "bw_retry.h"
#include "shim.h"

/* Reports one attempt's outcome (err 0 = connected) and duration to the breaker. */
void bw_connect_record(bw_conn *c, int err, int64_t began_ms);

/* The connect is over with err (0 = connected): counted, and a failure gives
 * back its bulkhead slot. */
void bw_connect_finish(bw_conn *c, int err);

/*
 * Decides whether failed attempt n (err) gets a retry: retry_on, retries,
 * the retry budget (a denial is counted) and the deadline of plan. Returns
 * the backoff to wait before the retry, in ms, or -1 for no retry.
 */
int64_t bw_connect_retry_delay(bw_conn *c, unsigned n, int err, bw_retry_plan *plan);

/* Admission of a retry: the next healthy sibling address when failover finds
 * one (c then points at it), else the breaker of the same address. Returns 0
 * or the errno of a rejection. */
int bw_connect_admit_retry(bw_conn *c);

#endif
