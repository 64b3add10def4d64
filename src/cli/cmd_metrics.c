/*
 * cmd_metrics.c - `breakwater metrics`: the shared state in the Prometheus
 * text exposition format 0.0.4, fit for node_exporter's textfile collector:
 * every family's HELP and TYPE once, before its samples, which are
 * contiguous; label values escaped; one sample per label set.
 *
 * Labels are destination and address. A breaker or bulkhead with scope
 * destination is one object for the whole section: it is reported once,
 * with address="*" (as the logs name it), so that summing over addresses
 * never counts it twice.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "state_view.h"

#define METRICS_USAGE "breakwater metrics [-c FILE]"

/* A label value: \, " and newline escaped as the format says; any other
 * byte outside printable ASCII (only a hostile file has them) as the text
 * \xHH, which keeps the output valid UTF-8 and the series distinct. */
static void label_value(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Starts a sample: NAME{destination="..",address=".." — the caller adds
 * any further label, then closes it with sample_end. */
static void sample_start(FILE *out, const char *name, const char *dest, const char *addr)
{
    fprintf(out, "%s{destination=\"", name);
    label_value(out, dest);
    fputs("\",address=\"", out);
    label_value(out, addr);
    fputc('"', out);
}

static void sample_end(FILE *out, unsigned long long value)
{
    fprintf(out, "} %llu\n", value);
}

static void per_address(FILE *out, const bw_view *v, const char *name, enum bw_counter c)
{
    for (size_t i = 0; i < v->n_dests; i++)
        for (size_t j = 0; j < v->dests[i].n_addrs; j++) {
            sample_start(out, name, v->dests[i].name, v->dests[i].addrs[j].text);
            sample_end(out, v->dests[i].addrs[j].cnt[c]);
        }
}

static void connects(FILE *out, const bw_view *v)
{
    static const struct {
        const char *result;
        enum bw_counter c;
    } results[] = {{"success", BW_CNT_SUCCESSES},
                   {"failure", BW_CNT_FAILURES},
                   {"rejected_breaker", BW_CNT_REJECTED_BREAKER},
                   {"rejected_bulkhead", BW_CNT_REJECTED_BULKHEAD}};
    family(out, "breakwater_connects_total", "counter",
           "Connect calls decided by breakwater, by result.");
    for (size_t i = 0; i < v->n_dests; i++)
        for (size_t j = 0; j < v->dests[i].n_addrs; j++)
            for (size_t r = 0; r < sizeof results / sizeof results[0]; r++) {
                const bw_view_addr *a = &v->dests[i].addrs[j];
                sample_start(out, "breakwater_connects_total", v->dests[i].name, a->text);
                fprintf(out, ",result=\"%s\"", results[r].result);
                sample_end(out, a->cnt[results[r].c]);
            }
}

/* Calls fn for each breaker once: per address, or the destination's ("*"). */
typedef void (*brk_fn)(FILE *out, const char *dest, const char *addr, const bw_view_brk *b);

static void each_breaker(FILE *out, const bw_view *v, brk_fn fn)
{
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        if (d->policy->breaker_scope == BW_SCOPE_DESTINATION) {
            if (d->e || d->n_addrs)
                fn(out, d->name, "*", bw_view_breaker_of(d, NULL));
            continue;
        }
        for (size_t j = 0; j < d->n_addrs; j++)
            fn(out, d->name, d->addrs[j].text, &d->addrs[j].brk);
    }
}

static void breaker_state(FILE *out, const char *dest, const char *addr, const bw_view_brk *b)
{
    int g = bw_breaker_state_gauge(b->state);
    if (g < 0)
        return;   /* breaker = off: no state to report */
    sample_start(out, "breakwater_breaker_state", dest, addr);
    sample_end(out, (unsigned long long)g);
}

static void breaker_transitions(FILE *out, const char *dest, const char *addr,
                                const bw_view_brk *b)
{
    static const enum bw_breaker_state to[] = {BW_BRK_CLOSED, BW_BRK_OPEN, BW_BRK_HALF_OPEN,
                                               BW_BRK_FORCED_OPEN, BW_BRK_FORCED_CLOSED};
    for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
        sample_start(out, "breakwater_breaker_transitions_total", dest, addr);
        fprintf(out, ",to=\"%s\"", bw_breaker_state_name(to[i]));
        sample_end(out, b->transitions[to[i]]);
    }
}

/* Active connections and their limit, per bulkhead: per address, or the
 * destination's ("*"). */
static void bulkheads(FILE *out, const bw_view *v, bool max)
{
    const char *name = max ? "breakwater_connections_max" : "breakwater_connections_active";
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        if (d->policy->bulkhead_scope == BW_SCOPE_DESTINATION) {
            if (!d->e && !d->n_addrs)
                continue;
            sample_start(out, name, d->name, "*");
            sample_end(out, max ? d->policy->max_connections : bw_view_active(d));
            continue;
        }
        for (size_t j = 0; j < d->n_addrs; j++) {
            sample_start(out, name, d->name, d->addrs[j].text);
            sample_end(out, max ? d->policy->max_connections : d->addrs[j].active);
        }
    }
}

static void http_responses(FILE *out, const bw_view *v)
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    family(out, "breakwater_http_responses_total", "counter",
           "HTTP responses seen on connections, by status class.");
    for (size_t i = 0; i < v->n_dests; i++)
        for (size_t j = 0; j < v->dests[i].n_addrs; j++)
            for (int k = 0; k < 5; k++) {
                const bw_view_addr *a = &v->dests[i].addrs[j];
                sample_start(out, "breakwater_http_responses_total", v->dests[i].name, a->text);
                fprintf(out, ",class=\"%s\"", classes[k]);
                sample_end(out, a->cnt[BW_CNT_HTTP_1XX + k]);
            }
}

/* A histogram's le label: the bound in seconds, as Prometheus writes it. */
static void bucket_bound(FILE *out, unsigned i)
{
    if (i == BW_HIST_BOUNDS)
        fputs("+Inf", out);
    else
        fprintf(out, "%g", bw_hist_bounds_us[i] / 1e6);
}

/* breakwater_connect_duration_seconds: one histogram per destination. */
static void connect_duration(FILE *out, const bw_view *v)
{
    const char *name = "breakwater_connect_duration_seconds";
    family(out, name, "histogram",
           "Time connect() took to its outcome, first attempt to last (retries included).");
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        for (unsigned b = 0; b <= BW_HIST_BOUNDS; b++) {
            fprintf(out, "%s_bucket{destination=\"", name);
            label_value(out, d->name);
            fputs("\",le=\"", out);
            bucket_bound(out, b);
            fputc('"', out);
            sample_end(out, d->connect_time[b]);
        }
        fprintf(out, "%s_sum{destination=\"", name);
        label_value(out, d->name);
        fprintf(out, "\"} %.6f\n", d->connect_time_sum_us / 1e6);
        fprintf(out, "%s_count{destination=\"", name);
        label_value(out, d->name);
        fputc('"', out);
        sample_end(out, d->connect_time[BW_HIST_BOUNDS]);
    }
}

/* breakwater_failovers_total: connects sent to another address of the
 * same name, per destination (the sum over the addresses they left). */
static void failovers(FILE *out, const bw_view *v)
{
    family(out, "breakwater_failovers_total", "counter",
           "Connects sent to another address of the same name (failover).");
    for (size_t i = 0; i < v->n_dests; i++) {
        fputs("breakwater_failovers_total{destination=\"", out);
        label_value(out, v->dests[i].name);
        fputc('"', out);
        sample_end(out, bw_view_sum(&v->dests[i], BW_CNT_FAILOVERS));
    }
}

static void print_metrics(FILE *out, const bw_view *v)
{
    connects(out, v);
    family(out, "breakwater_retries_total", "counter", "Connect retries made.");
    per_address(out, v, "breakwater_retries_total", BW_CNT_RETRIES);
    family(out, "breakwater_retries_denied_total", "counter",
           "Connect retries refused by the retry budget.");
    per_address(out, v, "breakwater_retries_denied_total", BW_CNT_RETRIES_DENIED);
    family(out, "breakwater_breaker_state", "gauge",
           "Circuit breaker state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 forced closed.");
    each_breaker(out, v, breaker_state);
    family(out, "breakwater_breaker_transitions_total", "counter",
           "Circuit breaker state changes, by the state entered.");
    each_breaker(out, v, breaker_transitions);
    family(out, "breakwater_connections_active", "gauge", "Connections open now.");
    bulkheads(out, v, false);
    family(out, "breakwater_connections_max", "gauge",
           "Most connections open at once (max_connections; 0 = unlimited).");
    bulkheads(out, v, true);
    family(out, "breakwater_idempotency_keys_total", "counter", "Idempotency keys added to requests.");
    per_address(out, v, "breakwater_idempotency_keys_total", BW_CNT_IDEMPOTENCY_KEYS);
    http_responses(out, v);
    family(out, "breakwater_rate_limited_total", "counter",
           "HTTP 429 (Too Many Requests) responses seen, apart from failures.");
    per_address(out, v, "breakwater_rate_limited_total", BW_CNT_RATE_LIMITED);
    connect_duration(out, v);
    failovers(out, v);
}

int bw_cmd_metrics(int argc, char **argv)
{
    const char *config, *pos[1];
    int npos;
    if (bw_view_args(argc, argv, METRICS_USAGE, &config, NULL, pos, 0, &npos) != 0)
        return 2;
    bw_view v;
    int rc = bw_view_open(config, &v);
    if (rc == BW_VIEW_PROCESS) {
        /* A comment line keeps the output a valid (empty) exposition. */
        fputs("# ", stdout);
        bw_view_put_safe(stdout, bw_view_config_name(&v));
        fputs(" has state = process: nothing shared to show\n", stdout);
        rc = 0;
    } else if (rc == 0 && (rc = bw_view_build(&v)) == 0) {
        print_metrics(stdout, &v);
    }
    return bw_view_finish(&v, "metrics", rc);
}
