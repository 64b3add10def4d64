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
