/*
 * tls_conn.c - connections under TLS objects (see tls.h).
 *
 * An SSL whose transport is a socket names its descriptor (SSL_get_fd).
 * Others (curl's and libpq's BIOs, GnuTLS push functions) are learned: while
 * a hook runs the real library call, the socket hooks note on this thread
 * which tracked connection it moves bytes on (bw_tls_cur), and a small table
 * remembers it for the object. An entry names the record and the serial of
 * its use, so a record recycled for another connection is never taken for
 * the old one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>

#include "bw_log.h"
#include "guard.h"
#include "tls.h"

__thread struct bw_tls_call bw_tls_cur __attribute__((tls_model("initial-exec")));
atomic_int bw_tls_learners;

#define MAP_SLOTS 1024   /* power of two */
#define MAP_PROBE 8

struct map_entry {
    const void *obj;
    bw_conn *c;
    uint32_t serial;
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_entry map[MAP_SLOTS];
static atomic_uint next_serial;

static size_t slot_of(const void *obj)
{
    uintptr_t h = (uintptr_t)obj;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 40) & (MAP_SLOTS - 1);
}

static bool entry_live(const struct map_entry *e)
{
    return e->obj && e->c->tls_serial == e->serial && atomic_load(&e->c->refs) > 0;
}

static bw_conn *map_find(const void *obj)
{
    bw_conn *found = NULL;
    size_t s = slot_of(obj);
    pthread_mutex_lock(&map_lock);
    for (int i = 0; i < MAP_PROBE; i++) {
        struct map_entry *e = &map[(s + (size_t)i) & (MAP_SLOTS - 1)];
        if (e->obj == obj) {
            found = entry_live(e) ? e->c : NULL;
            break;
        }
    }
    pthread_mutex_unlock(&map_lock);
    return found;
}

/* Remembers obj -> c: its own slot, else a free or stale one, else the first. */
static void map_put(const void *obj, bw_conn *c)
{
    size_t s = slot_of(obj);
    pthread_mutex_lock(&map_lock);
    if (c->tls_serial == 0)
        c->tls_serial = atomic_fetch_add(&next_serial, 1) + 1;
    struct map_entry *use = &map[s];
    for (int i = 0; i < MAP_PROBE; i++) {
        struct map_entry *e = &map[(s + (size_t)i) & (MAP_SLOTS - 1)];
        if (e->obj == obj) {
            use = e;
            break;
        }
        if (!entry_live(e) && entry_live(use))
            use = e;
    }
    *use = (struct map_entry){obj, c, c->tls_serial};
    pthread_mutex_unlock(&map_lock);
}

bw_conn *bw_tls_conn(const void *obj, int fd)
{
    if (fd >= 0)
        return bw_fdt_get(fd);
    bw_conn *c = map_find(obj);
    if (!c && bw_tls_cur.obj == obj && !bw_tls_cur.learning) {
        /* This call learns it: the socket hooks note for it until bw_tls_leave. */
        bw_tls_cur.learning = true;
        atomic_fetch_add_explicit(&bw_tls_learners, 1, memory_order_relaxed);
    }
    return c;
}

bool bw_tls_enter(const void *obj)
{
    if (bw_tls_cur.obj)
        return false;
    bw_tls_cur.obj = obj;
    bw_tls_cur.seen = NULL;
    return true;
}

bw_conn *bw_tls_leave(const void *obj, bw_conn *c)
{
    bw_conn *seen = bw_tls_cur.seen;
    bw_tls_cur.obj = NULL;
    bw_tls_cur.seen = NULL;
    if (bw_tls_cur.learning) {
        bw_tls_cur.learning = false;
        atomic_fetch_sub_explicit(&bw_tls_learners, 1, memory_order_relaxed);
    }
    if (c || !seen)
        return c;
    int saved = errno;
    map_put(obj, seen);
    bw_tls_begin(seen);
    errno = saved;
    return seen;
}

void bw_tls_begin(bw_conn *c)
{
    if (bw_tls_mode(c) != BW_TLSM_NONE)
        return;
    bw_conn_http *h = bw_conn_http_of(c);
    if (!h) {
        /* No HTTP part: its policy watches no HTTP, nothing to look into. */
        uint8_t none = BW_TLSM_NONE;
        atomic_compare_exchange_strong(&c->tls, &none, BW_TLSM_PASS);
        return;
    }
    int saved = errno;
    const bw_policy *p = c->policy;
    bool responses = !bw_status_set_empty(&p->breaker_http_status);
    bool requests = p->idempotency || responses;
    pthread_mutex_lock(&h->lock);
    pthread_mutex_lock(&h->rlock);
    if (bw_tls_mode(c) == BW_TLSM_NONE) {
        /* Whatever the socket level made of the ciphertext is dropped: the
         * plaintext starts afresh. */
        c->watch_requests = c->watch_responses = false;
        bw_http_req_init(&h->req);
        bw_http_resp_init(&h->resp);
        h->pending_off = h->pending_len = 0;
        bool look = p->tls == BW_TLS_AUTO && requests;
        h->tls_watch_requests = look && requests;
        h->tls_watch_responses = look && responses;
        atomic_store_explicit(&c->tls, look ? BW_TLSM_HANDSHAKE : BW_TLSM_PASS,
                              memory_order_release);
    }
    pthread_mutex_unlock(&h->rlock);
    pthread_mutex_unlock(&h->lock);
    errno = saved;
}

/* The handshake is over: h2 leaves c alone, anything else is read. */
static void settle(bw_conn *c, bool h2)
{
    uint8_t expect = BW_TLSM_HANDSHAKE;
    if (!atomic_compare_exchange_strong(&c->tls, &expect, h2 ? BW_TLSM_PASS : BW_TLSM_HTTP))
        return;
    if (h2 && bw_log_enabled(BW_LOG_DEBUG)) {
        char addr[64];
        bw_format_addr((const struct sockaddr *)&c->addr, addr, sizeof addr);
        bw_log(BW_LOG_DEBUG, "%s %s: TLS with ALPN h2: not looked into", c->dest_name, addr);
    }
}

bool bw_tls_watched(bw_conn *c, const void *obj, int (*alpn)(const void *obj))
{
    int m = bw_tls_mode(c);
    if (m == BW_TLSM_HTTP || m == BW_TLSM_PASS)
        return m == BW_TLSM_HTTP;
    bw_tls_begin(c);
    if (bw_tls_mode(c) == BW_TLSM_HANDSHAKE) {
        int h2 = alpn(obj);
        if (h2 >= 0)
            settle(c, h2);
    }
    return bw_tls_mode(c) == BW_TLSM_HTTP;
}

void bw_tls_handshake_failed(bw_conn *c, const char *lib_call)
{
    /* One failure per connection reaches the breaker. */
    if (!c->policy->tls_handshake_failures || atomic_exchange(&c->io_failure_recorded, true))
        return;
    int saved = errno;
    if (bw_log_enabled(BW_LOG_INFO)) {
        char addr[64];
        bw_format_addr((const struct sockaddr *)&c->addr, addr, sizeof addr);
        bw_log(BW_LOG_INFO, "%s %s TLS handshake failed (%s): a failed connect",
               c->dest_name, addr, lib_call);
    }
    bw_guard_breaker_replace(c);   /* not a success and then a failure: one failed connect */
    errno = saved;
}

void *bw_tls_sym(void *h, const char *name, const char *ver)
{
    void *p = dlvsym(h, name, ver);
    return p ? p : dlsym(h, name);
}

bool bw_tls_resolve(struct bw_tls_lib *lib)
{
    int saved = errno;
    pthread_mutex_lock(&lib->lock);
    if (!atomic_load(&lib->resolved)) {
        bool ok = lib->fill(RTLD_NEXT, lib->sonames[0][1]);
        for (size_t i = 0; !ok && lib->sonames[i][0]; i++) {
            void *h = dlopen(lib->sonames[i][0], RTLD_LAZY | RTLD_NOLOAD);
            ok = h && lib->fill(h, lib->sonames[i][1]);
        }
        if (ok)
            atomic_store_explicit(&lib->resolved, 1, memory_order_release);
    }
    bool ok = atomic_load(&lib->resolved);
    pthread_mutex_unlock(&lib->lock);
    errno = saved;
    if (!ok) {
        if (!atomic_exchange(&lib->said_missing, true))
            bw_log(BW_LOG_ERROR, "%s called, but no %s is loaded: failing the call", lib->name,
                   lib->name);
        errno = ENOSYS;
    }
    return ok;
}

void bw_tls_atfork_prepare(void)
{
    pthread_mutex_lock(&map_lock);
}

void bw_tls_atfork_parent(void)
{
    pthread_mutex_unlock(&map_lock);
}

/* Taken in prepare by the thread the child runs on: released, as in conn.c. */
void bw_tls_atfork_child(void)
{
    pthread_mutex_unlock(&map_lock);
    /* Only this thread came along: only its own learning call counts. */
    atomic_store(&bw_tls_learners, bw_tls_cur.learning ? 1 : 0);
    /* Another thread may have been looking a library up. */
    pthread_mutex_init(&bw_tls_openssl.lock, NULL);
    pthread_mutex_init(&bw_tls_gnutls.lock, NULL);
}
