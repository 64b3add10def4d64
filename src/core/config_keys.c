/*
 * config_keys.c - the table of every key of SPEC section 4: where it may
 * appear, how its value is parsed and checked, and which field it sets.
 *
 * The table is the single place a key is defined; the loader, the [defaults]
 * inheritance (field copies) and the "did you mean" suggestion all walk it.
 */
#include "bw_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define BW_MAX_MS 86400000u

struct key;
typedef int (*setter)(const struct key *k, bw_valctx *c, const char *v,
                      bool append, void *obj);

struct word {
    const char *w;
    int v;
};

struct key {
    const char *name;
    enum bw_key_scope scope;
    setter set;
    size_t off, size;          /* field in bw_config or bw_policy */
    uint32_t lo, hi;           /* integer and decimal range */
    const struct word *words;  /* enum words, NULL-terminated */
    bool list;
};

_Static_assert(sizeof(enum bw_jitter) == sizeof(int), "enums are set as int");

#define FIELD(obj, k, type) ((type *)((char *)(obj) + (k)->off))

static int set_bool(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_bool(c, v, FIELD(o, k, bool));
}

static int set_uint(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_uint(c, v, k->lo, k->hi, FIELD(o, k, uint32_t));
}

static int set_decimal(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_decimal(c, v, k->lo, k->hi, FIELD(o, k, double));
}

static int set_errno(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_errno(c, v, FIELD(o, k, int));
}

/* Enum words are exact (case-sensitive), as SPEC writes them. */
static int set_word(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    char expected[160] = "";
    size_t n = 0;
    (void)a;
    for (const struct word *w = k->words; w->w; w++, n++) {
        if (!strcmp(v, w->w)) {
            *FIELD(o, k, int) = w->v;
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        size_t len = strlen(expected);
        snprintf(expected + len, sizeof expected - len, "%s%s", sep, k->words[i].w);
    }
    return bw_valctx_fail(c, "bad value '%s' for '%s': expected %s", v, k->name,
                          expected);
}

static int set_retry_on(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    uint32_t mask = a ? *FIELD(o, k, uint32_t) : 0;
    if (bw_parse_retry_on(c, v, &mask) < 0)
        return -1;
    *FIELD(o, k, uint32_t) = mask;
    return 0;
}

static int set_status(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    bw_status_set set = {{0}};
    if (a)
        set = *FIELD(o, k, bw_status_set);
    if (bw_parse_statuses(c, v, &set) < 0)
        return -1;
    *FIELD(o, k, bw_status_set) = set;
    return 0;
}

static int set_methods(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    bw_policy *p = o;
    (void)k;
    if (!a)
        p->n_methods = 0;
    return bw_parse_methods(c, v, p);
}

static int set_token(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_token(c, v, FIELD(o, k, char), k->size);
}

static int set_path(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    (void)a;
    return bw_parse_abspath(c, v, FIELD(o, k, char), k->size);
}

static int set_log(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    bw_config *cfg = o;
    (void)k, (void)a;
    bool to_stderr = !strcmp(v, "stderr");
    if (to_stderr || !strcmp(v, "syslog")) {
        cfg->log_target = to_stderr ? BW_LOGTO_STDERR : BW_LOGTO_SYSLOG;
        cfg->log_path[0] = '\0';
        return 0;
    }
    if (v[0] != '/')
        return bw_valctx_fail(c, "bad value '%s' for 'log': expected stderr, "
                              "syslog or an absolute path", v);
    if (bw_parse_abspath(c, v, cfg->log_path, sizeof cfg->log_path) < 0)
        return -1;
    cfg->log_target = BW_LOGTO_FILE;
    return 0;
}

static int set_host(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    bw_dest *d = o;
    size_t before = d->n_hosts;
    (void)k;
    if (bw_parse_hosts(c, v, &d->hosts, &d->n_hosts) < 0)
        return -1;
    if (!a && d->n_hosts == before)
        return bw_valctx_fail(c, "bad value '' for 'host': expected a hostname, "
                              "*.suffix, IP address or CIDR");
    return 0;
}

static int set_port(const struct key *k, bw_valctx *c, const char *v, bool a, void *o)
{
    bw_dest *d = o;
    (void)k, (void)a;
    return bw_parse_ports(c, v, &d->ports, &d->n_ports);
}

static const struct word w_level[] = {{"off", BW_LOG_OFF}, {"error", BW_LOG_ERROR},
    {"warn", BW_LOG_WARN}, {"info", BW_LOG_INFO}, {"debug", BW_LOG_DEBUG}, {0, 0}};
static const struct word w_state[] = {{"shared", BW_STATE_SHARED},
    {"process", BW_STATE_PROCESS}, {0, 0}};
static const struct word w_onerr[] = {{"passthrough", BW_ONERR_PASSTHROUGH},
    {"exit", BW_ONERR_EXIT}, {0, 0}};
static const struct word w_jitter[] = {{"full", BW_JITTER_FULL},
    {"equal", BW_JITTER_EQUAL}, {"decorrelated", BW_JITTER_DECORRELATED},
    {"none", BW_JITTER_NONE}, {0, 0}};
static const struct word w_nb[] = {{"auto", BW_NB_AUTO}, {"wait", BW_NB_WAIT},
    {"native", BW_NB_NATIVE}, {0, 0}};
static const struct word w_breaker[] = {{"on", BW_BREAKER_ON},
    {"off", BW_BREAKER_OFF}, {"dry-run", BW_BREAKER_DRYRUN}, {0, 0}};
static const struct word w_bscope[] = {{"address", BW_SCOPE_ADDRESS},
    {"destination", BW_SCOPE_DESTINATION}, {0, 0}};
static const struct word w_hscope[] = {{"destination", BW_SCOPE_DESTINATION},
    {"address", BW_SCOPE_ADDRESS}, {0, 0}};
static const struct word w_window[] = {{"count", BW_WINDOW_COUNT},
    {"time", BW_WINDOW_TIME}, {0, 0}};
static const struct word w_format[] = {{"token", BW_IDEM_TOKEN},
    {"sf-string", BW_IDEM_SF_STRING}, {0, 0}};
static const struct word w_idkey[] = {{"uuid4", BW_IDEM_UUID4},
    {"uuid7", BW_IDEM_UUID7}, {0, 0}};

#define G(f) .scope = BW_KEY_GLOBAL, .off = offsetof(bw_config, f), \
             .size = sizeof(((bw_config *)0)->f)
#define P(f) .scope = BW_KEY_POLICY, .off = offsetof(bw_policy, f), \
             .size = sizeof(((bw_policy *)0)->f)
#define UINT(lo_, hi_) .set = set_uint, .lo = (lo_), .hi = (hi_)
#define WORDS(w) .set = set_word, .words = (w)
#define METHODS_SIZE (offsetof(bw_policy, methods) + sizeof(((bw_policy *)0)->methods) \
                      - offsetof(bw_policy, n_methods))

/* In SPEC order, which is also the order of the example config. */
static const struct key keys[] = {
    {.name = "log_level", G(log_level), WORDS(w_level)},
    {.name = "log", G(log_target), .set = set_log},
    {.name = "state", G(state), WORDS(w_state)},
    {.name = "state_dir", G(state_dir), .set = set_path},
    {.name = "on_config_error", G(on_config_error), WORDS(w_onerr)},
    {.name = "reload", G(reload), .set = set_bool},
    {.name = "host", .scope = BW_KEY_TARGET, .set = set_host, .list = true},
    {.name = "port", .scope = BW_KEY_TARGET, .set = set_port, .list = true},
    {.name = "enabled", P(enabled), .set = set_bool},
    {.name = "connect_timeout_ms", P(connect_timeout_ms), UINT(0, BW_MAX_MS)},
    {.name = "retries", P(retries), UINT(0, 100)},
    {.name = "retry_on", P(retry_on), .set = set_retry_on, .list = true},
    {.name = "backoff_initial_ms", P(backoff_initial_ms), UINT(0, BW_MAX_MS)},
    {.name = "backoff_max_ms", P(backoff_max_ms), UINT(0, BW_MAX_MS)},
    {.name = "backoff_multiplier", P(backoff_multiplier), .set = set_decimal,
     .lo = 1, .hi = 100},
    {.name = "jitter", P(jitter), WORDS(w_jitter)},
    {.name = "deadline_ms", P(deadline_ms), UINT(0, BW_MAX_MS)},
    {.name = "nonblocking", P(nonblocking), WORDS(w_nb)},
    {.name = "retry_budget_percent", P(retry_budget_percent), UINT(0, 100)},
    {.name = "retry_budget_min_per_sec", P(retry_budget_min_per_sec), UINT(0, 1000000)},
    {.name = "breaker", P(breaker), WORDS(w_breaker)},
    {.name = "breaker_scope", P(breaker_scope), WORDS(w_bscope)},
    {.name = "breaker_window", P(breaker_window), WORDS(w_window)},
    /* its range depends on breaker_window: checked in config_rules.c */
    {.name = "breaker_window_size", P(breaker_window_size), UINT(0, UINT32_MAX)},
    {.name = "breaker_min_calls", P(breaker_min_calls), UINT(1, 100000)},
    {.name = "breaker_failure_rate", P(breaker_failure_rate), UINT(1, 100)},
    {.name = "breaker_consecutive_failures", P(breaker_consecutive_failures),
     UINT(0, 100000)},
    {.name = "breaker_slow_ms", P(breaker_slow_ms), UINT(0, BW_MAX_MS)},
    {.name = "breaker_slow_rate", P(breaker_slow_rate), UINT(1, 100)},
    {.name = "breaker_open_ms", P(breaker_open_ms), UINT(1, BW_MAX_MS)},
    {.name = "breaker_open_max_ms", P(breaker_open_max_ms), UINT(1, BW_MAX_MS)},
    {.name = "breaker_half_open_probes", P(breaker_half_open_probes), UINT(1, 16)},
    {.name = "breaker_half_open_timeout_ms", P(breaker_half_open_timeout_ms),
     UINT(0, BW_MAX_MS)},
    {.name = "breaker_errno", P(breaker_errno), .set = set_errno},
    {.name = "breaker_io_errors", P(breaker_io_errors), .set = set_bool},
    {.name = "breaker_http_status", P(breaker_http_status), .set = set_status,
     .list = true},
    {.name = "max_connections", P(max_connections), UINT(0, 1000000)},
    {.name = "bulkhead_scope", P(bulkhead_scope), WORDS(w_hscope)},
    {.name = "bulkhead_wait_ms", P(bulkhead_wait_ms), UINT(0, BW_MAX_MS)},
    {.name = "bulkhead_errno", P(bulkhead_errno), .set = set_errno},
    {.name = "idempotency", P(idempotency), .set = set_bool},
    {.name = "idempotency_methods", .scope = BW_KEY_POLICY, .set = set_methods,
     .off = offsetof(bw_policy, n_methods), .size = METHODS_SIZE, .list = true},
    {.name = "idempotency_header", P(idempotency_header), .set = set_token},
    {.name = "idempotency_format", P(idempotency_format), WORDS(w_format)},
    {.name = "idempotency_key", P(idempotency_key), WORDS(w_idkey)},
    {.name = "failover", P(failover), .set = set_bool},
    {.name = "failover_max_ejected_percent", P(failover_max_ejected_percent), UINT(0, 100)},
    {.name = "tcp_user_timeout_ms", P(tcp_user_timeout_ms), UINT(0, BW_MAX_MS)},
    {.name = "tcp_keepalive", P(tcp_keepalive), .set = set_bool},
    {.name = "tcp_keepalive_idle_s", P(tcp_keepalive_idle_s), UINT(1, 32767)},
    {.name = "tcp_keepalive_interval_s", P(tcp_keepalive_interval_s), UINT(1, 32767)},
    {.name = "tcp_keepalive_count", P(tcp_keepalive_count), UINT(1, 127)},
    {.name = "connect_rate", P(connect_rate), UINT(0, 1000000)},
    {.name = "connect_rate_burst", P(connect_rate_burst), UINT(0, 1000000)},
    {.name = "slow_start_ms", P(slow_start_ms), UINT(0, BW_MAX_MS)},
    {.name = "retry_after", P(retry_after), .set = set_bool},
    {.name = "retry_after_max_ms", P(retry_after_max_ms), UINT(0, BW_MAX_MS)},
};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int bw_config_nkeys(void)
{
    return NKEYS;
}

int bw_config_key_index(const char *name)
{
    for (int k = 0; k < NKEYS; k++)
        if (!strcmp(keys[k].name, name))
            return k;
    return -1;
}

const char *bw_config_key_name(int k)
{
    return keys[k].name;
}

enum bw_key_scope bw_config_key_scope(int k)
{
    return keys[k].scope;
}

bool bw_config_key_is_list(int k)
{
    return keys[k].list;
}

/* The first key at the smallest edit distance (case-insensitive). */
int bw_config_key_closest(const char *name)
{
    int best = 0;
    size_t best_d = (size_t)-1;
    for (int k = 0; k < NKEYS; k++) {
        size_t d = bw_edit_distance(name, keys[k].name);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

int bw_config_key_set(int k, bw_valctx *c, const char *val, bool append, void *obj)
{
    c->key = keys[k].name;
    c->msg[0] = '\0';
    return keys[k].set(&keys[k], c, val, append, obj);
}

void bw_config_key_copy(int k, bw_policy *dst, const bw_policy *src)
{
    if (keys[k].scope == BW_KEY_POLICY)
        memcpy((char *)dst + keys[k].off, (const char *)src + keys[k].off,
               keys[k].size);
}
