/*
 * test_backoff.c - the four jitter formulas of SPEC section 4, with injected
 * random values: exact values, bounds at both ends of rnd, the cap, overflow
 * of multiplier^n, and means over draws from a seeded PRNG.
 */
#include <string.h>
#include "bw_backoff.h"
#include "bw_test.h"

#define DRAWS 10000

static bw_policy pol(uint32_t init, uint32_t max, double mult, enum bw_jitter j)
{
    bw_policy p;
    memset(&p, 0, sizeof p);
    p.backoff_initial_ms = init;
    p.backoff_max_ms = max;
    p.backoff_multiplier = mult;
    p.jitter = j;
    return p;
}

/* splitmix64: a fixed seed makes every "random" test reproducible. */
static uint64_t next_rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_ceiling_defaults(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_NONE);
    static const uint32_t want[] = {100, 200, 400, 800, 1600, 2000, 2000};

    for (unsigned n = 0; n < sizeof want / sizeof want[0]; n++)
        CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, n), want[n]);
}

static void test_ceiling_fractional_multiplier(void)
{
    bw_policy p = pol(100, 100000, 1.5, BW_JITTER_NONE);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 0), 100);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 1), 150);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 2), 225);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 3), 337);    /* 337.5 rounded down */
    p.backoff_multiplier = 1.1;
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 1), 110);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 2), 121);
    p.backoff_multiplier = 1.13;                      /* 112.99999999999999 in doubles */
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 1), 113);
    p.backoff_multiplier = 1.14;
    p.backoff_initial_ms = 50;
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 1), 57);
}

static void test_ceiling_overflow_guard(void)
{
    bw_policy p = pol(100, 2000, 100.0, BW_JITTER_NONE);
    unsigned ns[] = {5, 10, 100, 1000, 65535, 1u << 31, UINT32_MAX};

    for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++)
        CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, ns[i]), 2000);
    p = pol(UINT32_MAX, UINT32_MAX, 100.0, BW_JITTER_NONE);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, UINT32_MAX), UINT32_MAX);
    /* multiplier 1: a constant delay, even for a huge n */
    p = pol(300, 2000, 1.0, BW_JITTER_NONE);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, UINT32_MAX), 300);
}

static void test_ceiling_odd_policies(void)
{
    bw_policy p = pol(0, 2000, 2.0, BW_JITTER_NONE);
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 3), 0);
    p = pol(5000, 2000, 2.0, BW_JITTER_NONE);      /* initial > max: capped */
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 0), 2000);
    p = pol(100, 2000, 0.5, BW_JITTER_NONE);       /* multiplier < 1: read as 1 */
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 4), 100);
    p = pol(100, 2000, 0.0 / 0.0, BW_JITTER_NONE); /* NaN: read as 1 */
    CU_ASSERT_EQUAL(bw_backoff_ceiling(&p, 4), 100);
    p = pol(0, 0, 2.0, BW_JITTER_FULL);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, UINT64_MAX), 0);
}

static void test_none_exact(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_NONE);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 0), 100);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 2, 12345, UINT64_MAX), 400);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 9, 0, 42), 2000);
}

static void test_full_bounds(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_FULL);
    uint64_t s = 1;

    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, UINT64_MAX), 100);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 3, 0, UINT64_MAX), 800);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 40, 0, UINT64_MAX), 2000);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 1ull << 63), 50);  /* midpoint */
    for (int i = 0; i < DRAWS; i++) {
        unsigned n = (unsigned)(i % 12);
        uint32_t v = bw_backoff_delay(&p, n, 0, next_rnd(&s));
        CU_ASSERT_FATAL(v <= bw_backoff_ceiling(&p, n));
    }
}

static void test_equal_bounds(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_EQUAL);
    uint64_t s = 2;

    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 0), 50);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, UINT64_MAX), 100);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 10, 0, 0), 1000);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 10, 0, UINT64_MAX), 2000);
    p = pol(101, 2000, 1.0, BW_JITTER_EQUAL);          /* odd d: 50 .. 101 */
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 0), 50);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, UINT64_MAX), 101);
    p = pol(100, 2000, 2.0, BW_JITTER_EQUAL);
    for (int i = 0; i < DRAWS; i++) {
        unsigned n = (unsigned)(i % 12);
        uint32_t d = bw_backoff_ceiling(&p, n);
        uint32_t v = bw_backoff_delay(&p, n, 0, next_rnd(&s));
        CU_ASSERT_FATAL(v >= d / 2 && v <= d);
    }
}

static void test_decorrelated_bounds(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_DECORRELATED);
    uint64_t s = 3;
    uint32_t prev = 0;

    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, 0), 100);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 0, UINT64_MAX), 300);  /* 3 * initial */
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 100, UINT64_MAX), 300);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 500, UINT64_MAX), 1500);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 700, UINT64_MAX), 2000); /* capped */
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 2000, 0), 100);
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, 10, UINT64_MAX), 100);  /* 3*prev < initial */
    CU_ASSERT_EQUAL(bw_backoff_delay(&p, 0, UINT32_MAX, UINT64_MAX), 2000);
    for (int i = 0; i < DRAWS; i++) {
        uint32_t v = bw_backoff_delay(&p, 0, prev, next_rnd(&s));
        uint64_t hi = prev ? 3ull * prev : 300;
        CU_ASSERT_FATAL(v >= 100 && v <= 2000 && v <= hi);
        prev = v;
    }
}

/* Any policy, any rnd: never above max. */
static void test_cap_holds_everywhere(void)
{
    static const enum bw_jitter js[] = {BW_JITTER_FULL, BW_JITTER_EQUAL,
                                        BW_JITTER_DECORRELATED, BW_JITTER_NONE};
    static const uint32_t maxes[] = {0, 1, 7, 2000, UINT32_MAX};
    uint64_t s = 4;

    for (unsigned j = 0; j < 4; j++)
        for (unsigned m = 0; m < 5; m++) {
            bw_policy p = pol(maxes[m] / 3, maxes[m], 100.0, js[j]);
            for (int i = 0; i < 500; i++) {
                uint64_t r = i == 0 ? 0 : i == 1 ? UINT64_MAX : next_rnd(&s);
                uint32_t prev = (uint32_t)next_rnd(&s);
                unsigned n = (unsigned)i * 7919u;
                CU_ASSERT_FATAL(bw_backoff_delay(&p, n, prev, r) <= maxes[m]);
            }
        }
}

static double mean_of(bw_policy *p, unsigned n, uint32_t prev, uint64_t seed)
{
    double sum = 0;
    for (int i = 0; i < DRAWS; i++)
        sum += bw_backoff_delay(p, n, prev, next_rnd(&seed));
    return sum / DRAWS;
}

static void test_means(void)
{
    bw_policy p = pol(100, 2000, 2.0, BW_JITTER_FULL);
    /* d = 800; the standard error of the mean is about 800/sqrt(12*10000) = 2.3 */
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 3, 0, 11), 400.0, 12.0);
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 20, 0, 12), 1000.0, 25.0);
    p.jitter = BW_JITTER_EQUAL;
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 3, 0, 13), 600.0, 6.0);
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 20, 0, 14), 1500.0, 15.0);
    p.jitter = BW_JITTER_DECORRELATED;
    /* prev 200: uniform over 100..600, mean 350 */
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 0, 200, 15), 350.0, 8.0);
    /* prev 1000: uniform over 100..3000 capped at 2000:
     * (1900/2901) * 1050 + (1001/2901) * 2000 = 1378.7 */
    CU_ASSERT_DOUBLE_EQUAL(mean_of(&p, 0, 1000, 16), 1378.7, 20.0);
}

/* Feeding each delay back as prev: the walk stays inside initial..max. */
static void test_decorrelated_walk(void)
{
    bw_policy p = pol(50, 1000, 2.0, BW_JITTER_DECORRELATED);
    uint64_t s = 99;
    uint32_t prev = 0, lo = UINT32_MAX, hi = 0;

    for (int i = 0; i < DRAWS; i++) {
        prev = bw_backoff_delay(&p, (unsigned)i, prev, next_rnd(&s));
        lo = prev < lo ? prev : lo;
        hi = prev > hi ? prev : hi;
    }
    CU_ASSERT(lo >= 50 && lo < 60);
    CU_ASSERT_EQUAL(hi, 1000);
}

static const bw_test_case ceiling_cases[] = {
    {"defaults 100/2000/x2", test_ceiling_defaults},
    {"fractional multiplier", test_ceiling_fractional_multiplier},
    {"multiplier^n never overflows", test_ceiling_overflow_guard},
    {"odd policies", test_ceiling_odd_policies},
    {NULL, NULL},
};

static const bw_test_case jitter_cases[] = {
    {"none is exact", test_none_exact},
    {"full stays in 0..d", test_full_bounds},
    {"equal stays in d/2..d", test_equal_bounds},
    {"decorrelated stays in initial..min(max,3prev)", test_decorrelated_bounds},
    {"never above max", test_cap_holds_everywhere},
    {"means over 10000 draws", test_means},
    {"decorrelated walk", test_decorrelated_walk},
    {NULL, NULL},
};

BW_TEST_MAIN({"backoff_ceiling", ceiling_cases}, {"backoff_jitter", jitter_cases})
