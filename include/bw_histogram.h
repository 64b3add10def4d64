/*
 * bw_histogram.h - a latency histogram with fixed buckets (1 ms to 30 s),
 * kept in the state region and updated with atomic adds only: no lock, so
 * any number of threads and processes observe into it at once. Readers get
 * cumulative counts in the Prometheus way (le = upper bound, +Inf last).
 * Pure: durations come in as arguments.
 */
#ifndef BW_HISTOGRAM_H
#define BW_HISTOGRAM_H

#include <stdint.h>

#define BW_HIST_BOUNDS 14          /* finite upper bounds; +Inf is one more bucket */

/* The upper bounds in microseconds: 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms,
 * 1, 2.5, 5, 10, 30 s. */
extern const uint32_t bw_hist_bounds_us[BW_HIST_BOUNDS];

typedef struct bw_histogram {
    uint64_t bucket[BW_HIST_BOUNDS + 1];   /* atomic; not cumulative */
    uint64_t sum_us;                       /* atomic */
} bw_histogram;

/* Adds one observation of us microseconds. */
void bw_hist_observe(bw_histogram *h, uint64_t us);

/* Reads h: cum[i] observations <= bound i (cum[BW_HIST_BOUNDS]: all, the
 * count), and their sum in microseconds. The cumulative counts saturate, so
 * they never decrease whatever a corrupt region holds. */
void bw_hist_read(const bw_histogram *h, uint64_t cum[BW_HIST_BOUNDS + 1], uint64_t *sum_us);

#endif
