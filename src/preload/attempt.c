/*
 * attempt.c - one connect attempt on the program's own socket, with a time
 * limit, and the pieces around it: resetting a socket for the next attempt
 * and sleeping a backoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "attempt.h"
#include "shim.h"

int bw_own_send_timeout_ms(int fd)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    int saved = errno;
    int rc = bw_real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
    errno = saved;
    if (rc != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
        return 0;
    int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Waits for a connect in progress on fd; returns its errno (0 = connected),
 * ETIMEDOUT when limit_ms (> 0) passed, or EINTR. */
static int wait_connected(int fd, int limit_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, limit_ms > 0 ? limit_ms : -1);
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

int bw_attempt(int fd, const struct sockaddr *sa, socklen_t len, bool nonblocking,
               int limit_ms, bool *in_progress)
{
    *in_progress = false;
    if (!nonblocking && limit_ms <= 0) {
        int err = bw_real.connect(fd, sa, len) == 0 ? 0 : errno;
        *in_progress = err == EINTR;   /* an interrupted blocking connect goes on */
        return err;
    }

    int flags = bw_real.fcntl(fd, F_GETFL);
    bool switched = false;
    if (!nonblocking && flags >= 0 && bw_real.fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)
        switched = true;
    int err = bw_real.connect(fd, sa, len) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
        err = wait_connected(fd, limit_ms);
        if (err == EINTR)
            *in_progress = true;         /* the kernel goes on connecting */
        else if (err == ETIMEDOUT)
            bw_abandon(fd);
    }
    if (switched)
        bw_real.fcntl(fd, F_SETFL, flags);
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
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    /* A signal ends the sleep: connect() reports EINTR as it would itself. */
    int rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}
