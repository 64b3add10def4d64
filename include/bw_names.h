/*
 * bw_names.h - the addresses each hostname resolved to, for failover
 * (SPEC section 9): when the address a program connects to is failing, the
 * shim looks up the other addresses of the same name.
 *
 * Pure and fixed-size (a table of BW_NAMES_SLOTS names of up to
 * BW_NAMES_ADDRS addresses each, no heap); the caller serialises the
 * writers and passes the clock. Readers may go without that lock
 * (bw_names_read): a writer makes each slot's sequence number odd while it
 * changes the slot, and stores and readers copy slots by atomic words. Each address lives ttl_ms from the last answer that
 * gave it (the resolver does not say how long a DNS answer lasts): a new
 * answer comes first, in its order, and the name's other addresses stay
 * behind it until they expire, so that answers which each give a part of
 * the name's addresses (round-robin DNS, another process's /etc/hosts) add
 * up. A full table replaces the name that expires first.
 *
 * The table may live in a shared state file (bw_state_names.h): whatever a
 * slot holds, reading or writing it stays inside it (counts are clamped,
 * names compared within their field).
 */
#ifndef BW_NAMES_H
#define BW_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#define BW_NAMES_SLOTS 512
#define BW_NAMES_ADDRS 8
#define BW_NAMES_NAMELEN 256
#define BW_NAMES_PROBE 8

typedef struct bw_name_addr {
    uint8_t family;            /* AF_INET or AF_INET6 */
    uint8_t addr[16];          /* network order; IPv4 in addr[0..3] */
} bw_name_addr;

typedef struct bw_names_entry {
    uint64_t hash;             /* 0: free */
    int64_t expires_ms;        /* the latest of addr_expires_ms */
    uint8_t n;
    bw_name_addr addrs[BW_NAMES_ADDRS];
    uint32_t seq;              /* odd while a writer changes the slot (bw_names_read);
                                  in what was padding: offsets and size are
                                  layout 4's, the protocol is layout 5's */
    int64_t addr_expires_ms[BW_NAMES_ADDRS];
    char name[BW_NAMES_NAMELEN];
} bw_names_entry;

typedef struct bw_names {
    bw_names_entry slot[BW_NAMES_SLOTS];
} bw_names;

/* Stores name's answer (n addresses, duplicates dropped) at now_ms for
 * ttl_ms, ahead of the name's unexpired addresses from earlier answers; the
 * first BW_NAMES_ADDRS are kept. A name of BW_NAMES_NAMELEN bytes or more
 * is not stored. */
void bw_names_put(bw_names *t, const char *name, const bw_name_addr *a, unsigned n,
                  int64_t now_ms, uint32_t ttl_ms);

/* Copies name's unexpired addresses into out (up to max), newest answer
 * first, and returns how many. */
unsigned bw_names_get(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                      unsigned max);

/* What a read saw, for telling later and cheaply that the same read would
 * give the same answer (bw_names_unchanged). */
typedef struct bw_names_seen {
    uint32_t slot;             /* the slot the answer came from; BW_NAMES_SLOTS: none */
    uint32_t seq;              /* its sequence number then */
    int64_t until_ms;          /* the first expiry among the answer's addresses */
} bw_names_seen;

/*
 * bw_names_get while writers may be at work, without their lock: each slot
 * it needs is copied between two reads of its sequence number, and copied
 * again when a writer was inside (a few times at most). Returns the count,
 * or -1 when it found no quiet moment (a busy writer, one that died
 * mid-update, a hostile file): the caller then reads under the lock. Never
 * loops unbounded, reads only inside the table, makes no system call.
 * seen (may be NULL) gets what the answer came from (slot none when no
 * address was found).
 */
int bw_names_read(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                  unsigned max, bw_names_seen *seen);

/* True when a read of the same name with the same max at now_ms would give
 * the answer that gave seen: its slot has not been written since, and none
 * of its addresses has expired. One atomic load (inline: failover asks it
 * on every decision). */
static inline bool bw_names_unchanged(const bw_names *t, const bw_names_seen *seen,
                                      int64_t now_ms)
{
    return seen->slot < BW_NAMES_SLOTS && now_ms < seen->until_ms &&
           __atomic_load_n(&t->slot[seen->slot].seq, __ATOMIC_ACQUIRE) == seen->seq;
}

#endif
