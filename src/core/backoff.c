/*
 * backoff.c - retry delays: exponential ceiling plus one of four jitters.
 * See bw_backoff.h for the formulas and their guarantees.
 */
#include "bw_backoff.h"

/*
 * mult^n by squaring: O(log n) for any n. With mult >= 1 every factor is
 * >= 1, so an overflow gives +inf (never NaN), which the caller caps.
 */
static double pow_sq(double mult, unsigned n)
{
    double r = 1.0, b = mult;

    while (n) {
        if (n & 1u)
            r *= b;
        n >>= 1;
        if (n)
            b *= b;
    }
    return r;
}

/*
 * Uniform integer in lo..hi, both included (hi >= lo). Multiply-shift, not
 * modulo: the bias of both is negligible (span < 2^35), but this map is
 * monotonic, so tests can pin both ends with rnd = 0 and rnd = UINT64_MAX.
 */
static uint64_t rand_between(uint64_t lo, uint64_t hi, uint64_t rnd)
{
    uint64_t span = hi - lo + 1;

#ifdef __SIZEOF_INT128__
    return lo + (uint64_t)(((unsigned __int128)rnd * span) >> 64);
#else
    return lo + rnd % span;
#endif
}

static uint32_t initial_of(const bw_policy *p)
{
    return p->backoff_initial_ms < p->backoff_max_ms ? p->backoff_initial_ms
                                                     : p->backoff_max_ms;
}

uint32_t bw_backoff_ceiling(const bw_policy *p, unsigned n)
{
    uint32_t max = p->backoff_max_ms;
    uint32_t init = initial_of(p);
    double mult = p->backoff_multiplier;

    if (init == 0)
        return 0;
    if (!(mult >= 1.0))
        mult = 1.0;
    double d = (double)init * pow_sq(mult, n);
    /* The epsilon keeps 100 * 1.13 (112.999...) from rounding down to 112. */
    d += 1e-6;
    return d >= (double)max ? max : (uint32_t)d;
}

/* AWS decorrelated jitter: grows from the previous delay, not from n. */
static uint32_t decorrelated(const bw_policy *p, uint32_t prev_ms, uint64_t rnd)
{
    uint64_t init = initial_of(p);
    uint64_t prev = prev_ms ? prev_ms : init;
    uint64_t hi = 3 * prev > init ? 3 * prev : init;
    uint64_t r = rand_between(init, hi, rnd);

    return r > p->backoff_max_ms ? p->backoff_max_ms : (uint32_t)r;
}

uint32_t bw_backoff_delay(const bw_policy *p, unsigned n, uint32_t prev_ms, uint64_t rnd)
{
    uint32_t d;

    switch (p->jitter) {
    case BW_JITTER_DECORRELATED:
        return decorrelated(p, prev_ms, rnd);
    case BW_JITTER_FULL:
        d = bw_backoff_ceiling(p, n);
        return (uint32_t)rand_between(0, d, rnd);
    case BW_JITTER_EQUAL:
        d = bw_backoff_ceiling(p, n);
        return d / 2 + (uint32_t)rand_between(0, d - d / 2, rnd);
    case BW_JITTER_NONE:
    default:
        return bw_backoff_ceiling(p, n);
    }
}
