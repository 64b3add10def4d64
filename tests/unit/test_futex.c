/* test_futex.c - the futex helper shared by the shim and the tool (bw_sys.h):
 * a wake ends a wait long before its limit, a changed word is not waited
 * on, and a wait with nobody to wake it ends at its limit. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "bw_sys.h"
#include "bw_test.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t word;
static atomic_int waiting;

static void *waiter(void *arg)
{
    int64_t *took = arg, t0 = now_ms();
    atomic_store(&waiting, 1);
    /* Woken spuriously or by the signal of another test: wait again. */
    while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0 && now_ms() - t0 < 20000)
        bw_sys_futex_wait(&word, 0, 20000);
    *took = now_ms() - t0;
    return NULL;
}

static void test_wake_ends_wait(void)
{
    pthread_t t;
    int64_t took = -1;
    word = 0;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, waiter, &took) == 0);
    while (!atomic_load(&waiting))
        usleep(1000);
    usleep(100 * 1000);   /* let it go to sleep in the kernel */
    __atomic_store_n(&word, 1, __ATOMIC_RELEASE);
    bw_sys_futex_wake_all(&word);
    pthread_join(t, NULL);
    /* Without the wake it would sleep its 20 s out. */
    CU_ASSERT(took >= 0 && took < 10000);
}

static void test_changed_word_and_limit(void)
{
    uint32_t w = 7;
    int64_t t0 = now_ms();
    bw_sys_futex_wait(&w, 6, 10000);   /* not 6: returns at once */
    CU_ASSERT(now_ms() - t0 < 5000);
    t0 = now_ms();
    bw_sys_futex_wait(&w, 7, 30);      /* nobody wakes it: ends at its limit */
    CU_ASSERT(now_ms() - t0 >= 25);
    errno = 1234;
    bw_sys_futex_wait(&w, 6, 10);
    CU_ASSERT_EQUAL(errno, 1234);      /* EAGAIN of the kernel not leaked */
}

static const bw_test_case cases[] = {
    {"a wake ends a wait", test_wake_ends_wait},
    {"changed word, limit, errno", test_changed_word_and_limit},
    {NULL, NULL},
};

BW_TEST_MAIN({"futex", cases})
