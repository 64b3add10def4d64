/* test_retry.c - which failures are retried, attempt limits, the deadline. */
#include <errno.h>

#include "bw_retry.h"
#include "bw_test.h"

static bw_policy pol(void)
{
    bw_policy p;
    bw_policy_defaults(&p);
    p.jitter = BW_JITTER_NONE;
    return p;
}

static void test_wanted_by_errno_and_count(void)
{
    bw_policy p = pol();   /* retries 2, retry_on refused, unreachable, timeout */
    CU_ASSERT_TRUE(bw_retry_wanted(&p, 0, ECONNREFUSED));
    CU_ASSERT_TRUE(bw_retry_wanted(&p, 1, ENETUNREACH));
    CU_ASSERT_TRUE(bw_retry_wanted(&p, 1, EHOSTUNREACH));
    CU_ASSERT_TRUE(bw_retry_wanted(&p, 0, ETIMEDOUT));
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 2, ECONNREFUSED));   /* two retries made */
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, ECONNRESET));
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, EACCES));
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, EINTR));
    p.retry_on = BW_RETRY_REFUSED;
    CU_ASSERT_TRUE(bw_retry_wanted(&p, 0, ECONNREFUSED));
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, ETIMEDOUT));
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, EHOSTUNREACH));
    p.retries = 0;
    CU_ASSERT_FALSE(bw_retry_wanted(&p, 0, ECONNREFUSED));
}

static void test_attempt_limit(void)
{
    bw_policy p = pol();   /* connect_timeout_ms 5000, no deadline */
    bw_retry_plan rp;
    bool own;
    bw_retry_plan_init(&rp, &p, 1000, 0);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 1000, &own), 5000);
    CU_ASSERT_FALSE(own);
    p.connect_timeout_ms = 0;   /* none at all */
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 1000, &own), 0);
    /* A deadline: what is left of it, and 1 ms once it has passed. */
    p.connect_timeout_ms = 300;
    p.deadline_ms = 700;
    bw_retry_plan_init(&rp, &p, 1000, 0);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 1000, &own), 300);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 1500, &own), 200);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 1700, &own), 1);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 9000, &own), 1);
}

static void test_own_limit_wins_when_shorter(void)
{
    bw_policy p = pol();
    bw_retry_plan rp;
    bool own;
    p.connect_timeout_ms = 3000;
    bw_retry_plan_init(&rp, &p, 0, 400);   /* SO_SNDTIMEO 400 ms */
    CU_ASSERT_EQUAL(rp.deadline_ms, 400);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 0, &own), 400);
    CU_ASSERT_TRUE(own);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 150, &own), 250);
    CU_ASSERT_TRUE(own);
    /* A shorter connect timeout binds instead. */
    p.connect_timeout_ms = 100;
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 0, &own), 100);
    CU_ASSERT_FALSE(own);
    /* A shorter deadline_ms binds instead of the program's limit. */
    p.connect_timeout_ms = 3000;
    p.deadline_ms = 200;
    bw_retry_plan_init(&rp, &p, 0, 400);
    CU_ASSERT_EQUAL(bw_retry_attempt_limit(&rp, &p, 0, &own), 200);
    CU_ASSERT_FALSE(own);
}

static void test_delay_and_deadline(void)
{
    bw_policy p = pol();   /* none: 100, 200, 400 ... capped at 2000 */
    bw_retry_plan rp;
    bw_retry_plan_init(&rp, &p, 0, 0);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 0, 10, 0), 100);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 1, 10, 0), 200);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 5, 10, 0), 2000);
    CU_ASSERT_EQUAL(rp.prev_delay_ms, 2000);
    /* deadline 700: at 300 ms a 200 ms sleep fits (ends at 500), at 500 it does not. */
    p.deadline_ms = 700;
    bw_retry_plan_init(&rp, &p, 0, 0);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 1, 300, 0), 200);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 1, 500, 0), -1);
    CU_ASSERT_EQUAL(bw_retry_delay(&rp, &p, 1, 499, 0), 200);
}

static const bw_test_case cases[] = {
    {"which failures are retried", test_wanted_by_errno_and_count},
    {"attempt limit from timeout and deadline", test_attempt_limit},
    {"the program's own SO_SNDTIMEO", test_own_limit_wins_when_shorter},
    {"backoff within the deadline", test_delay_and_deadline},
    {NULL, NULL},
};

BW_TEST_MAIN({"retry", cases})
