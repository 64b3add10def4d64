/* events.c - the ring of recent state changes (see bw_events.h). */
#include <stddef.h>
#include <string.h>

#include "bw_events.h"

static bw_event *slot(bw_event_ring *r, uint64_t n)
{
    return &r->ev[n % BW_EVENTS_N];
}

bw_event *bw_event_begin(bw_event_ring *r, enum bw_event_kind kind, int64_t time_ms,
                         int32_t pid, uint64_t *n)
{
    return bw_event_begin_from(r, kind, time_ms, pid, n, sizeof(uint64_t));   /* all but seq */
}

/* The stamp and the two places fill the slot up to count: nothing between. */
_Static_assert(offsetof(bw_event, time_ms) == sizeof(uint64_t) &&
               offsetof(bw_event, at) == offsetof(bw_event, pid) + sizeof(int32_t) &&
               offsetof(bw_event, to) == offsetof(bw_event, at) + sizeof(bw_event_where) &&
               offsetof(bw_event, count) == offsetof(bw_event, to) + sizeof(bw_event_where),
               "bw_event_begin_placed clears from count on");

uint64_t bw_event_next(const bw_event_ring *r)
{
    return __atomic_load_n(&r->next, __ATOMIC_ACQUIRE);
}

static void terminate(bw_event_where *w)
{
    w->dest[sizeof w->dest - 1] = '\0';
}

enum bw_event_read_result bw_event_read(const bw_event_ring *r, uint64_t n, bw_event *out)
{
    const bw_event *e = &r->ev[n % BW_EVENTS_N];
    uint64_t before = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    if (before > 2 * n + 2)
        return BW_EVR_GONE;
    if (before != 2 * n + 2)
        return BW_EVR_PENDING;
    memcpy(out, e, sizeof *out);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the copy happens before the re-check */
    uint64_t after = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
    if (after != before)
        return BW_EVR_GONE;
    out->count = __atomic_load_n(&e->count, __ATOMIC_RELAXED);   /* may have grown */
    terminate(&out->at);
    terminate(&out->to);
    out->text[sizeof out->text - 1] = '\0';
    return BW_EVR_OK;
}

void bw_event_add_breaker(bw_event_ring *r, const bw_event_where *at,
                          const bw_breaker_transition *t, int64_t time_ms, int32_t pid)
{
    uint64_t n;
    bw_event *e = bw_event_begin(r, BW_EV_BREAKER, time_ms, pid, &n);
    e->at = *at;
    e->transition = *t;
    bw_event_publish(e, n);
}

/* A gate word: the second in the high half, an event number + 1 (low 32
 * bits; 0 = being written) in the low half. */
#define GATE(sec, tag) (((uint64_t)(uint32_t)(sec) << 32) | (uint32_t)(tag))

bool bw_event_once_per_second(uint64_t *gate, int64_t time_ms)
{
    uint64_t sec = (uint64_t)(time_ms / 1000);
    uint64_t old = __atomic_load_n(gate, __ATOMIC_RELAXED);
    if (old >> 32 == (uint32_t)sec)
        return false;
    return __atomic_compare_exchange_n(gate, &old, GATE(sec, 0), false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

void bw_event_rejection(bw_event_ring *r, uint64_t *gate, uint32_t *pending,
                        const bw_event_where *at, enum bw_reject_cause cause, int64_t time_ms,
                        int32_t pid)
{
    uint32_t sec = (uint32_t)(time_ms / 1000);
    uint64_t old = __atomic_load_n(gate, __ATOMIC_ACQUIRE);
    uint32_t tag = (uint32_t)old;
    if (old >> 32 == sec && tag != 0) {
        /* This second's event exists: count into it while it is still there. */
        bw_event *e = slot(r, tag - 1);
        uint64_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
        if (seq % 2 == 0 && (uint32_t)(seq / 2 - 1) == tag - 1) {
            __atomic_fetch_add(&e->count, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    if (old >> 32 == sec ||
        !__atomic_compare_exchange_n(gate, &old, GATE(sec, 0), false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {
        __atomic_fetch_add(pending, 1, __ATOMIC_RELAXED);   /* another writer has the second */
        return;
    }
    uint64_t n;
    bw_event *e = bw_event_begin(r, BW_EV_REJECTIONS, time_ms, pid, &n);
    e->at = *at;
    e->cause = cause;
    e->count = 1 + __atomic_exchange_n(pending, 0, __ATOMIC_RELAXED);
    bw_event_publish(e, n);
    uint32_t mine = (uint32_t)n + 1;
    __atomic_store_n(gate, GATE(sec, mine ? mine : 1), __ATOMIC_RELEASE);
}
