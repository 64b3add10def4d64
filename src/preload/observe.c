/* observe.c - learning from I/O results on tracked connections (see observe.h). */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"
#include "observe.h"

static bool is_io_failure(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
}

/* Learns nothing on a thread that may not enter the shim now (a signal
 * handler interrupting it, a vfork child): the locks may be its own. */
void bw_observe_result(bw_conn *c, ssize_t r, int err)
{
    bw_tls_note(c);
    if (bw_enter()) {
        bw_observe_inside(c, r, err);
        bw_leave();
    }
    errno = err;
}

ssize_t bw_observe_failure(bw_conn *c, ssize_t r)
{
    bw_observe_result(c, r, errno);
    return r;
}

void bw_observe_inside(bw_conn *c, ssize_t r, int err)
{
    bw_tls_note(c);   /* a TLS call in progress on this thread wrote or read here */
    if (r >= 0) {
        if (atomic_load_explicit(&c->outcome_pending, memory_order_relaxed))
            bw_conn_outcome(c, 0);
    } else if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS) {
        /* nothing learned */
    } else if (atomic_load_explicit(&c->outcome_pending, memory_order_relaxed)) {
        bw_conn_outcome(c, err);
    } else if (is_io_failure(err) && c->policy->breaker_io_errors &&
               !atomic_exchange(&c->io_failure_recorded, true)) {
        bw_guard_breaker_record(c, false, 0);
    }
    errno = err;
}

/* Counts one response and reports it to the breaker when statuses are judged.
 * A 429 (the server throttles this client) is also counted on its own. */
static void note_status(bw_conn *c, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        bw_count(c->entry, BW_CNT_HTTP_1XX + (cls - 1), 1);
    if (status == 429)
        bw_count(c->entry, BW_CNT_RATE_LIMITED, 1);
    if (cls == 1)
        return;
    bw_guard_breaker_record(c, !bw_status_set_has(&c->policy->breaker_http_status, status), 0);
}

/* A 429 or 503 said when to come back: the breaker stays open that long
 * (capped by retry_after_max_ms). The date form needs the wall clock. */
static void note_retry_after(bw_conn *c, const char *v, size_t n)
{
    const bw_policy *p = c->policy;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t secs = bw_http_retry_after_secs(v, n, now.tv_sec);
    if (secs < 0 || !p->retry_after)
        return;
    int64_t ms = secs * 1000;
    if (ms > p->retry_after_max_ms)
        ms = p->retry_after_max_ms;
    if (ms > 0)
        bw_guard_breaker_open_for(c, (uint32_t)ms);
}

/* Feeds received bytes to the response reader of c (its HTTP part h);
 * statuses are handled after the lock. */
static void feed_responses(bw_conn *c, bw_conn_http *h, const struct iovec *iov, int n,
                           size_t got)
{
    int statuses[16];
    int found = 0;
    char ra[BW_HTTP_RA_MAX];
    size_t ra_len;
    pthread_mutex_lock(&h->rlock);
    for (int i = 0; i < n && got > 0 && !bw_http_resp_blind(&h->resp); i++) {
        size_t len = iov[i].iov_len < got ? iov[i].iov_len : got;
        const uint8_t *p = iov[i].iov_base;
        got -= len;
        while (len > 0) {
            int status = 0;
            size_t adv = bw_http_resp_step(&h->resp, p, len, &status);
            if (status && found < (int)(sizeof statuses / sizeof statuses[0]))
                statuses[found++] = status;
            if (adv == 0 && !status)
                break;
            p += adv;
            len -= adv;
        }
    }
    ra_len = bw_http_resp_take_retry_after(&h->resp, ra, sizeof ra);
    pthread_mutex_unlock(&h->rlock);
    for (int i = 0; i < found; i++)
        note_status(c, statuses[i]);
    if (ra_len)
        note_retry_after(c, ra, ra_len);   /* after the status, whose failure it overrides */
}

ssize_t bw_observe_read(bw_conn *c, ssize_t r, int err, const struct iovec *iov, int n,
                        int flags)
{
    if (!bw_enter()) {
        errno = err;
        return r;
    }
    bw_observe_inside(c, r, err);
    bw_conn_http *h;
    if (r > 0 && iov && c->watch_responses && !(flags & MSG_PEEK) && (h = bw_conn_http_of(c)))
        feed_responses(c, h, iov, n, (size_t)r);
    bw_leave();
    errno = err;
    return r;
}

void bw_observe_plaintext(bw_conn *c, const void *buf, size_t n)
{
    bw_conn_http *h = bw_conn_http_of(c);
    if (!h || !h->tls_watch_responses)
        return;
    int saved = errno;
    struct iovec v = {(void *)buf, n};
    feed_responses(c, h, &v, 1, n);
    errno = saved;
}

void bw_observe_so_error(bw_conn *c, int fd, int val)
{
    if (!atomic_load_explicit(&c->outcome_pending, memory_order_relaxed) || !bw_enter())
        return;
    int saved = errno;
    if (val != 0) {
        bw_conn_outcome(c, val);
    } else {
        /* 0 also while still connecting: connected only when there is a peer. */
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
            bw_conn_outcome(c, 0);
    }
    bw_leave();
    errno = saved;
}
