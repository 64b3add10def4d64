/*
 * conn.c - connection records and their cold parts: pools that are never
 * unmapped, reference counts per descriptor, and what happens when the last
 * descriptor goes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bw_match.h"
#include "bw_plock.h"
#include "pending.h"
#include "shim.h"

/*
 * Pools of fixed-size blocks: the records, and the cold parts of records
 * (shim.h). Chunks are mapped as they are needed and never unmapped, so a
 * stale reader only ever reads a block that is free or reused. A block is
 * handed out from its pool's free list, else from the rest of the newest
 * chunk that was never handed out: pages are touched (resident) only when
 * their blocks are first used. A block's leading mutexes are initialised
 * when it is first handed out, and never again but in a fork child. Every
 * pool is guarded by pool_lock, taken only inside the shim (bw_enter), so
 * that a signal handler never waits for its own thread.
 */
#define CHUNK_BYTES (256u * 1024)
#define CHUNK_HEAD 64              /* the chunk's header; blocks follow */

struct chunk {
    struct chunk *next;            /* older */
    char *end;                     /* past its last whole block */
};

struct pool {
    size_t size;                   /* bytes per block */
    size_t link;                   /* offset of the block's free-list link */
    int n_locks;                   /* mutexes at the block's start */
    void *free_list;
    char *fresh, *fresh_end;       /* the newest chunk's blocks never handed out */
    struct chunk *chunks;          /* newest first */
};

#define POOL(type, locks) {sizeof(type), offsetof(type, next_free), locks, NULL, NULL, NULL, NULL}

/* A futex word, not a glibc mutex: taken twice per connection (bw_plock.h). */
static bw_plock pool_lock = BW_PLOCK_INIT;
static struct pool records = POOL(bw_conn, 0);
static struct pool http_parts = POOL(bw_conn_http, 2);
static struct pool pend_parts = POOL(bw_conn_pend, 1);
static struct pool pass_parts = POOL(bw_conn_pass, 0);

/* Maps one more chunk. pool_lock held. */
static int grow(struct pool *p)
{
    int saved = errno;
    struct chunk *ch = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    if (ch == MAP_FAILED)
        return -1;
    p->fresh = (char *)ch + CHUNK_HEAD;
    p->fresh_end = p->fresh + (CHUNK_BYTES - CHUNK_HEAD) / p->size * p->size;
    ch->end = p->fresh_end;
    ch->next = p->chunks;
    p->chunks = ch;
    return 0;
}

/* Zeroes the n bytes at p (n >= 16, a constant), 16 at a time with one
 * unaligned SSE store each, unrolled, the last one ending at p + n (over
 * what its predecessor did when n is not a multiple of 16): a record's
 * tail is ten stores. A plain memset of a constant size becomes a
 * `rep stos` (a step per word of the record), and libc's costs a call
 * and its size dispatch; a loop of stores is turned back into one of those
 * unless unrolled (the pragma).
 * Under ThreadSanitizer the expanded memset stays, as it always was: a
 * stale reader (fork's prepare scanning the table, passfd.c) may load an
 * atomic field of a record being recycled here, the race shim.h accepts
 * ("reads a stale record, never freed memory"); stores it instruments
 * (libc's memset through its interceptor, or these vector stores) would
 * show it, and t_fork_threads would report it. */
#if defined(__SANITIZE_THREAD__)
static inline void zero(void *p, size_t n)
{
    memset(p, 0, n);
}
#else
typedef uint64_t zero_v2 __attribute__((vector_size(16), aligned(1), may_alias));
static inline void zero(void *p, size_t n)
{
    char *b = p;
#pragma GCC unroll 32
    for (size_t i = 0; i + 16 <= n; i += 16)
        *(zero_v2 *)(b + i) = (zero_v2){0, 0};
    if (n % 16)
        *(zero_v2 *)(b + n - 16) = (zero_v2){0, 0};
}
#endif

static void **link_of(const struct pool *p, void *b)
{
    return (void **)((char *)b + p->link);
}

/* take() when the free list is empty: a never used block. */
__attribute__((noinline)) static void *take_fresh(struct pool *p)
{
    void *b;
    if (p->fresh == p->fresh_end && grow(p) != 0)
        return NULL;
    b = p->fresh;
    p->fresh += p->size;
    for (int i = 0; i < p->n_locks; i++)
        pthread_mutex_init((pthread_mutex_t *)b + i, NULL);
    return b;
}

/* A block, uncleared (a fresh one is zero); NULL when out of memory. pool_lock held. */
static inline void *take(struct pool *p)
{
    void *b = p->free_list;
    if (__builtin_expect(!b, 0))
        return take_fresh(p);
    p->free_list = *link_of(p, b);
    return b;
}

/* pool_lock held. */
static void give(struct pool *p, void *b)
{
    *link_of(p, b) = p->free_list;
    p->free_list = b;
}

/* A cold block cleared past its locks and link, or NULL. */
static void *cold_get(struct pool *p)
{
    bw_plock_lock(&pool_lock);
    void *b = take(p);
    bw_plock_unlock(&pool_lock);
    if (b) {
        size_t keep = p->link + sizeof(void *);
        memset((char *)b + keep, 0, p->size - keep);
    }
    return b;
}

static void cold_put(struct pool *p, void *b)
{
    bw_plock_lock(&pool_lock);
    give(p, b);
    bw_plock_unlock(&pool_lock);
}

bw_conn_pend *bw_conn_pend_get(void)
{
    return cold_get(&pend_parts);
}

void bw_conn_pend_put(bw_conn_pend *b)
{
    cold_put(&pend_parts, b);
}

bw_conn_pass *bw_conn_pass_get(void)
{
    return cold_get(&pass_parts);
}

void bw_conn_pass_put(bw_conn_pass *b)
{
    cold_put(&pass_parts, b);
}

/* bw_conn_watch_http once the policy watches something: out of line, so
 * that the common answer (nothing to watch) saves no registers. */
__attribute__((noinline)) static void watch_http(bw_conn *c, const bw_policy *p, bool responses)
{
    bw_conn_http *h = cold_get(&http_parts);
    if (!h)
        return;   /* out of memory: the connection works, unwatched */
    bw_http_req_cfg_from_policy(&h->req_cfg, p);
    atomic_store_explicit(&c->http, h, memory_order_release);
    c->watch_responses = responses;
    c->watch_requests = true;
}

void bw_conn_watch_http(bw_conn *c, const bw_policy *p)
{
    bool responses = !bw_status_set_empty(&p->breaker_http_status);
    if (__builtin_expect(p->idempotency || responses, 0))
        watch_http(c, p, responses);
}

/* detach_cold() for a record with a cold part. */
__attribute__((noinline)) static void detach_attached(bw_conn *c)
{
    bw_conn_http *h = atomic_exchange(&c->http, NULL);
    bw_conn_pend *pd = atomic_exchange(&c->pendb, NULL);
    bw_conn_pass *ps = atomic_exchange(&c->pass, NULL);
    bw_plock_lock(&pool_lock);
    if (h)
        give(&http_parts, h);
    if (pd)
        give(&pend_parts, pd);
    if (ps)
        give(&pass_parts, ps);
    bw_plock_unlock(&pool_lock);
}

/* Gives back the cold parts attached to c: three loads when there are none. */
static inline void detach_cold(bw_conn *c)
{
    if (atomic_load_explicit(&c->http, memory_order_relaxed) ||
        atomic_load_explicit(&c->pendb, memory_order_relaxed) ||
        atomic_load_explicit(&c->pass, memory_order_relaxed))
        detach_attached(c);
}

bw_conn *bw_conn_new(bw_cfg_ref *ref)
{
    bw_plock_lock(&pool_lock);
    bw_conn *c = take(&records);
    bw_plock_unlock(&pool_lock);
    if (!c)
        return NULL;

    /* The config the record was last made under is let go only now: a
     * thread that raced a close may still read the policy it points to.
     * A cold part found here was attached by such a thread after the
     * release (passfd.c's note on a closing socket): it goes back. */
    detach_cold(c);
    bw_cfg_ref *last_cfg = c->cfg_ref;
    size_t head = offsetof(bw_conn, refs);
    _Static_assert(sizeof(bw_conn) - offsetof(bw_conn, refs) >= 16, "zero(): 16 bytes or more");
    zero((char *)c + head, sizeof *c - head);
    /* The same config as last time (nearly always): its hold carries over,
     * instead of a drop and a keep of one counter. The hold kept it in its
     * slot (config_ref.c sweeps only what nobody holds): the same config. */
    if (last_cfg != ref) {
        bw_cfg_drop(last_cfg);
        bw_cfg_keep(ref);
    }
    c->cfg_ref = ref;
    atomic_init(&c->refs, 1);
    c->owner = bw_self_pid();
    return c;
}

void bw_conn_ref(bw_conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

/* The last reference to c is gone (descriptors and in-flight writes): a
 * connect still in progress has failed, and the bulkhead slot goes back.
 * errno preserved. The last reference's drop (an atomic read-modify-write)
 * orders every earlier holder's writes before the plain loads below, which
 * skip calls that would find nothing to do: no pending connect nor pending
 * outcome (both bytes of io_flags, one load), no passed socket. */
void bw_conn_release(bw_conn *c)
{
    int saved = errno;
    if (atomic_load_explicit(&c->io_flags, memory_order_relaxed) &
        (BW_IO_FLAG(pend) | BW_IO_FLAG(outcome_pending))) {
        bw_pend_drop(c);                    /* closed while its retries were pending */
        bw_conn_outcome(c, ECONNABORTED);   /* no-op unless the outcome is still pending */
    }
    if (!atomic_load_explicit(&c->pass, memory_order_relaxed) || !bw_passfd_keep(c))
        bw_conn_release_slot(c);
    errno = saved;
    detach_cold(c);   /* a stale reader finds none from now on */
    bw_plock_lock(&pool_lock);
    give(&records, c);
    bw_plock_unlock(&pool_lock);
}

void bw_conn_unref(bw_conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (bw_enter()) {
        bw_conn_release(c);
        bw_leave();
    } else {
        /* Inside the shim already (or a vfork child, where nothing reaches
         * here): the locks release() takes may be this thread's. A full
         * queue leaves the slot to the owner's exit. */
        bw_defer_unref(c);
    }
}

void bw_forget_tracked_fd(int fd)
{
    if (bw_vfork_child)
        return;
    bw_conn *c = bw_fdt_take(fd);
    if (c)
        bw_conn_unref(c);   /* errno preserved */
}

void bw_dup_fd(int oldfd, int newfd)
{
    if (bw_vfork_child)
        return;   /* the table is the parent's */
    bw_conn *c = bw_fdt_get(oldfd);
    if (!c) {
        bw_forget_fd(newfd);
        return;
    }
    bw_conn_ref(c);
    bw_conn *old = bw_fdt_set(newfd, c);
    if (old == c && bw_fdt_get(newfd) != c)
        bw_conn_unref(c);           /* newfd out of the table's range: not tracked */
    else if (old)
        bw_conn_unref(old);
}

void bw_conn_pool_drop_idle_configs(void)
{
    bw_plock_lock(&pool_lock);
    for (bw_conn *c = records.free_list; c; c = c->next_free) {
        bw_cfg_drop(c->cfg_ref);
        c->cfg_ref = NULL;
    }
    bw_plock_unlock(&pool_lock);
}

void bw_conn_pool_lock(void)
{
    bw_plock_lock(&pool_lock);
}

void bw_conn_pool_unlock(void)
{
    bw_plock_unlock(&pool_lock);
}

/* The locks of every block p ever handed out. pool_lock held. */
static void reinit_locks(struct pool *p)
{
    for (struct chunk *ch = p->chunks; ch; ch = ch->next) {
        char *end = ch == p->chunks ? p->fresh : ch->end;
        for (char *b = (char *)ch + CHUNK_HEAD; b < end; b += p->size)
            for (int i = 0; i < p->n_locks; i++)
                pthread_mutex_init((pthread_mutex_t *)b + i, NULL);
    }
}

/* The child is single-threaded: locks another thread held at fork are reset.
 * pool_lock was taken in prepare by the thread the child runs on, so it is
 * released (re-initialising it would hide the unlock from ThreadSanitizer). */
void bw_conn_pool_atfork_child(void)
{
    reinit_locks(&http_parts);
    reinit_locks(&pend_parts);
    bw_plock_unlock(&pool_lock);
}

void bw_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
    bw_ipaddr a;
    if (bw_ipaddr_from_sockaddr_as_is(sa, &a))
        bw_format_key_addr((uint8_t)a.family, a.addr, a.port, out, outlen);
    else
        snprintf(out, outlen, "(family %d)", sa->sa_family);
}
