/* state.c - the state table (see bw_state.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "bw_hash.h"
#include "bw_match.h"
#include "bw_plock.h"
#include "bw_state.h"
#include "bw_sys.h"

#define READY_FREE BW_ENTRY_FREE
#define READY_FILLING BW_ENTRY_FILLING
#define READY_OK BW_ENTRY_READY

uint64_t bw_hash64(const void *data, size_t len, uint64_t seed)
{
    return bw_hash(data, len, seed);
}

size_t bw_state_size(size_t n_entries)
{
    return sizeof(bw_state_header) + n_entries * sizeof(bw_entry);
}

/* A robust, process-shared mutex when the region is a shared file (its
 * holder may be another process, and die); a plain one in a private region,
 * whose holders are this process's threads, none of which exits holding it
 * (nothing under an entry lock can end a thread): a third of the cost. */
static void init_lock(pthread_mutex_t *m, bool shared)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (shared) {
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    }
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* The entry's own field fills padding: layout 4's offsets are kept. */
_Static_assert(offsetof(bw_entry, lock_private) == offsetof(bw_entry, rate) + sizeof(bw_rate) &&
               offsetof(bw_entry, lock) == offsetof(bw_entry, lock_private) + sizeof(uint32_t) &&
               offsetof(bw_entry, lock_private) % _Alignof(pthread_mutex_t) != 0,
               "bw_entry.lock_private must fill padding before the lock");

/* An entry's lock as its region needs it: a shared file's robust mutex, or
 * a private region's futex word (bw_plock.h). */
static void init_entry_lock(bw_entry *e, bool shared)
{
    e->lock_private = !shared;
    if (shared)
        init_lock(&e->lock, true);
    else
        bw_plock_reinit(&e->plock);
}

int bw_state_format(void *mem, size_t size, size_t n, bool shared, const char *config_path)
{
    if (size < bw_state_size(n))
        return -1;
    bw_state_header *h = mem;
    h->magic = BW_STATE_MAGIC;
    h->version = BW_STATE_VERSION;
    h->header_size = sizeof *h;
    h->entry_size = sizeof(bw_entry);
    h->n_entries = (uint32_t)n;
    h->total_size = bw_state_size(n);
    snprintf(h->config_path, sizeof h->config_path, "%s", config_path ? config_path : "");
    init_lock(&h->insert_lock, shared);
    init_lock(&h->names_lock, shared);
    /* Entry locks are made when an entry is first used: formatting touches
     * only the header, so an idle table costs no memory. */
    return 0;
}

int bw_state_attach(bw_state *st, void *mem, size_t size, bool shared, char *why, size_t whylen)
{
    const bw_state_header *h = mem;
    const char *bad = NULL;
    if (size < sizeof *h)
        bad = "shorter than its header";
    else if (h->magic != BW_STATE_MAGIC)
        bad = "bad magic number";
    else if (h->version != BW_STATE_VERSION)
        bad = "unsupported version";
    else if (h->header_size != sizeof *h || h->entry_size != sizeof(bw_entry))
        bad = "record sizes do not match this build";
    else if (h->n_entries == 0 || h->n_entries > 1u << 20 ||
             h->total_size != bw_state_size(h->n_entries) || h->total_size > size)
        bad = "table size does not match the file size";
    if (bad) {
        snprintf(why, whylen, "%s", bad);
        return -1;
    }
    st->hdr = mem;
    st->entries = (bw_entry *)((char *)mem + sizeof *h);
    st->n_entries = h->n_entries;
    st->size = size;
    st->shared = shared;
    return 0;
}

struct key {
    uint32_t kind;
    char dest[BW_MAX_NAME];
    uint8_t family;
    uint8_t addr[16];
    uint16_t port;
    uint64_t hash;
};

static bool key_matches(const bw_entry *e, const struct key *k)
{
    return e->hash == k->hash && e->kind == k->kind && e->family == k->family &&
           e->port == k->port && memcmp(e->addr, k->addr, 16) == 0 &&
           strncmp(e->dest, k->dest, BW_MAX_NAME) == 0;
}

/* Entries another process left half-filled when it died holding the insert lock. */
static void drop_half_filled(bw_state *st)
{
    for (size_t i = 0; i < st->n_entries; i++) {
        uint32_t r = READY_FILLING;
        __atomic_compare_exchange_n(&st->entries[i].ready, &r, READY_FREE, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
}

/* The kind word glibc stores for a mutex made by init_lock(m, shared). */
static int lock_kind(bool shared)
{
    pthread_mutex_t m;
    init_lock(&m, shared);
    int kind = m.__data.__kind;
    pthread_mutex_destroy(&m);
    return kind;
}

/* Filled in by whichever threads get here first (same values); kinds[0]
 * is published last, so a thread that sees it also sees kinds[1] (TSan). */
static int kinds[2] = {-1, -1};

/* Out of line, as lock_wait: their stack frames would otherwise be set up
 * on every lock (issue 18). */
static __attribute__((noinline)) int learn_kinds(void)
{
    __atomic_store_n(&kinds[1], lock_kind(true), __ATOMIC_RELAXED);
    int k0 = lock_kind(false);
    __atomic_store_n(&kinds[0], k0, __ATOMIC_RELEASE);
    return k0;
}

/* lock_untrusted's wait for a held m, bounded by wait_ms. */
static __attribute__((noinline)) int lock_wait(pthread_mutex_t *m, int wait_ms)
{
    struct timespec ts;
    bw_sys_clock(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(m, &ts);
}

/*
 * Locks m, a mutex that may come from a hostile file. glibc trusts the kind
 * word (a priority-ceiling kind with a garbage ceiling aborts the process),
 * so only the kinds init_lock makes are accepted; and a lock word naming an
 * owner that will never release it must not hang the program, so the wait
 * is bounded (a real holder keeps it for microseconds).
 */
static inline int lock_untrusted(pthread_mutex_t *m, int wait_ms)
{
    int k0 = __atomic_load_n(&kinds[0], __ATOMIC_ACQUIRE);
    if (__builtin_expect(k0 == -1, 0))
        k0 = learn_kinds();
    int k1 = __atomic_load_n(&kinds[1], __ATOMIC_RELAXED);
    int kind = __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED);
    if (kind != k0 && kind != k1)
        return EINVAL;
    int rc = pthread_mutex_trylock(m);   /* the usual case: free, no clock needed */
    if (__builtin_expect(rc != EBUSY, 1))
        return rc;
    return lock_wait(m, wait_ms);
}

static int lock_insert(bw_state *st)
{
    int rc = lock_untrusted(&st->hdr->insert_lock, BW_STATE_LOCK_WAIT_MS);
    if (rc == EOWNERDEAD) {
        drop_half_filled(st);
        pthread_mutex_consistent(&st->hdr->insert_lock);
        rc = 0;
    }
    return rc == 0 ? 0 : -1;
}

/* Claims a free slot at or after start for k. Called with the insert lock held. */
static bw_entry *insert(bw_state *st, const struct key *k, size_t start)
{
    for (size_t i = 0; i < st->n_entries; i++) {
        bw_entry *e = &st->entries[(start + i) % st->n_entries];
        uint32_t r = __atomic_load_n(&e->ready, __ATOMIC_ACQUIRE);
        if (r == READY_OK && key_matches(e, k))
            return e;   /* another thread or process made it meanwhile */
        if (r != READY_FREE)
            continue;
        __atomic_store_n(&e->ready, READY_FILLING, __ATOMIC_RELAXED);
        e->kind = k->kind;
        e->hash = k->hash;
        memcpy(e->dest, k->dest, sizeof e->dest);
        e->family = k->family;
        memcpy(e->addr, k->addr, 16);
        e->port = k->port;
        init_entry_lock(e, st->shared);
        bw_breaker_init(&e->breaker);
        bw_budget_init(&e->budget);
        memset(&e->bulkhead, 0, sizeof e->bulkhead);
        memset(e->counters, 0, sizeof e->counters);
        memset(&e->connect_time, 0, sizeof e->connect_time);
        memset(e->ev_reject_gate, 0, sizeof e->ev_reject_gate);
        memset(e->ev_reject_pending, 0, sizeof e->ev_reject_pending);
        e->ev_full_gate = 0;
        __atomic_store_n(&e->ready, READY_OK, __ATOMIC_RELEASE);
        st->hdr->used++;
        return e;
    }
    return NULL;
}

/*
 * Entries found lately, as indexes into a table (any table: an index is
 * checked against the table it is used with, and the entry there against
 * the key, so a remap or another table only makes a miss). Direct-mapped
 * on the key's address part and the destination name's pointer, which
 * stays the same for a config's life: a hit costs no hashing of the name.
 */
#define RECENT_SLOTS 256
static _Atomic uint32_t recent[RECENT_SLOTS];   /* index + 1; 0 = empty */

static size_t recent_slot(uint32_t kind, const char *dest, const bw_ipaddr *a)
{
    uint64_t w;
    memcpy(&w, a->addr, sizeof w);
    uint64_t h = ((uintptr_t)dest >> 4) ^ w ^ ((uint64_t)a->port << 20) ^ ((uint64_t)kind << 40);
    h *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 56) % RECENT_SLOTS;
}

/* True when e is the entry of (kind, dest, a): key_matches without the
 * hash, with the name compared as the key holds it (cut to BW_MAX_NAME - 1). */
static bool entry_is(const bw_entry *e, uint32_t kind, const char *dest, const bw_ipaddr *a)
{
    return __atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) == READY_OK && e->kind == kind &&
           e->family == (uint8_t)a->family && e->port == a->port &&
           memcmp(e->addr, a->addr, 16) == 0 && e->dest[BW_MAX_NAME - 1] == '\0' &&
           strncmp(e->dest, dest, BW_MAX_NAME - 1) == 0;
}

static bw_entry *recent_get(bw_state *st, size_t slot, uint32_t kind, const char *dest,
                            const bw_ipaddr *a)
{
    uint32_t i = atomic_load_explicit(&recent[slot], memory_order_relaxed);
    if (i == 0 || i > st->n_entries)
        return NULL;
    bw_entry *e = &st->entries[i - 1];
    return entry_is(e, kind, dest, a) ? e : NULL;
}

/* bw_state_find without the recent entries: hashes the key and probes. */
static bw_entry *find_slow(bw_state *st, enum bw_entry_kind kind, const char *dest,
                           const bw_ipaddr *a, bool create)
{
    struct key k;
    memset(&k, 0, sizeof k);
    k.kind = kind;
    memcpy(k.dest, dest, strnlen(dest, sizeof k.dest - 1));   /* the rest stays zero */
    k.family = (uint8_t)a->family;
    memcpy(k.addr, a->addr, 16);
    k.port = a->port;
    k.hash = bw_hash64(&k, offsetof(struct key, hash), 0);
    size_t start = k.hash % st->n_entries;
    for (size_t i = 0; i < st->n_entries; i++) {
        bw_entry *e = &st->entries[(start + i) % st->n_entries];
        uint32_t r = __atomic_load_n(&e->ready, __ATOMIC_ACQUIRE);
        if (r == READY_OK && key_matches(e, &k))
            return e;
        if (r == READY_FREE)
            break;
    }
    if (!create || lock_insert(st) != 0)
        return NULL;
    bw_entry *e = insert(st, &k, start);
    pthread_mutex_unlock(&st->hdr->insert_lock);
    return e;
}

bw_entry *bw_state_find(bw_state *st, enum bw_entry_kind kind, const char *dest,
                        const struct sockaddr *sa, bool create)
{
    bw_ipaddr a = {0};
    if (kind == BW_ENTRY_ADDRESS && !bw_ipaddr_from_sockaddr(sa, &a))
        memset(&a, 0, sizeof a);   /* no address: the key's address part stays zero */
    size_t slot = recent_slot(kind, dest, &a);
    bw_entry *e = recent_get(st, slot, kind, dest, &a);
    if (e)
        return e;
    e = find_slow(st, kind, dest, &a, create);
    if (e)
        atomic_store_explicit(&recent[slot], (uint32_t)(e - st->entries) + 1, memory_order_relaxed);
    return e;
}

/* Set once a lock stayed held past its wait: every later lock then fails at
 * once, so one stuck or hostile file costs a program one wait, not one per call. */
atomic_bool bw_state_stuck;

/* A private region's entry lock (bw_plock.h: it keeps the plain mutex's
 * rules, guard.c), with bw_state_mutex_lock's bound and stuck rule. 0, or -1. */
static int entry_plock(bw_entry *e, int wait_ms)
{
    if (atomic_load_explicit(&bw_state_stuck, memory_order_relaxed))
        return -1;
    if (bw_plock_lock_for(&e->plock, wait_ms) == 0)
        return 0;
    atomic_store(&bw_state_stuck, true);
    return -1;
}


bool bw_state_locks_stuck(void)
{
    return atomic_load_explicit(&bw_state_stuck, memory_order_relaxed);
}

int bw_entry_lock_for(bw_entry *e, int wait_ms)
{
    if (e->lock_private)
        return entry_plock(e, wait_ms);
    return bw_state_mutex_lock(&e->lock, wait_ms);
}

int bw_state_mutex_lock(pthread_mutex_t *m, int wait_ms)
{
    if (atomic_load_explicit(&bw_state_stuck, memory_order_relaxed))
        return -1;
    int rc = lock_untrusted(m, wait_ms);
    if (rc == ETIMEDOUT)
        atomic_store(&bw_state_stuck, true);
    if (rc == EOWNERDEAD) {
        /* The holder died mid-update; the modules bounds-check what it left. */
        pthread_mutex_consistent(m);
        rc = 0;
    }
    return rc == 0 ? 0 : -1;
}

void bw_entry_unlock_mutex(bw_entry *e)
{
    pthread_mutex_unlock(&e->lock);
}

void bw_state_reinit_locks(bw_state *st)
{
    init_lock(&st->hdr->insert_lock, st->shared);
    init_lock(&st->hdr->names_lock, st->shared);
    for (size_t i = 0; i < st->n_entries; i++)
        if (__atomic_load_n(&st->entries[i].ready, __ATOMIC_ACQUIRE) == READY_OK)
            init_entry_lock(&st->entries[i], st->shared);
}

void bw_format_key_addr(uint8_t family, const uint8_t addr[16], uint16_t port, char *out,
                        size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "";
    if (family == AF_INET) {
        inet_ntop(AF_INET, addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, port);
    } else if (family == AF_INET6) {
        inet_ntop(AF_INET6, addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, port);
    } else {
        snprintf(out, outlen, "-");
    }
}

void bw_entry_format_addr(const bw_entry *e, char *out, size_t outlen)
{
    bw_format_key_addr(e->family, e->addr, e->port, out, outlen);
}
