/*
 * record.c - what the shim writes for operators besides counters: events
 * into the state's ring (breaker transitions, bulkhead saturation, rejection
 * summaries, config reloads) and connect durations into the destination's
 * histogram. Everything here is lock-free and allocation-free: it runs on
 * the connect path, next to the counters.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bw_histogram.h"
#include "record.h"

int64_t bw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bw_event_ring *ring(void)
{
    bw_state *st = bw_shim_state_mapped();
    return st ? &st->hdr->events : NULL;
}

void bw_record_transition(const bw_conn *c, const bw_breaker_transition *t)
{
    bw_event_ring *r = ring();
    if (!r || !c->breaker_entry)
        return;
    bw_event_where w;
    bw_entry_where(c->breaker_entry, &w);
    bw_event_add_breaker(r, &w, t, bw_wall_ms(), bw_self_pid());
}

void bw_record_rejection(const bw_conn *c, enum bw_reject_cause cause)
{
    bw_event_ring *r = ring();
    bw_entry *a = c->entry;
    if (!r || !a)
        return;
    bw_event_where w;
    bw_entry_where(a, &w);
    bw_event_rejection(r, &a->ev_reject_gate[cause], &a->ev_reject_pending[cause], &w, cause,
                       bw_wall_ms(), bw_self_pid());
}

void bw_record_bulkhead_full(const bw_conn *c, uint32_t max)
{
    bw_event_ring *r = ring();
    bw_entry *b = c->bulkhead_entry;
    int64_t now = bw_wall_ms();
    if (!r || !b || !bw_event_once_per_second(&b->ev_full_gate, now))
        return;
    uint64_t n;
    bw_event *e = bw_event_begin(r, BW_EV_BULKHEAD_FULL, now, bw_self_pid(), &n);
    bw_entry_where(b, &e->at);
    e->active = max;
    e->max = max;
    bw_event_publish(e, n);
}

void bw_record_config(enum bw_event_kind kind, const char *text, uint32_t count)
{
    bw_event_ring *r = ring();
    if (!r)
        return;
    uint64_t n;
    bw_event *e = bw_event_begin(r, kind, bw_wall_ms(), bw_self_pid(), &n);
    snprintf(e->text, sizeof e->text, "%s", text);
    e->count = count;
    bw_event_publish(e, n);
}
