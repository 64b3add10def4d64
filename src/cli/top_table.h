/*
 * top_table.h - the table `breakwater top` draws: a snapshot of the shared
 * state reduced to one row per destination and per address, and the text of
 * a frame made from two snapshots (rates are their difference over the time
 * between them), cut to a width and a height.
 */
#ifndef BW_CLI_TOP_TABLE_H
#define BW_CLI_TOP_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "state_view.h"

enum { BW_TOP_CONNECTS, BW_TOP_FAILURES, BW_TOP_RETRIES, BW_TOP_REJECTIONS, BW_TOP_NCNT };

typedef struct bw_top_row {
    char dest[BW_MAX_NAME];
    char addr[64];                /* "" on a destination's own row */
    uint64_t cnt[BW_TOP_NCNT];
    const char *state;            /* breaker state, on the row its scope puts it; NULL */
    bool has_active;              /* the bulkhead is on this row (its scope) */
    uint32_t active, max;
} bw_top_row;

typedef struct bw_top_snap {
    bw_top_row *rows;             /* destinations sorted by name, each followed by its addresses */
    size_t n;
    int64_t at_ms;                /* monotonic time taken */
} bw_top_snap;

/* Fills s from a built view. Returns 0, or -1 out of memory. */
int bw_top_snap_take(const bw_view *v, bw_top_snap *s);
void bw_top_snap_free(bw_top_snap *s);

/*
 * Writes one frame: a title line, a header, then rows, each line at most
 * width characters (0: no limit), at most height lines in all (0: no
 * limit; rows that do not fit are counted in a last line). Rates are
 * per second between prev and cur; prev NULL prints "-" for them.
 */
void bw_top_render(FILE *out, const char *title, const bw_top_snap *prev,
                   const bw_top_snap *cur, int width, int height);

#endif
