/*
 * conn.c - connection records: a pool that is never unmapped, reference
 * counts per descriptor, and what happens when the last descriptor goes.
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

#define POOL_CHUNK 256   /* records mapped at a time */

/* A futex word, not a glibc mutex: two of these per connection (bw_plock.h). */
static bw_plock pool_lock = BW_PLOCK_INIT;
static bw_conn *free_list;
static bw_conn *chunks[BW_FDT_MAX / POOL_CHUNK];   /* every chunk ever mapped */
static size_t n_chunks;

/* Maps POOL_CHUNK more records onto the free list. Called with pool_lock held. */
static int grow_pool(void)
{
    if (n_chunks == sizeof chunks / sizeof chunks[0])
        return -1;
    int saved = errno;
    bw_conn *chunk = mmap(NULL, POOL_CHUNK * sizeof(bw_conn), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    if (chunk == MAP_FAILED)
        return -1;
    for (int i = 0; i < POOL_CHUNK; i++) {
        pthread_mutex_init(&chunk[i].lock, NULL);
        pthread_mutex_init(&chunk[i].rlock, NULL);
        pthread_mutex_init(&chunk[i].plock, NULL);
        chunk[i].next_free = free_list;
        free_list = &chunk[i];
    }
    chunks[n_chunks++] = chunk;
    return 0;
}

/* Zeroes n bytes with libc's memset: for a constant size the compiler
 * would expand it into a `rep stos`, one step per word of the record's
 * kilobyte where libc stores 32 or 64 bytes at a time.
 * Under ThreadSanitizer the expanded store stays, as it always was: a
 * stale reader (fork's prepare scanning the table, passfd.c) may load an
 * atomic field of a record being recycled here, the race shim.h accepts
 * ("reads a stale record, never freed memory"); libc's memset would show
 * it to TSan's interceptor, and t_fork_threads would report it. */
#if defined(__SANITIZE_THREAD__)
#define ZERO_OUT_OF_LINE
#else
#define ZERO_OUT_OF_LINE __attribute__((noipa))
#endif
ZERO_OUT_OF_LINE static void zero(void *p, size_t n)
{
    memset(p, 0, n);
}

bw_conn *bw_conn_new(void)
{
    bw_plock_lock(&pool_lock);
    if (!free_list && grow_pool() != 0) {
        bw_plock_unlock(&pool_lock);
        return NULL;
    }
    bw_conn *c = free_list;
    free_list = c->next_free;
    bw_plock_unlock(&pool_lock);

    /* The mutexes are initialised once per slot and never reset: a thread
     * that raced a close may still be leaving one. The config the record
     * was last made under is let go only now, for the same reason: such a
     * thread may still read the policy it points to. */
    bw_cfg_ref *last_cfg = c->cfg_ref;
    size_t head = offsetof(bw_conn, refs);
    zero((char *)c + head, sizeof *c - head);
    bw_cfg_drop(last_cfg);
    atomic_init(&c->refs, 1);
    c->owner = bw_self_pid();
    return c;
}

void bw_conn_ref(bw_conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

/* The last reference to c is gone (descriptors and in-flight writes): a
 * connect still in progress has failed, and the bulkhead slot goes back. */
void bw_conn_release(bw_conn *c)
{
    int saved = errno;
    bw_pend_drop(c);                    /* closed while its retries were pending */
    bw_conn_outcome(c, ECONNABORTED);   /* no-op unless the outcome is still pending */
    if (!bw_passfd_keep(c))
        bw_conn_release_slot(c);
    errno = saved;
    bw_plock_lock(&pool_lock);
    c->next_free = free_list;
    free_list = c;
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

void bw_forget_fd(int fd)
{
    if (bw_vfork_child || !bw_fdt_get(fd))
        return;
    int saved = errno;
    bw_conn *c = bw_fdt_take(fd);
    if (c)
        bw_conn_unref(c);
    errno = saved;
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
    for (bw_conn *c = free_list; c; c = c->next_free) {
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

/* The child is single-threaded: locks another thread held at fork are reset.
 * pool_lock was taken in prepare by the thread the child runs on, so it is
 * released (re-initialising it would hide the unlock from ThreadSanitizer). */
void bw_conn_pool_atfork_child(void)
{
    bw_plock_unlock(&pool_lock);
    for (size_t i = 0; i < n_chunks; i++)
        for (int j = 0; j < POOL_CHUNK; j++) {
            pthread_mutex_init(&chunks[i][j].lock, NULL);
            pthread_mutex_init(&chunks[i][j].rlock, NULL);
            pthread_mutex_init(&chunks[i][j].plock, NULL);
        }
}

void bw_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
    bw_ipaddr a;
    if (bw_ipaddr_from_sockaddr_as_is(sa, &a))
        bw_format_key_addr((uint8_t)a.family, a.addr, a.port, out, outlen);
    else
        snprintf(out, outlen, "(family %d)", sa->sa_family);
}
