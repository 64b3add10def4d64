/*
 * config_defaults.c - the built-in defaults of SPEC section 4, the built-in
 * config (no file), and freeing a config.
 */
#include "bw_config.h"
#include "bw_match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bw_policy_defaults(bw_policy *p)
{
    memset(p, 0, sizeof *p);   /* also padding: policies compare with memcmp */
    p->enabled = true;
    p->connect_timeout_ms = 5000;
    p->retries = 2;
    p->retry_on = BW_RETRY_REFUSED | BW_RETRY_UNREACHABLE | BW_RETRY_TIMEOUT;
    p->backoff_initial_ms = 100;
    p->backoff_max_ms = 2000;
    p->backoff_multiplier = 2.0;
    p->jitter = BW_JITTER_FULL;
    p->deadline_ms = 0;
    p->nonblocking = BW_NB_AUTO;
    p->retry_budget_percent = 20;
    p->retry_budget_min_per_sec = 10;
    p->breaker = BW_BREAKER_ON;
    p->breaker_scope = BW_SCOPE_ADDRESS;
    p->breaker_window = BW_WINDOW_COUNT;
    p->breaker_window_size = 20;
    p->breaker_min_calls = 10;
    p->breaker_failure_rate = 50;
    p->breaker_consecutive_failures = 5;
    p->breaker_slow_ms = 0;
    p->breaker_slow_rate = 100;
    p->breaker_open_ms = 5000;
    p->breaker_open_max_ms = 60000;
    p->breaker_half_open_probes = 1;
    p->breaker_half_open_timeout_ms = 10000;
    p->breaker_errno = ECONNREFUSED;
    p->breaker_io_errors = true;
    p->max_connections = 0;
    p->bulkhead_scope = BW_SCOPE_DESTINATION;
    p->bulkhead_wait_ms = 0;
    p->bulkhead_errno = ECONNREFUSED;
    p->idempotency = false;
    p->n_methods = 2;
    strcpy(p->methods[0], "POST");
    strcpy(p->methods[1], "PATCH");
    strcpy(p->idempotency_header, "Idempotency-Key");
    p->idempotency_format = BW_IDEM_TOKEN;
    p->idempotency_key = BW_IDEM_UUID4;
    p->tcp_user_timeout_ms = 0;
    p->tcp_keepalive = false;
    p->tcp_keepalive_idle_s = 60;
    p->tcp_keepalive_interval_s = 10;
    p->tcp_keepalive_count = 5;
    p->connect_rate = 0;
    p->connect_rate_burst = 0;
    p->slow_start_ms = 0;
    p->failover = true;
    p->failover_max_ejected_percent = 50;
    p->retry_after = true;
    p->retry_after_max_ms = 60000;
}

/* Returns a config with built-in defaults and no sections, or NULL on ENOMEM. */
bw_config *bw_config_builtin(void)
{
    bw_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->log_level = BW_LOG_WARN;
    cfg->log_target = BW_LOGTO_STDERR;
    cfg->state = BW_STATE_SHARED;
    strcpy(cfg->state_dir, "/dev/shm");
    cfg->on_config_error = BW_ONERR_PASSTHROUGH;
    cfg->reload = true;
    bw_policy_defaults(&cfg->defaults);
    cfg->match = bw_match_build(NULL, 0);
    if (!cfg->match) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

static void free_dest(bw_dest *d)
{
    for (size_t i = 0; i < d->n_hosts; i++)
        free(d->hosts[i].name);
    free(d->hosts);
    free(d->ports);
}

void bw_config_free(bw_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->match)
        bw_match_free(cfg->match);
    for (size_t i = 0; i < cfg->n_dests; i++)
        free_dest(&cfg->dests[i]);
    free(cfg->dests);
    free(cfg);
}
