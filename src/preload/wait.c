/*
 * wait.c - the program's waits: poll, ppoll, select, pselect, epoll_wait,
 * epoll_pwait, epoll_pwait2, and epoll_ctl.
 *
 * While no connect is pending in the process (pending.h), each wait is one
 * relaxed load and the real call. Otherwise the wait is cut into slices that
 * end at the program's own timeout or at the next moment a pending connect
 * needs the shim (a backoff over, an attempt's limit), whichever is first.
 * Between slices the pending connects among the waited descriptors move on;
 * a failed attempt that is retried is taken out of what the wait returns; a
 * socket in backoff is left out of the wait. Every other descriptor's events
 * are returned as soon as the real call returns them, and the wait as a
 * whole never outlasts the program's timeout.
 *
 * Re-entry (reentry.c): the bookkeeping between slices (the pending list,
 * the records' plocks, the epoll registrations) runs inside the shim
 * (bw_enter) with cancellation off; the real wait runs outside it, as the
 * program's own cancellation point. A wait that may not enter (called by
 * a signal handler that interrupted the shim, or in a vfork child) is the
 * real call, unsliced.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void __chk_fail(void) __attribute__((noreturn));

#include "pending.h"

/* The sliced half of each wait, apart from its hook, so that the hook
 * itself compiles to one load, a test and a tail call. */
#define BW_SLOW static __attribute__((noinline, cold))

#define NS_PER_MS 1000000LL
#define FOREVER INT64_MAX

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The end of a wait of ms milliseconds (< 0: none) from now. */
static int64_t end_of_ms(int ms)
{
    return ms < 0 ? FOREVER : now_ns() + ms * NS_PER_MS;
}

static int64_t end_of_ts(const struct timespec *t)
{
    if (!t)
        return FOREVER;
    if (t->tv_sec < 0 || t->tv_nsec < 0)
        return now_ns();   /* the real call answers EINVAL at once */
    if (t->tv_sec > INT32_MAX)
        return FOREVER;
    return now_ns() + (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Enters the shim for a wait's bookkeeping, with cancellation off (*cs:
 * the state to restore). False: this thread may not enter now. */
static bool book_begin(int *cs)
{
    if (!bw_enter())
        return false;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cs);
    return true;
}

static void book_end(int cs)
{
    int err = errno;
    bw_leave();
    pthread_setcancelstate(cs, NULL);
    errno = err;
}

/* Moves c (fd's, grabbed) forward; folds its next due time into *wake. Returns the phase. */
static int step(int fd, bw_conn *c, int64_t *wake)
{
    bw_pend_waited(c);
    int phase = bw_pend_advance(fd, c, bw_now_ms());
    int64_t next = bw_pend_next_ms(c);
    if (next != INT64_MAX && next * NS_PER_MS < *wake)
        *wake = next * NS_PER_MS;
    return phase;
}

/* What is left until wake, as a timespec (for the real call). */
static struct timespec left_ts(int64_t wake)
{
    int64_t d = wake - now_ns();
    if (d < 0)
        d = 0;
    return (struct timespec){d / 1000000000LL, d % 1000000000LL};
}

/* ... in milliseconds, rounded up (-1: forever). */
static int left_ms(int64_t wake)
{
    if (wake == FOREVER)
        return -1;
    int64_t d = wake - now_ns();
    if (d <= 0)
        return 0;
    d = (d + NS_PER_MS - 1) / NS_PER_MS;
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* The descriptor a wait reported: false when its event is to be hidden. */
static bool shown(int fd)
{
    bw_conn *c = bw_pend_grab(fd);
    if (!c)
        return true;
    bool show = bw_pend_phase_of(c) != BW_PEND_ATTEMPT || bw_pend_check(fd, c, bw_now_ms());
    bw_pend_release(c);
    return show;
}

/* ---- poll, ppoll ---- */

#define HIDE_INLINE 64

static int poll_real(struct pollfd *fds, nfds_t n, int64_t wake, const sigset_t *mask, bool pp)
{
    if (!pp)
        return bw_real.poll(fds, n, left_ms(wake));
    struct timespec t = left_ts(wake);
    return bw_real.ppoll(fds, n, wake == FOREVER ? NULL : &t, mask);
}

/*
 * poll or ppoll (pp) of the program, ending at end (ns, FOREVER: none): slices
 * as the file comment says. A socket in backoff is hidden by a negative
 * descriptor number for the slice, as poll itself allows, and given back.
 */
static int poll_managed(struct pollfd *fds, nfds_t n, int64_t end, const sigset_t *mask, bool pp)
{
    nfds_t inline_idx[HIDE_INLINE], *hidden = inline_idx;
    if (n > HIDE_INLINE && !(hidden = malloc(n * sizeof *hidden)))
        return poll_real(fds, n, end, mask, pp);
    int ret, cs;
    for (;;) {
        int64_t wake = end;
        nfds_t nh = 0;
        bool managed = false;
        if (!book_begin(&cs)) {
            ret = poll_real(fds, n, end, mask, pp);
            break;
        }
        for (nfds_t i = 0; i < n; i++) {
            bw_conn *c = fds[i].fd >= 0 ? bw_pend_grab(fds[i].fd) : NULL;
            if (!c)
                continue;
            int phase = step(fds[i].fd, c, &wake);
            managed |= phase == BW_PEND_ATTEMPT || phase == BW_PEND_BACKOFF;
            if (phase == BW_PEND_BACKOFF) {
                fds[i].fd = -2 - fds[i].fd;
                hidden[nh++] = i;
            }
            bw_pend_release(c);
        }
        book_end(cs);
        ret = poll_real(fds, n, managed ? wake : end, mask, pp);
        int err = errno;
        for (nfds_t k = 0; k < nh; k++) {
            fds[hidden[k]].fd = -2 - fds[hidden[k]].fd;
            fds[hidden[k]].revents = 0;
        }
        if (ret > 0 && book_begin(&cs)) {
            for (nfds_t i = 0; i < n; i++)
                if (fds[i].revents && fds[i].fd >= 0 && !shown(fds[i].fd)) {
                    fds[i].revents = 0;
                    ret--;
                }
            book_end(cs);
        }
        errno = err;
        if (ret != 0 || !managed || now_ns() >= end)
            break;
    }
    if (hidden != inline_idx)
        free(hidden);
    return ret;
}

/* True when one of fds[0..n) has a pending connect: only then is a poll sliced. */
static bool poll_has_pending(const struct pollfd *fds, nfds_t n)
{
    for (nfds_t i = 0; i < n; i++) {
        bw_conn *c = fds[i].fd >= 0 ? bw_fdt_get(fds[i].fd) : NULL;
        if (c && bw_pend_phase_of(c) != BW_PEND_NONE)
            return true;
    }
    return false;
}

BW_SLOW int poll_slow(struct pollfd *fds, nfds_t n, int timeout)
{
    if (!poll_has_pending(fds, n))
        return bw_real.poll(fds, n, timeout);
    return poll_managed(fds, n, end_of_ms(timeout), NULL, false);
}

BW_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return poll_slow(fds, n, timeout);
    return bw_real.poll(fds, n, timeout);
}

BW_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();   /* glibc's own verdict: the program overflowed its array */
    return poll(fds, n, timeout);
}

BW_SLOW int ppoll_slow(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    if (!poll_has_pending(fds, n))
        return bw_real.ppoll(fds, n, t, mask);
    return poll_managed(fds, n, end_of_ts(t), mask, true);
}

BW_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return ppoll_slow(fds, n, t, mask);
    return bw_real.ppoll(fds, n, t, mask);
}

BW_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *t,
                          const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return ppoll(fds, n, t, mask);
}

/* ---- select, pselect ---- */

struct fdsets {
    fd_set *set[3];     /* the shim's copies of the read, write, except sets (NULL: none) */
    fd_set in[3];       /* what the program asked for */
    fd_set out[3];      /* what set[] points at: the program's sets may alias each other */
};

static bool in_any(const struct fdsets *s, int fd)
{
    for (int k = 0; k < 3; k++)
        if (s->set[k] && FD_ISSET(fd, &s->in[k]))
            return true;
    return false;
}

/* True when the real call left fd in one of the program's sets. */
static bool reported(const struct fdsets *s, int fd)
{
    for (int k = 0; k < 3; k++)
        if (s->set[k] && FD_ISSET(fd, s->set[k]))
            return true;
    return false;
}

/* Clears fd from the program's sets; returns how many it was in. */
static int clear_out(struct fdsets *s, int fd)
{
    int was = 0;
    for (int k = 0; k < 3; k++)
        if (s->set[k] && FD_ISSET(fd, s->set[k])) {
            FD_CLR(fd, s->set[k]);
            was++;
        }
    return was;
}

static int select_real(int nfds, struct fdsets *s, int64_t wake, const sigset_t *mask, bool ps)
{
    struct timespec t = left_ts(wake);
    if (ps)
        return bw_real.pselect(nfds, s->set[0], s->set[1], s->set[2],
                               wake == FOREVER ? NULL : &t, mask);
    struct timeval tv = {t.tv_sec, (t.tv_nsec + 999) / 1000};
    return bw_real.select(nfds, s->set[0], s->set[1], s->set[2], wake == FOREVER ? NULL : &tv);
}

/*
 * select or pselect (ps) of the program, ending at end: poll_managed's way,
 * with a socket in backoff left out of the sets for the slice. The real
 * call gets three sets of the shim's own: a program may pass one set twice
 * (perl's IO::Socket::IP waits with select(undef, $v, $v, $t)), and the
 * kernel, writing the except result over the write result there, would
 * hide a failed attempt from the hook while counting it in the return
 * value. The results go back into the program's sets in the kernel's
 * order (read, write, except), so aliased sets end as they would without
 * the shim.
 */
static int select_managed(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t end,
                          const sigset_t *mask, bool ps)
{
    fd_set *prog[3] = {r, w, e};
    struct fdsets s;
    if (nfds > FD_SETSIZE)
        nfds = FD_SETSIZE;
    for (int k = 0; k < 3; k++) {
        s.set[k] = prog[k] ? &s.out[k] : NULL;
        if (prog[k])
            s.in[k] = *prog[k];
    }
    int ret, cs;
    for (;;) {
        int64_t wake = end;
        bool managed = false;
        for (int k = 0; k < 3; k++)
            if (s.set[k])
                *s.set[k] = s.in[k];
        if (!book_begin(&cs)) {
            ret = select_real(nfds, &s, end, mask, ps);
            break;
        }
        for (int fd = 0; fd < nfds; fd++) {
            bw_conn *c = in_any(&s, fd) ? bw_pend_grab(fd) : NULL;
            if (!c)
                continue;
            int phase = step(fd, c, &wake);
            managed |= phase == BW_PEND_ATTEMPT || phase == BW_PEND_BACKOFF;
            if (phase == BW_PEND_BACKOFF)
                clear_out(&s, fd);
            bw_pend_release(c);
        }
        book_end(cs);
        ret = select_real(nfds, &s, managed ? wake : end, mask, ps);
        int err = errno;
        if (ret > 0 && book_begin(&cs)) {
            for (int fd = 0; fd < nfds; fd++)
                if (reported(&s, fd) && !shown(fd))
                    ret -= clear_out(&s, fd);
            book_end(cs);
        }
        errno = err;
        if (ret != 0 || !managed || now_ns() >= end)
            break;
    }
    for (int k = 0; k < 3; k++)
        if (prog[k] && ret >= 0)
            *prog[k] = s.out[k];   /* on an error the kernel leaves the sets as they were */
    return ret;
}

/* True when one of the descriptors in the sets has a pending connect. */
static bool select_has_pending(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
    fd_set *sets[3] = {r, w, e};
    if (nfds > FD_SETSIZE)
        nfds = FD_SETSIZE;
    for (int fd = 0; fd < nfds; fd++) {
        bw_conn *c = bw_fdt_get(fd);
        if (!c || bw_pend_phase_of(c) == BW_PEND_NONE)
            continue;
        for (int k = 0; k < 3; k++)
            if (sets[k] && FD_ISSET(fd, sets[k]))
                return true;
    }
    return false;
}

BW_SLOW int select_slow(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    if (!select_has_pending(nfds, r, w, e) || (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)))
        return bw_real.select(nfds, r, w, e, tv);
    int64_t end = FOREVER;
    if (tv && tv->tv_sec <= INT32_MAX)
        end = now_ns() + tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
    int ret = select_managed(nfds, r, w, e, end, NULL, false);
    if (tv && end != FOREVER) {
        /* Linux leaves the time not slept in *tv; so does this. */
        int saved = errno;
        struct timespec t = left_ts(end);
        *tv = (struct timeval){t.tv_sec, t.tv_nsec / 1000};
        errno = saved;
    }
    return ret;
}

BW_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return select_slow(nfds, r, w, e, tv);
    return bw_real.select(nfds, r, w, e, tv);
}

BW_SLOW int pselect_slow(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
                         const sigset_t *mask)
{
    if (!select_has_pending(nfds, r, w, e))
        return bw_real.pselect(nfds, r, w, e, t, mask);
    return select_managed(nfds, r, w, e, end_of_ts(t), mask, true);
}

BW_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
                      const sigset_t *mask)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return pselect_slow(nfds, r, w, e, t, mask);
    return bw_real.pselect(nfds, r, w, e, t, mask);
}

/* ---- epoll ---- */

#define EPOLL_PENDING_MAX 64

enum epoll_kind { EP_WAIT, EP_PWAIT, EP_PWAIT2 };

static int epoll_real(enum epoll_kind kind, int epfd, struct epoll_event *ev, int max,
                      int64_t wake, const sigset_t *mask)
{
    struct timespec t;
    switch (kind) {
    case EP_WAIT:
        return bw_real.epoll_wait(epfd, ev, max, left_ms(wake));
    case EP_PWAIT:
        return bw_real.epoll_pwait(epfd, ev, max, left_ms(wake), mask);
    default:
        t = left_ts(wake);
        return bw_real.epoll_pwait2(epfd, ev, max, wake == FOREVER ? NULL : &t, mask);
    }
}

/* Hides event i of ev[0..*n) when it is a pending socket's retried failure. */
static bool hide_event(struct epoll_event *ev, int *n, int i, const int *fds, int nfds)
{
    for (int k = 0; k < nfds; k++) {
        if (!bw_epreg_matches(fds[k], ev[i].data.u64))
            continue;
        if (shown(fds[k]))
            return false;
        bw_epreg_rearm(fds[k]);   /* still connecting: a one-shot registration fired for nothing */
        ev[i] = ev[--*n];         /* the order of events is no promise of epoll's */
        return true;
    }
    return false;
}

/*
 * epoll_wait and its siblings, ending at end. The pending sockets are the
 * ones registered in epfd (epreg.c); an event is theirs when its data is
 * what the program registered them with.
 */
static int epoll_managed(enum epoll_kind kind, int epfd, struct epoll_event *ev, int max,
                         int64_t end, const sigset_t *mask)
{
    int fds[EPOLL_PENDING_MAX];
    int ret, cs;
    for (;;) {
        if (!book_begin(&cs)) {
            ret = epoll_real(kind, epfd, ev, max, end, mask);
            break;
        }
        int nfds = bw_pend_in_epoll(epfd, fds, EPOLL_PENDING_MAX);
        int64_t wake = end;
        bool managed = false;
        for (int k = 0; k < nfds; k++) {
            bw_conn *c = bw_pend_grab(fds[k]);
            if (!c)
                continue;
            int phase = step(fds[k], c, &wake);
            managed |= phase == BW_PEND_ATTEMPT || phase == BW_PEND_BACKOFF;
            bw_pend_release(c);
        }
        book_end(cs);
        ret = epoll_real(kind, epfd, ev, max, managed ? wake : end, mask);
        int err = errno;
        if (ret > 0 && book_begin(&cs)) {
            for (int i = 0; i < ret;)
                if (!hide_event(ev, &ret, i, fds, nfds))
                    i++;
            book_end(cs);
        }
        errno = err;
        if (ret != 0 || !managed || now_ns() >= end)
            break;
    }
    return ret;
}

/* The waits on epfd while connects are pending somewhere: sliced only
 * when one of them is registered in epfd. */
BW_SLOW int epoll_slow(enum epoll_kind kind, int epfd, struct epoll_event *ev, int max,
                       int ms, const struct timespec *t, const sigset_t *mask)
{
    int fd, cs, n = 0;
    if (book_begin(&cs)) {
        n = bw_pend_in_epoll(epfd, &fd, 1);
        book_end(cs);
    }
    if (n == 0) {
        if (kind == EP_WAIT)
            return bw_real.epoll_wait(epfd, ev, max, ms);
        if (kind == EP_PWAIT)
            return bw_real.epoll_pwait(epfd, ev, max, ms, mask);
        return bw_real.epoll_pwait2(epfd, ev, max, t, mask);
    }
    return epoll_managed(kind, epfd, ev, max, kind == EP_PWAIT2 ? end_of_ts(t) : end_of_ms(ms),
                         mask);
}

BW_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return epoll_slow(EP_WAIT, epfd, ev, max, timeout, NULL, NULL);
    return bw_real.epoll_wait(epfd, ev, max, timeout);
}

BW_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                          const sigset_t *mask)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return epoll_slow(EP_PWAIT, epfd, ev, max, timeout, NULL, mask);
    return bw_real.epoll_pwait(epfd, ev, max, timeout, mask);
}

BW_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *t,
                           const sigset_t *mask)
{
    if (__builtin_expect(bw_pend_any(), 0))
        return epoll_slow(EP_PWAIT2, epfd, ev, max, 0, t, mask);
    return bw_real.epoll_pwait2(epfd, ev, max, t, mask);
}

BW_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    return bw_epreg_ctl(epfd, op, fd, ev);
}
