/*
 * bulkhead.c - slot accounting with per-process owners and a FIFO ticket
 * ring for waiters. See bw_bulkhead.h for the rules and the failure modes.
 */
#include <string.h>
#include "bw_bulkhead.h"

_Static_assert((BW_BULKHEAD_WAITERS & (BW_BULKHEAD_WAITERS - 1)) == 0,
               "the ticket ring must divide 2^32 so that t % N survives wrap-around");

/* Written under the lock but read by futex waiters without it. */
static void bump_seq(bw_bulkhead *b)
{
    __atomic_fetch_add(&b->seq, 1, __ATOMIC_RELEASE);
}

/* ---- owners ---- */

/* Owners are looked for from a place that depends on the pid, so that the
 * usual case, a process finding its own entry, takes one probe, not 64. */
static unsigned home_of(int32_t pid)
{
    return (uint32_t)pid % BW_BULKHEAD_OWNERS;
}

static bw_bulkhead_owner *find_owner(bw_bulkhead *b, int32_t pid, uint64_t start)
{
    for (unsigned i = 0, h = home_of(pid); i < BW_BULKHEAD_OWNERS; i++) {
        bw_bulkhead_owner *o = &b->owners[(h + i) % BW_BULKHEAD_OWNERS];
        if (o->slots && o->pid == pid && o->start_time == start)
            return o;
    }
    return NULL;
}

static bw_bulkhead_owner *free_owner(bw_bulkhead *b, int32_t pid)
{
    for (unsigned i = 0, h = home_of(pid); i < BW_BULKHEAD_OWNERS; i++)
        if (b->owners[(h + i) % BW_BULKHEAD_OWNERS].slots == 0)
            return &b->owners[(h + i) % BW_BULKHEAD_OWNERS];
    return NULL;
}

void bw_bulkhead_init(bw_bulkhead *b)
{
    memset(b, 0, sizeof *b);
}

uint32_t bw_bulkhead_active(const bw_bulkhead *b)
{
    uint64_t n = (uint64_t)b->untracked + bw_bulkhead_socket_slots(b);

    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        n += b->owners[i].slots;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Counts one more slot for (pid, start); the admission decision is made. */
static enum bw_bh_result take_slot(bw_bulkhead *b, int32_t pid, uint64_t start)
{
    /* The home entry, when free or already ours, saves scanning the table;
     * a second entry for one owner elsewhere is harmless (every lookup of
     * an owner's slots takes them all). */
    bw_bulkhead_owner *o = &b->owners[home_of(pid)];
    if (o->slots != 0 && (o->pid != pid || o->start_time != start))
        o = find_owner(b, pid, start);
    if (!o)
        o = free_owner(b, pid);
    /* A counter that is full counts nothing more (bw_bulkhead_active
     * saturates the sum): checked on the one counter taken, not by summing
     * the owner table on every connect. */
    if (!o) {
        if (b->untracked == UINT32_MAX)
            return BW_BH_REJECTED;
        b->untracked++;
        return BW_BH_UNTRACKED;
    }
    if (o->slots == UINT32_MAX)
        return BW_BH_REJECTED;
    if (o->slots == 0) {
        o->pid = pid;
        o->start_time = start;
    }
    o->slots++;
    return BW_BH_TAKEN;
}

bool bw_bulkhead_release(bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    bw_bulkhead_owner *o = find_owner(b, pid, start_time);

    if (!o)
        return false;
    o->slots--;
    bump_seq(b);
    return true;
}

bool bw_bulkhead_release_untracked(bw_bulkhead *b)
{
    if (b->untracked == 0)
        return false;
    b->untracked--;
    bump_seq(b);
    return true;
}

bool bw_bulkhead_should_reclaim(const bw_bulkhead *b, uint32_t max)
{
    if (max && bw_bulkhead_active(b) >= max)
        return true;
    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        if (b->owners[i].slots == 0)
            return false;
    return true;
}

/* ---- the ticket ring ---- */

static bw_bulkhead_waiter *slot_of(bw_bulkhead *b, uint32_t t)
{
    return &b->waiters[t % BW_BULKHEAD_WAITERS];
}

/* Outstanding: held, not withdrawn, and before its deadline at now_ms. */
static bool outstanding(const bw_bulkhead *b, uint32_t t, int64_t now_ms)
{
    const bw_bulkhead_waiter *w = &b->waiters[t % BW_BULKHEAD_WAITERS];
    return w->waiting == 1 && w->ticket == t && now_ms < w->deadline_ms;
}

/* Tickets head..next-1, at most a ring's worth (a corrupt head is clamped). */
static uint32_t head_of(const bw_bulkhead *b)
{
    if (b->ticket_next - b->ticket_head > BW_BULKHEAD_WAITERS)
        return b->ticket_next - BW_BULKHEAD_WAITERS;
    return b->ticket_head;
}

/* Outstanding tickets in [from, to), to within the ring. */
static uint32_t count_outstanding(const bw_bulkhead *b, uint32_t from, uint32_t to,
                                  int64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t t = from; t != to; t++)
        n += outstanding(b, t, now_ms);
    return n;
}

/*
 * Moves the head past tickets that are no longer outstanding, clearing
 * their entries, so that the ring has room again. Returns how many went.
 */
static uint32_t purge(bw_bulkhead *b, int64_t now_ms)
{
    uint32_t head = head_of(b), gone = 0;

    while (head != b->ticket_next && !outstanding(b, head, now_ms)) {
        bw_bulkhead_waiter *w = slot_of(b, head);
        if (w->ticket == head)
            w->waiting = 0;
        head++;
        gone++;
    }
    b->ticket_head = head;
    if (gone)
        bump_seq(b);
    return gone;
}

uint32_t bw_bulkhead_waiting(const bw_bulkhead *b, int64_t now_ms)
{
    return count_outstanding(b, head_of(b), b->ticket_next, now_ms);
}

int64_t bw_bulkhead_wake_by(const bw_bulkhead *b, uint32_t ticket, int64_t now_ms)
{
    uint32_t head = head_of(b);
    int64_t first = INT64_MAX;

    if (ticket - head >= b->ticket_next - head)
        return INT64_MAX;           /* not a live ticket number */
    for (uint32_t t = head; t != ticket; t++) {
        const bw_bulkhead_waiter *w = &b->waiters[t % BW_BULKHEAD_WAITERS];
        if (outstanding(b, t, now_ms) && w->deadline_ms < first)
            first = w->deadline_ms;
    }
    return first;
}

/* Free slots at max (UINT32_MAX standing in for unlimited). */
static uint32_t free_slots(const bw_bulkhead *b, uint32_t max)
{
    uint32_t active = bw_bulkhead_active(b);

    if (max == 0)
        return UINT32_MAX;
    return max > active ? max - active : 0;
}

enum bw_bh_result bw_bulkhead_acquire(bw_bulkhead *b, uint32_t max, int32_t pid,
                                      uint64_t start_time, int64_t now_ms)
{
    purge(b, now_ms);
    if (max && free_slots(b, max) <= bw_bulkhead_waiting(b, now_ms))
        return BW_BH_REJECTED;
    return take_slot(b, pid, start_time);
}

bool bw_bulkhead_take_ticket(bw_bulkhead *b, int32_t pid, uint64_t start_time,
                             int64_t now_ms, int64_t deadline_ms, uint32_t *ticket)
{
    purge(b, now_ms);
    if (b->ticket_next - b->ticket_head >= BW_BULKHEAD_WAITERS)
        return false;
    uint32_t t = b->ticket_next++;
    bw_bulkhead_waiter *w = slot_of(b, t);
    *w = (bw_bulkhead_waiter){.ticket = t, .waiting = 1, .pid = pid,
                              .start_time = start_time, .deadline_ms = deadline_ms};
    *ticket = t;
    return true;
}

/* Is t one of the live tickets, held by (pid, start)? */
static bool ticket_is(bw_bulkhead *b, uint32_t t, int32_t pid, uint64_t start,
                      int64_t now_ms)
{
    const bw_bulkhead_waiter *w = slot_of(b, t);
    return t - b->ticket_head < b->ticket_next - b->ticket_head &&
           outstanding(b, t, now_ms) && w->pid == pid && w->start_time == start;
}

enum bw_bh_result bw_bulkhead_try_acquire_ticket(bw_bulkhead *b, uint32_t max,
                                                 uint32_t ticket, int32_t pid,
                                                 uint64_t start_time, int64_t now_ms)
{
    purge(b, now_ms);
    if (!ticket_is(b, ticket, pid, start_time, now_ms))
        return BW_BH_GONE;
    uint32_t ahead = count_outstanding(b, b->ticket_head, ticket, now_ms);
    if (free_slots(b, max) <= ahead)
        return BW_BH_WAIT;
    enum bw_bh_result r = take_slot(b, pid, start_time);
    if (!bw_bh_admitted(r))
        return BW_BH_WAIT;
    slot_of(b, ticket)->waiting = 0;
    purge(b, now_ms);
    bump_seq(b);                /* the next in line may be admitted now */
    return r;
}

bool bw_bulkhead_cancel_ticket(bw_bulkhead *b, uint32_t ticket)
{
    bw_bulkhead_waiter *w = slot_of(b, ticket);

    if (w->waiting != 1 || w->ticket != ticket)
        return false;
    w->waiting = 0;
    purge(b, INT64_MIN);        /* no clock here: only withdrawn tickets go */
    bump_seq(b);
    return true;
}

/* ---- dead owners ---- */

static uint32_t add_sat(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/*
 * Withdraws the tickets of owners alive() says are gone (alive NULL: those of
 * pid). Returns how many.
 */
static uint32_t drop_waiters(bw_bulkhead *b, bw_bulkhead_alive_fn alive, void *ctx,
                             int32_t pid, uint64_t start)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < BW_BULKHEAD_WAITERS; i++) {
        bw_bulkhead_waiter *w = &b->waiters[i];
        if (w->waiting != 1)
            continue;
        bool dead = alive ? !alive(w->pid, w->start_time, ctx)
                          : w->pid == pid && w->start_time == start;
        if (dead) {
            w->waiting = 0;
            n++;
        }
    }
    return n;
}

/* After dropping n slots and w tickets: let the queue move and wake waiters. */
static void after_drop(bw_bulkhead *b, uint32_t n, uint32_t w)
{
    purge(b, INT64_MIN);
    if (n || w)
        bump_seq(b);
}

uint32_t bw_bulkhead_reclaim(bw_bulkhead *b, bw_bulkhead_alive_fn alive, void *ctx)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++) {
        bw_bulkhead_owner *o = &b->owners[i];
        if (o->slots && !alive(o->pid, o->start_time, ctx)) {
            n = add_sat(n, o->slots);
            o->slots = 0;
        }
    }
    after_drop(b, n, drop_waiters(b, alive, ctx, 0, 0));
    return n;
}

uint32_t bw_bulkhead_drop_owner(bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    uint32_t n = 0;
    bw_bulkhead_owner *o;

    /* A corrupt table may hold the same owner twice: drop every entry. */
    while ((o = find_owner(b, pid, start_time)) != NULL) {
        n = add_sat(n, o->slots);
        o->slots = 0;
    }
    after_drop(b, n, drop_waiters(b, NULL, NULL, pid, start_time));
    return n;
}

uint32_t bw_bulkhead_owned(const bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++) {
        const bw_bulkhead_owner *o = &b->owners[i];
        if (o->slots && o->pid == pid && o->start_time == start_time)
            n = add_sat(n, o->slots);
    }
    return n;
}

/* ---- sockets holding slots ---- */

uint32_t bw_bulkhead_socket_slots(const bw_bulkhead *b)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < BW_BULKHEAD_SOCKETS; i++)
        n += b->sockets[i].inode != 0;
    return n;
}

bool bw_bulkhead_hand_to_socket(bw_bulkhead *b, int32_t pid, uint64_t start_time,
                                bool untracked, const bw_bulkhead_sock *id)
{
    if (id->inode == 0)
        return false;
    bw_bulkhead_sock *free_entry = NULL;
    for (unsigned i = 0; i < BW_BULKHEAD_SOCKETS && !free_entry; i++)
        if (b->sockets[i].inode == 0)
            free_entry = &b->sockets[i];
    if (!free_entry)
        return false;
    if (untracked) {
        if (b->untracked == 0)
            return false;
        b->untracked--;
    } else {
        bw_bulkhead_owner *o = find_owner(b, pid, start_time);
        if (!o)
            return false;
        o->slots--;
    }
    *free_entry = *id;   /* the count stays: no waiter can be admitted by this */
    return true;
}

unsigned bw_bulkhead_sockets(const bw_bulkhead *b, bw_bulkhead_sock *out, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < BW_BULKHEAD_SOCKETS && n < max; i++)
        if (b->sockets[i].inode != 0)
            out[n++] = b->sockets[i];
    return n;
}

bool bw_bulkhead_drop_socket(bw_bulkhead *b, const bw_bulkhead_sock *id)
{
    if (id->inode == 0)
        return false;
    for (unsigned i = 0; i < BW_BULKHEAD_SOCKETS; i++)
        if (memcmp(&b->sockets[i], id, sizeof *id) == 0) {
            memset(&b->sockets[i], 0, sizeof b->sockets[i]);
            bump_seq(b);
            return true;
        }
    return false;
}
