/*
 * guard.c - the shell around the breaker and the bulkhead: takes the entry
 * lock, asks the core, logs transitions and rejections, counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bw_breaker.h"
#include "bw_bulkhead.h"
#include "bw_log.h"
#include "bw_proc.h"
#include "attempt.h"
#include "guard.h"
#include "record.h"
#include "shim.h"

static bw_ratelimit reject_log_limit;
static atomic_bool stuck_logged;

/* Locks e; says once, when the state's locks turned out stuck, that the
 * process goes on without them. */
static bool lock_entry(bw_entry *e)
{
    if (bw_entry_lock(e) == 0)
        return true;
    if (bw_state_locks_stuck() && !atomic_exchange(&stuck_logged, true))
        bw_log(BW_LOG_WARN, "a shared state lock stayed held for over 2 s (a stuck or "
               "corrupt state file): continuing without breaker and bulkhead state");
    return false;
}

/* Records a transition in the events and logs it. */
static void log_transition(const bw_conn *c, const bw_breaker_transition *t)
{
    bw_record_transition(c, t);
    if (!bw_log_enabled(BW_LOG_WARN))
        return;
    char addr[64], text[512];
    if (c->policy->breaker_scope == BW_SCOPE_DESTINATION)
        snprintf(addr, sizeof addr, "*");
    else
        bw_format_addr((const struct sockaddr *)&c->addr, addr, sizeof addr);
    bw_breaker_format(text, sizeof text, c->dest_name, addr, t);
    bw_log(t->to == BW_BRK_HALF_OPEN ? BW_LOG_INFO : BW_LOG_WARN, "%s", text);
}

static void log_rejection(const bw_conn *c, const char *what)
{
    if (!bw_log_enabled(BW_LOG_INFO) ||
        !bw_ratelimit_allow(&reject_log_limit, bw_now_ms(), 10, 20))
        return;
    char addr[64];
    bw_format_addr((const struct sockaddr *)&c->addr, addr, sizeof addr);
    bw_log(BW_LOG_INFO, "%s %s %s", c->dest_name, addr, what);
}

int bw_guard_breaker_admit(bw_conn *c, bool retry)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->breaker_entry;
    c->probe_token = 0;
    if (!e || p->breaker == BW_BREAKER_OFF || !lock_entry(e))
        return 0;
    bw_breaker_decision d;
    bw_breaker_admit(&e->breaker, p, bw_now_ms(), (uint32_t)bw_rand64(), &d);
    bw_entry_unlock(e);
    if (d.changed)
        log_transition(c, &d.transition);
    if (d.verdict == BW_ADMIT_PROBE)
        c->probe_token = d.probe_token;
    if (d.would_reject) {
        char what[96];
        snprintf(what, sizeof what, "dry-run: breaker would reject this connect (next probe in %u ms)",
                 d.open_left_ms);
        log_rejection(c, what);
    }
    if (d.verdict != BW_ADMIT_REJECT)
        return 0;
    c->rejected_by_slow_start = d.slow_start;
    if (!retry)   /* a retry not made is no rejection: connect returns the real error */
        bw_guard_note_rejection(c);
    return p->breaker_errno;
}

void bw_guard_note_rejection(bw_conn *c)
{
    bw_record_rejection(c, BW_REJ_BREAKER);
    log_rejection(c, c->rejected_by_slow_start ? "rejected: slow start after the breaker closed"
                                               : "rejected: breaker open");
}

void bw_guard_breaker_open_for(bw_conn *c, uint32_t ms)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->breaker_entry;
    if (!e || p->breaker == BW_BREAKER_OFF || !lock_entry(e))
        return;
    bw_breaker_transition t;
    bool changed = bw_breaker_open_for(&e->breaker, p, bw_now_ms(), ms, &t);
    bw_entry_unlock(e);
    if (changed)
        log_transition(c, &t);
}

int bw_guard_rate_take(bw_conn *c, bool may_wait, int64_t wait_limit_ms)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->dest_entry;
    if (!p->connect_rate || !e)
        return 0;
    int64_t t0 = bw_now_ms();
    for (;;) {
        if (!lock_entry(e))
            return 0;
        int64_t now = bw_now_ms();
        int64_t wait = bw_rate_take(&e->rate, p->connect_rate, p->connect_rate_burst, now);
        bw_entry_unlock(e);
        if (wait == 0)
            return 0;
        if (!may_wait || (wait_limit_ms >= 0 && now + wait - t0 > wait_limit_ms)) {
            log_rejection(c, "rejected: over connect_rate");
            return p->bulkhead_errno;
        }
        if (bw_sleep_ms((uint32_t)wait) != 0)
            return EINTR;
    }
}

void bw_guard_breaker_record(bw_conn *c, bool ok, uint32_t duration_ms)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->breaker_entry;
    if (!e || p->breaker == BW_BREAKER_OFF || !lock_entry(e))
        return;
    bw_breaker_transition t;
    bool changed = bw_breaker_record(&e->breaker, p, bw_now_ms(), (uint32_t)bw_rand64(),
                                     ok ? BW_CALL_SUCCESS : BW_CALL_FAILURE, duration_ms,
                                     c->probe_token, &t);
    bw_entry_unlock(e);
    c->probe_token = 0;
    if (changed)
        log_transition(c, &t);
}

/* Atomic because threads race to fill them in (TSan saw it): my_pid is
 * published after my_start, so whoever reads our pid there also sees its start. */
static _Atomic pid_t my_pid;
static _Atomic uint64_t my_start;

static void whoami(int32_t *pid, uint64_t *start)
{
    pid_t now = bw_self_pid();
    if (atomic_load_explicit(&my_pid, memory_order_acquire) != now) {
        /* first use, or we are a fork child; racing threads store the same values */
        atomic_store_explicit(&my_start, bw_proc_start_time(now), memory_order_relaxed);
        atomic_store_explicit(&my_pid, now, memory_order_release);
    }
    *pid = now;
    *start = atomic_load_explicit(&my_start, memory_order_relaxed);
}


/* Waits for the bulkhead's seq to move from seen, at most ms. The
 * non-private futex operations work for shared and private mappings alike,
 * as long as waiter and waker use the same kind. */
static void wait_seq(bw_bulkhead *b, uint32_t seen, int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    int saved = errno;
    bw_real.syscall(SYS_futex, &b->seq, FUTEX_WAIT, seen, &ts, NULL, 0);
    errno = saved;
}

/* try_slot's answer when the entry cannot be locked. */
#define UNLOCKABLE ((enum bw_bh_result) - 1)

/* One try at a slot, reclaiming the slots of dead processes when full. */
static enum bw_bh_result try_slot(bw_entry *e, uint32_t max, int32_t pid, uint64_t start,
                                  bool ticketed, uint32_t ticket)
{
    enum bw_bh_result r;
    int64_t now = bw_now_ms();
    if (!lock_entry(e))
        return UNLOCKABLE;
    for (int round = 0; round < 2; round++) {
        r = ticketed ? bw_bulkhead_try_acquire_ticket(&e->bulkhead, max, ticket, pid, start, now)
                     : bw_bulkhead_acquire(&e->bulkhead, max, pid, start, now);
        if (bw_bh_admitted(r) || round == 1 || !bw_bulkhead_should_reclaim(&e->bulkhead, max) ||
            bw_bulkhead_reclaim(&e->bulkhead, bw_proc_alive, NULL) == 0)
            break;
    }
    bw_entry_unlock(e);
    return r;
}

int bw_guard_bulkhead_take(bw_conn *c, bool may_wait)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->bulkhead_entry;
    if (!e)
        return 0;   /* max 0 still takes a counted slot: status shows what is active */
    int32_t pid;
    uint64_t start;
    whoami(&pid, &start);
    enum bw_bh_result r = try_slot(e, p->max_connections, pid, start, false, 0);
    if (r == BW_BH_REJECTED)
        bw_record_bulkhead_full(c, p->max_connections);
    if (r == BW_BH_REJECTED && may_wait && p->bulkhead_wait_ms > 0) {
        int64_t deadline = bw_now_ms() + p->bulkhead_wait_ms;
        uint32_t ticket = 0;
        bool queued = false;
        if (bw_entry_lock(e) == 0) {
            queued = bw_bulkhead_take_ticket(&e->bulkhead, pid, start, bw_now_ms(), deadline, &ticket);
            bw_entry_unlock(e);
        }
        while (queued) {
            uint32_t seen = bw_bulkhead_seq(&e->bulkhead);
            r = try_slot(e, p->max_connections, pid, start, true, ticket);
            int64_t left = deadline - bw_now_ms();
            if (r != BW_BH_WAIT || left <= 0)
                break;
            /* Short naps too, so a waiter in another process that dies is noticed. */
            wait_seq(&e->bulkhead, seen, left < 50 ? left : 50);
        }
        if (queued && !bw_bh_admitted(r) && bw_entry_lock(e) == 0) {
            bw_bulkhead_cancel_ticket(&e->bulkhead, ticket);
            bw_entry_unlock(e);
            r = BW_BH_REJECTED;
        }
    }
    if (r == UNLOCKABLE)
        return 0;   /* never block the program on our own state: admit, holding no slot */
    if (bw_bh_admitted(r)) {
        c->holds_slot = true;
        c->slot_untracked = r == BW_BH_UNTRACKED;
        return 0;
    }
    bw_record_rejection(c, BW_REJ_BULKHEAD);
    log_rejection(c, "rejected: bulkhead full");
    return p->bulkhead_errno;
}

void bw_conn_release_slot(bw_conn *c)
{
    bw_entry *e = c->bulkhead_entry;
    if (!c->holds_slot || !e)
        return;
    c->holds_slot = false;
    int32_t pid;
    uint64_t start;
    whoami(&pid, &start);
    if (pid != c->owner)
        return;     /* a fork child closing what its parent opened keeps the parent's slot */
    if (bw_entry_lock(e) != 0)
        return;
    if (c->slot_untracked)
        bw_bulkhead_release_untracked(&e->bulkhead);
    else
        bw_bulkhead_release(&e->bulkhead, pid, start);
    /* A waiter queues its ticket under this lock before it sleeps, so none
     * seen now means nobody to wake: skip the system call (every connect
     * rejected by the breaker passes here). */
    bool waiters = bw_bulkhead_waiting(&e->bulkhead, bw_now_ms()) > 0;
    bw_entry_unlock(e);
    if (!waiters)
        return;
    /* Wake every waiter: each checks whether its ticket is the oldest. */
    int saved = errno;
    bw_real.syscall(SYS_futex, &e->bulkhead.seq, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
    errno = saved;
}
