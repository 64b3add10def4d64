/*
 * tls.h - what the TLS library hooks (tls_openssl.c, tls_gnutls.c) share
 * (tls_conn.c): finding the connection under a TLS object, whether its
 * plaintext is watched, and handshake outcomes.
 *
 * The hooks are interposed, not linked: the shim exports SSL_write,
 * gnutls_record_send and the rest, and each library's real functions are
 * looked up the first time one of them is called (tls_resolve). A program
 * without libssl or GnuTLS never calls them and pays nothing.
 */
#ifndef BW_TLS_H
#define BW_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "observe.h"
#include "shim.h"

enum bw_tls_mode {
    BW_TLSM_NONE = 0,     /* no TLS seen on the connection */
    BW_TLSM_HANDSHAKE,    /* TLS: the socket level stopped looking; HTTP or not is still open */
    BW_TLSM_HTTP,         /* the plaintext is watched */
    BW_TLSM_PASS,         /* nothing to do inside (tls = off, no HTTP key, ALPN h2) */
};

/*
 * The tracked connection under TLS object obj whose transport descriptor is
 * fd (-1 when the library's transport is not a descriptor: then the one its
 * earlier calls were seen using, bw_tls_leave). NULL: not tracked. With
 * fd -1 and nothing known yet, inside the bracket of obj's call, the call
 * learns: the socket hooks note the connection it uses (bw_tls_learners).
 */
bw_conn *bw_tls_conn(const void *obj, int fd);

/* Brackets a call of the real library function on obj: the socket hooks
 * note the connection it uses. Returns false when a TLS hook is already
 * running on this thread (a library calling its own exported function):
 * then the call is to pass straight through, without bw_tls_leave. */
bool bw_tls_enter(const void *obj);

/* Ends the bracket. Returns c, or when c is NULL the connection the call was
 * seen using (remembered for obj, and its TLS noted). errno is kept. */
bw_conn *bw_tls_leave(const void *obj, bw_conn *c);

/* TLS is on c: the socket level stops looking at its bytes. Cheap after the
 * first call. */
void bw_tls_begin(bw_conn *c);

/*
 * Whether c's plaintext is watched now. Until that is settled, alpn(obj)
 * is asked: -1 while the handshake is still on, else whether HTTP/2 was
 * agreed (ALPN h2), which leaves the connection untouched.
 */
bool bw_tls_watched(bw_conn *c, const void *obj, int (*alpn)(const void *obj));

static inline int bw_tls_mode(const bw_conn *c)
{
    return atomic_load_explicit(&c->tls, memory_order_acquire);
}

/* A handshake on c failed for good: one failed connect for the breaker
 * (tls_handshake_failures), at most once per connection. errno is kept. */
void bw_tls_handshake_failed(bw_conn *c, const char *lib_call);

/* Symbol name of version ver in handle h, else its default version; NULL
 * when h has none (dlsym allocates then: only ever on first use). */
void *bw_tls_sym(void *h, const char *name, const char *ver);

/* A TLS library's real functions, looked up on first use. */
struct bw_tls_lib {
    const char *name;                       /* for the log: "libssl" */
    const char *const (*sonames)[2];        /* {soname, symbol version}, NULL-ended */
    bool (*fill)(void *handle, const char *version);   /* true: all found */
    _Atomic int resolved;
    pthread_mutex_t lock;
    atomic_bool said_missing;
};

/*
 * Looks lib's functions up (next in the global scope, else in a loaded
 * object of one of its sonames: a library dlopen'ed locally is not in the
 * scope RTLD_NEXT searches), once. False when the library is not loaded:
 * logged once, errno ENOSYS for the caller to fail with. errno is kept
 * otherwise. Cheap after the first success.
 */
bool bw_tls_resolve(struct bw_tls_lib *lib);
static inline bool bw_tls_ready(struct bw_tls_lib *lib)
{
    if (__builtin_expect(atomic_load_explicit(&lib->resolved, memory_order_acquire), 1))
        return true;
    return bw_tls_resolve(lib);
}

/* Fork: prepare takes the TLS map's lock, the parent drops it, the child
 * makes it (and the libraries' look-up locks) usable again. */
void bw_tls_atfork_prepare(void);
void bw_tls_atfork_parent(void);
void bw_tls_atfork_child(void);
extern struct bw_tls_lib bw_tls_openssl, bw_tls_gnutls;

#endif
