/*
 * bw_rate.h - the connection rate (SPEC section 9, connect_rate and
 * connect_rate_burst): a token bucket of burst tokens refilled at rate
 * tokens a second, one token per new connection.
 *
 * A bw_rate is two 32-bit words, pointer-free: it lives in a destination's
 * shared state entry and the caller holds that entry's lock. All zeroes is a
 * full bucket that was never used. Any content is safe (a corrupt word gives
 * a wrong count, never a crash). Time is passed in, monotonic milliseconds;
 * only differences of under 24 days matter, so the clock is kept mod 2^32.
 */
#ifndef BW_RATE_H
#define BW_RATE_H

#include <stdint.h>

typedef struct bw_rate {
    uint32_t milli;    /* tokens x 1000 left at stamp */
    uint32_t stamp;    /* when milli was computed (ms, low 32 bits; 0 = never used) */
} bw_rate;

/*
 * Takes one token at now_ms from a bucket of burst tokens (0: rate) refilled
 * at rate tokens a second. Returns 0 when a token was taken, else how many
 * ms until one will be there (nothing taken). rate 0: unlimited, always 0.
 */
int64_t bw_rate_take(bw_rate *r, uint32_t rate, uint32_t burst, int64_t now_ms);

#endif
