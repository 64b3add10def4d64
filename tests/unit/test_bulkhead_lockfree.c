/*
 * test_bulkhead_lockfree.c - the owner's give-back without the lock
 * (bw_bulkhead_release_at, bw_bulkhead.h "Lock-free give-back"): the entry
 * an acquire reports, what a give-back at a wrong or emptied entry does,
 * and threads racing lock-free give-backs against locked acquires, releases
 * and reclaims, where the counts must come out exact and the cap must hold.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "bw_bulkhead.h"
#include "bw_test.h"

#define NOW 5000

static bw_bulkhead bh;

static void reset(void)
{
    memset(&bh, 0x5a, sizeof bh);
    bw_bulkhead_init(&bh);
}

static void test_acquire_reports_its_entry(void)
{
    reset();
    uint32_t i = 99, j = 99;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_TRUE_FATAL(i < BW_BULKHEAD_OWNERS);
    CU_ASSERT_EQUAL(bh.owners[i].pid, 7);
    CU_ASSERT_EQUAL(bh.owners[i].slots, 1);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &j), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(j, i);
    CU_ASSERT_EQUAL(bh.owners[i].slots, 2);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 1, 8, 1008, NOW, &j), BW_BH_REJECTED);
    CU_ASSERT_EQUAL(j, BW_BULKHEAD_NO_INDEX);
}

static void test_release_at_frees(void)
{
    reset();
    uint32_t i;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 2, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 2, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 2, 8, 1008, NOW, &i), BW_BH_REJECTED);
    uint32_t seq = bw_bulkhead_seq(&bh);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, 7 % BW_BULKHEAD_OWNERS, 7, 1007));
    CU_ASSERT_NOT_EQUAL(bw_bulkhead_seq(&bh), seq);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 2, 8, 1008, NOW, &i), BW_BH_TAKEN);
}

/* Nothing changes for another pid, another start time, a free entry, an
 * index out of range; and a count never goes below 0. */
static void test_release_at_refuses(void)
{
    reset();
    uint32_t i;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    bw_bulkhead before = bh;
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, i, 8, 1007));             /* a fork child */
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, i, 7, 999));              /* a recycled pid */
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, (i + 1) % BW_BULKHEAD_OWNERS, 7, 1007));
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, BW_BULKHEAD_NO_INDEX, 7, 1007));
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, UINT32_MAX, 7, 1007));
    CU_ASSERT_EQUAL(memcmp(&before, &bh, sizeof bh), 0);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, i, 7, 1007));
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, i, 7, 1007));             /* never negative */
    CU_ASSERT_EQUAL(bh.owners[i].slots, 0);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
}

/* An entry emptied under the give-back (the owner judged dead, then the
 * entry claimed by another process) is left alone: the caller falls back
 * to the locked release, which finds nothing, or the count elsewhere. */
static void test_release_at_after_reclaim(void)
{
    reset();
    uint32_t i, k;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, 7, 1007), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7 + BW_BULKHEAD_OWNERS, 2000, NOW, &k),
                    BW_BH_TAKEN);
    CU_ASSERT_EQUAL(k, i);                       /* the same entry, another owner */
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, i, 7, 1007));
    CU_ASSERT_FALSE(bw_bulkhead_release(&bh, 7, 1007));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7 + BW_BULKHEAD_OWNERS, 2000), 1);
}

/* One owner counted in two entries (its home was another's, then freed
 * when that owner died; an owner that gave its slots back keeps its
 * record, test_kept_record_not_taken); 
 * a hand-over to a socket takes its count from one of them. Whichever
 * entry a connection remembers, give-backs at it, with the locked release
 * as the fallback, bring the owner's total to exactly 0. */
static void test_owner_in_two_entries(void)
{
    reset();
    uint32_t first, second, h;
    int32_t me = 3, other = 3 + BW_BULKHEAD_OWNERS;   /* the same home entry */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, other, 1, NOW, &h), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, me, 2, NOW, &first), BW_BH_TAKEN);
    CU_ASSERT_NOT_EQUAL(first, h);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, other, 1), 1);   /* home is free again */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, me, 2, NOW, &second), BW_BH_TAKEN);
    uint32_t third;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, me, 2, NOW, &third), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, me, 2), 3);
    bw_bulkhead_sock s = {.inode = 42, .family = 2};
    CU_ASSERT_EQUAL(second, h);
    CU_ASSERT_EQUAL(third, h);
    /* "first"'s slot, taken from the home entry that the others remember */
    CU_ASSERT_TRUE(bw_bulkhead_hand_to_socket(&bh, me, 2, false, &s));
    uint32_t held[] = {second, third};
    unsigned fallbacks = 0;
    for (unsigned n = 0; n < 2; n++)
        if (!bw_bulkhead_release_at(&bh, held[n], me, 2)) {
            fallbacks++;
            CU_ASSERT_TRUE(bw_bulkhead_release(&bh, me, 2));
        }
    CU_ASSERT_EQUAL(fallbacks, 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, me, 2), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);                    /* the socket's */
}

/* ---- threads: lock-free give-backs against everything under the lock ---- */

#define THREADS 4
#define ROUNDS 20000
#define CAP 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held;             /* slots the threads hold now */
static atomic_int over_cap;         /* times held went above CAP */
static atomic_int problems;         /* impossible answers */
static atomic_bool stop;

static bool dead_other(int32_t pid, uint64_t start, void *ctx)
{
    (void)start, (void)ctx;
    return pid != 1000 + 1;   /* only pid 1001, another process, "died" */
}

/* One thread of process 1 (pid 1, start 1): takes a slot under the lock
 * (with max CAP, or none), gives it back without, falling back as the
 * shim does. */
static void *owner_thread(void *arg)
{
    uint32_t max = (uint32_t)(uintptr_t)arg;
    for (int n = 0; n < ROUNDS; n++) {
        uint32_t i;
        pthread_mutex_lock(&lock);
        enum bw_bh_result r = bw_bulkhead_acquire(&bh, max, 1, 1, NOW, &i);
        pthread_mutex_unlock(&lock);
        if (r == BW_BH_REJECTED)
            continue;
        if (r != BW_BH_TAKEN || i >= BW_BULKHEAD_OWNERS)
            atomic_fetch_add(&problems, 1);
        if (max && atomic_fetch_add(&held, 1) + 1 > CAP)
            atomic_fetch_add(&over_cap, 1);
        if (max)
            atomic_fetch_sub(&held, 1);
        if (!bw_bulkhead_release_at(&bh, i, 1, 1)) {
            pthread_mutex_lock(&lock);
            if (!bw_bulkhead_release(&bh, 1, 1))
                atomic_fetch_add(&problems, 1);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

/* Another process's slots (pid 1001, home entry 1001 % 64, not 1's) come
 * and go under the lock, and are reclaimed as dead; the table is read. */
static void *other_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&lock);
        uint32_t i;
        bw_bulkhead_acquire(&bh, 0, 1000 + 1, 5, NOW, &i);
        if (bw_bulkhead_active(&bh) > THREADS + 2)
            atomic_fetch_add(&problems, 1);
        bw_bulkhead_reclaim(&bh, dead_other, NULL);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void race(uint32_t max)
{
    reset();
    atomic_store(&held, 0);
    atomic_store(&over_cap, 0);
    atomic_store(&problems, 0);
    atomic_store(&stop, false);
    pthread_t t[THREADS], o;
    CU_ASSERT_FATAL(pthread_create(&o, NULL, other_thread, NULL) == 0);
    for (int n = 0; n < THREADS; n++)
        CU_ASSERT_FATAL(pthread_create(&t[n], NULL, owner_thread, (void *)(uintptr_t)max) == 0);
    for (int n = 0; n < THREADS; n++)
        pthread_join(t[n], NULL);
    atomic_store(&stop, true);
    pthread_join(o, NULL);
    CU_ASSERT_EQUAL(atomic_load(&problems), 0);
    CU_ASSERT_EQUAL(atomic_load(&over_cap), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 1, 1), 0);
    bw_bulkhead_reclaim(&bh, dead_other, NULL);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
}

static void test_race_unlimited(void)
{
    race(0);
}

static void test_race_capped(void)
{
    race(CAP);
}

static const bw_test_case cases[] = {
    {"an acquire reports the entry counting the slot", test_acquire_reports_its_entry},
    {"a lock-free give-back frees a slot", test_release_at_frees},
    {"a lock-free give-back changes nothing not its own", test_release_at_refuses},
    {"a lock-free give-back after a reclaim", test_release_at_after_reclaim},
    {"an owner counted in two entries", test_owner_in_two_entries},
    {"threads: lock-free give-backs, max 0", test_race_unlimited},
    {"threads: lock-free give-backs, the cap holds", test_race_capped},
    {NULL, NULL},
};

BW_TEST_MAIN({"bulkhead_lockfree", cases})
