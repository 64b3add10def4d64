/*
 * test_bulkhead.c - slot accounting (max, owners, forked children, dead
 * processes, a full owner table, slots held by sockets) and the FIFO ticket queue (order under
 * contention, cancelled, expired and abandoned tickets), single-threaded
 * and deterministic.
 */
#include <string.h>
#include "bw_bulkhead.h"
#include "bw_test.h"

#define NOW 5000

static bw_bulkhead bh;
static uint32_t ix;                 /* owner entries acquires report */

static void reset(void)
{
    memset(&bh, 0xa5, sizeof bh);   /* init must not rely on the caller zeroing */
    bw_bulkhead_init(&bh);
}

static enum bw_bh_result get(uint32_t max, int32_t pid)
{
    return bw_bulkhead_acquire(&bh, max, pid, 1000 + (uint64_t)pid, NOW, &ix);
}

static bool put(int32_t pid)
{
    return bw_bulkhead_release(&bh, pid, 1000 + (uint64_t)pid);
}

static uint32_t ticket(int32_t pid, int64_t now, int64_t deadline)
{
    uint32_t t = UINT32_MAX;
    CU_ASSERT_FATAL(bw_bulkhead_take_ticket(&bh, pid, 1000 + (uint64_t)pid, now,
                                            deadline, &t));
    return t;
}

static enum bw_bh_result try_t(uint32_t max, uint32_t t, int32_t pid, int64_t now)
{
    return bw_bulkhead_try_acquire_ticket(&bh, max, t, pid, 1000 + (uint64_t)pid, now, &ix);
}

/* alive_fn over a list of dead (pid, start) pairs. */
typedef struct dead_list {
    int n;
    int32_t pid[8];
    uint64_t start[8];
    int calls;
} dead_list;

static bool alive_unless_listed(int32_t pid, uint64_t start, void *ctx)
{
    dead_list *d = ctx;
    d->calls++;
    for (int i = 0; i < d->n; i++)
        if (d->pid[i] == pid && d->start[i] == start)
            return false;
    return true;
}

/* ---- slots ---- */

static void test_up_to_max_then_refuse(void)
{
    reset();
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(get(3, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(3, 100), BW_BH_REJECTED);
    CU_ASSERT_EQUAL(get(3, 200), BW_BH_REJECTED);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 3);
    CU_ASSERT_FALSE(bw_bh_admitted(BW_BH_REJECTED));
    CU_ASSERT_FALSE(bw_bh_admitted(BW_BH_WAIT));
    CU_ASSERT_FALSE(bw_bh_admitted(BW_BH_GONE));
}

static void test_release_frees(void)
{
    reset();
    CU_ASSERT_EQUAL(get(2, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(2, 200), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(2, 300), BW_BH_REJECTED);
    CU_ASSERT_TRUE(put(100));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
    CU_ASSERT_EQUAL(get(2, 300), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 2);
}

/* A forked child (another pid) or a recycled pid gives back nothing. */
static void test_release_by_other_is_noop(void)
{
    reset();
    CU_ASSERT_EQUAL(get(5, 100), BW_BH_TAKEN);
    CU_ASSERT_FALSE(put(101));
    CU_ASSERT_FALSE(bw_bulkhead_release(&bh, 100, 999));    /* same pid, other start */
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
    CU_ASSERT_TRUE(put(100));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
}

static void test_never_negative(void)
{
    reset();
    CU_ASSERT_EQUAL(get(5, 100), BW_BH_TAKEN);
    CU_ASSERT_TRUE(put(100));
    for (int i = 0; i < 5; i++)
        CU_ASSERT_FALSE(put(100));
    CU_ASSERT_FALSE(bw_bulkhead_release_untracked(&bh));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
    CU_ASSERT_EQUAL(get(1, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(1, 100), BW_BH_REJECTED);           /* still exact */
}

static void test_unlimited(void)
{
    reset();
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL_FATAL(get(0, 100 + i % 7), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1000);
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 0));
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_TRUE_FATAL(put(100 + i % 7));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
}

static void test_reclaim_dead_owner(void)
{
    dead_list d = {.n = 1, .pid = {300}, .start = {1300}};

    reset();
    CU_ASSERT_EQUAL(get(6, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(6, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(6, 200), BW_BH_TAKEN);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(get(6, 300), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(6, 400), BW_BH_REJECTED);
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 6));
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 3);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 3);
    CU_ASSERT_FALSE(put(300));                              /* nothing left to give */
    CU_ASSERT_EQUAL(get(6, 400), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 4);
}

/* pid 100 died and the pid was recycled: only the old one's slots go. */
static void test_reclaim_recycled_pid(void)
{
    dead_list d = {.n = 1, .pid = {100}, .start = {7}};

    reset();
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 100, 7, NOW, &ix), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 100, 8, NOW, &ix), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 0, 100, 8, NOW, &ix), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 2);
    CU_ASSERT_TRUE(bw_bulkhead_release(&bh, 100, 8));
}

static void test_drop_owner(void)
{
    reset();
    CU_ASSERT_EQUAL(get(0, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 200), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, 100, 1100), 2);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, 100, 1100), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_drop_owner(&bh, 200, 5), 0);     /* wrong start */
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
}

/* The slots one owner holds (exec: what the new image may adopt). */
static void test_owned(void)
{
    reset();
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 100, 1100), 0);
    CU_ASSERT_EQUAL(get(0, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 200), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 100, 1100), 2);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 100, 7), 0);      /* another process, same pid */
    CU_ASSERT(put(100));
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 100, 1100), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 200, 1200), 1);
}

/* 64 owners hold slots: the 65th process is admitted untracked (max allows). */
static void test_owner_table_full(void)
{
    dead_list d = {.n = 2, .pid = {10, 11}, .start = {1010, 1011}};

    reset();
    for (int p = 0; p < BW_BULKHEAD_OWNERS; p++)
        CU_ASSERT_EQUAL_FATAL(get(100, 10 + p), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 100));
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 0));
    CU_ASSERT_EQUAL(get(100, 10), BW_BH_TAKEN);             /* known owner: tracked */
    CU_ASSERT_EQUAL(get(100, 500), BW_BH_UNTRACKED);
    CU_ASSERT_TRUE(bw_bh_admitted(BW_BH_UNTRACKED));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 66);
    CU_ASSERT_FALSE(put(500));                              /* not an owner */
    CU_ASSERT_TRUE(bw_bulkhead_release_untracked(&bh));
    CU_ASSERT_FALSE(bw_bulkhead_release_untracked(&bh));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 65);
    /* Untracked slots still count against max. */
    for (int i = 0; i < 35; i++)
        CU_ASSERT_EQUAL_FATAL(get(100, 600), BW_BH_UNTRACKED);
    CU_ASSERT_EQUAL(get(100, 600), BW_BH_REJECTED);
    /* Reclaiming dead owners makes room in the table again. */
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 3);
    CU_ASSERT_EQUAL(get(100, 600), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 98);
}

static void test_should_reclaim(void)
{
    reset();
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 2));
    CU_ASSERT_EQUAL(get(2, 100), BW_BH_TAKEN);
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 2));
    CU_ASSERT_EQUAL(get(2, 100), BW_BH_TAKEN);
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 2));
    CU_ASSERT_FALSE(bw_bulkhead_should_reclaim(&bh, 3));
}

static void test_seq_changes_on_release(void)
{
    dead_list d = {.n = 1, .pid = {200}, .start = {1200}};
    uint32_t s;

    reset();
    CU_ASSERT_EQUAL(get(0, 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 200), BW_BH_TAKEN);
    s = bw_bulkhead_seq(&bh);
    CU_ASSERT_FALSE(put(300));
    CU_ASSERT_EQUAL(bw_bulkhead_seq(&bh), s);               /* nothing freed */
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 1);
    CU_ASSERT_NOT_EQUAL(bw_bulkhead_seq(&bh), s);
    s = bw_bulkhead_seq(&bh);
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_seq(&bh), s);
    CU_ASSERT_TRUE(put(100));
    CU_ASSERT_NOT_EQUAL(bw_bulkhead_seq(&bh), s);
    s = bw_bulkhead_seq(&bh);
    uint32_t t = ticket(400, NOW, NOW + 100);
    CU_ASSERT_TRUE(bw_bulkhead_cancel_ticket(&bh, t));
    CU_ASSERT_NOT_EQUAL(bw_bulkhead_seq(&bh), s);
}

/* ---- tickets ---- */

static void test_fifo_order(void)
{
    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    uint32_t b = ticket(2, NOW, NOW + 1000);
    uint32_t c = ticket(3, NOW, NOW + 1000);
    uint32_t d = ticket(4, NOW, NOW + 1000);
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, NOW), 3);
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW), BW_BH_WAIT);       /* no free slot */
    CU_ASSERT_TRUE(put(1));
    /* The latest arrivals ask first, but the oldest ticket goes first. */
    CU_ASSERT_EQUAL(try_t(1, d, 4, NOW + 1), BW_BH_WAIT);
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW + 1), BW_BH_WAIT);
    CU_ASSERT_EQUAL(get(1, 9), BW_BH_REJECTED);             /* no barging either */
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW + 1), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW + 1), BW_BH_GONE);   /* spent */
    CU_ASSERT_EQUAL(try_t(1, d, 4, NOW + 2), BW_BH_WAIT);
    CU_ASSERT_TRUE(put(2));
    CU_ASSERT_EQUAL(try_t(1, d, 4, NOW + 3), BW_BH_WAIT);
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW + 3), BW_BH_TAKEN);
    CU_ASSERT_TRUE(put(3));
    CU_ASSERT_EQUAL(try_t(1, d, 4, NOW + 4), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, NOW + 4), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
}

/* Two free slots and three waiters: the two oldest get them. */
static void test_free_slots_go_to_the_oldest(void)
{
    reset();
    CU_ASSERT_EQUAL(get(2, 1), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(2, 1), BW_BH_TAKEN);
    uint32_t b = ticket(2, NOW, NOW + 1000);
    uint32_t c = ticket(3, NOW, NOW + 1000);
    uint32_t d = ticket(4, NOW, NOW + 1000);
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(2, d, 4, NOW), BW_BH_WAIT);        /* 2 free, 2 ahead */
    CU_ASSERT_EQUAL(try_t(2, c, 3, NOW), BW_BH_TAKEN);       /* 2 free, 1 ahead */
    CU_ASSERT_EQUAL(try_t(2, d, 4, NOW), BW_BH_WAIT);        /* 1 free, 1 ahead */
    CU_ASSERT_EQUAL(try_t(2, b, 2, NOW), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(try_t(2, d, 4, NOW), BW_BH_WAIT);        /* full */
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 2);
}

static uint64_t next_rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/*
 * Simulated contention: 24 clients queue for 3 slots; at each step a random
 * one acts (a waiter tries, a holder may release). Admissions must come in
 * ticket order, and active never exceeds max.
 */
static void test_fifo_under_contention(void)
{
    enum { N = 24, MAX = 3 };
    uint32_t tk[N];
    int state[N] = {0};             /* 0 waiting, 1 holding, 2 done */
    int order[N], admitted = 0, done = 0;
    uint64_t s = 7;

    reset();
    for (int i = 0; i < N; i++)
        tk[i] = ticket(i + 1, NOW, NOW + 1000000);
    for (int step = 0; step < 100000 && done < N; step++) {
        int i = (int)(next_rnd(&s) % N);
        if (state[i] == 0) {
            enum bw_bh_result r = try_t(MAX, tk[i], i + 1, NOW + step);
            CU_ASSERT_FATAL(r == BW_BH_TAKEN || r == BW_BH_WAIT);
            if (r == BW_BH_TAKEN) {
                state[i] = 1;
                order[admitted++] = i;
            }
        } else if (state[i] == 1 && next_rnd(&s) % 4 == 0) {
            CU_ASSERT_TRUE_FATAL(put(i + 1));
            state[i] = 2;
            done++;
        }
        CU_ASSERT_FATAL(bw_bulkhead_active(&bh) <= MAX);
    }
    CU_ASSERT_EQUAL_FATAL(done, N);
    for (int k = 0; k < N; k++)
        CU_ASSERT_EQUAL(order[k], k);
}

static void test_cancelled_ticket_does_not_block(void)
{
    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    uint32_t b = ticket(2, NOW, NOW + 1000);
    uint32_t c = ticket(3, NOW, NOW + 1000);
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW), BW_BH_WAIT);
    CU_ASSERT_TRUE(bw_bulkhead_cancel_ticket(&bh, b));
    CU_ASSERT_FALSE(bw_bulkhead_cancel_ticket(&bh, b));
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW), BW_BH_GONE);
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW), BW_BH_TAKEN);
    CU_ASSERT_FALSE(bw_bulkhead_cancel_ticket(&bh, c));      /* spent */
    CU_ASSERT_FALSE(bw_bulkhead_cancel_ticket(&bh, 12345));  /* never issued */
}

/* A waiter killed while queued: its ticket lapses at its deadline. */
static void test_expired_ticket_does_not_block(void)
{
    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    uint32_t b = ticket(2, NOW, NOW + 100);                 /* abandoned */
    uint32_t c = ticket(3, NOW + 10, NOW + 1000);
    CU_ASSERT_EQUAL(bw_bulkhead_wake_by(&bh, b, NOW), INT64_MAX);   /* first in line */
    CU_ASSERT_EQUAL(bw_bulkhead_wake_by(&bh, c, NOW), NOW + 100);
    CU_ASSERT_EQUAL(bw_bulkhead_wake_by(&bh, c + 7, NOW), INT64_MAX);
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW + 99), BW_BH_WAIT);
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, NOW + 99), 2);
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, NOW + 100), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_wake_by(&bh, c, NOW + 100), INT64_MAX);
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW + 100), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW + 100), BW_BH_GONE);
    /* Lapsed tickets don't reserve slots against plain acquires either. */
    reset();
    ticket(5, NOW, NOW + 50);
    CU_ASSERT_EQUAL(get(1, 6), BW_BH_REJECTED);
    CU_ASSERT_EQUAL(bw_bulkhead_acquire(&bh, 1, 6, 1006, NOW + 50, &ix), BW_BH_TAKEN);
}

static void test_dead_waiter_reclaimed(void)
{
    dead_list d = {.n = 1, .pid = {2}, .start = {1002}};

    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    ticket(2, NOW, NOW + 100000);
    uint32_t c = ticket(3, NOW, NOW + 100000);
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW), BW_BH_WAIT);
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 0);
    CU_ASSERT_EQUAL(try_t(1, c, 3, NOW), BW_BH_TAKEN);
}

static void test_ticket_belongs_to_its_owner(void)
{
    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    uint32_t b = ticket(2, NOW, NOW + 1000);
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(1, b, 3, NOW), BW_BH_GONE);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
    CU_ASSERT_EQUAL(try_t(1, b, 2, NOW), BW_BH_TAKEN);      /* still valid */
    CU_ASSERT_EQUAL(try_t(1, b + 1, 2, NOW), BW_BH_GONE);   /* not issued */
}

static void test_ring_full(void)
{
    uint32_t t[BW_BULKHEAD_WAITERS], extra;

    reset();
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    for (int i = 0; i < BW_BULKHEAD_WAITERS; i++)
        t[i] = ticket(10 + i, NOW, NOW + 1000 + i);
    CU_ASSERT_FALSE(bw_bulkhead_take_ticket(&bh, 99, 1099, NOW, NOW + 1000, &extra));
    CU_ASSERT_TRUE(bw_bulkhead_cancel_ticket(&bh, t[0]));
    extra = ticket(99, NOW, NOW + 5000);
    CU_ASSERT_FALSE(bw_bulkhead_take_ticket(&bh, 98, 1098, NOW, NOW + 1000, &extra));
    /* A cancel in the middle frees no room until the ones before it go... */
    CU_ASSERT_TRUE(bw_bulkhead_cancel_ticket(&bh, t[5]));
    CU_ASSERT_FALSE(bw_bulkhead_take_ticket(&bh, 98, 1098, NOW, NOW + 1000, &extra));
    /* ...but deadlines do: all of t[] lapse by NOW + 1000 + 31. */
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, NOW + 1031), 1);
    for (int i = 0; i < BW_BULKHEAD_WAITERS - 1; i++)
        ticket(200 + i, NOW + 1031, NOW + 2000);
    CU_ASSERT_FALSE(bw_bulkhead_take_ticket(&bh, 98, 1098, NOW + 1031, NOW + 2000,
                                            &extra));
    CU_ASSERT_TRUE(put(1));
    CU_ASSERT_EQUAL(try_t(1, t[31] + 1, 99, NOW + 1031), BW_BH_TAKEN);   /* extra */
}

/* Ticket numbers wrap around 2^32 without breaking the order. */
static void test_ticket_wrap(void)
{
    uint32_t t[6];

    memset(&bh, 0, sizeof bh);
    bh.ticket_head = bh.ticket_next = UINT32_MAX - 2;
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    for (int i = 0; i < 6; i++)
        t[i] = ticket(10 + i, NOW, NOW + 1000);
    CU_ASSERT_EQUAL(t[3], 0);
    CU_ASSERT_TRUE(put(1));
    for (int i = 0; i < 6; i++) {
        for (int j = 5; j > i; j--)
            CU_ASSERT_EQUAL(try_t(1, t[j], 10 + j, NOW), BW_BH_WAIT);
        CU_ASSERT_EQUAL(try_t(1, t[i], 10 + i, NOW), BW_BH_TAKEN);
        CU_ASSERT_TRUE(put(10 + i));
    }
}

static void test_unlimited_tickets(void)
{
    reset();
    uint32_t a = ticket(2, NOW, NOW + 10);
    uint32_t b = ticket(3, NOW, NOW + 10);
    CU_ASSERT_EQUAL(try_t(0, b, 3, NOW), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(try_t(0, a, 2, NOW), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(0, 4), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 3);
}

/* ---- state ---- */

static void test_zeroed_is_valid(void)
{
    memset(&bh, 0, sizeof bh);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_waiting(&bh, 0), 0);
    CU_ASSERT_EQUAL(get(1, 1), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(1, 2), BW_BH_REJECTED);
}

static bool all_dead(int32_t pid, uint64_t start, void *ctx)
{
    (void)pid, (void)start, (void)ctx;
    return false;
}

/* Whatever bytes a corrupt state file holds: no crash, no wild write (ASan). */
static void test_arbitrary_contents(void)
{
    static const int fill[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x5a};
    uint64_t s = 3;

    for (unsigned f = 0; f < 6; f++)
        for (int round = 0; round < 20; round++) {
            struct { bw_bulkhead b; char guard[32]; } x;
            uint32_t t = 0;
            memset(&x, fill[f], sizeof x);
            memset(x.guard, 0x33, sizeof x.guard);
            unsigned char *raw = (unsigned char *)&x.b;
            for (int k = 0; round > 0 && k < 64; k++)    /* scatter random bytes too */
                raw[next_rnd(&s) % sizeof x.b] = (unsigned char)next_rnd(&s);
            uint32_t max = (uint32_t)(next_rnd(&s) % 5);
            int64_t now = (int64_t)(next_rnd(&s) % 3) - 1;
            bw_bulkhead_acquire(&x.b, max, 1, 2, now, &ix);
            bw_bulkhead_take_ticket(&x.b, 1, 2, now, now + 10, &t);
            bw_bulkhead_try_acquire_ticket(&x.b, max, t, 1, 2, now, &ix);
            bw_bulkhead_try_acquire_ticket(&x.b, max, (uint32_t)next_rnd(&s), 1, 2, now, &ix);
            bw_bulkhead_cancel_ticket(&x.b, (uint32_t)next_rnd(&s));
            bw_bulkhead_release(&x.b, 1, 2);
            bw_bulkhead_release_untracked(&x.b);
            bw_bulkhead_waiting(&x.b, now);
            bw_bulkhead_wake_by(&x.b, (uint32_t)next_rnd(&s), now);
            bw_bulkhead_wake_by(&x.b, t, now);
            bw_bulkhead_should_reclaim(&x.b, max);
            bw_bulkhead_sock id, got[BW_BULKHEAD_SOCKETS];
            memset(&id, fill[f], sizeof id);
            bw_bulkhead_hand_to_socket(&x.b, 1, 2, round % 2, &id);
            unsigned n = bw_bulkhead_sockets(&x.b, got, BW_BULKHEAD_SOCKETS);
            if (n)
                bw_bulkhead_drop_socket(&x.b, &got[next_rnd(&s) % n]);
            bw_bulkhead_reclaim(&x.b, all_dead, NULL);
            uint64_t held = (uint64_t)x.b.untracked + bw_bulkhead_socket_slots(&x.b);
            CU_ASSERT_EQUAL(bw_bulkhead_active(&x.b), held > UINT32_MAX ? UINT32_MAX : held);
            for (unsigned g = 0; g < sizeof x.guard; g++)
                CU_ASSERT_EQUAL_FATAL(x.guard[g], 0x33);
        }
}

static bw_bulkhead_sock sock_id(uint64_t inode)
{
    bw_bulkhead_sock id;
    memset(&id, 0, sizeof id);
    id.inode = inode;
    id.family = 2;   /* AF_INET */
    id.local_port = (uint16_t)inode;
    id.peer_port = 80;
    id.local[0] = id.peer[0] = 127;
    return id;
}

/* A slot handed to a socket stays counted when its owner dies, and goes
 * back when the socket is dropped, once. */
static void test_socket_holds_slot(void)
{
    reset();
    CU_ASSERT_EQUAL(get(2, 1), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(2, 1), BW_BH_TAKEN);
    bw_bulkhead_sock a = sock_id(77);
    CU_ASSERT_TRUE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, false, &a));
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 2);
    CU_ASSERT_EQUAL(bw_bulkhead_socket_slots(&bh), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 1, 1001), 1);
    CU_ASSERT_EQUAL(get(2, 3), BW_BH_REJECTED);
    CU_ASSERT_TRUE(bw_bulkhead_should_reclaim(&bh, 2));
    dead_list d = {.n = 1, .pid = {1}, .start = {1001}};
    CU_ASSERT_EQUAL(bw_bulkhead_reclaim(&bh, alive_unless_listed, &d), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);   /* the socket's slot outlives its owner */
    CU_ASSERT_EQUAL(get(2, 3), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(get(2, 3), BW_BH_REJECTED);
    bw_bulkhead_sock out[BW_BULKHEAD_SOCKETS];
    CU_ASSERT_EQUAL(bw_bulkhead_sockets(&bh, out, BW_BULKHEAD_SOCKETS), 1);
    CU_ASSERT_EQUAL(memcmp(&out[0], &a, sizeof a), 0);
    uint32_t seq = bw_bulkhead_seq(&bh);
    CU_ASSERT_TRUE(bw_bulkhead_drop_socket(&bh, &out[0]));
    CU_ASSERT_NOT_EQUAL(bw_bulkhead_seq(&bh), seq);
    CU_ASSERT_FALSE(bw_bulkhead_drop_socket(&bh, &out[0]));   /* dropped by another first */
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
    CU_ASSERT_EQUAL(get(2, 3), BW_BH_TAKEN);
}

/* Nothing changes when the owner holds no slot, the id is empty or the
 * table is full; an untracked slot can be handed over too. */
static void test_socket_hand_over_refused(void)
{
    reset();
    bw_bulkhead_sock a = sock_id(5), none = sock_id(0);
    CU_ASSERT_FALSE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, false, &a));   /* holds none */
    CU_ASSERT_EQUAL(get(0, 1), BW_BH_TAKEN);
    CU_ASSERT_FALSE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, false, &none));
    CU_ASSERT_FALSE(bw_bulkhead_hand_to_socket(&bh, 2, 1002, false, &a));   /* another's */
    CU_ASSERT_FALSE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, true, &a));    /* no untracked */
    CU_ASSERT_EQUAL(bw_bulkhead_socket_slots(&bh), 0);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1);
    for (uint64_t i = 0; i < BW_BULKHEAD_SOCKETS; i++) {
        bw_bulkhead_sock s = sock_id(100 + i);
        CU_ASSERT_EQUAL(get(0, 1), BW_BH_TAKEN);
        CU_ASSERT_TRUE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, false, &s));
    }
    bw_bulkhead_sock extra = sock_id(999);
    CU_ASSERT_FALSE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, false, &extra));   /* table full */
    CU_ASSERT_EQUAL(bw_bulkhead_owned(&bh, 1, 1001), 1);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), 1 + BW_BULKHEAD_SOCKETS);
    bh.untracked = 1;
    bw_bulkhead_sock first = sock_id(100);
    CU_ASSERT_TRUE(bw_bulkhead_drop_socket(&bh, &first));
    CU_ASSERT_TRUE(bw_bulkhead_hand_to_socket(&bh, 1, 1001, true, &extra));
    CU_ASSERT_EQUAL(bh.untracked, 0);
}

/* A full counter counts nothing more, with no limit set: the owner's own,
 * and the one for slots without an owner; others still count, and the sum
 * saturates. */
static void test_full_counter(void)
{
    reset();
    CU_ASSERT_EQUAL(get(0, 7), BW_BH_TAKEN);
    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        if (bh.owners[i].slots)
            bh.owners[i].slots = UINT32_MAX;
    CU_ASSERT_EQUAL(get(0, 7), BW_BH_REJECTED);
    CU_ASSERT_EQUAL(get(0, 8), BW_BH_TAKEN);
    CU_ASSERT_EQUAL(bw_bulkhead_active(&bh), UINT32_MAX);
    CU_ASSERT_EQUAL(get(5, 9), BW_BH_REJECTED);
    bh.untracked = UINT32_MAX;
    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        if (!bh.owners[i].slots)
            bh.owners[i] = (bw_bulkhead_owner){.pid = 100 + (int32_t)i, .start_time = 1, .slots = 1};
    CU_ASSERT_EQUAL(get(0, 9), BW_BH_REJECTED);   /* owner table full, untracked full */
}

static const bw_test_case slot_cases[] = {
    {"acquire up to max, then refuse", test_up_to_max_then_refuse},
    {"release frees a slot", test_release_frees},
    {"release by another process is a no-op", test_release_by_other_is_noop},
    {"counts never go negative", test_never_negative},
    {"max 0 is unlimited and counted", test_unlimited},
    {"a full counter counts no more", test_full_counter},
    {"reclaim a dead owner", test_reclaim_dead_owner},
    {"reclaim a recycled pid's old owner only", test_reclaim_recycled_pid},
    {"drop one owner", test_drop_owner},
    {"slots one owner holds", test_owned},
    {"owner table full: untracked slots", test_owner_table_full},
    {"should_reclaim", test_should_reclaim},
    {"seq changes when a slot frees", test_seq_changes_on_release},
    {"a socket holds a slot past its owner", test_socket_holds_slot},
    {"handing a slot to a socket can be refused", test_socket_hand_over_refused},
    {NULL, NULL},
};

static const bw_test_case ticket_cases[] = {
    {"FIFO order", test_fifo_order},
    {"free slots go to the oldest tickets", test_free_slots_go_to_the_oldest},
    {"FIFO under simulated contention", test_fifo_under_contention},
    {"cancelled ticket does not block", test_cancelled_ticket_does_not_block},
    {"expired ticket does not block", test_expired_ticket_does_not_block},
    {"dead waiter's ticket is reclaimed", test_dead_waiter_reclaimed},
    {"a ticket belongs to its owner", test_ticket_belongs_to_its_owner},
    {"ring full, then room again", test_ring_full},
    {"ticket numbers wrap", test_ticket_wrap},
    {"unlimited with tickets", test_unlimited_tickets},
    {NULL, NULL},
};

static const bw_test_case state_cases[] = {
    {"all zeroes is an empty bulkhead", test_zeroed_is_valid},
    {"arbitrary contents are safe", test_arbitrary_contents},
    {NULL, NULL},
};

BW_TEST_MAIN({"bulkhead_slots", slot_cases}, {"bulkhead_tickets", ticket_cases},
             {"bulkhead_state", state_cases})
