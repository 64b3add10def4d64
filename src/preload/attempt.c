/*
 * attempt.c - one connect attempt on the program's own socket, with a time
 * limit, and the pieces around it: resetting a socket for the next attempt
 * and sleeping a backoff.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "attempt.h"
#include "shim.h"

int bw_own_send_timeout_asked(int fd, struct timeval *tv)
{
    socklen_t len = sizeof *tv;
    int saved = errno;
    if (bw_real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, &len) != 0)
        *tv = (struct timeval){0, 0};
    errno = saved;
    int64_t ms = (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Waits for a connect in progress on fd; returns its errno (0 = connected),
 * ETIMEDOUT when limit_ms (> 0) passed, or EINTR. A signal whose handler
 * restarts calls (signals.c) does not end the wait, as it would not end the
 * kernel's own. */
static int wait_connected(int fd, int limit_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t end = bw_now_ms() + limit_ms;
    int n;
    for (;;) {
        int left = limit_ms > 0 ? (int)(end - bw_now_ms()) : -1;
        n = bw_real.poll(&p, 1, limit_ms > 0 && left < 0 ? 0 : left);
        if (n >= 0 || errno != EINTR || !bw_signals_restart())
            break;
    }
    if (n < 0)
        return errno;
    if (n == 0)
        return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (bw_real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    return err;
}

int bw_attempt_limited_rest(int fd, bw_conn *c, int err, bool set, int limit_ms,
                            const struct timeval *own, bool *in_progress)
{
    int64_t began = c->started_ms;   /* the caller's clock reading (bw_attempt) */
    *in_progress = false;
    if (set && (own->tv_sec || own->tv_usec))
        bw_real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, own, sizeof *own);
    if (err == EINTR && bw_signals_restart()) {
        int64_t left = limit_ms - (bw_now_ms() - began);
        err = wait_connected(fd, left > 0 ? (int)left : 1);
        if (err == ETIMEDOUT)
            bw_abandon(fd);
        if (err != EINTR)
            return err;
    }
    if (err == EINPROGRESS && set) {
        bw_abandon(fd);
        return ETIMEDOUT;
    }
    *in_progress = err == EINTR || err == EINPROGRESS;   /* the kernel goes on connecting */
    return err;
}

void bw_sndtimeo_give_back(bw_conn *c, int fd)
{
    /* A vfork child's descriptor of that number may be another file (its
     * parent put back every lent limit before the vfork, vfork.c). */
    if (bw_vfork_child ||
        !atomic_exchange_explicit(&c->sndtimeo_lent, false, memory_order_relaxed))
        return;   /* given back already, maybe by another thread */
    int saved = errno;
    struct timeval none = {0, 0};
    bw_real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    errno = saved;
}

/* Every process or program that may come to share a socket gets it after
 * this: a walk of the descriptor table, no system call unless one is lent. */
void bw_sndtimeo_settle_all(void)
{
    if (bw_vfork_child)
        return;   /* the parent's descriptors may not be this child's */
    for (int fd = bw_fdt_next(0, ~0U); fd >= 0; fd = bw_fdt_next((unsigned)fd + 1, ~0U)) {
        bw_conn *c = bw_fdt_get(fd);
        if (c)
            bw_sndtimeo_settle(c, fd);
    }
}

int bw_attempt_nonblocking(int fd, bw_conn *c, int limit_ms, bool *in_progress)
{
    *in_progress = false;
    int err = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
        err = wait_connected(fd, limit_ms);
        if (err == EINTR)
            *in_progress = true;         /* the kernel goes on connecting */
        else if (err == ETIMEDOUT)
            bw_abandon(fd);
    }
    return err;
}

void bw_abandon(int fd)
{
    /* connect(AF_UNSPEC) dissolves the association on Linux: the socket can connect again. */
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    int saved = errno;
    bw_real.connect(fd, &unspec, sizeof unspec);
    errno = saved;
}

int bw_sleep_ms(uint32_t ms)
{
    if (ms == 0)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    /* A signal ends the sleep and connect() reports EINTR, as it would
     * itself, unless every handler restarts calls: then the sleep goes on. */
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL)) == EINTR &&
           bw_signals_restart())
        ;
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}
