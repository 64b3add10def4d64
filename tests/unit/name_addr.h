/* name_addr.h - addresses for the name-table and failover unit tests. */
#ifndef BW_TEST_NAME_ADDR_H
#define BW_TEST_NAME_ADDR_H

#include <string.h>
#include <sys/socket.h>

#include "bw_names.h"

/* 127.0.0.LAST */
static inline bw_name_addr v4(uint8_t last)
{
    bw_name_addr a;
    memset(&a, 0, sizeof a);
    a.family = AF_INET;
    a.addr[0] = 127;
    a.addr[3] = last;
    return a;
}

/* ::LAST */
static inline bw_name_addr v6(uint8_t last)
{
    bw_name_addr a;
    memset(&a, 0, sizeof a);
    a.family = AF_INET6;
    a.addr[15] = last;
    return a;
}

#endif
