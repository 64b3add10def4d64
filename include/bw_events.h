/*
 * bw_events.h - the last state changes, in a ring kept in the state region
 * (SPEC §9 `breakwater events`): breaker transitions with their reason,
 * bulkhead saturation, connects rejected (one event per address, cause and
 * second, whose count grows while the second lasts), config reloads and
 * errors, and failovers (kind reserved for the failover feature).
 *
 * Writers never block and never wait for each other: a writer claims a
 * sequence number with one atomic add and fills that slot under a per-slot
 * sequence word (odd while being written, like a seqlock), so the hot path
 * costs a few atomic instructions and no lock. Readers copy a slot and keep
 * the copy only when its sequence word was complete and unchanged around the
 * copy. A writer lapped by 1,024 others mid-write can leave a mixed slot; a
 * reader treats every field as untrusted anyway (the file may be hostile):
 * kinds, states and names are checked or bounded before use.
 *
 * Pure: times (wall clock, ms) and pids come in as arguments.
 */
#ifndef BW_EVENTS_H
#define BW_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_breaker.h"
#include "bw_config.h"

#define BW_EVENTS_N 1024
#define BW_EVENT_TEXT 160

enum bw_event_kind {
    BW_EV_NONE = 0,
    BW_EV_BREAKER = 1,        /* transition */
    BW_EV_BULKHEAD_FULL = 2,  /* active, max: a connect found the limit reached */
    BW_EV_REJECTIONS = 3,     /* count connects rejected for cause in one second */
    BW_EV_RELOAD = 4,         /* text: the config; count: its destinations */
    BW_EV_CONFIG_ERROR = 5,   /* text: the first error; the previous config stays */
    BW_EV_FAILOVER = 6,       /* reserved: address -> to (for failover, SPEC §9) */
    BW_EV_NKINDS
};

enum bw_reject_cause { BW_REJ_BREAKER = 0, BW_REJ_BULKHEAD = 1 };

/* Where an event happened: a destination and, for address-scoped ones, an
 * address (family 0: the whole destination). */
typedef struct bw_event_where {
    char dest[BW_MAX_NAME];
    uint8_t family;           /* AF_INET, AF_INET6, or 0 */
    uint8_t addr[16];
    uint16_t port;            /* host byte order */
} bw_event_where;

typedef struct bw_event {
    uint64_t seq;             /* atomic: 2n+1 writing event n, 2n+2 done, 0 never */
    int64_t time_ms;          /* wall clock, ms since the epoch */
    uint32_t kind;            /* enum bw_event_kind */
    int32_t pid;
    bw_event_where at;
    bw_event_where to;        /* failover target */
    uint32_t count;           /* atomic for BW_EV_REJECTIONS: grows in place */
    uint32_t cause;           /* enum bw_reject_cause */
    uint32_t active, max;
    bw_breaker_transition transition;
    char text[BW_EVENT_TEXT];
} bw_event;

typedef struct bw_event_ring {
    uint64_t next;            /* atomic: events ever claimed */
    bw_event ev[BW_EVENTS_N];
} bw_event_ring;

/*
 * Claims the next event: returns its slot, cleared, with kind, time and pid
 * set and its sequence word saying "being written"; *n gets its number. The
 * caller fills the rest and calls bw_event_publish(slot, *n).
 */
bw_event *bw_event_begin(bw_event_ring *r, enum bw_event_kind kind, int64_t time_ms,
                         int32_t pid, uint64_t *n);

/* Zeroes len bytes at p (len >= 16, a constant where it is inlined) with
 * 16-byte stores, unrolled: a memset of a slot's size would be compiled to
 * `rep stos`, which costs a step per 8 bytes and a start-up on top. */
static inline void bw_event_zero(char *p, size_t len)
{
    typedef long long bw_v16 __attribute__((vector_size(16)));
    const bw_v16 z = {0, 0};
    size_t i = 0;
#pragma GCC unroll 32
    for (; i + 16 <= len; i += 16)
        __builtin_memcpy(p + i, &z, 16);
    if (i < len)   /* the rest: the last 16 bytes, overlapping */
        __builtin_memcpy(p + len - 16, &z, 16);
}

/* bw_event_begin, clearing the slot's bytes from offset `from` on: those
 * between the stamp (kind, time, pid) and `from` are the caller's to write. */
static inline bw_event *bw_event_begin_from(bw_event_ring *r, enum bw_event_kind kind,
                                            int64_t time_ms, int32_t pid, uint64_t *n,
                                            size_t from)
{
    *n = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
    bw_event *e = &r->ev[*n % BW_EVENTS_N];
    __atomic_store_n(&e->seq, 2 * *n + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);   /* readers see "writing" before any field */
    bw_event_zero((char *)e + from, sizeof *e - from);
    e->kind = kind;
    e->time_ms = time_ms;
    e->pid = pid;
    return e;
}

/*
 * bw_event_begin for an event whose caller writes both places, at and to,
 * whole (bw_entry_where writes every field of one): the slot's other fields
 * are cleared as bw_event_begin's, those two are not (a failover's: half the
 * clearing it would pay otherwise). Inline, as the failover's other steps.
 */
static inline bw_event *bw_event_begin_placed(bw_event_ring *r, enum bw_event_kind kind,
                                              int64_t time_ms, int32_t pid, uint64_t *n)
{
    return bw_event_begin_from(r, kind, time_ms, pid, n, offsetof(bw_event, count));
}

/* Makes event n (filled by the caller) visible to readers. */
static inline void bw_event_publish(bw_event *e, uint64_t n)
{
    __atomic_store_n(&e->seq, 2 * n + 2, __ATOMIC_RELEASE);
}

/* Events ever claimed: the next event's number. */
uint64_t bw_event_next(const bw_event_ring *r);

enum bw_event_read_result { BW_EVR_OK = 0, BW_EVR_PENDING, BW_EVR_GONE };

/*
 * Copies event n into out: BW_EVR_OK; BW_EVR_PENDING when it is not (yet)
 * complete; BW_EVR_GONE when newer events overwrote it. Strings in out are
 * NUL-terminated whatever the ring held.
 */
enum bw_event_read_result bw_event_read(const bw_event_ring *r, uint64_t n, bw_event *out);

/* Adds a breaker transition event. */
void bw_event_add_breaker(bw_event_ring *r, const bw_event_where *at,
                          const bw_breaker_transition *t, int64_t time_ms, int32_t pid);

/*
 * Rejection summaries: one event per address, cause and second. gate is
 * the address's word for that cause (second and event number), pending its
 * overflow count: a rejection either adds one to this second's event, or
 * (the first of a new second) writes a new event, or, while another thread
 * writes that event, is kept in pending for the next one. Never waits.
 */
void bw_event_rejection(bw_event_ring *r, uint64_t *gate, uint32_t *pending,
                        const bw_event_where *at, enum bw_reject_cause cause, int64_t time_ms,
                        int32_t pid);

/*
 * True once per second of time_ms for the word gate (an atomic
 * compare-and-swap): rate-limits events such as bulkhead saturation.
 */
bool bw_event_once_per_second(uint64_t *gate, int64_t time_ms);

/* Name of a kind ("breaker", "bulkhead_full", ...); "?" when invalid. */
const char *bw_event_kind_name(uint32_t kind);

/* Name of a transition's reason ("failure_rate", "probes_ok", ...). */
const char *bw_event_reason_name(uint32_t reason);

/*
 * The event's message without time or pid, as the logs word it:
 * "payments 10.0.0.5:443 breaker open: 6 of 10 calls failed (60% >= 50%);
 * next probe in 5000 ms". addr is the formatted address ("*" for a whole
 * destination), to the failover target's. Returns what snprintf returns.
 */
int bw_event_format(char *buf, size_t size, const bw_event *e, const char *addr, const char *to);

#endif
