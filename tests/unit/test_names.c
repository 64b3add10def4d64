/* test_names.c - hostname -> addresses for failover (bw_names.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bw_names.h"
#include "bw_test.h"
#include "name_addr.h"

static void test_put_get_expire(void)
{
    bw_names *t = calloc(1, sizeof *t);
    bw_name_addr in[3] = {v4(1), v4(2), v4(1)}, out[8];
    bw_names_put(t, "svc.test", in, 3, 1000, 500);
    CU_ASSERT_EQUAL(bw_names_get(t, "svc.test", 1000, out, 8), 2);   /* the duplicate dropped */
    CU_ASSERT_EQUAL(out[0].addr[3], 1);
    CU_ASSERT_EQUAL(out[1].addr[3], 2);
    CU_ASSERT_EQUAL(bw_names_get(t, "svc.test", 1000, out, 1), 1);
    CU_ASSERT_EQUAL(bw_names_get(t, "other.test", 1000, out, 8), 0);
    CU_ASSERT_EQUAL(bw_names_get(t, "svc.test", 1500, out, 8), 0);   /* expired */
    bw_names_put(t, "svc.test", in + 1, 1, 1600, 500);
    CU_ASSERT_EQUAL(bw_names_get(t, "svc.test", 1700, out, 8), 1);
    CU_ASSERT_EQUAL(out[0].addr[3], 2);
    free(t);
}

/* Answers that each give part of a name's addresses add up, newest first;
 * each address expires on its own. */
static void test_answers_add_up(void)
{
    bw_names *t = calloc(1, sizeof *t);
    bw_name_addr a1[2] = {v4(1), v4(2)}, a3 = v4(3), a2 = v4(2), out[8];
    bw_names_put(t, "rr.test", a1, 2, 0, 1000);
    bw_names_put(t, "rr.test", &a3, 1, 500, 1000);
    CU_ASSERT_EQUAL_FATAL(bw_names_get(t, "rr.test", 600, out, 8), 3);
    CU_ASSERT_EQUAL(out[0].addr[3], 3);
    CU_ASSERT_EQUAL(out[1].addr[3], 1);
    CU_ASSERT_EQUAL(out[2].addr[3], 2);
    bw_names_put(t, "rr.test", &a2, 1, 900, 1000);   /* renews .2 only */
    CU_ASSERT_EQUAL_FATAL(bw_names_get(t, "rr.test", 1200, out, 8), 2);   /* .1 expired at 1000 */
    CU_ASSERT_EQUAL(out[0].addr[3], 2);
    CU_ASSERT_EQUAL(out[1].addr[3], 3);
    CU_ASSERT_EQUAL_FATAL(bw_names_get(t, "rr.test", 1600, out, 8), 1);   /* .3 expired at 1500 */
    CU_ASSERT_EQUAL(out[0].addr[3], 2);
    CU_ASSERT_EQUAL(bw_names_get(t, "rr.test", 1900, out, 8), 0);
    /* Room for BW_NAMES_ADDRS: the newest answer's addresses are kept first. */
    bw_name_addr many[BW_NAMES_ADDRS];
    for (int i = 0; i < BW_NAMES_ADDRS; i++)
        many[i] = v4((uint8_t)(100 + i));
    bw_names_put(t, "rr.test", a1, 2, 2000, 1000);
    bw_names_put(t, "rr.test", many, BW_NAMES_ADDRS, 2100, 1000);
    CU_ASSERT_EQUAL_FATAL(bw_names_get(t, "rr.test", 2200, out, 8), BW_NAMES_ADDRS);
    CU_ASSERT_EQUAL(out[0].addr[3], 100);
    free(t);
}

static void test_full_table_and_limits(void)
{
    bw_names *t = calloc(1, sizeof *t);
    bw_name_addr many[12], out[16];
    for (int i = 0; i < 12; i++)
        many[i] = v4((uint8_t)(i + 1));
    bw_names_put(t, "many", many, 12, 0, 1000);
    CU_ASSERT_EQUAL(bw_names_get(t, "many", 0, out, 16), BW_NAMES_ADDRS);
    char name[32], longname[300];
    for (int i = 0; i < 3 * BW_NAMES_SLOTS; i++) {   /* far more names than slots: no crash */
        snprintf(name, sizeof name, "n%d.test", i);
        bw_names_put(t, name, many, 1, i, 100000);
    }
    CU_ASSERT_EQUAL(bw_names_get(t, "n1535.test", 2000, out, 16), 1);   /* the newest stays */
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    bw_names_put(t, longname, many, 1, 0, 1000);
    CU_ASSERT_EQUAL(bw_names_get(t, longname, 0, out, 16), 0);
    bw_names_put(t, "", many, 1, 0, 1000);
    CU_ASSERT_EQUAL(bw_names_get(t, "", 0, out, 16), 0);
    free(t);
}

static const bw_test_case cases[] = {
    {"put, get, expire", test_put_get_expire},
    {"answers add up, each address expires on its own", test_answers_add_up},
    {"full table and limits", test_full_table_and_limits},
    {NULL, NULL},
};

BW_TEST_MAIN({"names", cases})
