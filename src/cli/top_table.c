/* top_table.c - snapshots and frames of `breakwater top` (see top_table.h). */
#include <stdlib.h>
#include <string.h>

#include "top_table.h"

static void counts_of(const uint64_t *cnt, uint64_t out[BW_TOP_NCNT])
{
    out[BW_TOP_CONNECTS] = cnt[BW_CNT_CONNECTS];
    out[BW_TOP_FAILURES] = cnt[BW_CNT_FAILURES];
    out[BW_TOP_RETRIES] = cnt[BW_CNT_RETRIES];
    out[BW_TOP_REJECTIONS] = cnt[BW_CNT_REJECTED_BREAKER] + cnt[BW_CNT_REJECTED_BULKHEAD];
}

/* A name for the table: bytes outside printable ASCII (a hostile file's)
 * become '?', so they can neither move the cursor nor break the columns. */
static void safe_copy(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[i] = '\0';
}

int bw_top_snap_take(const bw_view *v, bw_top_snap *s)
{
    size_t n = v->n_dests;
    for (size_t i = 0; i < v->n_dests; i++)
        n += v->dests[i].n_addrs;
    s->rows = calloc(n ? n : 1, sizeof *s->rows);
    s->n = 0;
    s->at_ms = bw_view_now_ms();
    if (!s->rows)
        return -1;
    for (size_t i = 0; i < v->n_dests; i++) {
        const bw_view_dest *d = &v->dests[i];
        bool brk_dest = d->policy->breaker_scope == BW_SCOPE_DESTINATION;
        bool bh_dest = d->policy->bulkhead_scope == BW_SCOPE_DESTINATION;
        bw_top_row *r = &s->rows[s->n++];
        safe_copy(r->dest, sizeof r->dest, d->name);
        uint64_t sum[BW_CNT_N];
        for (int c = 0; c < BW_CNT_N; c++)
            sum[c] = bw_view_sum(d, (enum bw_counter)c);
        counts_of(sum, r->cnt);
        r->state = brk_dest ? bw_breaker_state_name(bw_view_breaker_of(d, NULL)->state) : NULL;
        r->has_active = bh_dest;
        r->active = bw_view_active(d);
        r->max = d->policy->max_connections;
        for (size_t j = 0; j < d->n_addrs; j++) {
            const bw_view_addr *a = &d->addrs[j];
            bw_top_row *ar = &s->rows[s->n++];
            safe_copy(ar->dest, sizeof ar->dest, d->name);
            safe_copy(ar->addr, sizeof ar->addr, a->text);
            counts_of(a->cnt, ar->cnt);
            ar->state = brk_dest ? NULL : bw_breaker_state_name(a->brk.state);
            ar->has_active = !bh_dest;
            ar->active = a->active;
            ar->max = d->policy->max_connections;
        }
    }
    return 0;
}

void bw_top_snap_free(bw_top_snap *s)
{
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* The row of prev with r's destination and address, or NULL. */
static const bw_top_row *find_row(const bw_top_snap *prev, const bw_top_row *r)
{
    for (size_t i = 0; i < prev->n; i++)
        if (strcmp(prev->rows[i].dest, r->dest) == 0 && strcmp(prev->rows[i].addr, r->addr) == 0)
            return &prev->rows[i];
    return NULL;
}

/* Writes line (cut to width) and a newline. */
static void put_line(FILE *out, const char *line, int width)
{
    int len = (int)strlen(line);
    fprintf(out, "%.*s\n", width > 0 && len > width ? width : len, line);
}

void bw_top_render(FILE *out, const char *title, const bw_top_snap *prev,
                   const bw_top_snap *cur, int width, int height)
{
    int namew = 24;
    for (size_t i = 0; i < cur->n; i++) {
        int w = (int)strlen(cur->rows[i].addr[0] ? cur->rows[i].addr : cur->rows[i].dest) +
                (cur->rows[i].addr[0] ? 2 : 0);
        if (w > namew)
            namew = w > 48 ? 48 : w;
    }
    char line[512];
    put_line(out, title, width);
    snprintf(line, sizeof line, "%-*s %-13s %10s %8s %8s %8s %8s", namew, "DESTINATION/ADDRESS",
             "BREAKER", "ACTIVE/MAX", "CONN/s", "FAIL/s", "RETRY/s", "REJ/s");
    put_line(out, line, width);
    double secs = prev ? (cur->at_ms - prev->at_ms) / 1000.0 : 0;
    size_t room = height > 0 ? (size_t)(height > 3 ? height - 3 : 0) : cur->n;
    if (height > 0 && cur->n <= room + 1)
        room = cur->n;   /* the "more" line would take the last row's place */
    for (size_t i = 0; i < cur->n && i < room; i++) {
        const bw_top_row *r = &cur->rows[i];
        char name[80], active[32] = "", rates[BW_TOP_NCNT][16];
        if (r->addr[0])
            snprintf(name, sizeof name, "  %s", r->addr);
        else
            snprintf(name, sizeof name, "%s", r->dest);
        if (r->has_active && r->max)
            snprintf(active, sizeof active, "%u/%u", r->active, r->max);
        else if (r->has_active)
            snprintf(active, sizeof active, "%u/-", r->active);
        const bw_top_row *p = prev ? find_row(prev, r) : NULL;
        for (int c = 0; c < BW_TOP_NCNT; c++) {
            if (!prev || secs <= 0) {
                snprintf(rates[c], sizeof rates[c], "-");
                continue;
            }
            uint64_t was = p ? p->cnt[c] : 0;
            double rate = r->cnt[c] >= was ? (double)(r->cnt[c] - was) / secs : 0.0;
            snprintf(rates[c], sizeof rates[c], "%.1f", rate);
        }
        snprintf(line, sizeof line, "%-*.*s %-13s %10s %8s %8s %8s %8s", namew, namew, name,
                 r->state ? r->state : "", active, rates[BW_TOP_CONNECTS],
                 rates[BW_TOP_FAILURES], rates[BW_TOP_RETRIES], rates[BW_TOP_REJECTIONS]);
        put_line(out, line, width);
    }
    if (cur->n == 0)
        put_line(out, "(no connections recorded yet)", width);
    else if (room < cur->n) {
        snprintf(line, sizeof line, "... %zu more rows (a taller window shows them)", cur->n - room);
        put_line(out, line, width);
    }
}
