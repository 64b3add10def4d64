/* record.h - the shim's events and connect-time histograms (see record.c). */
#ifndef BW_RECORD_H
#define BW_RECORD_H

#include <stdint.h>
#include <time.h>

#include "bw_breaker.h"
#include "bw_events.h"
#include "bw_histogram.h"
#include "shim.h"

/* Each records into the mapped state region, or does nothing when there is
 * none yet. None blocks or takes a lock: a few atomic instructions. */
void bw_record_transition(const bw_conn *c, const bw_breaker_transition *t);
void bw_record_rejection(const bw_conn *c, enum bw_reject_cause cause);
/* The bulkhead of c was found full (at most one event a second per bulkhead). */
void bw_record_bulkhead_full(const bw_conn *c, uint32_t max);
/* Wall-clock milliseconds since the epoch: an event's time. */
static inline int64_t bw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* c was sent from the address of entry from to its current address; st is
 * the state region c's entries are in (NULL: no event, only the count).
 * Inline: a failover's last step, in its caller's frame. */
static inline void bw_record_failover(const bw_conn *c, bw_entry *from, bw_state *st)
{
    if (!from || !c->entry)
        return;
    bw_count(from, BW_CNT_FAILOVERS, 1);
    if (!st)
        return;
    uint64_t n;
    bw_event *e = bw_event_begin_placed(&st->hdr->events, BW_EV_FAILOVER, bw_wall_ms(),
                                        bw_self_pid(), &n);
    bw_entry_where(from, &e->at);
    bw_entry_where(c->entry, &e->to);
    bw_event_publish(e, n);
}
/* A config reload (kind BW_EV_RELOAD: text the file, count its destinations)
 * or a reload that failed (BW_EV_CONFIG_ERROR: text the first error). */
void bw_record_config(enum bw_event_kind kind, const char *text, uint32_t count);

/* Monotonic microseconds. */
int64_t bw_now_us(void);

/* connect() of c reached its outcome at now_us (bw_now_us): its duration
 * since its first attempt goes into the destination's histogram, once: the
 * connect is then marked as observed (connect_began_us = 0), so that a
 * second call (a success is observed where the breaker records it, then
 * finished) adds nothing. Inline: every connect's success. */
static inline void bw_record_connect_time_at(bw_conn *c, int64_t now_us)
{
    if (c->dest_entry && c->connect_began_us > 0)
        bw_hist_observe(&c->dest_entry->connect_time, (uint64_t)(now_us - c->connect_began_us));
    c->connect_began_us = 0;
}

#endif
