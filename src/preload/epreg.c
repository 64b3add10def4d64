/*
 * epreg.c - the epoll registrations of TCP sockets whose connect is pending
 * or not made yet (nginx registers a socket before it connects), so that a
 * socket in backoff can leave its epoll instance and come back exactly as
 * the program registered it (see pending.h).
 *
 * While a socket is out (suspended), the program's own epoll_ctl calls on it
 * are answered from the record as the kernel would answer them: MOD and DEL
 * succeed, ADD says EEXIST. A socket registered in two instances at once is
 * marked and never suspended: its failures are shown as they come.
 *
 * Re-entry (reentry.c): reg_lock is taken only inside the shim (bw_enter),
 * with cancellation off, so that a signal handler's epoll_ctl, close or
 * wait never waits for the lock its own thread holds: its epoll_ctl passes
 * through. Forgetting is lock-free, since close() may run anywhere: a
 * descriptor's record counts only while it has the fact BW_FACT_EPREG
 * (shim.h; a close forgets it with the number's other facts), and a
 * closed epoll instance is marked in dead_ep, whose records are dropped by
 * the next holder of the lock before it looks at any (a number reused for
 * a new instance is registered into only after that).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bw_fdbits.h"
#include "pending.h"

enum { REG_NONE, REG_ACTIVE, REG_SUSPENDED, REG_MULTI };

struct reg {
    int epfd;
    uint8_t state;
    struct epoll_event ev;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg *regs;      /* indexed by descriptor */
static size_t regs_cap;
static bw_fdbits dead_ep;     /* epoll instances closed since the last lock */

/* A record counts only while its descriptor has this fact. */
static bool has_reg(int fd)
{
    return bw_fd_fact(fd, BW_FACT_EPREG);
}

static void unmark_reg(int fd)
{
    bw_fdfacts_unmark(&bw_fd_facts, fd, BW_FACT_EPREG);
}

static bool any_reg(void)
{
    return bw_fdfacts_count(&bw_fd_facts, BW_FACT_EPREG) > 0;
}

/* Drops the records of the instances in dead_ep; reg_lock held. */
static void drain_dead(void)
{
    for (size_t w = 0; w < BW_FDT_MAX / 64 && bw_fdbits_any(&dead_ep); w++) {
        uint64_t bits = atomic_load_explicit(&dead_ep.words[w], memory_order_relaxed);
        for (; bits; bits &= bits - 1) {
            int epfd = (int)(w * 64 + (size_t)__builtin_ctzll(bits));
            bw_fdbits_unmark(&dead_ep, epfd);
            for (size_t fd = 0; fd < regs_cap; fd++)
                if (regs[fd].epfd == epfd)
                    unmark_reg((int)fd);
        }
    }
}

/* Takes reg_lock with cancellation off (*cs: the state to restore). The
 * caller is inside the shim: no hook of this thread can then wait for it. */
static void reg_take(int *cs)
{
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cs);
    pthread_mutex_lock(&reg_lock);
    if (bw_fdbits_any(&dead_ep))
        drain_dead();
}

static void reg_give(int cs)
{
    pthread_mutex_unlock(&reg_lock);
    pthread_setcancelstate(cs, NULL);
}

/* The record of fd, grown into when grow; NULL when there is none. reg_lock held. */
static struct reg *slot(int fd, bool grow)
{
    if (fd < 0 || (unsigned)fd >= BW_FDT_MAX)
        return NULL;
    if ((size_t)fd >= regs_cap) {
        if (!grow)
            return NULL;
        size_t cap = regs_cap ? regs_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct reg *n = realloc(regs, cap * sizeof *n);
        if (!n)
            return NULL;
        memset(n + regs_cap, 0, (cap - regs_cap) * sizeof *n);
        regs = n;
        regs_cap = cap;
    }
    if (!has_reg(fd))
        regs[fd].state = REG_NONE;   /* forgotten without the lock */
    return &regs[fd];
}

static void set_state(int fd, struct reg *r, uint8_t state)
{
    r->state = state;
    if (state == REG_NONE)
        unmark_reg(fd);
    else
        bw_fdfacts_mark(&bw_fd_facts, fd, BW_FACT_EPREG);
}

/* Sockets worth a record: made by socket() and not (yet) connected for good. */
static bool interesting(int fd)
{
    if (has_reg(fd))
        return true;
    if (!bw_tcp_known(fd))
        return false;
    bw_conn *c = bw_fdt_get(fd);
    return !c || bw_pend_phase_of(c) != BW_PEND_NONE;
}

static int ctl_entered(int epfd, int op, int fd, struct epoll_event *ev);

/* A thread that may not enter the shim now (a signal handler that
 * interrupted it, a vfork child) registers untracked. */
int bw_epreg_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (!interesting(fd) || !bw_enter())
        return bw_real.epoll_ctl(epfd, op, fd, ev);
    int cs;
    reg_take(&cs);
    int ret = ctl_entered(epfd, op, fd, ev);
    int err = errno;
    reg_give(cs);
    bw_leave();
    errno = err;
    return ret;
}

/* bw_epreg_ctl's work, with reg_lock held. */
static int ctl_entered(int epfd, int op, int fd, struct epoll_event *ev)
{
    struct reg *r = slot(fd, op == EPOLL_CTL_ADD);
    int ret;
    if (r && r->state == REG_SUSPENDED && r->epfd == epfd) {
        /* Out of the instance for a backoff: answer as if it were in. */
        if (op == EPOLL_CTL_ADD) {
            errno = EEXIST;
            ret = -1;
        } else {
            if (op == EPOLL_CTL_MOD && ev)
                r->ev = *ev;
            else if (op == EPOLL_CTL_DEL)
                set_state(fd, r, REG_NONE);
            ret = 0;
        }
        return ret;
    }
    bw_conn *c = bw_fdt_get(fd);
    if (op == EPOLL_CTL_ADD && r && r->state == REG_NONE && ev && c &&
        bw_pend_phase_of(c) == BW_PEND_BACKOFF) {
        /* Registered during a backoff: kept out until the next attempt. */
        r->epfd = epfd;
        r->ev = *ev;
        set_state(fd, r, REG_SUSPENDED);
        return 0;
    }
    ret = bw_real.epoll_ctl(epfd, op, fd, ev);
    if (ret == 0 && r) {
        int saved = errno;
        if (op == EPOLL_CTL_ADD && ev) {
            if (r->state == REG_NONE) {
                r->epfd = epfd;
                r->ev = *ev;
                set_state(fd, r, REG_ACTIVE);
            } else if (r->epfd != epfd) {
                set_state(fd, r, REG_MULTI);
            }
        } else if (op == EPOLL_CTL_MOD && ev && r->state == REG_ACTIVE && r->epfd == epfd) {
            r->ev = *ev;
        } else if (op == EPOLL_CTL_DEL && r->epfd == epfd) {
            set_state(fd, r, REG_NONE);
        }
        errno = saved;
    }
    return ret;
}

/* The lookups and moves below are made inside the shim (pending.c, wait.c),
 * which has entered it; they take reg_lock through reg_take. */
int bw_epreg_epfd(int fd)
{
    if (!has_reg(fd))
        return -1;
    int cs;
    reg_take(&cs);
    struct reg *r = slot(fd, false);
    int epfd = r && (r->state == REG_ACTIVE || r->state == REG_SUSPENDED) ? r->epfd : -1;
    reg_give(cs);
    return epfd;
}

bool bw_epreg_matches(int fd, uint64_t data)
{
    int cs;
    reg_take(&cs);
    struct reg *r = slot(fd, false);
    bool same = r && r->state == REG_ACTIVE && r->ev.data.u64 == data;
    reg_give(cs);
    return same;
}

void bw_epreg_suspend(int fd)
{
    if (!has_reg(fd))
        return;
    int saved = errno, cs;
    reg_take(&cs);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_ACTIVE) {
        if (bw_real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
            set_state(fd, r, REG_SUSPENDED);
        else
            set_state(fd, r, REG_NONE);   /* the instance is gone */
    }
    reg_give(cs);
    errno = saved;
}

void bw_epreg_resume(int fd)
{
    if (!has_reg(fd))
        return;
    int saved = errno, cs;
    reg_take(&cs);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_SUSPENDED) {
        struct epoll_event ev = r->ev;
        if (bw_real.epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
            set_state(fd, r, REG_ACTIVE);
        else
            set_state(fd, r, REG_NONE);
    }
    reg_give(cs);
    errno = saved;
}

void bw_epreg_rearm(int fd)
{
    if (!has_reg(fd))
        return;
    int saved = errno, cs;
    reg_take(&cs);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_ACTIVE && (r->ev.events & EPOLLONESHOT)) {
        struct epoll_event ev = r->ev;
        bw_real.epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    reg_give(cs);
    errno = saved;
}

/* The forgets run on close paths, anywhere (a signal handler, a vfork
 * child excepted by the caller): lock-free, see the file comment. */
void bw_epreg_forget(int fd)
{
    unmark_reg(fd);
}

void bw_epreg_forget_epoll(int epfd)
{
    if (any_reg())
        bw_fdbits_mark(&dead_ep, epfd);
}

void bw_epreg_atfork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
}

void bw_epreg_atfork_parent(void)
{
    pthread_mutex_unlock(&reg_lock);
}

void bw_epreg_atfork_child(void)
{
    pthread_mutex_unlock(&reg_lock);   /* taken in prepare by this very thread */
}
