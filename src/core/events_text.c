/* events_text.c - what users read of an event: names and the one-line
 * message (see bw_events.h). */
#include <stdio.h>

#include "bw_events.h"

static const char *const kind_names[BW_EV_NKINDS] = {
    [BW_EV_NONE] = "none",
    [BW_EV_BREAKER] = "breaker",
    [BW_EV_BULKHEAD_FULL] = "bulkhead_full",
    [BW_EV_REJECTIONS] = "rejections",
    [BW_EV_RELOAD] = "config_reload",
    [BW_EV_CONFIG_ERROR] = "config_error",
    [BW_EV_FAILOVER] = "failover",
};

const char *bw_event_kind_name(uint32_t kind)
{
    return kind < BW_EV_NKINDS ? kind_names[kind] : "?";
}

static const char *const reason_names[] = {
    [BW_BRK_WHY_NONE] = "none",
    [BW_BRK_WHY_FAILURE_RATE] = "failure_rate",
    [BW_BRK_WHY_SLOW_RATE] = "slow_rate",
    [BW_BRK_WHY_CONSECUTIVE] = "consecutive_failures",
    [BW_BRK_WHY_OPEN_ELAPSED] = "open_elapsed",
    [BW_BRK_WHY_PROBE_FAILED] = "probe_failed",
    [BW_BRK_WHY_PROBE_TIMEOUT] = "probe_timeout",
    [BW_BRK_WHY_PROBES_OK] = "probes_succeeded",
    [BW_BRK_WHY_FORCED] = "forced",
    [BW_BRK_WHY_UNFORCED] = "unforced",
    [BW_BRK_WHY_RESET] = "reset",
    [BW_BRK_WHY_RETRY_AFTER] = "retry_after",
};

const char *bw_event_reason_name(uint32_t reason)
{
    return reason < sizeof reason_names / sizeof reason_names[0] ? reason_names[reason] : "?";
}

int bw_event_format(char *buf, size_t size, const bw_event *e, const char *addr, const char *to)
{
    switch (e->kind) {
    case BW_EV_BREAKER:
        return bw_breaker_format(buf, size, e->at.dest, addr, &e->transition);
    case BW_EV_BULKHEAD_FULL:
        return snprintf(buf, size, "%s %s bulkhead full: %u of %u connections active",
                        e->at.dest, addr, e->active, e->max);
    case BW_EV_REJECTIONS:
        return snprintf(buf, size, "%s %s rejected %u connect%s in this second: %s", e->at.dest,
                        addr, e->count, e->count == 1 ? "" : "s",
                        e->cause == BW_REJ_BULKHEAD ? "bulkhead full" : "breaker open");
    case BW_EV_RELOAD:
        return snprintf(buf, size, "config reloaded: %s (%u destinations)", e->text, e->count);
    case BW_EV_CONFIG_ERROR:
        return snprintf(buf, size, "config error: %s; keeping the previous config", e->text);
    case BW_EV_FAILOVER:
        return snprintf(buf, size, "%s %s failover to %s", e->at.dest, addr, to);
    }
    return snprintf(buf, size, "unknown event kind %u", e->kind);
}
