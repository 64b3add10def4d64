/*
 * bw_breaker_window.h - the sliding window a circuit breaker judges rates over.
 *
 * Plain fixed-size data with no pointers, so it can live inside a shared
 * mapping and be copied; no locking (the breaker's caller holds the lock).
 *
 * breaker_window = count: the last N calls (N <= 1000), exactly, as two ring
 * bitsets (failed, slow).
 *
 * breaker_window = time: the calls of the last N seconds (N <= 3600), kept in
 * at most 64 buckets of W = ceil(N/64) seconds each, aligned on multiples of
 * W seconds of the monotonic clock. The window is the current bucket plus the
 * ceil(N/W) - 1 before it, so a call stays counted for between N - W and
 * N + W seconds (never more than one bucket off). When N <= 64, W = 1 and the
 * window is exact to the second: the current second plus the N - 1 before it.
 *
 * A window whose stored shape does not match the policy (first use, reload
 * to another kind or size) or whose indices are out of bounds (a corrupt
 * shared file) is cleared and rebuilt by bw_breaker_window_sync; readers
 * bound every index themselves, so they never read outside the struct.
 */
#ifndef BW_BREAKER_WINDOW_H
#define BW_BREAKER_WINDOW_H

#include <stdbool.h>
#include <stdint.h>
#include "bw_config.h"

#define BW_BRK_RING_WORDS ((BW_MAX_WINDOW_COUNT + 63) / 64)
#define BW_BRK_BUCKETS 64

typedef struct bw_breaker_bucket {
    uint32_t calls, failures, slow;
} bw_breaker_bucket;

/* Totals of a window at one instant. failures and slow are <= calls. */
typedef struct bw_breaker_counts {
    uint32_t calls, failures, slow;
} bw_breaker_counts;

typedef struct bw_breaker_window {
    uint8_t kind;          /* enum bw_window it was built for */
    uint8_t unused_;
    uint16_t size;         /* N it was built for; 0 = not built yet */
    uint16_t pos;          /* count: next ring position to write */
    uint16_t len;          /* count: calls held, <= size */
    int64_t head_slot;     /* time: index of the newest bucket's time slot */
    union {
        struct {
            uint64_t failed[BW_BRK_RING_WORDS];
            uint64_t slow[BW_BRK_RING_WORDS];
        } ring;
        bw_breaker_bucket bucket[BW_BRK_BUCKETS];
    } u;
} bw_breaker_window;

/* Empties the window, keeping its shape. */
void bw_breaker_window_clear(bw_breaker_window *w);

/*
 * Makes the window's shape match p (breaker_window, breaker_window_size).
 * A window of another shape, or one with an index out of bounds, is cleared
 * first. Returns true when it was cleared.
 */
bool bw_breaker_window_sync(bw_breaker_window *w, const bw_policy *p);

/*
 * Adds one call at now_ms. Time windows first drop buckets that have fallen
 * out; a now_ms older than the newest bucket (another process's clock read
 * just before ours) is added to the newest bucket. Counts saturate.
 */
void bw_breaker_window_add(bw_breaker_window *w, int64_t now_ms, bool failed, bool slow);

/* True when the window is known to hold no failed and no slow call: a
 * count window whose rings are clear (bits past the size included, so a
 * corrupt ring only says false). False for a time window, which sums its
 * buckets: ask bw_breaker_window_counts. Cheaper than the counts. */
bool bw_breaker_window_all_good(const bw_breaker_window *w);

/* bw_breaker_window_add of a call neither failed nor slow, for a window
 * bw_breaker_window_all_good says is all good (it stays so); returns false,
 * changing nothing, for any other window. */
bool bw_breaker_window_add_good(bw_breaker_window *w);

/* The window size p asks for. The validator guarantees the range;
 * clamping keeps a bad caller in bounds. */
static inline uint32_t bw_breaker_window_size_of(const bw_policy *p)
{
    uint32_t max = p->breaker_window == BW_WINDOW_TIME ? BW_MAX_WINDOW_SECS : BW_MAX_WINDOW_COUNT;
    uint32_t size = p->breaker_window_size;
    return size < 1 ? 1 : size > max ? max : size;
}

/* True when w is a count window of p's shape (bw_breaker_window_sync would
 * keep it as it is), full (len = size) and holding no failed and no slow
 * call. Reads every field with an atomic load, and every write of those
 * fields in breaker_window.c is an atomic store, for a reader without the
 * lock (whose caller validates the answer: bw_breaker_success_quiet).
 * Inline: it is most of that reader, on every connect. */
static inline bool bw_breaker_window_full_good(const bw_breaker_window *w, const bw_policy *p)
{
#define BW_WLOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
    uint32_t size = BW_WLOAD(w->size);
    if (p->breaker_window != BW_WINDOW_COUNT || BW_WLOAD(w->kind) != BW_WINDOW_COUNT ||
        size != bw_breaker_window_size_of(p) || BW_WLOAD(w->len) != size ||
        BW_WLOAD(w->pos) >= size)
        return false;
    /* The first word alone for the usual windows of up to 64 calls. */
    uint64_t bad = BW_WLOAD(w->u.ring.failed[0]) | BW_WLOAD(w->u.ring.slow[0]);
    for (uint32_t i = 1; i < BW_BRK_RING_WORDS && i * 64 < size; i++)
        bad |= BW_WLOAD(w->u.ring.failed[i]) | BW_WLOAD(w->u.ring.slow[i]);
    return bad == 0;
#undef BW_WLOAD
}

/* Totals of the window as seen at now_ms; does not modify it. */
bw_breaker_counts bw_breaker_window_counts(const bw_breaker_window *w, int64_t now_ms);

#endif
