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
 * a reload publishes a new one and old ones are kept (connections point into
 * them). No lock is held across a blocking system call but a connection's
 * write lock, across the program's own send (inject.c), where it only ever
 * waits for another writer of the same connection; a close() meanwhile
 * cannot recycle the record, because the write holds a reference.
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

#define BW_EXPORT __attribute__((visibility("default")))

enum bw_conn_state {
    BW_CONN_CONNECTING,   /* non-blocking connect in progress (native mode) */
    BW_CONN_CONNECTED,
    BW_CONN_FAILED,
};

typedef struct bw_conn {
    pthread_mutex_t lock;          /* write side; initialised once per pool slot */
    pthread_mutex_t rlock;         /* read side (response reader) */
    pthread_mutex_t plock;         /* the pending-connect fields below (pending.c) */
    atomic_int refs;               /* descriptors referring to this record; the first
                                    * field cleared on reuse: keep the locks above */
    struct bw_conn *next_free;
    pid_t owner;                   /* process that made the connection */
    const bw_policy *policy;
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
    bool io_failure_recorded;      /* one I/O failure per connection reaches the breaker */
    bool rejected_by_slow_start;   /* the last breaker rejection was slow start's */
    /* A non-blocking connect whose retries run inside the program's waits
     * (pending.c), guarded by plock; pend is read without it. */
    _Atomic uint8_t pend;          /* enum bw_pend_phase */
    uint8_t pend_attempt;          /* the attempt in flight or next: 0 = the first */
    int pend_err;                  /* the last attempt's error; the final one in FINAL */
    int64_t pend_began_ms;         /* when the attempt in flight began */
    int64_t pend_due_ms;           /* BACKOFF: next attempt; ATTEMPT: its limit (0 = none) */
    bw_retry_plan pend_plan;
    /* HTTP, guarded by lock: requests seen going out, responses coming in. */
    bool watch_requests;           /* scan the request stream (injection or response pairing) */
    bool watch_responses;          /* breaker_http_status is set */
    bw_http_req_cfg req_cfg;
    bw_http_req req;
    bw_http_resp resp;
    uint8_t pending[BW_HTTP_REQ_LINE_MAX];   /* inserted line not yet sent */
    uint8_t pending_off, pending_len;
} bw_conn;

/* Shim-wide state, set up by bw_shim_init(). */
extern atomic_bool bw_disabled;          /* BREAKWATER_DISABLE=1 or passthrough */

/* Facts about descriptors (epoll.c): epoll instances (nonblocking = auto
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

/* Fork child: start-up's own lock made usable again. */
void bw_init_atfork_child(void);

/* The config in force, after checking (at most once a second) for a reload. NULL: intercept nothing. */
const bw_config *bw_shim_config(void);

/* Monotonic milliseconds. */
int64_t bw_now_ms(void);

/* Connection records. */
bw_conn *bw_conn_new(void);
void bw_conn_ref(bw_conn *c);
/* Drops one descriptor's reference; the last one releases what the connection holds. */
void bw_conn_unref(bw_conn *c);

/* Forgets fd (the number was closed or reused) and releases its record. */
void bw_forget_fd(int fd);

/* Makes newfd refer to the record of oldfd (after a successful dup of it). */
void bw_dup_fd(int oldfd, int newfd);

/* connect() for a descriptor the shim tracks or may track. */
int bw_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* The state region of cfg (shared file or private), NULL when unusable. */
bw_state *bw_shim_state(const bw_config *cfg);
void bw_shim_state_atfork_child(void);
/* The state region if it is mapped already, else NULL (never maps it). */
bw_state *bw_shim_state_mapped(void);

/* Outcome of a connection's connect, learned after connect() returned
 * (native mode): records it in breaker and counters once. */
void bw_conn_outcome(bw_conn *c, int err);

/* Gives back c's bulkhead slot, if it holds one. */
void bw_conn_release_slot(bw_conn *c);

/* Fork: prepare takes the pool lock, the parent drops it, the child
 * re-initialises it and every record's lock. */
void bw_conn_pool_lock(void);
void bw_conn_pool_unlock(void);
void bw_conn_pool_atfork_child(void);

/* getpid(), without a system call: cached, and renewed in a fork child. */
pid_t bw_self_pid(void);

/* True while every signal handler of the program was installed with
 * SA_RESTART (signals.c): an interrupted wait of the shim's may go on. */
bool bw_signals_restart(void);

/* A uniformly random 64-bit value (not for secrets). */
uint64_t bw_rand64(void);
void bw_rand_atfork_child(void);

/* Formats "ADDR:PORT" ("[v6]:PORT") into out. */
void bw_format_addr(const struct sockaddr *sa, char *out, size_t outlen);

#endif
