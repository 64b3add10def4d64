/* test_fdtable.c - the descriptor table: set, take, ranges, bounds. */
#include <stdint.h>

#include "bw_fdtable.h"
#include "bw_test.h"

static int a, b, c;

static void test_empty_lookup(void)
{
    CU_ASSERT_PTR_NULL(bw_fdt_get(0));
    CU_ASSERT_PTR_NULL(bw_fdt_get(-1));
    CU_ASSERT_PTR_NULL(bw_fdt_get(BW_FDT_MAX));
    CU_ASSERT_PTR_NULL(bw_fdt_get(500000));
    CU_ASSERT_PTR_NULL(bw_fdt_take(7));
}

static void test_set_get_take(void)
{
    CU_ASSERT_PTR_NULL(bw_fdt_set(5, &a));
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(5), &a);
    CU_ASSERT_PTR_NULL(bw_fdt_get(4));
    CU_ASSERT_PTR_NULL(bw_fdt_get(6));
    /* Replacing returns the old record for the caller to release. */
    CU_ASSERT_PTR_EQUAL(bw_fdt_set(5, &b), &a);
    CU_ASSERT_PTR_EQUAL(bw_fdt_take(5), &b);
    CU_ASSERT_PTR_NULL(bw_fdt_get(5));
    CU_ASSERT_PTR_NULL(bw_fdt_take(5));
}

static void test_out_of_range(void)
{
    /* Out of range: nothing stored, rec handed back. */
    CU_ASSERT_PTR_EQUAL(bw_fdt_set(-3, &a), &a);
    CU_ASSERT_PTR_EQUAL(bw_fdt_set(BW_FDT_MAX, &a), &a);
    CU_ASSERT_PTR_NULL(bw_fdt_get(BW_FDT_MAX));
    /* The last valid slot works, on a page of its own. */
    CU_ASSERT_PTR_NULL(bw_fdt_set(BW_FDT_MAX - 1, &c));
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(BW_FDT_MAX - 1), &c);
    CU_ASSERT_PTR_EQUAL(bw_fdt_take(BW_FDT_MAX - 1), &c);
}

/* The first page is the static one, seen by the lookup's short way and by
 * the walks over pages alike; its last slot and the next page's first are apart. */
static void test_first_page(void)
{
    CU_ASSERT_PTR_EQUAL(atomic_load(&bw_fdt_pages[0]), bw_fdt_page0);
    CU_ASSERT_PTR_NULL(bw_fdt_set(BW_FDT_PAGE - 1, &a));
    CU_ASSERT_PTR_NULL(bw_fdt_set(BW_FDT_PAGE, &b));
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(BW_FDT_PAGE - 1), &a);
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(BW_FDT_PAGE), &b);
    CU_ASSERT_PTR_EQUAL(atomic_load(&bw_fdt_page0[BW_FDT_PAGE - 1]), &a);
    CU_ASSERT_EQUAL(bw_fdt_next(0, BW_FDT_PAGE), BW_FDT_PAGE - 1);
    CU_ASSERT_PTR_EQUAL(bw_fdt_take(BW_FDT_PAGE - 1), &a);
    CU_ASSERT_PTR_EQUAL(bw_fdt_take(BW_FDT_PAGE), &b);
    CU_ASSERT_EQUAL(bw_fdt_next(0, UINT32_MAX), -1);
}

struct seen {
    int fds[16];
    int n;
};

static void collect(int fd, void *rec, void *ctx)
{
    struct seen *s = ctx;
    (void)rec;
    if (s->n < 16)
        s->fds[s->n++] = fd;
}

static void test_take_range(void)
{
    int fds[] = {3, 1023, 1024, 2047, 5000, 70000};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        bw_fdt_set(fds[i], &a);
    struct seen s = {{0}, 0};
    bw_fdt_take_range(1023, 5000, collect, &s);
    CU_ASSERT_EQUAL(s.n, 4);
    CU_ASSERT_EQUAL(s.fds[0], 1023);
    CU_ASSERT_EQUAL(s.fds[1], 1024);
    CU_ASSERT_EQUAL(s.fds[2], 2047);
    CU_ASSERT_EQUAL(s.fds[3], 5000);
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(3), &a);
    CU_ASSERT_PTR_EQUAL(bw_fdt_get(70000), &a);
    /* close_range(3, ~0U) must not walk four billion numbers. */
    s.n = 0;
    bw_fdt_take_range(3, UINT32_MAX, collect, &s);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_PTR_NULL(bw_fdt_get(3));
    CU_ASSERT_PTR_NULL(bw_fdt_get(70000));
    /* An empty range takes nothing. */
    bw_fdt_set(9, &b);
    s.n = 0;
    bw_fdt_take_range(10, 9, collect, &s);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_PTR_EQUAL(bw_fdt_take(9), &b);
}

/* bw_fdt_next: the lowest tracked number in a range, skipping unmapped pages. */
static void test_next(void)
{
    CU_ASSERT_EQUAL(bw_fdt_next(0, UINT32_MAX), -1);
    bw_fdt_set(5, &a);
    bw_fdt_set(3000, &b);
    bw_fdt_set(900000, &c);
    CU_ASSERT_EQUAL(bw_fdt_next(0, UINT32_MAX), 5);
    CU_ASSERT_EQUAL(bw_fdt_next(5, 5), 5);
    CU_ASSERT_EQUAL(bw_fdt_next(6, UINT32_MAX), 3000);
    CU_ASSERT_EQUAL(bw_fdt_next(6, 2999), -1);
    CU_ASSERT_EQUAL(bw_fdt_next(3001, UINT32_MAX), 900000);
    CU_ASSERT_EQUAL(bw_fdt_next(900001, UINT32_MAX), -1);
    CU_ASSERT_EQUAL(bw_fdt_next(10, 9), -1);
    bw_fdt_take(5);
    bw_fdt_take(3000);
    bw_fdt_take(900000);
    CU_ASSERT_EQUAL(bw_fdt_next(0, UINT32_MAX), -1);
}

static const bw_test_case cases[] = {
    {"lookups in an empty table", test_empty_lookup},
    {"set, get, replace, take", test_set_get_take},
    {"the static first page", test_first_page},
    {"descriptors out of range", test_out_of_range},
    {"take a range (close_range)", test_take_range},
    {"next tracked number (closefrom, exec)", test_next},
    {NULL, NULL},
};

BW_TEST_MAIN({"fdtable", cases})
