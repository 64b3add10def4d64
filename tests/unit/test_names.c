/* test_names.c - hostname -> addresses for failover (bw_names.h). */
#include <pthread.h>
#include <stdatomic.h>
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

/* Reads without the lock give what reads under it give; a slot left odd
 * (a writer inside, or one that died there) sends the reader to the lock. */
static void test_read_without_lock(void)
{
    bw_names *t = calloc(1, sizeof *t);
    bw_name_addr in[3] = {v4(1), v4(2), v4(3)}, out[8], ref[8];
    bw_names_put(t, "svc.test", in, 3, 1000, 500);
    bw_names_put(t, "other.test", in + 2, 1, 1000, 900);
    const char *names[] = {"svc.test", "other.test", "none.test", ""};
    for (unsigned i = 0; i < 4; i++)
        for (int64_t now = 900; now < 2000; now += 250) {
            unsigned want = bw_names_get(t, names[i], now, ref, 8);
            CU_ASSERT_EQUAL(bw_names_read(t, names[i], now, out, 8, NULL), (int)want);
            CU_ASSERT(memcmp(out, ref, want * sizeof *out) == 0);
        }
    CU_ASSERT_EQUAL(bw_names_read(t, "svc.test", 1000, out, 2, NULL), 2);   /* max kept */
    bw_names_entry *e = NULL;
    for (unsigned i = 0; i < BW_NAMES_SLOTS; i++)
        if (strcmp(t->slot[i].name, "svc.test") == 0)
            e = &t->slot[i];
    CU_ASSERT_FATAL(e != NULL);
    e->seq |= 1;
    CU_ASSERT_EQUAL(bw_names_read(t, "svc.test", 1000, out, 8, NULL), -1);
    CU_ASSERT_EQUAL(bw_names_read(t, "other.test", 1000, out, 8, NULL), 1);   /* its own slot */
    bw_names_put(t, "svc.test", in, 1, 1100, 500);   /* the next writer ends it */
    CU_ASSERT_EQUAL(e->seq & 1, 0);
    CU_ASSERT_EQUAL(bw_names_read(t, "svc.test", 1100, out, 8, NULL), 3);
    free(t);
}

/* What a read saw stays "unchanged" until its slot is written or one of its
 * addresses expires, and only a found answer can be reused. */
static void test_seen_unchanged(void)
{
    bw_names *t = calloc(1, sizeof *t);
    bw_name_addr in[2] = {v4(1), v4(2)}, out[8];
    bw_names_seen seen;
    bw_names_put(t, "a.test", in, 1, 0, 1000);
    bw_names_put(t, "a.test", in + 1, 1, 500, 1000);   /* .1 until 1000, .2 until 1500 */
    CU_ASSERT_EQUAL(bw_names_read(t, "a.test", 600, out, 8, &seen), 2);
    CU_ASSERT(bw_names_unchanged(t, &seen, 600));
    CU_ASSERT(bw_names_unchanged(t, &seen, 999));
    CU_ASSERT(!bw_names_unchanged(t, &seen, 1000));   /* .1 expired: the answer shrinks */
    bw_names_put(t, "b.test", in, 1, 600, 1000);      /* another name's slot */
    CU_ASSERT(bw_names_unchanged(t, &seen, 700));
    bw_names_put(t, "a.test", in + 1, 1, 700, 1000);  /* its own slot */
    CU_ASSERT(!bw_names_unchanged(t, &seen, 700));
    CU_ASSERT_EQUAL(bw_names_read(t, "nobody.test", 700, out, 8, &seen), 0);
    CU_ASSERT(!bw_names_unchanged(t, &seen, 700));
    free(t);
}

/* A writer replaces a name's eight addresses again and again, each answer
 * of one generation; readers without the lock must never see two mixed. */
struct race {
    bw_names *t;
    atomic_bool stop;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    bw_name_addr a[BW_NAMES_ADDRS];
    for (uint8_t g = 1; !atomic_load(&r->stop); g = (uint8_t)(g % 250 + 1)) {
        for (unsigned i = 0; i < BW_NAMES_ADDRS; i++) {
            a[i] = v4((uint8_t)i);
            memset(a[i].addr + 4, g, 12);   /* AF_INET keeps 16 bytes: all compared */
            a[i].addr[1] = g;
        }
        bw_names_put(r->t, "race.test", a, BW_NAMES_ADDRS, 0, 100000);
    }
    return NULL;
}

static void test_read_races_writer(void)
{
    struct race r = {calloc(1, sizeof(bw_names)), false};
    bw_name_addr first = v4(0);
    bw_names_put(r.t, "race.test", &first, 1, 0, 100000);
    pthread_t w;
    CU_ASSERT_FATAL(pthread_create(&w, NULL, race_writer, &r) == 0);
    unsigned torn = 0, quiet = 0;
    for (int i = 0; i < 200000; i++) {
        bw_name_addr out[BW_NAMES_ADDRS];
        int n = bw_names_read(r.t, "race.test", 0, out, BW_NAMES_ADDRS, NULL);
        if (n < 0)
            continue;   /* the writer was inside each time: the caller would lock */
        quiet++;
        for (int k = 1; k < n; k++)
            torn += out[k].addr[1] != out[0].addr[1] || out[k].addr[15] != out[0].addr[1] ||
                    out[k].addr[3] != k;
    }
    atomic_store(&r.stop, true);
    pthread_join(w, NULL);
    CU_ASSERT_EQUAL(torn, 0);
    CU_ASSERT(quiet > 0);
    free(r.t);
}

static const bw_test_case cases[] = {
    {"put, get, expire", test_put_get_expire},
    {"answers add up, each address expires on its own", test_answers_add_up},
    {"full table and limits", test_full_table_and_limits},
    {"reads without the lock", test_read_without_lock},
    {"what a read saw, unchanged", test_seen_unchanged},
    {"reads race a writer, never torn", test_read_races_writer},
    {NULL, NULL},
};

BW_TEST_MAIN({"names", cases})
