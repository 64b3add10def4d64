/*
 * breaker_window.c - count and time sliding windows of a circuit breaker.
 * See bw_breaker_window.h for the shapes and the time-window approximation.
 */
#include <string.h>
#include "bw_breaker_window.h"

/* Seconds covered by one time bucket for a window of n seconds. */
static uint32_t bucket_secs(uint32_t n)
{
    return (n + BW_BRK_BUCKETS - 1) / BW_BRK_BUCKETS;
}

/* Buckets that make up a window of n seconds (1..64). */
static uint32_t bucket_count(uint32_t n)
{
    uint32_t w = bucket_secs(n);
    return (n + w - 1) / w;
}

/* Floor division, so that slots stay aligned even for negative clocks. */
static int64_t slot_of(int64_t now_ms, uint32_t n)
{
    int64_t width = (int64_t)bucket_secs(n) * 1000;
    int64_t q = now_ms / width;
    return (now_ms % width < 0) ? q - 1 : q;
}

static uint32_t sat_inc(uint32_t v)
{
    return v == UINT32_MAX ? v : v + 1;
}

/* Every write of a field bw_breaker_window_full_good reads (kind, size,
 * pos, len, the ring words, and the buckets that share their bytes) is an
 * atomic store: that reader has no lock. Plain moves on the usual targets. */
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* Zeroes the rings and buckets, a word at a time (STORE). */
static void clear_words(bw_breaker_window *w)
{
    uint64_t *word = w->u.ring.failed;
    _Static_assert(sizeof w->u % sizeof(uint64_t) == 0, "the union is whole words");
    for (size_t i = 0; i < sizeof w->u / sizeof(uint64_t); i++)
        STORE(word[i], 0);
}

void bw_breaker_window_clear(bw_breaker_window *w)
{
    STORE(w->pos, 0);
    STORE(w->len, 0);
    clear_words(w);
}

/* True when every stored index is within the bounds its kind allows. */
static bool shape_sane(const bw_breaker_window *w)
{
    if (w->kind == BW_WINDOW_COUNT)
        return w->size >= 1 && w->size <= BW_MAX_WINDOW_COUNT && w->pos < w->size &&
               w->len <= w->size;
    if (w->kind == BW_WINDOW_TIME)
        return w->size >= 1 && w->size <= BW_MAX_WINDOW_SECS;
    return false;
}

bool bw_breaker_window_sync(bw_breaker_window *w, const bw_policy *p)
{
    uint32_t size = bw_breaker_window_size_of(p);

    if (shape_sane(w) && w->kind == (uint8_t)p->breaker_window && w->size == size)
        return false;
    STORE(w->kind, (uint8_t)p->breaker_window);
    w->unused_ = 0;
    STORE(w->size, (uint16_t)size);
    STORE(w->pos, 0);
    STORE(w->len, 0);
    w->head_slot = 0;
    clear_words(w);
    return true;
}

static void ring_put(uint64_t *bits, unsigned i, bool on)
{
    uint64_t m = (uint64_t)1 << (i % 64);
    STORE(bits[i / 64], on ? bits[i / 64] | m : bits[i / 64] & ~m);
}

/*
 * Moves the newest bucket forward to slot, emptying the buckets passed over.
 * Differences are taken unsigned: head_slot may come from a corrupt file.
 */
static void advance_to(bw_breaker_window *w, int64_t slot)
{
    if (slot <= w->head_slot)
        return;
    uint64_t gap = (uint64_t)slot - (uint64_t)w->head_slot;
    if (gap >= BW_BRK_BUCKETS)
        gap = BW_BRK_BUCKETS;
    for (uint64_t i = 0; i < gap; i++) {
        bw_breaker_bucket *b = &w->u.bucket[((uint64_t)slot - i) % BW_BRK_BUCKETS];
        STORE(b->calls, 0);
        STORE(b->failures, 0);
        STORE(b->slow, 0);
    }
    w->head_slot = slot;
}

void bw_breaker_window_add(bw_breaker_window *w, int64_t now_ms, bool failed, bool slow)
{
    if (!shape_sane(w))
        return;
    if (w->kind == BW_WINDOW_COUNT) {
        /* Writing over the oldest position is what slides the window. */
        ring_put(w->u.ring.failed, w->pos, failed);
        ring_put(w->u.ring.slow, w->pos, slow);
        STORE(w->pos, (uint16_t)((w->pos + 1u) % w->size));
        if (w->len < w->size)
            STORE(w->len, (uint16_t)(w->len + 1));
        return;
    }
    advance_to(w, slot_of(now_ms, w->size));
    bw_breaker_bucket *b = &w->u.bucket[(uint64_t)w->head_slot % BW_BRK_BUCKETS];
    STORE(b->calls, sat_inc(b->calls));
    if (failed)
        STORE(b->failures, sat_inc(b->failures));
    if (slow)
        STORE(b->slow, sat_inc(b->slow));
}

/* Set bits among the first n of a ring (bits past n are ignored, in case of corruption). */
static uint32_t ring_popcount(const uint64_t *bits, uint32_t n)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < BW_BRK_RING_WORDS && i * 64 < n; i++) {
        uint64_t v = bits[i];
        if (n - i * 64 < 64)
            v &= ((uint64_t)1 << (n - i * 64)) - 1;
        if (v)   /* no popcnt instruction in the baseline ISA: a libgcc call */
            total += (uint32_t)__builtin_popcountll(v);
    }
    return total;
}

static uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Sums the buckets still inside the window at now_ms, newest first. */
static bw_breaker_counts time_counts(const bw_breaker_window *w, int64_t now_ms)
{
    int64_t now_slot = slot_of(now_ms, w->size);
    int64_t newest = now_slot > w->head_slot ? now_slot : w->head_slot;
    uint64_t empty = (uint64_t)newest - (uint64_t)w->head_slot;   /* slots not yet written */
    uint64_t calls = 0, failures = 0, slow = 0;

    for (uint64_t i = empty; i < bucket_count(w->size); i++) {
        const bw_breaker_bucket *b = &w->u.bucket[((uint64_t)newest - i) % BW_BRK_BUCKETS];
        calls += b->calls;
        failures += b->failures;
        slow += b->slow;
    }
    bw_breaker_counts c = {clamp32(calls), clamp32(failures), clamp32(slow)};
    return c;
}

bool bw_breaker_window_all_good(const bw_breaker_window *w)
{
    if (w->kind != BW_WINDOW_COUNT || !shape_sane(w))
        return false;
    uint64_t bad = 0;
    for (uint32_t i = 0; i < BW_BRK_RING_WORDS && i * 64 < w->size; i++)
        bad |= w->u.ring.failed[i] | w->u.ring.slow[i];
    return bad == 0;
}

bool bw_breaker_window_add_good(bw_breaker_window *w)
{
    if (!bw_breaker_window_all_good(w))
        return false;
    /* The bits at pos are clear already: writing a good call is moving on. */
    STORE(w->pos, (uint16_t)((w->pos + 1u) % w->size));
    if (w->len < w->size)
        STORE(w->len, (uint16_t)(w->len + 1));
    return true;
}

bw_breaker_counts bw_breaker_window_counts(const bw_breaker_window *w, int64_t now_ms)
{
    bw_breaker_counts c = {0, 0, 0};

    if (!shape_sane(w))
        return c;
    if (w->kind == BW_WINDOW_COUNT) {
        c.calls = w->len;
        c.failures = ring_popcount(w->u.ring.failed, w->size);
        c.slow = ring_popcount(w->u.ring.slow, w->size);
    } else {
        c = time_counts(w, now_ms);
    }
    /* Only a corrupt file could break these; keep rates within 0..1. */
    if (c.failures > c.calls)
        c.failures = c.calls;
    if (c.slow > c.calls)
        c.slow = c.calls;
    return c;
}
