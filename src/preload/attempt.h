/* attempt.h - a single connect attempt and its helpers (see attempt.c). */
#ifndef BW_ATTEMPT_H
#define BW_ATTEMPT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "shim.h"

/* bw_own_send_timeout for a socket that may have one: asks the kernel. */
int bw_own_send_timeout_asked(int fd, struct timeval *tv);

/* The program's own SO_SNDTIMEO: stored in *tv, returned in ms (0 when it
 * has none). errno preserved. */
static inline int bw_own_send_timeout(int fd, struct timeval *tv)
{
    *tv = (struct timeval){0, 0};
    if (!bw_sndtimeo_maybe(fd))
        return 0;   /* a socket we saw made, never given one */
    return bw_own_send_timeout_asked(fd, tv);
}

/*
 * Connects fd (c's socket) to c->addr once. A blocking socket makes the blocking
 * call, bounded by limit_ms (0 = no limit) through a temporary SO_SNDTIMEO
 * after which the program's own (*own) is put back, at once, or when its
 * own is none, lazily (c->sndtimeo_lent, shim.h); a non-blocking one waits
 * with poll, at most limit_ms, counted from c->started_ms (the caller
 * sets it to the attempt's start: no clock reading here). Returns 0 on
 * success or the errno of the failure: ETIMEDOUT when the limit passed (the
 * attempt is abandoned), EINTR on a signal (then *in_progress is true: the
 * kernel goes on connecting, as after an interrupted blocking connect).
 */
static inline int bw_attempt(int fd, bw_conn *c, bool nonblocking, int limit_ms,
                             const struct timeval *own, bool *in_progress);

/* bw_attempt of a non-blocking socket (wait mode): waits for the outcome
 * in poll, at most limit_ms (0: no limit). */
int bw_attempt_nonblocking(int fd, bw_conn *c, int limit_ms, bool *in_progress);

/* The rest of bw_attempt_limited once its connect returned err (0 where
 * the program's own limit must be put back), set: the limit went on the
 * socket. Puts the program's limit back, waits out a restarting signal,
 * abandons an expired attempt. */
int bw_attempt_limited_rest(int fd, bw_conn *c, int err, bool set, int limit_ms,
                            const struct timeval *own, bool *in_progress);

/*
 * bw_attempt of a blocking socket bounded by limit_ms (> 0), inline: the
 * usual attempt. The kernel's own SO_SNDTIMEO bounds it (three system
 * calls, where switching the socket to non-blocking and polling took six).
 * A value of the program's own is put back at once; where the program had
 * none (the common case) the shim's stays lent (c->sndtimeo_lent) until
 * something it affects comes (shim.h): most sockets are closed, or used for
 * non-blocking I/O, without ever needing the second setsockopt. On expiry
 * the kernel answers EINPROGRESS and goes on connecting: the attempt is
 * abandoned and reported as ETIMEDOUT. A bounded connect is never
 * restarted by the kernel after a signal; where every handler asks for
 * SA_RESTART, the shim waits out the rest of the limit itself. The success
 * of a socket with no limit of the program's ends here; everything else is
 * bw_attempt_limited_rest's.
 */
static inline int bw_attempt_limited(int fd, bw_conn *c, int limit_ms, const struct timeval *own,
                                     bool *in_progress)
{
    struct timeval tv = {limit_ms / 1000, (limit_ms % 1000) * 1000};
    bool own_none = !own->tv_sec && !own->tv_usec;
    bool set = bw_real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
    if (set && own_none)
        atomic_store_explicit(&c->sndtimeo_lent, true, memory_order_relaxed);
    int ret = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen);
    if (ret == 0 && (own_none || !set)) {
        *in_progress = false;
        return 0;
    }
    return bw_attempt_limited_rest(fd, c, ret == 0 ? 0 : errno, set, limit_ms, own, in_progress);
}

/* bw_attempt of a blocking socket with no limit (limit_ms 0), inline: the
 * plain connect of a policy with no timeout to bound. */
static inline int bw_attempt_unbounded(int fd, bw_conn *c, bool *in_progress)
{
    bw_sndtimeo_settle(c, fd);   /* an earlier attempt's limit must not bind this one */
    int err = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0 ? 0 : errno;
    *in_progress = err == EINTR;   /* an interrupted blocking connect goes on */
    return err;
}

/* Inline, so that the usual attempts (blocking, bounded or not) cost no call. */
static inline int bw_attempt(int fd, bw_conn *c, bool nonblocking, int limit_ms,
                             const struct timeval *own, bool *in_progress)
{
    if (nonblocking)
        return bw_attempt_nonblocking(fd, c, limit_ms, in_progress);
    if (limit_ms <= 0)
        return bw_attempt_unbounded(fd, c, in_progress);
    return bw_attempt_limited(fd, c, limit_ms, own, in_progress);
}

/* Dissolves fd's association so that it can connect again; errno preserved. */
void bw_abandon(int fd);

/* Sleeps ms; returns -1 with errno EINTR when a signal cut it short. */
int bw_sleep_ms(uint32_t ms);

#endif
