/*
 * bw_sibling.h - failover's decisions (SPEC section 9): which addresses of
 * a name are siblings of the one a connect goes to, whether routing around
 * it keeps the name within failover_max_ejected_percent, and in which order
 * the healthy siblings are tried (each retry the next one, as Envoy's
 * previous_hosts).
 *
 * Pure arithmetic: the shell gathers the inputs (the name's addresses from
 * bw_names.h, each sibling's breaker verdict from the state) and acts on the
 * answer (moves the connect, admits it through the breaker). The two asked
 * on every failover are inline.
 */
#ifndef BW_SIBLING_H
#define BW_SIBLING_H

#include <stdbool.h>
#include <stdint.h>

#include "bw_names.h"

/*
 * The siblings of me among a name's addresses all[0..n_all): those of me's
 * family, in the resolver's order, copied into sib (room for n_all).
 * *at is me's index among them (0 when me is not one of them). Returns how
 * many there are.
 */
unsigned bw_sibling_list(const bw_name_addr *all, unsigned n_all, const bw_name_addr *me,
                         bw_name_addr *sib, unsigned *at);

/*
 * Whether the connect on sibling at may be routed around. ejected[i] says
 * that sibling i's breaker keeps calls out (ejected[at] is not read). A
 * first attempt (retry false) ejects at itself, so it counts, and it may
 * move only while at most max_percent of the n siblings are then ejected; a
 * retry leaves an address whose attempt already failed, which ejects
 * nothing, so it may always move. *n_out (may be NULL) gets the count.
 */
static inline bool bw_sibling_may_move(const bool *ejected, unsigned n, unsigned at, bool retry,
                                       unsigned max_percent, unsigned *n_out)
{
    unsigned out = retry ? 0 : 1;
    for (unsigned i = 0; i < n; i++)
        out += i != at && ejected[i];
    if (n_out)
        *n_out = out;
    return retry || (uint64_t)out * 100 <= (uint64_t)max_percent * n;
}

/*
 * The siblings to try instead of at, in order: those after it in the
 * resolver's order, wrapping around, the ejected ones left out. Writes
 * their indices into order (room for n) and returns how many.
 */
static inline unsigned bw_sibling_order(const bool *ejected, unsigned n, unsigned at,
                                        unsigned *order)
{
    unsigned k = 0, j = n ? at % n : 0;   /* one division: (at + i) % n, stepped */
    for (unsigned i = 1; i < n; i++) {
        if (++j == n)
            j = 0;
        if (!ejected[j])
            order[k++] = j;
    }
    return k;
}

#endif
