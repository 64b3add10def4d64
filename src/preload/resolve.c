/*
 * resolve.c - name resolution hooks: they only learn which hostname an
 * address came from, so that a later connect can match hostname sections.
 * Results and error codes are the real function's, untouched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "bw_hostcache.h"
#include "bw_names.h"
#include "failover.h"
#include "shim.h"

#define LEARN_MAX 64   /* addresses of one answer looked at for failover */

/* True when name is an address literal, not a hostname worth remembering. */
static bool is_literal(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static void learn_addrinfo(const char *node, const struct addrinfo *ai)
{
    if (!node || is_literal(node))
        return;
    const struct sockaddr *all[LEARN_MAX];   /* each address comes once per socket type */
    unsigned n = 0;
    for (; ai; ai = ai->ai_next)
        if (ai->ai_addr && (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)) {
            bw_hostcache_put(ai->ai_addr, node);
            if (n < LEARN_MAX)
                all[n++] = ai->ai_addr;
        }
    bw_failover_learn(node, all, n);
}

static void learn_hostent(const char *name, const struct hostent *h)
{
    if (!name || !h || !h->h_addr_list || is_literal(name))
        return;
    struct sockaddr_storage kept[BW_NAMES_ADDRS];
    const struct sockaddr *all[BW_NAMES_ADDRS];
    unsigned n = 0;
    for (char **a = h->h_addr_list; *a; a++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (h->h_addrtype == AF_INET && h->h_length == 4) {
            struct sockaddr_in *in = (void *)&ss;
            in->sin_family = AF_INET;
            memcpy(&in->sin_addr, *a, 4);
        } else if (h->h_addrtype == AF_INET6 && h->h_length == 16) {
            struct sockaddr_in6 *in6 = (void *)&ss;
            in6->sin6_family = AF_INET6;
            memcpy(&in6->sin6_addr, *a, 16);
        } else {
            continue;
        }
        bw_hostcache_put((struct sockaddr *)&ss, name);
        if (n < BW_NAMES_ADDRS) {
            kept[n] = ss;
            all[n] = (const struct sockaddr *)&kept[n];
            n++;
        }
    }
    bw_failover_learn(name, all, n);
}

BW_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    bw_shim_init();
    int ret = bw_real.getaddrinfo(node, service, hints, res);
    if (ret == 0 && !atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        int saved = errno;
        learn_addrinfo(node, *res);
        if (node && !is_literal(node))
            bw_failover_sort(node, res);
        errno = saved;
    }
    return ret;
}

BW_EXPORT struct hostent *gethostbyname(const char *name)
{
    bw_shim_init();
    struct hostent *h = bw_real.gethostbyname(name);
    if (h && !atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        int saved = errno;
        learn_hostent(name, h);
        errno = saved;
    }
    return h;
}

BW_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
    bw_shim_init();
    struct hostent *h = bw_real.gethostbyname2(name, af);
    if (h && !atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        int saved = errno;
        learn_hostent(name, h);
        errno = saved;
    }
    return h;
}

BW_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
                              struct hostent **result, int *h_errnop)
{
    bw_shim_init();
    int rc = bw_real.gethostbyname_r(name, ret, buf, len, result, h_errnop);
    if (rc == 0 && result && *result && !atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        int saved = errno;
        learn_hostent(name, *result);
        errno = saved;
    }
    return rc;
}

BW_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                               size_t len, struct hostent **result, int *h_errnop)
{
    bw_shim_init();
    int rc = bw_real.gethostbyname2_r(name, af, ret, buf, len, result, h_errnop);
    if (rc == 0 && result && *result && !atomic_load_explicit(&bw_disabled, memory_order_relaxed)) {
        int saved = errno;
        learn_hostent(name, *result);
        errno = saved;
    }
    return rc;
}
