/*
 * guard.c - the shell around the shared state's decisions: the one place
 * that takes an entry lock (lock_entry) and asks the core under it
 * (breaker, bulkhead, connect_rate, retry budget), then logs transitions
 * and rejections and counts, with the lock released.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bw_breaker.h"
#include "bw_budget.h"
#include "bw_bulkhead.h"
#include "bw_log.h"
#include "bw_proc.h"
#include "attempt.h"
#include "guard.h"
#include "record.h"
#include "shim.h"

static bw_ratelimit reject_log_limit;
static atomic_bool stuck_logged;

/*
 * Locks e. Nothing that can block, allocate, re-enter a hook or act on a
 * cancellation runs under the lock (liveness checks run outside it,
 * try_after_reclaim), so a thread is never cancelled holding it: cancellation is
 * deferred and nothing here is a cancellation point (with asynchronous
 * cancellation POSIX allows only the async-cancel-safe functions, and
 * connect is none; a process that dies holding a shared lock leaves it to
 * the robust mutex's recovery). Says once, when the state's locks turned out stuck, that the
 * process goes on without them.
 */
static bool lock_entry(bw_entry *e)
{
    if (bw_entry_lock(e) == 0)
        return true;
    if (bw_state_locks_stuck() && !atomic_exchange(&stuck_logged, true))
        bw_log(BW_LOG_WARN, "a shared state lock stayed held for over %d s (a stuck or "
               "corrupt state file): continuing without breaker and bulkhead state",
               BW_STATE_LOCK_WAIT_MS / 1000);
    return false;
}

static void unlock_entry(bw_entry *e)
{
    bw_entry_unlock(e);
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
    int64_t now = BW_NOW_UNREAD;
    return bw_guard_breaker_admit_at(c, retry, &now);
}

int bw_guard_breaker_admit_at(bw_conn *c, bool retry, int64_t *now_ms)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->breaker_entry;
    c->probe_token = 0;
    if (!e || bw_breaker_admits_now(&e->breaker, p))
        return 0;   /* closed: nothing to decide, no lock */
    int64_t until = bw_breaker_rejects_until(&e->breaker, p);
    if (until != INT64_MIN && !bw_state_locks_stuck() &&
        (*now_ms = bw_now_for(c, *now_ms)) < until) {
        /* Open and staying so: the lock would change nothing (a connect
         * failing over pays this rejection first). A process whose locks
         * got stuck runs without breakers, as below. */
        c->rejected_by_slow_start = false;
        if (!retry)
            bw_guard_note_rejection(c);
        return p->breaker_errno;
    }
    uint32_t rnd = (uint32_t)bw_rand64();   /* drawn before the lock, as every draw here */
    if (!lock_entry(e))
        return 0;
    bw_breaker_decision d;
    bw_breaker_admit(&e->breaker, p, bw_now_ms(), rnd, &d);
    unlock_entry(e);
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
    unlock_entry(e);
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
        unlock_entry(e);
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
    bw_guard_breaker_record_at(c, ok, duration_ms, bw_now_ms());
}

/* c's breaker entry, locked, with a random number drawn before the lock
 * (a first draw may be a cancellation point: shim.h); NULL when c has no
 * breaker or its entry cannot be locked. */
static bw_entry *lock_breaker(bw_conn *c, uint32_t *rnd)
{
    bw_entry *e = c->breaker_entry;
    if (!e || c->policy->breaker == BW_BREAKER_OFF)
        return NULL;
    *rnd = (uint32_t)bw_rand64();
    return lock_entry(e) ? e : NULL;
}

/* The end of a record under e's lock: unlocks, forgets the probe token and
 * logs a transition the record made. */
static void end_record(bw_conn *c, bw_entry *e, bool changed, const bw_breaker_transition *t)
{
    unlock_entry(e);
    c->probe_token = 0;
    if (changed)
        log_transition(c, t);
}

void bw_guard_breaker_record_at(bw_conn *c, bool ok, uint32_t duration_ms, int64_t now_ms)
{
    if (ok && bw_guard_breaker_success_quiet(c, duration_ms))
        return;
    uint32_t rnd;
    bw_entry *e = lock_breaker(c, &rnd);
    if (!e)
        return;
    if (ok) {
        c->run_before = bw_breaker_run_now(&e->breaker);
        c->success_recorded = true;
    }
    bw_breaker_transition t;
    bool changed = bw_breaker_record(&e->breaker, c->policy, now_ms, rnd,
                                     ok ? BW_CALL_SUCCESS : BW_CALL_FAILURE, duration_ms,
                                     c->probe_token, &t);
    end_record(c, e, changed, &t);
}

void bw_guard_breaker_replace(bw_conn *c)
{
    const bw_policy *p = c->policy;
    uint32_t rnd;
    bw_entry *e = lock_breaker(c, &rnd);
    if (!e)
        return;
    bw_breaker_transition t;
    bool changed;
    if (c->success_recorded)   /* read and written under e's lock */
        changed = bw_breaker_record_replacing(&e->breaker, p, bw_now_ms(), rnd,
                                              c->run_before, 0, &t);
    else
        changed = bw_breaker_record(&e->breaker, p, bw_now_ms(), rnd,
                                    BW_CALL_FAILURE, 0, c->probe_token, &t);
    c->success_recorded = false;
    end_record(c, e, changed, &t);
}

void bw_guard_budget_note_first(bw_conn *c)
{
    bw_entry *e = c->dest_entry;
    if (!e || bw_state_locks_stuck())
        return;   /* stuck: no budget, as lock_entry would say */
    int64_t now = bw_now_for(c, BW_NOW_ADMISSION);
    if (bw_budget_note_first_unlocked(&e->budget, now) || !lock_entry(e))
        return;
    bw_budget_note_first(&e->budget, now);
    unlock_entry(e);
}

bool bw_guard_budget_allows(bw_conn *c)
{
    const bw_policy *p = c->policy;
    bw_entry *e = c->dest_entry;
    if (!e || !lock_entry(e))
        return true;   /* no usable state: no budget to keep */
    bool ok = bw_budget_try_retry(&e->budget, p->retry_budget_percent,
                                  p->retry_budget_min_per_sec, bw_now_ms());
    unlock_entry(e);
    return ok;
}

bool bw_guard_breaker_keeps_out(bw_entry *e, const bw_policy *p)
{
    if (!e)
        return false;
    /* Without the entry's lock: the answer may be stale a moment later
     * anyway, and an address chosen on it is admitted under the lock. */
    enum bw_breaker_state s = bw_breaker_state_peek(&e->breaker, p);
    return s == BW_BRK_OPEN || s == BW_BRK_FORCED_OPEN || s == BW_BRK_HALF_OPEN;
}

/* Atomic because threads race to fill them in (TSan saw it): my_pid is
 * published after my_start, so whoever reads our pid there also sees its start. */
static _Atomic pid_t my_pid;
static _Atomic uint64_t my_start;

/* Fills in my_start and my_pid for this process, whose pid is now: on
 * first use, or in a fork child. Racing threads store the same values. */
static __attribute__((noinline)) void learn_self(pid_t now)
{
    atomic_store_explicit(&my_start, bw_proc_start_time(now), memory_order_relaxed);
    atomic_store_explicit(&my_pid, now, memory_order_release);
}

/* The start time of this process, whose pid is now. */
static inline uint64_t start_of_self(pid_t now)
{
    if (atomic_load_explicit(&my_pid, memory_order_acquire) != now)
        learn_self(now);
    return atomic_load_explicit(&my_start, memory_order_relaxed);
}

/* This process's pid and start time: who owns the slots it takes. */
static void whoami(int32_t *pid, uint64_t *start)
{
    *pid = bw_self_pid();
    *start = start_of_self(*pid);
}


/* Waits for the bulkhead's seq to move from seen, at most ms. */
static void wait_seq(bw_bulkhead *b, uint32_t seen, int64_t ms)
{
    bw_sys_futex_wait(&b->seq, seen, ms);
}

/* try_slot's answer when the entry cannot be locked. */
#define UNLOCKABLE ((enum bw_bh_result) - 1)

/* The owners and waiters of a bulkhead, and the sockets holding slots,
 * copied out under its lock. */
struct owner_list {
    unsigned n;
    int32_t pid[BW_BULKHEAD_OWNERS + BW_BULKHEAD_WAITERS];
    uint64_t start[BW_BULKHEAD_OWNERS + BW_BULKHEAD_WAITERS];
    unsigned n_socks;
    bw_bulkhead_sock socks[BW_BULKHEAD_SOCKETS];
};

/* A bw_bulkhead_alive_fn that only copies (pid, start) out: every owner
 * "lives", so bw_bulkhead_reclaim changes nothing. No system call. */
static bool copy_owner(int32_t pid, uint64_t start, void *ctx)
{
    struct owner_list *l = ctx;
    for (unsigned i = 0; i < l->n; i++)
        if (l->pid[i] == pid && l->start[i] == start)
            return true;
    if (l->n < sizeof l->pid / sizeof l->pid[0]) {
        l->pid[l->n] = pid;
        l->start[l->n++] = start;
    }
    return true;
}

/*
 * Gives back the slots and tickets of owners in l that are dead, and the
 * slots of sockets in l closed everywhere. Their liveness (kill 0,
 * /proc/PID/stat, sock_diag, by raw system calls) is checked with no lock
 * held; a (pid, start time) found dead can take nothing more, and a socket
 * closed everywhere never opens again, so dropping them afterwards, under
 * the lock, is safe. Returns how many were dead.
 */
static unsigned drop_dead(bw_entry *e, const struct owner_list *l)
{
    struct owner_list dead = {0};
    for (unsigned i = 0; i < l->n; i++)
        if (!bw_proc_alive(l->pid[i], l->start[i], NULL)) {
            dead.pid[dead.n] = l->pid[i];
            dead.start[dead.n++] = l->start[i];
        }
    for (unsigned i = 0; i < l->n_socks; i++)
        if (bw_passfd_closed(&l->socks[i]))
            dead.socks[dead.n_socks++] = l->socks[i];
    if (dead.n + dead.n_socks == 0 || !lock_entry(e))
        return 0;
    for (unsigned i = 0; i < dead.n; i++)
        bw_bulkhead_drop_owner(&e->bulkhead, dead.pid[i], dead.start[i]);
    for (unsigned i = 0; i < dead.n_socks; i++)
        bw_bulkhead_drop_socket(&e->bulkhead, &dead.socks[i]);
    unlock_entry(e);
    return dead.n + dead.n_socks;
}

/* Whether the slot just taken in e can come with the rest of c's first
 * attempt's admission: e is also c's destination entry (the retry
 * budget's: bulkhead_scope = destination) and the breaker admits without
 * a decision (bw_breaker_admits_now, which takes no lock). */
static inline bool rest_admits(const bw_conn *c, const bw_entry *e)
{
    return e == c->dest_entry &&
           (!c->breaker_entry || bw_breaker_admits_now(&c->breaker_entry->breaker, c->policy));
}

/*
 * The rest of a first attempt's admission, done under the lock that just
 * gave c a slot in e when it can be (rest_admits). The first attempt is
 * then counted in the budget here, one lock instead of three. Returns
 * true when it was.
 */
static bool admit_rest(bw_conn *c, bw_entry *e, int64_t now)
{
    if (!rest_admits(c, e))
        return false;
    c->probe_token = 0;
    bw_budget_note_first(&e->budget, now);
    return true;
}

/* One acquire (or ticket try, when ticketed) at now, e's lock held. With
 * rest (a plain try only), a slot taken comes with admit_rest(rest), whose
 * answer goes into *rest_done. *index: the owner entry counting a slot
 * taken (bw_bulkhead_acquire). */
static inline __attribute__((always_inline)) enum bw_bh_result
try_locked(bw_entry *e, uint32_t max, int32_t pid, uint64_t start, bool ticketed,
           uint32_t ticket, bw_conn *rest, bool *rest_done, uint32_t *index, int64_t now)
{
    enum bw_bh_result r =
        ticketed ? bw_bulkhead_try_acquire_ticket(&e->bulkhead, max, ticket, pid, start, now, index)
                 : bw_bulkhead_acquire(&e->bulkhead, max, pid, start, now, index);
    if (rest && bw_bh_admitted(r))
        *rest_done = admit_rest(rest, e, now);
    return r;
}

/*
 * try_slot after its try was refused (r), e's lock still held: when the
 * bulkhead is full, the slots of dead processes are reclaimed (copied out
 * under the lock, checked outside it, drop_dead) and, when any were, it
 * tries once more. Unlocks e. Out of line: the usual try never comes here.
 */
static __attribute__((noinline)) enum bw_bh_result
try_after_reclaim(bw_entry *e, uint32_t max, int32_t pid, uint64_t start, bool ticketed,
                  uint32_t ticket, bw_conn *rest, bool *rest_done, uint32_t *index,
                  enum bw_bh_result r)
{
    if (!bw_bulkhead_should_reclaim(&e->bulkhead, max)) {
        unlock_entry(e);
        return r;
    }
    struct owner_list owners;   /* 2 KB */
    owners.n = 0;
    bw_bulkhead_reclaim(&e->bulkhead, copy_owner, &owners);
    owners.n_socks = bw_bulkhead_sockets(&e->bulkhead, owners.socks, BW_BULKHEAD_SOCKETS);
    unlock_entry(e);
    if (drop_dead(e, &owners) == 0)
        return r;
    if (!lock_entry(e))
        return UNLOCKABLE;
    r = try_locked(e, max, pid, start, ticketed, ticket, rest, rest_done, index, bw_now_ms());
    unlock_entry(e);
    return r;
}

/* One try at a slot (try_locked under e's lock), and when it is refused,
 * try_after_reclaim. Inlined: its two callers pass constants for most of
 * it. */
static inline __attribute__((always_inline)) enum bw_bh_result
try_slot(bw_entry *e, uint32_t max, int32_t pid, uint64_t start, bool ticketed,
         uint32_t ticket, bw_conn *rest, bool *rest_done, uint32_t *index)
{
    if (!lock_entry(e))
        return UNLOCKABLE;
    /* A first try with no connect_rate before it: the connect's own clock
     * reading, microseconds old, will do. */
    int64_t now = rest && !rest->policy->connect_rate ? rest->started_ms : bw_now_ms();
    enum bw_bh_result r = try_locked(e, max, pid, start, ticketed, ticket, rest, rest_done,
                                     index, now);
    if (!bw_bh_admitted(r))
        return try_after_reclaim(e, max, pid, start, ticketed, ticket, rest, rest_done, index, r);
    unlock_entry(e);
    return r;
}

/* Cleanup of a bulkhead wait cancelled between its tries: the ticket is
 * withdrawn, so the queue behind it does not wait for its deadline. */
struct queued {
    bw_entry *e;
    uint32_t ticket;
};

static void withdraw(void *arg)
{
    struct queued *q = arg;
    if (lock_entry(q->e)) {
        bw_bulkhead_cancel_ticket(&q->e->bulkhead, q->ticket);
        unlock_entry(q->e);
    }
}

/*
 * bw_guard_bulkhead_take after its first try found the bulkhead full:
 * records it, and with may_wait and bulkhead_wait_ms, waits its turn for a
 * slot. Returns the last try's answer (BW_BH_REJECTED when none admitted).
 * Out of line: the usual take never comes here.
 */
static __attribute__((noinline)) enum bw_bh_result
wait_for_slot(bw_conn *c, bw_entry *e, int32_t pid, uint64_t start, bool may_wait,
              uint32_t *index)
{
    const bw_policy *p = c->policy;
    enum bw_bh_result r = BW_BH_REJECTED;
    bw_record_bulkhead_full(c, p->max_connections);
    if (!may_wait || p->bulkhead_wait_ms <= 0)
        return r;
    int64_t deadline = bw_now_ms() + p->bulkhead_wait_ms;
    struct queued q = {e, 0};
    bool queued = false;
    if (lock_entry(e)) {
        queued = bw_bulkhead_take_ticket(&e->bulkhead, pid, start, bw_now_ms(), deadline,
                                         &q.ticket);
        unlock_entry(e);
    }
    while (queued) {
        /* After the ticket, before the try: see bw_bulkhead_seq_to_wait. */
        uint32_t seen = bw_bulkhead_seq_to_wait(&e->bulkhead);
        r = try_slot(e, p->max_connections, pid, start, true, q.ticket, NULL, NULL, index);
        int64_t left = deadline - bw_now_ms();
        if (r != BW_BH_WAIT || left <= 0)
            break;
        /* Short naps too, so a waiter in another process that dies is noticed. */
        wait_seq(&e->bulkhead, seen, left < 50 ? left : 50);
        /* The wait is a cancellation point of connect(), holding no lock
         * and no slot here: a cancelled thread withdraws its ticket. */
        pthread_cleanup_push(withdraw, &q);
        pthread_testcancel();
        pthread_cleanup_pop(0);
    }
    if (queued && !bw_bh_admitted(r)) {
        withdraw(&q);
        r = BW_BH_REJECTED;
    }
    return r;
}

/*
 * This thread's last slots taken under the lock and counted on an owner
 * entry, one per bulkhead in a few ways (hint_for; a program alternating
 * between destinations keeps each): the bulkhead, the entry and the pid
 * that took it. A take with max 0 tries that entry first, without the lock
 * (bw_bulkhead_take_at, whose argument needs the index to be one a locked
 * acquire of this same process reported): an address names one bulkhead
 * for the life of the process (state regions are never unmapped), and the
 * pid tells the process that took it from a fork child, whose thread
 * inherits this. Per thread: nothing to tear, and a vfork child or a
 * signal handler inside the shim never connects tracked (bw_connect), so
 * never comes here.
 */
struct take_hint {
    const bw_bulkhead *b;
    int32_t pid;
    uint32_t index;
};
#define TAKE_HINTS 4
static __thread struct take_hint take_hints[TAKE_HINTS] BW_TLS;

/* The way of take_hints for b: entries are over 4 KB apart. */
static inline struct take_hint *hint_for(const bw_bulkhead *b)
{
    return &take_hints[((uintptr_t)b >> 12) % TAKE_HINTS];
}

/* A slot with max 0 without the lock, on this thread's last entry in e
 * (take_hints): true when taken, with *admitted as from the locked take. */
static inline bool take_unlocked(bw_conn *c, bw_entry *e, int32_t pid, bool *admitted)
{
    const struct take_hint *h = hint_for(&e->bulkhead);
    if (c->policy->max_connections || h->b != &e->bulkhead || h->pid != pid ||
        !bw_bulkhead_take_at(&e->bulkhead, h->index, pid))
        return false;
    c->holds_slot = true;
    c->slot_untracked = false;
    c->slot_index = (uint8_t)h->index;
    *admitted = false;   /* no lock held: the caller asks the breaker and the budget
                          * (bw_guard_budget_note_first, lock-free itself when it can) */
    return true;
}

/* bw_guard_bulkhead_take under the lock (take_unlocked could not). Out of
 * line: the usual take with max 0 does not come here. */
static __attribute__((noinline)) int take_locked(bw_conn *c, bw_entry *e, int32_t pid,
                                                 bool may_wait, bool *admitted)
{
    const bw_policy *p = c->policy;
    uint64_t start = start_of_self(pid);
    uint32_t index = BW_BULKHEAD_NO_INDEX;
    enum bw_bh_result r = try_slot(e, p->max_connections, pid, start, false, 0, c, admitted,
                                   &index);
    if (r == BW_BH_REJECTED)
        r = wait_for_slot(c, e, pid, start, may_wait, &index);
    if (r == UNLOCKABLE)
        return 0;   /* never block the program on our own state: admit, holding no slot */
    if (bw_bh_admitted(r)) {
        c->holds_slot = true;
        c->slot_untracked = r == BW_BH_UNTRACKED;
        c->slot_index = (uint8_t)index;
        if (r == BW_BH_TAKEN)
            *hint_for(&e->bulkhead) = (struct take_hint){&e->bulkhead, pid, index};
        return 0;
    }
    bw_record_rejection(c, BW_REJ_BULKHEAD);
    log_rejection(c, "rejected: bulkhead full");
    return p->bulkhead_errno;
}

int bw_guard_bulkhead_take(bw_conn *c, bool may_wait, bool *admitted)
{
    bw_entry *e = c->bulkhead_entry;
    *admitted = false;
    if (!e)
        return 0;   /* max 0 still takes a counted slot: status shows what is active */
    int32_t pid = bw_self_pid();
    if (take_unlocked(c, e, pid, admitted))
        return 0;
    return take_locked(c, e, pid, may_wait, admitted);
}

void bw_guard_bulkhead_retake(bw_conn *c)
{
    bw_entry *e = c->bulkhead_entry;
    int32_t pid;
    uint64_t start;
    if (!e || c->holds_slot)
        return;
    whoami(&pid, &start);
    if (pid != c->owner || !lock_entry(e))
        return;
    /* max 0: no limit, the socket is held already */
    uint32_t index;
    enum bw_bh_result r = bw_bulkhead_acquire(&e->bulkhead, 0, pid, start, bw_now_ms(), &index);
    unlock_entry(e);
    c->holds_slot = bw_bh_admitted(r);
    c->slot_untracked = r == BW_BH_UNTRACKED;
    c->slot_index = (uint8_t)index;
}

bool bw_guard_bulkhead_adopt(bw_conn *c, uint32_t adopted)
{
    bw_entry *e = c->bulkhead_entry;
    int32_t pid;
    uint64_t start;
    if (!e || !lock_entry(e))
        return false;
    whoami(&pid, &start);
    bool ok = bw_bulkhead_owned(&e->bulkhead, pid, start) > adopted;
    unlock_entry(e);
    c->holds_slot = ok;
    c->slot_untracked = false;
    c->slot_index = BW_BULKHEAD_NO_INDEX;   /* counted somewhere under this owner */
    return ok;
}

void bw_guard_bulkhead_drop_excess(bw_entry *e, uint32_t adopted)
{
    int32_t pid;
    uint64_t start;
    whoami(&pid, &start);
    if (!lock_entry(e))
        return;
    for (uint32_t n = bw_bulkhead_owned(&e->bulkhead, pid, start); n > adopted; n--)
        bw_bulkhead_release(&e->bulkhead, pid, start);
    unlock_entry(e);
}

bool bw_guard_slot_hand_over(bw_entry *e, bool untracked, int32_t owner,
                             const bw_bulkhead_sock *id)
{
    int32_t pid;
    uint64_t start;
    whoami(&pid, &start);
    if (pid != owner || !lock_entry(e))
        return false;
    bool ok = bw_bulkhead_hand_to_socket(&e->bulkhead, pid, start, untracked, id);
    unlock_entry(e);
    return ok;
}

/* Unlocks e, just after a slot came free in it, and wakes the waiters when
 * a ticket is outstanding. A waiter queues its ticket under this lock
 * before it sleeps, so none seen now means nobody to wake: the system call
 * is skipped (every connect rejected by the breaker passes here), and with
 * no ticket at all, the clock that dates them. */
static void unlock_and_wake(bw_entry *e)
{
    bool waiters = bw_bulkhead_has_tickets(&e->bulkhead) &&
                   bw_bulkhead_waiting(&e->bulkhead, bw_now_ms()) > 0;
    unlock_entry(e);
    if (waiters)   /* every waiter: each checks whether its ticket is the oldest */
        bw_sys_futex_wake_all(&e->bulkhead.seq);
}

/* The give-back under e's lock: an untracked slot, or one whose entry no
 * longer holds it (bw_bulkhead_release_at said no). Out of line. */
static __attribute__((noinline)) void give_back_locked(bw_entry *e, bool untracked,
                                                       int32_t pid, uint64_t start)
{
    if (!lock_entry(e))
        return;
    if (untracked)
        bw_bulkhead_release_untracked(&e->bulkhead);
    else
        bw_bulkhead_release(&e->bulkhead, pid, start);
    unlock_and_wake(e);
}

/* After a lock-free give-back that saw a ticket: the waiters are woken,
 * as under the lock, when one is outstanding. Out of line. */
static __attribute__((noinline)) void wake_after_give_back(bw_entry *e)
{
    if (lock_entry(e))
        unlock_and_wake(e);
    else
        bw_sys_futex_wake_all(&e->bulkhead.seq);
}

/* Gives back c's slot, if it holds one, in its owner process only (a fork
 * child closing what its parent opened keeps the parent's slot): a tracked
 * slot without the entry's lock when the entry the take reported still
 * holds it, else under the lock; waking the waiters as needed. */
void bw_conn_release_slot(bw_conn *c)
{
    bw_entry *e = c->bulkhead_entry;
    if (!c->holds_slot || !e)
        return;
    c->holds_slot = false;
    pid_t pid = bw_self_pid();
    if (pid != c->owner)
        return;     /* a fork child closing what its parent opened keeps the parent's slot */
    uint64_t start = start_of_self(pid);
    /* The owner's own slot off the entry that counted it, without the lock
     * (bw_bulkhead.h, "Lock-free give-back"); a ticket seen afterwards may
     * belong to a waiter that missed this slot. */
    if (c->slot_untracked || !bw_bulkhead_release_at(&e->bulkhead, c->slot_index, pid, start))
        give_back_locked(e, c->slot_untracked, pid, start);
    else if (bw_bulkhead_has_tickets(&e->bulkhead))
        wake_after_give_back(e);
}
