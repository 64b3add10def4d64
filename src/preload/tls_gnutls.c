/*
 * tls_gnutls.c - GnuTLS's record and handshake functions, interposed:
 * gnutls_handshake (a fatal failure is a failed connect), gnutls_record_recv
 * (the plaintext to the HTTP response reader) and gnutls_record_send
 * (Idempotency-Key lines; GnuTLS sends at most one record per call, so the
 * program's progress is reported as soon as there is some).
 *
 * GnuTLS is not linked: looked up on first use, by version (GNUTLS_3_4),
 * next in the global scope or in a libgnutls that was dlopen'ed locally. A
 * session's transport is whatever its push function writes to, so its
 * connection is always learned from the socket hooks (tls.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/types.h>

#include "inject.h"
#include "tls.h"

typedef struct gnutls_session_int *gnutls_session_t;
typedef struct {
    unsigned char *data;
    unsigned int size;
} gnutls_datum_t;

#define GNUTLS_E_INTERNAL_ERROR (-59)

static struct {
    int (*handshake)(gnutls_session_t);
    ssize_t (*send)(gnutls_session_t, const void *, size_t);
    ssize_t (*recv)(gnutls_session_t, void *, size_t);
    int (*error_is_fatal)(int);
    int (*alpn_selected)(gnutls_session_t, gnutls_datum_t *);
} gt;

static _Atomic int resolved;
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool said_missing;

/* Another thread may have been looking the library up at fork. */
void bw_tls_gnutls_atfork_child(void)
{
    pthread_mutex_init(&resolve_lock, NULL);
}

static void *find(void *h, const char *name)
{
    void *p = dlvsym(h, name, "GNUTLS_3_4");
    return p ? p : dlsym(h, name);
}

static bool fill(void *h)
{
    gt.handshake = find(h, "gnutls_handshake");
    gt.send = find(h, "gnutls_record_send");
    gt.recv = find(h, "gnutls_record_recv");
    gt.error_is_fatal = find(h, "gnutls_error_is_fatal");
    gt.alpn_selected = find(h, "gnutls_alpn_get_selected_protocol");
    return gt.handshake && gt.send && gt.recv && gt.error_is_fatal && gt.alpn_selected;
}

/* Looks GnuTLS up once it is there; false (and errno ENOSYS) when it is not. */
static bool ready(void)
{
    if (__builtin_expect(atomic_load_explicit(&resolved, memory_order_acquire), 1))
        return true;
    int saved = errno;
    pthread_mutex_lock(&resolve_lock);
    if (!atomic_load(&resolved)) {
        bool ok = fill(RTLD_NEXT);
        if (!ok) {
            void *h = dlopen("libgnutls.so.30", RTLD_LAZY | RTLD_NOLOAD);
            ok = h && fill(h);
        }
        if (ok)
            atomic_store_explicit(&resolved, 1, memory_order_release);
    }
    bool ok = atomic_load(&resolved);
    pthread_mutex_unlock(&resolve_lock);
    if (!ok) {
        bw_tls_missing("GnuTLS", &said_missing);
        saved = ENOSYS;
    }
    errno = saved;
    return ok;
}

/* Whether c's plaintext is watched (settled at the first record call: the
 * handshake, and so ALPN, is over by then). */
static bool watched(gnutls_session_t s, bw_conn *c)
{
    int m = bw_tls_mode(c);
    if (m == BW_TLSM_HTTP)
        return true;
    if (m == BW_TLSM_PASS)
        return false;
    bw_tls_begin(c);
    if (bw_tls_mode(c) == BW_TLSM_HANDSHAKE) {
        gnutls_datum_t p = {NULL, 0};
        bool h2 = gt.alpn_selected(s, &p) == 0 && p.size == 2 && !memcmp(p.data, "h2", 2);
        bw_tls_settle(c, h2);
    }
    return bw_tls_mode(c) == BW_TLSM_HTTP;
}

BW_EXPORT int gnutls_handshake(gnutls_session_t s)
{
    if (!ready())
        return GNUTLS_E_INTERNAL_ERROR;
    if (!bw_tls_enter(s))
        return gt.handshake(s);
    bw_conn *c = bw_tls_conn(s, -1);
    if (c)
        bw_tls_begin(c);
    int r = gt.handshake(s);
    c = bw_tls_leave(s, c);
    if (c && r < 0) {
        int saved = errno;
        if (gt.error_is_fatal(r))
            bw_tls_handshake_failed(c, "gnutls_handshake");
        errno = saved;
    }
    return r;
}

BW_EXPORT ssize_t gnutls_record_recv(gnutls_session_t s, void *buf, size_t n)
{
    if (!ready())
        return GNUTLS_E_INTERNAL_ERROR;
    if (!bw_tls_enter(s))
        return gt.recv(s, buf, n);
    bw_conn *c = bw_tls_conn(s, -1);
    ssize_t r = gt.recv(s, buf, n);
    c = bw_tls_leave(s, c);
    if (c && r > 0 && watched(s, c))
        bw_observe_plaintext(c, buf, (size_t)r);
    return r;
}

static ssize_t out(void *ctx, const void *p, size_t len)
{
    ssize_t r = gt.send(ctx, p, len);
    return r > 0 ? r : (r == 0 ? GNUTLS_E_INTERNAL_ERROR : r);
}

BW_EXPORT ssize_t gnutls_record_send(gnutls_session_t s, const void *buf, size_t n)
{
    if (!ready())
        return GNUTLS_E_INTERNAL_ERROR;
    if (!bw_tls_enter(s))
        return gt.send(s, buf, n);
    if (n == 0) {   /* (NULL, 0): finish the record buffered by a failed call */
        bw_conn *c = bw_tls_conn(s, -1);
        ssize_t r = gt.send(s, buf, n);
        if (c && bw_tls_mode(c) == BW_TLSM_HTTP)
            r = bw_inject_tls_unseen(c, r);
        bw_tls_leave(s, c);
        return r;
    }
    bw_conn *c = bw_tls_conn(s, -1);
    ssize_t r;
    if (c && watched(s, c))
        r = bw_inject_tls(c, buf, n, true, out, s);
    else
        r = gt.send(s, buf, n);
    bw_tls_leave(s, c);
    return r;
}
