/*
 * bw_state.h - the per-destination and per-address state: breakers,
 * bulkheads, retry budgets and counters, in one region of memory.
 *
 * The region is either private to the process (state = process) or a file
 * mapped by every process using the same config (state = shared, SPEC §7).
 * The layout is the same: a header, then a fixed table of entries found by
 * hashing (destination name, address). Entries are created on first use and
 * never removed, so a pointer to one stays valid for the life of the mapping.
 *
 * The header also holds the ring of recent events (bw_events.h) and the
 * addresses each hostname resolved to (bw_state_names.h), so that every
 * process of the config knows a name's siblings for failover.
 *
 * Concurrency: each entry of a shared file has a robust, process-shared
 * mutex (a process killed while holding it leaves it recoverable: the next
 * locker gets EOWNERDEAD and takes over; the data it guards is bounds-checked
 * by its own module, so a half-finished update cannot make anyone read or
 * write outside the entry); an entry of a private region, whose holders are
 * this process's threads, a futex word (a fifth of a mutex's cost). Counters are updated with atomic instructions, without the
 * lock. Lookups are lock-free; creation takes the header's mutex.
 *
 * Everything read from a shared file is validated before use: the header by
 * bw_state_attach, and entry indices are computed here, never read from it.
 */
#ifndef BW_STATE_H
#define BW_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bw_breaker.h"
#include "bw_budget.h"
#include "bw_bulkhead.h"
#include "bw_config.h"
#include "bw_events.h"
#include "bw_histogram.h"
#include "bw_names.h"
#include "bw_plock.h"
#include "bw_rate.h"

#define BW_STATE_MAGIC 0x3174537761657242ULL   /* "BreawSt1" */

/*
 * The layout version: bump it whenever bw_state_header, bw_entry or anything
 * inside them changes. It is in the file's header and in its name
 * (STATE_DIR/breakwater-UID-HASH-vN), so during a rolling upgrade programs on
 * the older build keep their file and the new build makes its own, and each
 * side keeps shared breakers and bulkheads (SPEC §7). Builds before 0.2 used
 * layout 1 under the name without the suffix. The override is for tests that
 * build a library of another layout version side by side with this one.
 * 2: the events ring, the connect-time histograms, the failover counter.
 * 3: the 429 counter; the name table and its lock in the header (never
 *    released alone: merged into 4).
 * 4: bulkhead slots held by sockets (passed or inherited, bw_bulkhead.h).
 * 5: the name table's slots carry a sequence number for lock-free readers
 *    (the write protocol changed).
 * 6: the retry budget's first attempts are added without the entry's lock
 *    (bw_budget_note_first_unlocked); a bulkhead owner's pid and slot count
 *    are one word, written only with atomic instructions, and the owner
 *    gives a slot back without the entry's lock (bw_bulkhead.h); an owner's
 *    record is kept at count 0, a claim goes through word 0, and with max
 *    0 the owner takes a slot on its record without the lock; each breaker
 *    carries a sequence number and run_held, for successes left out
 *    without the lock (bw_breaker_success_quiet). All change the write
 *    protocol (an older build would not keep to it).
 */
#ifdef BW_STATE_LAYOUT_VERSION_OVERRIDE
#define BW_STATE_VERSION BW_STATE_LAYOUT_VERSION_OVERRIDE
#else
#define BW_STATE_VERSION 6
#endif
#define BW_STATE_ENTRIES 4096

enum bw_counter {
    BW_CNT_CONNECTS,          /* connect() calls decided: the sum of the next four */
    BW_CNT_SUCCESSES,
    BW_CNT_FAILURES,
    BW_CNT_REJECTED_BREAKER,
    BW_CNT_REJECTED_BULKHEAD,
    BW_CNT_RETRIES,
    BW_CNT_RETRIES_DENIED,
    BW_CNT_IDEMPOTENCY_KEYS,
    BW_CNT_HTTP_1XX, BW_CNT_HTTP_2XX, BW_CNT_HTTP_3XX, BW_CNT_HTTP_4XX, BW_CNT_HTTP_5XX,
    BW_CNT_FAILOVERS,         /* connects sent from this address to a sibling */
    BW_CNT_RATE_LIMITED,      /* HTTP 429 responses: the server throttled, apart from failures */
    BW_CNT_N
};

/* bw_entry.ready: an entry is read only once it is BW_ENTRY_READY (acquire). */
#define BW_ENTRY_FREE 0u
#define BW_ENTRY_FILLING 1u
#define BW_ENTRY_READY 2u

/* How long a lock of the state file is waited for before the file counts
 * as stuck (a real holder keeps it for microseconds). */
#define BW_STATE_LOCK_WAIT_MS 2000

enum bw_entry_kind { BW_ENTRY_ADDRESS = 1, BW_ENTRY_DESTINATION = 2 };

typedef struct bw_entry {
    _Atomic uint32_t ready;          /* BW_ENTRY_FREE, _FILLING or _READY */
    uint32_t kind;                   /* enum bw_entry_kind */
    uint64_t hash;
    char dest[BW_MAX_NAME];          /* "default" for unmatched connections */
    uint8_t family;                  /* AF_INET / AF_INET6; 0 for a destination entry */
    uint8_t addr[16];
    uint16_t port;                   /* host byte order */
    bw_rate rate;                    /* destination entries: connect_rate's bucket (two
                                        words that were reserved in the version-1 layout) */
    /* 1: lock is the private region's futex lock (plock, bw_plock.h), not a
     * pthread mutex; set before the entry is published. It fills what was
     * padding (the offsets and size are those of layout 4, asserted in
     * state.c), so an older build's file, zero there, reads as 0. */
    uint32_t lock_private;
    union {
        pthread_mutex_t lock;
        bw_plock plock;              /* when lock_private */
    };
    bw_breaker breaker;
    bw_bulkhead bulkhead;
    bw_budget budget;
    uint64_t counters[BW_CNT_N];     /* atomic adds, no lock */
    bw_histogram connect_time;       /* destination entries: connect() durations */
    uint64_t ev_reject_gate[2];      /* per enum bw_reject_cause (bw_event_rejection) */
    uint32_t ev_reject_pending[2];
    uint64_t ev_full_gate;           /* bulkhead saturation, once a second */
} bw_entry;

typedef struct bw_state_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t entry_size;
    uint32_t n_entries;
    uint64_t total_size;
    pthread_mutex_t insert_lock;
    uint32_t used;
    char config_path[PATH_MAX];
    bw_event_ring events;            /* lock-free; see bw_events.h */
    pthread_mutex_t names_lock;      /* robust, like an entry's; see bw_state_names.h */
    bw_names names;
} bw_state_header;

typedef struct bw_state {
    bw_state_header *hdr;
    bw_entry *entries;
    size_t n_entries;
    size_t size;
    bool shared;
} bw_state;

/* Bytes a region of n entries needs. */
size_t bw_state_size(size_t n_entries);

/*
 * Formats a fresh region of size bytes (zeroed by the caller) for n entries.
 * shared selects process-shared locks. Returns 0, or -1 if size is too small.
 */
int bw_state_format(void *mem, size_t size, size_t n_entries, bool shared,
                    const char *config_path);

/*
 * Validates a region read from somewhere untrusted (magic, version, every
 * size) and fills st. Returns 0, or -1 with a reason in why (size whylen).
 */
int bw_state_attach(bw_state *st, void *mem, size_t size, bool shared, char *why, size_t whylen);

/*
 * Finds the entry for (kind, dest, address of sa) — sa is ignored for
 * destination entries — creating it when create is true. Returns NULL when
 * absent (or the table is full, or on a lock failure).
 */
bw_entry *bw_state_find(bw_state *st, enum bw_entry_kind kind, const char *dest,
                        const struct sockaddr *sa, bool create);

/* Locks an entry, recovering it when its previous holder died. 0 or -1:
 * -1 also for a lock word no mutex of ours can have (a hostile file) and
 * for one that stays held for seconds; the caller then goes on without it. */
static inline int bw_entry_lock(bw_entry *e);

/* bw_entry_lock waiting at most wait_ms (bw_entry_lock waits 2 s). After a
 * lock of this process once timed out, every lock fails at once. */
int bw_entry_lock_for(bw_entry *e, int wait_ms);

/* Set once a lock timed out in this process (bw_state_locks_stuck); read
 * here only by bw_entry_lock's inline half. */
extern atomic_bool bw_state_stuck;

/* A free private entry's lock is taken inline (three connects' worth of
 * calls saved per connection); everything else goes to bw_entry_lock_for. */
static inline int bw_entry_lock(bw_entry *e)
{
    uint32_t free_word = 0;
    if (e->lock_private && !atomic_load_explicit(&bw_state_stuck, memory_order_relaxed) &&
        atomic_compare_exchange_strong_explicit(&e->plock, &free_word, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    return bw_entry_lock_for(e, BW_STATE_LOCK_WAIT_MS);
}

/* The same for another robust mutex of the region (made by it, read from
 * a file that may be hostile). */
int bw_state_mutex_lock(pthread_mutex_t *m, int wait_ms);

/* True once a lock timed out in this process (see bw_entry_lock_for). */
bool bw_state_locks_stuck(void);

/* A shared file's entry lock given back (bw_entry_unlock's other half). */
void bw_entry_unlock_mutex(bw_entry *e);

static inline void bw_entry_unlock(bw_entry *e)
{
    if (e->lock_private)
        bw_plock_unlock(&e->plock);
    else
        bw_entry_unlock_mutex(e);
}

/* Adds n to a counter of e (atomic; e may be NULL). */
static inline void bw_count(bw_entry *e, enum bw_counter c, uint64_t n)
{
    if (e)
        __atomic_fetch_add(&e->counters[c], n, __ATOMIC_RELAXED);
}

static inline uint64_t bw_counter_get(const bw_entry *e, enum bw_counter c)
{
    return __atomic_load_n(&e->counters[c], __ATOMIC_RELAXED);
}

/* The shared state file of cfg for this build's layout:
 * STATE_DIR/breakwater-UID-HASH-vN (SPEC §7). */
void bw_state_path(const bw_config *cfg, char *out, size_t outlen);

/* The name of cfg's state files without the layout suffix,
 * STATE_DIR/breakwater-UID-HASH (the whole name for layout 1). */
void bw_state_path_stem(const bw_config *cfg, char *out, size_t outlen);

/*
 * Maps the state file at path (creating it when create is true and it does
 * not exist: mode 0600, O_NOFOLLOW). Refuses a symlink, a file of another
 * owner or readable by others, and any file whose header does not validate.
 * Returns 0, or -1 with a one-line reason in why.
 */
int bw_state_map_file(const char *path, const char *config_path, bool create, bw_state *st,
                      char *why, size_t whylen);

/* Maps a fresh private region. Returns 0 or -1. */
int bw_state_map_private(const char *config_path, bw_state *st);

/* Re-initialises every lock of a private region (fork child, state = process). */
void bw_state_reinit_locks(bw_state *st);

/* Formats the address of an entry as "IP:PORT" / "[IP6]:PORT". */
void bw_entry_format_addr(const bw_entry *e, char *out, size_t outlen);

/* The same for a key's parts; "-" for a family that is neither. */
void bw_format_key_addr(uint8_t family, const uint8_t addr[16], uint16_t port, char *out,
                        size_t outlen);

/* Where an entry is, for an event: its destination, and its address when
 * it is an address entry. Writes every field of w (bw_event_begin_placed).
 * Inline: a failover's event is two of these. */
static inline void bw_entry_where(const bw_entry *e, bw_event_where *w)
{
    __builtin_memcpy(w->dest, e->dest, sizeof w->dest);
    w->dest[sizeof w->dest - 1] = '\0';
    w->family = e->kind == BW_ENTRY_ADDRESS ? e->family : 0;
    __builtin_memcpy(w->addr, e->addr, sizeof w->addr);
    w->port = e->port;
}

/* bw_hash (bw_hash.h) under its first name: entry keys and the state file name. */
uint64_t bw_hash64(const void *data, size_t len, uint64_t seed);

#endif
