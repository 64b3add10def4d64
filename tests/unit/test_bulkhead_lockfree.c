/*
 * test_bulkhead_lockfree.c - the owner's give-back without the lock
 * (bw_bulkhead_release_at, bw_bulkhead.h "Lock-free give-back"): the entry
 * an acquire reports, what a give-back at a wrong or emptied entry does,
 * and threads racing lock-free give-backs against locked acquires, releases
 * and reclaims, where the counts must come out exact and the cap must hold;
 * the owner's take without the lock with max 0 (bw_bulkhead_take_at,
 * "Lock-free take"), its kept record and the claims that take one, and
 * threads racing lock-free takes (with the retry budget's lock-free count)
 * against locked claims, acquires with a cap and reclaims.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include "bw_budget.h"
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

/* ---- the owner's take without the lock (max 0) ---- */

/* Fills every owner entry but skip with another owner's slot (pids from
 * 5000, start 1). */
static void fill_but(unsigned skip)
{
    for (unsigned n = 0; n < BW_BULKHEAD_OWNERS; n++)
        if (n != skip) {
            bh.owners[n].start_time = 1;
            bh.owners[n].word = ((bw_bulkhead_owner){.pid = (int32_t)(5000 + n), .slots = 1}).word;
        }
}

static void test_take_at_counts(void)
{
    reset();
    uint32_t i;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_take_at(&bh, i, 7));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 1007), 2);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 2);
    bw_bulkhead before = bh;
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, i, 8));                      /* a fork child */
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, (i + 1) % BW_BULKHEAD_OWNERS, 7));   /* free */
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, BW_BULKHEAD_NO_INDEX, 7));
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, UINT32_MAX, 7));
    CU_ASSERT_EQUAL(memcmp(&before, &bh, sizeof bh), 0);
    /* Given back to 0, the record stays the owner's: taken again lock-free. */
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, i, 7, 1007));
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, i, 7, 1007));
    CU_ASSERT_EQUAL(bh.owners[i].pid, 7);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 0));
    CU_ASSERT_TRUE(bw_bulkhead_take_at(&bh, i, 7));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 1007), 1);
    /* A full count takes nothing more. */
    bh.owners[i].slots = UINT32_MAX;
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, i, 7));
    CU_ASSERT_EQUAL(bh.owners[i].slots, UINT32_MAX);
}

/* Not while a ticket may be outstanding: the locked acquire purges first. */
static void test_take_at_not_with_tickets(void)
{
    reset();
    uint32_t i, t;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_take_ticket(&bh, 8, 1008, NOW, NOW + 100, &t));
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, i, 7));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 1007), 1);
    CU_ASSERT_TRUE(bw_bulkhead_cancel_ticket(&bh, t));
    CU_ASSERT_TRUE(bw_bulkhead_take_at(&bh, i, 7));
}

/* A reclaim frees a dead owner's record (no pid left): a lock-free take by
 * a later process with that pid cannot land on it. */
static void test_reclaim_frees_record(void)
{
    reset();
    uint32_t i;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &i), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, 7, 1007), 1);
    CU_ASSERT_EQUAL(bh.owners[i].word, 0);
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, i, 7));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
}

/* A claim prefers a free entry to another owner's kept record, so the
 * kept one stays its owner's (its next take is lock-free again). */
static void test_kept_record_not_taken(void)
{
    reset();
    uint32_t h, mine;
    int32_t other = 3, me = 3 + BW_BULKHEAD_OWNERS;   /* the same home entry */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, other, 1, NOW, &h), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, h, other, 1));      /* kept at 0 */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, me, 2, NOW, &mine), BW_BH_TAKEN);
    CU_ASSERT_NOT_EQUAL(mine, h);
    CU_ASSERT_TRUE(bw_bulkhead_take_at(&bh, h, other));
    CU_ASSERT_TRUE(bw_bulkhead_take_at(&bh, mine, me));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, other, 1), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, me, 2), 2);
    /* The owner's locked take finds its record, kept or not. */
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, mine, me, 2));
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, mine, me, 2));
    uint32_t again;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, me, 2, NOW, &again), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(again, mine);
}

/* With no free entry, a claim takes a kept record from its owner: the
 * owner's take without the lock then fails, its locked take counts the
 * slot elsewhere (here: untracked, the table being full), and the table's
 * numbers stay right. */
static void test_kept_record_claimed(void)
{
    reset();
    uint32_t k, j;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &k), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, k, 7, 1007));       /* kept at 0 */
    fill_but(k);
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 0));            /* one entry to claim */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 9, 1009, NOW, &j), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(j, k);
    CU_ASSERT_EQUAL(bh.owners[k].pid, 9);
    CU_ASSERT_EQUAL(bh.owners[k].start_time, 1009);
    CU_ASSERT_FALSE(bw_bulkhead_take_at(&bh, k, 7));
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 0));             /* the table is full */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &j), BW_BH_UNTRACKED);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), BW_BULKHEAD_OWNERS + 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 9, 1009), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 1007), 0);
}

/* A kept record of an earlier process with the same pid is not the new
 * one's: another start time. Its claim writes the new start time. */
static void test_kept_record_of_recycled_pid(void)
{
    reset();
    uint32_t k, j;
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &k), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, k, 7, 1007));       /* kept; then pid 7 dies */
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 2007, NOW, &j), BW_BH_TAKEN);
    CU_ASSERT_NOT_EQUAL(j, k);                  /* a free entry first */
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 2007), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 1007), 0);
    reset();
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 1007, NOW, &k), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_release_at(&bh, k, 7, 1007));
    fill_but(k);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 7, 2007, NOW, &j), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(j, k);
    CU_ASSERT_EQUAL(bh.owners[k].start_time, 2007);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 7, 2007), 1);
    CU_ASSERT_FALSE(bw_bulkhead_release_at(&bh, k, 7, 1007));
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
        sched_yield();   /* hold it a moment: the threads' holdings overlap */
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

/* ---- threads: lock-free takes against claims, capped acquires, reclaims ---- */

static bw_budget budget;
static atomic_uint notes;           /* first attempts the takers counted */
static atomic_int capped_held;      /* slots the capped process holds now */

/* The takers: one process per thread (start time = pid), all with home
 * entry 1, as are the colliders, other processes. */
#define TAKER(n) (1 + BW_BULKHEAD_OWNERS * (n))
#define COLLIDER(n) TAKER(THREADS + (n) % 8)

static bool only_takers_live(int32_t pid, uint64_t start, void *ctx)
{
    (void)start, (void)ctx;
    return pid == 2 || (pid % BW_BULKHEAD_OWNERS == 1 && pid < TAKER(THREADS));
}

/* A taker process (pid arg, start the same), max 0: a take without the lock
 * on its last entry (falling back to the locked acquire, which gives the
 * entry), the budget's count without the lock (locked fallback), then the
 * give-back, as the shim does. */
static void *taker_thread(void *arg)
{
    int32_t pid = (int32_t)(intptr_t)arg;
    uint64_t start = (uint64_t)pid;
    uint32_t hint = BW_BULKHEAD_NO_INDEX;
    for (int n = 0; n < ROUNDS / 2; n++) {
        uint32_t i = hint;
        enum bw_bh_result r = BW_BH_TAKEN;
        if (!bw_bulkhead_take_at(&bh, hint, pid)) {
            pthread_mutex_lock(&lock);
            r = bw_bulkhead_acquire(&bh, 0, pid, start, NOW, &i);
            pthread_mutex_unlock(&lock);
            if (r == BW_BH_TAKEN)
                hint = i;
        }
        int64_t now = NOW + n / 100 * 250;   /* the seconds move on */
        if (!bw_budget_note_first_unlocked(&budget, now)) {
            pthread_mutex_lock(&lock);
            bw_budget_note_first(&budget, now);
            pthread_mutex_unlock(&lock);
        }
        atomic_fetch_add(&notes, 1);
        if (r != BW_BH_TAKEN || !bw_bulkhead_release_at(&bh, i, pid, start)) {
            pthread_mutex_lock(&lock);
            bool back = r == BW_BH_UNTRACKED ? bw_bulkhead_release_untracked(&bh)
                                             : bw_bulkhead_release(&bh, pid, start);
            pthread_mutex_unlock(&lock);
            if (!back)
                atomic_fetch_add(&problems, 1);   /* lost: taken onto a record not ours */
        }
        sched_yield();   /* kept at 0 a while: claims may take the record */
    }
    return NULL;
}

/* A thread of process 2 (pid 2) with max CAP, under the lock: CAP + 1 of
 * them, and the process's slots never go above CAP (the takers' counts
 * only add to its sums). */
static void *capped_thread(void *arg)
{
    (void)arg;
    for (int n = 0; n < ROUNDS / 4; n++) {
        uint32_t i;
        pthread_mutex_lock(&lock);
        enum bw_bh_result r = bw_bulkhead_acquire(&bh, CAP, 2, 2, NOW, &i);
        pthread_mutex_unlock(&lock);
        if (!bw_bh_admitted(r))
            continue;
        if (atomic_fetch_add(&capped_held, 1) + 1 > CAP)
            atomic_fetch_add(&over_cap, 1);
        sched_yield();   /* hold it a moment, as the other capped threads do */
        atomic_fetch_sub(&capped_held, 1);
        if (r == BW_BH_TAKEN && bw_bulkhead_release_at(&bh, i, 2, 2))
            continue;
        pthread_mutex_lock(&lock);
        bool back = r == BW_BH_UNTRACKED ? bw_bulkhead_release_untracked(&bh)
                                         : bw_bulkhead_release(&bh, 2, 2);
        pthread_mutex_unlock(&lock);
        if (!back)
            atomic_fetch_add(&problems, 1);
    }
    return NULL;
}

/* An acquire of another process that gives an untracked slot straight
 * back (a reclaim does not take those). */
static void acquire_other(int32_t pid, uint64_t start)
{
    uint32_t i;
    if (bw_bulkhead_acquire(&bh, 0, pid, start, NOW, &i) == BW_BH_UNTRACKED)
        bw_bulkhead_release_untracked(&bh);
}

/* Other processes come and go under the lock: they fill the table, then
 * one more claims an entry (the takers' home's: a kept record of the
 * takers' or the capped process's, the only entries left, when at 0),
 * then they die and are reclaimed; the budget is asked for a retry. */
static void *claimer_thread(void *arg)
{
    (void)arg;
    for (unsigned n = 0; !atomic_load(&stop); n++) {
        pthread_mutex_lock(&lock);
        for (int32_t k = 0; k < BW_BULKHEAD_OWNERS - 2; k++)
            acquire_other(3000 + k, 7);
        acquire_other(COLLIDER(n), n);
        bw_budget_try_retry(&budget, 10, 1, NOW);
        bw_bulkhead_reclaim(&bh, only_takers_live, NULL);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void test_race_takes(void)
{
    reset();
    bw_budget_init(&budget);
    atomic_store(&notes, 0);
    atomic_store(&capped_held, 0);
    atomic_store(&over_cap, 0);
    atomic_store(&problems, 0);
    atomic_store(&stop, false);
    pthread_t t[THREADS], cl, cap[CAP + 1];
    CU_ASSERT_FATAL(pthread_create(&cl, NULL, claimer_thread, NULL) == 0);
    for (int n = 0; n < CAP + 1; n++)
        CU_ASSERT_FATAL(pthread_create(&cap[n], NULL, capped_thread, NULL) == 0);
    for (int n = 0; n < THREADS; n++)
        CU_ASSERT_FATAL(pthread_create(&t[n], NULL, taker_thread,
                                       (void *)(intptr_t)TAKER(n)) == 0);
    for (int n = 0; n < THREADS; n++)
        pthread_join(t[n], NULL);
    for (int n = 0; n < CAP + 1; n++)
        pthread_join(cap[n], NULL);
    atomic_store(&stop, true);
    pthread_join(cl, NULL);
    CU_ASSERT_EQUAL(atomic_load(&problems), 0);
    CU_ASSERT_EQUAL(atomic_load(&over_cap), 0);
    for (int n = 0; n < THREADS; n++)
        CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, TAKER(n), (uint64_t)TAKER(n)), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 2, 2), 0);
    bw_bulkhead_reclaim(&bh, only_takers_live, NULL);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
    /* Every first attempt counted once: the locked call folds the rest. */
    bw_budget_note_first(&budget, NOW + 3600 * 1000);
    CU_ASSERT_EQUAL(budget.total_firsts, (uint64_t)atomic_load(&notes) + 1);
}

static const bw_test_case cases[] = {
    {"an acquire reports the entry counting the slot", test_acquire_reports_its_entry},
    {"a lock-free give-back frees a slot", test_release_at_frees},
    {"a lock-free give-back changes nothing not its own", test_release_at_refuses},
    {"a lock-free give-back after a reclaim", test_release_at_after_reclaim},
    {"an owner counted in two entries", test_owner_in_two_entries},
    {"threads: lock-free give-backs, max 0", test_race_unlimited},
    {"threads: lock-free give-backs, the cap holds", test_race_capped},
    {"a take without the lock, on a record kept at 0", test_take_at_counts},
    {"no take without the lock while a ticket is outstanding", test_take_at_not_with_tickets},
    {"a reclaim frees a dead owner's record", test_reclaim_frees_record},
    {"a claim leaves a kept record when one is free", test_kept_record_not_taken},
    {"a claim takes a kept record when none is free", test_kept_record_claimed},
    {"a kept record of a recycled pid is not the new process's", test_kept_record_of_recycled_pid},
    {"threads: lock-free takes against claims, a cap, reclaims, the budget", test_race_takes},
    {NULL, NULL},
};

BW_TEST_MAIN({"bulkhead_lockfree", cases})
