/*
 * bw_match.h - which destination section a connection belongs to.
 *
 * Built once per config over its sections; lookups are read-only and need no
 * lock. Precedence (SPEC section 4, "Matching"): among sections whose port list
 * includes the port, an exact hostname or IP beats a "*.suffix" (longer suffix
 * first), which beats a CIDR (longer prefix first); at equal host specificity a
 * section with a port list beats one without; then the first in the file.
 * Cost is independent of the number of sections up to constant factors:
 * exact names and IPs by hash, suffixes by walking the labels of the name,
 * CIDRs by one hash probe per prefix length present.
 */
#ifndef BW_MATCH_H
#define BW_MATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "bw_config.h"

/* An IP address as matching sees it: the family it is matched in and its bytes. */
typedef struct bw_ipaddr {
    int family;            /* AF_INET or AF_INET6 */
    uint8_t addr[16];      /* network byte order; IPv4 in addr[0..3], rest zero */
    uint16_t port;         /* host byte order */
} bw_ipaddr;

/*
 * Reads the address and port of sa into *out. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) becomes AF_INET a.b.c.d, so that it matches IPv4 patterns
 * and shares their cache entries. Returns false (and leaves *out undefined)
 * when sa is NULL or of another family.
 */
bool bw_ipaddr_from_sockaddr(const struct sockaddr *sa, bw_ipaddr *out);

/* The same, keeping an IPv4-mapped IPv6 address as the IPv6 address it was
 * given as (for saying what the program connected to). */
bool bw_ipaddr_from_sockaddr_as_is(const struct sockaddr *sa, bw_ipaddr *out);

struct bw_match;

/*
 * Builds the index over dests[0..n). Returns NULL on allocation failure.
 * The index keeps pointers into dests: free it before them.
 */
struct bw_match *bw_match_build(const bw_dest *dests, size_t n);

void bw_match_free(struct bw_match *m);

/*
 * Returns the index into dests of the section for a connection to sa
 * (AF_INET or AF_INET6; an IPv4-mapped IPv6 address matches as IPv4), made by
 * a program that resolved hostname host to it (NULL when unknown), or -1 when
 * no section matches (the [defaults] apply). host is compared without case
 * and without a trailing dot. An IPv6 pattern inside ::ffff:0:0/96 matches as
 * the IPv4 pattern it denotes; other IPv6 patterns (even ::/0) never match an
 * IPv4 or IPv4-mapped address. m NULL or sa of another family: -1.
 */
long bw_match_lookup(const struct bw_match *m, const char *host,
                     const struct sockaddr *sa);

#endif
