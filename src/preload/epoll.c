/*
 * epoll.c - whether the process has an epoll instance open, for
 * nonblocking = auto (an event loop wants EINPROGRESS back; a program
 * that polls one socket with a timeout wants the shim to retry for it).
 *
 * An instance counts while a descriptor of it is open, not from the moment
 * one was ever created: CPython's selectors module creates and closes an
 * epoll at import just to see that it works, and that must not turn every
 * Python program with socket timeouts into an event loop. Descriptors of
 * epoll instances are kept as bits (no allocation, no lock); close paths
 * clear them.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "shim.h"

static _Atomic uint64_t epoll_fds[BW_FDT_MAX / 64];
static atomic_int open_count;

void bw_epoll_mark(int fd)
{
    if ((unsigned)fd >= BW_FDT_MAX)
        return;
    uint64_t bit = 1ULL << (fd % 64);
    if (!(atomic_fetch_or(&epoll_fds[fd / 64], bit) & bit))
        atomic_fetch_add(&open_count, 1);
}

void bw_epoll_unmark(int fd)
{
    if ((unsigned)fd >= BW_FDT_MAX || atomic_load_explicit(&open_count, memory_order_relaxed) == 0)
        return;
    uint64_t bit = 1ULL << (fd % 64);
    if ((atomic_load_explicit(&epoll_fds[fd / 64], memory_order_relaxed) & bit) &&
        (atomic_fetch_and(&epoll_fds[fd / 64], ~bit) & bit))
        atomic_fetch_sub(&open_count, 1);
}

void bw_epoll_unmark_range(unsigned lo, unsigned hi)
{
    if (atomic_load_explicit(&open_count, memory_order_relaxed) == 0)
        return;
    if (hi >= BW_FDT_MAX)
        hi = BW_FDT_MAX - 1;
    for (unsigned fd = lo; fd <= hi; fd++) {
        if (fd % 64 == 0 && fd + 63 <= hi &&
            atomic_load_explicit(&epoll_fds[fd / 64], memory_order_relaxed) == 0) {
            fd += 63;   /* a whole empty word */
            continue;
        }
        bw_epoll_unmark((int)fd);
    }
}

bool bw_epoll_is_open(void)
{
    return atomic_load_explicit(&open_count, memory_order_relaxed) > 0;
}

bool bw_epoll_is_epoll(int fd)
{
    return (unsigned)fd < BW_FDT_MAX &&
           (atomic_load_explicit(&epoll_fds[fd / 64], memory_order_relaxed) >> (fd % 64)) & 1;
}
