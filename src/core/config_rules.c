/*
 * config_rules.c - the rules between keys of one effective policy, checked
 * once [defaults] has been merged into a section, since either key of a pair
 * may come from [defaults] and [defaults] may come anywhere in the file.
 */
#include "bw_config.h"

#include <stdio.h>

struct rules {
    const bw_policy *p;
    const int *own, *inh;
    const char *where;
    bw_rule_fn fn;
    void *arg;
    int errors;
};

/* Lines below 0 mark a bad value, which the loader has reported already. */
static int line_of(const struct rules *r, int k)
{
    return r->own[k] > 0 ? r->own[k] : r->inh[k] > 0 ? r->inh[k] : 0;
}

/*
 * Returns the later line of the keys named in names (NULL-terminated), or -1
 * when the section itself set none of them (the combination it inherits was
 * checked where it came from).
 */
static int later_line(const struct rules *r, const char *const *names)
{
    int line = 0;
    bool own = false;
    for (; *names; names++) {
        int k = bw_config_key_index(*names);
        own |= r->own[k] > 0;
        if (line_of(r, k) > line)
            line = line_of(r, k);
    }
    return own ? line : -1;
}

static void report(struct rules *r, int line, enum bw_diag_severity sev,
                   const char *msg)
{
    r->fn(r->arg, line, sev, msg);
    r->errors += sev == BW_DIAG_ERROR;
}

/* Reports key a exceeding key b, when it does and a section set either. */
static void check_le(struct rules *r, const char *a, uint32_t va, const char *b,
                     uint32_t vb)
{
    const char *names[] = {a, b, NULL};
    int line = later_line(r, names);
    if (line < 0 || va <= vb)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "'%s' = %u exceeds '%s' = %u in %s", a, va, b, vb,
             r->where);
    report(r, line, BW_DIAG_ERROR, msg);
}

/* Returns 0 when the window size fits the window kind, -1 after reporting. */
static int check_window(struct rules *r)
{
    static const char *const names[] = {"breaker_window", "breaker_window_size", NULL};
    bool count = r->p->breaker_window == BW_WINDOW_COUNT;
    uint32_t max = count ? BW_MAX_WINDOW_COUNT : BW_MAX_WINDOW_SECS;
    uint32_t size = r->p->breaker_window_size;
    int line = later_line(r, names);
    if (size >= 1 && size <= max)
        return 0;
    if (line >= 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "'breaker_window_size' = %u is out of range "
                 "(1..%u for a %s window) in %s", size, max,
                 count ? "count" : "time", r->where);
        report(r, line, BW_DIAG_ERROR, msg);
    }
    return -1;
}

static void check_min_calls(struct rules *r)
{
    static const char *const names[] = {"breaker_window", "breaker_window_size",
                                        "breaker_min_calls", NULL};
    const bw_policy *p = r->p;
    int line = later_line(r, names);
    if (line < 0 || p->breaker_window != BW_WINDOW_COUNT ||
        p->breaker_min_calls <= p->breaker_window_size)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "'breaker_min_calls' = %u exceeds "
             "'breaker_window_size' = %u in %s: the failure rate would never "
             "be judged", p->breaker_min_calls, p->breaker_window_size, r->where);
    report(r, line, BW_DIAG_WARNING, msg);
}

int bw_config_check_rules(const bw_policy *p, const int *own, const int *inh,
                          const char *where, bw_rule_fn fn, void *arg)
{
    struct rules r = {p, own, inh, where, fn, arg, 0};
    check_le(&r, "backoff_initial_ms", p->backoff_initial_ms, "backoff_max_ms",
             p->backoff_max_ms);
    check_le(&r, "breaker_open_ms", p->breaker_open_ms, "breaker_open_max_ms",
             p->breaker_open_max_ms);
    if (check_window(&r) == 0)
        check_min_calls(&r);
    return r.errors;
}
