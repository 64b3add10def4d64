/*
 * test_events.c - the events ring (bw_events.h) and the connect-time
 * histogram (bw_histogram.h): writing and reading, overwriting, rejection
 * summaries per second (including the racing-writer path), the once-a-second
 * gate, messages, a hostile ring, and histogram buckets at their bounds.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bw_events.h"
#include "bw_histogram.h"
#include "bw_test.h"

static bw_event_ring *new_ring(void)
{
    bw_event_ring *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    return r;
}

/* Reads event n of r into *e, checks its kind, time and pid, and formats it
 * with the two addresses as text into msg. */
static void read_as(const bw_event_ring *r, uint64_t n, bw_event *e, int kind, int64_t time_ms,
                    pid_t pid, const char *at, const char *to, char *msg, size_t len)
{
    CU_ASSERT_EQUAL_FATAL(bw_event_read(r, n, e), BW_EVR_OK);
    CU_ASSERT_EQUAL(e->kind, kind);
    CU_ASSERT_EQUAL(e->time_ms, time_ms);
    CU_ASSERT_EQUAL(e->pid, pid);
    bw_event_format(msg, len, e, at, to);
}

static bw_event_where where(const char *dest, const char *ip, uint16_t port)
{
    bw_event_where w;
    memset(&w, 0, sizeof w);
    snprintf(w.dest, sizeof w.dest, "%s", dest);
    if (ip) {
        w.family = AF_INET;
        inet_pton(AF_INET, ip, w.addr);
        w.port = port;
    }
    return w;
}

static void test_write_read(void)
{
    bw_event_ring *r = new_ring();
    bw_event e;
    CU_ASSERT_EQUAL(bw_event_read(r, 0, &e), BW_EVR_PENDING);
    uint64_t n;
    bw_event *w = bw_event_begin(r, BW_EV_RELOAD, 1234567, 42, &n);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(bw_event_read(r, 0, &e), BW_EVR_PENDING);   /* not published yet */
    snprintf(w->text, sizeof w->text, "/etc/a.ini");
    w->count = 3;
    bw_event_publish(w, n);
    CU_ASSERT_EQUAL(bw_event_next(r), 1);
    char msg[256];
    read_as(r, 0, &e, BW_EV_RELOAD, 1234567, 42, "*", "-", msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "config reloaded: /etc/a.ini (3 destinations)");
    /* 1,024 more events overwrite it. */
    for (int i = 0; i < BW_EVENTS_N; i++) {
        w = bw_event_begin(r, BW_EV_CONFIG_ERROR, 1, 1, &n);
        bw_event_publish(w, n);
    }
    CU_ASSERT_EQUAL(bw_event_read(r, 0, &e), BW_EVR_GONE);
    CU_ASSERT_EQUAL(bw_event_read(r, BW_EVENTS_N, &e), BW_EVR_OK);
    CU_ASSERT_EQUAL(bw_event_read(r, BW_EVENTS_N + 1, &e), BW_EVR_PENDING);
    free(r);
}

static void test_breaker_message(void)
{
    bw_event_ring *r = new_ring();
    bw_event_where at = where("payments", "10.0.0.5", 443);
    bw_breaker_transition t = {.from = BW_BRK_CLOSED, .to = BW_BRK_OPEN,
                               .reason = BW_BRK_WHY_FAILURE_RATE, .failures = 6, .calls = 10,
                               .rate_pct = 60, .threshold = 50, .open_ms = 5000};
    bw_event_add_breaker(r, &at, &t, 1000, 7);
    bw_event e;
    CU_ASSERT_EQUAL_FATAL(bw_event_read(r, 0, &e), BW_EVR_OK);
    char msg[256];
    bw_event_format(msg, sizeof msg, &e, "10.0.0.5:443", "-");
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker open: 6 of 10 calls failed "
                                "(60% >= 50%); next probe in 5000 ms");
    CU_ASSERT_STRING_EQUAL(bw_event_kind_name(e.kind), "breaker");
    CU_ASSERT_STRING_EQUAL(bw_event_reason_name(e.transition.reason), "failure_rate");
    CU_ASSERT_STRING_EQUAL(bw_event_kind_name(99), "?");
    CU_ASSERT_STRING_EQUAL(bw_event_reason_name(99), "?");
    free(r);
}

/* A failover event, begun "placed" in a slot a reload event filled before:
 * every field but the two places is as bw_event_begin leaves it (cleared),
 * the places are the writer's. */
static void test_placed(void)
{
    bw_event_ring *r = new_ring();
    uint64_t n;
    for (int i = 0; i < BW_EVENTS_N; i++) {   /* every slot full of another kind's fields */
        bw_event *w = bw_event_begin(r, BW_EV_BREAKER, 5, 5, &n);
        memset((char *)w + sizeof w->seq, 0xa5, sizeof *w - sizeof w->seq);
        bw_event_publish(w, n);
    }
    bw_event *w = bw_event_begin_placed(r, BW_EV_FAILOVER, 2000, 9, &n);
    CU_ASSERT_EQUAL(n, BW_EVENTS_N);
    w->at = where("svc", "10.0.0.2", 80);
    w->to = where("svc", "10.0.0.3", 80);
    bw_event_publish(w, n);
    bw_event e, blank;
    char msg[256];
    read_as(r, n, &e, BW_EV_FAILOVER, 2000, 9, "10.0.0.2:80", "10.0.0.3:80", msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "svc 10.0.0.2:80 failover to 10.0.0.3:80");
    memset(&blank, 0, sizeof blank);
    const size_t tail = offsetof(bw_event, count);
    CU_ASSERT_EQUAL(memcmp((char *)&e + tail, (char *)&blank + tail, sizeof e - tail), 0);
    free(r);
}

static void test_rejections_per_second(void)
{
    bw_event_ring *r = new_ring();
    uint64_t gate = 0;
    uint32_t pending = 0;
    bw_event_where at = where("db", "127.0.0.1", 5432);
    for (int i = 0; i < 5; i++)   /* second 100: one event, count 5 */
        bw_event_rejection(r, &gate, &pending, &at, BW_REJ_BREAKER, 100000 + i * 100, 1);
    bw_event_rejection(r, &gate, &pending, &at, BW_REJ_BREAKER, 101000, 1);   /* a new second */
    CU_ASSERT_EQUAL(bw_event_next(r), 2);
    bw_event e;
    CU_ASSERT_EQUAL_FATAL(bw_event_read(r, 0, &e), BW_EVR_OK);
    CU_ASSERT_EQUAL(e.kind, BW_EV_REJECTIONS);
    CU_ASSERT_EQUAL(e.count, 5);
    CU_ASSERT_EQUAL(e.cause, BW_REJ_BREAKER);
    char msg[256];
    bw_event_format(msg, sizeof msg, &e, "127.0.0.1:5432", "-");
    CU_ASSERT_STRING_EQUAL(msg, "db 127.0.0.1:5432 rejected 5 connects in this second: breaker open");
    CU_ASSERT_EQUAL_FATAL(bw_event_read(r, 1, &e), BW_EVR_OK);
    CU_ASSERT_EQUAL(e.count, 1);
    /* Another writer is writing second 102's event (gate says "being
     * written"): the rejection is kept in pending and lands in the next one. */
    gate = ((uint64_t)102 << 32);
    bw_event_rejection(r, &gate, &pending, &at, BW_REJ_BULKHEAD, 102500, 1);
    CU_ASSERT_EQUAL(pending, 1);
    CU_ASSERT_EQUAL(bw_event_next(r), 2);
    bw_event_rejection(r, &gate, &pending, &at, BW_REJ_BULKHEAD, 103000, 1);
    CU_ASSERT_EQUAL(pending, 0);
    CU_ASSERT_EQUAL_FATAL(bw_event_read(r, 2, &e), BW_EVR_OK);
    CU_ASSERT_EQUAL(e.count, 2);
    CU_ASSERT_EQUAL(e.cause, BW_REJ_BULKHEAD);
    /* This second's event was overwritten meanwhile: counted in pending. */
    for (int i = 0; i < BW_EVENTS_N; i++) {
        uint64_t n;
        bw_event_publish(bw_event_begin(r, BW_EV_RELOAD, 1, 1, &n), n);
    }
    bw_event_rejection(r, &gate, &pending, &at, BW_REJ_BULKHEAD, 103100, 1);
    CU_ASSERT_EQUAL(pending, 1);
    free(r);
}

static void test_once_per_second(void)
{
    uint64_t gate = 0;
    CU_ASSERT_TRUE(bw_event_once_per_second(&gate, 5000));
    CU_ASSERT_FALSE(bw_event_once_per_second(&gate, 5999));
    CU_ASSERT_TRUE(bw_event_once_per_second(&gate, 6000));
    CU_ASSERT_FALSE(bw_event_once_per_second(&gate, 6001));
}

/* Every slot claims to be a complete event but holds random bytes, as a
 * hostile state file may: reading and formatting stay in bounds. */
static void test_hostile_ring(void)
{
    bw_event_ring *r = new_ring();
    srand(17);
    unsigned char *p = (unsigned char *)r;
    for (size_t i = 0; i < sizeof *r; i++)
        p[i] = (unsigned char)rand();
    r->next = BW_EVENTS_N;
    for (uint64_t n = 0; n < BW_EVENTS_N; n++)
        r->ev[n].seq = 2 * n + 2;
    for (uint64_t n = 0; n < BW_EVENTS_N; n++) {
        bw_event e;
        CU_ASSERT_EQUAL_FATAL(bw_event_read(r, n, &e), BW_EVR_OK);
        CU_ASSERT_TRUE(strlen(e.at.dest) < sizeof e.at.dest);
        CU_ASSERT_TRUE(strlen(e.text) < sizeof e.text);
        char msg[512];
        int len = bw_event_format(msg, sizeof msg, &e, "x", "y");
        CU_ASSERT_TRUE(len >= 0);
        CU_ASSERT_TRUE(strlen(msg) < sizeof msg);
    }
    free(r);
}

static void test_histogram(void)
{
    bw_histogram h;
    memset(&h, 0, sizeof h);
    bw_hist_observe(&h, 0);          /* <= 1 ms */
    bw_hist_observe(&h, 1000);       /* <= 1 ms: the bound is inclusive */
    bw_hist_observe(&h, 1001);       /* <= 2.5 ms */
    bw_hist_observe(&h, 30000000);   /* <= 30 s */
    bw_hist_observe(&h, 30000001);   /* +Inf */
    uint64_t cum[BW_HIST_BOUNDS + 1], sum;
    bw_hist_read(&h, cum, &sum);
    CU_ASSERT_EQUAL(cum[0], 2);
    CU_ASSERT_EQUAL(cum[1], 3);
    CU_ASSERT_EQUAL(cum[BW_HIST_BOUNDS - 2], 3);
    CU_ASSERT_EQUAL(cum[BW_HIST_BOUNDS - 1], 4);
    CU_ASSERT_EQUAL(cum[BW_HIST_BOUNDS], 5);
    CU_ASSERT_EQUAL(sum, 0 + 1000 + 1001 + 30000000 + 30000001ULL);
    CU_ASSERT_EQUAL(bw_hist_bounds_us[0], 1000);
    CU_ASSERT_EQUAL(bw_hist_bounds_us[BW_HIST_BOUNDS - 1], 30000000);
    for (int i = 1; i < BW_HIST_BOUNDS; i++)
        CU_ASSERT_TRUE(bw_hist_bounds_us[i] > bw_hist_bounds_us[i - 1]);
    /* Counts from a corrupt file: the cumulative ones saturate, never fall. */
    memset(&h, 0xff, sizeof h);
    bw_hist_read(&h, cum, &sum);
    for (int i = 1; i <= BW_HIST_BOUNDS; i++)
        CU_ASSERT_TRUE(cum[i] >= cum[i - 1]);
}

static const bw_test_case ring_tests[] = {
    {"write, read, overwrite", test_write_read},
    {"breaker transition message", test_breaker_message},
    {"a placed event: the rest cleared", test_placed},
    {"rejections summarised per second", test_rejections_per_second},
    {"once a second", test_once_per_second},
    {"hostile ring", test_hostile_ring},
    {NULL, NULL},
};

static const bw_test_case hist_tests[] = {
    {"buckets and bounds", test_histogram},
    {NULL, NULL},
};

BW_TEST_MAIN({"events", ring_tests}, {"histogram", hist_tests})
