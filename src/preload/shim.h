/*
 * shim.h - what the hooks share: the connection record and the shim's state.
 *
 * Locking design. The descriptor table is lock-free (bw_fdtable.h). A
 * connection record (struct bw_conn) is reference-counted by the descriptors
 * that refer to it (dup, dup2, F_DUPFD add one; close removes one) and its
 * mutable protocol state is guarded by its own mutex, taken only on tracked
 * descriptors (a write lock and a read lock, so that a reader never waits
 * for a writer blocked on a full socket). Records come from a pool that is never unmapped, so a thread
 * that raced a close() on the same descriptor reads a stale record, never
 * freed memory. The config is an immutable object behind an atomic pointer;
 * a reload publishes a new one, and an old one is freed once neither a hook
 * call nor a connection record holds it (config_ref.c). No lock is held
 * across a blocking system call but a connection's write lock, across the
 * program's own send (inject.c), where it only ever waits for another writer
 * of the same connection; a close() meanwhile cannot recycle the record,
 * because the write holds a reference.
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
#include <stdint.h>
#include <sys/socket.h>

#include "bw_config.h"
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

/* The connection whose write lock this thread holds across the program's
 * own send (inject.c), for bw_leave_cancelled. */
extern __thread struct bw_conn *bw_locked_conn BW_TLS;

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

typedef struct bw_cfg_ref bw_cfg_ref;   /* a held config (config_ref.c) */

typedef struct bw_conn {
    pthread_mutex_t lock;          /* write side; initialised once per pool slot */
    pthread_mutex_t rlock;         /* read side (response reader) */
    pthread_mutex_t plock;         /* the pending-connect fields below (pending.c) */
    atomic_int refs;               /* descriptors referring to this record; the first
                                    * field cleared on reuse: keep the locks above */
    struct bw_conn *next_free;
    pid_t owner;                   /* process that made the connection */
    const bw_policy *policy;       /* into the config held by cfg_ref */
    bw_cfg_ref *cfg_ref;           /* kept until the record is reused (stale readers) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    _Atomic int state;             /* enum bw_conn_state */
    int64_t started_ms;            /* monotonic time the connect began */
    int64_t connect_began_us;      /* monotonic, first attempt: the connect-time histogram */
    const char *dest_name;         /* section name, "default" when none */
    bw_entry *entry;               /* this address's state (NULL: stateless) */
    bw_entry *breaker_entry;       /* per breaker_scope */
    bw_entry *bulkhead_entry;      /* per bulkhead_scope */
    bw_entry *dest_entry;          /* the destination's (retry budget) */
    uint32_t probe_token;          /* a half-open probe's token, 0 if none */
    bool holds_slot;               /* a bulkhead slot is taken for this connection */
    bool slot_untracked;           /* ... counted without an owner (owner table full) */
    atomic_bool outcome_pending;   /* connect in progress: outcome not recorded yet */
    atomic_bool io_failure_recorded;   /* one I/O failure per connection reaches the
                                        * breaker: set by atomic_exchange */
    bool success_recorded;         /* a success reached the breaker: ... (under the */
    bw_breaker_run run_before;     /* ... breaker entry's lock) the failure run just before it */
    /* Handed to another process (SCM_RIGHTS, passfd.c): who the socket is. */
    atomic_bool passed;
    uint64_t pass_inode;
    struct sockaddr_storage pass_local, pass_peer;
    bool rejected_by_slow_start;   /* the last breaker rejection was slow start's */
    /* A non-blocking connect whose retries run inside the program's waits
     * (pending.c), guarded by plock; pend is read without it. */
    _Atomic uint8_t pend;          /* enum bw_pend_phase */
    uint8_t pend_attempt;          /* the attempt in flight or next: 0 = the first */
    bool pend_waited;              /* a wait of the shim's has looked after it */
    int pend_err;                  /* the last attempt's error; the final one in FINAL */
    int64_t pend_began_ms;         /* when the attempt in flight began */
    int64_t pend_due_ms;           /* BACKOFF: next attempt; ATTEMPT: its limit (0 = none) */
    bw_retry_plan pend_plan;
    /* HTTP, guarded by lock: requests seen going out, responses coming in.
     * The watch flags are atomics: the I/O hooks read them without a lock,
     * to skip the HTTP work, while TLS detection and the injector clear or
     * set them under lock and rlock. */
    atomic_bool watch_requests;    /* scan the request stream (injection or response pairing) */
    atomic_bool watch_responses;   /* breaker_http_status is set */
    bw_http_req_cfg req_cfg;
    bw_http_req req;
    bw_http_resp resp;
    uint8_t pending[BW_HTTP_REQ_LINE_MAX];   /* inserted line not yet sent */
    uint8_t pending_off, pending_len;
    /* TLS (tls_conn.c). Once TLS is seen on the connection the HTTP state
     * above follows the plaintext, under the same locks, and the socket
     * level stops looking (watch_* false). */
    _Atomic int tls;               /* enum bw_tls_mode */
    atomic_bool tls_watch_requests;    /* watch_requests, for the plaintext */
    atomic_bool tls_watch_responses;   /* watch_responses, for the plaintext */
    bool tls_resume;               /* a TLS write failed part-way: the next call is its retry */
    size_t tls_resume_done;        /* ... and this much of it went out already */
    size_t tls_piece_prog;         /* the last piece handed to the library: the program's */
    size_t tls_piece_line;         /* ... and key-line bytes in it */
    bool tls_staged;               /* pending holds a key line not yet handed over */
    uint32_t tls_serial;           /* names this use of the record in the TLS map */
} bw_conn;

/* Shim-wide state, set up by bw_shim_init(). */
extern atomic_bool bw_disabled;          /* BREAKWATER_DISABLE=1 or passthrough */

/* Facts about descriptors (fd_facts.c): epoll instances (nonblocking = auto
 * is native while one is open) and TCP sockets made by socket(). Every
 * path that ends or reuses a descriptor number forgets them. */
void bw_epoll_mark(int fd);
bool bw_epoll_is_open(void);
bool bw_epoll_is_epoll(int fd);
void bw_tcp_mark(int fd);
bool bw_tcp_known(int fd);
/* SO_SNDTIMEO: marked when the program sets one; "maybe" unless the socket
 * is known from its creation and never had one set. */
void bw_sndtimeo_mark(int fd);
bool bw_sndtimeo_maybe(int fd);
/* The program set TCP_USER_TIMEOUT / a keepalive option on fd itself. */
void bw_own_user_timeout_mark(int fd);
bool bw_own_user_timeout(int fd);
void bw_own_keepalive_mark(int fd);
bool bw_own_keepalive(int fd);
void bw_fd_facts_forget(int fd);
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
/* Holds the config in force; NULL (and *cfg NULL) before there is one. */
bw_cfg_ref *bw_cfg_hold(const bw_config **cfg);
/* Which publication the config held through ref is: never the same for two
 * configs, even when one is allocated where a freed one was. */
uint64_t bw_cfg_generation(const bw_cfg_ref *ref);
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

/* Monotonic milliseconds (clock.c). */
int64_t bw_now_ms(void);

/* Connection records. */
bw_conn *bw_conn_new(void);
void bw_conn_ref(bw_conn *c);
/* Drops one descriptor's reference; the last one releases what the
 * connection holds, at once, or (inside the shim already: a signal handler)
 * when this thread leaves the shim. Async-signal-safe. */
void bw_conn_unref(bw_conn *c);
/* What the last reference's end does (called by bw_conn_unref and for a
 * deferred record by reentry.c, inside the shim). */
void bw_conn_release(bw_conn *c);

/* Forgets fd (the number was closed or reused) and releases its record. */
void bw_forget_fd(int fd);

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
 * re-initialises it and every record's lock. */
void bw_conn_pool_lock(void);
void bw_conn_pool_unlock(void);
void bw_conn_pool_atfork_child(void);
/* Records on the free list let go of the configs they were made under. */
void bw_conn_pool_drop_idle_configs(void);

/* getpid(), without a system call: cached, and renewed in a fork child. */
pid_t bw_self_pid(void);

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
