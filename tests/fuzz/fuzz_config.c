/*
 * fuzz_config.c - libFuzzer harness for the INI loader (bw_config_parse).
 *
 * The input is the file's content, handed over in an exact-size heap block
 * (ASan catches a read past it) with the fstat of a regular 0600 file.
 * Checked: no crash; the result agrees with the diagnostics (success exactly
 * when no error was reported, *out NULL on failure); every diagnostic names
 * the file and a line >= 0. On success: every destination has a valid unique
 * name and at least one well-formed host, its ports are ranges lo <= hi, and
 * every field of [global], [defaults] and each section lies in the range
 * SPEC section 4 and config_keys.c document, including the rules between keys
 * (backoff_initial_ms <= backoff_max_ms, breaker_open_ms <=
 * breaker_open_max_ms, the window size for the window kind). Finally the
 * match index answers a lookup for each named host with a section index.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bw_config.h"
#include "bw_match.h"

#define MAX_MS 86400000u   /* the largest duration config_keys.c accepts */
#define FILE_NAME "fuzz.ini"

/* Stops the run with a message libFuzzer keeps beside the crash input. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_config: check failed: %s (line %d)\n",     \
                    #cond, __LINE__);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

typedef struct diag_count {
    unsigned errors, warnings;
} diag_count;

static void on_diag(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                    const char *msg)
{
    diag_count *d = ctx;
    CHECK(file && strcmp(file, FILE_NAME) == 0);
    CHECK(line >= 0);
    CHECK(msg && msg[0] && strlen(msg) < 4096);
    if (sev == BW_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

/* A NUL inside a fixed array of size n, and not at index 0 unless empty_ok. */
static int fixed_str(const char *s, size_t n, int empty_ok)
{
    const char *nul = memchr(s, '\0', n);
    return nul && (empty_ok || nul != s);
}

static void check_policy(const bw_policy *p)
{
    CHECK(p->connect_timeout_ms <= MAX_MS);
    CHECK(p->retries <= 100);
    CHECK((p->retry_on & ~(BW_RETRY_REFUSED | BW_RETRY_UNREACHABLE | BW_RETRY_TIMEOUT)) == 0);
    CHECK(p->backoff_initial_ms <= p->backoff_max_ms && p->backoff_max_ms <= MAX_MS);
    CHECK(p->backoff_multiplier >= 1.0 && p->backoff_multiplier <= 100.0);
    CHECK(p->jitter >= BW_JITTER_FULL && p->jitter <= BW_JITTER_NONE);
    CHECK(p->deadline_ms <= MAX_MS);
    CHECK(p->nonblocking >= BW_NB_AUTO && p->nonblocking <= BW_NB_NATIVE);
    CHECK(p->retry_budget_percent <= 100 && p->retry_budget_min_per_sec <= 1000000);
    CHECK(p->breaker >= BW_BREAKER_ON && p->breaker <= BW_BREAKER_DRYRUN);
    CHECK(p->breaker_scope == BW_SCOPE_ADDRESS || p->breaker_scope == BW_SCOPE_DESTINATION);
    CHECK(p->breaker_window == BW_WINDOW_COUNT || p->breaker_window == BW_WINDOW_TIME);
    CHECK(p->breaker_window_size >= 1 &&
          p->breaker_window_size <= (p->breaker_window == BW_WINDOW_COUNT ? BW_MAX_WINDOW_COUNT
                                                                          : BW_MAX_WINDOW_SECS));
    CHECK(p->breaker_min_calls >= 1 && p->breaker_min_calls <= 100000);
    CHECK(p->breaker_failure_rate >= 1 && p->breaker_failure_rate <= 100);
    CHECK(p->breaker_consecutive_failures <= 100000);
    CHECK(p->breaker_slow_ms <= MAX_MS);
    CHECK(p->breaker_slow_rate >= 1 && p->breaker_slow_rate <= 100);
    CHECK(p->breaker_open_ms >= 1 && p->breaker_open_ms <= p->breaker_open_max_ms &&
          p->breaker_open_max_ms <= MAX_MS);
    CHECK(p->breaker_half_open_probes >= 1 && p->breaker_half_open_probes <= 16);
    CHECK(p->breaker_half_open_timeout_ms <= MAX_MS);
    CHECK(bw_errno_name(p->breaker_errno) != NULL);
    CHECK(p->max_connections <= 1000000);
    CHECK(p->bulkhead_scope == BW_SCOPE_ADDRESS || p->bulkhead_scope == BW_SCOPE_DESTINATION);
    CHECK(p->bulkhead_wait_ms <= MAX_MS);
    CHECK(bw_errno_name(p->bulkhead_errno) != NULL);
    CHECK(p->n_methods <= BW_MAX_METHODS);
    for (unsigned i = 0; i < p->n_methods; i++)
        CHECK(fixed_str(p->methods[i], BW_MAX_METHOD_LEN, 0));
    CHECK(fixed_str(p->idempotency_header, BW_MAX_HEADER_NAME, 0));
    CHECK(p->idempotency_format == BW_IDEM_TOKEN || p->idempotency_format == BW_IDEM_SF_STRING);
    CHECK(p->idempotency_key == BW_IDEM_UUID4 || p->idempotency_key == BW_IDEM_UUID7);
}

static void check_host(const bw_host_pattern *h)
{
    switch (h->kind) {
    case BW_HOST_NAME:
    case BW_HOST_SUFFIX: {
        CHECK(h->name && h->name[0]);
        size_t n = strlen(h->name);
        CHECK(h->name[n - 1] != '.');
        for (size_t i = 0; i < n; i++)
            CHECK(!(h->name[i] >= 'A' && h->name[i] <= 'Z'));   /* stored lower case */
        if (h->kind == BW_HOST_SUFFIX)
            CHECK(h->name[0] == '.' && n > 1);
        break;
    }
    case BW_HOST_IP:
    case BW_HOST_CIDR:
        CHECK(h->family == AF_INET || h->family == AF_INET6);
        CHECK(h->prefix <= (h->family == AF_INET ? 32 : 128));
        if (h->kind == BW_HOST_IP)
            CHECK(h->prefix == (h->family == AF_INET ? 32 : 128));
        break;
    default:
        CHECK(!"unknown host kind");
    }
}

static int name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static void check_dest(const bw_config *cfg, size_t i)
{
    const bw_dest *d = &cfg->dests[i];
    CHECK(fixed_str(d->name, BW_MAX_NAME, 0));
    for (const char *c = d->name; *c; c++)
        CHECK(name_char_ok(*c));
    if (cfg->n_dests <= 256)   /* unique names; quadratic, so small files only */
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(cfg->dests[j].name, d->name) != 0);
    CHECK(d->line >= 1);
    CHECK(d->n_hosts >= 1 && d->hosts != NULL);
    for (size_t k = 0; k < d->n_hosts; k++)
        check_host(&d->hosts[k]);
    CHECK(d->n_ports == 0 || d->ports != NULL);
    for (size_t k = 0; k < d->n_ports; k++)
        CHECK(d->ports[k].lo <= d->ports[k].hi);
    check_policy(&d->policy);
}

/* A connection to a documentation address, by a program that resolved the
 * first exact hostname of dests[i], on a port the section includes: some
 * section (that one or a more specific one) must be chosen. */
static void check_lookup(const bw_config *cfg, size_t i)
{
    const bw_dest *d = &cfg->dests[i];
    if (d->hosts[0].kind != BW_HOST_NAME)
        return;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(d->n_ports ? d->ports[0].lo : 80)};
    sa.sin_addr.s_addr = htonl(0xC0000201);   /* 192.0.2.1 */
    long r = bw_match_lookup(cfg->match, d->hosts[0].name, (struct sockaddr *)&sa);
    CHECK(r >= 0 && (size_t)r < cfg->n_dests);
}

static void check_config(const bw_config *cfg)
{
    CHECK(cfg->log_level >= BW_LOG_OFF && cfg->log_level <= BW_LOG_DEBUG);
    CHECK(cfg->log_target >= BW_LOGTO_STDERR && cfg->log_target <= BW_LOGTO_FILE);
    if (cfg->log_target == BW_LOGTO_FILE)
        CHECK(cfg->log_path[0] == '/' && fixed_str(cfg->log_path, sizeof cfg->log_path, 0));
    CHECK(cfg->state == BW_STATE_SHARED || cfg->state == BW_STATE_PROCESS);
    CHECK(cfg->state_dir[0] == '/' && fixed_str(cfg->state_dir, sizeof cfg->state_dir, 0));
    CHECK(cfg->on_config_error == BW_ONERR_PASSTHROUGH || cfg->on_config_error == BW_ONERR_EXIT);
    CHECK(strcmp(cfg->path, "/fuzz/" FILE_NAME) == 0);
    check_policy(&cfg->defaults);
    CHECK(cfg->n_dests == 0 || cfg->dests != NULL);
    CHECK(cfg->match != NULL);
    for (size_t i = 0; i < cfg->n_dests; i++)
        check_dest(cfg, i);
    for (size_t i = 0; i < cfg->n_dests && i < 8; i++)
        check_lookup(cfg, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct stat st = {.st_mode = S_IFREG | 0600, .st_size = (off_t)size, .st_nlink = 1};
    bw_config *cfg = (bw_config *)1;   /* must be overwritten either way */
    diag_count d = {0, 0};
    int rc = bw_config_parse(FILE_NAME, "/fuzz/" FILE_NAME, buf, size, &st, &cfg, on_diag, &d);
    if (rc == 0) {
        CHECK(d.errors == 0 && cfg != NULL);
        check_config(cfg);
        bw_config_free(cfg);
    } else {
        CHECK(rc == -1 && d.errors > 0 && cfg == NULL);
    }
    free(buf);
    return 0;
}
