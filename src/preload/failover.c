/*
 * failover.c - routing around a failing address to a healthy sibling of the
 * same hostname (SPEC section 9, failover). The resolver hooks tell which
 * addresses each name resolved to, kept in the state region's name table
 * (bw_state_names.h: shared by every process of the config under state =
 * shared, the process's own under state = process); a connect whose address has
 * an open breaker, and each retry, go to another address of that name and
 * family whose breaker admits the call. Never for an address the program
 * chose without a name, and never for more than failover_max_ejected_percent
 * of a name's addresses. getpeername() is left alone: it reports the address
 * really connected, which may be the sibling (README, known limits).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "bw_hostcache.h"
#include "bw_log.h"
#include "bw_match.h"
#include "bw_names.h"
#include "bw_sibling.h"
#include "bw_state_names.h"
#include "failover.h"
#include "record.h"
#include "guard.h"

#define NAMES_TTL_MS 60000   /* the resolver gives no TTL: an answer is kept a minute */

static bw_ratelimit failover_log_limit;

/* The address of sa; an IPv4-mapped IPv6 address (a dual-stack socket, as
 * the JVM's) as the IPv4 address it maps. */
static bool to_name_addr(const struct sockaddr *sa, bw_name_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
        out->family = AF_INET;
        memcpy(out->addr, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* The socket address of a and port, into out; as an IPv4-mapped IPv6
 * address when the socket is IPv6 (mapped). */
static socklen_t to_sockaddr(const bw_name_addr *a, uint16_t port_be, bool mapped,
                             struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (a->family == AF_INET && mapped) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = port_be;
        in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(in6->sin6_addr.s6_addr + 12, a->addr, 4);
        return sizeof *in6;
    }
    if (a->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = port_be;
        memcpy(&in->sin_addr, a->addr, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port_be;
    memcpy(&in6->sin6_addr, a->addr, 16);
    return sizeof *in6;
}

void bw_failover_learn(const char *name, const struct sockaddr *const *addrs, unsigned n)
{
    bw_name_addr a[BW_NAMES_ADDRS];
    unsigned k = 0;
    for (unsigned i = 0; i < n && k < BW_NAMES_ADDRS; i++) {
        if (!to_name_addr(addrs[i], &a[k]))
            continue;
        bool dup = false;   /* getaddrinfo repeats each address per socket type */
        for (unsigned j = 0; j < k && !dup; j++)
            dup = memcmp(&a[j], &a[k], sizeof a[k]) == 0;
        k += !dup;
    }
    if (k == 0)
        return;
    bw_cfg_ref *ref;
    const bw_config *cfg = bw_shim_config_hold(&ref);
    bw_state *st = cfg ? bw_shim_state(cfg) : NULL;
    bw_cfg_drop(ref);
    if (st && bw_state_names_put(st, name, a, k, bw_now_ms(), NAMES_TTL_MS) != 0)
        bw_log(BW_LOG_DEBUG, "addresses of %s not kept: the name table's lock is stuck", name);
}

/* The private region whose name table prepare locked, for the parent to
 * release. A shared region needs nothing: the child maps the same memory,
 * where the lock's holder releases it. */
static bw_state *forked_names;

void bw_failover_atfork_prepare(void)
{
    bw_state *st = bw_shim_state_mapped();
    forked_names = st && !st->shared && bw_state_names_lock(st) == 0 ? st : NULL;
}

void bw_failover_atfork_parent(void)
{
    if (forked_names)
        bw_state_names_unlock(forked_names);
}

void bw_failover_atfork_child(void)
{
    /* The child's copy of the lock was re-initialised with the region's
     * other locks (bw_shim_state_atfork_child): its owner is the parent's thread. */
    forked_names = NULL;
}

/* True when the breaker of address sa in dest keeps calls out (open,
 * forced open, or probing): such an address counts as ejected. */
static bool ejected(bw_state *st, const bw_policy *p, const char *dest, const struct sockaddr *sa,
                    bw_entry **found)
{
    bw_entry *e = bw_state_find(st, BW_ENTRY_ADDRESS, dest, sa, false);
    if (found)
        *found = e;
    return bw_guard_breaker_keeps_out(e, p);
}

static uint16_t port_of(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                    : ((const struct sockaddr_in6 *)sa)->sin6_port;
}

/* Points c at address sa, whose entry is e when known (its entries follow;
 * the bulkhead slot stays where it was taken). */
static void move_to(bw_conn *c, bw_state *st, const struct sockaddr_storage *sa, socklen_t len,
                    bw_entry *e)
{
    memcpy(&c->addr, sa, len);
    c->addrlen = len;
    c->entry = e ? e : bw_state_find(st, BW_ENTRY_ADDRESS, c->dest_name,
                                     (const struct sockaddr *)sa, true);
    c->breaker_entry = c->entry;
}

static void log_failover(const bw_conn *c, const char *host, const struct sockaddr *from)
{
    if (!bw_log_enabled(BW_LOG_INFO) ||
        !bw_ratelimit_allow(&failover_log_limit, bw_now_ms(), 10, 20))
        return;
    char a[64], b[64];
    bw_format_addr(from, a, sizeof a);
    bw_format_addr((const struct sockaddr *)&c->addr, b, sizeof b);
    bw_log(BW_LOG_INFO, "%s %s: failover to %s, another address of %s", c->dest_name, a, b, host);
}

bool bw_failover(bw_conn *c, bool retry)
{
    const bw_policy *p = c->policy;
    if (!p->failover || p->breaker == BW_BREAKER_OFF || p->breaker_scope != BW_SCOPE_ADDRESS)
        return false;
    char host[BW_HOSTCACHE_NAMELEN];
    const struct sockaddr *cur = (const struct sockaddr *)&c->addr;
    if (!bw_hostcache_get(cur, host, sizeof host))
        return false;   /* an address the program chose itself: never substituted */
    bw_name_addr all[BW_NAMES_ADDRS], me;
    if (!to_name_addr(cur, &me))
        return false;
    bw_cfg_ref *ref;
    const bw_config *cfg = bw_shim_config_hold(&ref);
    bw_state *st = cfg ? bw_shim_state(cfg) : NULL;
    bw_cfg_drop(ref);   /* only the state was wanted; p is held by c */
    unsigned n_all = st ? bw_state_names_get(st, host, bw_now_ms(), all, BW_NAMES_ADDRS) : 0;
    bw_name_addr sib[BW_NAMES_ADDRS];
    unsigned at, n = bw_sibling_list(all, n_all, &me, sib, &at);
    if (n < 2 || !st) {
        bw_log(BW_LOG_DEBUG, "%s: no failover: %u address(es) of %s known", c->dest_name, n, host);
        return false;
    }
    struct sockaddr_storage ss[BW_NAMES_ADDRS];
    socklen_t len[BW_NAMES_ADDRS];
    bool is_out[BW_NAMES_ADDRS];
    bw_entry *ent[BW_NAMES_ADDRS];
    uint16_t port = port_of(cur);
    bool mapped = cur->sa_family == AF_INET6 && me.family == AF_INET;
    for (unsigned i = 0; i < n; i++) {
        len[i] = to_sockaddr(&sib[i], port, mapped, &ss[i]);
        ent[i] = NULL;
        is_out[i] = i != at && ejected(st, p, c->dest_name, (const struct sockaddr *)&ss[i], &ent[i]);
    }
    unsigned out, order[BW_NAMES_ADDRS];
    if (!bw_sibling_may_move(is_out, n, at, retry, p->failover_max_ejected_percent, &out)) {
        bw_log(BW_LOG_DEBUG, "%s: no failover: %u of %u addresses of %s ejected, over %u%%",
               c->dest_name, out, n, host, p->failover_max_ejected_percent);
        return false;
    }
    bw_inet_addr orig = c->addr;
    socklen_t orig_len = c->addrlen;
    bw_entry *orig_entry = c->entry, *orig_breaker = c->breaker_entry;
    unsigned n_try = bw_sibling_order(is_out, n, at, order);
    for (unsigned i = 0; i < n_try; i++) {
        unsigned k = order[i];
        move_to(c, st, &ss[k], len[k], ent[k]);
        if (bw_guard_breaker_admit(c, true) == 0) {
            if (retry) {
                /* The connect() is counted where it ends, so that each address
                 * keeps connects = successes + failures + rejections. */
                bw_count(orig_entry, BW_CNT_CONNECTS, (uint64_t)-1);
                bw_count(c->entry, BW_CNT_CONNECTS, 1);
            }
            bw_record_failover(c, orig_entry);
            log_failover(c, host, (const struct sockaddr *)&orig);
            return true;
        }
    }
    bw_log(BW_LOG_DEBUG, "%s: no failover: no address of %s admits a call", c->dest_name, host);
    memcpy(&c->addr, &orig, orig_len);
    c->addrlen = orig_len;
    c->entry = orig_entry;
    c->breaker_entry = orig_breaker;
    return false;
}

/* True when the breaker of ai's address (for the section name would match)
 * keeps calls out. An address without a port (no service asked) has none. */
static bool answer_ejected(const bw_config *cfg, bw_state *st, const char *name,
                           const struct addrinfo *ai)
{
    if (!ai->ai_addr || (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        port_of(ai->ai_addr) == 0)
        return false;
    long d = cfg->match ? bw_match_lookup(cfg->match, name, ai->ai_addr) : -1;
    const bw_policy *p = d >= 0 ? &cfg->dests[d].policy : &cfg->defaults;
    if (!p->enabled || !p->failover || p->breaker == BW_BREAKER_OFF)
        return false;
    return ejected(st, p, d >= 0 ? cfg->dests[d].name : "default", ai->ai_addr, NULL);
}

void bw_failover_sort(const char *name, struct addrinfo **res)
{
    bw_cfg_ref *ref;
    const bw_config *cfg = bw_shim_config_hold(&ref);
    bw_state *st = cfg ? bw_shim_state(cfg) : NULL;
    if (!st || !*res || !(*res)->ai_next) {
        bw_cfg_drop(ref);
        return;
    }
    /* A stable partition of the list: healthy addresses, then ejected ones. */
    struct addrinfo *ok = NULL, **ok_tail = &ok, *bad = NULL, **bad_tail = &bad;
    for (struct addrinfo *ai = *res, *next; ai; ai = next) {
        next = ai->ai_next;
        ai->ai_next = NULL;
        if (answer_ejected(cfg, st, name, ai)) {
            *bad_tail = ai;
            bad_tail = &ai->ai_next;
        } else {
            *ok_tail = ai;
            ok_tail = &ai->ai_next;
        }
    }
    *ok_tail = bad;
    bw_cfg_drop(ref);
    if (ok != *res && (*res)->ai_canonname && !ok->ai_canonname) {
        ok->ai_canonname = (*res)->ai_canonname;   /* AI_CANONNAME: it belongs to the first */
        (*res)->ai_canonname = NULL;
    }
    *res = ok;
}
