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

/* The slot holding name, or NULL. */
static const bw_names_entry *find(const bw_names *t, const char *name, uint64_t h)
{
    for (unsigned i = 0; i < BW_NAMES_PROBE; i++) {
        const bw_names_entry *e = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

void bw_names_put(bw_names *t, const char *name, const bw_name_addr *a, unsigned n,
                  int64_t now_ms, uint32_t ttl_ms)
{
    size_t len = strlen(name);
    if (len == 0 || len >= BW_NAMES_NAMELEN)
        return;
    uint64_t h = name_hash(name);
    bw_names_entry *e = (bw_names_entry *)find(t, name, h);
    for (unsigned i = 0; !e && i < BW_NAMES_PROBE; i++) {
        bw_names_entry *c = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (c->hash == 0 || c->expires_ms <= now_ms)
            e = c;
    }
    for (unsigned i = 0; !e && i < BW_NAMES_PROBE; i++) {
        bw_names_entry *c = &t->slot[(h + i) % BW_NAMES_SLOTS];
        if (!e || c->expires_ms < e->expires_ms)
            e = c;   /* full: the answer that expires first goes */
    }
    e->hash = h;
    e->expires_ms = now_ms + ttl_ms;
    memcpy(e->name, name, len + 1);
    e->n = 0;
    for (unsigned i = 0; i < n && e->n < BW_NAMES_ADDRS; i++) {
        bool dup = false;
        for (unsigned k = 0; k < e->n && !dup; k++)
            dup = memcmp(&e->addrs[k], &a[i], sizeof a[i]) == 0;
        if (!dup)
            e->addrs[e->n++] = a[i];
    }
}

unsigned bw_names_get(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                      unsigned max)
{
    const bw_names_entry *e = find(t, name, name_hash(name));
    if (!e || e->expires_ms <= now_ms)
        return 0;
    unsigned n = e->n < max ? e->n : max;
    memcpy(out, e->addrs, n * sizeof *out);
    return n;
}
