/* proc.c - process identity for slot owners: the /proc parser (see bw_proc.h). */
#include <stdio.h>
#include <string.h>

#include "bw_proc.h"

uint64_t bw_proc_parse_start_time(const char *stat)
{
    const char *p = strrchr(stat, ')');   /* the command name may hold spaces and ')' */
    unsigned long long v = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu", &v) != 1)
        return 0;
    return v;
}
