/*
 * test_budget.c - the retry budget rule with an injected clock: the
 * percentage rule, the minimum-rate rule, 10 s expiry, clock jumps,
 * percent 0, robustness to arbitrary struct contents, and first attempts
 * counted without the lock (alone, and racing with locked writers).
 */
#include <pthread.h>
#include <string.h>
#include "bw_budget.h"
#include "bw_test.h"

#define T0 1000000000LL     /* an arbitrary monotonic-clock reading, in ms */

static bw_budget fresh(void)
{
    bw_budget b;
    memset(&b, 0xa5, sizeof b);      /* init must not rely on the caller zeroing */
    bw_budget_init(&b);
    return b;
}

static void firsts(bw_budget *b, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        bw_budget_note_first(b, now);
}

/* How many retries are granted in a row at now, asking at most limit times. */
static int grant_run(bw_budget *b, uint32_t pct, uint32_t min, int64_t now, int limit)
{
    int n = 0;
    while (n < limit && bw_budget_try_retry(b, pct, min, now))
        n++;
    return n;
}

static void test_percent_rule(void)
{
    bw_budget b = fresh();

    firsts(&b, 10, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 2);        /* 20% of 10 */
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 1);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, T0));
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 2);
    CU_ASSERT_EQUAL(bw_budget_retries(&b), 2);
    firsts(&b, 5, T0 + 300);                                  /* F = 15: 3 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0 + 300, 100), 1);
    firsts(&b, 85, T0 + 2500);                                /* F = 100: 20 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0 + 2500, 100), 17);
}

static void test_percent_rounds_down(void)
{
    bw_budget b = fresh();

    firsts(&b, 4, T0);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, T0));      /* 0.8 -> 0 */
    firsts(&b, 1, T0);
    CU_ASSERT_TRUE(bw_budget_try_retry(&b, 20, 0, T0));       /* 1.0 -> 1 */
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, T0));
    b = fresh();
    firsts(&b, 3, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 100, 0, T0, 100), 3);
}

static void test_min_rate_rule(void)
{
    bw_budget b = fresh();

    /* No first attempts at all: min_per_sec * 10 retries per window. */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 3, T0, 1000), 30);
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 1);
    /* Denials don't use up the allowance: one more second, still none free. */
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 3, T0 + 1000));
    /* Defaults (20%, 10/s): 100 free retries, then the share of 1000 firsts. */
    b = fresh();
    CU_ASSERT_EQUAL(grant_run(&b, 20, 10, T0, 1000), 100);
    firsts(&b, 600, T0 + 10);                                 /* 20% = 120 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 10, T0 + 10, 1000), 20);
}

static void test_min_rate_is_the_larger(void)
{
    bw_budget b = fresh();

    firsts(&b, 1000, T0);                                     /* share 200 > 100 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 10, T0, 1000), 200);
    b = fresh();
    firsts(&b, 100, T0);                                      /* share 20 < 100 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 10, T0, 1000), 100);
}

static void test_window_expiry(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    firsts(&b, 10, T0);                                       /* second s0 */
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 2);
    firsts(&b, 5, T0 + 5000);                                 /* second s0+5 */
    bw_budget_window(&b, T0 + 9999, &f, &r);
    CU_ASSERT_EQUAL(f, 15);
    CU_ASSERT_EQUAL(r, 2);
    bw_budget_window(&b, T0 + 10000, &f, &r);                 /* s0 has left */
    CU_ASSERT_EQUAL(f, 5);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_TRUE(bw_budget_try_retry(&b, 20, 0, T0 + 10000));   /* 20% of 5 */
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, T0 + 10000));
    bw_budget_window(&b, T0 + 15000, &f, &r);                 /* s0+5 has left */
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(r, 1);
    bw_budget_window(&b, T0 + 20000, &f, &r);
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(bw_budget_retries(&b), 3);                /* totals stay */
}

/* A bucket reused 10 s later must not keep the old second's counts. */
static void test_bucket_reuse(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    firsts(&b, 50, T0);
    firsts(&b, 1, T0 + 10000);                                /* same bucket */
    bw_budget_window(&b, T0 + 10000, &f, &r);
    CU_ASSERT_EQUAL(f, 1);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, T0 + 10000));
}

static void test_equal_timestamps(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    firsts(&b, 1000, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 50, 0, T0, 10000), 500);
    bw_budget_window(&b, T0, &f, &r);
    CU_ASSERT_EQUAL(f, 1000);
    CU_ASSERT_EQUAL(r, 500);
}

static void test_jump_forward_hours(void)
{
    bw_budget b = fresh();
    uint64_t f, r;
    int64_t later = T0 + 3LL * 3600 * 1000;

    firsts(&b, 100, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 20);
    bw_budget_window(&b, later, &f, &r);
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, later));   /* nothing to share */
    firsts(&b, 10, later);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, later, 100), 2);
}

/* A caller that read the clock just before another one still counts. */
static void test_small_step_back_is_kept(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    bw_budget_note_first(&b, T0 + 5000);
    bw_budget_note_first(&b, T0 + 4999);    /* an earlier second: counted in the latest */
    bw_budget_window(&b, T0 + 14000, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
    bw_budget_window(&b, T0 + 15000, &f, &r);
    CU_ASSERT_EQUAL(f, 0);
}

/* A clock that goes back by more than the window starts afresh. */
static void test_jump_back_hours(void)
{
    bw_budget b = fresh();
    uint64_t f, r;
    int64_t earlier = T0 - 2LL * 3600 * 1000;

    firsts(&b, 100, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 20);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 0, earlier));
    bw_budget_window(&b, earlier, &f, &r);
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(r, 0);
    firsts(&b, 10, earlier + 1);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, earlier + 1, 100), 2);
    bw_budget_window(&b, earlier + 9000, &f, &r);
    CU_ASSERT_EQUAL(f, 10);
    CU_ASSERT_EQUAL(r, 2);
    CU_ASSERT_EQUAL(bw_budget_retries(&b), 22);
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 3);
}

static void test_negative_times(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    bw_budget_note_first(&b, -1500);                          /* second -2 */
    bw_budget_window(&b, -1, &f, &r);
    CU_ASSERT_EQUAL(f, 1);
    bw_budget_window(&b, 7999, &f, &r);                       /* -2..7 */
    CU_ASSERT_EQUAL(f, 1);
    bw_budget_window(&b, 8000, &f, &r);                       /* -1..8 */
    CU_ASSERT_EQUAL(f, 0);
}

static void test_percent_zero_unlimited(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    CU_ASSERT_EQUAL(grant_run(&b, 0, 0, T0, 5000), 5000);
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 0);
    CU_ASSERT_EQUAL(bw_budget_retries(&b), 5000);
    bw_budget_window(&b, T0, &f, &r);
    CU_ASSERT_EQUAL(r, 5000);                                 /* still counted */
    /* Counted retries then weigh on a later non-zero percent. */
    firsts(&b, 100, T0);
    CU_ASSERT_FALSE(bw_budget_try_retry(&b, 20, 10, T0));
}

static void test_zeroed_is_valid(void)
{
    bw_budget b;
    memset(&b, 0, sizeof b);
    firsts(&b, 10, 0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, 0, 100), 2);
    memset(&b, 0, sizeof b);
    firsts(&b, 10, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 2);
}

static void test_clear_window_keeps_totals(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    firsts(&b, 10, T0);
    CU_ASSERT_EQUAL(grant_run(&b, 20, 0, T0, 100), 2);
    bw_budget_clear_window(&b);
    bw_budget_window(&b, T0, &f, &r);
    CU_ASSERT_EQUAL(f + r, 0);
    CU_ASSERT_EQUAL(bw_budget_retries(&b), 2);
    CU_ASSERT_EQUAL(bw_budget_denied(&b), 1);
}

/* Whatever bytes a corrupt state file holds: no crash, no wild write (ASan). */
static void test_arbitrary_contents(void)
{
    static const int fill[] = {0x00, 0x7f, 0x80, 0xff, 0x5a};
    static const int64_t times[] = {INT64_MIN, -1, 0, T0, INT64_MAX};

    for (unsigned i = 0; i < 5; i++)
        for (unsigned t = 0; t < 5; t++) {
            struct { bw_budget b; char guard[16]; } s;
            uint64_t f, r;
            memset(&s, fill[i], sizeof s);
            memset(s.guard, 0x33, sizeof s.guard);
            if (i == 4) {              /* a believable flag, an absurd second */
                s.b.started = 1;
                s.b.last_sec = (t & 1) ? INT64_MIN : INT64_MAX;
            }
            bw_budget_note_first(&s.b, times[t]);
            bw_budget_note_first_unlocked(&s.b, times[t]);
            bw_budget_try_retry(&s.b, UINT32_MAX, UINT32_MAX, times[t]);
            bw_budget_try_retry(&s.b, 20, 10, times[t]);
            bw_budget_window(&s.b, times[t], &f, &r);
            CU_ASSERT(f <= 10ull * UINT32_MAX && r <= 10ull * UINT32_MAX);
            for (unsigned g = 0; g < sizeof s.guard; g++)
                CU_ASSERT_EQUAL_FATAL(s.guard[g], 0x33);
        }
}

/* Unlocked: only in the budget's latest second, once a locked call made
 * it; in that second's bucket, and in the total once folded there. */
static void test_unlocked_current_second(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    CU_ASSERT_FALSE(bw_budget_note_first_unlocked(&b, T0));   /* never advanced */
    bw_budget_note_first(&b, T0);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 999));
    CU_ASSERT_FALSE(bw_budget_note_first_unlocked(&b, T0 + 1000));   /* a new second */
    CU_ASSERT_FALSE(bw_budget_note_first_unlocked(&b, T0 - 1));      /* one behind */
    CU_ASSERT_FALSE(bw_budget_note_first_unlocked(&b, -T0));
    bw_budget_window(&b, T0, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
    CU_ASSERT_EQUAL(b.total_firsts + b.unlocked_firsts, 2);
    bw_budget_note_first(&b, T0 + 1000);                      /* moves on: folds s0's */
    CU_ASSERT_EQUAL(b.unlocked_firsts, 0);
    CU_ASSERT_EQUAL(b.total_firsts, 3);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 1500));
    CU_ASSERT_FALSE(bw_budget_note_first_unlocked(&b, T0 + 999));
    bw_budget_window(&b, T0 + 1500, &f, &r);
    CU_ASSERT_EQUAL(f, 4);
    CU_ASSERT_EQUAL(grant_run(&b, 50, 0, T0 + 1500, 100), 2);
    /* s0's two leave the window with s0, s0+1's two with s0+1. */
    bw_budget_window(&b, T0 + 10000, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 1999));
    bw_budget_note_first(&b, T0 + 10000);                     /* s0's bucket taken */
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 10001));
    bw_budget_window(&b, T0 + 10001, &f, &r);
    CU_ASSERT_EQUAL(f, 5);                                    /* 3 of s0+1, 2 now */
    bw_budget_window(&b, T0 + 11000, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
    CU_ASSERT_EQUAL(b.total_firsts + b.unlocked_firsts, 7);
}

/* Saturating, as the locked count; a cleared window keeps them in the
 * total and counts those after it; a jump back forgets them. */
static void test_unlocked_saturates_and_clears(void)
{
    bw_budget b = fresh();
    uint64_t f, r;

    bw_budget_note_first(&b, T0);
    b.firsts[(T0 / 1000) % BW_BUDGET_SECONDS] = UINT32_MAX - 1;
    b.unlocked_firsts = UINT32_MAX - 1;
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0));
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0));
    CU_ASSERT_EQUAL(b.unlocked_firsts, UINT32_MAX);
    bw_budget_window(&b, T0, &f, &r);
    CU_ASSERT_EQUAL(f, UINT32_MAX);
    b.total_firsts = UINT64_MAX - 5;
    bw_budget_note_first(&b, T0 + 1000);
    CU_ASSERT_EQUAL(b.total_firsts, UINT64_MAX);
    bw_budget_window(&b, T0 + 1000, &f, &r);
    CU_ASSERT_EQUAL(f, (uint64_t)UINT32_MAX + 1);

    b = fresh();
    bw_budget_note_first(&b, T0);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0));
    bw_budget_clear_window(&b);
    CU_ASSERT_EQUAL(b.total_firsts, 2);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 1));   /* after the clearing */
    bw_budget_note_first(&b, T0 + 1000);                         /* folds it */
    bw_budget_window(&b, T0 + 1000, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
    CU_ASSERT_EQUAL(b.total_firsts, 4);
    CU_ASSERT_TRUE(bw_budget_note_first_unlocked(&b, T0 + 1001));
    bw_budget_note_first(&b, T0 - 3600000);                      /* a jump back */
    bw_budget_window(&b, T0 - 3600000, &f, &r);
    CU_ASSERT_EQUAL(f, 1);
    CU_ASSERT_EQUAL(b.total_firsts, 6);
}

/*
 * Threads counting first attempts as the shim does (a failover's unlocked,
 * else under a mutex standing for the entry's lock; a direct connect's
 * always under it, with its bulkhead slot), one asking for retries under it,
 * while the time moves on. Through 6 seconds whose buckets hold counts 20 s
 * old, every attempt must be in the window at the end (none lost, no old
 * count kept); through thousands of seconds (a fold each), in the total.
 */
#define RACE_THREADS 4
#define RACE_NOTES 1000000
#define RACE_OLD 1000u      /* per bucket, 20 s before: must all be gone */

struct race {
    bw_budget b;
    pthread_mutex_t lock;
    pthread_barrier_t go;   /* every thread starts at once */
    uint64_t ticks;         /* atomic: notes handed out so far, the clock */
    uint64_t seconds;       /* the clock's span */
    uint64_t unlocked;      /* atomic: notes counted without the lock */
};

static int64_t race_now(const struct race *x, uint64_t tick)
{
    return T0 + (int64_t)(tick * x->seconds * 1000 / RACE_NOTES);
}

struct noter {
    struct race *x;
    bool locked;            /* always under the lock */
};

static void *race_noter(void *arg)
{
    const struct noter *n = arg;
    struct race *x = n->x;
    pthread_barrier_wait(&x->go);
    for (;;) {
        uint64_t t = __atomic_fetch_add(&x->ticks, 1, __ATOMIC_RELAXED);
        if (t >= RACE_NOTES)
            return NULL;
        if (!n->locked && bw_budget_note_first_unlocked(&x->b, race_now(x, t))) {
            __atomic_fetch_add(&x->unlocked, 1, __ATOMIC_RELAXED);
            continue;
        }
        pthread_mutex_lock(&x->lock);
        bw_budget_note_first(&x->b, race_now(x, t));
        pthread_mutex_unlock(&x->lock);
    }
}

static void *race_retrier(void *arg)
{
    struct race *x = arg;
    pthread_barrier_wait(&x->go);
    for (;;) {
        uint64_t t = __atomic_load_n(&x->ticks, __ATOMIC_RELAXED);
        if (t >= RACE_NOTES)
            return NULL;
        pthread_mutex_lock(&x->lock);
        bw_budget_try_retry(&x->b, 20, 0, race_now(x, t));
        pthread_mutex_unlock(&x->lock);
    }
}

/* One race through the given span; returns what the window counts at its end. */
static uint64_t race(struct race *x, uint64_t seconds)
{
    pthread_t t[RACE_THREADS + 1];
    struct noter n[RACE_THREADS];
    uint64_t f, r;

    bw_budget_init(&x->b);
    pthread_mutex_init(&x->lock, NULL);
    pthread_barrier_init(&x->go, NULL, RACE_THREADS + 1);
    x->ticks = x->unlocked = 0;
    x->seconds = seconds;
    for (int s = 0; s < BW_BUDGET_SECONDS; s++)
        for (unsigned k = 0; k < RACE_OLD; k++)
            bw_budget_note_first(&x->b, T0 - 20000 + s * 1000);
    for (int k = 0; k < RACE_THREADS; k++) {
        n[k] = (struct noter){x, k % 2 == 1};
        CU_ASSERT_FATAL(pthread_create(&t[k], NULL, race_noter, &n[k]) == 0);
    }
    CU_ASSERT_FATAL(pthread_create(&t[RACE_THREADS], NULL, race_retrier, x) == 0);
    for (int k = 0; k <= RACE_THREADS; k++)
        pthread_join(t[k], NULL);
    bw_budget_window(&x->b, race_now(x, RACE_NOTES), &f, &r);
    CU_ASSERT_EQUAL(x->b.total_firsts + x->b.unlocked_firsts,
                    RACE_NOTES + (uint64_t)BW_BUDGET_SECONDS * RACE_OLD);
    CU_ASSERT(x->unlocked > RACE_NOTES / 4);   /* the path under test was taken */
    pthread_mutex_destroy(&x->lock);
    pthread_barrier_destroy(&x->go);
    return f;
}

static void test_unlocked_races_locked(void)
{
    static struct race x;
    CU_ASSERT_EQUAL(race(&x, 6), RACE_NOTES);
    race(&x, 5000);
}

static const bw_test_case rule_cases[] = {
    {"percent of first attempts", test_percent_rule},
    {"percent share rounds down", test_percent_rounds_down},
    {"minimum rate allowance", test_min_rate_rule},
    {"the larger allowance wins", test_min_rate_is_the_larger},
    {"percent 0 is unlimited", test_percent_zero_unlimited},
    {NULL, NULL},
};

/* floor(ms / 1000), also below zero. */
static int64_t second_of(int64_t ms)
{
    return ms / 1000 - (ms % 1000 < 0);
}

/* A forward walk from start, one first attempt per step, over steps that
 * stay in a second, end on its last or first millisecond and skip seconds:
 * the window always holds exactly the attempts of its last 10 seconds
 * (advance's same-second shortcut against the model). */
static void latest_second_walk(int64_t start)
{
    static const int64_t steps[] = {0, 1, 998, 1, 1, 999, 0, 1000, 1, 2500, 7, 9000, 1,
                                    999, 10000, 1, 3600000, 1, 1};
    enum { N = sizeof steps / sizeof steps[0] };
    int64_t seen[3 * N];
    unsigned n = 0;
    bw_budget b = fresh();
    int64_t now = start;
    for (unsigned round = 0; round < 3; round++)
        for (unsigned k = 0; k < N; k++) {
            now += steps[k];
            bw_budget_note_first(&b, now);
            seen[n++] = second_of(now);
            uint64_t f, r, want = 0;
            bw_budget_window(&b, now, &f, &r);
            for (unsigned j = 0; j < n; j++)
                want += seen[j] > second_of(now) - BW_BUDGET_SECONDS;
            CU_ASSERT_EQUAL(f, want);
            CU_ASSERT_EQUAL(r, 0);
        }
    CU_ASSERT_EQUAL(b.total_firsts, n);
}

static void test_latest_second_walk(void)
{
    latest_second_walk(T0);
    latest_second_walk(-5500);
    latest_second_walk(INT64_MIN + 100000000);
    latest_second_walk(INT64_MAX - 100000000);
    /* A window cleared within the latest second: its bucket is made anew. */
    bw_budget b = fresh();
    uint64_t f, r;
    firsts(&b, 3, T0 + 10);
    bw_budget_clear_window(&b);
    firsts(&b, 2, T0 + 20);
    bw_budget_window(&b, T0 + 20, &f, &r);
    CU_ASSERT_EQUAL(f, 2);
}

static const bw_test_case clock_cases[] = {
    {"buckets expire after 10 s", test_window_expiry},
    {"reused bucket is reset", test_bucket_reuse},
    {"equal timestamps", test_equal_timestamps},
    {"jump forward by hours", test_jump_forward_hours},
    {"small step back counts in latest second", test_small_step_back_is_kept},
    {"jump back by hours starts afresh", test_jump_back_hours},
    {"negative times floor correctly", test_negative_times},
    {"a forward walk keeps exactly the last 10 s", test_latest_second_walk},
    {NULL, NULL},
};

static const bw_test_case state_cases[] = {
    {"all zeroes is an empty budget", test_zeroed_is_valid},
    {"clear window keeps totals", test_clear_window_keeps_totals},
    {"arbitrary contents are safe", test_arbitrary_contents},
    {NULL, NULL},
};

static const bw_test_case unlocked_cases[] = {
    {"unlocked: the latest second only", test_unlocked_current_second},
    {"unlocked: saturates, cleared window", test_unlocked_saturates_and_clears},
    {"unlocked races locked writers", test_unlocked_races_locked},
    {NULL, NULL},
};

BW_TEST_MAIN({"budget_rule", rule_cases}, {"budget_clock", clock_cases},
             {"budget_state", state_cases}, {"budget_unlocked", unlocked_cases})
