/*
 * cmd_events.c - `breakwater events [--follow] [--json]`: the ring of recent
 * state changes kept in the shared state (bw_events.h), oldest first; with
 * --follow it then waits for new ones, printing each within 200 ms.
 *
 * Text: one line per event, "TIME [PID] MESSAGE" with TIME in UTC to the
 * millisecond. --json: one JSON object per line (JSON Lines), which a
 * --follow reader can parse as it comes. Events overwritten before they
 * could be printed are said so ("kind": "lost").
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "state_view.h"

#define EVENTS_USAGE "breakwater events [-c FILE] [--follow] [--json]"
#define FOLLOW_TICK_MS 200
#define PENDING_GIVE_UP_MS 2000   /* a writer killed mid-event never finishes it */

static void put_time(FILE *out, int64_t ms, bool json)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32] = "?";
    if (ms >= 0 && gmtime_r(&s, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, json ? "\"%s.%03dZ\"" : "%s.%03dZ", buf, (int)(ms >= 0 ? ms % 1000 : 0));
}

static void where_text(const bw_event_where *w, char *out, size_t len)
{
    if (w->family == 0)
        snprintf(out, len, "*");
    else
        bw_format_key_addr(w->family, w->addr, w->port, out, len);
}

static void json_breaker(FILE *out, const bw_breaker_transition *t)
{
    fprintf(out, ", \"from\": \"%s\", \"to\": \"%s\", \"reason\": \"%s\"",
            bw_breaker_state_name(t->from), bw_breaker_state_name(t->to),
            bw_event_reason_name(t->reason));
    if (t->to == BW_BRK_OPEN)
        fprintf(out, ", \"open_ms\": %u", t->open_ms);
    if (t->reason == BW_BRK_WHY_FAILURE_RATE || t->reason == BW_BRK_WHY_SLOW_RATE)
        fprintf(out, ", \"failures\": %u, \"calls\": %u, \"rate_percent\": %u, "
                     "\"threshold\": %u", t->failures, t->calls, t->rate_pct, t->threshold);
    else if (t->reason == BW_BRK_WHY_CONSECUTIVE)
        fprintf(out, ", \"failures\": %u, \"threshold\": %u", t->failures, t->threshold);
    else if (t->reason == BW_BRK_WHY_PROBES_OK)
        fprintf(out, ", \"probes_ok\": %u, \"probes\": %u", t->probes_ok, t->probes);
}

/* The fields only some kinds have. */
static void json_details(FILE *out, const bw_event *e, const char *to)
{
    switch (e->kind) {
    case BW_EV_BREAKER:
        json_breaker(out, &e->transition);
        break;
    case BW_EV_BULKHEAD_FULL:
        fprintf(out, ", \"active\": %u, \"max\": %u", e->active, e->max);
        break;
    case BW_EV_REJECTIONS:
        fprintf(out, ", \"count\": %u, \"cause\": \"%s\"", e->count,
                e->cause == BW_REJ_BULKHEAD ? "bulkhead" : "breaker");
        break;
    case BW_EV_RELOAD:
        fputs(", \"config\": ", out);
        bw_view_json_str(out, e->text);
        fprintf(out, ", \"destinations\": %u", e->count);
        break;
    case BW_EV_CONFIG_ERROR:
        fputs(", \"error\": ", out);
        bw_view_json_str(out, e->text);
        break;
    case BW_EV_FAILOVER:
        fputs(", \"to_address\": ", out);
        bw_view_json_str(out, to);
        break;
    }
}

static void print_event(FILE *out, uint64_t n, const bw_event *e, bool json)
{
    char addr[64], to[64], msg[512];
    where_text(&e->at, addr, sizeof addr);
    where_text(&e->to, to, sizeof to);
    bw_event_format(msg, sizeof msg, e, addr, to);
    if (!json) {
        put_time(out, e->time_ms, false);
        fprintf(out, " [%d] ", (int)e->pid);
        bw_view_put_safe(out, msg);
        fputc('\n', out);
        return;
    }
    fprintf(out, "{\"seq\": %llu, \"time\": ", (unsigned long long)n);
    put_time(out, e->time_ms, true);
    fprintf(out, ", \"time_ms\": %lld, \"pid\": %d, \"kind\": \"%s\"", (long long)e->time_ms,
            (int)e->pid, bw_event_kind_name(e->kind));
    bool placed = e->kind != BW_EV_RELOAD && e->kind != BW_EV_CONFIG_ERROR;
    if (placed) {
        fputs(", \"destination\": ", out);
        bw_view_json_str(out, e->at.dest);
        fputs(", \"address\": ", out);
        bw_view_json_str(out, addr);
    }
    json_details(out, e, to);
    fputs(", \"message\": ", out);
    bw_view_json_str(out, msg);
    fputs("}\n", out);
}

static void print_lost(FILE *out, uint64_t lost, bool json)
{
    if (json)
        fprintf(out, "{\"kind\": \"lost\", \"count\": %llu}\n", (unsigned long long)lost);
    else
        fprintf(out, "(%llu events overwritten before they were read)\n",
                (unsigned long long)lost);
}

/*
 * Prints events from *cursor up to the ring's end and moves *cursor past
 * them. An event still being written stops the batch (the next call
 * retries it) unless give_up is set, when it is skipped. Returns how many
 * events were printed.
 */
static size_t print_batch(FILE *out, const bw_event_ring *r, uint64_t *cursor, bool json,
                          bool give_up)
{
    uint64_t end = bw_event_next(r), lost = 0;
    size_t printed = 0;
    if (end > BW_EVENTS_N && *cursor < end - BW_EVENTS_N) {
        lost = end - BW_EVENTS_N - *cursor;
        *cursor = end - BW_EVENTS_N;
    }
    for (; *cursor < end; (*cursor)++) {
        bw_event e;
        enum bw_event_read_result rr = bw_event_read(r, *cursor, &e);
        if (rr == BW_EVR_PENDING && !give_up)
            break;
        if (rr == BW_EVR_OK) {
            if (lost) {
                print_lost(out, lost, json);
                lost = 0;
            }
            print_event(out, *cursor, &e, json);
            printed++;
        } else if (rr == BW_EVR_GONE) {
            lost++;
        }
    }
    if (lost)
        print_lost(out, lost, json);
    return printed;
}

static int follow(FILE *out, const bw_event_ring *r, uint64_t cursor, bool json)
{
    int64_t stuck_since = -1;
    for (;;) {
        struct timespec tick = {0, FOLLOW_TICK_MS * 1000000L};
        nanosleep(&tick, NULL);
        uint64_t before = cursor;
        bool give_up = stuck_since >= 0 && bw_view_now_ms() - stuck_since > PENDING_GIVE_UP_MS;
        print_batch(out, r, &cursor, json, give_up);
        if (fflush(out) != 0 || ferror(out))
            return 1;   /* the reader went away */
        bool waiting = cursor < bw_event_next(r);
        if (!waiting || cursor != before)
            stuck_since = waiting ? bw_view_now_ms() : -1;
        else if (stuck_since < 0)
            stuck_since = bw_view_now_ms();
    }
}

int bw_cmd_events(int argc, char **argv)
{
    bool json = false;
    bool follow_on = bw_view_take_option(&argc, argv, "--follow", false) != NULL;
    follow_on |= bw_view_take_option(&argc, argv, "-f", false) != NULL;
    const char *config, *pos[1];
    int npos;
    if (bw_view_args(argc, argv, EVENTS_USAGE, &config, &json, pos, 0, &npos) != 0)
        return 2;
    bw_view v;
    int rc = bw_view_open(config, &v);
    if (rc == BW_VIEW_PROCESS) {
        bw_cli_error("events: %s has state = process: events are kept in the shared state only",
                     bw_view_config_name(&v));
        rc = 1;
    } else if (rc == 0) {
        const bw_event_ring *r = &v.st.hdr->events;
        uint64_t end = bw_event_next(r);
        uint64_t cursor = end > BW_EVENTS_N ? end - BW_EVENTS_N : 0;
        print_batch(stdout, r, &cursor, json, true);
        if (fflush(stdout) != 0)
            rc = 1;
        else if (follow_on)
            rc = follow(stdout, r, cursor, json);
    }
    bw_view_close(&v);
    return rc;
}
