/*
 * bw_config.h - the parsed INI file: global settings, per-destination policy.
 *
 * A bw_config is built once by bw_config_load() (or bw_config_builtin()) and is
 * then read-only: the shim swaps whole configs on reload and never mutates one
 * in place, so readers need no lock. Every key of SPEC section 4 has a field
 * here; defaults come from bw_policy_defaults().
 */
#ifndef BW_CONFIG_H
#define BW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

enum bw_log_level { BW_LOG_OFF, BW_LOG_ERROR, BW_LOG_WARN, BW_LOG_INFO, BW_LOG_DEBUG };
enum bw_log_target { BW_LOGTO_STDERR, BW_LOGTO_SYSLOG, BW_LOGTO_FILE };
enum bw_state_mode { BW_STATE_SHARED, BW_STATE_PROCESS };
enum bw_on_error { BW_ONERR_PASSTHROUGH, BW_ONERR_EXIT };
enum bw_jitter { BW_JITTER_FULL, BW_JITTER_EQUAL, BW_JITTER_DECORRELATED, BW_JITTER_NONE };
enum bw_nonblocking { BW_NB_AUTO, BW_NB_WAIT, BW_NB_NATIVE };
enum bw_breaker_mode { BW_BREAKER_ON, BW_BREAKER_OFF, BW_BREAKER_DRYRUN };
enum bw_scope { BW_SCOPE_ADDRESS, BW_SCOPE_DESTINATION };
enum bw_window { BW_WINDOW_COUNT, BW_WINDOW_TIME };
enum bw_idem_format { BW_IDEM_TOKEN, BW_IDEM_SF_STRING };
enum bw_idem_key { BW_IDEM_UUID4, BW_IDEM_UUID7 };
enum bw_tls { BW_TLS_AUTO, BW_TLS_OFF };

/* retry_on bits */
#define BW_RETRY_REFUSED     0x1u
#define BW_RETRY_UNREACHABLE 0x2u
#define BW_RETRY_TIMEOUT     0x4u

/* Limits enforced by the validator (values beyond them are "out of range"). */
#define BW_MAX_NAME          64    /* destination NAME, including NUL */
#define BW_MAX_WINDOW_COUNT  1000  /* breaker_window_size for count windows */
#define BW_MAX_WINDOW_SECS   3600  /* breaker_window_size for time windows */
#define BW_MAX_METHODS       16
#define BW_MAX_METHOD_LEN    24
#define BW_MAX_HEADER_NAME   64

/* HTTP statuses 100..599 as a bitmap: bit (status - 100). */
typedef struct bw_status_set {
    uint64_t bits[8];
} bw_status_set;

static inline bool bw_status_set_has(const bw_status_set *s, int status)
{
    if (status < 100 || status > 599)
        return false;
    unsigned i = (unsigned)(status - 100);
    return (s->bits[i / 64] >> (i % 64)) & 1u;
}

/* Asked on every connect (mostly of an empty set): no branch per word, and
 * no loop either (GCC keeps the loop: four instructions a word, not one). */
static inline bool bw_status_set_empty(const bw_status_set *s)
{
    _Static_assert(sizeof s->bits / sizeof s->bits[0] == 8, "eight words");
    return (s->bits[0] | s->bits[1] | s->bits[2] | s->bits[3] | s->bits[4] | s->bits[5] |
            s->bits[6] | s->bits[7]) == 0;
}

/* Everything a destination section (or [defaults]) can set. */
typedef struct bw_policy {
    bool enabled;
    /* connect and retry */
    uint32_t connect_timeout_ms;
    uint32_t retries;
    uint32_t retry_on;              /* BW_RETRY_* mask */
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
    double backoff_multiplier;      /* >= 1 */
    enum bw_jitter jitter;
    uint32_t deadline_ms;
    enum bw_nonblocking nonblocking;
    uint32_t retry_budget_percent;
    uint32_t retry_budget_min_per_sec;
    /* circuit breaker */
    enum bw_breaker_mode breaker;
    enum bw_scope breaker_scope;
    enum bw_window breaker_window;
    uint32_t breaker_window_size;
    uint32_t breaker_min_calls;
    uint32_t breaker_failure_rate;          /* percent, 1..100 */
    uint32_t breaker_consecutive_failures;  /* 0 = off */
    uint32_t breaker_slow_ms;               /* 0 = off */
    uint32_t breaker_slow_rate;             /* percent, 1..100 */
    uint32_t breaker_open_ms;
    uint32_t breaker_open_max_ms;
    uint32_t breaker_half_open_probes;      /* >= 1 */
    uint32_t breaker_half_open_timeout_ms;
    int breaker_errno;
    bool breaker_io_errors;
    bw_status_set breaker_http_status;      /* empty: responses not looked at */
    /* bulkhead */
    uint32_t max_connections;               /* 0 = unlimited */
    enum bw_scope bulkhead_scope;
    uint32_t bulkhead_wait_ms;
    int bulkhead_errno;
    /* idempotency */
    bool idempotency;
    unsigned n_methods;
    char methods[BW_MAX_METHODS][BW_MAX_METHOD_LEN];   /* upper case as written */
    char idempotency_header[BW_MAX_HEADER_NAME];
    enum bw_idem_format idempotency_format;
    enum bw_idem_key idempotency_key;
    /* dead peers, connection rate, slow start (SPEC section 9) */
    uint32_t tcp_user_timeout_ms;           /* 0 = the kernel's default */
    bool tcp_keepalive;
    uint32_t tcp_keepalive_idle_s;
    uint32_t tcp_keepalive_interval_s;
    uint32_t tcp_keepalive_count;
    uint32_t connect_rate;                  /* new connections per second; 0 = unlimited */
    uint32_t connect_rate_burst;            /* 0 = connect_rate */
    uint32_t slow_start_ms;                 /* 0 = off */
    bool failover;                          /* route around a failing address of a name */
    uint32_t failover_max_ejected_percent;
    bool retry_after;                       /* 429/503 Retry-After opens the breaker */
    uint32_t retry_after_max_ms;
    /* TLS (SPEC section 9) */
    enum bw_tls tls;                        /* auto: HTTP features inside libssl/GnuTLS too */
    bool tls_handshake_failures;            /* a failed handshake is a failed connect */
} bw_policy;

enum bw_host_kind {
    BW_HOST_NAME,    /* exact hostname, lower case, no trailing dot */
    BW_HOST_SUFFIX,  /* "*.example.com": name holds ".example.com" */
    BW_HOST_IP,      /* exact address: prefix = 32 or 128 */
    BW_HOST_CIDR,    /* network: addr masked to prefix */
};

typedef struct bw_host_pattern {
    enum bw_host_kind kind;
    int family;            /* AF_INET or AF_INET6 for IP and CIDR, else 0 */
    uint8_t addr[16];      /* network byte order; IPv4 uses addr[0..3] */
    uint8_t prefix;
    char *name;            /* NAME and SUFFIX only (heap, owned by the config) */
} bw_host_pattern;

typedef struct bw_port_range {
    uint16_t lo, hi;       /* inclusive */
} bw_port_range;

typedef struct bw_dest {
    char name[BW_MAX_NAME];
    int line;                   /* line of the section header */
    bw_policy policy;
    bw_host_pattern *hosts;
    size_t n_hosts;
    bw_port_range *ports;       /* n_ports == 0: any port */
    size_t n_ports;
} bw_dest;

struct bw_match;   /* index built over dests, see bw_match.h */

typedef struct bw_config {
    char path[PATH_MAX];        /* absolute path, "" for the built-in config */
    /* [global] */
    enum bw_log_level log_level;
    enum bw_log_target log_target;
    char log_path[PATH_MAX];    /* BW_LOGTO_FILE only */
    enum bw_state_mode state;
    char state_dir[PATH_MAX];
    enum bw_on_error on_config_error;
    bool reload;
    /* [defaults] and sections */
    bw_policy defaults;
    bw_dest *dests;
    size_t n_dests;
    struct bw_match *match;
    /* identity of the file as loaded (for reload on modification time) */
    int64_t mtime_ns;
    uint64_t ino, dev;
} bw_config;

enum bw_diag_severity { BW_DIAG_ERROR, BW_DIAG_WARNING };

/* Receives each problem found in a file; line is 0 when not tied to a line. */
typedef void (*bw_diag_fn)(void *ctx, const char *file, int line,
                           enum bw_diag_severity sev, const char *msg);

/* A diag receiver that keeps the first error as "FILE:LINE: LABELMESSAGE"
 * (label: "" or e.g. "error: ") and counts every error; warnings are
 * ignored. Pass bw_diag_keep_first with a bw_diag_first as its ctx. */
typedef struct bw_diag_first {
    const char *label;
    char text[512];
    int errors;
} bw_diag_first;
void bw_diag_keep_first(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                        const char *msg);

/* Fills *p with the built-in defaults of SPEC section 4. */
void bw_policy_defaults(bw_policy *p);

/* Returns a config with built-in defaults and no sections, or NULL on ENOMEM. */
bw_config *bw_config_builtin(void);

/*
 * Loads and validates the INI file at path. Every problem is reported through
 * diag (may be NULL) as it is found; loading goes on after an error so that all
 * of them are reported. Returns 0 and sets *out when there was no error
 * (warnings allowed); returns -1 and sets *out to NULL otherwise.
 * A file writable by group or others, a directory, an unreadable or binary
 * file, or a line too long are errors like any other.
 */
int bw_config_load(const char *path, bw_config **out, bw_diag_fn diag, void *ctx);

/* Frees a config from bw_config_load or bw_config_builtin. NULL is a no-op. */
void bw_config_free(bw_config *cfg);

/* Name of an errno accepted by breaker_errno / bulkhead_errno, e.g.
 * "ECONNREFUSED"; NULL for any other errno. */
const char *bw_errno_name(int err);

/* ---- Building blocks of the loader (src/core/config_*.c), reusable by the CLI ---- */

#define BW_CONFIG_MAX_FILE (16L << 20)   /* larger files are refused */

/*
 * Like bw_config_load, but on a file the caller has already opened and read:
 * buf[0..len) is its content, st its fstat. The same checks are made (type,
 * size, mode, NUL bytes), diagnostics name file, and cfg->path is set to
 * abspath. For a caller (the preload shell) that must read the file through
 * its real libc functions rather than the hooked ones bw_config_load calls
 * (open, read, close).
 */
struct stat;
int bw_config_parse(const char *file, const char *abspath, const char *buf,
                    size_t len, const struct stat *st, bw_config **out,
                    bw_diag_fn diag, void *ctx);

/* What a value parser reports: set key before the call; on error msg is the
 * whole message ("bad value 'x' for 'key': expected ..."). Warnings (e.g. a
 * CIDR with host bits set) go to warn when it is not NULL. */
typedef struct bw_valctx {
    const char *key;
    char msg[512];
    void (*warn)(void *arg, const char *msg);
    void *warn_arg;
} bw_valctx;

/* Sets c->msg from a printf format; returns -1 (for "return bw_valctx_fail(...)"). */
int bw_valctx_fail(bw_valctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies the next comma-separated item of *cur, trimmed, into item and moves
 * *cur past it; empty items are skipped. Returns 1 for an item, 0 at the end,
 * -1 when an item does not fit in size (*cur is then left at it). */
int bw_list_next(const char **cur, char *item, size_t size);

/* Value parsers: each returns 0 and stores the value, or -1 with c->msg set
 * and *out unchanged. List parsers append to what *out already holds (on an
 * error, the items before the bad one stay appended). */
int bw_parse_bool(bw_valctx *c, const char *s, bool *out);
int bw_parse_uint(bw_valctx *c, const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
int bw_parse_decimal(bw_valctx *c, const char *s, double lo, double hi, double *out);
int bw_parse_errno(bw_valctx *c, const char *s, int *out);
int bw_parse_abspath(bw_valctx *c, const char *s, char *out, size_t size);
int bw_parse_token(bw_valctx *c, const char *s, char *out, size_t size);
int bw_parse_retry_on(bw_valctx *c, const char *s, uint32_t *mask);
int bw_parse_statuses(bw_valctx *c, const char *s, bw_status_set *set);
int bw_parse_methods(bw_valctx *c, const char *s, bw_policy *p);
int bw_parse_ports(bw_valctx *c, const char *s, bw_port_range **v, size_t *n);
int bw_parse_hosts(bw_valctx *c, const char *s, bw_host_pattern **v, size_t *n);
int bw_parse_host(bw_valctx *c, const char *item, bw_host_pattern *out);

/* Optimal-string-alignment distance, case-insensitive (for "did you mean"). */
size_t bw_edit_distance(const char *a, const char *b);

/* The key table: where each key may appear and how it is set. */
enum bw_key_scope {
    BW_KEY_GLOBAL,   /* [global] only; obj is a bw_config */
    BW_KEY_POLICY,   /* [defaults] and [destination]; obj is a bw_policy */
    BW_KEY_TARGET,   /* host, port: [destination] only; obj is a bw_dest */
};
int bw_config_nkeys(void);
int bw_config_key_index(const char *name);        /* -1 when unknown */
const char *bw_config_key_name(int k);
enum bw_key_scope bw_config_key_scope(int k);
bool bw_config_key_is_list(int k);
int bw_config_key_closest(const char *name);       /* index of the nearest key */
/* Parses val into obj; append (a continuation line) adds to a list instead of
 * replacing it. Returns 0, or -1 with c->msg set. */
int bw_config_key_set(int k, bw_valctx *c, const char *val, bool append, void *obj);
/* Copies the field(s) of policy key k from src to dst. */
void bw_config_key_copy(int k, bw_policy *dst, const bw_policy *src);

/*
 * Checks the rules between keys of one effective policy (backoff_initial_ms
 * <= backoff_max_ms, breaker_open_ms <= breaker_open_max_ms, window size for
 * the window kind, min calls vs a count window). own[k] is the line where the
 * section itself set key k (0: not set), inh[k] where it was inherited from
 * (0: built in); a line below 0 marks a bad value, already reported, which
 * is ignored. A rule is checked only when the section set one of its keys;
 * it is reported on the later line, naming where ("[defaults]", ...).
 * Returns the number of errors reported through fn.
 */
typedef void (*bw_rule_fn)(void *arg, int line, enum bw_diag_severity sev,
                           const char *msg);
int bw_config_check_rules(const bw_policy *p, const int *own, const int *inh,
                          const char *where, bw_rule_fn fn, void *arg);

#endif
