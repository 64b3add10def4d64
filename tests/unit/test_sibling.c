/* test_sibling.c - failover's decisions (bw_sibling.h). */
#include <string.h>
#include <sys/socket.h>

#include "bw_sibling.h"
#include "bw_test.h"
#include "name_addr.h"

static void test_list_same_family_in_order(void)
{
    bw_name_addr all[5] = {v6(1), v4(2), v4(3), v6(2), v4(4)}, sib[5];
    bw_name_addr me = v4(3);
    unsigned at = 99;
    CU_ASSERT_EQUAL(bw_sibling_list(all, 5, &me, sib, &at), 3);
    CU_ASSERT_EQUAL(at, 1);
    CU_ASSERT_EQUAL(sib[0].addr[3], 2);
    CU_ASSERT_EQUAL(sib[1].addr[3], 3);
    CU_ASSERT_EQUAL(sib[2].addr[3], 4);
    me = v6(2);
    CU_ASSERT_EQUAL(bw_sibling_list(all, 5, &me, sib, &at), 2);
    CU_ASSERT_EQUAL(at, 1);
    me = v4(9);   /* not among them: counted from the first */
    CU_ASSERT_EQUAL(bw_sibling_list(all, 5, &me, sib, &at), 3);
    CU_ASSERT_EQUAL(at, 0);
    CU_ASSERT_EQUAL(bw_sibling_list(all, 0, &me, sib, &at), 0);
}

static void test_limit_first_attempt(void)
{
    /* 4 addresses, at = 0 is to be routed around: it counts as ejected. */
    bool none[4] = {false, false, false, false};
    bool one[4] = {false, true, false, false};
    bool two[4] = {false, true, true, false};
    unsigned out = 0;
    CU_ASSERT_TRUE(bw_sibling_may_move(none, 4, 0, false, 50, &out));
    CU_ASSERT_EQUAL(out, 1);
    CU_ASSERT_TRUE(bw_sibling_may_move(one, 4, 0, false, 50, &out));   /* 2 of 4 = 50 % */
    CU_ASSERT_EQUAL(out, 2);
    CU_ASSERT_FALSE(bw_sibling_may_move(two, 4, 0, false, 50, &out));  /* 3 of 4 = 75 % */
    CU_ASSERT_EQUAL(out, 3);
    CU_ASSERT_TRUE(bw_sibling_may_move(two, 4, 0, false, 75, NULL));
    CU_ASSERT_FALSE(bw_sibling_may_move(none, 4, 0, false, 0, NULL));  /* 0 %: never */
    CU_ASSERT_TRUE(bw_sibling_may_move(two, 4, 0, false, 100, NULL));
    /* ejected[at] is not read: at's own verdict is the decision itself. */
    bool at_set[2] = {true, false};
    CU_ASSERT_TRUE(bw_sibling_may_move(at_set, 2, 0, false, 50, &out));
    CU_ASSERT_EQUAL(out, 1);
}

static void test_limit_retry(void)
{
    bool all_out[3] = {true, true, true};
    unsigned out = 9;
    CU_ASSERT_TRUE(bw_sibling_may_move(all_out, 3, 1, true, 0, &out));   /* a retry ejects nothing */
    CU_ASSERT_EQUAL(out, 2);
}

static void test_order_wraps_and_skips(void)
{
    bool ej[5] = {false, false, true, false, false};
    unsigned order[5];
    CU_ASSERT_EQUAL(bw_sibling_order(ej, 5, 3, order), 3);   /* after 3: 4, 0, 1 (2 ejected) */
    CU_ASSERT_EQUAL(order[0], 4);
    CU_ASSERT_EQUAL(order[1], 0);
    CU_ASSERT_EQUAL(order[2], 1);
    CU_ASSERT_EQUAL(bw_sibling_order(ej, 5, 0, order), 3);
    CU_ASSERT_EQUAL(order[0], 1);
    CU_ASSERT_EQUAL(order[1], 3);
    CU_ASSERT_EQUAL(order[2], 4);
    bool rest_out[3] = {false, true, true};
    CU_ASSERT_EQUAL(bw_sibling_order(rest_out, 3, 0, order), 0);
    CU_ASSERT_EQUAL(bw_sibling_order(rest_out, 1, 0, order), 0);   /* alone: nothing to try */
}

static const bw_test_case cases[] = {
    {"siblings: same family, resolver's order", test_list_same_family_in_order},
    {"ejection limit on a first attempt", test_limit_first_attempt},
    {"a retry always may move", test_limit_retry},
    {"order: after the address, wrapping, skipping", test_order_wraps_and_skips},
    {NULL, NULL},
};

BW_TEST_MAIN({"sibling", cases})
