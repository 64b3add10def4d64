/* histogram.c - fixed-bucket latency histograms (see bw_histogram.h). */
#include "bw_histogram.h"

const uint32_t bw_hist_bounds_us[BW_HIST_BOUNDS] = {
    1000,   2500,   5000,    10000,   25000,   50000,    100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};

void bw_hist_observe(bw_histogram *h, uint64_t us)
{
    unsigned i = 0;
    while (i < BW_HIST_BOUNDS && us > bw_hist_bounds_us[i])
        i++;
    __atomic_fetch_add(&h->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_us, us, __ATOMIC_RELAXED);
}

void bw_hist_read(const bw_histogram *h, uint64_t cum[BW_HIST_BOUNDS + 1], uint64_t *sum_us)
{
    uint64_t total = 0;
    for (unsigned i = 0; i <= BW_HIST_BOUNDS; i++) {
        uint64_t b = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
        total = total + b < total ? UINT64_MAX : total + b;   /* a hostile file's numbers */
        cum[i] = total;
    }
    *sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}
