/* rate.c - the connection-rate token bucket (see bw_rate.h). */
#include "bw_rate.h"

int64_t bw_rate_take(bw_rate *r, uint32_t rate, uint32_t burst, int64_t now_ms)
{
    if (rate == 0)
        return 0;
    uint64_t cap = (uint64_t)(burst ? burst : rate) * 1000;
    uint32_t now = (uint32_t)now_ms;
    if (now == 0)
        now = 1;   /* 0 means "never used" */
    uint64_t milli = cap;
    if (r->stamp != 0) {
        uint32_t dt = now - r->stamp;   /* wraps correctly for differences < 2^31 ms */
        if (dt >= 0x80000000u)
            dt = 0;                     /* a clock behind the stamp: no refill */
        milli = (uint64_t)r->milli + (uint64_t)dt * rate;   /* rate/1000 tokens per ms */
        if (milli > cap)
            milli = cap;
    }
    r->stamp = now;
    if (milli >= 1000) {
        r->milli = (uint32_t)(milli - 1000);
        return 0;
    }
    r->milli = (uint32_t)milli;
    return (int64_t)((1000 - milli + rate - 1) / rate);
}
