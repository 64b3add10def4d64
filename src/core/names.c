/* names.c - hostname -> addresses, for failover (see bw_names.h). */
#include <stddef.h>
#include <string.h>

#include "bw_names.h"
#include "bw_hash.h"
#include "bw_state.h"

/* The sequence number sits in what was padding before it existed: the
 * table keeps layout 4's offsets and size. Its write protocol is new (a
 * build of layout 4 would write slots without moving the number, under
 * lock-free readers): layout 5. */
_Static_assert(offsetof(bw_names_entry, addr_expires_ms) == 160 && sizeof(bw_names_entry) == 480,
               "the name table's layout changed: bump BW_STATE_VERSION");
_Static_assert(offsetof(bw_names_entry, name) % 8 == 0 && sizeof(bw_names_entry) % 8 == 0,
               "slots are copied by 8-byte words");

/* A word of a slot, which may be read (bw_names_read) while it is written. */
typedef uint64_t __attribute__((may_alias)) slot_word;

/* Words of a slot that hold a name of len bytes and everything before it. */
static size_t words_for(size_t len)
{
    return (offsetof(bw_names_entry, name) + len + 1 + 7) / 8;
}

/* Stores the first n words of from into the shared slot to, each atomically. */
static void store_words(bw_names_entry *to, const bw_names_entry *from, size_t n)
{
    slot_word *d = (slot_word *)to;
    const slot_word *s = (const slot_word *)from;
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

/* Loads the words [first, end) of the shared slot from into to, each atomically. */
static void load_words(bw_names_entry *to, const bw_names_entry *from, size_t first, size_t end)
{
    slot_word *d = (slot_word *)to;
    const slot_word *s = (const slot_word *)from;
#pragma GCC unroll 4
    for (size_t i = first; i < end; i++)
        d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

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
    bw_names_entry fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.hash = h;
    fresh.expires_ms = until;
    memcpy(fresh.name, name, len + 1);
    memcpy(fresh.addrs, list, k * sizeof *list);
    memcpy(fresh.addr_expires_ms, exp, k * sizeof *exp);
    fresh.n = (uint8_t)k;
    /* Odd while the slot changes (odd already when a writer died inside:
     * this one ends it), for readers without the lock. */
    uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED) | 1;
    __atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    fresh.seq = seq;
    store_words(e, &fresh, words_for(len));
    __atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELEASE);
}

/* The unexpired addresses of slot e (found for the name) into out; *until
 * (may be NULL) gets the first time one of them expires. */
static unsigned addrs_of(const bw_names_entry *e, int64_t now_ms, bw_name_addr *out,
                         unsigned max, int64_t *until)
{
    if (e->expires_ms <= now_ms)
        return 0;
    unsigned k = 0;
    int64_t first = e->expires_ms;
    for (unsigned i = 0; i < held(e) && k < max; i++)
        if (e->addr_expires_ms[i] > now_ms) {
            out[k++] = e->addrs[i];
            first = e->addr_expires_ms[i] < first ? e->addr_expires_ms[i] : first;
        }
    if (until)
        *until = first;
    return k;
}

unsigned bw_names_get(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                      unsigned max)
{
    const bw_names_entry *e = find(t, name, name_hash(name));
    return e ? addrs_of(e, now_ms, out, max, NULL) : 0;
}

/* How many times bw_names_read copies a slot that a writer changed meanwhile. */
#define READ_TRIES 4

/* The word index of byte offset off of a slot, rounded down / up. */
#define WORD_AT(off) ((off) / 8)
#define WORD_END(off) (((off) + 7) / 8)

/* Copies into copy what addrs_of reads of slot e and the first len + 1
 * bytes of its name, between two reads of its sequence number (into *seq).
 * False when a writer was inside. */
static bool copy_quiet(const bw_names_entry *e, bw_names_entry *copy, size_t len, uint32_t *seq)
{
    uint32_t s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    *seq = s;
    if (s & 1)
        return false;
    const size_t addrs = offsetof(bw_names_entry, addrs);
    load_words(copy, e, 0, WORD_END(addrs));   /* hash, expiry, count */
    size_t n = held(copy);
    load_words(copy, e, WORD_END(addrs), WORD_END(addrs + n * sizeof(bw_name_addr)));
    size_t exp = WORD_AT(offsetof(bw_names_entry, addr_expires_ms));
    load_words(copy, e, exp, exp + n);
    load_words(copy, e, WORD_AT(offsetof(bw_names_entry, name)), words_for(len));
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s;
}

int bw_names_read(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                  unsigned max, bw_names_seen *seen)
{
    bw_names_seen scratch;
    if (!seen)
        seen = &scratch;
    seen->slot = BW_NAMES_SLOTS;
    size_t len = strlen(name);
    if (len >= BW_NAMES_NAMELEN)
        return 0;   /* never stored */
    uint64_t h = name_hash(name);
    unsigned tries = 0;
    for (unsigned i = 0; i < BW_NAMES_PROBE; i++) {
        uint32_t at = (uint32_t)((h + i) % BW_NAMES_SLOTS);
        const bw_names_entry *e = &t->slot[at];
        if (__atomic_load_n(&e->hash, __ATOMIC_RELAXED) != h)
            continue;
        bw_names_entry copy;
        uint32_t seq;
        while (!copy_quiet(e, &copy, len, &seq))
            if (++tries >= READ_TRIES)
                return -1;
        /* The copy holds the name's len + 1 bytes: equal there is strncmp's equal. */
        if (copy.hash != h || memcmp(copy.name, name, len + 1) != 0)
            continue;
        unsigned k = addrs_of(&copy, now_ms, out, max, &seen->until_ms);
        if (k > 0) {
            seen->slot = at;
            seen->seq = seq;
        }
        return (int)k;
    }
    return 0;
}
