/*
 * shim.h - what the hooks share: the connection record and the shim's state.
 *
 * Locking design. The descriptor table is lock-free (bw_fdtable.h). A
 * connection record (struct bw_conn) is reference-counted by the descriptors
 * that refer to it (dup, dup2, F_DUPFD add one; close removes one). The
 * record is the hot part, what every tracked connect, send, receive and
 * close touches, and has no lock of its own: its fields are atomics, or
 * written by the thread in connect() (under plock while the connect is
 * pending) or under a state entry's lock (guard.c). What only some
 * connections need is in cold parts, attached only while needed (below):
 * HTTP and TLS state, a pending non-blocking connect, a passed socket's
 * identity. The HTTP part has its own mutexes, a write lock and a read lock
 * (so that a reader never waits for a writer blocked on a full socket); the
 * pending part has plock. Records and cold parts come from pools that are
 * never unmapped (conn.c), and a block's mutexes are initialised once and
 * never reset, so a thread that raced a close() on the same descriptor
 * reads a stale record or block, never freed memory. A cold part goes back
 * to its pool when the record is released, never earlier, but a pending
 * connect's, which goes back when the connect is over (pending.c). The
 * config is an immutable object behind an atomic pointer; a reload
 * publishes a new one, and an old one is freed once neither a hook
 * call nor a connection record holds it (config_ref.c). No lock is held
 * across a blocking system call but a connection's write lock, across the
 * program's own send (inject.c), where it only ever waits for another writer
 * of the same connection; a close() meanwhile cannot release the record or
 * its HTTP part, because the write holds a reference.
 *
 * The rule for every other global or field that one thread writes while
 * another may read it: it is either
 *  - written only before any other thread can read it (start-up:
 *    environment.c, the real-function table), or
 *  - always read and written under one named lock (the comment beside it
 *    names the lock), or
 *  - an atomic (C11 _Atomic / atomic_*; a flag that must count once is
 *    set with atomic_exchange, never tested and then set), or
 *  - an immutable snapshot published by an atomic pointer and never
 *    changed after publication (the config, config_ref.c; the log
 *    destination, log_sink.c; the log threshold and sink are atomics,
 *    log.c).
 * A plain variable read by one thread and written by another without one
 * of these is a bug, whatever the hardware does with it.
 */
#ifndef BW_SHIM_H
#define BW_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bw_config.h"
#include "bw_fdbits.h"
#include "bw_fdtable.h"
#include "bw_http_req.h"
#include "bw_http_resp.h"
#include "bw_retry.h"
#include "bw_state.h"
#include "real.h"

struct bw_conn;
#define BW_EXPORT __attribute__((visibility("default")))
/* Thread-local state read on hook paths, in a signal handler and by vfork.c's
 * assembly: static TLS (the shim is preloaded, never dlopen()ed late). */
#define BW_TLS __attribute__((tls_model("initial-exec")))

/* Re-entry (reentry.c). bw_vfork_child: this thread is a vfork child running
 * on its parent's memory (set by vfork.c). bw_depth: this thread is inside
 * the shim's own machinery (a lock may be held). */
extern __thread bool bw_vfork_child BW_TLS;
extern __thread int bw_depth BW_TLS;
/* Queues one record's final release for the outermost bw_leave() of this
 * thread; false (nothing queued) in a vfork child or when the queue is full. */
bool bw_defer_unref(struct bw_conn *c);
extern __thread volatile int bw_n_deferred BW_TLS;
void bw_leave_slow(void);

/*
 * Enters the shim's machinery on this thread. Returns false when the hook
 * must pass its call straight through instead: in a vfork child, or when
 * this thread is inside the shim already (a signal handler, or the shim's
 * own call landing in a hook). Every true return is paired with bw_leave().
 * Async-signal-safe.
 */
static inline bool bw_enter(void)
{
    if (bw_vfork_child || bw_depth)
        return false;
    bw_depth = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return true;
}

/* The connection whose write lock (its HTTP part's) this thread holds
 * across the program's own send (inject.c), and that lock, for
 * bw_leave_cancelled. */
extern __thread struct bw_conn *bw_locked_conn BW_TLS;
extern __thread pthread_mutex_t *bw_locked_mutex BW_TLS;

/* Cleanup handler (pthread_cleanup_push) of a hook whose thread is
 * cancelled inside the shim, at a cancellation point of the program's
 * call (connect, send, the backoff's sleep): drops the write lock it may
 * hold, then leaves, so that the program's own cleanup handlers (which may
 * close sockets) run outside the shim. */
void bw_leave_cancelled(void *unused);

/* Leaves the machinery; releases what a re-entered hook closed meanwhile. */
static inline void bw_leave(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__builtin_expect(bw_n_deferred != 0, 0))
        bw_leave_slow();
    else
        bw_depth = 0;
}

enum bw_conn_state {
    BW_CONN_CONNECTING,   /* non-blocking connect in progress (native mode) */
    BW_CONN_CONNECTED,
    BW_CONN_FAILED,
};

/* A held config: a slot of config_ref.c, which alone uses its fields but
 * the generation (bw_cfg_generation, inline: every connect asks it). */
typedef struct bw_cfg_ref {
    atomic_int refs;
    const struct bw_config *cfg;
    uint64_t generation;     /* which publication cfg is: set before it is current */
    int state;               /* enum slot_state; owned by the thread running a reload check */
} bw_cfg_ref;

/* A connection's peer: tracked connections are IPv4 or IPv6 only. */
typedef union bw_inet_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} bw_inet_addr;

/*
 * The cold parts of a record, each from a pool of its own (conn.c), attached
 * only while needed. Their leading locks are initialised once per block and
 * never reset but in a fork child: a stale thread may still be leaving one.
 * The rest is cleared when the block is handed out.
 */

/* HTTP and TLS state (inject.c, observe.c, tls_conn.c): attached by track()
 * when the policy watches HTTP (idempotency or breaker_http_status), given
 * back when the record is released. A record without one never watches
 * (watch_* false) and turns TLS straight to BW_TLSM_PASS. */
typedef struct bw_conn_http {
    pthread_mutex_t lock;          /* write side */
    pthread_mutex_t rlock;         /* read side (response reader) */
    struct bw_conn_http *next_free;
    /* Requests seen going out and responses coming in: req_cfg, req and
     * pending under lock, resp under rlock. */
    bw_http_req_cfg req_cfg;
    bw_http_req req;
    bw_http_resp resp;
    uint8_t pending[BW_HTTP_REQ_LINE_MAX];   /* inserted line not yet sent */
    uint8_t pending_off, pending_len;
    /* TLS (tls_conn.c). Once TLS is seen on the connection the HTTP state
     * above follows the plaintext, under the same locks, and the socket
     * level stops looking (watch_* false). The watch flags are atomics,
     * read without a lock to skip the HTTP work, cleared under lock and rlock. */
    atomic_bool tls_watch_requests;    /* watch_requests, for the plaintext */
    atomic_bool tls_watch_responses;   /* watch_responses, for the plaintext */
    bool tls_resume;               /* a TLS write failed part-way: the next call is its retry */
    bool tls_staged;               /* pending holds a key line not yet handed over */
    size_t tls_resume_done;        /* the bytes of that write that went out already */
    size_t tls_piece_prog;         /* the last piece handed to the library: the program's */
    size_t tls_piece_line;         /* ... and key-line bytes in it */
} bw_conn_http;

/* A non-blocking connect whose retries run inside the program's waits
 * (pending.c): attached when it becomes pending, given back when it is over
 * (phase BW_PEND_NONE again; when it ended in a wait, at the program's next
 * SO_ERROR) or the record is released. Guarded by plock, which is taken
 * only after checking that the record still holds the block. */
typedef struct bw_conn_pend {
    pthread_mutex_t plock;
    struct bw_conn_pend *next_free;
    uint8_t attempt;               /* the attempt in flight or next: 0 = the first */
    bool waited;                   /* a wait of the shim's has looked after it */
    int err;                       /* the last attempt's error; the final one in FINAL */
    int64_t began_ms;              /* when the attempt in flight began */
    int64_t due_ms;                /* BACKOFF: next attempt; ATTEMPT: its limit (0 = none) */
    bw_retry_plan plan;
} bw_conn_pend;

/* Who the socket is, noted when it may live on in another process
 * (SCM_RIGHTS, or a fork child keeps it: passfd.c); given back on release. */
typedef struct bw_conn_pass {
    struct bw_conn_pass *next_free;
    bw_bulkhead_sock id;
} bw_conn_pass;

/* The record, the hot part (see the locking design above): 176 bytes on
 * x86-64, what a tracked connection costs when it needs no cold part. */
typedef struct bw_conn {
    /* The cold parts, NULL when not attached. Taken off by an atomic
     * exchange, so that one thread only gives a block back, and never by
     * the clearing on reuse: a block found on a record being reused
     * (attached by a stale thread after the release) goes back to its pool. */
    _Atomic(bw_conn_http *) http;
    _Atomic(bw_conn_pend *) pendb;
    _Atomic(bw_conn_pass *) pass;
    atomic_int refs;               /* descriptors referring to this record; the first
                                    * field cleared on reuse */
    pid_t owner;                   /* process that made the connection */
    struct bw_conn *next_free;
    /* What the I/O hooks test on every call, each an atomic byte, read
     * together as one word (io_flags, bw_io_busy): any of them set sends
     * the call off the fast path. Every byte is written alone, with a
     * plain atomic store or exchange of its own. */
    union {
        _Atomic uint64_t io_flags;
        struct {
            _Atomic uint8_t pend;          /* enum bw_pend_phase; its fields are in pendb */
            atomic_bool outcome_pending;   /* connect in progress: outcome not recorded yet */
            /* Scan the responses (breaker_http_status) / the request stream
             * (injection or response pairing): true only with http
             * attached; TLS detection and the injector clear or set them
             * under http's lock and rlock. */
            atomic_bool watch_responses;
            atomic_bool watch_requests;
            /* The socket's SO_SNDTIMEO is the shim's attempt limit, not the
             * program's (none): put back before anything it affects. */
            atomic_bool sndtimeo_lent;
        };
    };
    const bw_policy *policy;       /* into the config held by cfg_ref */
    bw_cfg_ref *cfg_ref;           /* kept until the record is reused (stale readers) */
    const char *dest_name;         /* section name, "default" when none */
    bw_entry *entry;               /* this address's state (NULL: stateless) */
    bw_entry *breaker_entry;       /* per breaker_scope */
    bw_entry *bulkhead_entry;      /* per bulkhead_scope */
    bw_entry *dest_entry;          /* the destination's (retry budget) */
    int64_t started_ms;            /* monotonic time the connect began */
    int64_t connect_began_us;      /* monotonic, first attempt: the connect-time histogram */
    bw_inet_addr addr;
    socklen_t addrlen;
    uint32_t probe_token;          /* a half-open probe's token, 0 if none */
    uint32_t tls_serial;           /* names this use of the record in the TLS map */
    bw_breaker_run run_before;     /* the failure run just before a success that
                                    * reached the breaker (as success_recorded) */
    _Atomic uint8_t state;         /* enum bw_conn_state */
    _Atomic uint8_t tls;           /* enum bw_tls_mode */
    bool holds_slot;               /* a bulkhead slot is taken for this connection */
    bool slot_untracked;           /* ... counted without an owner (owner table full) */
    uint8_t slot_index;            /* ... its owner entry (BW_BULKHEAD_NO_INDEX: not known) */
    bool success_recorded;         /* a success reached the breaker (its entry's lock,
                                    * or none for a quiet one: guard.c) */
    bool rejected_by_slow_start;   /* the last breaker rejection was slow start's */
    atomic_bool io_failure_recorded;   /* one I/O failure per connection reaches the
                                        * breaker: set by atomic_exchange */
} bw_conn;

/* A byte of io_flags, as a mask of the word. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BW_IO_FLAG(field) ((uint64_t)0xff << (8 * (offsetof(bw_conn, field) - offsetof(bw_conn, io_flags))))
#else
#define BW_IO_FLAG(field) ((uint64_t)0xff << (8 * (7 - (offsetof(bw_conn, field) - offsetof(bw_conn, io_flags)))))
#endif
_Static_assert(BW_BULKHEAD_NO_INDEX <= UINT8_MAX, "slot_index holds every owner index");
_Static_assert(sizeof(atomic_bool) == 1 && sizeof(_Atomic uint8_t) == 1 &&
                   offsetof(bw_conn, sndtimeo_lent) - offsetof(bw_conn, io_flags) == 4,
               "io_flags: five atomic bytes at the start of one 64-bit word");
/* What a send, and what a receive, has to look at besides its result: a
 * send every byte but watch_responses (the unused ones are 0), so that
 * either mask is an instruction's 32-bit immediate (keep the order). */
#define BW_IO_SEND (~BW_IO_FLAG(watch_responses))
#define BW_IO_RECV (BW_IO_FLAG(pend) | BW_IO_FLAG(outcome_pending) | BW_IO_FLAG(watch_responses))

/* True when a call on c has more to do than the real call and a look at its
 * result (mask: BW_IO_SEND or BW_IO_RECV). One load. Async-signal-safe. */
static inline bool bw_io_busy(bw_conn *c, uint64_t mask)
{
    return atomic_load_explicit(&c->io_flags, memory_order_relaxed) & mask;
}

/*
 * The lazily restored SO_SNDTIMEO (attempt.c). A blocking connect attempt
 * bounded by a temporary SO_SNDTIMEO, where the program had none, leaves
 * it in place (c->sndtimeo_lent) instead of a second setsockopt; it is put
 * back (to none) before the first call the kernel's SO_SNDTIMEO affects:
 * a send of any kind (splice, raw syscall() sends and fdopen included), a
 * connect, getsockopt(SO_SNDTIMEO), a copy of the descriptor the record
 * does not follow, and before the socket can reach another process or
 * program (fork, vfork, clone, posix_spawn, system, popen, exec,
 * SCM_RIGHTS). Unseen: io_uring, raw system calls outside syscall().
 * bw_sndtimeo_settle: puts c's back, on its socket fd, if lent.
 * bw_sndtimeo_settle_all: the same for every tracked descriptor. Nothing
 * in a vfork child (its parent settled all before the vfork).
 * Async-signal-safe; errno preserved.
 */
void bw_sndtimeo_give_back(bw_conn *c, int fd);
static inline void bw_sndtimeo_settle(bw_conn *c, int fd)
{
    if (__builtin_expect(atomic_load_explicit(&c->sndtimeo_lent, memory_order_relaxed), 0))
        bw_sndtimeo_give_back(c, fd);
}
void bw_sndtimeo_settle_all(void);
/* SO_SNDTIMEO in either of its forms (the old timeval, 64-bit time). */
static inline bool bw_is_sndtimeo(int level, int name)
{
#ifdef SO_SNDTIMEO_NEW
    if (name == SO_SNDTIMEO_NEW)
        return level == SOL_SOCKET;
#endif
    return level == SOL_SOCKET && name == SO_SNDTIMEO;
}

/* Shim-wide state, set up by bw_shim_init(). */
extern atomic_bool bw_disabled;          /* BREAKWATER_DISABLE=1 or passthrough */

/* Facts about descriptors (fd_facts.c), a byte of them per number
 * (bw_fdfacts), so that a close forgets them all at once: epoll instances
 * (nonblocking = auto is native while one is open), TCP sockets made by
 * socket(), and the facts of nonblock.c and epreg.c. Every path that ends
 * or reuses a descriptor number forgets them. The askers below are one load. */
enum {
    BW_FACT_EPOLL = 1 << 0,        /* an epoll instance (counted) */
    BW_FACT_TCP = 1 << 1,          /* a TCP socket made by socket() */
    BW_FACT_SNDTIMEO = 1 << 2,     /* the program set an SO_SNDTIMEO */
    BW_FACT_OWN_UTO = 1 << 3,      /* ... a TCP_USER_TIMEOUT */
    BW_FACT_OWN_KEEPALIVE = 1 << 4,   /* ... a keepalive option */
    BW_FACT_NB_KNOWN = 1 << 5,     /* nonblock.c: O_NONBLOCK known */
    BW_FACT_NB_ON = 1 << 6,        /* nonblock.c: ... and set */
    BW_FACT_EPREG = 1 << 7,        /* epreg.c: its record counts (counted) */
};
extern bw_fdfacts bw_fd_facts __attribute__((visibility("hidden")));   /* no GOT load */
static inline bool bw_fd_fact(int fd, unsigned fact)
{
    return bw_fdfacts_of(&bw_fd_facts, fd) & fact;
}
void bw_epoll_mark(int fd);
static inline bool bw_epoll_is_open(void)
{
    return bw_fdfacts_count(&bw_fd_facts, BW_FACT_EPOLL) > 0;
}
static inline bool bw_epoll_is_epoll(int fd) { return bw_fd_fact(fd, BW_FACT_EPOLL); }
void bw_tcp_mark(int fd);
static inline bool bw_tcp_known(int fd) { return bw_fd_fact(fd, BW_FACT_TCP); }
/* socket() made fd, a TCP socket, in non-blocking mode or not: its TCP and
 * mode facts (nonblock.c's) in one mark. */
void bw_tcp_socket_mark(int fd, bool nonblocking);
/* SO_SNDTIMEO: marked when the program sets one; "maybe" unless the socket
 * is known from its creation and never had one set. */
void bw_sndtimeo_mark(int fd);
static inline bool bw_sndtimeo_maybe(int fd)
{
    return (bw_fdfacts_of(&bw_fd_facts, fd) & (BW_FACT_TCP | BW_FACT_SNDTIMEO)) != BW_FACT_TCP;
}
/* The program set TCP_USER_TIMEOUT / a keepalive option on fd itself. */
void bw_own_user_timeout_mark(int fd);
static inline bool bw_own_user_timeout(int fd) { return bw_fd_fact(fd, BW_FACT_OWN_UTO); }
void bw_own_keepalive_mark(int fd);
static inline bool bw_own_keepalive(int fd) { return bw_fd_fact(fd, BW_FACT_OWN_KEEPALIVE); }
/* newfd is a copy of oldfd (dup): the description's facts go with it. */
void bw_fd_facts_copy(int oldfd, int newfd);
/* Forgets every fact of fd: a load when it has none (most numbers). */
void bw_fd_facts_forget_had(int fd);
static inline void bw_fd_facts_forget(int fd)
{
    if (bw_fdfacts_of(&bw_fd_facts, fd))
        bw_fd_facts_forget_had(fd);
}
void bw_fd_facts_forget_range(unsigned lo, unsigned hi);

/* Runs start-up once (resolution, config, logging); cheap after the first call. */
void bw_shim_init(void);

/* Fork child: a reload left running by a thread that did not come along is over. */
void bw_init_atfork_child(void);

/* The environment (environment.c), read once by start-up: bw_env_read sets
 * bw_disabled when asked to; the config file's path ("" = built-in
 * defaults); BREAKWATER_LOG's level, when set (true, *level set). */
void bw_env_read(void);
const char *bw_env_config_path(void);
bool bw_env_log_level(enum bw_log_level *level);

/* The config file read afresh (config_read.c), at start-up or for a reload
 * (reload.c); NULL after logging why. */
const bw_config *bw_config_read(bool at_start);

/* The log sink (log_sink.c): start installs it (stderr, warn); apply puts
 * the log settings of cfg (NULL: the defaults) in force, BREAKWATER_LOG's
 * level winning. */
void bw_log_sink_start(void);
void bw_log_sink_apply(const bw_config *cfg);

/* Config lifetimes (config_ref.c): a config is freed once it is no longer
 * in force and nobody holds it. */
/* Holds the config in force; NULL (and *cfg NULL) before there is one.
 * Inline: every connect takes one. Why it is safe: config_ref.c. */
extern _Atomic(bw_cfg_ref *) bw_cfg_current;   /* the slot in force (config_ref.c) */
static inline bw_cfg_ref *bw_cfg_hold(const bw_config **cfg)
{
    for (;;) {
        bw_cfg_ref *s = atomic_load(&bw_cfg_current);
        if (!s) {
            *cfg = NULL;
            return NULL;
        }
        atomic_fetch_add(&s->refs, 1);
        if (atomic_load(&bw_cfg_current) == s) {
            *cfg = s->cfg;
            return s;
        }
        atomic_fetch_sub(&s->refs, 1);   /* retired meanwhile: take the new one */
    }
}
/* Which publication the config held through ref is: never the same for two
 * configs, even when one is allocated where a freed one was. */
static inline uint64_t bw_cfg_generation(const bw_cfg_ref *ref)
{
    return ref->generation;
}
/* One more hold on a config already held through ref; returns ref. */
bw_cfg_ref *bw_cfg_keep(bw_cfg_ref *ref);
/* Lets go of a hold (ref may be NULL). */
void bw_cfg_drop(bw_cfg_ref *ref);
/* The reloading thread only: makes cfg the config in force, retiring the
 * previous one. -1 when all 64 slots hold configs still in use. */
int bw_cfg_publish(const bw_config *cfg);
/* The reloading thread only: frees retired configs nobody holds, all of
 * them or (small_only) those of fewer than BW_CFG_SMALL_DESTS destinations,
 * whose freeing takes a millisecond or so. Returns how many it left. */
#define BW_CFG_SMALL_DESTS 2000
size_t bw_cfg_sweep(bool small_only);

/* The config in force, after checking (at most once a second) for a reload,
 * held until bw_cfg_drop(*ref). NULL: intercept nothing. */
const bw_config *bw_shim_config_hold(bw_cfg_ref **ref);
/* The same, for a caller that needs the monotonic clock (microseconds)
 * right after: where the check read it, *now_us gets that reading, else it
 * is left as it was (-1 after a check that looked at the file, which may
 * have taken long). */
const bw_config *bw_shim_config_hold_at(bw_cfg_ref **ref, int64_t *now_us);

/* Monotonic milliseconds (clock.c). */
int64_t bw_now_ms(void);

/* Connection records. bw_conn_new: a cleared record, one reference, made
 * under the config held through ref (it holds ref once more, until reused);
 * NULL when out of memory. */
bw_conn *bw_conn_new(bw_cfg_ref *ref);
/* Cold parts (conn.c's pools), inside the shim only (bw_enter: they take
 * the pool's lock). bw_conn_watch_http: c (not published yet) watches HTTP
 * as policy p says, with its HTTP part attached; none when p watches
 * nothing, or when out of memory (then HTTP is not watched). The gets
 * return a cleared block, NULL when out of memory. */
void bw_conn_watch_http(bw_conn *c, const bw_policy *p);
bw_conn_pend *bw_conn_pend_get(void);
void bw_conn_pend_put(bw_conn_pend *b);
bw_conn_pass *bw_conn_pass_get(void);
void bw_conn_pass_put(bw_conn_pass *b);
/* c's HTTP part, NULL when none. Load it once per call and check it: a
 * stale reader of a reused record may find none, whatever watch_* said. */
static inline bw_conn_http *bw_conn_http_of(const bw_conn *c)
{
    return atomic_load_explicit(&c->http, memory_order_acquire);
}
void bw_conn_ref(bw_conn *c);
/* Drops one descriptor's reference; the last one releases what the
 * connection holds, at once, or (inside the shim already: a signal handler)
 * when this thread leaves the shim. Async-signal-safe; errno preserved. */
void bw_conn_unref(bw_conn *c);
/* What the last reference's end does (called by bw_conn_unref and for a
 * deferred record by reentry.c, inside the shim). errno preserved. */
void bw_conn_release(bw_conn *c);

/* Forgets fd (the number was closed or reused) and releases its record.
 * errno preserved. Inline: most numbers handed out are not tracked. */
void bw_forget_tracked_fd(int fd);
static inline void bw_forget_fd(int fd)
{
    if (__builtin_expect(bw_fdt_get(fd) != NULL, 0))
        bw_forget_tracked_fd(fd);
}

/* Makes newfd refer to the record of oldfd (after a successful dup of it). */
void bw_dup_fd(int oldfd, int newfd);

/* Tracks fd, a connected socket this image inherited (inherit.c), as a
 * connection to peer: its record, without a slot. NULL: not tracked. */
bw_conn *bw_track_inherited(int fd, const struct sockaddr *peer, socklen_t len);

/* After an exec: adopts the connections the old image left open (inherit.c). */
void bw_adopt_inherited(void);

/* connect() for a descriptor the shim tracks or may track. */
int bw_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* The state region of cfg (shared file or private), NULL when unusable. */
bw_state *bw_shim_state(const bw_config *cfg);
void bw_shim_state_atfork_child(void);
/* The state region if it is mapped already, else NULL (never maps it). */
bw_state *bw_shim_state_mapped(void);

/* SIGBUS guard over a mapped shared state file (state_guard.c): a fault
 * inside [base, base + size) is repaired with a zero page and noted. */
int bw_state_guard_install(void *base, size_t size);
bool bw_state_guard_tripped(void);

/* Outcome of a connection's connect, learned after connect() returned
 * (native mode): records it in breaker and counters once. */
void bw_conn_outcome(bw_conn *c, int err);

/* Sockets that may live on in another process (passfd.c). bw_passfd_note:
 * a sendmsg() of the program carries msg's SCM_RIGHTS descriptors away.
 * bw_passfd_forking: the process forks; its child keeps every socket.
 * bw_passfd_keep: c's last descriptor here is gone; true when its slot was
 * handed over to the socket, which may live on elsewhere. bw_passfd_closed:
 * a socket holding a slot is closed everywhere now (asked of the kernel). */
void bw_passfd_note(const struct msghdr *msg);
void bw_passfd_forking(void);
bool bw_passfd_keep(bw_conn *c);
bool bw_passfd_closed(const bw_bulkhead_sock *id);

/* Gives back c's bulkhead slot, if it holds one. */
void bw_conn_release_slot(bw_conn *c);

/* Fork: prepare takes the pool lock, the parent drops it, the child
 * releases it and re-initialises every cold block's locks. */
void bw_conn_pool_lock(void);
void bw_conn_pool_unlock(void);
void bw_conn_pool_atfork_child(void);
/* Records on the free list let go of the configs they were made under. */
void bw_conn_pool_drop_idle_configs(void);

/* getpid(), without a system call: cached, and renewed in a fork child. */
extern _Atomic pid_t bw_self_pid_cache __attribute__((visibility("hidden")));   /* 0: not yet */
pid_t bw_self_pid_first(void);
static inline pid_t bw_self_pid(void)
{
    pid_t p = atomic_load_explicit(&bw_self_pid_cache, memory_order_relaxed);
    return __builtin_expect(p != 0, 1) ? p : bw_self_pid_first();
}

/* True while every signal handler of the program was installed with
 * SA_RESTART (signals.c): an interrupted wait of the shim's may go on. */
bool bw_signals_restart(void);

/* A uniformly random 64-bit value (not for secrets). */
uint64_t bw_rand64(void);
/* 16 unpredictable bytes for an Idempotency-Key (rand.c); no system call
 * after a thread's first; async-signal-safe. */
void bw_rand_key(uint8_t out[16]);
void bw_rand_atfork_child(void);

/* Formats "ADDR:PORT" ("[v6]:PORT") into out. */
void bw_format_addr(const struct sockaddr *sa, char *out, size_t outlen);

#endif
