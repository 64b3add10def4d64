/* observe.h - what the shim learns from the results of I/O on a tracked connection. */
#ifndef BW_OBSERVE_H
#define BW_OBSERVE_H

#include <sys/types.h>
#include <sys/uio.h>

#include "shim.h"

/*
 * After a send or receive on c returned r (errno err): a connect still in
 * progress learns its outcome (data moved: connected; a hard error: failed),
 * and an established connection reports ECONNRESET, EPIPE or ETIMEDOUT to the
 * breaker once when breaker_io_errors is on. errno is left as err.
 */
void bw_observe_result(bw_conn *c, ssize_t r, int err);

/* bw_observe_result for a caller already inside the shim (bw_enter). */
void bw_observe_inside(bw_conn *c, ssize_t r, int err);

/* The common case inline: a result that teaches nothing costs two tests. */
static inline ssize_t bw_observed(bw_conn *c, ssize_t r)
{
    if (__builtin_expect(r < 0 || atomic_load_explicit(&c->outcome_pending, memory_order_relaxed), 0))
        bw_observe_result(c, r, errno);
    return r;
}

/* bw_observe_result for a receive, plus the received bytes (the first r of
 * iov) to the HTTP response reader. Returns r, with errno = err. */
ssize_t bw_observe_read(bw_conn *c, ssize_t r, int err, const struct iovec *iov, int n,
                        int flags);

/* The program read SO_ERROR = val on c's socket fd. */
void bw_observe_so_error(bw_conn *c, int fd, int val);

#endif
