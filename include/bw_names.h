/*
 * bw_names.h - the addresses each hostname resolved to, for failover
 * (SPEC section 9): when the address a program connects to is failing, the
 * shim looks up the other addresses of the same name.
 *
 * Pure and fixed-size (a table of BW_NAMES_SLOTS names of up to
 * BW_NAMES_ADDRS addresses each, no heap); the caller serialises access and
 * passes the clock. An answer lives ttl_ms from when it was put (the
 * resolver does not say how long a DNS answer lasts; every new resolution of
 * the name renews it). A full table replaces the answer that expires first.
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
    int64_t expires_ms;
    uint8_t n;
    bw_name_addr addrs[BW_NAMES_ADDRS];
    char name[BW_NAMES_NAMELEN];
} bw_names_entry;

typedef struct bw_names {
    bw_names_entry slot[BW_NAMES_SLOTS];
} bw_names;

/* Stores name's answer (n addresses, the first BW_NAMES_ADDRS kept, duplicates
 * dropped) at now_ms for ttl_ms. A name of BW_NAMES_NAMELEN bytes or more is
 * not stored. */
void bw_names_put(bw_names *t, const char *name, const bw_name_addr *a, unsigned n,
                  int64_t now_ms, uint32_t ttl_ms);

/* Copies name's unexpired answer into out (up to max) and returns how many. */
unsigned bw_names_get(const bw_names *t, const char *name, int64_t now_ms, bw_name_addr *out,
                      unsigned max);

#endif
