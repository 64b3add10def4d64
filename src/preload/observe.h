/* observe.h - what the shim learns from the results of I/O on a tracked connection. */
#ifndef BW_OBSERVE_H
#define BW_OBSERVE_H

#include <errno.h>
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

/* A TLS library call in progress on this thread (tls_conn.c): the socket
 * hooks name the connection it moves bytes on, for libraries whose
 * transport is not a plain descriptor (curl's and libpq's BIOs). */
struct bw_tls_call {
    const void *obj;      /* SSL * or gnutls_session_t; NULL: none */
    bw_conn *seen;        /* the tracked connection it used */
    bool learning;        /* counted in bw_tls_learners */
};
extern __thread struct bw_tls_call bw_tls_cur __attribute__((tls_model("initial-exec")));
/* How many threads are in a TLS call that is still learning its connection
 * (bw_tls_conn found none): while there are none, the socket hooks' fast
 * path skips the note, one test of a global instead of a thread-local. */
extern atomic_int bw_tls_learners __attribute__((visibility("hidden")));

static inline void bw_tls_note(bw_conn *c)
{
    if (__builtin_expect(bw_tls_cur.obj != NULL, 0))
        bw_tls_cur.seen = c;
}
/* True when a call on c has nothing to look at but its result (mask:
 * BW_IO_SEND or BW_IO_RECV): c's io_flags clear and no TLS call learning.
 * Then a result r >= 0 teaches nothing; r < 0 goes to bw_observe_failure. */
static inline bool bw_io_quiet(bw_conn *c, uint64_t mask)
{
    return !bw_io_busy(c, mask) && !atomic_load_explicit(&bw_tls_learners, memory_order_relaxed);
}
/* bw_observe_result(c, r, errno) of a failed call; returns r. */
ssize_t bw_observe_failure(bw_conn *c, ssize_t r);
/* bw_observe_result for a caller already inside the shim (bw_enter). */
void bw_observe_inside(bw_conn *c, ssize_t r, int err);

/* The common case inline: a result that teaches nothing costs two tests. */
static inline ssize_t bw_observed(bw_conn *c, ssize_t r)
{
    bw_tls_note(c);
    if (__builtin_expect(r < 0 || atomic_load_explicit(&c->outcome_pending, memory_order_relaxed), 0))
        bw_observe_result(c, r, errno);
    return r;
}

/* bw_observe_result for a receive, plus the received bytes (the first r of
 * iov) to the HTTP response reader. Returns r, with errno = err. */
ssize_t bw_observe_read(bw_conn *c, ssize_t r, int err, const struct iovec *iov, int n,
                        int flags);

/* Plaintext received inside TLS on c (n > 0) to the HTTP response reader
 * when c's plaintext is watched. errno is kept. */
void bw_observe_plaintext(bw_conn *c, const void *buf, size_t n);

/* The program read SO_ERROR = val on c's socket fd. */
void bw_observe_so_error(bw_conn *c, int fd, int val);

#endif
