/* match_addr.c - a socket address as matching and the host cache see it (see bw_match.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "bw_match.h"

/* The one sockaddr -> (family, address, port) codec; unmap: an IPv4-mapped
 * IPv6 address comes out as the IPv4 address it is. */
static bool decode(const struct sockaddr *sa, bw_ipaddr *out, bool unmap)
{
    if (!sa)
        return false;
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->family = AF_INET;
        memcpy(out->addr, &in->sin_addr, 4);
        out->port = ntohs(in->sin_port);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    out->port = ntohs(in6->sin6_port);
    if (unmap && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        out->family = AF_INET;
        memcpy(out->addr, &in6->sin6_addr.s6_addr[12], 4);
        return true;
    }
    out->family = AF_INET6;
    memcpy(out->addr, &in6->sin6_addr, 16);
    return true;
}

bool bw_ipaddr_from_sockaddr(const struct sockaddr *sa, bw_ipaddr *out)
{
    /* A dual-stack socket reaching an IPv4 host: match it as the IPv4 host it is. */
    return decode(sa, out, true);
}

bool bw_ipaddr_from_sockaddr_as_is(const struct sockaddr *sa, bw_ipaddr *out)
{
    return decode(sa, out, false);
}
