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
int bw_attempt(int fd, bw_conn *c, bool nonblocking, int limit_ms, const struct timeval *own,
               bool *in_progress);

/* bw_attempt of a blocking socket with no limit (limit_ms 0), inline: the
 * plain connect of a policy with no timeout to bound. */
static inline int bw_attempt_unbounded(int fd, bw_conn *c, bool *in_progress)
{
    bw_sndtimeo_settle(c, fd);   /* an earlier attempt's limit must not bind this one */
    int err = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0 ? 0 : errno;
    *in_progress = err == EINTR;   /* an interrupted blocking connect goes on */
    return err;
}

/* Dissolves fd's association so that it can connect again; errno preserved. */
void bw_abandon(int fd);

/* Sleeps ms; returns -1 with errno EINTR when a signal cut it short. */
int bw_sleep_ms(uint32_t ms);

#endif
