/*
 * pending.h - non-blocking connects whose retries run inside the program's
 * own waits (nonblocking = auto, SPEC section 4).
 *
 * connect() returns EINPROGRESS at once; a failed attempt is hidden from
 * the program and re-issued on the same socket when its backoff is due, by
 * whichever of the program's waits (wait.c), getsockopt(SO_ERROR) or
 * connect() calls comes next. While a backoff runs, the socket is hidden:
 * left out of poll and select sets, taken out of the program's epoll
 * instance (epreg.c) and put back with the program's own events and data
 * when the next attempt starts. Waits slice their timeout at the next due
 * time, never past the program's own, so the program's deadline always wins.
 *
 * Cost: bw_pend_any() is one relaxed load; waits do nothing else while no
 * connect is pending anywhere in the process.
 */
#ifndef BW_PENDING_H
#define BW_PENDING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "shim.h"

enum bw_pend_phase {
    BW_PEND_NONE,      /* not a pending connect (or its outcome was delivered) */
    BW_PEND_ATTEMPT,   /* an attempt is in flight in the kernel */
    BW_PEND_BACKOFF,   /* the last attempt failed; the next is due at due_ms */
    BW_PEND_FINAL,     /* failed for good: err waits for the program's SO_ERROR */
};

extern atomic_int bw_pend_count;   /* connections in ATTEMPT or BACKOFF */

static inline bool bw_pend_any(void)
{
    return atomic_load_explicit(&bw_pend_count, memory_order_relaxed) > 0;
}

static inline int bw_pend_phase_of(bw_conn *c)
{
    return atomic_load_explicit(&c->pend, memory_order_acquire);
}

/*
 * connect() in auto mode, after the first attempt was made on fd: err is its
 * errno (EINPROGRESS, or a failure the kernel gave at once). Returns what
 * connect() returns: -1 with EINPROGRESS when the connect is now pending
 * (in flight, or in backoff before a retry), else the kernel's own answer.
 */
int bw_pend_start(int fd, bw_conn *c, int err);

/*
 * Moves fd's pending connect forward at now_ms: starts a retry whose backoff
 * is over, abandons an attempt past its time limit. Returns the phase after.
 */
int bw_pend_advance(int fd, bw_conn *c, int64_t now_ms);

/*
 * A wait reported fd (in ATTEMPT): learns the attempt's outcome from the
 * kernel. Returns true when the program is to see the event (connected, or
 * failed with no retry left: the error is kept for its SO_ERROR), false when
 * the event is hidden (a retry is scheduled, or the socket is still connecting).
 */
bool bw_pend_check(int fd, bw_conn *c, int64_t now_ms);

/* The time at which fd next needs the shim (a due retry, an attempt's limit), or INT64_MAX. */
int64_t bw_pend_next_ms(bw_conn *c);

/* getsockopt(SO_ERROR) on a pending connect: stores what the program is told
 * in *val: 0 while connecting or while a retry is pending (a due retry is
 * started); the final error once. An attempt that failed while no wait of
 * the shim's has looked after this connect (the program waits with one that
 * began before the connect was pending) is final: a hidden failure would
 * read as success. Returns false when c is not pending. */
bool bw_pend_so_error(int fd, bw_conn *c, int *val);

/* connect() called again on a pending connect. Returns false when c is not pending. */
bool bw_pend_connect_again(int fd, bw_conn *c, int *ret);

/* The connection is gone (its last descriptor closed): ends a pending connect. */
void bw_pend_drop(bw_conn *c);

/* Fork: prepare takes the list's lock; the parent releases it; the child
 * releases it and forgets the pending connects (they belong to the parent). */
void bw_pend_atfork_prepare(void);
void bw_pend_atfork_parent(void);
void bw_pend_atfork_child(void);

/* The calls below (and epreg.c's but bw_epreg_ctl and the forgets) take
 * the shim's locks: callers are inside the shim (bw_enter), with
 * cancellation off, as wait.c's bookkeeping is. */

/* Up to max descriptors with a pending connect registered in epoll instance epfd. */
int bw_pend_in_epoll(int epfd, int *fds, int max);

/* Waits' per-descriptor step: a referenced, locked record of fd with a
 * pending connect, or NULL (nothing pending, or another thread is on it). */
bw_conn *bw_pend_grab(int fd);
void bw_pend_release(bw_conn *c);
/* A grabbed c: a wait of the shim's looks after its connect from now on. */
void bw_pend_waited(bw_conn *c);

/*
 * epreg.c - epoll registrations of sockets that are or may become pending
 * (TCP sockets before their connect completes), so that a socket in backoff
 * can be taken out of its epoll instance and put back as the program left it.
 */
/* epoll_ctl() for the program: the real call, plus the registration kept. */
int bw_epreg_ctl(int epfd, int op, int fd, struct epoll_event *ev);
/* fd's epoll instance, or -1 when it has none or more than one. */
int bw_epreg_epfd(int fd);
/* True when the event data of fd's registration equals data. */
bool bw_epreg_matches(int fd, uint64_t data);
/* Takes fd out of its instance for a backoff / puts it back as registered. */
void bw_epreg_suspend(int fd);
void bw_epreg_resume(int fd);
/* A hidden event of fd's disarmed an EPOLLONESHOT registration that is still
 * in place: arms it again. */
void bw_epreg_rearm(int fd);
/* fd was closed, or connected for good: its registration is no longer kept.
 * Lock-free, as the one below, so that close() may call them anywhere (a
 * close, or a close_range of fd, forgets it with fd's other facts, shim.h). */
void bw_epreg_forget(int fd);
/* An epoll instance was closed: registrations in it are dropped. */
void bw_epreg_forget_epoll(int epfd);
/* Fork: the registration table's lock, taken in prepare, released after. */
void bw_epreg_atfork_prepare(void);
void bw_epreg_atfork_parent(void);
void bw_epreg_atfork_child(void);

#endif
