/*
 * match.c - the destination index: build and lookup (see bw_match.h).
 *
 * Every host pattern of every section becomes a key (exact name, suffix, exact
 * IP, or masked CIDR network). One open-addressing hash table maps each
 * distinct key to the sections holding it, sorted by (port list first, file
 * order), so the first section of a key's list whose ports fit is the best one
 * that key can give. A lookup probes the keys a connection could match from
 * the most specific down and stops at the first fit; only the exact tier has
 * two candidates (name and IP) of equal specificity to compare.
 */
#include <stdlib.h>
#include <string.h>

#include "bw_hash.h"
#include "bw_match.h"

enum key_tag { K_NAME, K_SUFFIX, K_IP, K_CIDR };

struct key {
    uint8_t tag;
    uint8_t fam;          /* 4 or 6 for K_IP and K_CIDR, else 0 */
    uint8_t prefix;       /* K_IP and K_CIDR */
    size_t len;           /* K_NAME and K_SUFFIX */
    const char *name;     /* stored keys: lower case, no trailing dot */
    uint8_t addr[16];     /* masked to prefix, zero beyond the family's size */
};

/* A distinct key and its sections members[first .. first + count). count 0: empty. */
struct slot {
    uint64_t hash;
    struct key key;
    uint32_t first, count;
};

struct bw_match {
    const bw_dest *dests;
    struct slot *slots;
    size_t mask;               /* number of slots - 1 (a power of two) */
    uint32_t *members;
    char *names;               /* normalised pattern names */
    uint8_t plens[2][129];     /* CIDR prefix lengths present, longest first */
    unsigned n_plens[2];       /* [0] IPv4, [1] IPv6 */
};

/* One (key, section) pair while building. */
struct item {
    struct key key;
    uint32_t dest;
    bool ports;
};

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* bw_hash_more, ASCII case folded so a query name hashes like its stored lower-case key. */
static uint64_t hash_folded(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = bw_hash_byte(h, lower(b[i]));
    return h;
}

static uint64_t key_hash(const struct key *k)
{
    uint8_t head[3] = {k->tag, k->fam, k->prefix};
    uint64_t h = bw_hash(head, sizeof head, 0);
    if (k->tag == K_NAME || k->tag == K_SUFFIX)
        return hash_folded(h, k->name, k->len);
    return bw_hash_more(h, k->addr, k->fam == 4 ? 4 : 16);
}

/* Equality of a stored key and a query key (whose name may be in any case). */
static bool key_eq(const struct key *s, const struct key *q)
{
    if (s->tag != q->tag || s->fam != q->fam || s->prefix != q->prefix)
        return false;
    if (s->tag == K_IP || s->tag == K_CIDR)
        return memcmp(s->addr, q->addr, sizeof s->addr) == 0;
    if (s->len != q->len)
        return false;
    for (size_t i = 0; i < s->len; i++)
        if ((uint8_t)s->name[i] != lower((uint8_t)q->name[i]))
            return false;
    return true;
}

/* Clears the bits of addr beyond prefix (addr holds 16 bytes). */
static void mask_addr(uint8_t *addr, unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        if (bits < 8)
            addr[i] &= (uint8_t)(0xff00u >> bits);
    }
}

/* Length of a query hostname without its trailing dot; 0 for NULL. */
static size_t name_len(const char *host)
{
    if (!host)
        return 0;
    size_t len = strlen(host);
    if (len && host[len - 1] == '.')
        len--;
    return len;
}

/* ---- build ---- */

/*
 * Copies the name of p, lower case and without its trailing dot, to *arena
 * and points k at it. Suffixes are stored with their leading dot. Returns
 * false for a name that can match nothing (empty).
 */
static bool key_from_name(const bw_host_pattern *p, char **arena, struct key *k)
{
    const char *s = p->name;
    if (!s)
        return false;
    bool suffix = p->kind == BW_HOST_SUFFIX;
    if (suffix && s[0] == '*')
        s++;                                /* tolerate "*.x" as well as ".x" */
    size_t len = name_len(s);
    char *out = *arena;
    size_t n = 0;
    if (suffix && s[0] != '.')
        out[n++] = '.';
    for (size_t i = 0; i < len; i++)
        out[n++] = (char)lower((uint8_t)s[i]);
    out[n] = '\0';
    if (n == 0 || (suffix && n == 1))
        return false;
    k->tag = suffix ? K_SUFFIX : K_NAME;
    k->name = out;
    k->len = n;
    *arena += n + 1;
    return true;
}

/* Fills k from an IP or CIDR pattern; patterns inside ::ffff:0:0/96 become IPv4. */
static bool key_from_addr(const bw_host_pattern *p, struct key *k)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned full = p->family == AF_INET ? 32 : 128;
    if (p->family != AF_INET && p->family != AF_INET6)
        return false;
    unsigned prefix = p->kind == BW_HOST_IP || p->prefix > full ? full : p->prefix;
    memset(k->addr, 0, sizeof k->addr);
    if (p->family == AF_INET6 && prefix >= 96 && memcmp(p->addr, mapped, 12) == 0) {
        memcpy(k->addr, p->addr + 12, 4);
        prefix -= 96;
        full = 32;
    } else {
        memcpy(k->addr, p->addr, full / 8);
    }
    mask_addr(k->addr, prefix);
    k->tag = p->kind == BW_HOST_IP ? K_IP : K_CIDR;
    k->fam = full == 32 ? 4 : 6;
    k->prefix = (uint8_t)prefix;
    return true;
}

static bool key_from_pattern(const bw_host_pattern *p, char **arena, struct key *k)
{
    memset(k, 0, sizeof *k);
    switch (p->kind) {
    case BW_HOST_NAME:
    case BW_HOST_SUFFIX:
        return key_from_name(p, arena, k);
    case BW_HOST_IP:
    case BW_HOST_CIDR:
        return key_from_addr(p, k);
    }
    return false;
}

/* Order of keys, then within a key: port list first, then file order. */
static int item_cmp(const void *va, const void *vb)
{
    const struct item *a = va, *b = vb;
    const struct key *x = &a->key, *y = &b->key;
    if (x->tag != y->tag)
        return x->tag < y->tag ? -1 : 1;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = x->len ? memcmp(x->name, y->name, x->len)
                   : memcmp(x->addr, y->addr, sizeof x->addr);
    if (c)
        return c;
    if (a->ports != b->ports)
        return a->ports ? -1 : 1;
    return a->dest < b->dest ? -1 : a->dest > b->dest;
}

static bool same_key(const struct item *a, const struct item *b)
{
    return key_eq(&a->key, &b->key);
}

/* Collects one item per usable pattern into items; returns how many. */
static size_t collect(const bw_dest *dests, size_t n, struct item *items, char *arena)
{
    size_t k = 0;
    for (size_t d = 0; d < n; d++) {
        for (size_t h = 0; h < dests[d].n_hosts; h++) {
            if (!key_from_pattern(&dests[d].hosts[h], &arena, &items[k].key))
                continue;
            items[k].dest = (uint32_t)d;
            items[k].ports = dests[d].n_ports > 0;
            k++;
        }
    }
    return k;
}

static void insert_slot(struct bw_match *m, const struct key *k, uint32_t first,
                        uint32_t count)
{
    uint64_t h = key_hash(k);
    size_t i = h & m->mask;
    while (m->slots[i].count)
        i = (i + 1) & m->mask;
    m->slots[i] = (struct slot){.hash = h, .key = *k, .first = first, .count = count};
}

/* Turns the sorted items into slots and member lists; records CIDR lengths. */
static void fill(struct bw_match *m, const struct item *items, size_t n_items)
{
    bool present[2][129] = {{false}};
    uint32_t n_members = 0;
    for (size_t i = 0; i < n_items;) {
        uint32_t first = n_members;
        size_t j = i;
        for (; j < n_items && same_key(&items[i], &items[j]); j++)
            if (j == i || items[j].dest != items[j - 1].dest)
                m->members[n_members++] = items[j].dest;
        insert_slot(m, &items[i].key, first, n_members - first);
        if (items[i].key.tag == K_CIDR)
            present[items[i].key.fam == 6][items[i].key.prefix] = true;
        i = j;
    }
    for (int f = 0; f < 2; f++)
        for (int p = f ? 128 : 32; p >= 0; p--)
            if (present[f][p])
                m->plens[f][m->n_plens[f]++] = (uint8_t)p;
}

static size_t count_groups(const struct item *items, size_t n)
{
    size_t g = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same_key(&items[i - 1], &items[i]))
            g++;
    return g;
}

/* Room the normalised names need: each plus a possible leading dot and a NUL. */
static size_t count_patterns(const bw_dest *dests, size_t n, size_t *name_bytes)
{
    size_t total = 0;
    *name_bytes = 1;
    for (size_t d = 0; d < n; d++) {
        total += dests[d].n_hosts;
        for (size_t h = 0; h < dests[d].n_hosts; h++)
            if (dests[d].hosts[h].name)
                *name_bytes += strlen(dests[d].hosts[h].name) + 2;
    }
    return total;
}

/*
 * Allocates the table for the grouped items (at most half full, so probes
 * stay short and always end at an empty slot) and fills it.
 */
static bool build_table(struct bw_match *m, const struct item *items, size_t n_items)
{
    size_t want = 2 * count_groups(items, n_items);
    size_t cap = 8;
    while (cap < want)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->members = malloc((n_items ? n_items : 1) * sizeof *m->members);
    if (!m->slots || !m->members)
        return false;
    m->mask = cap - 1;
    fill(m, items, n_items);
    return true;
}

struct bw_match *bw_match_build(const bw_dest *dests, size_t n)
{
    size_t name_bytes;
    size_t n_pat = count_patterns(dests, n, &name_bytes);
    if (n > UINT32_MAX || n_pat > UINT32_MAX)
        return NULL;
    struct bw_match *m = calloc(1, sizeof *m);
    struct item *items = malloc((n_pat ? n_pat : 1) * sizeof *items);
    if (!m || !items)
        goto err;
    m->dests = dests;
    m->names = malloc(name_bytes);
    if (!m->names)
        goto err;
    size_t n_items = collect(dests, n, items, m->names);
    qsort(items, n_items, sizeof *items, item_cmp);
    if (!build_table(m, items, n_items))
        goto err;
    free(items);
    return m;
err:
    free(items);
    bw_match_free(m);
    return NULL;
}

void bw_match_free(struct bw_match *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->members);
    free(m->names);
    free(m);
}

/* ---- lookup ---- */

static const struct slot *find(const struct bw_match *m, const struct key *k)
{
    uint64_t h = key_hash(k);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct slot *s = &m->slots[i];
        if (!s->count)
            return NULL;
        if (s->hash == h && key_eq(&s->key, k))
            return s;
    }
}

static bool port_fits(const bw_dest *d, uint16_t port)
{
    if (d->n_ports == 0)
        return true;
    for (size_t i = 0; i < d->n_ports; i++)
        if (port >= d->ports[i].lo && port <= d->ports[i].hi)
            return true;
    return false;
}

/* The best section of key k whose ports fit, or -1. */
static long first_fit(const struct bw_match *m, const struct key *k, uint16_t port)
{
    const struct slot *s = find(m, k);
    if (!s)
        return -1;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t d = m->members[s->first + i];
        if (port_fits(&m->dests[d], port))
            return d;
    }
    return -1;
}

/* Of two sections of equal host specificity (-1: none), the one that wins. */
static long better(const struct bw_match *m, long a, long b)
{
    if (a < 0 || b < 0)
        return a < 0 ? b : a;
    bool pa = m->dests[a].n_ports > 0, pb = m->dests[b].n_ports > 0;
    if (pa != pb)
        return pa ? a : b;
    return a < b ? a : b;
}

static long best_exact(const struct bw_match *m, const char *host, size_t hlen,
                       const bw_ipaddr *a)
{
    struct key k = {.tag = K_IP, .fam = a->family == AF_INET ? 4 : 6};
    k.prefix = k.fam == 4 ? 32 : 128;
    memcpy(k.addr, a->addr, sizeof k.addr);
    long by_ip = first_fit(m, &k, a->port);
    if (!hlen)
        return by_ip;
    struct key n = {.tag = K_NAME, .name = host, .len = hlen};
    return better(m, first_fit(m, &n, a->port), by_ip);
}

/* Suffixes ".b.example.com", ".example.com", ".com" of the name, longest first. */
static long best_suffix(const struct bw_match *m, const char *host, size_t hlen,
                        uint16_t port)
{
    for (size_t i = 1; i < hlen; i++) {
        if (host[i] != '.')
            continue;
        struct key k = {.tag = K_SUFFIX, .name = host + i, .len = hlen - i};
        long d = first_fit(m, &k, port);
        if (d >= 0)
            return d;
    }
    return -1;
}

static long best_cidr(const struct bw_match *m, const bw_ipaddr *a)
{
    int f = a->family == AF_INET6;
    struct key k = {.tag = K_CIDR, .fam = f ? 6 : 4};
    for (unsigned i = 0; i < m->n_plens[f]; i++) {
        memcpy(k.addr, a->addr, sizeof k.addr);
        k.prefix = m->plens[f][i];
        mask_addr(k.addr, k.prefix);
        long d = first_fit(m, &k, a->port);
        if (d >= 0)
            return d;
    }
    return -1;
}

long bw_match_lookup(const struct bw_match *m, const char *host,
                     const struct sockaddr *sa)
{
    bw_ipaddr a;
    if (!m || !bw_ipaddr_from_sockaddr(sa, &a))
        return -1;
    size_t hlen = name_len(host);
    long d = best_exact(m, host, hlen, &a);
    if (d < 0 && hlen)
        d = best_suffix(m, host, hlen, a.port);
    if (d < 0)
        d = best_cidr(m, &a);
    return d;
}
