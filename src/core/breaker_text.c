/*
 * breaker_text.c - what users see of a breaker: state names, the metrics
 * gauge, window figures for `status`, and the SPEC section 8 log message.
 */
#include <stdio.h>
#include "bw_breaker.h"

static const char *const state_names[BW_BRK_NSTATES] = {
    [BW_BRK_CLOSED] = "closed",
    [BW_BRK_OPEN] = "open",
    [BW_BRK_HALF_OPEN] = "half_open",
    [BW_BRK_FORCED_OPEN] = "forced_open",
    [BW_BRK_FORCED_CLOSED] = "forced_closed",
    [BW_BRK_DISABLED] = "disabled",
};

const char *bw_breaker_state_name(enum bw_breaker_state s)
{
    return (unsigned)s < BW_BRK_NSTATES ? state_names[s] : "?";
}

int bw_breaker_state_gauge(enum bw_breaker_state s)
{
    return (unsigned)s <= BW_BRK_FORCED_CLOSED ? (int)s : -1;
}

bw_breaker_counts bw_breaker_counts_at(const bw_breaker *b, int64_t now_ms)
{
    return bw_breaker_window_counts(&b->window, now_ms);
}

uint32_t bw_breaker_window_calls(const bw_breaker *b, int64_t now_ms)
{
    return bw_breaker_window_counts(&b->window, now_ms).calls;
}

double bw_breaker_failure_rate(const bw_breaker *b, int64_t now_ms)
{
    bw_breaker_counts c = bw_breaker_window_counts(&b->window, now_ms);
    return c.calls ? (double)c.failures / c.calls : 0.0;
}

uint64_t bw_breaker_transitions(const bw_breaker *b, enum bw_breaker_state s)
{
    return (unsigned)s < BW_BRK_NSTATES ? b->transitions[s] : 0;
}

/* The part after "breaker STATE: ", before any "; next probe in". */
static int format_why(char *buf, size_t size, const bw_breaker_transition *t)
{
    switch (t->reason) {
    case BW_BRK_WHY_FAILURE_RATE:
        return snprintf(buf, size, "%u of %u calls failed (%u%% >= %u%%)", t->failures, t->calls,
                        t->rate_pct, t->threshold);
    case BW_BRK_WHY_SLOW_RATE:
        return snprintf(buf, size, "%u of %u calls slow (%u%% >= %u%%)", t->failures, t->calls,
                        t->rate_pct, t->threshold);
    case BW_BRK_WHY_CONSECUTIVE:
        return snprintf(buf, size, "%u consecutive failures", t->failures);
    case BW_BRK_WHY_OPEN_ELAPSED:
        return snprintf(buf, size, "probing");
    case BW_BRK_WHY_PROBE_FAILED:
        return snprintf(buf, size, "probe failed");
    case BW_BRK_WHY_PROBE_TIMEOUT:
        return snprintf(buf, size, "probe timed out");
    case BW_BRK_WHY_PROBES_OK:
        return snprintf(buf, size, "%u of %u probes succeeded", t->probes_ok, t->probes);
    case BW_BRK_WHY_FORCED:
        return snprintf(buf, size, "set by operator");
    case BW_BRK_WHY_UNFORCED:
        return snprintf(buf, size, "override lifted by operator");
    case BW_BRK_WHY_RESET:
        return snprintf(buf, size, "reset by operator");
    case BW_BRK_WHY_RETRY_AFTER:
        return snprintf(buf, size, "the server asked to retry after %u ms (Retry-After)", t->open_ms);
    case BW_BRK_WHY_NONE:
        break;
    }
    return snprintf(buf, size, "changed");
}

/* snprintf into what is left of buf, however much was wanted before. */
static char *rest(char *buf, size_t size, int used, size_t *left)
{
    size_t u = used < 0 ? 0 : (size_t)used;
    *left = u < size ? size - u : 0;
    return *left ? buf + u : NULL;
}

int bw_breaker_format(char *buf, size_t size, const char *name, const char *addr,
                      const bw_breaker_transition *t)
{
    size_t left;
    int n = snprintf(buf, size, "%s%s%s%sbreaker %s: ", name ? name : "", name ? " " : "",
                     addr ? addr : "", addr ? " " : "", bw_breaker_state_name(t->to));
    if (n < 0)
        return n;
    char *p = rest(buf, size, n, &left);
    int m = format_why(p, left, t);
    if (m < 0)
        return m;
    n += m;
    if (t->to == BW_BRK_OPEN) {
        p = rest(buf, size, n, &left);
        m = snprintf(p, left, "; next probe in %u ms", t->open_ms);
        if (m < 0)
            return m;
        n += m;
    }
    return n;
}
