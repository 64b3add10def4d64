/*
 * bw_backoff.h - how long to sleep before a connect retry (SPEC section 4,
 * keys backoff_initial_ms, backoff_max_ms, backoff_multiplier, jitter).
 *
 * Pure arithmetic: the caller supplies the retry number, the previous delay
 * and a uniform 64-bit random value, so every result is reproducible. The
 * guarantees, whatever the policy holds (even values the validator would
 * refuse): the result never exceeds backoff_max_ms, nothing overflows for
 * any retry number (multiplier^n saturates at the cap), and the result is a
 * monotonic function of rnd (rnd = 0 gives the lower end of the range,
 * rnd = UINT64_MAX the upper end).
 */
#ifndef BW_BACKOFF_H
#define BW_BACKOFF_H

#include <stdint.h>
#include "bw_config.h"

/*
 * The ceiling d for retry n (n = 0 is the wait before the first retry):
 * d = min(max, initial * multiplier^n), rounded down to a whole millisecond.
 * An initial above max counts as max; a multiplier below 1 (or NaN) as 1.
 */
uint32_t bw_backoff_ceiling(const bw_policy *p, unsigned n);

/*
 * The delay in ms before retry n, by p->jitter. rand(a, b) below is uniform
 * over the integers a..b, BOTH ends included, drawn from rnd.
 *   none:         d
 *   full:         rand(0, d)
 *   equal:        d/2 + rand(0, d - d/2)   (so the range is exactly d/2 .. d)
 *   decorrelated: min(max, rand(initial, max(initial, 3 * prev)))
 * prev_ms is the delay this function returned for the previous retry; pass 0
 * (read as initial) for the first. Only decorrelated uses prev_ms; only the
 * others use n.
 */
uint32_t bw_backoff_delay(const bw_policy *p, unsigned n, uint32_t prev_ms, uint64_t rnd);

#endif
