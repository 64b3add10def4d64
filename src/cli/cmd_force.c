/* cmd_force.c - `breakwater force DEST open|closed|auto`: the operator's
 * override of the breaker(s) DEST names. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "state_view.h"

#define FORCE_USAGE "breakwater force [-c FILE] DEST open|closed|auto"

struct force_run {
    bw_view *v;                /* for the events */
    enum bw_breaker_force mode;
    int64_t now;
    int failed;
};

/* Applies the override to one breaker under its entry's lock and says
 * what the breaker is now. */
static void force_one(bw_view_dest *d, bw_view_addr *a, bw_entry *e, void *ctx)
{
    struct force_run *r = ctx;
    if (!e || bw_view_lock(e) != 0) {
        bw_cli_error("force: cannot %s the state of %s %s", e ? "lock" : "find",
                     d->name, bw_view_target_addr(a));
        r->failed++;
        return;
    }
    bw_breaker_transition t;
    bool changed = bw_breaker_force(&e->breaker, d->policy, r->now, bw_view_rand(), r->mode, &t);
    enum bw_breaker_state s = bw_breaker_state(&e->breaker, d->policy);
    bw_entry_unlock(e);
    if (changed)
        bw_view_note_transition(r->v, e, &t);
    bw_view_put_safe(stdout, d->name);
    printf(" %s: breaker %s\n", bw_view_target_addr(a), bw_breaker_state_name(s));
}

int bw_cmd_force(int argc, char **argv)
{
    const char *config, *pos[2];
    int npos;
    if (bw_view_args(argc, argv, FORCE_USAGE, &config, NULL, pos, 2, &npos) != 0)
        return 2;
    bw_view v;
    struct force_run r = {&v, BW_FORCE_AUTO, 0, 0};
    if (npos == 2 && strcmp(pos[1], "open") == 0)
        r.mode = BW_FORCE_OPEN;
    else if (npos == 2 && strcmp(pos[1], "closed") == 0)
        r.mode = BW_FORCE_CLOSED;
    else if (npos != 2 || strcmp(pos[1], "auto") != 0) {
        bw_cli_error("force: %s\nusage: %s",
                     npos < 2 ? "DEST and open|closed|auto are required"
                              : "the mode is one of open, closed, auto", FORCE_USAGE);
        return 2;
    }
    int rc = bw_view_open_to_change(config, &v, "force");
    if (rc == 0) {
        r.now = bw_view_now_ms();
        if (bw_view_each_target(&v, pos[0], force_one, &r) == 0) {
            bw_cli_error("force: no destination or address '%s' in the shared state of %s",
                         pos[0], bw_view_config_name(&v));
            rc = 1;
        } else {
            rc = r.failed ? 1 : 0;
        }
    }
    bw_view_close(&v);
    fflush(stdout);
    return rc;
}
