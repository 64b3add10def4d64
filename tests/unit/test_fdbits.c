/* test_fdbits.c - a bit per descriptor: mark, unmark, ranges, counts, bounds. */
#include "bw_fdbits.h"
#include "bw_test.h"

static bw_fdbits bits;

static void test_mark_unmark(void)
{
    CU_ASSERT_FALSE(bw_fdbits_any(&bits));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 3));
    bw_fdbits_mark(&bits, 3);
    bw_fdbits_mark(&bits, 3);            /* twice: still one */
    bw_fdbits_mark(&bits, 64);
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, 3));
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, 64));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 4));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 65));
    CU_ASSERT_EQUAL(atomic_load(&bits.count), 2);
    bw_fdbits_unmark(&bits, 3);
    bw_fdbits_unmark(&bits, 3);          /* twice: no underflow */
    bw_fdbits_unmark(&bits, 5);          /* never marked */
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 3));
    CU_ASSERT_EQUAL(atomic_load(&bits.count), 1);
    bw_fdbits_unmark(&bits, 64);
    CU_ASSERT_FALSE(bw_fdbits_any(&bits));
}

static void test_bounds(void)
{
    bw_fdbits_mark(&bits, -1);
    bw_fdbits_mark(&bits, BW_FDT_MAX);
    CU_ASSERT_FALSE(bw_fdbits_any(&bits));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, -1));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, BW_FDT_MAX));
    bw_fdbits_mark(&bits, BW_FDT_MAX - 1);
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, BW_FDT_MAX - 1));
    bw_fdbits_unmark(&bits, BW_FDT_MAX - 1);
    CU_ASSERT_FALSE(bw_fdbits_any(&bits));
}

static void test_range(void)
{
    int fds[] = {0, 63, 64, 130, 5000, 900000};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        bw_fdbits_mark(&bits, fds[i]);
    bw_fdbits_unmark_range(&bits, 63, 5000);   /* close_range(63, 5000) */
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, 0));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 63));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 64));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 130));
    CU_ASSERT_FALSE(bw_fdbits_has(&bits, 5000));
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, 900000));
    CU_ASSERT_EQUAL(atomic_load(&bits.count), 2);
    bw_fdbits_unmark_range(&bits, 1, ~0u);     /* close_range(1, ~0U) */
    CU_ASSERT_TRUE(bw_fdbits_has(&bits, 0));
    CU_ASSERT_EQUAL(atomic_load(&bits.count), 1);
    bw_fdbits_unmark_range(&bits, 0, 0);
    CU_ASSERT_FALSE(bw_fdbits_any(&bits));
}

static const bw_test_case cases[] = {
    {"mark and unmark", test_mark_unmark},
    {"descriptors out of range", test_bounds},
    {"ranges (close_range)", test_range},
    {NULL, NULL},
};

BW_TEST_MAIN({"fdbits", cases})
