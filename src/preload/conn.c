/*
 * conn.c - connection records: a pool that is never unmapped, reference
 * counts per descriptor, and what happens when the last descriptor goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pending.h"
#include "shim.h"

#define POOL_CHUNK 256   /* records mapped at a time */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
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

bw_conn *bw_conn_new(void)
{
    pthread_mutex_lock(&pool_lock);
    if (!free_list && grow_pool() != 0) {
        pthread_mutex_unlock(&pool_lock);
        return NULL;
    }
    bw_conn *c = free_list;
    free_list = c->next_free;
    pthread_mutex_unlock(&pool_lock);

    /* The mutexes are initialised once per slot and never reset: a thread
     * that raced a close may still be leaving one. */
    size_t head = offsetof(bw_conn, refs);
    memset((char *)c + head, 0, sizeof *c - head);
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
static void release(bw_conn *c)
{
    int saved = errno;
    bw_pend_drop(c);                    /* closed while its retries were pending */
    bw_conn_outcome(c, ECONNABORTED);   /* no-op unless the outcome is still pending */
    bw_conn_release_slot(c);
    errno = saved;
    pthread_mutex_lock(&pool_lock);
    c->next_free = free_list;
    free_list = c;
    pthread_mutex_unlock(&pool_lock);
}

void bw_conn_unref(bw_conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        release(c);
}

void bw_forget_fd(int fd)
{
    if (!bw_fdt_get(fd))
        return;
    int saved = errno;
    bw_conn *c = bw_fdt_take(fd);
    if (c)
        bw_conn_unref(c);
    errno = saved;
}

void bw_dup_fd(int oldfd, int newfd)
{
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

void bw_conn_pool_lock(void)
{
    pthread_mutex_lock(&pool_lock);
}

void bw_conn_pool_unlock(void)
{
    pthread_mutex_unlock(&pool_lock);
}

/* The child is single-threaded: locks another thread held at fork are reset.
 * pool_lock was taken in prepare by the thread the child runs on, so it is
 * released (re-initialising it would hide the unlock from ThreadSanitizer). */
void bw_conn_pool_atfork_child(void)
{
    pthread_mutex_unlock(&pool_lock);
    for (size_t i = 0; i < n_chunks; i++)
        for (int j = 0; j < POOL_CHUNK; j++) {
            pthread_mutex_init(&chunks[i][j].lock, NULL);
            pthread_mutex_init(&chunks[i][j].rlock, NULL);
            pthread_mutex_init(&chunks[i][j].plock, NULL);
        }
}

void bw_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, outlen, "(family %d)", sa->sa_family);
    }
}
