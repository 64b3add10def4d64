/*
 * bw_bulkhead.h - connection-slot accounting for one bulkhead scope (SPEC
 * section 4 max_connections, bulkhead_wait_ms; section 6 fork and crash).
 *
 * A bw_bulkhead is fixed-size and pointer-free: it lives in a mapping shared
 * by several processes, and the caller holds a lock around every call (the
 * exceptions: bw_bulkhead_seq, bw_bulkhead_seq_to_wait, bw_bulkhead_has_tickets,
 * the owner's own give-back, bw_bulkhead_release_at, and its own take with
 * max 0, bw_bulkhead_take_at; see "Lock-free give-back" and "Lock-free
 * take" below). All zeroes is a valid empty
 * bulkhead. Any byte content is safe: every index is computed and bounds-
 * checked, counts saturate, so a corrupt state file can make the numbers
 * wrong but never crash the caller or make it write outside the struct.
 *
 * Ownership. Every slot is counted under its owner: a process, named by pid
 * plus a start time the caller supplies (e.g. field 22 of /proc/PID/stat),
 * so that a recycled pid is a different owner. Only the owner can release a
 * slot: a forked child closing an inherited descriptor (another pid) gives
 * nothing back, and the slots of a process that died (even by SIGKILL) are
 * taken back by bw_bulkhead_reclaim. The active count is the sum over the
 * owner table, never a separate counter, so it cannot drift or go negative.
 *
 * Owner table full (more than BW_BULKHEAD_OWNERS processes holding slots at
 * once: only possible with max 0 or max > BW_BULKHEAD_OWNERS). The slot is
 * still admitted, as max allows, but counted in `untracked` and the result
 * says so (BW_BH_UNTRACKED): the caller must remember it and give it back
 * with bw_bulkhead_release_untracked, from the same process. Rejecting
 * instead would refuse connects below max (and with max 0, which promises
 * "unlimited"). The price: an untracked slot of a process that dies is not
 * reclaimed. Callers should run bw_bulkhead_reclaim first when
 * bw_bulkhead_should_reclaim says the table is full, so this stays rare.
 *
 * Waiting (bulkhead_wait_ms), first come first served. A waiter takes a
 * numbered ticket, then retries bw_bulkhead_try_acquire_ticket until it is
 * admitted, its deadline passes, or it gives up (bw_bulkhead_cancel_ticket).
 * Free slots are reserved for the tickets ahead: ticket t is admitted only
 * when free slots > outstanding tickets older than t, and a plain acquire
 * only when free slots > all outstanding tickets, so nobody overtakes a
 * waiter. A ticket stops counting as outstanding when it is admitted,
 * cancelled, reaches its deadline (now_ms >= deadline_ms), or its owner is
 * found dead by bw_bulkhead_reclaim: an abandoned ticket blocks others for
 * at most its own wait. At most BW_BULKHEAD_WAITERS tickets are outstanding.
 *
 * Sockets. A slot may outlive every descriptor its owner had: a socket
 * handed to another process (SCM_RIGHTS) or kept by a fork child is still
 * open after its owner closed its own copy, or exited. The owner then hands
 * the slot over to the socket itself (bw_bulkhead_hand_to_socket): up to
 * BW_BULKHEAD_SOCKETS sockets, named by what sock_diag knows of them, each
 * hold one slot, counted in the active slots like any other, owned by no
 * process (a dead owner's reclaim leaves them). Any process that finds the
 * bulkhead full copies them out (bw_bulkhead_sockets), asks the kernel with
 * no lock held which are closed everywhere, and drops those
 * (bw_bulkhead_drop_socket). A socket the table has no room for keeps
 * nothing: its owner gives the slot back as before.
 *
 * Lock-free give-back. Every other call holds the lock, but an owner gives
 * its own slot back with bw_bulkhead_release_at, without it: a compare-and-
 * swap of the owner entry's (pid, slots) word, from (pid, n > 0) to
 * (pid, n - 1). Why every interleaving is right:
 *  - Each write of an owner word is atomic (a claim's store of (pid, 1)
 *    onto the word 0 it swapped in, which nobody changes without the lock,
 *    "Kept records"; compare-and-swap loops elsewhere), so no update under
 *    the lock is lost to one without it, and no count goes below 0 (the
 *    swap needs n > 0).
 *  - Only a live process runs it, for itself; while it lives no other
 *    process has its pid, and an entry changes pid only when it is free
 *    (slots 0, claimed under the lock): a swap that expects the pid cannot
 *    change another owner's count. An entry emptied meanwhile (a reclaim,
 *    a hand-over that took this entry's count, the owner's other threads)
 *    fails the swap, and the caller falls back to the locked release,
 *    which takes the slot from wherever the owner's count is: the owner's
 *    total stays exact, whichever entry holds it.
 *  - The cap: without the lock, counts only go down (but for the takes of
 *    processes with max 0, "Lock-free take"), so an acquire under the lock
 *    sums a total at least the true one: max is never exceeded.
 *  - Waiters: the give-back moves seq after the count, then looks at
 *    bw_bulkhead_has_tickets; a waiter, after taking its ticket, reads seq
 *    before each try (bw_bulkhead_seq_to_wait). Both are read-modify-
 *    writes of seq (acquire and release), so one comes first in seq's
 *    modification order and the other synchronizes with it: either the
 *    waiter reads the moved seq, and its try sees the count, or the
 *    give-back sees the ticket, and wakes the waiters (a futex wait on the
 *    old seq returns at once when seq has moved since): none sleeps
 *    through a slot freed.
 *
 * Kept records. An owner's record stays its own when its count drops to 0
 * (the word keeps the pid), so that its next take can be lock-free. A
 * record holding no slot is still free to claim (bw_bulkhead_acquire
 * prefers a record with no pid, word 0, then takes a kept one from its
 * owner, whose next take is then locked), so nothing that counts slots or
 * looks for a free entry (bw_bulkhead_active, _owned, _should_reclaim,
 * _reclaim, status, metrics) sees a difference. A reclaim frees the records
 * of dead owners (word 0); a kept record of a dead owner waits for a claim.
 * A claim (under the lock) goes through word 0: it swaps the word it saw
 * (slots 0) for 0, writes the start time, then stores (pid, 1). Nobody
 * writes a word 0 without the lock (a lock-free take needs its own pid in
 * the word, a give-back slots > 0), so the start time never changes while
 * a word names an owner.
 *
 * Lock-free take. With max 0 and no ticket outstanding the locked acquire
 * admits without a decision, so the owner may count the slot on a record
 * of its own without the lock (bw_bulkhead_take_at): one compare-and-swap
 * of the word from (pid, n) to (pid, n + 1), at an index that a locked
 * acquire of this same live process reported (the caller keeps the index
 * with the pid that took it, so a fork child, another pid, never uses its
 * parent's). Why every interleaving is right:
 *  - The record is the caller's whenever the swap sees its pid, and no
 *    start time needs reading: when the index was reported the record was
 *    (pid, start) of this process; its pid changes only by a claim, by a
 *    live process (no other process has this pid while this one lives),
 *    so a record that names the pid again was claimed by this process
 *    with its own start time, which stays while the pid does ("Kept
 *    records").
 *  - Against a claim: the claim's swap to word 0 and the take's swap are
 *    on one word: the take comes first (the record holds a slot now, the
 *    claimer's swap fails and it looks elsewhere), or the claim does (the
 *    take sees word 0 or another pid and fails; the caller takes the lock).
 *  - Against a reclaim, a hand-over, a give-back, a locked acquire or
 *    release: each changes a word by one compare-and-swap (a claim's store
 *    of (pid, 1) follows its swap to 0), so no update is lost and no count
 *    wraps; a reclaim empties only records of dead owners.
 *  - Waiters: a take frees nothing, so nobody needs a wake; it is not done
 *    while a ticket may be outstanding (bw_bulkhead_has_tickets), where the
 *    locked acquire purges first. A ticket waits only with max > 0; the
 *    locked acquire with max 0 admits ahead of tickets, as before.
 *  - The cap: only a process whose max is 0 takes without the lock, and the
 *    processes sharing a state file read one config file, so they agree on
 *    max but for a moment around a reload. Then a process with a max may,
 *    under the lock, sum a count below every instant's (a take and a
 *    give-back between its reads of two words) and admit over max; a
 *    process with max 0 admits over max in any case.
 *
 * seq changes whenever a slot may have become available to a waiter (a
 * release, a reclaim, a cancelled, expired or admitted ticket). A waiter
 * reads bw_bulkhead_seq under the lock after a BW_BH_WAIT, drops the lock and
 * futex-waits (FUTEX_WAIT, not private: the mapping is shared) on &b->seq for
 * that value with a timeout of what is left of its wait, or less: until
 * bw_bulkhead_wake_by, since a ticket ahead lapsing at its deadline is no
 * event anyone signals. The releasing side does FUTEX_WAKE on &b->seq after
 * unlocking.
 */
#ifndef BW_BULKHEAD_H
#define BW_BULKHEAD_H

#include <stdbool.h>
#include <stdint.h>

#define BW_BULKHEAD_OWNERS 64
#define BW_BULKHEAD_WAITERS 32      /* a power of two: the ring wraps with tickets */

/*
 * An owner entry. pid and slots share one 64-bit word, read and written
 * only with atomic instructions (layout 6): the owner gives a slot back
 * (bw_bulkhead_release_at) and, with max 0, takes one
 * (bw_bulkhead_take_at) without the lock, by one compare-and-swap of the
 * word that also checks the pid, so it can never change another owner's
 * count. start_time is read and written atomically too (relaxed), and
 * only while the word is 0 (a claim, "Kept records"). pid 0: no owner.
 */
typedef struct bw_bulkhead_owner {
    union {
        struct {
            int32_t pid;
            uint32_t slots;         /* 0: the entry is free */
        };
        uint64_t word;              /* both, for the atomic instructions */
    };
    uint64_t start_time;
} bw_bulkhead_owner;

/* No owner entry: an untracked slot, or one whose entry is not known. */
#define BW_BULKHEAD_NO_INDEX BW_BULKHEAD_OWNERS

typedef struct bw_bulkhead_waiter {
    uint32_t ticket;                /* number of the ticket this entry holds */
    uint32_t waiting;               /* 1 while that ticket is outstanding */
    int32_t pid;
    uint32_t reserved;
    uint64_t start_time;
    int64_t deadline_ms;
} bw_bulkhead_waiter;

#define BW_BULKHEAD_SOCKETS 16

/* A socket holding a slot of its own (see "Sockets"); all zero: a free entry. */
typedef struct bw_bulkhead_sock {
    uint64_t inode;                 /* its inode; 0 for a free entry */
    uint8_t family;                 /* AF_INET or AF_INET6 */
    uint8_t reserved[3];
    uint16_t local_port, peer_port; /* network byte order */
    uint8_t local[16], peer[16];    /* addresses, network byte order */
} bw_bulkhead_sock;

typedef struct bw_bulkhead {
    uint32_t seq;                   /* futex word, see above */
    uint32_t untracked;             /* slots admitted with the owner table full */
    uint32_t ticket_head;           /* oldest ticket that may be outstanding */
    uint32_t ticket_next;           /* number the next ticket gets */
    bw_bulkhead_owner owners[BW_BULKHEAD_OWNERS];
    bw_bulkhead_waiter waiters[BW_BULKHEAD_WAITERS];   /* ticket t at t % N */
    bw_bulkhead_sock sockets[BW_BULKHEAD_SOCKETS];
} bw_bulkhead;

enum bw_bh_result {
    BW_BH_REJECTED = 0,             /* no free slot (plain acquire) */
    BW_BH_TAKEN,                    /* slot counted under the caller as owner */
    BW_BH_UNTRACKED,                /* slot taken, owner table full: see above */
    BW_BH_WAIT,                     /* ticket: not admitted yet, still valid */
    BW_BH_GONE,                     /* ticket: expired, cancelled or unknown */
};

/* True for the results that hand the caller a slot. */
static inline bool bw_bh_admitted(enum bw_bh_result r)
{
    return r == BW_BH_TAKEN || r == BW_BH_UNTRACKED;
}

/* Is pid (started at start_time) still running? Called under the caller's lock. */
typedef bool (*bw_bulkhead_alive_fn)(int32_t pid, uint64_t start_time, void *ctx);

/* Empties the bulkhead (same as zeroing it). */
void bw_bulkhead_init(bw_bulkhead *b);

/* Slots held now: owned, untracked and held by sockets, saturating at UINT32_MAX. */
uint32_t bw_bulkhead_active(const bw_bulkhead *b);

/*
 * Takes a slot for (pid, start_time) without waiting. max 0 = unlimited:
 * always admitted, still counted. Otherwise admitted when active plus the
 * outstanding tickets at now_ms is below max. Returns BW_BH_TAKEN,
 * BW_BH_UNTRACKED or BW_BH_REJECTED. Stores in *index the owner entry that
 * counts a BW_BH_TAKEN slot, BW_BULKHEAD_NO_INDEX else.
 */
enum bw_bh_result bw_bulkhead_acquire(bw_bulkhead *b, uint32_t max, int32_t pid,
                                      uint64_t start_time, int64_t now_ms, uint32_t *index);

/*
 * Gives back one slot owned by (pid, start_time). Returns false, changing
 * nothing, when that owner holds none (e.g. a forked child).
 */
bool bw_bulkhead_release(bw_bulkhead *b, int32_t pid, uint64_t start_time);

/*
 * The owner's give-back WITHOUT the lock: one slot of (pid, start_time) off
 * owner entry index (as the acquire reported), by compare-and-swap. For a
 * live process giving back its own slot. Returns false, changing nothing,
 * when that entry is not (pid, start_time)'s or holds no slot (a reclaim
 * thought the owner dead, a hand-over took this entry's count): the caller
 * then uses bw_bulkhead_release under the lock. On true, seq has moved
 * and the caller must look at bw_bulkhead_has_tickets afterwards: when
 * true, a waiter may need the wake (see "Lock-free give-back" above).
 */
bool bw_bulkhead_release_at(bw_bulkhead *b, uint32_t index, int32_t pid, uint64_t start_time);

/* Gives back one BW_BH_UNTRACKED slot; false when there is none. */
bool bw_bulkhead_release_untracked(bw_bulkhead *b);

/*
 * Drops every slot and ticket of owners for which alive(pid, start_time,
 * ctx) is false. Returns the number of slots taken back (saturating).
 */
uint32_t bw_bulkhead_reclaim(bw_bulkhead *b, bw_bulkhead_alive_fn alive, void *ctx);

/*
 * Drops every slot and ticket of one owner known to be gone (for a caller
 * that checks liveness outside the lock). Returns the slots taken back.
 */
uint32_t bw_bulkhead_drop_owner(bw_bulkhead *b, int32_t pid, uint64_t start_time);

/* Slots held by (pid, start_time), in every entry of the owner table. */
uint32_t bw_bulkhead_owned(const bw_bulkhead *b, int32_t pid, uint64_t start_time);

/* True when a reclaim could change an answer: at max (max > 0) or owner table full. */
bool bw_bulkhead_should_reclaim(const bw_bulkhead *b, uint32_t max);

/*
 * Queues (pid, start_time) until deadline_ms: stores the ticket number in
 * *ticket and returns true, or returns false when BW_BULKHEAD_WAITERS
 * tickets are already outstanding at now_ms (the caller rejects the connect).
 */
bool bw_bulkhead_take_ticket(bw_bulkhead *b, int32_t pid, uint64_t start_time,
                             int64_t now_ms, int64_t deadline_ms, uint32_t *ticket);

/*
 * Tries to turn ticket into a slot at now_ms (rule above). Returns
 * BW_BH_TAKEN or BW_BH_UNTRACKED (the ticket is spent; index as for
 * bw_bulkhead_acquire), BW_BH_WAIT (try again
 * after seq changes), or BW_BH_GONE when the ticket is no longer outstanding
 * or is not (pid, start_time)'s: the caller stops waiting and rejects.
 */
enum bw_bh_result bw_bulkhead_try_acquire_ticket(bw_bulkhead *b, uint32_t max,
                                                 uint32_t ticket, int32_t pid,
                                                 uint64_t start_time, int64_t now_ms,
                                                 uint32_t *index);

/* Withdraws an outstanding ticket (timeout, signal); false if it was not one. */
bool bw_bulkhead_cancel_ticket(bw_bulkhead *b, uint32_t ticket);

/*
 * When a waiter holding ticket should look again even if seq does not
 * change: the earliest deadline among the outstanding tickets ahead of it
 * (one lapsing may admit it), or INT64_MAX when none is ahead.
 */
int64_t bw_bulkhead_wake_by(const bw_bulkhead *b, uint32_t ticket, int64_t now_ms);

/* True when a ticket may be outstanding (bw_bulkhead_waiting may be > 0):
 * false spares the caller the clock. Atomic loads: also read without the
 * lock, after bw_bulkhead_release_at and in bw_bulkhead_take_at (the two
 * words are written only under the lock, with atomic stores). */
static inline bool bw_bulkhead_has_tickets(const bw_bulkhead *b)
{
    return __atomic_load_n(&b->ticket_next, __ATOMIC_RELAXED) !=
           __atomic_load_n(&b->ticket_head, __ATOMIC_RELAXED);
}

/*
 * The owner's take WITHOUT the lock, for max 0 only: one more slot of pid
 * on owner entry index, by compare-and-swap, when that entry names pid
 * (its count may be 0: a kept record) and no ticket may be outstanding.
 * index must be one that bw_bulkhead_acquire reported to this same live
 * process (pid), with BW_BH_TAKEN ("Lock-free take" above). Returns false,
 * changing nothing, when it cannot: the caller then uses
 * bw_bulkhead_acquire under the lock. The slot is given back as one that
 * acquire counted at index. Inline: it is the whole of the usual take
 * with max 0.
 */
static inline bool bw_bulkhead_take_at(bw_bulkhead *b, uint32_t index, int32_t pid)
{
    /* Tickets: the locked acquire would look at them (acquire_checked). */
    if (index >= BW_BULKHEAD_OWNERS || pid == 0 || bw_bulkhead_has_tickets(b))
        return false;
    bw_bulkhead_owner *o = &b->owners[index];
    uint64_t w = __atomic_load_n(&o->word, __ATOMIC_RELAXED);
    for (;;) {
        bw_bulkhead_owner v = {.word = w};
        if (v.pid != pid || v.slots == UINT32_MAX)
            return false;
        /* One more slot: the count does not wrap (checked), the pid stays. */
        v.slots++;
        if (__atomic_compare_exchange_n(&o->word, &w, v.word, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            return true;
    }
}

/* Outstanding tickets at now_ms (for status). */
uint32_t bw_bulkhead_waiting(const bw_bulkhead *b, int64_t now_ms);

/*
 * Hands one slot of (pid, start_time) (an untracked one when untracked)
 * over to the socket id (id->inode != 0). Returns false, changing nothing,
 * when that owner holds no such slot or the socket table is full.
 */
bool bw_bulkhead_hand_to_socket(bw_bulkhead *b, int32_t pid, uint64_t start_time,
                                bool untracked, const bw_bulkhead_sock *id);

/* Copies up to max of the sockets holding slots into out; returns how many. */
unsigned bw_bulkhead_sockets(const bw_bulkhead *b, bw_bulkhead_sock *out, unsigned max);

/* Socket id (as copied out) was found closed everywhere: its slot is free.
 * False when it holds none (another process dropped it first). */
bool bw_bulkhead_drop_socket(bw_bulkhead *b, const bw_bulkhead_sock *id);

/* Slots held by sockets. */
uint32_t bw_bulkhead_socket_slots(const bw_bulkhead *b);

/* The futex word's current value; an atomic load, safe without the lock. */
static inline uint32_t bw_bulkhead_seq(const bw_bulkhead *b)
{
    return __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
}

/* The same for a waiter, which calls it after taking its ticket, before
 * each try: a read-modify-write (adding 0), so that it is ordered with a
 * lock-free give-back's, and the ticket with that give-back's look at the
 * tickets ("Lock-free give-back"). */
static inline uint32_t bw_bulkhead_seq_to_wait(bw_bulkhead *b)
{
    return __atomic_fetch_add(&b->seq, 0, __ATOMIC_ACQ_REL);
}

#endif
