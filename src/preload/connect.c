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
#include <pthread.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "attempt.h"
#include "bw_hostcache.h"
#include "bw_log.h"
#include "bw_match.h"
#include "bw_retry.h"
#include "bw_sys.h"
#include "connect.h"
#include "failover.h"
#include "guard.h"
#include "nonblock.h"
#include "record.h"
#include "pending.h"
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

/* A socket address as last_dest keys it: family, port and address bytes as
 * given (an IPv4-mapped IPv6 address is another key than its IPv4 one: it
 * only misses, and is matched as that IPv4 address, bw_match.h). */
typedef struct dest_key {
    uint64_t w[3];
} dest_key;

/* Fills *k from sa, an AF_INET or AF_INET6 address of its full size
 * (is_inet); false for another family. */
static inline bool dest_key_of(const struct sockaddr *sa, dest_key *k)
{
    if (sa->sa_family == AF_INET) {
        memcpy(&k->w[0], sa, 8);   /* sin_family, sin_port, sin_addr */
        k->w[1] = k->w[2] = 0;
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    uint32_t head;   /* sin6_family, sin6_port (sin6_flowinfo is not matched) */
    memcpy(&head, sa, sizeof head);
    k->w[0] = head;
    memcpy(&k->w[1], &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return true;
}

/*
 * This thread's last answer of find_dest: the destination of one address
 * under one config (its generation) while the host cache gave the same
 * names (its generation). A program connects to the same few addresses
 * again and again; matching anew costs the host cache's lock and the
 * index's hashing. Per thread, so it needs no lock: a signal handler on
 * this thread never gets here (bw_enter), and a fork child's thread keeps
 * a copy that stays true, since the config and the host cache come along.
 * The policy and name point into the config of cfg_gen, held by the caller
 * whenever they are used.
 */
static __thread struct {
    uint64_t cfg_gen;        /* 0: empty (publications count from 1) */
    unsigned host_gen;
    dest_key key;
    long dest;
    const bw_policy *policy;
    const char *name;
    /* The state entries of that address and destination (attach_state) in
     * the region st, whose table began at entries: entries are never
     * removed while their mapping lives. st NULL: not looked up yet. The
     * breaker's and the bulkhead's are two of them, per the policy's scopes. */
    bw_state *st;
    bw_entry *entries;
    bw_entry *entry, *dest_entry, *breaker_entry, *bulkhead_entry;
} last_dest BW_TLS;

/* What find_dest found for an address. */
typedef struct dest_found {
    long dest;                  /* index into cfg->dests, -1: the defaults */
    const bw_policy *policy;
    const char *name;           /* the section's name, "default" */
    bool cached;                /* last_dest describes the address (attach_state) */
} dest_found;

/* find_dest when last_dest does not answer: the host cache and the index.
 * key NULL: sa has no key (not cached). */
static __attribute__((noinline)) void find_dest_slow(const bw_config *cfg, uint64_t cfg_gen,
                                                     unsigned host_gen, const dest_key *key,
                                                     const struct sockaddr *sa, dest_found *f)
{
    char host[BW_HOSTCACHE_NAMELEN];
    bool named = bw_hostcache_get(sa, host, sizeof host);
    long d = cfg->match ? bw_match_lookup(cfg->match, named ? host : NULL, sa) : -1;
    f->dest = d;
    f->policy = d >= 0 ? &cfg->dests[d].policy : &cfg->defaults;
    f->name = d >= 0 ? cfg->dests[d].name : "default";
    f->cached = key != NULL;
    if (key) {
        last_dest.cfg_gen = cfg_gen;
        last_dest.host_gen = host_gen;
        last_dest.key = *key;
        last_dest.dest = d;
        last_dest.policy = f->policy;
        last_dest.name = f->name;
        last_dest.st = NULL;
    }
    if (bw_log_enabled(BW_LOG_DEBUG)) {
        char addr[64];
        bw_format_addr(sa, addr, sizeof addr);
        bw_log(BW_LOG_DEBUG, "connect %s%s%s -> %s", addr, named ? " host " : "",
               named ? host : "", f->name);
    }
}

/* Finds the destination of sa (is_inet) under cfg (held through ref) into
 * *f. debug: the log threshold is debug, whose line names the host: that
 * takes the full lookup. */
static inline void find_dest(const bw_config *cfg, const bw_cfg_ref *ref, const struct sockaddr *sa,
                             bool debug, dest_found *f)
{
    dest_key k;
    uint64_t cfg_gen = bw_cfg_generation(ref);
    unsigned host_gen = bw_hostcache_generation();
    bool keyed = dest_key_of(sa, &k);
    if (keyed && !debug && last_dest.cfg_gen == cfg_gen && last_dest.host_gen == host_gen &&
        ((last_dest.key.w[0] ^ k.w[0]) | (last_dest.key.w[1] ^ k.w[1]) |
         (last_dest.key.w[2] ^ k.w[2])) == 0) {
        f->dest = last_dest.dest;
        f->policy = last_dest.policy;
        f->name = last_dest.name;
        f->cached = true;
        return;
    }
    find_dest_slow(cfg, cfg_gen, host_gen, keyed ? &k : NULL, sa, f);
}

/* attach_state when last_dest has no entries for c: the state table. */
static __attribute__((noinline)) void attach_state_slow(bw_conn *c, bw_state *st, bool cached)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
    c->entry = bw_state_find(st, BW_ENTRY_ADDRESS, c->dest_name, sa, true);
    c->dest_entry = bw_state_find(st, BW_ENTRY_DESTINATION, c->dest_name, NULL, true);
    bool by_dest = c->policy->breaker_scope == BW_SCOPE_DESTINATION;
    c->breaker_entry = by_dest ? c->dest_entry : c->entry;
    c->bulkhead_entry = c->policy->bulkhead_scope == BW_SCOPE_DESTINATION ? c->dest_entry : c->entry;
    if (cached && c->entry && c->dest_entry) {   /* a full table: look again next time */
        last_dest.st = st;
        last_dest.entries = st->entries;
        last_dest.entry = c->entry;
        last_dest.dest_entry = c->dest_entry;
        last_dest.breaker_entry = c->breaker_entry;
        last_dest.bulkhead_entry = c->bulkhead_entry;
    }
}

/* Points c at its state entries (all NULL when there is no usable state);
 * cached: last_dest describes c's address and policy under cfg (find_dest). */
static inline void attach_state(bw_conn *c, const bw_config *cfg, bool cached)
{
    bw_state *st = bw_shim_state(cfg);
    if (!st)
        return;
    if (cached && last_dest.st == st && last_dest.entries == st->entries) {
        c->entry = last_dest.entry;
        c->dest_entry = last_dest.dest_entry;
        c->breaker_entry = last_dest.breaker_entry;
        c->bulkhead_entry = last_dest.bulkhead_entry;
    } else {
        attach_state_slow(c, st, cached);
    }
}

/* Makes a record for a new connection of fd to the destination f and
 * installs it. NULL: leave fd untracked. The caller's hold on cfg (ref)
 * stays the caller's (the record holds it on its own, bw_conn_new). now_us:
 * the monotonic clock read just now (bw_shim_config_hold_at), -1 when not
 * read. Inline: its frame cost more than most of its work. */
static inline __attribute__((always_inline)) bw_conn *
track(int fd, const bw_config *cfg, bw_cfg_ref *ref, const dest_found *f, const struct sockaddr *sa,
      socklen_t len, int64_t now_us)
{
    bw_conn *c = bw_conn_new(ref);
    if (!c)
        return NULL;   /* out of memory: the program still works, untracked */
    c->policy = f->policy;
    c->dest_name = f->name;
    c->addrlen = len < sizeof c->addr ? len : sizeof c->addr;
    if (c->addrlen == sizeof(struct sockaddr_in))   /* the usual size: a copy of two words */
        memcpy(&c->addr, sa, sizeof(struct sockaddr_in));
    else
        memcpy(&c->addr, sa, c->addrlen);   /* a `rep movsb`, a step per byte */
    int64_t us = now_us >= 0 ? now_us : bw_now_us();   /* us / 1000 is bw_now_ms */
    c->started_ms = us / 1000;
    c->connect_began_us = us;   /* admit() renews it when admission may have waited */
    bw_conn_watch_http(c, f->policy);
    attach_state(c, cfg, f->cached);
    bw_conn *old = bw_fdt_set(fd, c);
    if (old == c) {           /* descriptor beyond the table */
        bw_conn_unref(c);
        return NULL;
    }
    if (old)
        bw_conn_unref(old);
    return c;
}

/* The breaker's word on a first attempt; an open breaker sends the connect to
 * a healthy sibling address of the same name when failover allows. */
static int admit_first(bw_conn *c)
{
    /* Logged below, unless routed around. The breaker and the failover
     * decide at one time: the admission's (the connect's own clock reading
     * while it still holds), looked up when first needed. */
    int64_t now = BW_NOW_ADMISSION;
    int err = bw_guard_breaker_admit_at(c, true, &now);
    if (err && bw_failover(c, false, now))
        return 0;
    if (err)
        bw_guard_note_rejection(c);
    return err;
}

/* The breaker's word on a retry, which goes to the next healthy sibling
 * address when there is one (SPEC section 9), else to the same address. */
int bw_connect_admit_retry(bw_conn *c)
{
    if (bw_failover(c, true, BW_NOW_UNREAD))
        return 0;
    return bw_guard_breaker_admit(c, true);
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

/* With breaker_http_status set, responses are the calls: a good connect is
 * not one of its own (a probe's outcome then comes from its first response).
 * A success is final (bw_connect_finish follows at once in every caller):
 * its one clock reading dates both the breaker's record and the
 * connect-time histogram's entry (us / 1000 is bw_now_ms, the same clock). */
void bw_connect_record(bw_conn *c, int err, int64_t began_ms)
{
    if (!err && !bw_status_set_empty(&c->policy->breaker_http_status))
        return;
    if (err) {
        int64_t now = bw_now_ms();
        bw_guard_breaker_record_at(c, false, (uint32_t)(now - began_ms), now);
        return;
    }
    int64_t us = bw_now_us(), now = us / 1000;
    if (!bw_guard_breaker_success_quiet(c, (uint32_t)(now - began_ms)))
        bw_guard_breaker_record_at(c, true, (uint32_t)(now - began_ms), now);
    bw_record_connect_time_at(c, us);
}

void bw_connect_finish(bw_conn *c, int err)
{
    atomic_store(&c->outcome_pending, false);
    bw_count(c->entry, err ? BW_CNT_FAILURES : BW_CNT_SUCCESSES, 1);
    if (c->connect_began_us > 0)   /* 0: observed already (bw_connect_record) */
        bw_record_connect_time_at(c, bw_now_us());
    atomic_store(&c->state, err ? BW_CONN_FAILED : BW_CONN_CONNECTED);
    if (err)
        bw_conn_release_slot(c);
}

void bw_conn_outcome(bw_conn *c, int err)
{
    if (!atomic_exchange(&c->outcome_pending, false))
        return;   /* already learned, maybe by another thread */
    bw_connect_record(c, err, c->started_ms);
    bw_connect_finish(c, err);
}


static int64_t rate_wait_limit(const bw_policy *p, int64_t own_ms);

/*
 * Admits a connect's first attempt, the same way in every mode: a
 * connect_rate token, a bulkhead slot, then the breaker's word (or a
 * healthy sibling's: c->addr is then the sibling's). A blocking connect
 * (may_wait) may wait for the rate, up to its deadline, attempt limit or
 * the program's own SO_SNDTIMEO (own_ms), and for a slot. Returns 0 with
 * the first attempt counted, or -1 with errno set: the connect is rejected
 * (counted, slot given back), or a signal cut the wait for the rate (EINTR,
 * nothing attempted).
 */
static inline __attribute__((always_inline)) int admit(bw_conn *c, bool may_wait, int64_t own_ms)
{
    const bw_policy *p = c->policy;
    int err = 0;
    if (p->connect_rate) {   /* most policies have none: no call */
        err = bw_guard_rate_take(c, may_wait, may_wait ? rate_wait_limit(p, own_ms) : 0);
        if (err == EINTR) {
            atomic_store(&c->state, BW_CONN_FAILED);
            errno = EINTR;
            return -1;
        }
    }
    bool admitted = false;   /* breaker and budget asked with the slot (guard.h) */
    if (!err)
        err = bw_guard_bulkhead_take(c, may_wait, &admitted);
    if (err)
        return reject(c, BW_CNT_REJECTED_BULKHEAD, err);
    if (!admitted && (err = admit_first(c)) != 0)
        return reject(c, BW_CNT_REJECTED_BREAKER, err);
    if (bw_admission_may_wait(p))
        c->connect_began_us = bw_now_us();
    bw_count(c->entry, BW_CNT_CONNECTS, 1);
    if (!admitted)
        bw_guard_budget_note_first(c);
    return 0;
}

/* Non-blocking connect left to the program (native mode): no waiting, no retry. */
static int connect_native(int fd, bw_conn *c)
{
    if (admit(c, false, -1) != 0)
        return -1;
    c->started_ms = bw_now_ms();
    c->outcome_pending = true;
    int ret = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen);
    int err = ret == 0 ? 0 : errno;
    if (err == EINPROGRESS)
        atomic_store(&c->state, BW_CONN_CONNECTING);
    else
        bw_conn_outcome(c, err);
    errno = err;
    return ret;
}

/*
 * Non-blocking connect in auto mode: the first attempt is made here and
 * returned as the kernel gives it; a failure that gets a retry is reported
 * as EINPROGRESS and retried inside the program's waits (pending.c).
 */
static int connect_async(int fd, bw_conn *c)
{
    const bw_policy *p = c->policy;
    if (p->retries == 0 && p->connect_timeout_ms == 0 && p->deadline_ms == 0)
        return connect_native(fd, c);   /* nothing to retry or bound: the cheaper path */
    if (admit(c, false, -1) != 0)
        return -1;
    c->started_ms = bw_now_ms();
    if (bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0) {
        bw_connect_record(c, 0, c->started_ms);
        bw_connect_finish(c, 0);
        return 0;
    }
    return bw_pend_start(fd, c, errno);
}

int64_t bw_connect_retry_delay(bw_conn *c, unsigned n, int err, bw_retry_plan *plan)
{
    const bw_policy *p = c->policy;
    if (!bw_retry_wanted(p, n, err))
        return -1;
    if (!bw_guard_budget_allows(c)) {
        bw_count(c->entry, BW_CNT_RETRIES_DENIED, 1);
        return -1;
    }
    return bw_retry_delay(plan, p, n, bw_now_ms(), bw_rand64());
}

/*
 * Decides whether failed attempt n is retried, and sleeps the backoff if so.
 * Returns 0 to retry, or the errno connect() ends with.
 */
static int before_retry(bw_conn *c, unsigned n, int err, bw_retry_plan *plan)
{
    int64_t delay = bw_connect_retry_delay(c, n, err, plan);
    if (delay < 0)
        return err;   /* not retried, or no time left for another attempt */
    if (bw_sleep_ms((uint32_t)delay) != 0)
        return EINTR;
    if (bw_connect_admit_retry(c) != 0)
        return err;   /* the breaker opened meanwhile: stop retrying */
    bw_count(c->entry, BW_CNT_RETRIES, 1);
    return 0;
}

/* How long a blocking connect may wait for connect_rate: its deadline, its
 * attempt limit or the program's own SO_SNDTIMEO (own_ms), the shortest set
 * (-1: none). */
static int64_t rate_wait_limit(const bw_policy *p, int64_t own_ms)
{
    int64_t limit = -1, cand[3] = {p->deadline_ms, p->connect_timeout_ms, own_ms};
    for (int i = 0; i < 3; i++)
        if (cand[i] > 0 && (limit < 0 || cand[i] < limit))
            limit = cand[i];
    return limit;
}

/* How long the kernel itself lets a blocking connect try: (2^(r+1) - 1) s
 * for r = net.ipv4.tcp_syn_retries, read once (0: unknown). */
static int64_t kernel_connect_ms(void)
{
    static _Atomic int64_t known = -1;
    int64_t ms = atomic_load_explicit(&known, memory_order_relaxed);
    if (ms >= 0)
        return ms;
    char buf[16];
    long r = bw_sys_read_small("/proc/sys/net/ipv4/tcp_syn_retries", buf, sizeof buf) > 0
                 ? strtol(buf, NULL, 10) : -1;
    ms = r >= 1 && r <= 30 ? ((INT64_C(2) << r) - 1) * 1000 : 0;
    atomic_store_explicit(&known, ms, memory_order_relaxed);
    return ms;
}

/* An attempt's limit, or 0 where bounding it would change nothing: a
 * blocking attempt with no retry after it, no SO_SNDTIMEO of the program's
 * and a limit the kernel's own reaches first needs no temporary SO_SNDTIMEO
 * (two setsockopt calls fewer). */
static int64_t attempt_limit(const bw_policy *p, bool nonblocking, const struct timeval *own,
                             int64_t limit)
{
    if (nonblocking || p->retries || own->tv_sec || own->tv_usec || limit <= 0)
        return limit;
    int64_t kernel = kernel_connect_ms();
    return kernel > 0 && limit >= kernel ? 0 : limit;
}

/*
 * Blocking connects, and non-blocking ones in wait mode: attempts with a
 * time limit each, retries with backoff within the deadline and the budget.
 */
static int connect_managed(int fd, bw_conn *c, bool nonblocking)
{
    bw_retry_plan plan;
    int64_t t0 = c->started_ms;   /* track() read the clock just now */
    bool admit_waits = bw_admission_may_wait(c->policy);
    struct timeval own;
    int64_t own_ms = bw_own_send_timeout(fd, &own);
    if (admit(c, true, own_ms) != 0)
        return -1;
    int err;
    /* The program's own limit applies to blocking connects only, as in the kernel. */
    if (nonblocking)
        own = (struct timeval){0, 0};
    bw_retry_plan_init(&plan, c->policy, t0, nonblocking ? 0 : own_ms);
    for (unsigned n = 0;; n++) {
        int64_t began = n || admit_waits ? bw_now_ms() : t0;
        bool own_binds, in_progress;
        int64_t limit = attempt_limit(c->policy, nonblocking, &own,
                                      bw_retry_attempt_limit(&plan, c->policy, began, &own_binds));
        c->started_ms = began;
        c->outcome_pending = true;
        err = bw_attempt(fd, c, nonblocking, (int)limit, &own, &in_progress);   /* to c->addr */
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
        bw_connect_record(c, err, began);
        /* Recorded: a thread cancelled in the backoff is not one more failure at close. */
        atomic_store(&c->outcome_pending, false);
        int failed = err;
        if (err == 0 || (err = before_retry(c, n, err, &plan)) != 0)
            break;
        if (failed != ETIMEDOUT)
            bw_abandon(fd);   /* a timed-out attempt was abandoned already */
    }
    bw_connect_finish(c, err);
    if (err == 0)
        return 0;
    errno = err;
    return -1;
}

/* connect() again on a socket whose non-blocking connect is in progress: the
 * program polls for completion. Pass through and learn the outcome. */
static int connect_again(int fd, bw_conn *c, const struct sockaddr *sa, socklen_t len)
{
    int ret;
    if (bw_pend_connect_again(fd, c, &ret))
        return ret;
    ret = bw_real.connect(fd, sa, len);
    int err = ret == 0 ? 0 : errno;
    if (err == 0 || err == EISCONN)
        bw_conn_outcome(c, 0);
    else if (err != EALREADY && err != EINPROGRESS && err != EINTR)
        bw_conn_outcome(c, err);
    errno = err;
    return ret;
}

/*
 * Dead-peer detection (SPEC section 9): TCP_USER_TIMEOUT and keepalive as the
 * destination configures them, unless the program set its own. Nothing is
 * done (no system call) for a destination that configures neither.
 */
static void dead_peer_options(int fd, const bw_policy *p)
{
    if (!p->tcp_user_timeout_ms && !p->tcp_keepalive)
        return;
    int saved = errno;
    if (p->tcp_user_timeout_ms && !bw_own_user_timeout(fd)) {
        unsigned ms = p->tcp_user_timeout_ms;
        bw_real.setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    }
    if (p->tcp_keepalive && !bw_own_keepalive(fd)) {
        int on = 1, idle = (int)p->tcp_keepalive_idle_s, intvl = (int)p->tcp_keepalive_interval_s,
            cnt = (int)p->tcp_keepalive_count;
        bw_real.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        bw_real.setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        bw_real.setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        bw_real.setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    }
    errno = saved;
}

/* Says at info, once per process and destination, how its connects are
 * handled; the caller asks whether info is logged. */
static void log_mode_once(const bw_conn *c, enum bw_nonblocking mode, bool nonblocking)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct { const char *dest; uint8_t kinds; } seen[64];
    static size_t n_seen;
    unsigned kind = nonblocking ? 1u << mode : 1u << 7;
    bool say = false;
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < n_seen && seen[i].dest != c->dest_name)
        i++;
    if (i == n_seen && n_seen < sizeof seen / sizeof seen[0])
        seen[n_seen++].dest = c->dest_name;
    if (i < n_seen && !(seen[i].kinds & kind)) {
        seen[i].kinds |= kind;
        say = true;
    }
    pthread_mutex_unlock(&lock);
    if (!say)
        return;
    static const char *const what[] = {
        [BW_NB_AUTO] = "non-blocking, retried inside the program's own waits (nonblocking = auto)",
        [BW_NB_WAIT] = "non-blocking, completed inside connect() (nonblocking = wait)",
        [BW_NB_NATIVE] = "non-blocking, left to the program: no retries (nonblocking = native)",
    };
    bw_log(BW_LOG_INFO, "%s: connects are %s", c->dest_name,
           nonblocking ? what[mode] : "blocking, retried inside connect()");
}

static int connect_entered(int fd, const struct sockaddr *sa, socklen_t len);

/* A vfork child, or a thread already inside the shim (a signal handler),
 * connects untracked: the locks it would need may be this thread's. */
/* A limit left lent (shim.h) must not bind a connect on fd. */
static void settle_before_connect(int fd)
{
    bw_conn *c = bw_fdt_get(fd);
    if (c)
        bw_sndtimeo_settle(c, fd);
}

int bw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (!bw_enter()) {
        settle_before_connect(fd);   /* nothing in a vfork child */
        return bw_real.connect(fd, sa, len);
    }
    int ret;
    pthread_cleanup_push(bw_leave_cancelled, NULL);
    ret = connect_entered(fd, sa, len);
    pthread_cleanup_pop(0);
    int err = errno;
    bw_leave();
    errno = err;
    return ret;
}

static int connect_entered(int fd, const struct sockaddr *sa, socklen_t len)
{
    bw_shim_init();
    if (atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        settle_before_connect(fd);
        return bw_real.connect(fd, sa, len);
    }
    if (!is_inet(sa, len)) {
        settle_before_connect(fd);   /* AF_UNSPEC: the record goes, the socket stays */
        int ret = bw_real.connect(fd, sa, len);
        if (ret == 0 && sa && sa->sa_family == AF_UNSPEC)
            bw_forget_fd(fd);   /* association dissolved: no longer a connection */
        return ret;
    }
    bw_conn *prev = bw_fdt_get(fd);
    if (prev)
        bw_sndtimeo_settle(prev, fd);   /* a limit left lent must not bind this connect */
    if (prev && atomic_load(&prev->state) == BW_CONN_CONNECTING)
        return connect_again(fd, prev, sa, len);
    if (prev && atomic_load(&prev->state) == BW_CONN_CONNECTED)
        return bw_real.connect(fd, sa, len);   /* EISCONN: the connection stays as it is */
    bw_cfg_ref *ref;
    int64_t now_us = -1;   /* the reload check's clock reading, for track */
    const bw_config *cfg = bw_shim_config_hold_at(&ref, &now_us);
    if (!cfg || !is_stream(fd)) {
        bw_cfg_drop(ref);
        return bw_real.connect(fd, sa, len);
    }
    enum bw_log_level threshold = bw_log_threshold();   /* asked once per connect */
    dest_found f;
    find_dest(cfg, ref, sa, threshold == BW_LOG_DEBUG, &f);
    const bw_policy *policy = f.policy;
    bw_conn *c = policy->enabled ? track(fd, cfg, ref, &f, sa, len, now_us) : NULL;
    bw_cfg_drop(ref);   /* a tracked connection holds the config on its own */
    if (!c) {
        bw_forget_fd(fd);
        return bw_real.connect(fd, sa, len);
    }
    int saved = errno;
    dead_peer_options(fd, policy);
    bool nonblocking = bw_nonblock_is_set(fd);
    enum bw_nonblocking mode = policy->nonblocking;
    errno = saved;
    if (threshold >= BW_LOG_INFO)
        log_mode_once(c, nonblocking ? mode : BW_NB_WAIT, nonblocking);
    if (nonblocking && mode == BW_NB_NATIVE)
        return connect_native(fd, c);
    if (nonblocking && mode == BW_NB_AUTO)
        return connect_async(fd, c);
    int ret = connect_managed(fd, c, nonblocking);
    if (ret == 0)
        errno = saved;   /* errno is unchanged on success */
    return ret;
}

BW_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    return bw_connect(fd, sa, len);
}

bw_conn *bw_track_inherited(int fd, const struct sockaddr *peer, socklen_t len)
{
    bw_cfg_ref *ref;
    const bw_config *cfg = bw_shim_config_hold(&ref);
    if (!cfg || !is_inet(peer, len)) {
        bw_cfg_drop(ref);
        return NULL;
    }
    dest_found f;
    find_dest(cfg, ref, peer, bw_log_enabled(BW_LOG_DEBUG), &f);
    bw_conn *c = f.policy->enabled ? track(fd, cfg, ref, &f, peer, len, -1) : NULL;
    bw_cfg_drop(ref);
    if (c)
        atomic_store(&c->state, BW_CONN_CONNECTED);
    return c;
}
