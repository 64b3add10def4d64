/*
 * test_breaker.c - the circuit breaker, driven transition by transition with
 * an injected clock and injected randomness (rnd = MID means no jitter).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include "bw_breaker.h"
#include "bw_test.h"

#define MID 0x80000000u   /* rnd that puts the open time exactly at its middle */

/* SPEC section 4 defaults for every breaker key; nothing else matters here. */
static bw_policy pol(void)
{
    bw_policy p;
    memset(&p, 0, sizeof p);
    p.enabled = true;
    p.breaker = BW_BREAKER_ON;
    p.breaker_window = BW_WINDOW_COUNT;
    p.breaker_window_size = 20;
    p.breaker_min_calls = 10;
    p.breaker_failure_rate = 50;
    p.breaker_consecutive_failures = 5;
    p.breaker_slow_ms = 0;
    p.breaker_slow_rate = 100;
    p.breaker_open_ms = 5000;
    p.breaker_open_max_ms = 60000;
    p.breaker_half_open_probes = 1;
    p.breaker_half_open_timeout_ms = 10000;
    return p;
}

/* Records one call; fails the test if it reports a transition. */
static void quiet(bw_breaker *b, const bw_policy *p, int64_t now, bool failed, uint32_t ms)
{
    bw_breaker_transition t;
    bool changed = bw_breaker_record(b, p, now, MID, failed ? BW_CALL_FAILURE : BW_CALL_SUCCESS,
                                     ms, 0, &t);
    CU_ASSERT_FALSE(changed);
}

static bool rec(bw_breaker *b, const bw_policy *p, int64_t now, bool failed, uint32_t token,
                bw_breaker_transition *t)
{
    return bw_breaker_record(b, p, now, MID, failed ? BW_CALL_FAILURE : BW_CALL_SUCCESS, 0, token,
                             t);
}

static enum bw_breaker_state st(const bw_breaker *b, const bw_policy *p)
{
    return bw_breaker_state(b, p);
}

/* Records failures at now until the breaker opens (bounded); returns how many. */
static int trip_at(bw_breaker *b, const bw_policy *p, int64_t now)
{
    int n = 0;
    while (n < 1000 && !bw_breaker_record(b, p, now, MID, BW_CALL_FAILURE, 0, 0, NULL))
        n++;
    CU_ASSERT_EQUAL(st(b, p), BW_BRK_OPEN);
    return n + 1;
}

/* Admits at now expecting a probe, returns its token. */
static uint32_t probe(bw_breaker *b, const bw_policy *p, int64_t now)
{
    bw_breaker_decision d;
    CU_ASSERT_EQUAL(bw_breaker_admit(b, p, now, MID, &d), BW_ADMIT_PROBE);
    CU_ASSERT_NOT_EQUAL(d.probe_token, 0);
    return d.probe_token;
}

static void test_init_is_zero_and_closed(void)
{
    bw_breaker b, zero;
    bw_policy p = pol();
    memset(&b, 0xAB, sizeof b);
    memset(&zero, 0, sizeof zero);
    bw_breaker_init(&b);
    CU_ASSERT_EQUAL(memcmp(&b, &zero, sizeof b), 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 0), 0);
    CU_ASSERT_TRUE(sizeof(bw_breaker) < 1024);
}

static void test_stays_closed_below_min_calls(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 9; i++)
        quiet(&b, &p, 1000, true, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 1000), 9);
    CU_ASSERT_DOUBLE_EQUAL(bw_breaker_failure_rate(&b, 1000), 1.0, 1e-12);
    CU_ASSERT_TRUE(rec(&b, &p, 1000, true, 0, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_FAILURE_RATE);
    CU_ASSERT_EQUAL(t.failures, 10);
    CU_ASSERT_EQUAL(t.calls, 10);
    CU_ASSERT_EQUAL(t.rate_pct, 100);
}

static void test_opens_exactly_at_threshold(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_window_size = 10;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 5; i++)
        quiet(&b, &p, 0, false, 0);
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, true, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 0, true, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_FAILURE_RATE);
    CU_ASSERT_EQUAL(t.failures, 5);
    CU_ASSERT_EQUAL(t.calls, 10);
    CU_ASSERT_EQUAL(t.rate_pct, 50);
    CU_ASSERT_EQUAL(t.threshold, 50);
    CU_ASSERT_EQUAL(t.open_ms, 5000);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
}

static void test_one_below_threshold_stays_closed(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_window_size = 10;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 6; i++)
        quiet(&b, &p, 0, false, 0);
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_DOUBLE_EQUAL(bw_breaker_failure_rate(&b, 0), 0.4, 1e-12);
}

static void test_count_window_slides(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_window_size = 10;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, true, 0);
    for (int i = 0; i < 6; i++)
        quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).failures, 4);
    /* Four more successes push the four failures out. */
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, false, 0);
    bw_breaker_counts c = bw_breaker_counts_at(&b, 0);
    CU_ASSERT_EQUAL(c.calls, 10);
    CU_ASSERT_EQUAL(c.failures, 0);
    /* Last 10 = 6 successes + 4 failures: closed; the 5th failure opens. */
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).failures, 4);
    CU_ASSERT_TRUE(rec(&b, &p, 0, true, 0, &t));
    CU_ASSERT_EQUAL(t.failures, 5);
    CU_ASSERT_EQUAL(t.calls, 10);
}

static void test_min_calls_capped_at_count_window(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_window_size = 4;
    p.breaker_min_calls = 10;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 0, true, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 0, true, 0, &t));
    CU_ASSERT_EQUAL(t.calls, 4);
    CU_ASSERT_EQUAL(t.failures, 2);
}

static void test_time_window_expiry(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 10;
    p.breaker_min_calls = 3;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    quiet(&b, &p, 1000, true, 0);
    quiet(&b, &p, 1999, true, 0);
    /* Exact per second for N <= 64: second 1 is in the window through second 10. */
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 10999), 2);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 11000), 0);
    quiet(&b, &p, 11000, true, 0);
    quiet(&b, &p, 11000, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 11000), 2);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    /* Third call in the window at 2 of 3 failed opens it. */
    CU_ASSERT_TRUE(rec(&b, &p, 12500, true, 0, &t));
    CU_ASSERT_EQUAL(t.calls, 3);
    CU_ASSERT_EQUAL(t.failures, 2);
    CU_ASSERT_EQUAL(t.rate_pct, 66);
}

static void test_time_window_failures_inside_window_open(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 10;
    p.breaker_min_calls = 3;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    quiet(&b, &p, 1000, true, 0);
    quiet(&b, &p, 5000, true, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 10999, false, 0, &t));
    CU_ASSERT_EQUAL(t.calls, 3);
    CU_ASSERT_EQUAL(t.failures, 2);
}

static void test_time_window_buckets_for_long_windows(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 3600;   /* 64 buckets of 57 s */
    bw_breaker_init(&b);
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 56999, false, 0);
    quiet(&b, &p, 57000, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 0), 3);
    /* The first bucket [0, 57 s) leaves when the 65th bucket starts at 64 * 57 s. */
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 64 * 57000 - 1), 3);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 64 * 57000), 1);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 65 * 57000), 0);
    /* Writing far in the future empties every old bucket. */
    quiet(&b, &p, 1000 * 57000, true, 0);
    bw_breaker_counts c = bw_breaker_counts_at(&b, 1000 * 57000);
    CU_ASSERT_EQUAL(c.calls, 1);
    CU_ASSERT_EQUAL(c.failures, 1);
}

static void test_time_window_bucket_width_edges(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 64;   /* still one-second buckets */
    bw_breaker_init(&b);
    quiet(&b, &p, 1500, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 64999), 1);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 65000), 0);
    p.breaker_window_size = 65;   /* two-second buckets, 33 of them */
    quiet(&b, &p, 1500, false, 0);   /* bucket [0 s, 2 s) */
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 65999), 1);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 66000), 0);
}

static void test_time_window_clock_behind_counts_in_newest(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 5;
    bw_breaker_init(&b);
    quiet(&b, &p, 9000, false, 0);
    quiet(&b, &p, 3000, true, 0);   /* another process read the clock earlier */
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 9000), 2);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 14000), 0);
}

static void test_consecutive_failures(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    char msg[200];
    p.breaker_consecutive_failures = 3;
    p.breaker_min_calls = 100;
    bw_breaker_init(&b);
    quiet(&b, &p, 0, true, 0);
    quiet(&b, &p, 0, true, 0);
    quiet(&b, &p, 0, false, 0);   /* the run starts again */
    quiet(&b, &p, 0, true, 0);
    quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_TRUE(rec(&b, &p, 0, true, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_CONSECUTIVE);
    CU_ASSERT_EQUAL(t.failures, 3);
    CU_ASSERT_EQUAL(t.threshold, 3);
    bw_breaker_format(msg, sizeof msg, "db", "10.0.0.7:5432", &t);
    CU_ASSERT_STRING_EQUAL(msg, "db 10.0.0.7:5432 breaker open: 3 consecutive failures; "
                                "next probe in 5000 ms");
}

/* A success replaced by a failure later (a TLS handshake that failed after
 * its connect) does not break the run; another success in between does. */
static void test_consecutive_replaced(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_consecutive_failures = 3;
    p.breaker_min_calls = 100;
    bw_breaker_init(&b);
    for (int i = 0; i < 2; i++) {   /* connect ok, handshake fails: twice */
        bw_breaker_run before = bw_breaker_run_now(&b);
        quiet(&b, &p, 0, false, 0);
        CU_ASSERT_FALSE(bw_breaker_record_replacing(&b, &p, 0, MID, before, 0, &t));
    }
    bw_breaker_run before = bw_breaker_run_now(&b);
    CU_ASSERT_EQUAL(before.failures, 2);
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 0, true, 0);   /* another call's failure meanwhile counts too */
    CU_ASSERT_TRUE(bw_breaker_record_replacing(&b, &p, 0, MID, before, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_CONSECUTIVE);
    CU_ASSERT_EQUAL(t.failures, 4);

    /* another call's success between the two: an ordinary failure */
    bw_breaker_init(&b);
    quiet(&b, &p, 0, true, 0);
    quiet(&b, &p, 0, true, 0);
    before = bw_breaker_run_now(&b);
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_FALSE(bw_breaker_record_replacing(&b, &p, 0, MID, before, 0, &t));
    CU_ASSERT_EQUAL(bw_breaker_run_now(&b).failures, 1);

    /* a reset between the two: the run before it is gone */
    bw_breaker_init(&b);
    quiet(&b, &p, 0, true, 0);
    quiet(&b, &p, 0, true, 0);
    before = bw_breaker_run_now(&b);
    quiet(&b, &p, 0, false, 0);
    bw_breaker_reset(&b, &p, 0, NULL);
    CU_ASSERT_FALSE(bw_breaker_record_replacing(&b, &p, 0, MID, before, 0, &t));
    CU_ASSERT_EQUAL(bw_breaker_run_now(&b).failures, 1);
}

static void test_consecutive_off(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_consecutive_failures = 0;
    p.breaker_min_calls = 100;
    p.breaker_window_size = 1000;
    bw_breaker_init(&b);
    for (int i = 0; i < 99; i++)
        quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
}

static void test_slow_rate(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    char msg[200];
    p.breaker_window_size = 10;
    p.breaker_min_calls = 5;
    p.breaker_slow_ms = 1000;
    p.breaker_slow_rate = 80;
    bw_breaker_init(&b);
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 0, false, 1000);
    CU_ASSERT_TRUE(bw_breaker_record(&b, &p, 0, MID, BW_CALL_SUCCESS, 999, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_SLOW_RATE);
    CU_ASSERT_EQUAL(t.failures, 4);
    CU_ASSERT_EQUAL(t.calls, 5);
    CU_ASSERT_EQUAL(t.rate_pct, 80);
    CU_ASSERT_EQUAL(t.threshold, 80);
    bw_breaker_format(msg, sizeof msg, "api", "[::1]:8080", &t);
    CU_ASSERT_STRING_EQUAL(msg, "api [::1]:8080 breaker open: 4 of 5 calls slow (80% >= 80%); "
                                "next probe in 5000 ms");
}

static void test_slow_rate_one_below_and_off(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_window_size = 10;
    p.breaker_min_calls = 5;
    p.breaker_slow_ms = 1000;
    p.breaker_slow_rate = 80;
    bw_breaker_init(&b);
    for (int i = 0; i < 3; i++)
        quiet(&b, &p, 0, false, 5000);
    quiet(&b, &p, 0, false, 999);
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).slow, 3);
    /* slow_ms = 0: nothing is slow, however long. */
    p.breaker_slow_ms = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 10; i++)
        quiet(&b, &p, 0, false, UINT32_MAX);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).slow, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
}

static void test_open_then_half_open_probes(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    p.breaker_half_open_probes = 2;
    bw_breaker_init(&b);
    trip_at(&b, &p, 1000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_EQUAL(d.open_left_ms, 5000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 5999, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_EQUAL(d.open_left_ms, 1);
    CU_ASSERT_FALSE(d.changed);
    CU_ASSERT_FALSE(d.would_reject);

    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6000, MID, &d), BW_ADMIT_PROBE);
    CU_ASSERT_TRUE(d.changed);
    CU_ASSERT_EQUAL(d.transition.from, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(d.transition.to, BW_BRK_HALF_OPEN);
    CU_ASSERT_EQUAL(d.transition.reason, BW_BRK_WHY_OPEN_ELAPSED);
    uint32_t t1 = d.probe_token;
    uint32_t t2 = probe(&b, &p, 6001);
    CU_ASSERT_NOT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6002, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_EQUAL(d.probe_token, 0);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_HALF_OPEN);

    CU_ASSERT_FALSE(rec(&b, &p, 6100, false, t1, &t));
    /* One success so far; a third probe is still not allowed in this period. */
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6150, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_TRUE(rec(&b, &p, 6200, false, t2, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_HALF_OPEN);
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_PROBES_OK);
    CU_ASSERT_EQUAL(t.probes_ok, 2);
    CU_ASSERT_EQUAL(t.probes, 2);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 6200), 0);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6300, MID, &d), BW_ADMIT_ALLOW);
}

static void test_closed_then_trip_uses_base_open_time(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_TRUE(rec(&b, &p, 5000, true, tok, &t));
    CU_ASSERT_EQUAL(t.open_ms, 10000);
    tok = probe(&b, &p, 15000);
    CU_ASSERT_TRUE(rec(&b, &p, 15000, false, tok, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    /* Closing reset the doubling. */
    for (int i = 0; i < 4; i++)
        quiet(&b, &p, 16000, true, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 16000, true, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_CONSECUTIVE);
    CU_ASSERT_EQUAL(t.open_ms, 5000);
}

static void test_probe_failure_doubles_open_time(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    char msg[200];
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_TRUE(rec(&b, &p, 5100, true, tok, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_HALF_OPEN);
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_PROBE_FAILED);
    CU_ASSERT_EQUAL(t.open_ms, 10000);
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &t);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker open: probe failed; "
                                "next probe in 10000 ms");
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 15099, MID, &d), BW_ADMIT_REJECT);
    tok = probe(&b, &p, 15100);
    CU_ASSERT_TRUE(rec(&b, &p, 15100, true, tok, &t));
    CU_ASSERT_EQUAL(t.open_ms, 20000);
}

static void test_open_time_capped(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    const uint32_t want[] = {10000, 12000, 12000, 12000};
    p.breaker_open_max_ms = 12000;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    int64_t now = 5000;
    for (int i = 0; i < 4; i++) {
        uint32_t tok = probe(&b, &p, now);
        CU_ASSERT_TRUE(rec(&b, &p, now, true, tok, &t));
        CU_ASSERT_EQUAL(t.open_ms, want[i]);
        now += t.open_ms;
    }
}

static void test_doubling_survives_many_reopenings(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    p.breaker_open_ms = 1;
    p.breaker_open_max_ms = UINT32_MAX / 2;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    int64_t now = 1;
    for (int i = 0; i < 300; i++) {
        uint32_t tok = probe(&b, &p, now);
        CU_ASSERT_TRUE(rec(&b, &p, now, true, tok, &t));
        now += t.open_ms;
    }
    CU_ASSERT_EQUAL(t.open_ms, UINT32_MAX / 2);
}

/* Open time of the first opening of a fresh breaker, with rnd. */
static uint32_t first_open_ms(const bw_policy *p, uint32_t rnd)
{
    bw_breaker b;
    bw_breaker_transition t;
    bw_breaker_init(&b);
    for (int i = 0; i < 1000; i++)
        if (bw_breaker_record(&b, p, 0, rnd, BW_CALL_FAILURE, 0, 0, &t))
            return t.open_ms;
    CU_FAIL("never opened");
    return 0;
}

static void test_jitter_bounds(void)
{
    bw_policy p = pol();
    CU_ASSERT_EQUAL(first_open_ms(&p, 0), 4500);
    CU_ASSERT_EQUAL(first_open_ms(&p, UINT32_MAX), 5500);
    CU_ASSERT_EQUAL(first_open_ms(&p, MID), 5000);
    CU_ASSERT_EQUAL(first_open_ms(&p, MID - 1), 5000);
    CU_ASSERT_EQUAL(first_open_ms(&p, MID - 4300000u), 4999);   /* one step is 2^32 / 1001 */
    CU_ASSERT_EQUAL(first_open_ms(&p, MID + 4300000u), 5001);
    for (uint32_t r = 0; r < 64; r++) {
        uint32_t ms = first_open_ms(&p, r * 67108863u);
        CU_ASSERT_TRUE(ms >= 4500 && ms <= 5500);
    }
}

static void test_probe_timeout_on_admit(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    char msg[200];
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 6000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 15999, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_FALSE(d.changed);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 16000, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_TRUE(d.changed);
    CU_ASSERT_EQUAL(d.transition.from, BW_BRK_HALF_OPEN);
    CU_ASSERT_EQUAL(d.transition.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(d.transition.reason, BW_BRK_WHY_PROBE_TIMEOUT);
    CU_ASSERT_EQUAL(d.transition.open_ms, 10000);
    CU_ASSERT_EQUAL(d.open_left_ms, 10000);
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &d.transition);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker open: probe timed out; "
                                "next probe in 10000 ms");
    /* The probe finishing late is counted but changes nothing. */
    uint32_t before = bw_breaker_window_calls(&b, 16001);
    CU_ASSERT_FALSE(rec(&b, &p, 16001, false, tok, &t));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 16001), before + 1);
}

static void test_probe_timeout_on_record(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    /* A call admitted before the opening finishes after the probe's time is up. */
    CU_ASSERT_TRUE(rec(&b, &p, 15000, false, 0, &t));
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_PROBE_TIMEOUT);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
    CU_ASSERT_FALSE(rec(&b, &p, 15001, false, tok, &t));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
}

static void test_probe_timeout_zero_means_no_limit(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    p.breaker_half_open_timeout_ms = 0;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 100000000, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_FALSE(d.changed);
    CU_ASSERT_TRUE(rec(&b, &p, 100000000, false, tok, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
}

static void test_stale_and_foreign_tokens_are_ordinary_calls(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t old = probe(&b, &p, 5000);
    CU_ASSERT_TRUE(rec(&b, &p, 5000, true, old, &t));   /* reopens for 10 s */
    uint32_t cur = probe(&b, &p, 15000);
    CU_ASSERT_NOT_EQUAL(old, cur);
    CU_ASSERT_FALSE(rec(&b, &p, 15001, false, old, &t));
    CU_ASSERT_FALSE(rec(&b, &p, 15001, false, cur ^ 0x3, &t));
    CU_ASSERT_FALSE(rec(&b, &p, 15001, true, 0xFFFFFFFFu, &t));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_HALF_OPEN);
    CU_ASSERT_TRUE(rec(&b, &p, 15002, false, cur, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    /* The same token twice counts once. */
    CU_ASSERT_FALSE(rec(&b, &p, 15003, false, cur, &t));
}

static void test_late_record_while_open(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_FALSE(rec(&b, &p, 100, i % 2, 0, &t));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 100), 20);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_OPEN), 1);
}

static void test_dry_run(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    p.breaker = BW_BREAKER_DRYRUN;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_EQUAL(d.verdict, BW_ADMIT_ALLOW);
    CU_ASSERT_TRUE(d.would_reject);
    CU_ASSERT_EQUAL(d.open_left_ms, 4000);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_HALF_OPEN);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 5001, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_TRUE(d.would_reject);
    CU_ASSERT_EQUAL(d.probe_token, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 5002, true, tok, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.open_ms, 10000);
    /* Closed and not tripping: no would_reject. */
    bw_breaker_init(&b);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 0, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_FALSE(d.would_reject);
}

static void test_forced_open_and_auto(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    char msg[200];
    bw_breaker_init(&b);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 0, MID, BW_FORCE_OPEN, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.to, BW_BRK_FORCED_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_FORCED);
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &t);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker forced_open: set by operator");
    CU_ASSERT_FALSE(bw_breaker_force(&b, &p, 0, MID, BW_FORCE_OPEN, &t));
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000000, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_FORCED_OPEN);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 1000, MID, BW_FORCE_AUTO, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_FORCED_OPEN);
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_UNFORCED);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_FALSE(bw_breaker_force(&b, &p, 1000, MID, (enum bw_breaker_force)7, &t));
}

static void test_forced_closed_admits_through_failures(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    p.breaker_window_size = 10;
    bw_breaker_init(&b);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 0, MID, BW_FORCE_CLOSED, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_FORCED_CLOSED);
    for (int i = 0; i < 30; i++) {
        CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, i, MID, &d), BW_ADMIT_ALLOW);
        quiet(&b, &p, i, true, 0);
    }
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_FORCED_CLOSED);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 30), 10);
    CU_ASSERT_DOUBLE_EQUAL(bw_breaker_failure_rate(&b, 30), 1.0, 1e-12);
    /* Back to auto, the window decides at once. */
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 30, MID, BW_FORCE_AUTO, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_FORCED_CLOSED);
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_FAILURE_RATE);
    CU_ASSERT_EQUAL(t.failures, 10);
    CU_ASSERT_EQUAL(t.open_ms, 5000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 31, MID, &d), BW_ADMIT_REJECT);
}

static void test_force_over_open_and_half_open(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    char msg[200];
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    /* Forced closed over open, lifted before the open time ends: open again. */
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 1000, MID, BW_FORCE_CLOSED, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 2000, MID, BW_FORCE_AUTO, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_UNFORCED);
    CU_ASSERT_EQUAL(t.open_ms, 3000);
    bw_breaker_format(msg, sizeof msg, "x", "1.2.3.4:80", &t);
    CU_ASSERT_STRING_EQUAL(msg, "x 1.2.3.4:80 breaker open: override lifted by operator; "
                                "next probe in 3000 ms");
    /* Forced over half_open abandons the period; its probe is then ordinary. */
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 5001, MID, BW_FORCE_OPEN, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_HALF_OPEN);
    CU_ASSERT_FALSE(rec(&b, &p, 5002, false, tok, &t));
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 5003, MID, BW_FORCE_AUTO, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.open_ms, 0);
    uint32_t tok2 = probe(&b, &p, 5004);
    CU_ASSERT_NOT_EQUAL(tok, tok2);
    CU_ASSERT_FALSE(rec(&b, &p, 5005, false, tok, &t));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_HALF_OPEN);
    CU_ASSERT_TRUE(rec(&b, &p, 5006, false, tok2, &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
}

static void test_reset(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    char msg[200];
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    CU_ASSERT_TRUE(rec(&b, &p, 5000, true, tok, &t));   /* open for 10 s */
    CU_ASSERT_TRUE(bw_breaker_reset(&b, &p, 6000, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_RESET);
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &t);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker closed: reset by operator");
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 6000), 0);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6000, MID, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_OPEN), 2);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_CLOSED), 1);
    /* Doubling and the failure run were cleared too. */
    quiet(&b, &p, 6000, true, 0);
    for (int i = 0; i < 3; i++)
        quiet(&b, &p, 6000, true, 0);
    CU_ASSERT_TRUE(rec(&b, &p, 6000, true, 0, &t));
    CU_ASSERT_EQUAL(t.open_ms, 5000);
    /* Reset lifts an override; resetting a clean breaker reports nothing. */
    bw_breaker_force(&b, &p, 7000, MID, BW_FORCE_OPEN, NULL);
    CU_ASSERT_TRUE(bw_breaker_reset(&b, &p, 7000, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_FORCED_OPEN);
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_FALSE(bw_breaker_reset(&b, &p, 7000, &t));
}

static void test_spec_message_examples(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    char msg[200];
    p.breaker_window_size = 10;
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 10; i++)
        rec(&b, &p, 0, i % 5 < 3, 0, &t);   /* f f f s s f f f s s */
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_OPEN);
    int n = bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &t);
    const char *want = "payments 10.0.0.5:443 breaker open: 6 of 10 calls failed (60% >= 50%); "
                       "next probe in 5000 ms";
    CU_ASSERT_STRING_EQUAL(msg, want);
    CU_ASSERT_EQUAL(n, (int)strlen(want));

    bw_breaker_decision d;
    bw_breaker_admit(&b, &p, 5000, MID, &d);
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &d.transition);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker half_open: probing");
    CU_ASSERT_TRUE(rec(&b, &p, 5001, false, d.probe_token, &t));
    bw_breaker_format(msg, sizeof msg, "payments", "10.0.0.5:443", &t);
    CU_ASSERT_STRING_EQUAL(msg, "payments 10.0.0.5:443 breaker closed: 1 of 1 probes succeeded");
}

static void test_format_truncates_safely(void)
{
    bw_breaker_transition t;
    char small[16];
    memset(&t, 0, sizeof t);
    t.from = BW_BRK_CLOSED;
    t.to = BW_BRK_OPEN;
    t.reason = BW_BRK_WHY_CONSECUTIVE;
    t.failures = 5;
    t.open_ms = 5000;
    const char *want = "db 1.1.1.1:1 breaker open: 5 consecutive failures; next probe in 5000 ms";
    memset(small, 'Z', sizeof small);
    int n = bw_breaker_format(small, sizeof small, "db", "1.1.1.1:1", &t);
    CU_ASSERT_EQUAL(n, (int)strlen(want));
    CU_ASSERT_EQUAL(strncmp(small, want, sizeof small - 1), 0);
    CU_ASSERT_EQUAL(small[sizeof small - 1], '\0');
    CU_ASSERT_EQUAL(bw_breaker_format(NULL, 0, "db", "1.1.1.1:1", &t), (int)strlen(want));
    char full[128];
    bw_breaker_format(full, sizeof full, NULL, NULL, &t);
    CU_ASSERT_STRING_EQUAL(full, "breaker open: 5 consecutive failures; next probe in 5000 ms");
}

static void test_state_names_and_gauge(void)
{
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_CLOSED), "closed");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_OPEN), "open");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_HALF_OPEN), "half_open");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_FORCED_OPEN), "forced_open");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_FORCED_CLOSED), "forced_closed");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name(BW_BRK_DISABLED), "disabled");
    CU_ASSERT_STRING_EQUAL(bw_breaker_state_name((enum bw_breaker_state)99), "?");
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_CLOSED), 0);
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_OPEN), 1);
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_HALF_OPEN), 2);
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_FORCED_OPEN), 3);
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_FORCED_CLOSED), 4);
    CU_ASSERT_EQUAL(bw_breaker_state_gauge(BW_BRK_DISABLED), -1);
}

static void test_transition_counters(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);
    uint32_t tok = probe(&b, &p, 5000);
    rec(&b, &p, 5000, false, tok, &t);
    bw_breaker_force(&b, &p, 6000, MID, BW_FORCE_CLOSED, NULL);
    bw_breaker_force(&b, &p, 6000, MID, BW_FORCE_OPEN, NULL);
    bw_breaker_force(&b, &p, 6000, MID, BW_FORCE_AUTO, NULL);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_OPEN), 1);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_HALF_OPEN), 1);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_CLOSED), 2);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_FORCED_CLOSED), 1);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, BW_BRK_FORCED_OPEN), 1);
    CU_ASSERT_EQUAL(bw_breaker_transitions(&b, (enum bw_breaker_state)42), 0);
}

static void test_breaker_off(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    p.breaker = BW_BREAKER_OFF;
    bw_breaker_init(&b);
    for (int i = 0; i < 30; i++) {
        CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 0, MID, &d), BW_ADMIT_ALLOW);
        CU_ASSERT_FALSE(bw_breaker_record(&b, &p, 0, MID, BW_CALL_FAILURE, 0, 0, NULL));
    }
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_DISABLED);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 0), 0);
}

static void test_policy_reload_rebuilds_window(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.breaker_consecutive_failures = 0;
    bw_breaker_init(&b);
    for (int i = 0; i < 5; i++)
        quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(bw_breaker_window_calls(&b, 0), 5);
    p.breaker_window_size = 30;
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).calls, 1);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).failures, 0);
    p.breaker_window = BW_WINDOW_TIME;
    quiet(&b, &p, 0, true, 0);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).calls, 1);
    CU_ASSERT_EQUAL(bw_breaker_counts_at(&b, 0).failures, 1);
}

/* Admits at now with rnd = 0, 1, ..., 999 on copies of b; returns how many pass. */
static int admitted_per_mille(const bw_breaker *b, const bw_policy *p, int64_t now)
{
    int n = 0;
    for (uint32_t r = 0; r < 1000; r++) {
        bw_breaker c = *b;
        bw_breaker_decision d;
        if (bw_breaker_admit(&c, p, now, r, &d) == BW_ADMIT_ALLOW)
            n++;
        else
            CU_ASSERT_TRUE(d.slow_start);
    }
    return n;
}

static void test_slow_start_ramp(void)
{
    bw_breaker b;
    bw_policy p = pol();
    p.slow_start_ms = 2000;
    bw_breaker_init(&b);
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 1000), 1000);   /* never opened: full rate */
    trip_at(&b, &p, 1000);
    bw_breaker_transition t;
    CU_ASSERT_TRUE(rec(&b, &p, 7000, false, probe(&b, &p, 7000), &t));
    CU_ASSERT_EQUAL(t.to, BW_BRK_CLOSED);
    /* From 10 % at the close, linearly to 100 % at slow_start_ms. */
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 7000), 100);
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 8000), 550);
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 8999), 999);
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 9000), 1000);
    /* slow_start_ms = 0: full rate at once; an operator's reset: no ramp. */
    p.slow_start_ms = 0;
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 7000), 1000);
    p.slow_start_ms = 2000;
    bw_breaker_reset(&b, &p, 7500, NULL);
    CU_ASSERT_EQUAL(admitted_per_mille(&b, &p, 7500), 1000);
    /* dry-run reports what slow start would reject, and rejects nothing. */
    trip_at(&b, &p, 10000);
    CU_ASSERT_TRUE(rec(&b, &p, 16000, false, probe(&b, &p, 16000), &t));
    p.breaker = BW_BREAKER_DRYRUN;
    bw_breaker_decision d;
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 16000, 999, &d), BW_ADMIT_ALLOW);
    CU_ASSERT_TRUE(d.would_reject);
}

static void test_open_for_retry_after(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_transition t;
    bw_breaker_decision d;
    bw_breaker_init(&b);
    CU_ASSERT_TRUE(bw_breaker_open_for(&b, &p, 1000, 2000, &t));
    CU_ASSERT_EQUAL(t.from, BW_BRK_CLOSED);
    CU_ASSERT_EQUAL(t.to, BW_BRK_OPEN);
    CU_ASSERT_EQUAL(t.reason, BW_BRK_WHY_RETRY_AFTER);
    CU_ASSERT_EQUAL(t.open_ms, 2000);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 2999, MID, &d), BW_ADMIT_REJECT);
    CU_ASSERT_EQUAL(d.open_left_ms, 1);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 3000, MID, &d), BW_ADMIT_PROBE);
    /* While open, the server's word sets the end, shorter or longer. */
    bw_breaker_init(&b);
    trip_at(&b, &p, 0);   /* open for 5000 */
    CU_ASSERT_FALSE(bw_breaker_open_for(&b, &p, 100, 1000, &t));
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1100, MID, &d), BW_ADMIT_PROBE);
    /* Forced or off: no effect. */
    bw_breaker_init(&b);
    bw_breaker_force(&b, &p, 0, MID, BW_FORCE_CLOSED, NULL);
    CU_ASSERT_FALSE(bw_breaker_open_for(&b, &p, 0, 1000, &t));
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1, MID, &d), BW_ADMIT_ALLOW);
    p.breaker = BW_BREAKER_OFF;
    bw_breaker_init(&b);
    CU_ASSERT_FALSE(bw_breaker_open_for(&b, &p, 0, 1000, &t));
}

static void test_corrupt_struct_is_contained(void)
{
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_transition t;
    const unsigned char fills[] = {0xFF, 0x80, 0x7F, 0x01};
    for (unsigned f = 0; f < sizeof fills; f++) {
        bw_breaker b;
        memset(&b, fills[f], sizeof b);
        (void)bw_breaker_window_calls(&b, 0);
        (void)bw_breaker_failure_rate(&b, INT64_MAX / 2);
        (void)bw_breaker_state(&b, &p);
        bw_breaker_admit(&b, &p, 1000, MID, &d);
        bw_breaker_record(&b, &p, 1000, MID, BW_CALL_FAILURE, 0, d.probe_token, &t);
        CU_ASSERT_TRUE(st(&b, &p) <= BW_BRK_FORCED_CLOSED);
        CU_ASSERT_TRUE(bw_breaker_window_calls(&b, 1000) <= p.breaker_window_size);
        p.breaker_window = BW_WINDOW_TIME;
        memset(&b, fills[f], sizeof b);
        b.window.kind = BW_WINDOW_TIME;
        b.window.size = 60;
        (void)bw_breaker_counts_at(&b, 0);
        bw_breaker_record(&b, &p, 0, MID, BW_CALL_SUCCESS, 0, 0, NULL);
        bw_breaker_counts c = bw_breaker_counts_at(&b, 0);
        CU_ASSERT_TRUE(c.failures <= c.calls && c.slow <= c.calls);
        p.breaker_window = BW_WINDOW_COUNT;
        /* A plausible state with hostile times and tokens. */
        const uint8_t states[] = {BW_BRK_OPEN, BW_BRK_HALF_OPEN};
        for (unsigned s = 0; s < 2; s++) {
            memset(&b, fills[f], sizeof b);
            b.state = states[s];
            b.force = BW_FORCE_AUTO;
            bw_breaker_admit(&b, &p, 0, MID, &d);
            bw_breaker_record(&b, &p, 0, MID, BW_CALL_FAILURE, 0, d.probe_token, NULL);
            bw_breaker_force(&b, &p, 0, MID, BW_FORCE_AUTO, NULL);
            CU_ASSERT_TRUE(st(&b, &p) <= BW_BRK_HALF_OPEN);
        }
    }
}

/* all_good: a count window with no failed or slow call in it (after one
 * slides out too); never for a time window, which has to be summed. */
static void test_window_all_good(void)
{
    bw_policy p = pol();
    bw_breaker b;
    bw_breaker_init(&b);
    bw_breaker_window_sync(&b.window, &p);
    CU_ASSERT_TRUE(bw_breaker_window_all_good(&b.window));
    bw_breaker_window_add(&b.window, 0, false, false);
    CU_ASSERT_TRUE(bw_breaker_window_all_good(&b.window));
    bw_breaker_window_add(&b.window, 0, true, false);
    CU_ASSERT_FALSE(bw_breaker_window_all_good(&b.window));
    for (int i = 0; i < 19; i++)
        bw_breaker_window_add(&b.window, 0, false, false);
    CU_ASSERT_FALSE(bw_breaker_window_all_good(&b.window));   /* still 1 of the last 20 */
    bw_breaker_window_add(&b.window, 0, false, false);
    CU_ASSERT_TRUE(bw_breaker_window_all_good(&b.window));    /* slid out */
    bw_breaker_window_add(&b.window, 0, false, true);
    CU_ASSERT_FALSE(bw_breaker_window_all_good(&b.window));   /* slow */
    CU_ASSERT_FALSE(bw_breaker_window_add_good(&b.window));   /* not for this window */
    for (int i = 0; i < 19; i++)
        bw_breaker_window_add(&b.window, 0, false, false);
    CU_ASSERT_FALSE(bw_breaker_window_add_good(&b.window));   /* cannot slide a bad one out */
    bw_breaker_window_add(&b.window, 0, false, false);         /* ... window_add does */
    CU_ASSERT_TRUE(bw_breaker_window_add_good(&b.window));
    bw_breaker_counts c = bw_breaker_window_counts(&b.window, 0);
    CU_ASSERT_EQUAL(c.calls, 20);
    CU_ASSERT_EQUAL(c.slow, 0);
    bw_breaker_window_add(&b.window, 0, true, false);         /* at the next position */
    c = bw_breaker_window_counts(&b.window, 0);
    CU_ASSERT_EQUAL(c.failures, 1);
    p.breaker_window = BW_WINDOW_TIME;
    p.breaker_window_size = 10;
    bw_breaker_window_sync(&b.window, &p);
    CU_ASSERT_FALSE(bw_breaker_window_all_good(&b.window));
}

/* Checks the lock-free reads against the locked ones at now: the visible
 * state is the same, and a rejection said without the lock is what admit
 * says, with nothing changed. Returns whether it was said. */
static bool lockless_agrees(const bw_breaker *b, const bw_policy *p, int64_t now)
{
    CU_ASSERT_EQUAL(bw_breaker_state_peek(b, p), bw_breaker_state(b, p));
    bool fast = now < bw_breaker_rejects_until(b, p);
    bw_breaker copy = *b;
    bw_breaker_decision d;
    enum bw_breaker_verdict v = bw_breaker_admit(&copy, p, now, MID, &d);
    if (fast) {
        CU_ASSERT_EQUAL(v, BW_ADMIT_REJECT);
        CU_ASSERT_FALSE(d.changed);
        CU_ASSERT_FALSE(d.slow_start);
        CU_ASSERT_EQUAL(bw_breaker_state(&copy, p), bw_breaker_state(b, p));
    }
    return fast;
}

static void test_lockless_reads(void)
{
    bw_breaker b;
    bw_policy p = pol(), dry = pol(), off = pol();
    dry.breaker = BW_BREAKER_DRYRUN;
    off.breaker = BW_BREAKER_OFF;
    bw_breaker_decision d;
    bw_breaker_init(&b);
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 0));           /* closed */
    trip_at(&b, &p, 1000);                                  /* open until 6000 */
    CU_ASSERT_TRUE(lockless_agrees(&b, &p, 1000));
    CU_ASSERT_TRUE(lockless_agrees(&b, &p, 5999));
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 6000));        /* its time is up: admit probes */
    CU_ASSERT_FALSE(lockless_agrees(&b, &dry, 1000));      /* dry-run never rejects */
    CU_ASSERT_FALSE(lockless_agrees(&b, &off, 1000));
    CU_ASSERT_EQUAL(bw_breaker_state_peek(&b, &off), BW_BRK_DISABLED);
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 6000, MID, &d), BW_ADMIT_PROBE);
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 6001));        /* half open: admit decides */
    CU_ASSERT_EQUAL(bw_breaker_state_peek(&b, &p), BW_BRK_HALF_OPEN);
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 6002, MID, BW_FORCE_OPEN, NULL));
    CU_ASSERT_TRUE(lockless_agrees(&b, &p, 100000));
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 6003, MID, BW_FORCE_CLOSED, NULL));
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 6003));
    CU_ASSERT_TRUE(bw_breaker_force(&b, &p, 6004, MID, BW_FORCE_AUTO, NULL));
    lockless_agrees(&b, &p, 6004);
    bw_breaker_reset(&b, &p, 7000, NULL);
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 7000));
    CU_ASSERT_TRUE(bw_breaker_open_for(&b, &p, 8000, 3000, NULL));   /* Retry-After */
    CU_ASSERT_TRUE(lockless_agrees(&b, &p, 10999));
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 11000));
    memset(&b, 0xee, sizeof b);                            /* corrupt bytes: read as closed */
    CU_ASSERT_FALSE(lockless_agrees(&b, &p, 0));
    CU_ASSERT_EQUAL(bw_breaker_state_peek(&b, &p), BW_BRK_CLOSED);
}

static const bw_test_case window_cases[] = {
    {"init is all zero and closed", test_init_is_zero_and_closed},
    {"stays closed below min_calls", test_stays_closed_below_min_calls},
    {"opens exactly at the threshold", test_opens_exactly_at_threshold},
    {"one below the threshold stays closed", test_one_below_threshold_stays_closed},
    {"count window slides", test_count_window_slides},
    {"min_calls capped at the count window", test_min_calls_capped_at_count_window},
    {"time window expiry", test_time_window_expiry},
    {"time window opens on failures inside it", test_time_window_failures_inside_window_open},
    {"time window buckets for long windows", test_time_window_buckets_for_long_windows},
    {"time window bucket width edges", test_time_window_bucket_width_edges},
    {"time window with a clock behind", test_time_window_clock_behind_counts_in_newest},
    {"consecutive failures", test_consecutive_failures},
    {"consecutive failures off", test_consecutive_off},
    {"a replaced success does not break the run", test_consecutive_replaced},
    {"slow call rate", test_slow_rate},
    {"slow rate one below, and slow_ms off", test_slow_rate_one_below_and_off},
    {"policy reload rebuilds the window", test_policy_reload_rebuilds_window},
    {"window all good", test_window_all_good},
    {NULL, NULL},
};

/* bw_breaker_admits_now says yes exactly where bw_breaker_admit would allow
 * without a decision: closed and automatic, forced closed, or off; never
 * open, half-open, forced open, or with slow start configured. */
static void test_admits_now(void)
{
    bw_policy p = pol();
    bw_breaker b;
    bw_breaker_decision d;
    bw_breaker_init(&b);
    CU_ASSERT_TRUE(bw_breaker_admits_now(&b, &p));
    trip_at(&b, &p, 1000);
    CU_ASSERT_FALSE(bw_breaker_admits_now(&b, &p));           /* open */
    CU_ASSERT_EQUAL(bw_breaker_admit(&b, &p, 1000 + 60000, MID, &d), BW_ADMIT_PROBE);
    CU_ASSERT_FALSE(bw_breaker_admits_now(&b, &p));           /* half-open */
    CU_ASSERT_TRUE(rec(&b, &p, 1000 + 60001, false, d.probe_token, NULL));
    CU_ASSERT_EQUAL(st(&b, &p), BW_BRK_CLOSED);
    CU_ASSERT_TRUE(bw_breaker_admits_now(&b, &p));            /* closed again */
    bw_breaker_force(&b, &p, 70000, MID, BW_FORCE_OPEN, NULL);
    CU_ASSERT_FALSE(bw_breaker_admits_now(&b, &p));
    bw_breaker_force(&b, &p, 70000, MID, BW_FORCE_CLOSED, NULL);
    CU_ASSERT_TRUE(bw_breaker_admits_now(&b, &p));
    bw_breaker_force(&b, &p, 70000, MID, BW_FORCE_AUTO, NULL);
    p.slow_start_ms = 1000;                                   /* a draw: the full admission */
    CU_ASSERT_FALSE(bw_breaker_admits_now(&b, &p));
    p.slow_start_ms = 0;
    trip_at(&b, &p, 80000);
    p.breaker = BW_BREAKER_DRYRUN;                            /* would reject: logged */
    CU_ASSERT_FALSE(bw_breaker_admits_now(&b, &p));
    p.breaker = BW_BREAKER_OFF;
    CU_ASSERT_TRUE(bw_breaker_admits_now(&b, &p));
}

/* Successes recorded at now until the window (of p's size) is full. */
static void fill_good(bw_breaker *b, const bw_policy *p, int64_t now)
{
    for (uint32_t i = 0; i < p->breaker_window_size; i++)
        quiet(b, p, now, false, 0);
}

/* What anyone can see of b at now: every status and metric field. */
static bool same_view(const bw_breaker *a, const bw_breaker *b, const bw_policy *p, int64_t now)
{
    bw_breaker_counts ca = bw_breaker_counts_at(a, now), cb = bw_breaker_counts_at(b, now);
    bool same = st(a, p) == st(b, p) && ca.calls == cb.calls && ca.failures == cb.failures &&
                ca.slow == cb.slow && bw_breaker_run_now(a).failures == bw_breaker_run_now(b).failures;
    for (int s = 0; s < BW_BRK_NSTATES; s++)
        same = same && bw_breaker_transitions(a, s) == bw_breaker_transitions(b, s);
    return same;
}

/* A full window of good calls, closed, no run: a success changes nothing
 * seen, and its run snapshot is run_now's. */
static void test_quiet_success_changes_nothing(void)
{
    bw_breaker b, rec_b;
    bw_policy p = pol();
    bw_breaker_run run = {7, 7};
    bw_breaker_init(&b);
    fill_good(&b, &p, 0);
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &p, 0, &run));
    CU_ASSERT_EQUAL(run.failures, 0);
    CU_ASSERT_EQUAL(run.breaks, bw_breaker_run_now(&b).breaks);
    rec_b = b;                                  /* the same success, recorded */
    quiet(&rec_b, &p, 0, false, 0);
    CU_ASSERT_TRUE(same_view(&b, &rec_b, &p, 0));
    /* Then the same failures on both: they open at the same call. */
    for (int i = 0; i < 4; i++) {
        quiet(&b, &p, 10, true, 0);
        quiet(&rec_b, &p, 10, true, 0);
    }
    CU_ASSERT_TRUE(rec(&b, &p, 10, true, 0, NULL));
    CU_ASSERT_TRUE(rec(&rec_b, &p, 10, true, 0, NULL));
    CU_ASSERT_TRUE(same_view(&b, &rec_b, &p, 10));
    p.breaker = BW_BREAKER_DRYRUN;              /* dry-run computes the same */
    bw_breaker_init(&b);
    fill_good(&b, &p, 0);
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &p, 0, &run));
}

/* Every case where the success must be recorded says false. */
static void test_quiet_success_refusals(void)
{
    bw_breaker b, full;
    bw_policy p = pol(), q;
    bw_breaker_run run;
    bw_breaker_init(&b);
    for (uint32_t i = 0; i + 1 < p.breaker_window_size; i++)
        quiet(&b, &p, 0, false, 0);
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* window not full */
    quiet(&b, &p, 0, false, 0);
    full = b;
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &p, 0, &run));
    quiet(&b, &p, 0, true, 0);
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* a run of 1 */
    quiet(&b, &p, 0, false, 0);
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(bw_breaker_run_now(&b).failures, 0);
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* a failure in the window */
    b = full;
    b.run_held = 1;                             /* the last end of the run ended failures */
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));
    b = full;
    b.seq |= 1;                                 /* a writer inside */
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));
    b = full;
    q = p;
    q.breaker_slow_ms = 100;
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &q, 99, &run));
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &q, 100, &run));  /* slow */
    q = p;
    q.breaker_window_size = 30;                 /* another shape: recorded, rebuilt */
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &q, 0, &run));
    q = p;
    q.breaker_window = BW_WINDOW_TIME;
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &q, 0, &run));
    q = p;
    q.breaker_failure_rate = 0;                 /* a rate that fires on good calls */
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &q, 0, &run));
    q = p;
    q.breaker = BW_BREAKER_OFF;
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &q, 0, &run));
    bw_breaker_force(&b, &p, 0, MID, BW_FORCE_CLOSED, NULL);
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* forced */
    bw_breaker_force(&b, &p, 0, MID, BW_FORCE_AUTO, NULL);
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &p, 0, &run));
    CU_ASSERT_TRUE(bw_breaker_open_for(&b, &p, 0, 1000, NULL));
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* open */
    probe(&b, &p, 1000);
    CU_ASSERT_FALSE(bw_breaker_success_quiet(&b, &p, 0, &run));   /* half open */
}

/* Every function that may change a breaker leaves its sequence number even
 * and moved on; one left odd by a writer that died is ended by the next. */
static void test_quiet_writers_bump_seq(void)
{
    bw_breaker b;
    bw_policy p = pol();
    bw_breaker_decision d;
    bw_breaker_init(&b);
    uint32_t s = b.seq;
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(b.seq, s + 2);
    bw_breaker_admit(&b, &p, 0, MID, &d);
    CU_ASSERT_EQUAL(b.seq, s + 4);
    bw_breaker_record_replacing(&b, &p, 0, MID, bw_breaker_run_now(&b), 0, NULL);
    CU_ASSERT_EQUAL(b.seq, s + 6);
    bw_breaker_force(&b, &p, 0, MID, BW_FORCE_OPEN, NULL);
    CU_ASSERT_EQUAL(b.seq, s + 8);
    bw_breaker_reset(&b, &p, 0, NULL);
    CU_ASSERT_EQUAL(b.seq, s + 10);
    bw_breaker_open_for(&b, &p, 0, 10, NULL);
    CU_ASSERT_EQUAL(b.seq, s + 12);
    b.seq = 13;                                 /* a writer died inside */
    quiet(&b, &p, 0, false, 0);
    CU_ASSERT_EQUAL(b.seq, 14);
}

/* A success left out, then replaced by a failure: the same run and state as
 * when it had been recorded and replaced. */
static void test_quiet_success_replaced(void)
{
    bw_breaker b, rec_b;
    bw_policy p = pol();
    bw_breaker_run run, before;
    bw_breaker_init(&b);
    fill_good(&b, &p, 0);
    rec_b = b;
    CU_ASSERT_TRUE(bw_breaker_success_quiet(&b, &p, 0, &run));
    before = bw_breaker_run_now(&rec_b);
    quiet(&rec_b, &p, 0, false, 0);
    for (int i = 0; i < 3; i++) {               /* others' failures meanwhile */
        quiet(&b, &p, 0, true, 0);
        quiet(&rec_b, &p, 0, true, 0);
    }
    CU_ASSERT_FALSE(bw_breaker_record_replacing(&b, &p, 0, MID, run, 0, NULL));
    CU_ASSERT_FALSE(bw_breaker_record_replacing(&rec_b, &p, 0, MID, before, 0, NULL));
    CU_ASSERT_EQUAL(bw_breaker_run_now(&b).failures, 4);
    CU_ASSERT_TRUE(same_view(&b, &rec_b, &p, 0));
}

/*
 * The race: a writer records under a lock (a failure every 25 calls, so the
 * breaker keeps passing between quiet and not) and, still holding it, notes
 * for each sequence number whether that breaker was quiet (from the locked
 * view: state, counts, run) and its run_breaks. A reader without the lock
 * asks bw_breaker_success_quiet over and over; every yes whose sequence
 * number it saw unchanged around the call must match the note. Every fifth
 * round the writer waits (boundedly) on a quiet breaker until the reader
 * has confirmed one more yes, so that a loaded machine still checks some.
 */
#define RACE_OPS 20000
static struct {
    bw_breaker b;
    bw_policy p;
    pthread_mutex_t lock;
    _Atomic uint32_t note[RACE_OPS + 2];   /* by seq / 2: 0 not yet, 1 not quiet, 2 + breaks */
    atomic_bool started, done;
    atomic_uint confirmed;                 /* quiet breakers the reader checked */
} race;

static uint32_t locked_note(void)
{
    bw_breaker_counts c = bw_breaker_counts_at(&race.b, 0);
    bool q = st(&race.b, &race.p) == BW_BRK_CLOSED && c.calls == race.p.breaker_window_size &&
             c.failures == 0 && c.slow == 0 && bw_breaker_run_now(&race.b).failures == 0 &&
             race.b.run_held == 0;
    return q ? 2 + bw_breaker_run_now(&race.b).breaks : 1;
}

static void *race_writer(void *arg)
{
    (void)arg;
    while (!atomic_load(&race.started))
        ;
    for (int i = 0; i < RACE_OPS; i++) {
        unsigned seen = atomic_load(&race.confirmed);   /* before this change's number exists */
        pthread_mutex_lock(&race.lock);
        bw_breaker_record(&race.b, &race.p, 0, MID, i % 25 == 24 ? BW_CALL_FAILURE : BW_CALL_SUCCESS,
                          0, 0, NULL);
        atomic_store(&race.note[race.b.seq / 2], locked_note());
        pthread_mutex_unlock(&race.lock);
        if (i % 125 == 121) {   /* quiet now: the last failure has left the window */
            for (int k = 0; k < 100000 && atomic_load(&race.confirmed) == seen; k++)
                sched_yield();
        } else if (i % 4 == 3) {
            sched_yield();   /* on a shared core, the reader gets turns between changes */
        }
    }
    atomic_store(&race.done, true);
    return NULL;
}

static void test_quiet_success_races_locked_writer(void)
{
    pthread_t w;
    unsigned states = 0, wrong = 0;
    uint32_t last = UINT32_MAX;
    bw_breaker_init(&race.b);
    race.p = pol();
    pthread_mutex_init(&race.lock, NULL);
    atomic_store(&race.note[0], locked_note());
    CU_ASSERT_FATAL(pthread_create(&w, NULL, race_writer, NULL) == 0);
    atomic_store(&race.started, true);
    while (!atomic_load(&race.done)) {
        bw_breaker_run run;
        uint32_t s0 = __atomic_load_n(&race.b.seq, __ATOMIC_ACQUIRE);
        bool q = bw_breaker_success_quiet(&race.b, &race.p, 0, &run);
        uint32_t s1 = __atomic_load_n(&race.b.seq, __ATOMIC_ACQUIRE);
        if (!q || s0 != s1 || s0 / 2 > RACE_OPS)
            continue;
        uint32_t note;
        while ((note = atomic_load(&race.note[s0 / 2])) == 0)
            ;   /* the writer notes it right after its change */
        wrong += note != 2u + run.breaks || run.failures != 0;
        if (s0 != last) {   /* quiet breakers told apart by their number */
            states++;
            atomic_fetch_add(&race.confirmed, 1);
        }
        last = s0;
    }
    pthread_join(w, NULL);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_TRUE(states > 0);
    pthread_mutex_destroy(&race.lock);
}

static const bw_test_case machine_cases[] = {
    {"admits now: only without a decision", test_admits_now},
    {"open, then half_open probes", test_open_then_half_open_probes},
    {"close resets the doubling", test_closed_then_trip_uses_base_open_time},
    {"probe failure doubles the open time", test_probe_failure_doubles_open_time},
    {"open time capped", test_open_time_capped},
    {"doubling survives many reopenings", test_doubling_survives_many_reopenings},
    {"jitter bounds", test_jitter_bounds},
    {"probe timeout on admit", test_probe_timeout_on_admit},
    {"probe timeout on record", test_probe_timeout_on_record},
    {"probe timeout 0 means no limit", test_probe_timeout_zero_means_no_limit},
    {"stale and foreign tokens", test_stale_and_foreign_tokens_are_ordinary_calls},
    {"late record while open", test_late_record_while_open},
    {"dry-run", test_dry_run},
    {"forced open and auto", test_forced_open_and_auto},
    {"forced closed admits through failures", test_forced_closed_admits_through_failures},
    {"force over open and half_open", test_force_over_open_and_half_open},
    {"reset", test_reset},
    {"slow start ramp", test_slow_start_ramp},
    {"open for Retry-After", test_open_for_retry_after},
    {"breaker off", test_breaker_off},
    {"transition counters", test_transition_counters},
    {"corrupt struct is contained", test_corrupt_struct_is_contained},
    {"lock-free reads agree with the locked ones", test_lockless_reads},
    {NULL, NULL},
};

static const bw_test_case quiet_cases[] = {
    {"a quiet success changes nothing seen", test_quiet_success_changes_nothing},
    {"successes that must be recorded", test_quiet_success_refusals},
    {"writers move the sequence number", test_quiet_writers_bump_seq},
    {"a quiet success replaced", test_quiet_success_replaced},
    {"lock-free answers race a locked writer", test_quiet_success_races_locked_writer},
    {NULL, NULL},
};

static const bw_test_case text_cases[] = {
    {"SPEC message examples", test_spec_message_examples},
    {"format truncates safely", test_format_truncates_safely},
    {"state names and gauge", test_state_names_and_gauge},
    {NULL, NULL},
};

BW_TEST_MAIN({"breaker window", window_cases}, {"breaker machine", machine_cases},
             {"breaker quiet success", quiet_cases}, {"breaker text", text_cases})
