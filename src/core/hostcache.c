/*
 * hostcache.c - address -> most recent hostname, process-wide (see bw_hostcache.h).
 *
 * Static arrays only: the cache is used from inside resolver and connect
 * hooks, where allocating is unwelcome. Entries are found through a chained
 * hash of the address (links are indices + 1, so 0 means none and the
 * zero-initialised arrays are already an empty cache) and kept on a list from
 * oldest to newest put, whose head is the entry evicted when every slot is in
 * use. One mutex guards everything: puts and gets are short and rare next to
 * the reads and writes of a connection.
 */
#include <pthread.h>
#include <string.h>

#include "bw_hostcache.h"
#include "bw_hash.h"
#include "bw_match.h"

#define N_ENTRIES BW_HOSTCACHE_ENTRIES
#define N_BUCKETS (2 * BW_HOSTCACHE_ENTRIES)

_Static_assert((N_BUCKETS & (N_BUCKETS - 1)) == 0, "bucket count must be a power of two");
_Static_assert(N_ENTRIES < 65535, "entry links are 16-bit");

struct entry {
    uint16_t chain;            /* next entry in the same bucket */
    uint16_t older, newer;     /* neighbours in put order */
    uint8_t fam;               /* 4 or 6 */
    uint8_t addr[16];
    char name[BW_HOSTCACHE_NAMELEN];
};

static struct {
    pthread_mutex_t lock;
    uint16_t bucket[N_BUCKETS];
    uint16_t oldest, newest;
    unsigned used;             /* slots handed out since the last reset */
    struct entry e[N_ENTRIES];
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define AT(link) (&cache.e[(link) - 1])

/* bw_hostcache_generation: moved (under the lock) before an answer changes. */
static unsigned generation;

unsigned bw_hostcache_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

static void answers_change(void)
{
    __atomic_fetch_add(&generation, 1, __ATOMIC_RELEASE);
}

static size_t bucket_of(const bw_ipaddr *a)
{
    uint64_t h = bw_hash(a->addr, 16, (uint64_t)a->family);
    return (size_t)(h ^ (h >> 29)) & (N_BUCKETS - 1);
}

static bool same_addr(const struct entry *e, const bw_ipaddr *a)
{
    return e->fam == (a->family == AF_INET ? 4 : 6) &&
           memcmp(e->addr, a->addr, sizeof e->addr) == 0;
}

/* Link of the entry for a, or 0. Caller holds the lock. */
static uint16_t find(const bw_ipaddr *a)
{
    uint16_t l = cache.bucket[bucket_of(a)];
    while (l && !same_addr(AT(l), a))
        l = AT(l)->chain;
    return l;
}

static void age_unlink(uint16_t l)
{
    struct entry *e = AT(l);
    if (e->older)
        AT(e->older)->newer = e->newer;
    else
        cache.oldest = e->newer;
    if (e->newer)
        AT(e->newer)->older = e->older;
    else
        cache.newest = e->older;
    e->older = e->newer = 0;
}

static void age_append(uint16_t l)
{
    AT(l)->older = cache.newest;
    AT(l)->newer = 0;
    if (cache.newest)
        AT(cache.newest)->newer = l;
    else
        cache.oldest = l;
    cache.newest = l;
}

static void chain_unlink(uint16_t l)
{
    bw_ipaddr a = {.family = AT(l)->fam == 4 ? AF_INET : AF_INET6};
    memcpy(a.addr, AT(l)->addr, sizeof a.addr);
    uint16_t *p = &cache.bucket[bucket_of(&a)];
    while (*p && *p != l)
        p = &AT(*p)->chain;
    if (*p)
        *p = AT(l)->chain;
}

/* A free slot for a new entry: an unused one, else the oldest entry evicted. */
static uint16_t take_slot(void)
{
    if (cache.used < N_ENTRIES)
        return (uint16_t)++cache.used;
    uint16_t l = cache.oldest;
    age_unlink(l);
    chain_unlink(l);
    return l;
}

/* Stores name for a, replacing (and renewing) an entry for the same address. */
static void put_locked(const bw_ipaddr *a, const char *host, size_t len)
{
    uint16_t l = find(a);
    if (!l || strcmp(AT(l)->name, host) != 0)
        answers_change();   /* a renewal with the same name changes no answer */
    if (l) {
        age_unlink(l);
    } else {
        l = take_slot();
        struct entry *e = AT(l);
        e->fam = a->family == AF_INET ? 4 : 6;
        memcpy(e->addr, a->addr, sizeof e->addr);
        size_t b = bucket_of(a);
        e->chain = cache.bucket[b];
        cache.bucket[b] = l;
    }
    memcpy(AT(l)->name, host, len + 1);
    age_append(l);
}

void bw_hostcache_put(const struct sockaddr *sa, const char *host)
{
    bw_ipaddr a;
    if (!host || !bw_ipaddr_from_sockaddr(sa, &a))
        return;
    size_t len = strnlen(host, BW_HOSTCACHE_NAMELEN);
    if (len == 0 || len >= BW_HOSTCACHE_NAMELEN)
        return;   /* a truncated name would match the wrong section */
    pthread_mutex_lock(&cache.lock);
    put_locked(&a, host, len);
    pthread_mutex_unlock(&cache.lock);
}

bool bw_hostcache_get(const struct sockaddr *sa, char *out, size_t outlen)
{
    bw_ipaddr a;
    if (!out || !bw_ipaddr_from_sockaddr(sa, &a))
        return false;
    bool found = false;
    pthread_mutex_lock(&cache.lock);
    uint16_t l = find(&a);
    if (l) {
        size_t len = strlen(AT(l)->name);
        found = len < outlen;
        if (found)
            memcpy(out, AT(l)->name, len + 1);
    }
    pthread_mutex_unlock(&cache.lock);
    return found;
}

void bw_hostcache_reset(void)
{
    /* In a fork child the lock may be held by a thread that no longer exists:
     * initialise it afresh rather than unlock it. Entries need no clearing,
     * slots are handed out again from the first. */
    pthread_mutex_init(&cache.lock, NULL);
    answers_change();
    memset(cache.bucket, 0, sizeof cache.bucket);
    cache.oldest = cache.newest = 0;
    cache.used = 0;
}

/* Fork: the names a parent learned stay valid in its children (a pre-fork
 * server often resolves before it forks), so the cache is kept whole: prepare
 * takes the lock so no other thread is mid-update, and parent and child
 * release it. The child's one thread is the one that took it in prepare, so
 * unlocking is allowed there; re-initialising a held mutex instead is invisible
 * to ThreadSanitizer, which then reports every later lock as a double lock. */
void bw_hostcache_atfork_prepare(void)
{
    pthread_mutex_lock(&cache.lock);
}

void bw_hostcache_atfork_parent(void)
{
    pthread_mutex_unlock(&cache.lock);
}

void bw_hostcache_atfork_child(void)
{
    pthread_mutex_unlock(&cache.lock);
}
