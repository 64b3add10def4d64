/* futex.c - waits on and wakes a 32-bit word shared between processes (see bw_sys.h). */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "bw_sys.h"

/* The non-private operations work for shared and private mappings alike,
 * as long as waiter and waker use the same kind: every user here does. */

void bw_sys_futex_wait(const uint32_t *word, uint32_t seen, int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    int saved = errno;
    bw_raw_syscall(SYS_futex, (long)word, FUTEX_WAIT, seen, (long)&ts, 0, 0);
    errno = saved;
}

void bw_sys_futex_wake_all(const uint32_t *word)
{
    int saved = errno;
    bw_raw_syscall(SYS_futex, (long)word, FUTEX_WAKE, INT_MAX, 0, 0, 0);
    errno = saved;
}
