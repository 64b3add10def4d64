/* cmd_status.c - `breakwater status`: destinations, breakers and counters of
 * the shared state, as a table or as the JSON object of SPEC section 3. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "state_files.h"
#include "state_view.h"

#define STATUS_USAGE "breakwater status [-c FILE] [--json]"

static void json_addr(FILE *out, const bw_view_dest *d, const bw_view_addr *a)
{
    const bw_view_brk *b = bw_view_breaker_of(d, a);
    fputs("{\"address\": ", out);
    bw_view_json_str(out, a->text);
    fprintf(out, ", \"breaker\": \"%s\", \"failure_rate\": %.4f, \"window_calls\": %u, ",
            bw_breaker_state_name(b->state), b->failure_rate, b->window_calls);
    fprintf(out, "\"connects\": %llu, \"failures\": %llu, \"retries\": %llu, "
                 "\"rejected_breaker\": %llu, \"rejected_bulkhead\": %llu, "
                 "\"retries_denied_budget\": %llu, \"idempotency_keys\": %llu, "
                 "\"rate_limited\": %llu}",
            (unsigned long long)a->cnt[BW_CNT_CONNECTS], (unsigned long long)a->cnt[BW_CNT_FAILURES],
            (unsigned long long)a->cnt[BW_CNT_RETRIES],
            (unsigned long long)a->cnt[BW_CNT_REJECTED_BREAKER],
            (unsigned long long)a->cnt[BW_CNT_REJECTED_BULKHEAD],
            (unsigned long long)a->cnt[BW_CNT_RETRIES_DENIED],
            (unsigned long long)a->cnt[BW_CNT_IDEMPOTENCY_KEYS],
            (unsigned long long)a->cnt[BW_CNT_RATE_LIMITED]);
}

#define MAX_FILES 8

/* "state_files": every layout version's file of the config and its users. */
static void json_state_files(FILE *out, const bw_view *v)
{
    bw_state_file files[MAX_FILES];
    size_t n = bw_state_files_find(v->cfg, files, MAX_FILES);
    fputs(",\n \"state_files\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {\"path\": " : "{\"path\": ", out);
        bw_view_json_str(out, files[i].path);
        fprintf(out, ", \"layout_version\": %d, \"this_build\": %s, \"processes\": %zu, \"pids\": [",
                files[i].version, files[i].this_build ? "true" : "false", files[i].n_pids);
        for (size_t j = 0; j < files[i].n_pids && j < BW_STATE_FILE_PIDS; j++)
            fprintf(out, "%s%ld", j ? ", " : "", (long)files[i].pids[j]);
        fputs("]}", out);
    }
    fputs("]", out);
}

/* Lines on files of other layout versions, when there are any. */
static void table_state_files(FILE *out, const bw_view *v)
{
    bw_state_file files[MAX_FILES];
    size_t n = bw_state_files_find(v->cfg, files, MAX_FILES);
    if (!bw_state_files_others(files, n))
        return;
    fputs("state files of other layout versions exist (programs on another build):\n", out);
    for (size_t i = 0; i < n; i++) {
        fputs("  ", out);
        bw_state_file_describe(out, &files[i]);
        fputc('\n', out);
    }
}

/* The connect-time histogram: cumulative counts by upper bound in seconds
 * (as the metrics' le labels), their sum and count. */
static void json_histogram(FILE *out, const bw_view_dest *d)
{
    fputs("{\"buckets\": {", out);
    for (unsigned b = 0; b <= BW_HIST_BOUNDS; b++) {
        if (b < BW_HIST_BOUNDS)
            fprintf(out, "%s\"%g\": %llu", b ? ", " : "", bw_hist_bounds_us[b] / 1e6,
                    (unsigned long long)d->connect_time[b]);
        else
            fprintf(out, ", \"+Inf\": %llu", (unsigned long long)d->connect_time[b]);
    }
    fprintf(out, "}, \"sum\": %.6f, \"count\": %llu}", d->connect_time_sum_us / 1e6,
            (unsigned long long)d->connect_time[BW_HIST_BOUNDS]);
}

static void print_json(FILE *out, const bw_view *v)
{
    fputs("{\"config\": ", out);
    if (v->cfg->path[0])
        bw_view_json_str(out, v->cfg->path);
    else
        fputs("null", out);
    fputs(", \"state_file\": ", out);
    bw_view_json_str(out, v->state_path);
    json_state_files(out, v);
    fputs(",\n \"destinations\": [", out);
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        bw_view_json_str(out, d->name);
        fprintf(out, ", \"active\": %u, \"max_connections\": %u, \"rejected_bulkhead\": %llu,\n"
                     "   \"addresses\": [",
                bw_view_active(d), d->policy->max_connections,
                (unsigned long long)bw_view_sum(d, BW_CNT_REJECTED_BULKHEAD));
        for (size_t j = 0; j < d->n_addrs; j++) {
            fputs(j ? ",\n    " : "\n    ", out);
            json_addr(out, d, &d->addrs[j]);
        }
        fputs("],\n   \"connect_duration_seconds\": ", out);
        json_histogram(out, d);
        fputs("}", out);
    }
    fputs("]}\n", out);
}

static void print_table(FILE *out, const bw_view *v)
{
    fprintf(out, "config %s\nstate %s\n", v->cfg->path[0] ? v->cfg->path : "(built-in)",
            v->state_path);
    table_state_files(out, v);
    if (v->n_dests == 0)
        fputs("no connections recorded yet\n", out);
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        bw_view_put_safe(out, d->name);
        fprintf(out, ": active %u/", bw_view_active(d));
        if (d->policy->max_connections)
            fprintf(out, "%u", d->policy->max_connections);
        else
            fputs("unlimited", out);
        fprintf(out, ", rejected_bulkhead %llu\n",
                (unsigned long long)bw_view_sum(d, BW_CNT_REJECTED_BULKHEAD));
        for (size_t j = 0; j < d->n_addrs; j++) {
            const bw_view_addr *a = &d->addrs[j];
            const bw_view_brk *b = bw_view_breaker_of(d, a);
            fprintf(out, "  %s breaker %s, failure_rate %.2f, window_calls %u, connects %llu, "
                         "failures %llu, retries %llu, rejected_breaker %llu, "
                         "retries_denied_budget %llu, idempotency_keys %llu, rate_limited %llu\n",
                    a->text, bw_breaker_state_name(b->state), b->failure_rate, b->window_calls,
                    (unsigned long long)a->cnt[BW_CNT_CONNECTS],
                    (unsigned long long)a->cnt[BW_CNT_FAILURES],
                    (unsigned long long)a->cnt[BW_CNT_RETRIES],
                    (unsigned long long)a->cnt[BW_CNT_REJECTED_BREAKER],
                    (unsigned long long)a->cnt[BW_CNT_RETRIES_DENIED],
                    (unsigned long long)a->cnt[BW_CNT_IDEMPOTENCY_KEYS],
                    (unsigned long long)a->cnt[BW_CNT_RATE_LIMITED]);
        }
    }
}

int bw_cmd_status(int argc, char **argv)
{
    const char *config, *pos[1];
    bool json = false;
    int npos;
    if (bw_view_args(argc, argv, STATUS_USAGE, &config, &json, pos, 0, &npos) != 0)
        return 2;
    bw_view v;
    int rc = bw_view_open(config, &v);
    if (rc == BW_VIEW_PROCESS) {
        if (json) {
            fputs("{\"config\": ", stdout);
            bw_view_json_str(stdout, v.cfg->path);
            fputs(", \"state\": \"process\", \"destinations\": []}\n", stdout);
        } else {
            printf("%s has state = process: each process keeps its own state; "
                   "nothing shared to show\n", bw_view_config_name(&v));
        }
        rc = 0;
    } else if (rc == 0 && (rc = bw_view_build(&v)) == 0) {
        if (json)
            print_json(stdout, &v);
        else
            print_table(stdout, &v);
    }
    return bw_view_finish(&v, "status", rc);
}
