/* test_rate.c - the connection-rate token bucket (bw_rate.h), on an injected clock. */
#include <string.h>

#include "bw_rate.h"
#include "bw_test.h"

/* Takes tokens at now until refused; returns how many were taken. */
static int drain(bw_rate *r, uint32_t rate, uint32_t burst, int64_t now)
{
    int n = 0;
    while (n < 100000 && bw_rate_take(r, rate, burst, now) == 0)
        n++;
    return n;
}

static void test_full_bucket_then_refill(void)
{
    bw_rate r = {0, 0};
    CU_ASSERT_EQUAL(drain(&r, 50, 0, 1000), 50);          /* burst = rate */
    CU_ASSERT_EQUAL(bw_rate_take(&r, 50, 0, 1000), 20);  /* one token every 20 ms */
    CU_ASSERT_EQUAL(bw_rate_take(&r, 50, 0, 1019), 1);
    CU_ASSERT_EQUAL(bw_rate_take(&r, 50, 0, 1020), 0);
    CU_ASSERT_EQUAL(drain(&r, 50, 0, 2020), 50);          /* a second refills 50 */
    CU_ASSERT_EQUAL(drain(&r, 50, 0, 10020), 50);         /* ... never above the burst */
}

static void test_burst(void)
{
    bw_rate r = {0, 0};
    CU_ASSERT_EQUAL(drain(&r, 10, 3, 5000), 3);
    CU_ASSERT_EQUAL(bw_rate_take(&r, 10, 3, 5000), 100);
    CU_ASSERT_EQUAL(drain(&r, 10, 3, 5250), 2);           /* 250 ms: 2.5 tokens */
    CU_ASSERT_EQUAL(bw_rate_take(&r, 10, 3, 5250), 50);
}

static void test_rate_over_time(void)
{
    /* 200 connects taken as soon as allowed at rate 50, burst 50: they span
     * (200 - 50) / 50 = 3 s. */
    bw_rate r = {0, 0};
    int64_t now = 100;
    for (int i = 0; i < 200; i++) {
        int64_t w;
        while ((w = bw_rate_take(&r, 50, 0, now)) > 0)
            now += w;
    }
    CU_ASSERT_EQUAL(now, 100 + 3000);
}

static void test_unlimited_and_hostile(void)
{
    bw_rate r = {12345, 0};
    CU_ASSERT_EQUAL(bw_rate_take(&r, 0, 0, 1), 0);        /* rate 0: no limit */
    r = (bw_rate){0xffffffffu, 0xffffffffu};               /* garbage: capped, no crash */
    CU_ASSERT_EQUAL(drain(&r, 5, 0, 77), 5);
    r = (bw_rate){0, 1001};                                /* a clock behind the stamp */
    CU_ASSERT_TRUE(bw_rate_take(&r, 5, 0, 1000) > 0);
    r = (bw_rate){0, 0xfffffff1u};                         /* the 32-bit clock wraps */
    CU_ASSERT_EQUAL(bw_rate_take(&r, 1000, 0, 0x100000000LL + 16), 0);
}

static const bw_test_case cases[] = {
    {"full bucket, then refill", test_full_bucket_then_refill},
    {"burst", test_burst},
    {"rate over time", test_rate_over_time},
    {"unlimited and hostile words", test_unlimited_and_hostile},
    {NULL, NULL},
};

BW_TEST_MAIN({"connect rate", cases})
