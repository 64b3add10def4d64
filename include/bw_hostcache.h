/*
 * bw_hostcache.h - the hostnames a program resolved, by address.
 *
 * The shim learns "H resolved to IP" from getaddrinfo/gethostbyname* and asks
 * at connect time which name an address came from. The cache is process-wide,
 * thread-safe, of fixed size (static arrays: it never allocates and needs no
 * initialisation), and evicts the entry put longest ago when full; the most
 * recent name for an address wins (and renews the entry). Lookups hash the
 * address: their cost does not depend on how full the cache is.
 */
#ifndef BW_HOSTCACHE_H
#define BW_HOSTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define BW_HOSTCACHE_ENTRIES 4096
#define BW_HOSTCACHE_NAMELEN 256

/*
 * Records that host resolved to the address in sa (AF_INET/AF_INET6; others
 * ignored; port ignored; IPv4-mapped IPv6 stored as IPv4). A NULL or empty
 * host, or one of BW_HOSTCACHE_NAMELEN bytes or more, is not stored (and does
 * not replace an earlier name). The name is stored as given.
 */
void bw_hostcache_put(const struct sockaddr *sa, const char *host);

/*
 * Copies into out (size outlen) the most recent hostname recorded for the
 * address of sa (port ignored; IPv4-mapped IPv6 looked up as IPv4).
 * Returns true when one was found; false also when it does not fit in outlen
 * (a cut name would match the wrong section).
 */
bool bw_hostcache_get(const struct sockaddr *sa, char *out, size_t outlen);

/*
 * A number that changes whenever the answer of bw_hostcache_get may have
 * changed for some address (a new name, a new or evicted entry, a reset),
 * and not when a put only renews an entry with the name it had. A caller
 * that remembers an answer together with the number read before asking
 * may reuse the answer while the number stays the same. Lock-free.
 */
unsigned bw_hostcache_generation(void);

/*
 * Empties the cache. Also re-initialises its lock without taking it, so it is
 * safe in a fork child whose parent had another thread inside the cache; for
 * the same reason it must not run while another thread of this process may
 * use the cache. Touches a few kilobytes, not the whole cache.
 */
void bw_hostcache_reset(void);

/* Fork handlers that keep the cache (and its names) in the child. */
void bw_hostcache_atfork_prepare(void);
void bw_hostcache_atfork_parent(void);
void bw_hostcache_atfork_child(void);

#endif
