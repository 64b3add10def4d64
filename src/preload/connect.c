/*
 * connect.c - the connect() hook: decides whether a connection is tracked,
 * finds its destination, and runs it through bulkhead, breaker and retries.
 *
 * Retries reuse the program's own socket (SPEC §6): after a failed attempt
 * the association is dissolved with connect(AF_UNSPEC) and the same socket
 * connects again, so its options, flags and epoll registrations stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "attempt.h"
#include "bw_budget.h"
#include "bw_hostcache.h"
#include "bw_log.h"
#include "bw_match.h"
#include "bw_retry.h"
#include "guard.h"
#include "record.h"
#include "shim.h"

/* True for a TCP (SOCK_STREAM) socket; errno preserved. Sockets made by
 * socket() are known; others (inherited, passed over a UNIX socket) are asked. */
static bool is_stream(int fd)
{
    if (bw_tcp_known(fd))
        return true;
    int type = 0;
    socklen_t len = sizeof type;
    int saved = errno;
    bool ok = bw_real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
              type == SOCK_STREAM;
    errno = saved;
    return ok;
}

static bool is_inet(const struct sockaddr *sa, socklen_t len)
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET)
        return len >= sizeof(struct sockaddr_in);
    if (sa->sa_family == AF_INET6)
        return len >= sizeof(struct sockaddr_in6);
    return false;
}

/* Finds the destination for sa; *policy gets its policy. Returns the index or -1. */
static long find_dest(const bw_config *cfg, const struct sockaddr *sa, const bw_policy **policy)
{
    char host[BW_HOSTCACHE_NAMELEN];
    bool named = bw_hostcache_get(sa, host, sizeof host);
    long d = cfg->match ? bw_match_lookup(cfg->match, named ? host : NULL, sa) : -1;
    *policy = d >= 0 ? &cfg->dests[d].policy : &cfg->defaults;
    if (bw_log_enabled(BW_LOG_DEBUG)) {
        char addr[64];
        bw_format_addr(sa, addr, sizeof addr);
        bw_log(BW_LOG_DEBUG, "connect %s%s%s -> %s", addr, named ? " host " : "",
               named ? host : "", d >= 0 ? cfg->dests[d].name : "default");
    }
    return d;
}

/* Points c at its state entries (all NULL when there is no usable state). */
static void attach_state(bw_conn *c, const bw_config *cfg)
{
    bw_state *st = bw_shim_state(cfg);
    if (!st)
        return;
    const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
    c->entry = bw_state_find(st, BW_ENTRY_ADDRESS, c->dest_name, sa, true);
    c->dest_entry = bw_state_find(st, BW_ENTRY_DESTINATION, c->dest_name, NULL, true);
    bool by_dest = c->policy->breaker_scope == BW_SCOPE_DESTINATION;
    c->breaker_entry = by_dest ? c->dest_entry : c->entry;
    c->bulkhead_entry = c->policy->bulkhead_scope == BW_SCOPE_DESTINATION ? c->dest_entry : c->entry;
}

/* Makes a record for a new connection of fd and installs it. NULL: leave fd untracked. */
static bw_conn *track(int fd, const bw_config *cfg, long dest, const bw_policy *policy,
                      const struct sockaddr *sa, socklen_t len)
{
    bw_conn *c = bw_conn_new();
    if (!c)
        return NULL;   /* out of memory: the program still works, untracked */
    c->policy = policy;
    c->dest_name = dest >= 0 ? cfg->dests[dest].name : "default";
    memcpy(&c->addr, sa, len < sizeof c->addr ? len : sizeof c->addr);
    c->started_ms = bw_now_ms();
    c->watch_responses = !bw_status_set_empty(&policy->breaker_http_status);
    c->watch_requests = policy->idempotency || c->watch_responses;
    bw_http_req_cfg_from_policy(&c->req_cfg, policy);
    attach_state(c, cfg);
    bw_conn *old = bw_fdt_set(fd, c);
    if (old == c) {           /* descriptor beyond the table */
        bw_conn_unref(c);
        return NULL;
    }
    if (old)
        bw_conn_unref(old);
    return c;
}

/* Fails connect() on purpose: counted, slot given back. */
static int reject(bw_conn *c, enum bw_counter why, int err)
{
    bw_count(c->entry, BW_CNT_CONNECTS, 1);
    bw_count(c->entry, why, 1);
    bw_conn_release_slot(c);
    atomic_store(&c->state, BW_CONN_FAILED);
    errno = err;
    return -1;
}

/* Reports one attempt's outcome to the breaker. With breaker_http_status
 * set, responses are the calls: a good connect is not one of its own (a
 * probe's outcome then comes from its first response). */
static void record_attempt(bw_conn *c, int err, int64_t began_ms)
{
    if (!err && !bw_status_set_empty(&c->policy->breaker_http_status))
        return;
    bw_guard_breaker_record(c, err == 0, (uint32_t)(bw_now_ms() - began_ms));
}

/* The connect is over: count it, and give back the slot of a failure. */
static void finish(bw_conn *c, int err)
{
    atomic_store(&c->outcome_pending, false);
    bw_count(c->entry, err ? BW_CNT_FAILURES : BW_CNT_SUCCESSES, 1);
    bw_record_connect_time(c);
    atomic_store(&c->state, err ? BW_CONN_FAILED : BW_CONN_CONNECTED);
    if (err)
        bw_conn_release_slot(c);
}

void bw_conn_outcome(bw_conn *c, int err)
{
    if (!atomic_exchange(&c->outcome_pending, false))
        return;   /* already learned, maybe by another thread */
    record_attempt(c, err, c->started_ms);
    finish(c, err);
}

static void note_first_attempt(bw_conn *c)
{
    c->connect_began_us = bw_now_us();
    bw_count(c->entry, BW_CNT_CONNECTS, 1);
    if (c->dest_entry && bw_entry_lock(c->dest_entry) == 0) {
        bw_budget_note_first(&c->dest_entry->budget, bw_now_ms());
        bw_entry_unlock(c->dest_entry);
    }
}

/* Non-blocking connect left to the program (native mode): no waiting, no retry. */
static int connect_native(int fd, bw_conn *c, const struct sockaddr *sa, socklen_t len)
{
    int err = bw_guard_bulkhead_take(c, false);
    if (err)
        return reject(c, BW_CNT_REJECTED_BULKHEAD, err);
    if ((err = bw_guard_breaker_admit(c, false)) != 0)
        return reject(c, BW_CNT_REJECTED_BREAKER, err);
    note_first_attempt(c);
    c->started_ms = bw_now_ms();
    c->outcome_pending = true;
    int ret = bw_real.connect(fd, sa, len);
    err = ret == 0 ? 0 : errno;
    if (err == EINPROGRESS)
        atomic_store(&c->state, BW_CONN_CONNECTING);
    else
        bw_conn_outcome(c, err);
    errno = err;
    return ret;
}

/* Asks the destination's retry budget for one retry. */
static bool budget_allows(bw_conn *c)
{
    const bw_policy *p = c->policy;
    if (!c->dest_entry || bw_entry_lock(c->dest_entry) != 0)
        return true;
    bool ok = bw_budget_try_retry(&c->dest_entry->budget, p->retry_budget_percent,
                                  p->retry_budget_min_per_sec, bw_now_ms());
    bw_entry_unlock(c->dest_entry);
    return ok;
}

/*
 * Decides whether failed attempt n is retried, and sleeps the backoff if so.
 * Returns 0 to retry, or the errno connect() ends with.
 */
static int before_retry(bw_conn *c, unsigned n, int err, bw_retry_plan *plan)
{
    const bw_policy *p = c->policy;
    if (!bw_retry_wanted(p, n, err))
        return err;
    if (!budget_allows(c)) {
        bw_count(c->entry, BW_CNT_RETRIES_DENIED, 1);
        return err;
    }
    int64_t delay = bw_retry_delay(plan, p, n, bw_now_ms(), bw_rand64());
    if (delay < 0)
        return err;   /* no time left for another attempt */
    if (bw_sleep_ms((uint32_t)delay) != 0)
        return EINTR;
    if (bw_guard_breaker_admit(c, true) != 0)
        return err;   /* the breaker opened meanwhile: stop retrying */
    bw_count(c->entry, BW_CNT_RETRIES, 1);
    return 0;
}

/*
 * Blocking connects, and non-blocking ones in wait mode: attempts with a
 * time limit each, retries with backoff within the deadline and the budget.
 */
static int connect_managed(int fd, bw_conn *c, const struct sockaddr *sa, socklen_t len,
                           bool nonblocking)
{
    bw_retry_plan plan;
    int64_t t0 = bw_now_ms();
    int err = bw_guard_bulkhead_take(c, true);
    if (err)
        return reject(c, BW_CNT_REJECTED_BULKHEAD, err);
    if ((err = bw_guard_breaker_admit(c, false)) != 0)
        return reject(c, BW_CNT_REJECTED_BREAKER, err);
    note_first_attempt(c);
    /* The program's own limit applies to blocking connects only, as in the kernel. */
    struct timeval own = {0, 0};
    bw_retry_plan_init(&plan, c->policy, t0, nonblocking ? 0 : bw_own_send_timeout(fd, &own));
    for (unsigned n = 0;; n++) {
        int64_t began = bw_now_ms();
        bool own_binds, in_progress;
        int64_t limit = bw_retry_attempt_limit(&plan, c->policy, began, &own_binds);
        c->started_ms = began;
        c->outcome_pending = true;
        err = bw_attempt(fd, sa, len, nonblocking, (int)limit, &own, &in_progress);
        if (err == EINTR && in_progress) {
            atomic_store(&c->state, BW_CONN_CONNECTING);   /* outcome learned later */
            errno = EINTR;
            return -1;
        }
        if (err == ETIMEDOUT && own_binds) {
            /* The program's own SO_SNDTIMEO ran out: report it as the kernel does. */
            bw_conn_outcome(c, err);
            errno = EINPROGRESS;
            return -1;
        }
        record_attempt(c, err, began);
        int failed = err;
        if (err == 0 || (err = before_retry(c, n, err, &plan)) != 0)
            break;
        if (failed != ETIMEDOUT)
            bw_abandon(fd);   /* a timed-out attempt was abandoned already */
    }
    finish(c, err);
    if (err == 0)
        return 0;
    errno = err;
    return -1;
}

/* connect() again on a socket whose non-blocking connect is in progress: the
 * program polls for completion. Pass through and learn the outcome. */
static int connect_again(int fd, bw_conn *c, const struct sockaddr *sa, socklen_t len)
{
    int ret = bw_real.connect(fd, sa, len);
    int err = ret == 0 ? 0 : errno;
    if (err == 0 || err == EISCONN)
        bw_conn_outcome(c, 0);
    else if (err != EALREADY && err != EINPROGRESS && err != EINTR)
        bw_conn_outcome(c, err);
    errno = err;
    return ret;
}

int bw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    bw_shim_init();
    if (atomic_load_explicit(&bw_disabled, memory_order_relaxed))
        return bw_real.connect(fd, sa, len);
    if (!is_inet(sa, len)) {
        int ret = bw_real.connect(fd, sa, len);
        if (ret == 0 && sa && sa->sa_family == AF_UNSPEC)
            bw_forget_fd(fd);   /* association dissolved: no longer a connection */
        return ret;
    }
    bw_conn *prev = bw_fdt_get(fd);
    if (prev && atomic_load(&prev->state) == BW_CONN_CONNECTING)
        return connect_again(fd, prev, sa, len);
    if (prev && atomic_load(&prev->state) == BW_CONN_CONNECTED)
        return bw_real.connect(fd, sa, len);   /* EISCONN: the connection stays as it is */
    const bw_config *cfg = bw_shim_config();
    if (!cfg || !is_stream(fd))
        return bw_real.connect(fd, sa, len);

    const bw_policy *policy;
    long dest = find_dest(cfg, sa, &policy);
    bw_conn *c = policy->enabled ? track(fd, cfg, dest, policy, sa, len) : NULL;
    if (!c) {
        bw_forget_fd(fd);
        return bw_real.connect(fd, sa, len);
    }
    int saved = errno;
    int flags = bw_real.fcntl(fd, F_GETFL);
    bool nonblocking = flags >= 0 && (flags & O_NONBLOCK);
    enum bw_nonblocking mode = policy->nonblocking;
    if (mode == BW_NB_AUTO)
        mode = bw_epoll_is_open() ? BW_NB_NATIVE : BW_NB_WAIT;
    errno = saved;
    if (nonblocking && mode == BW_NB_NATIVE)
        return connect_native(fd, c, sa, len);
    int ret = connect_managed(fd, c, sa, len, nonblocking);
    if (ret == 0)
        errno = saved;   /* errno is unchanged on success */
    return ret;
}

BW_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    return bw_connect(fd, sa, len);
}
