/* sibling.c - failover's decisions (see bw_sibling.h). */
#include <string.h>

#include "bw_sibling.h"

unsigned bw_sibling_list(const bw_name_addr *all, unsigned n_all, const bw_name_addr *me,
                         bw_name_addr *sib, unsigned *at)
{
    unsigned n = 0;
    *at = 0;
    for (unsigned i = 0; i < n_all; i++) {
        if (all[i].family != me->family)
            continue;
        if (memcmp(&all[i], me, sizeof *me) == 0)
            *at = n;
        sib[n++] = all[i];
    }
    return n;
}

bool bw_sibling_may_move(const bool *ejected, unsigned n, unsigned at, bool retry,
                         unsigned max_percent, unsigned *n_out)
{
    unsigned out = retry ? 0 : 1;
    for (unsigned i = 0; i < n; i++)
        out += i != at && ejected[i];
    if (n_out)
        *n_out = out;
    return retry || (uint64_t)out * 100 <= (uint64_t)max_percent * n;
}

unsigned bw_sibling_order(const bool *ejected, unsigned n, unsigned at, unsigned *order)
{
    unsigned k = 0;
    for (unsigned i = 1; i < n; i++) {
        unsigned j = (at + i) % n;
        if (!ejected[j])
            order[k++] = j;
    }
    return k;
}
