/*
 * pending.c - non-blocking connects retried inside the program's waits
 * (see pending.h). The state of a pending connect is the record's cold
 * part bw_conn_pend (shim.h), attached when the connect becomes pending and
 * given back by the holder of its plock that sees it over (BW_PEND_NONE),
 * outside a wait (plock_unlock).
 * Every phase change happens with that plock held; waits only try that
 * lock, so a wait never blocks on another thread's step.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "attempt.h"
#include "connect.h"
#include "guard.h"
#include "pending.h"

atomic_int bw_pend_count;

/* Pending connects (ATTEMPT or BACKOFF), for waits on an epoll instance,
 * which learn descriptors only from the events they return. */
struct pend_ref {
    int fd;
    bw_conn *c;
};
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pend_ref *list;
static size_t list_len, list_cap;

/* c's pending-connect part; only while its plock is held. */
static bw_conn_pend *pd(const bw_conn *c)
{
    return atomic_load_explicit(&c->pendb, memory_order_relaxed);
}

/* c's part with its plock held and cancellation off (*cs: the state to
 * restore; a thread cancelled at a cancellation point under it, the
 * retry's connect, would leave it held for ever). NULL: c has none. A
 * part given back while this thread waited for its lock is let go. */
static bw_conn_pend *plock_take(bw_conn *c, int *cs)
{
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cs);
    for (;;) {
        bw_conn_pend *b = atomic_load_explicit(&c->pendb, memory_order_acquire);
        if (!b) {
            pthread_setcancelstate(*cs, NULL);
            return NULL;
        }
        pthread_mutex_lock(&b->plock);
        if (atomic_load_explicit(&c->pendb, memory_order_relaxed) == b)
            return b;
        pthread_mutex_unlock(&b->plock);
    }
}

/*
 * Unlocks b, c's part; a connect no longer pending gives it back, unless
 * the caller is a wait (keep): ThreadSanitizer does not see the locks a wait
 * hook takes (tests/tsan.supp), so a block given back there would look
 * unsynchronised to its next taker. A connect that ended in a wait keeps its
 * part until the program looks at the outcome (SO_ERROR, bw_pend_so_error)
 * or closes the socket. Taken off c by exchange: a release of c racing a
 * caller that holds no reference (SO_ERROR read as another thread closes)
 * may have taken it.
 */
static void plock_unlock(bw_conn *c, bw_conn_pend *b, bool keep)
{
    bw_conn_pend *mine = b;
    bool over = !keep && atomic_load_explicit(&c->pend, memory_order_relaxed) == BW_PEND_NONE &&
                atomic_compare_exchange_strong(&c->pendb, &mine, NULL);
    pthread_mutex_unlock(&b->plock);
    if (over)
        bw_conn_pend_put(b);
}

static void plock_give(bw_conn *c, bw_conn_pend *b, int cs)
{
    plock_unlock(c, b, false);
    pthread_setcancelstate(cs, NULL);
}

static bool active(int phase)
{
    return phase == BW_PEND_ATTEMPT || phase == BW_PEND_BACKOFF;
}

/* Adds (fd, c) to the list; false when out of memory. */
static bool list_add(int fd, bw_conn *c)
{
    pthread_mutex_lock(&list_lock);
    if (list_len == list_cap) {
        size_t cap = list_cap ? list_cap * 2 : 16;
        struct pend_ref *n = realloc(list, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&list_lock);
            return false;
        }
        list = n;
        list_cap = cap;
    }
    list[list_len++] = (struct pend_ref){fd, c};
    pthread_mutex_unlock(&list_lock);
    return true;
}

static void list_del(bw_conn *c)
{
    pthread_mutex_lock(&list_lock);
    for (size_t i = 0; i < list_len; i++)
        if (list[i].c == c) {
            list[i] = list[--list_len];
            break;
        }
    pthread_mutex_unlock(&list_lock);
}

/* Sets c's phase, keeping the count and the list; plock held. */
static void set_phase(int fd, bw_conn *c, int phase)
{
    int old = atomic_load_explicit(&c->pend, memory_order_relaxed);
    atomic_store_explicit(&c->pend, (uint8_t)phase, memory_order_release);
    if (active(old) && !active(phase)) {
        list_del(c);
        atomic_fetch_sub(&bw_pend_count, 1);
    } else if (!active(old) && active(phase)) {
        atomic_fetch_add(&bw_pend_count, 1);
        list_add(fd, c);
    }
}

/* An attempt is in flight from now_ms: its time limit is connect_timeout_ms
 * and what is left of the deadline. */
static void attempt_started(int fd, bw_conn *c, int64_t now_ms)
{
    bool own_binds;
    int64_t limit = bw_retry_attempt_limit(&pd(c)->plan, c->policy, now_ms, &own_binds);
    pd(c)->began_ms = now_ms;
    c->started_ms = now_ms;
    pd(c)->due_ms = limit > 0 ? now_ms + limit : 0;
    set_phase(fd, c, BW_PEND_ATTEMPT);
}

/* The connect is over with err: FINAL keeps a failure for the program's SO_ERROR. */
static void end(int fd, bw_conn *c, int err)
{
    pd(c)->err = err;
    bw_connect_finish(c, err);
    set_phase(fd, c, err ? BW_PEND_FINAL : BW_PEND_NONE);
    bw_epreg_resume(fd);   /* a failure shows as the kernel shows it; a success as it is */
    if (!err)
        bw_epreg_forget(fd);
}

/* The attempt in flight failed with err: a retry after a backoff, or the end. */
static int after_failure(int fd, bw_conn *c, int err, int64_t now_ms)
{
    bw_connect_record(c, err, pd(c)->began_ms);
    int64_t delay = bw_connect_retry_delay(c, pd(c)->attempt, err, &pd(c)->plan);
    if (delay < 0) {
        end(fd, c, err);
        return BW_PEND_FINAL;
    }
    pd(c)->err = err;
    pd(c)->due_ms = now_ms + delay;
    set_phase(fd, c, BW_PEND_BACKOFF);
    bw_epreg_suspend(fd);
    return BW_PEND_BACKOFF;
}

/* The backoff is over: the next attempt on the same socket. */
static int retry(int fd, bw_conn *c, int64_t now_ms)
{
    if (bw_connect_admit_retry(c) != 0) {
        end(fd, c, pd(c)->err);   /* the breaker opened meanwhile: stop retrying */
        return BW_PEND_FINAL;
    }
    bw_count(c->entry, BW_CNT_RETRIES, 1);
    pd(c)->attempt++;
    if (pd(c)->err != ETIMEDOUT)
        bw_abandon(fd);   /* a timed-out attempt was abandoned already */
    pd(c)->began_ms = now_ms;
    int saved = errno;
    int err = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0 ? 0 : errno;
    errno = saved;
    if (err == EINPROGRESS) {
        attempt_started(fd, c, now_ms);
        bw_epreg_resume(fd);
        return BW_PEND_ATTEMPT;
    }
    if (err == 0) {
        bw_connect_record(c, 0, now_ms);
        end(fd, c, 0);
        return BW_PEND_NONE;
    }
    return after_failure(fd, c, err, now_ms);
}

/* Steps c at now_ms until it waits for the kernel or the clock; plock held. */
static int advance_locked(int fd, bw_conn *c, int64_t now_ms)
{
    for (int guard = 0; guard < 512; guard++) {
        int phase = atomic_load_explicit(&c->pend, memory_order_relaxed);
        if (phase == BW_PEND_BACKOFF && now_ms >= pd(c)->due_ms) {
            retry(fd, c, now_ms);
        } else if (phase == BW_PEND_ATTEMPT && pd(c)->due_ms && now_ms >= pd(c)->due_ms) {
            bw_abandon(fd);   /* connect_timeout_ms (or the deadline) ran out */
            after_failure(fd, c, ETIMEDOUT, now_ms);
        } else {
            return phase;
        }
    }
    return atomic_load_explicit(&c->pend, memory_order_relaxed);
}

/* No memory for the retries' state: the connect is left to the program,
 * as in native mode (its outcome is learned from its calls). */
static int left_to_program(bw_conn *c, int err)
{
    atomic_store(&c->outcome_pending, true);
    if (err == EINPROGRESS)
        atomic_store(&c->state, BW_CONN_CONNECTING);
    else
        bw_conn_outcome(c, err);
    errno = err;
    return -1;
}

int bw_pend_start(int fd, bw_conn *c, int err)
{
    bw_conn_pend *b = bw_conn_pend_get();
    if (!b)
        return left_to_program(c, err);
    int64_t now = bw_now_ms();
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    pthread_mutex_lock(&b->plock);
    atomic_store_explicit(&c->pendb, b, memory_order_release);
    bw_retry_plan_init(&pd(c)->plan, c->policy, c->started_ms, 0);
    pd(c)->attempt = 0;
    pd(c)->waited = false;
    int ret = -1;
    if (err == EINPROGRESS) {
        attempt_started(fd, c, c->started_ms);
        atomic_store(&c->state, BW_CONN_CONNECTING);
    } else {
        pd(c)->began_ms = c->started_ms;
        if (after_failure(fd, c, err, now) == BW_PEND_BACKOFF) {
            atomic_store(&c->state, BW_CONN_CONNECTING);
            err = EINPROGRESS;   /* the retry runs in the program's wait */
        } else {
            set_phase(fd, c, BW_PEND_NONE);   /* no retry: the kernel's own answer */
        }
    }
    plock_give(c, b, cs);
    errno = err;
    return ret;
}

int bw_pend_advance(int fd, bw_conn *c, int64_t now_ms)
{
    return advance_locked(fd, c, now_ms);
}

/* The kernel's view of the attempt in flight: 0 connected, EINPROGRESS still
 * connecting, else its error (read, and so cleared, from SO_ERROR). */
static int attempt_outcome(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (bw_real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    if (err)
        return err;
    struct sockaddr_storage ss;
    len = sizeof ss;
    return getpeername(fd, (struct sockaddr *)&ss, &len) == 0 ? 0 : EINPROGRESS;
}

/* check() for a wait of the shim's (may_retry) or for the program's own
 * look at the outcome (SO_ERROR, connect() again): see the callers. */
static bool check(int fd, bw_conn *c, int64_t now_ms, bool may_retry)
{
    if (atomic_load_explicit(&c->pend, memory_order_relaxed) != BW_PEND_ATTEMPT)
        return atomic_load_explicit(&c->pend, memory_order_relaxed) != BW_PEND_BACKOFF;
    int saved = errno;
    int err = attempt_outcome(fd);
    errno = saved;
    if (err == EINPROGRESS)
        return false;
    if (err == 0) {
        bw_connect_record(c, 0, pd(c)->began_ms);
        end(fd, c, 0);
        return true;
    }
    if (!may_retry) {
        bw_connect_record(c, err, pd(c)->began_ms);
        end(fd, c, err);
        return true;
    }
    return after_failure(fd, c, err, now_ms) == BW_PEND_FINAL;
}

bool bw_pend_check(int fd, bw_conn *c, int64_t now_ms)
{
    return check(fd, c, now_ms, true);
}

int64_t bw_pend_next_ms(bw_conn *c)
{
    int phase = atomic_load_explicit(&c->pend, memory_order_relaxed);
    if (phase == BW_PEND_BACKOFF || (phase == BW_PEND_ATTEMPT && pd(c)->due_ms))
        return pd(c)->due_ms;
    return INT64_MAX;
}

static bool so_error_entered(int fd, bw_conn *c, int *val);

/* c's part, kept by the wait in which its connect ended, goes back. */
static void give_back_kept(bw_conn *c)
{
    if (!bw_enter())
        return;
    int cs;
    bw_conn_pend *b = plock_take(c, &cs);
    if (b)
        plock_give(c, b, cs);
    bw_leave();
}

/*
 * The phase a program's own look at the outcome (SO_ERROR, connect() again)
 * finds, once the connect has been moved on to now. Unless a wait of the
 * shim's looks after this connect, the program learned of the attempt's end
 * from one the shim did not slice (it began before this connect was pending,
 * in another thread): it is told the truth, with no retry, since a hidden
 * failure would read as "connected" to it. Called with plock held.
 */
static int settle_locked(int fd, bw_conn *c)
{
    int64_t now = bw_now_ms();
    int phase = advance_locked(fd, c, now);
    if (phase != BW_PEND_ATTEMPT)
        return phase;
    check(fd, c, now, pd(c)->waited);
    return atomic_load_explicit(&c->pend, memory_order_relaxed);
}

/* A thread that may not enter the shim now (a signal handler that
 * interrupted it, a vfork child) reads the kernel's SO_ERROR itself. */
bool bw_pend_so_error(int fd, bw_conn *c, int *val)
{
    if (bw_pend_phase_of(c) == BW_PEND_NONE) {
        if (__builtin_expect(atomic_load_explicit(&c->pendb, memory_order_relaxed) != NULL, 0))
            give_back_kept(c);
        return false;
    }
    if (!bw_enter())
        return false;
    bool mine = so_error_entered(fd, c, val);
    int err = errno;
    bw_leave();
    errno = err;
    return mine;
}

static bool so_error_entered(int fd, bw_conn *c, int *val)
{
    int cs;
    bw_conn_pend *b;
    if (bw_pend_phase_of(c) == BW_PEND_NONE || !(b = plock_take(c, &cs)))
        return false;
    int phase = settle_locked(fd, c);
    bool mine = phase != BW_PEND_NONE;
    if (phase == BW_PEND_FINAL) {
        *val = pd(c)->err;   /* told once, as the kernel tells it */
        set_phase(fd, c, BW_PEND_NONE);
    } else if (mine) {
        *val = 0;             /* still connecting, or a retry is pending */
    }
    plock_give(c, b, cs);
    return mine;
}

bool bw_pend_connect_again(int fd, bw_conn *c, int *ret)
{
    int cs;
    bw_conn_pend *b;
    if (bw_pend_phase_of(c) == BW_PEND_NONE || !(b = plock_take(c, &cs)))
        return false;
    int phase = settle_locked(fd, c);
    int err;
    switch (phase) {
    case BW_PEND_NONE:
        /* Connected: the kernel's own answer to a connect() now (0 the first time). */
        err = bw_real.connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) == 0 ? 0 : errno;
        break;
    case BW_PEND_FINAL:
        err = pd(c)->err;
        set_phase(fd, c, BW_PEND_NONE);
        break;
    default:
        err = EALREADY;
        break;
    }
    plock_give(c, b, cs);
    *ret = err ? -1 : 0;
    errno = err;
    return true;
}

void bw_pend_drop(bw_conn *c)
{
    int cs;
    bw_conn_pend *b;
    if (bw_pend_phase_of(c) == BW_PEND_NONE || !(b = plock_take(c, &cs)))
        return;
    int phase = atomic_load_explicit(&c->pend, memory_order_relaxed);
    if (phase == BW_PEND_ATTEMPT) {
        /* Given up by the program before an outcome: a failure, as in native mode. */
        bw_connect_record(c, ECONNABORTED, pd(c)->began_ms);
        bw_connect_finish(c, ECONNABORTED);
    } else if (phase == BW_PEND_BACKOFF) {
        bw_connect_finish(c, pd(c)->err);   /* the failed attempt was recorded */
    }
    set_phase(-1, c, BW_PEND_NONE);
    plock_give(c, b, cs);
}

void bw_pend_atfork_prepare(void)
{
    pthread_mutex_lock(&list_lock);
}

void bw_pend_atfork_parent(void)
{
    pthread_mutex_unlock(&list_lock);
}

void bw_pend_atfork_child(void)
{
    /* The parent goes on with its connects; the child's copies are left to it
     * as they are, with no retry of the child's own. list_lock was taken in
     * prepare by the thread the child runs on: released, not re-initialised. */
    pthread_mutex_unlock(&list_lock);
    for (size_t i = 0; i < list_len; i++)
        atomic_store(&list[i].c->pend, BW_PEND_NONE);
    list_len = 0;
    atomic_store(&bw_pend_count, 0);
}

int bw_pend_in_epoll(int epfd, int *fds, int max)
{
    int n = 0;
    pthread_mutex_lock(&list_lock);
    for (size_t i = 0; i < list_len && n < max; i++)
        if (bw_epreg_epfd(list[i].fd) == epfd)
            fds[n++] = list[i].fd;
    pthread_mutex_unlock(&list_lock);
    return n;
}

bw_conn *bw_pend_grab(int fd)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c || bw_pend_phase_of(c) == BW_PEND_NONE)
        return NULL;
    bw_conn_ref(c);
    bw_conn_pend *b = atomic_load_explicit(&c->pendb, memory_order_acquire);
    if (!b || pthread_mutex_trylock(&b->plock) != 0) {
        bw_conn_unref(c);
        return NULL;
    }
    if (pd(c) != b || bw_pend_phase_of(c) == BW_PEND_NONE) {
        pthread_mutex_unlock(&b->plock);   /* given back meanwhile, or over */
        bw_conn_unref(c);
        return NULL;
    }
    return c;
}

void bw_pend_waited(bw_conn *c)
{
    pd(c)->waited = true;
}

void bw_pend_release(bw_conn *c)
{
    plock_unlock(c, pd(c), true);
    bw_conn_unref(c);
}
