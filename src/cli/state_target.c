/* state_target.c - which breakers a DEST argument of `reset` and `force`
 * names (see state_view.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "state_view.h"

/*
 * Parses "IPv4:PORT" or "[IPv6]:PORT" into the key form of an entry
 * (IPv4-mapped IPv6 as IPv4, like the table does). Returns true on success.
 */
static bool parse_addr(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || p > 65535 || colon[1] == '-' || colon[1] == '+')
        return false;
    memset(addr, 0, 16);
    *port = (uint16_t)p;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host + 1, &a6) != 1)
            return false;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            *family = AF_INET;
            memcpy(addr, &a6.s6_addr[12], 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, &a6, 16);
        }
        return true;
    }
    *family = AF_INET;
    return inet_pton(AF_INET, host, addr) == 1;
}

const char *bw_view_target_addr(const bw_view_addr *a)
{
    return a ? a->text : "*";
}

size_t bw_view_each_target(bw_view *v, const char *dest, bw_view_target_fn fn, void *ctx)
{
    uint8_t family = 0, addr[16];
    uint16_t port = 0;
    bool by_addr = dest && parse_addr(dest, &family, addr, &port);
    size_t matched = 0;
    for (size_t i = 0; i < v->n_dests; i++) {
        bw_view_dest *d = &v->dests[i];
        bool whole = !dest || (!by_addr && strcmp(d->name, dest) == 0);
        size_t hits = 0;
        for (size_t j = 0; j < d->n_addrs; j++) {
            bw_view_addr *a = &d->addrs[j];
            bool hit = whole || (by_addr && a->family == family && a->port == port &&
                                 memcmp(a->addr, addr, 16) == 0);
            if (!hit)
                continue;
            hits++;
            if (d->policy->breaker_scope == BW_SCOPE_ADDRESS)
                fn(d, a, a->e, ctx);
        }
        if (whole && !hits)
            hits = 1;   /* a destination with no address yet is still named */
        if (hits && d->policy->breaker_scope == BW_SCOPE_DESTINATION)
            fn(d, NULL, d->e, ctx);
        matched += hits;
    }
    return matched;
}

int bw_view_open_to_change(const char *given, bw_view *v, const char *cmd)
{
    int rc = bw_view_open(given, v);
    if (rc == BW_VIEW_PROCESS) {
        bw_cli_error("%s: %s has state = process: there is no shared state to change "
                     "(each process keeps its own)", cmd, bw_view_config_name(v));
        return 1;
    }
    return rc == 0 ? bw_view_build(v) : rc;
}
