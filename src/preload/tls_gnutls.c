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

static bool fill(void *h, const char *ver)
{
    gt.handshake = bw_tls_sym(h, "gnutls_handshake", ver);
    gt.send = bw_tls_sym(h, "gnutls_record_send", ver);
    gt.recv = bw_tls_sym(h, "gnutls_record_recv", ver);
    gt.error_is_fatal = bw_tls_sym(h, "gnutls_error_is_fatal", ver);
    gt.alpn_selected = bw_tls_sym(h, "gnutls_alpn_get_selected_protocol", ver);
    return gt.handshake && gt.send && gt.recv && gt.error_is_fatal && gt.alpn_selected;
}

static const char *const sonames[][2] = {{"libgnutls.so.30", "GNUTLS_3_4"}, {NULL, NULL}};
struct bw_tls_lib bw_tls_gnutls = {.name = "GnuTLS", .sonames = sonames, .fill = fill,
                                   .lock = PTHREAD_MUTEX_INITIALIZER};

static bool ready(void)
{
    return bw_tls_ready(&bw_tls_gnutls);
}

/* bw_tls_watched's question, asked at the first record call (the handshake,
 * and so ALPN, is over by then): whether ALPN chose h2. */
static int alpn(const void *obj)
{
    gnutls_datum_t p = {NULL, 0};
    return gt.alpn_selected((gnutls_session_t)obj, &p) == 0 && p.size == 2 &&
           !memcmp(p.data, "h2", 2);
}

static bool watched(gnutls_session_t s, bw_conn *c)
{
    return bw_tls_watched(c, s, alpn);
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
