/* cmd_reset.c - `breakwater reset [DEST]`: closes breakers, clears their
 * windows and the retry budgets' windows, for DEST or everything. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "state_view.h"

#define RESET_USAGE "breakwater reset [-c FILE] [DEST]"

struct reset_run {
    bw_view *v;                /* for the events */
    int64_t now;
    int failed;
};

/* Resets one breaker under its entry's lock and says what it is now. */
static void reset_one(bw_view_dest *d, bw_view_addr *a, bw_entry *e, void *ctx)
{
    struct reset_run *r = ctx;
    bw_view_put_safe(stdout, d->name);
    printf(" %s: ", bw_view_target_addr(a));
    if (!e) {
        puts("no breaker state yet");
        return;
    }
    if (bw_view_lock(e) != 0) {
        puts("not reset");
        bw_cli_error("reset: cannot lock the state of %s %s", d->name, bw_view_target_addr(a));
        r->failed++;
        return;
    }
    bw_breaker_transition t;
    bool changed = bw_breaker_reset(&e->breaker, d->policy, r->now, &t);
    enum bw_breaker_state s = bw_breaker_state(&e->breaker, d->policy);
    bw_entry_unlock(e);
    if (changed)
        bw_view_note_transition(r->v, e, &t);
    printf("breaker %s\n", bw_breaker_state_name(s));
}

/* The retry budget is per destination: cleared when DEST names the
 * destination (or is absent), not for one of its addresses. */
static void clear_budgets(bw_view *v, const char *dest, struct reset_run *r)
{
    for (size_t i = 0; i < v->n_dests; i++) {
        bw_view_dest *d = &v->dests[i];
        if (!d->e || (dest && strcmp(dest, d->name) != 0))
            continue;
        if (bw_view_lock(d->e) != 0) {
            bw_cli_error("reset: cannot lock the state of %s", d->name);
            r->failed++;
            continue;
        }
        bw_budget_clear_window(&d->e->budget);
        bw_entry_unlock(d->e);
        bw_view_put_safe(stdout, d->name);
        puts(": retry budget window cleared");
    }
}

int bw_cmd_reset(int argc, char **argv)
{
    const char *config, *pos[1] = {NULL};
    int npos;
    if (bw_view_args(argc, argv, RESET_USAGE, &config, NULL, pos, 1, &npos) != 0)
        return 2;
    const char *dest = npos ? pos[0] : NULL;
    bw_view v;
    int rc = bw_view_open_to_change(config, &v, "reset");
    if (rc == 0) {
        struct reset_run r = {&v, bw_view_now_ms(), 0};
        if (bw_view_each_target(&v, dest, reset_one, &r) == 0 && dest) {
            bw_cli_error("reset: no destination or address '%s' in the shared state of %s",
                         dest, bw_view_config_name(&v));
            rc = 1;
        } else {
            if (!dest && v.n_dests == 0)
                puts("nothing to reset: no connections recorded yet");
            clear_budgets(&v, dest, &r);
            rc = r.failed ? 1 : 0;
        }
    }
    bw_view_close(&v);
    fflush(stdout);
    return rc;
}
