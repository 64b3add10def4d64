/*
 * bw_test.h - the small frame every CUnit test program shares.
 *
 * A test file defines its suites with BW_SUITE/BW_TEST tables and ends with
 * BW_TEST_MAIN(...). The program runs every test in CUnit's basic mode and
 * prints one closing line "N passed, N failed"; its exit status is 0 only
 * when nothing failed.
 */
#ifndef BW_TEST_H
#define BW_TEST_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct bw_test_case {
    const char *name;
    void (*fn)(void);
} bw_test_case;

typedef struct bw_test_suite {
    const char *name;
    const bw_test_case *cases;   /* ends with {NULL, NULL} */
} bw_test_suite;

static inline int bw_test_run(const char *prog, const bw_test_suite *suites)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (const bw_test_suite *s = suites; s->name; s++) {
        CU_pSuite cs = CU_add_suite(s->name, NULL, NULL);
        if (!cs)
            return 2;
        for (const bw_test_case *c = s->cases; c->name; c++)
            if (!CU_add_test(cs, c->name, c->fn))
                return 2;
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    printf("%s: %u passed, %u failed\n", prog, run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#define BW_TEST_MAIN(...)                                                    \
    int main(int argc, char **argv)                                          \
    {                                                                        \
        (void)argc;                                                          \
        static const bw_test_suite suites_[] = {__VA_ARGS__, {NULL, NULL}};  \
        return bw_test_run(argv[0], suites_);                                \
    }

#endif
