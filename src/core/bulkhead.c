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

/* ---- owners ----
 * An owner's pid and slots are one word, only ever read and written with
 * atomic instructions, and its start time is read and written atomically:
 * the owner gives slots back without the lock (bw_bulkhead_release_at; the
 * argument is in bw_bulkhead.h, "Lock-free give-back"). */

#define NO_INDEX BW_BULKHEAD_NO_INDEX

/* o's pid and slots (start_time 0), read at once. */
static bw_bulkhead_owner word_of(const bw_bulkhead_owner *o)
{
    return (bw_bulkhead_owner){.word = __atomic_load_n(&o->word, __ATOMIC_ACQUIRE)};
}

static uint64_t pack(int32_t pid, uint32_t slots)
{
    return ((bw_bulkhead_owner){.pid = pid, .slots = slots}).word;
}

/* One slot, as a number to add to or take from a word whose pid stays: the
 * count never wraps (checked first), so the pid half is never carried into. */
#define ONE_SLOT (((bw_bulkhead_owner){.slots = 1}).word)

static uint64_t start_of(const bw_bulkhead_owner *o)
{
    return __atomic_load_n(&o->start_time, __ATOMIC_RELAXED);
}

/* Does o hold slots of (pid, start)? */
static bool holds(const bw_bulkhead_owner *o, int32_t pid, uint64_t start)
{
    bw_bulkhead_owner v = word_of(o);
    return v.slots && v.pid == pid && start_of(o) == start;
}

/* Owners are looked for from a place that depends on the pid, so that the
 * usual case, a process finding its own entry, takes one probe, not 64. */
static unsigned home_of(int32_t pid)
{
    return (uint32_t)pid % BW_BULKHEAD_OWNERS;
}


/* Is o (pid, start)'s record, holding slots or kept at 0 (see "Kept
 * records" in bw_bulkhead.h)? Under the lock, where neither half changes. */
static bool is_mine(const bw_bulkhead_owner *o, int32_t pid, uint64_t start)
{
    return word_of(o).pid == pid && pid != 0 && start_of(o) == start;
}

/* The index of a record of (pid, start), or NO_INDEX: one holding slots,
 * or with kept also one kept at 0. Searched from the pid's home entry. */
static unsigned find_record(const bw_bulkhead *b, int32_t pid, uint64_t start, bool kept)
{
    for (unsigned i = 0, h = home_of(pid); i < BW_BULKHEAD_OWNERS; i++) {
        const bw_bulkhead_owner *o = &b->owners[(h + i) % BW_BULKHEAD_OWNERS];
        if (kept ? is_mine(o, pid, start) : holds(o, pid, start))
            return (h + i) % BW_BULKHEAD_OWNERS;
    }
    return NO_INDEX;
}

/* The index of an entry holding slots of (pid, start), or NO_INDEX. */
static unsigned find_owner(const bw_bulkhead *b, int32_t pid, uint64_t start)
{
    return find_record(b, pid, start, false);
}

/* The index of a record of (pid, start), holding slots or kept, or NO_INDEX. */
static unsigned find_mine(const bw_bulkhead *b, int32_t pid, uint64_t start)
{
    return find_record(b, pid, start, true);
}

/* The index of an entry to claim: a free one (word 0) when there is one,
 * else one kept at 0 by its owner (who loses it: its next take is locked),
 * NO_INDEX when every entry holds slots. */
static unsigned free_owner(const bw_bulkhead *b, int32_t pid)
{
    unsigned kept = NO_INDEX;
    for (unsigned i = 0, h = home_of(pid); i < BW_BULKHEAD_OWNERS; i++) {
        unsigned at = (h + i) % BW_BULKHEAD_OWNERS;
        bw_bulkhead_owner v = word_of(&b->owners[at]);
        if (v.word == 0)
            return at;
        if (v.slots == 0 && kept == NO_INDEX)
            kept = at;
    }
    return kept;
}

enum add_result { ADDED, COUNT_FULL, NOT_FREE };

/*
 * Counts one more slot for (pid, start) on o, under the lock: on o's count
 * when o is (pid, start)'s record (kept at 0 too), else by claiming o when
 * it holds no slot (free, or kept by an owner, maybe dead, maybe an earlier
 * process with this pid). A claim empties the word to 0 first, by
 * compare-and-swap (a kept record's owner may take it back meanwhile
 * without the lock: then o is NOT_FREE), writes the start time while the
 * word is 0 (no one writes a word 0 without the lock: a lock-free take
 * needs the owner's pid, a give-back slots > 0), then publishes the pid:
 * so the start time never changes while the word names an owner. The only
 * writers racing are lock-free takes and give-backs of owners on their
 * own records. COUNT_FULL when o's count is full.
 */
static enum add_result add_one(bw_bulkhead_owner *o, int32_t pid, uint64_t start)
{
    uint64_t w = __atomic_load_n(&o->word, __ATOMIC_ACQUIRE);
    for (;;) {
        bw_bulkhead_owner v = {.word = w};
        if (v.pid == pid && pid != 0 && start_of(o) == start) {
            if (v.slots == UINT32_MAX)
                return COUNT_FULL;
            if (__atomic_compare_exchange_n(&o->word, &w, w + ONE_SLOT, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
                return ADDED;
        } else if (v.slots != 0) {
            return NOT_FREE;
        } else if (__atomic_compare_exchange_n(&o->word, &w, 0, false,
                                               __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&o->start_time, start, __ATOMIC_RELAXED);
            __atomic_store_n(&o->word, pack(pid, 1), __ATOMIC_SEQ_CST);
            return ADDED;
        }
    }
}

/* Takes one slot off o when o holds slots of (pid, start); false, changing
 * nothing, when it does not (any more). With or without the lock. */
static inline bool take_one_off(bw_bulkhead_owner *o, int32_t pid, uint64_t start)
{
    uint64_t w = __atomic_load_n(&o->word, __ATOMIC_ACQUIRE);
    for (;;) {
        bw_bulkhead_owner v = {.word = w};
        if (v.slots == 0 || v.pid != pid || start_of(o) != start)
            return false;
        if (__atomic_compare_exchange_n(&o->word, &w, w - ONE_SLOT, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return true;
    }
}

/* Empties o, its owner gone (no lock-free take or give-back of its can
 * come), and frees it (word 0); returns the slots it held. */
static uint32_t empty_owner(bw_bulkhead_owner *o)
{
    uint64_t w = __atomic_load_n(&o->word, __ATOMIC_ACQUIRE);
    for (;;) {
        bw_bulkhead_owner v = {.word = w};
        if (v.slots == 0 ||
            __atomic_compare_exchange_n(&o->word, &w, 0, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return v.slots;
    }
}

/* Takes one slot of (pid, start) off whichever entry holds one (under the
 * lock). False when none does. */
static bool take_one_of(bw_bulkhead *b, int32_t pid, uint64_t start)
{
    for (;;) {
        unsigned i = find_owner(b, pid, start);
        if (i == NO_INDEX)
            return false;
        /* Fails only when the owner's own lock-free give-backs emptied the
         * entry meanwhile: then the count is elsewhere, or gone. */
        if (take_one_off(&b->owners[i], pid, start))
            return true;
    }
}

void bw_bulkhead_init(bw_bulkhead *b)
{
    memset(b, 0, sizeof *b);
}

uint32_t bw_bulkhead_active(const bw_bulkhead *b)
{
    uint64_t n = (uint64_t)b->untracked + bw_bulkhead_socket_slots(b);

    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        n += word_of(&b->owners[i]).slots;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* take_slot when the home entry is another owner's: our record elsewhere,
 * else a claim (free_owner), else an untracked slot. Out of line. */
static __attribute__((noinline)) enum bw_bh_result
take_slot_away(bw_bulkhead *b, int32_t pid, uint64_t start, uint32_t *index)
{
    *index = NO_INDEX;
    /* Each round lost means an owner took its kept record back meanwhile:
     * bounded all the same. */
    for (unsigned round = 0; round < 2 * BW_BULKHEAD_OWNERS; round++) {
        unsigned i = find_mine(b, pid, start);
        if (i == NO_INDEX && (i = free_owner(b, pid)) == NO_INDEX)
            break;
        enum add_result r = add_one(&b->owners[i], pid, start);
        if (r == ADDED) {
            *index = i;
            return BW_BH_TAKEN;
        }
        if (r == COUNT_FULL)
            return BW_BH_REJECTED;
    }
    if (b->untracked == UINT32_MAX)
        return BW_BH_REJECTED;
    b->untracked++;
    return BW_BH_UNTRACKED;
}

/* Counts one more slot for (pid, start); the admission decision is made.
 * *index: the entry counting it, NO_INDEX for an untracked slot. */
static inline enum bw_bh_result take_slot(bw_bulkhead *b, int32_t pid, uint64_t start,
                                          uint32_t *index)
{
    /* The home entry, when free or already ours, saves scanning the table;
     * a second entry for one owner elsewhere is harmless (every lookup of
     * an owner's slots takes them all). A full count counts nothing more
     * (bw_bulkhead_active saturates the sum): checked on the one counter
     * taken, not by summing the owner table on every connect. */
    unsigned i = home_of(pid);
    bw_bulkhead_owner *o = &b->owners[i];
    if (word_of(o).word != 0 && !is_mine(o, pid, start))
        return take_slot_away(b, pid, start, index);
    enum add_result r = add_one(o, pid, start);
    if (r == NOT_FREE)   /* never from a word 0 or our record: only if corrupt */
        return take_slot_away(b, pid, start, index);
    *index = r == ADDED ? i : NO_INDEX;
    return r == ADDED ? BW_BH_TAKEN : BW_BH_REJECTED;
}

bool bw_bulkhead_release(bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    if (!take_one_of(b, pid, start_time))
        return false;
    bump_seq(b);
    return true;
}

bool bw_bulkhead_release_at(bw_bulkhead *b, uint32_t index, int32_t pid, uint64_t start_time)
{
    if (index >= BW_BULKHEAD_OWNERS || !take_one_off(&b->owners[index], pid, start_time))
        return false;
    /* seq after the count, a read-modify-write before the caller looks at
     * the tickets: see "Lock-free give-back" in bw_bulkhead.h. */
    __atomic_fetch_add(&b->seq, 1, __ATOMIC_ACQ_REL);
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
        if (word_of(&b->owners[i]).slots == 0)
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
    __atomic_store_n(&b->ticket_head, head, __ATOMIC_RELAXED);   /* read without the lock */
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

/* bw_bulkhead_acquire with a limit or tickets to respect, out of line (the
 * usual acquire, max 0 with no ticket, needs none of it). */
static __attribute__((noinline)) enum bw_bh_result
acquire_checked(bw_bulkhead *b, uint32_t max, int32_t pid, uint64_t start_time,
                int64_t now_ms, uint32_t *index)
{
    if (bw_bulkhead_has_tickets(b))   /* else purge would change nothing */
        purge(b, now_ms);
    if (max && free_slots(b, max) <= bw_bulkhead_waiting(b, now_ms)) {
        *index = NO_INDEX;
        return BW_BH_REJECTED;
    }
    return take_slot(b, pid, start_time, index);
}

enum bw_bh_result bw_bulkhead_acquire(bw_bulkhead *b, uint32_t max, int32_t pid,
                                      uint64_t start_time, int64_t now_ms, uint32_t *index)
{
    if (max || bw_bulkhead_has_tickets(b))
        return acquire_checked(b, max, pid, start_time, now_ms, index);
    return take_slot(b, pid, start_time, index);
}

bool bw_bulkhead_take_ticket(bw_bulkhead *b, int32_t pid, uint64_t start_time,
                             int64_t now_ms, int64_t deadline_ms, uint32_t *ticket)
{
    purge(b, now_ms);
    if (b->ticket_next - b->ticket_head >= BW_BULKHEAD_WAITERS)
        return false;
    uint32_t t = b->ticket_next;
    __atomic_store_n(&b->ticket_next, t + 1, __ATOMIC_RELAXED);   /* read without the lock */
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
                                                 uint64_t start_time, int64_t now_ms,
                                                 uint32_t *index)
{
    uint32_t at;
    *index = NO_INDEX;
    purge(b, now_ms);
    if (!ticket_is(b, ticket, pid, start_time, now_ms))
        return BW_BH_GONE;
    uint32_t ahead = count_outstanding(b, b->ticket_head, ticket, now_ms);
    if (free_slots(b, max) <= ahead)
        return BW_BH_WAIT;
    enum bw_bh_result r = take_slot(b, pid, start_time, &at);
    if (!bw_bh_admitted(r))
        return BW_BH_WAIT;
    *index = at;
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
        bw_bulkhead_owner v = word_of(o);
        if (v.slots && !alive(v.pid, start_of(o), ctx))
            n = add_sat(n, empty_owner(o));
    }
    after_drop(b, n, drop_waiters(b, alive, ctx, 0, 0));
    return n;
}

uint32_t bw_bulkhead_drop_owner(bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    uint32_t n = 0;
    unsigned i;

    /* A corrupt table may hold the same owner twice: drop every entry. */
    while ((i = find_owner(b, pid, start_time)) != NO_INDEX)
        n = add_sat(n, empty_owner(&b->owners[i]));
    after_drop(b, n, drop_waiters(b, NULL, NULL, pid, start_time));
    return n;
}

uint32_t bw_bulkhead_owned(const bw_bulkhead *b, int32_t pid, uint64_t start_time)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < BW_BULKHEAD_OWNERS; i++)
        if (holds(&b->owners[i], pid, start_time))
            n = add_sat(n, word_of(&b->owners[i]).slots);
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
    } else if (!take_one_of(b, pid, start_time)) {
        return false;
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
