/* failover.h - routing around a failing address (see failover.c). */
#ifndef BW_FAILOVER_H
#define BW_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shim.h"

/* The resolver answered name with addrs[0..n): kept for failover. */
void bw_failover_learn(const char *name, const struct sockaddr *const *addrs, unsigned n);

/*
 * Moves c to another address of the hostname it was resolved from, whose
 * breaker admits a call (admitted as a retry when retry). A first attempt
 * (retry false) moves only while the name stays within
 * failover_max_ejected_percent. now_ms is the monotonic time to decide at,
 * or BW_NOW_UNREAD, BW_NOW_ADMISSION (guard.h, bw_now_for). Returns true
 * when c now points at a sibling (c->addr, c->entry, c->breaker_entry),
 * false when it stays where it was.
 */
bool bw_failover(bw_conn *c, bool retry, int64_t now_ms);

/* Puts the addresses of a getaddrinfo answer for name whose breaker is open
 * last, keeping the order otherwise (SPEC section 9). */
struct addrinfo;
void bw_failover_sort(const char *name, struct addrinfo **res);

/* Fork: a private region's name table lock, taken in prepare, released after. */
void bw_failover_atfork_prepare(void);
void bw_failover_atfork_parent(void);
void bw_failover_atfork_child(void);

#endif
