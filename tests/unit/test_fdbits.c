/* test_fdbits.c - a bit per descriptor: mark, unmark, ranges, counts, bounds;
 * and a byte of facts per descriptor (bw_fdfacts), the same and its races. */
#include <pthread.h>

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

enum { A = 1, B = 2, C = 4, D = 0x80 };   /* facts; A and D counted */
static _Atomic uint8_t fact_bytes[BW_FDT_MAX];
static bw_fdfacts facts = {.fact = fact_bytes, .counted = A | D};

static void test_facts_mark_forget(void)
{
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 3), 0);
    bw_fdfacts_mark(&facts, 3, A | B);
    bw_fdfacts_mark(&facts, 3, A);           /* twice: counted once */
    bw_fdfacts_mark(&facts, 4, D);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 3), A | B);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 1);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, D), 1);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, B), 0);   /* not counted */
    bw_fdfacts_unmark(&facts, 3, A | C);     /* C never marked */
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 3), B);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 0);
    bw_fdfacts_unmark(&facts, 3, A);         /* twice: no underflow */
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_forget(&facts, 3), B);
    CU_ASSERT_EQUAL(bw_fdfacts_forget(&facts, 3), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_forget(&facts, 4), D);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, D), 0);
    /* out of range: never marked, never a fact */
    bw_fdfacts_mark(&facts, -1, A);
    bw_fdfacts_mark(&facts, BW_FDT_MAX, A);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, -1), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, BW_FDT_MAX), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_forget(&facts, BW_FDT_MAX), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 0);
}

static void test_facts_range(void)
{
    static bw_fdfacts none = {.fact = fact_bytes};
    bw_fdfacts_unmark_range(&none, 0, ~0u, 0xff);   /* nothing ever marked */
    CU_ASSERT_EQUAL(atomic_load(&none.top), 0);
    /* A range stops at top: a byte above it (here stored by hand) is not
     * read or changed, so a fork or closefrom costs the numbers in use. */
    static _Atomic uint8_t small[64];
    static bw_fdfacts bounded = {.fact = small};
    bw_fdfacts_mark(&bounded, 5, A);
    CU_ASSERT_EQUAL(atomic_load(&bounded.top), 6);
    atomic_store(&small[20], (uint8_t)A);
    bw_fdfacts_unmark_range(&bounded, 0, ~0u, 0xff);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&bounded, 5), 0);
    CU_ASSERT_EQUAL(atomic_load(&small[20]), A);
    int fds[] = {0, 63, 64, 130, 5000, 900000};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        bw_fdfacts_mark(&facts, fds[i], A | B);
    CU_ASSERT_EQUAL(atomic_load(&facts.top), 900001);
    bw_fdfacts_unmark_range(&facts, 63, 5000, 0xff);   /* close_range(63, 5000) */
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 0), A | B);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 63), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 5000), 0);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 900000), A | B);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 2);
    bw_fdfacts_unmark_range(&facts, 0, ~0u, B);        /* one fact only (a fork) */
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 0), A);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 900000), A);
    bw_fdfacts_unmark_range(&facts, 1, ~0u, 0xff);     /* close_range(1, ~0U) */
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 0), A);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 1);
    bw_fdfacts_forget(&facts, 0);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 0);
}

/* Two threads change different facts of one number and of its neighbour
 * at once: no change is lost and the counts stay exact. */
#define RACE_ROUNDS 200000
static void *race_side(void *arg)
{
    unsigned fact = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        bw_fdfacts_mark(&facts, 10, fact);
        bw_fdfacts_mark(&facts, fact == A ? 11 : 12, D);
        bw_fdfacts_unmark(&facts, 10, fact);
        bw_fdfacts_forget(&facts, fact == A ? 11 : 12);
    }
    bw_fdfacts_mark(&facts, 10, fact);
    return NULL;
}

static void test_facts_race(void)
{
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, race_side, (void *)(uintptr_t)A) == 0);
    race_side((void *)(uintptr_t)B);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(bw_fdfacts_of(&facts, 10), A | B);   /* both last marks stayed */
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 1);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, D), 0);
    bw_fdfacts_forget(&facts, 10);
    CU_ASSERT_EQUAL(bw_fdfacts_count(&facts, A), 0);
}

static const bw_test_case cases[] = {
    {"mark and unmark", test_mark_unmark},
    {"descriptors out of range", test_bounds},
    {"ranges (close_range)", test_range},
    {"facts: mark, unmark, forget, counts", test_facts_mark_forget},
    {"facts: ranges", test_facts_range},
    {"facts: two threads on one byte", test_facts_race},
    {NULL, NULL},
};

BW_TEST_MAIN({"fdbits", cases})
