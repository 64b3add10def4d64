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
static bw_fdbits has_reg;     /* lock-free "is there a record" for close() */

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
    return &regs[fd];
}

static void set_state(int fd, struct reg *r, uint8_t state)
{
    r->state = state;
    if (state == REG_NONE)
        bw_fdbits_unmark(&has_reg, fd);
    else
        bw_fdbits_mark(&has_reg, fd);
}

/* Sockets worth a record: made by socket() and not (yet) connected for good. */
static bool interesting(int fd)
{
    if (bw_fdbits_has(&has_reg, fd))
        return true;
    if (!bw_tcp_known(fd))
        return false;
    bw_conn *c = bw_fdt_get(fd);
    return !c || bw_pend_phase_of(c) != BW_PEND_NONE;
}

int bw_epreg_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (!interesting(fd))
        return bw_real.epoll_ctl(epfd, op, fd, ev);
    pthread_mutex_lock(&reg_lock);
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
        pthread_mutex_unlock(&reg_lock);
        return ret;
    }
    bw_conn *c = bw_fdt_get(fd);
    if (op == EPOLL_CTL_ADD && r && r->state == REG_NONE && ev && c &&
        bw_pend_phase_of(c) == BW_PEND_BACKOFF) {
        /* Registered during a backoff: kept out until the next attempt. */
        r->epfd = epfd;
        r->ev = *ev;
        set_state(fd, r, REG_SUSPENDED);
        pthread_mutex_unlock(&reg_lock);
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
    pthread_mutex_unlock(&reg_lock);
    return ret;
}

int bw_epreg_epfd(int fd)
{
    if (!bw_fdbits_has(&has_reg, fd))
        return -1;
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    int epfd = r && (r->state == REG_ACTIVE || r->state == REG_SUSPENDED) ? r->epfd : -1;
    pthread_mutex_unlock(&reg_lock);
    return epfd;
}

bool bw_epreg_matches(int fd, uint64_t data)
{
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    bool same = r && r->state == REG_ACTIVE && r->ev.data.u64 == data;
    pthread_mutex_unlock(&reg_lock);
    return same;
}

void bw_epreg_suspend(int fd)
{
    if (!bw_fdbits_has(&has_reg, fd))
        return;
    int saved = errno;
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_ACTIVE) {
        if (bw_real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
            set_state(fd, r, REG_SUSPENDED);
        else
            set_state(fd, r, REG_NONE);   /* the instance is gone */
    }
    pthread_mutex_unlock(&reg_lock);
    errno = saved;
}

void bw_epreg_resume(int fd)
{
    if (!bw_fdbits_has(&has_reg, fd))
        return;
    int saved = errno;
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_SUSPENDED) {
        struct epoll_event ev = r->ev;
        if (bw_real.epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
            set_state(fd, r, REG_ACTIVE);
        else
            set_state(fd, r, REG_NONE);
    }
    pthread_mutex_unlock(&reg_lock);
    errno = saved;
}

void bw_epreg_rearm(int fd)
{
    if (!bw_fdbits_has(&has_reg, fd))
        return;
    int saved = errno;
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    if (r && r->state == REG_ACTIVE && (r->ev.events & EPOLLONESHOT)) {
        struct epoll_event ev = r->ev;
        bw_real.epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    pthread_mutex_unlock(&reg_lock);
    errno = saved;
}

void bw_epreg_forget(int fd)
{
    if (!bw_fdbits_has(&has_reg, fd))
        return;
    pthread_mutex_lock(&reg_lock);
    struct reg *r = slot(fd, false);
    if (r)
        set_state(fd, r, REG_NONE);
    pthread_mutex_unlock(&reg_lock);
}

void bw_epreg_forget_epoll(int epfd)
{
    if (!bw_fdbits_any(&has_reg))
        return;
    pthread_mutex_lock(&reg_lock);
    for (size_t fd = 0; fd < regs_cap; fd++)
        if (regs[fd].state != REG_NONE && regs[fd].epfd == epfd)
            set_state((int)fd, &regs[fd], REG_NONE);
    pthread_mutex_unlock(&reg_lock);
}

void bw_epreg_forget_range(unsigned lo, unsigned hi)
{
    if (!bw_fdbits_any(&has_reg))
        return;
    pthread_mutex_lock(&reg_lock);
    for (size_t fd = lo; fd < regs_cap && fd <= hi; fd++)
        if (regs[fd].state != REG_NONE)
            set_state((int)fd, &regs[fd], REG_NONE);
    pthread_mutex_unlock(&reg_lock);
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
