/* test_proc.c - process identity: the /proc/PID/stat parser and the raw reader. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bw_proc.h"
#include "bw_sys.h"
#include "bw_test.h"

static void test_parse(void)
{
    /* Field 22 (starttime) after a command name with spaces and parentheses. */
    const char *stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                       "987654 1000000 100 18446744073709551615";
    CU_ASSERT_EQUAL(bw_proc_parse_start_time(stat), 987654);
    CU_ASSERT_EQUAL(bw_proc_parse_start_time("1234 (x) S 1 2"), 0);   /* cut short */
    CU_ASSERT_EQUAL(bw_proc_parse_start_time("no parenthesis"), 0);
    CU_ASSERT_EQUAL(bw_proc_parse_start_time(""), 0);
}

static void test_self(void)
{
    int32_t me = bw_sys_getpid();
    CU_ASSERT_EQUAL(me, getpid());
    uint64_t start = bw_proc_start_time(me);
    CU_ASSERT(start > 0);
    CU_ASSERT(bw_proc_alive(me, start, NULL));
    CU_ASSERT(!bw_proc_alive(me, start + 1, NULL));   /* a recycled pid is another process */
    CU_ASSERT(!bw_proc_alive(0, 0, NULL));
    CU_ASSERT_EQUAL(bw_proc_start_time(-5), 0);
}

static void test_read_small(void)
{
    char buf[8];
    CU_ASSERT_EQUAL(bw_sys_read_small("/proc/self/stat", buf, sizeof buf), 7);
    CU_ASSERT_EQUAL(strlen(buf), 7);
    CU_ASSERT_EQUAL(bw_sys_read_small("/nonexistent/x", buf, sizeof buf), -1);
}

static const bw_test_case cases[] = {
    {"stat parser", test_parse},
    {"this process", test_self},
    {"small file reader", test_read_small},
    {NULL, NULL},
};

BW_TEST_MAIN({"proc", cases})
