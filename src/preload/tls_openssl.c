/*
 * tls_openssl.c - the system libssl's record and handshake functions,
 * interposed: SSL_connect and SSL_do_handshake (a failure is a failed
 * connect), SSL_read and SSL_read_ex (the plaintext to the HTTP response
 * reader; SSL_peek is not hooked, so peeked bytes are read once), SSL_write
 * and SSL_write_ex (Idempotency-Key lines, bw_inject_tls).
 *
 * libssl is not linked: its functions are looked up on first use, by
 * version (OPENSSL_3.0.0), next in the global scope or, for a libssl that
 * was dlopen'ed locally (python's _ssl), in that object itself. The shim's
 * own unversioned definitions satisfy the programs' versioned references.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "inject.h"
#include "tls.h"

typedef struct ssl_st SSL;

#define SSL_ERROR_SSL 1
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_CTRL_MODE 33
#define SSL_MODE_ENABLE_PARTIAL_WRITE 0x1L
#define SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 0x2L

static struct {
    int (*write)(SSL *, const void *, int);
    int (*write_ex)(SSL *, const void *, size_t, size_t *);
    int (*read)(SSL *, void *, int);
    int (*read_ex)(SSL *, void *, size_t, size_t *);
    int (*connect)(SSL *);
    int (*do_handshake)(SSL *);
    int (*get_fd)(const SSL *);
    int (*get_error)(const SSL *, int);
    long (*ctrl)(SSL *, int, long, void *);
    int (*is_init_finished)(const SSL *);
    void (*alpn_selected)(const SSL *, const unsigned char **, unsigned int *);
} ossl;

/* Fills ossl from handle h; true when every function was found. */
static bool fill(void *h, const char *ver)
{
    ossl.write = bw_tls_sym(h, "SSL_write", ver);
    ossl.write_ex = bw_tls_sym(h, "SSL_write_ex", ver);
    ossl.read = bw_tls_sym(h, "SSL_read", ver);
    ossl.read_ex = bw_tls_sym(h, "SSL_read_ex", ver);
    ossl.connect = bw_tls_sym(h, "SSL_connect", ver);
    ossl.do_handshake = bw_tls_sym(h, "SSL_do_handshake", ver);
    ossl.get_fd = bw_tls_sym(h, "SSL_get_fd", ver);
    ossl.get_error = bw_tls_sym(h, "SSL_get_error", ver);
    ossl.ctrl = bw_tls_sym(h, "SSL_ctrl", ver);
    ossl.is_init_finished = bw_tls_sym(h, "SSL_is_init_finished", ver);
    ossl.alpn_selected = bw_tls_sym(h, "SSL_get0_alpn_selected", ver);
    return ossl.write && ossl.write_ex && ossl.read && ossl.read_ex && ossl.connect &&
           ossl.do_handshake && ossl.get_fd && ossl.get_error && ossl.ctrl &&
           ossl.is_init_finished && ossl.alpn_selected;
}

static const char *const sonames[][2] = {{"libssl.so.3", "OPENSSL_3.0.0"},
                                         {"libssl.so.1.1", "OPENSSL_1_1_0"}, {NULL, NULL}};
struct bw_tls_lib bw_tls_openssl = {.name = "libssl", .sonames = sonames, .fill = fill,
                                    .lock = PTHREAD_MUTEX_INITIALIZER};

static bool ready(void)
{
    return bw_tls_ready(&bw_tls_openssl);
}

/* The tracked connection of s, NULL when none; *known: the answer is final
 * (a descriptor transport), so nothing is to be learned from the call. */
static bw_conn *conn_of(SSL *s, bool *known)
{
    int fd = ossl.get_fd(s);
    *known = fd >= 0;
    return bw_tls_conn(s, fd);
}

/* bw_tls_watched's question: -1 during the handshake, else whether ALPN chose h2. */
static int alpn(const void *obj)
{
    SSL *s = (SSL *)obj;
    if (!ossl.is_init_finished(s))
        return -1;
    const unsigned char *proto = NULL;
    unsigned int len = 0;
    ossl.alpn_selected(s, &proto, &len);
    return len == 2 && proto && !memcmp(proto, "h2", 2);
}

static bool watched(SSL *s, bw_conn *c)
{
    return bw_tls_watched(c, s, alpn);
}

static int handshake(SSL *s, int (*real)(SSL *), const char *name)
{
    if (!bw_tls_enter(s))
        return real(s);
    bool known;
    bw_conn *c = conn_of(s, &known);
    if (c)
        bw_tls_begin(c);   /* before the ciphertext flows */
    int r = real(s);
    c = bw_tls_leave(s, c);
    if (c && r <= 0) {
        int saved = errno;
        int e = ossl.get_error(s, r);
        if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
            bw_tls_handshake_failed(c, name);
        errno = saved;
    }
    return r;
}

BW_EXPORT int SSL_connect(SSL *s)
{
    if (!ready())
        return -1;
    return handshake(s, ossl.connect, "SSL_connect");
}

BW_EXPORT int SSL_do_handshake(SSL *s)
{
    if (!ready())
        return -1;
    return handshake(s, ossl.do_handshake, "SSL_do_handshake");
}

/* ---- reading ---- */

BW_EXPORT int SSL_read(SSL *s, void *buf, int num)
{
    if (!ready())
        return -1;
    if (!bw_tls_enter(s))
        return ossl.read(s, buf, num);
    bool known;
    bw_conn *c = conn_of(s, &known);
    if (!c && known) {
        bw_tls_leave(s, NULL);
        return ossl.read(s, buf, num);
    }
    int r = ossl.read(s, buf, num);
    c = bw_tls_leave(s, c);
    if (c && r > 0 && watched(s, c))
        bw_observe_plaintext(c, buf, (size_t)r);
    return r;
}

BW_EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *got)
{
    if (!ready())
        return 0;
    if (!bw_tls_enter(s))
        return ossl.read_ex(s, buf, num, got);
    bool known;
    bw_conn *c = conn_of(s, &known);
    if (!c && known) {
        bw_tls_leave(s, NULL);
        return ossl.read_ex(s, buf, num, got);
    }
    int r = ossl.read_ex(s, buf, num, got);
    c = bw_tls_leave(s, c);
    if (c && r == 1 && got && *got > 0 && watched(s, c))
        bw_observe_plaintext(c, buf, *got);
    return r;
}

/* ---- writing ---- */

struct wctx {
    SSL *s;
    bool ex;
    int fail;   /* SSL_write_ex's failing value */
};

static ssize_t out(void *ctx, const void *p, size_t len)
{
    struct wctx *w = ctx;
    if (!w->ex) {
        int r = ossl.write(w->s, p, (int)len);   /* len <= the program's int */
        return r;
    }
    size_t put = 0;
    int r = ossl.write_ex(w->s, p, len, &put);
    if (r == 1 && put > 0)
        return (ssize_t)put;
    w->fail = r == 1 ? 0 : r;
    return w->fail;
}

/* The program's write of n > 0 bytes on s, through bw_inject_tls when its
 * plaintext is watched. Returns the library's value as SSL_write has it. */
static ssize_t write_any(SSL *s, struct wctx *w, const void *buf, size_t n)
{
    bool known;
    bw_conn *c = conn_of(s, &known);
    ssize_t r;
    if (c && watched(s, c)) {
        /* A key line goes out from a copy the retry of a failed call
         * rebuilds byte for byte, maybe elsewhere: the buffer may move. */
        long mode = ossl.ctrl(s, SSL_CTRL_MODE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
        bool partial = mode & SSL_MODE_ENABLE_PARTIAL_WRITE;
        r = bw_inject_tls(c, buf, n, partial, out, w);
    } else {
        r = out(w, buf, n);
    }
    bw_tls_leave(s, c);
    return r;
}

BW_EXPORT int SSL_write(SSL *s, const void *buf, int num)
{
    if (!ready())
        return -1;
    if (num <= 0 || !bw_tls_enter(s))
        return ossl.write(s, buf, num);
    struct wctx w = {s, false, 0};
    return (int)write_any(s, &w, buf, (size_t)num);
}

BW_EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
    if (!ready())
        return 0;
    if (num == 0 || !bw_tls_enter(s))
        return ossl.write_ex(s, buf, num, written);
    struct wctx w = {s, true, 0};
    ssize_t r = write_any(s, &w, buf, num);
    if (written)
        *written = r > 0 ? (size_t)r : 0;
    return r > 0 ? 1 : w.fail;
}
