/* names.c - hostname -> addresses, for failover (see bw_names.h). */
#include <string.h>

#include "bw_names.h"
#include "bw_hash.h"
#include "bw_state.h"

static uint64_t name_hash(const char *s)
{
    uint64_t h = bw_hash(s, strlen(s), 0);
    return h ? h : 1;   /* 0 marks a free slot */
}

/* The slot holding name (shorter than BW_NAMES_NAMELEN), or NULL. */
static const bw_names_entry *find(const bw_names *t, const char *name, uint64_t h)
{
    for (unsigned i = 0; i < BW_NAMES_PROBE; i++) {
        const bw_names_entry *e = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (e->hash == h && strncmp(e->name, name, BW_NAMES_NAMELEN) == 0)
            return e;
    }
    return NULL;
}

/* How many addresses e holds (a count from a shared file is not trusted). */
static unsigned held(const bw_names_entry *e)
{
    return e->n < BW_NAMES_ADDRS ? e->n : BW_NAMES_ADDRS;
}

/* Adds a (expiring at exp) to the list of k addresses unless it is there. */
static unsigned add_addr(bw_name_addr *list, int64_t *exp_list, unsigned k,
                         const bw_name_addr *a, int64_t exp)
{
    for (unsigned i = 0; i < k; i++)
        if (memcmp(&list[i], a, sizeof *a) == 0)
            return k;
    if (k == BW_NAMES_ADDRS)
        return k;
    list[k] = *a;
    exp_list[k] = exp;
    return k + 1;
}

void bw_names_put(bw_names *t, const char *name, const bw_name_addr *a, unsigned n,
                  int64_t now_ms, uint32_t ttl_ms)
{
    size_t len = strlen(name);
    if (len == 0 || len >= BW_NAMES_NAMELEN)
        return;
    uint64_t h = name_hash(name);
    bw_names_entry *e = (bw_names_entry *)find(t, name, h);
    bw_name_addr list[BW_NAMES_ADDRS];
    int64_t exp[BW_NAMES_ADDRS], until = now_ms + ttl_ms;
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        k = add_addr(list, exp, k, &a[i], until);
    for (unsigned i = 0; e && i < held(e); i++)
        if (e->addr_expires_ms[i] > now_ms && e->addr_expires_ms[i] <= until)
            k = add_addr(list, exp, k, &e->addrs[i], e->addr_expires_ms[i]);
    for (unsigned i = 0; !e && i < BW_NAMES_PROBE; i++) {
        bw_names_entry *c = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (c->hash == 0 || c->expires_ms <= now_ms)
            e = c;
    }
    for (unsigned i = 0; !e && i < BW_NAMES_PROBE; i++) {
        bw_names_entry *c = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (!e || c->expires_ms < e->expires_ms)
            e = c;   /* full: the name that expires first goes */
    }
    e->hash = h;
    e->expires_ms = until;
    memcpy(e->name, name, len + 1);
    memcpy(e->addrs, list, k * sizeof *list);
    memcpy(e->addr_expires_ms, exp, k * sizeof *exp);
    e->n = (uint8_t)k;
}

unsigned bw_names_get(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                      unsigned max)
{
    const bw_names_entry *e = find(t, name, name_hash(name));
    if (!e || e->expires_ms <= now_ms)
        return 0;
    unsigned k = 0;
    for (unsigned i = 0; i < held(e) && k < max; i++)
        if (e->addr_expires_ms[i] > now_ms)
            out[k++] = e->addrs[i];
    return k;
}
