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
#include <stddef.h>
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

/* The socket address of a and port, into out (all of it: an IPv4 one is
 * followed by zeros); as an IPv4-mapped IPv6 address when the socket is
 * IPv6 (mapped). */
static socklen_t to_sockaddr(const bw_name_addr *a, uint16_t port_be, bool mapped,
                             struct sockaddr_in6 *out)
{
    memset(out, 0, sizeof *out);
    if (a->family == AF_INET && mapped) {
        struct sockaddr_in6 *in6 = out;
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
    struct sockaddr_in6 *in6 = out;
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
static bool ejected(bw_state *st, const bw_policy *p, const char *dest, const struct sockaddr *sa)
{
    return bw_guard_breaker_keeps_out(bw_state_find(st, BW_ENTRY_ADDRESS, dest, sa, false), p);
}

static uint16_t port_of(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                    : ((const struct sockaddr_in6 *)sa)->sin6_port;
}

/* Points c at address sa (len bytes, the rest of *sa zeros), whose entry
 * is e when known (its entries follow; the bulkhead slot stays where it was
 * taken). */
static void move_to(bw_conn *c, bw_state *st, const struct sockaddr_in6 *sa, socklen_t len,
                    bw_entry *e)
{
    memcpy(&c->addr, sa, sizeof *sa);   /* a fixed size: a few moves, no call */
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

/*
 * A thread's last answer to "which name gave this address, and which
 * addresses of that name are its siblings", reused while nothing it came
 * from has changed: the process's name cache (its generation), the name
 * table's slot (its sequence number) and the answer's addresses (their
 * expiry). A program that keeps its resolver's answer and connects again
 * and again (a pool, the JVM's cache) asks these only once.
 */
struct sibling_memo {
    bool valid;
    bw_state *st;
    bw_name_addr me;
    unsigned host_gen;         /* bw_hostcache_generation when host was read */
    bw_names_seen seen;
    unsigned n, at;            /* bw_sibling_list's answer */
    bw_name_addr sib[BW_NAMES_ADDRS];
    char host[BW_HOSTCACHE_NAMELEN];
    /* The siblings as socket addresses of the last connect's port and
     * socket family, and their entries under its destination (NULL: not
     * found yet). Entries are never removed from a region, nor regions
     * unmapped: one found stays that key's. The destination is named by
     * the string dest of the config that publication dest_gen made: while
     * a connect's is that same pointer of that same config, its name is
     * the same without a comparison; else each entry's name is compared. */
    bool addrs_valid;
    uint16_t port;
    bool mapped;
    struct sockaddr_in6 sa[BW_NAMES_ADDRS];
    socklen_t len[BW_NAMES_ADDRS];
    bw_entry *ent[BW_NAMES_ADDRS];
    const char *dest;
    uint64_t dest_gen;
    /* The address of the connect both answers above were made for (addr_key):
     * a connect to the same one reuses them after three checks. */
    uint64_t key[3];
};

static __thread struct sibling_memo memo BW_TLS;

/* Fills m with the siblings of me, the address cur of a connect, in state
 * st at now_ms, unless m holds them already. False when no name gave cur
 * (an address the program chose itself: never substituted). */
static bool siblings(struct sibling_memo *m, bw_state *st, const struct sockaddr *cur,
                     const bw_name_addr *me, int64_t now_ms)
{
    unsigned gen = bw_hostcache_generation();
    bool same = m->valid && m->st == st && m->host_gen == gen &&
                memcmp(&m->me, me, sizeof *me) == 0;
    if (same && bw_state_names_unchanged(st, &m->seen, now_ms))
        return true;
    m->valid = m->addrs_valid = false;
    if (!same && !bw_hostcache_get(cur, m->host, sizeof m->host))
        return false;
    bw_name_addr all[BW_NAMES_ADDRS];
    unsigned n_all = bw_state_names_get(st, m->host, now_ms, all, BW_NAMES_ADDRS, &m->seen);
    m->n = bw_sibling_list(all, n_all, me, m->sib, &m->at);
    m->st = st;
    m->me = *me;
    m->host_gen = gen;
    m->valid = true;
    return true;
}

/* Fills m's socket addresses of the siblings for port (network order) and
 * a socket of family IPv6 with IPv4 siblings (mapped), unless it holds them. */
static void sibling_addrs(struct sibling_memo *m, uint16_t port, bool mapped)
{
    if (m->addrs_valid && m->port == port && m->mapped == mapped)
        return;
    for (unsigned i = 0; i < m->n; i++) {
        m->len[i] = to_sockaddr(&m->sib[i], port, mapped, &m->sa[i]);
        m->ent[i] = NULL;
    }
    m->port = port;
    m->mapped = mapped;
    m->addrs_valid = true;
}

/* Makes m's entries those of c's destination: an entry found under
 * another name is forgotten. */
static void sibling_dest(struct sibling_memo *m, const bw_conn *c)
{
    const char *dest = c->dest_name;
    uint64_t gen = c->cfg_ref ? bw_cfg_generation(c->cfg_ref) : 0;
    if (m->dest == dest && m->dest_gen == gen && gen != 0)
        return;   /* the same string of the same config, held by c: the same name */
    for (unsigned i = 0; i < m->n; i++) {
        const bw_entry *e = m->ent[i];
        if (e && (e->dest[BW_MAX_NAME - 1] != '\0' ||
                  strncmp(e->dest, dest, BW_MAX_NAME - 1) != 0))
            m->ent[i] = NULL;
    }
    m->dest = dest;
    m->dest_gen = gen;
}

/* The entry of sibling i under m's destination (sibling_dest), NULL when
 * there is none yet; m keeps one found. */
static bw_entry *sibling_entry(struct sibling_memo *m, unsigned i, const char *dest)
{
    bw_entry *e = m->ent[i];
    if (e)
        return e;
    e = bw_state_find(m->st, BW_ENTRY_ADDRESS, dest, (const struct sockaddr *)&m->sa[i], false);
    m->ent[i] = e;
    return e;
}

/* The bytes that name socket address sa (IPv4 or IPv6) for failover, into
 * key: its family, port and address; not an IPv6 flow label or scope id,
 * which to_name_addr leaves out too. Two addresses of the same key have
 * the same sibling answer and socket addresses. */
static void addr_key(const bw_inet_addr *sa, uint64_t key[3])
{
    const unsigned char *b = (const unsigned char *)sa;
    if (sa->sa.sa_family == AF_INET6) {
        uint32_t head;   /* family and port */
        memcpy(&head, b, sizeof head);
        key[0] = head;
        memcpy(&key[1], b + offsetof(struct sockaddr_in6, sin6_addr), 16);
        return;
    }
    memcpy(&key[0], b, 8);   /* family, port, address of a sockaddr_in */
    key[1] = key[2] = 0;
}

/* True when m's answers (siblings and sibling_addrs) are those of the
 * address of key in st at now_ms: made for it, and nothing they came from
 * has changed since (siblings' checks). */
static bool kept(const struct sibling_memo *m, bw_state *st, const uint64_t key[3],
                 int64_t now_ms)
{
    return m->valid && m->addrs_valid && m->st == st && m->key[0] == key[0] &&
           m->key[1] == key[1] && m->key[2] == key[2] &&
           m->host_gen == bw_hostcache_generation() &&
           bw_state_names_unchanged(st, &m->seen, now_ms);
}

/* The state region the connect's breakers are in: the one in use. */
static bw_state *current_state(void)
{
    bw_state *st = bw_shim_state_mapped();
    if (st && !bw_state_guard_tripped())
        return st;
    bw_cfg_ref *ref;   /* not mapped yet, or the shared file shrank: the long way */
    const bw_config *cfg = bw_shim_config_hold(&ref);
    st = cfg ? bw_shim_state(cfg) : NULL;
    bw_cfg_drop(ref);
    return st;
}

/* bw_failover with the thread's memo m. */
static bool fail_over(bw_conn *c, bool retry, int64_t now_ms, struct sibling_memo *m)
{
    const bw_policy *p = c->policy;
    const struct sockaddr *cur = (const struct sockaddr *)&c->addr;
    if (cur->sa_family != AF_INET && cur->sa_family != AF_INET6)
        return false;   /* to_name_addr's refusal, asked first */
    bw_state *st = current_state();
    if (!st)
        return false;   /* no breakers: nothing to route around */
    uint64_t key[3];
    addr_key(&c->addr, key);
    int64_t now = bw_now_for(c, now_ms);   /* the whole decision's, the sibling's breaker's too */
    if (!kept(m, st, key, now)) {
        bw_name_addr me;
        if (!to_name_addr(cur, &me) || !siblings(m, st, cur, &me, now))
            return false;
        sibling_addrs(m, port_of(cur), cur->sa_family == AF_INET6 && me.family == AF_INET);
        memcpy(m->key, key, sizeof m->key);
    }
    unsigned n = m->n, at = m->at;
    if (n < 2) {
        bw_log(BW_LOG_DEBUG, "%s: no failover: %u address(es) of %s known", c->dest_name, n,
               m->host);
        return false;
    }
    sibling_dest(m, c);
    bool is_out[BW_NAMES_ADDRS];
    for (unsigned i = 0; i < n; i++)
        is_out[i] = i != at && bw_guard_breaker_keeps_out(sibling_entry(m, i, c->dest_name), p);
    unsigned out, order[BW_NAMES_ADDRS];
    if (!bw_sibling_may_move(is_out, n, at, retry, p->failover_max_ejected_percent, &out)) {
        bw_log(BW_LOG_DEBUG, "%s: no failover: %u of %u addresses of %s ejected, over %u%%",
               c->dest_name, out, n, m->host, p->failover_max_ejected_percent);
        return false;
    }
    bw_inet_addr orig = c->addr;
    socklen_t orig_len = c->addrlen;
    bw_entry *orig_entry = c->entry, *orig_breaker = c->breaker_entry;
    unsigned n_try = bw_sibling_order(is_out, n, at, order);
    for (unsigned i = 0; i < n_try; i++) {
        unsigned k = order[i];
        move_to(c, st, &m->sa[k], m->len[k], m->ent[k]);
        m->ent[k] = c->entry;
        if (bw_guard_breaker_admit_at(c, true, &now) == 0) {
            if (retry) {
                /* The connect() is counted where it ends, so that each address
                 * keeps connects = successes + failures + rejections. */
                bw_count(orig_entry, BW_CNT_CONNECTS, (uint64_t)-1);
                bw_count(c->entry, BW_CNT_CONNECTS, 1);
            }
            bw_record_failover(c, orig_entry, st);
            log_failover(c, m->host, (const struct sockaddr *)&orig);
            return true;
        }
    }
    bw_log(BW_LOG_DEBUG, "%s: no failover: no address of %s admits a call", c->dest_name,
           m->host);
    c->addr = orig;
    c->addrlen = orig_len;
    c->entry = orig_entry;
    c->breaker_entry = orig_breaker;
    return false;
}

bool bw_failover(bw_conn *c, bool retry, int64_t now_ms)
{
    const bw_policy *p = c->policy;
    if (!p->failover || p->breaker == BW_BREAKER_OFF || p->breaker_scope != BW_SCOPE_ADDRESS)
        return false;
    /* The memo needs no guard against this thread's signal handlers: every
     * caller runs inside the shim (bw_enter), where a handler's hooks pass
     * the call through, so no other failover interleaves with this one. */
    return fail_over(c, retry, now_ms, &memo);
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
    return ejected(st, p, d >= 0 ? cfg->dests[d].name : "default", ai->ai_addr);
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
