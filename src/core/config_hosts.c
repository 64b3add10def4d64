/*
 * config_hosts.c - parser of the host list: hostnames, "*.suffix", IPv4,
 * IPv6 (bare or in brackets) and CIDR networks.
 *
 * Names are stored lower case without a trailing dot, and an IPv4-mapped
 * IPv6 pattern is stored as IPv4, so that the matcher compares like with like.
 */
#include "bw_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BW_ITEM_MAX 256

static int bad_host(bw_valctx *c, const char *item)
{
    return bw_valctx_fail(c, "bad value '%s' for '%s': expected a hostname, "
                          "*.suffix, IP address or CIDR", item, c->key);
}

/* True for a DNS label: 1..63 letters, digits, '-' or '_', no '-' at an end. */
static bool valid_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/*
 * Validates hostname s (one trailing dot allowed) and returns its length
 * without that dot, or 0 when it is no hostname. An all-digit last label is
 * refused: "10.0.0.256" is a mistyped address, not a name.
 */
static size_t valid_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    const char *label = s, *end = s + n;
    bool all_digits = true;
    while (label <= end) {
        const char *dot = memchr(label, '.', (size_t)(end - label));
        const char *stop = dot ? dot : end;
        if (!valid_label(label, (size_t)(stop - label)))
            return 0;
        all_digits = true;
        for (const char *p = label; p < stop; p++)
            all_digits &= isdigit((unsigned char)*p) != 0;
        label = stop + 1;
    }
    return all_digits ? 0 : n;
}

static int set_name(bw_valctx *c, const char *prefix, const char *s, size_t n,
                    bw_host_pattern *out)
{
    size_t lp = strlen(prefix);
    out->name = malloc(lp + n + 1);
    if (!out->name)
        return bw_valctx_fail(c, "out of memory");
    memcpy(out->name, prefix, lp);
    for (size_t i = 0; i < n; i++)
        out->name[lp + i] = (char)tolower((unsigned char)s[i]);
    out->name[lp + n] = '\0';
    return 0;
}

/* Parses an IPv4 or IPv6 address (no brackets) into out; -1 if neither. */
static int parse_ip(const char *s, bw_host_pattern *out)
{
    if (inet_pton(AF_INET, s, out->addr) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (strchr(s, ':') && inet_pton(AF_INET6, s, out->addr) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return -1;
}

/* Turns ::ffff:a.b.c.d (with a prefix of at least 96) into IPv4. */
static void unmap_v4(bw_host_pattern *h)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (h->family != AF_INET6 || h->prefix < 96 || memcmp(h->addr, mapped, 12))
        return;
    memmove(h->addr, h->addr + 12, 4);
    memset(h->addr + 4, 0, 12);
    h->family = AF_INET;
    h->prefix -= 96;
}

/* Clears the bits past the prefix; returns true when any was set. */
static bool mask_host_bits(bw_host_pattern *h)
{
    unsigned bytes = h->family == AF_INET ? 4 : 16;
    bool had = false;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned keep = h->prefix >= 8 * (i + 1) ? 8
                      : h->prefix > 8 * i ? h->prefix - 8 * i : 0;
        uint8_t mask = (uint8_t)(0xff00u >> keep);
        had |= (h->addr[i] & (uint8_t)~mask) != 0;
        h->addr[i] &= mask;
    }
    return had;
}

static int parse_cidr(bw_valctx *c, const char *item, const char *slash,
                      bw_host_pattern *out)
{
    char addr[BW_ITEM_MAX];
    memcpy(addr, item, (size_t)(slash - item));
    addr[slash - item] = '\0';
    if (parse_ip(addr, out) < 0)
        return bad_host(c, item);
    unsigned max = out->family == AF_INET ? 32 : 128, prefix = 0;
    const char *p = slash + 1;
    for (; *p >= '0' && *p <= '9' && prefix <= max; p++)
        prefix = prefix * 10 + (unsigned)(*p - '0');
    if (p == slash + 1 || (*p && prefix <= max))
        return bad_host(c, item);
    if (prefix > max)
        return bw_valctx_fail(c, "bad value '%s' for '%s': prefix out of range "
                              "(0..%u)", item, c->key, max);
    out->kind = BW_HOST_CIDR;
    out->prefix = (uint8_t)prefix;
    if (mask_host_bits(out) && c->warn) {
        char net[INET6_ADDRSTRLEN], msg[400];
        inet_ntop(out->family, out->addr, net, sizeof net);
        snprintf(msg, sizeof msg, "'%s' in '%s' has host bits set; using %s/%u",
                 item, c->key, net, prefix);
        c->warn(c->warn_arg, msg);
    }
    unmap_v4(out);
    return 0;
}

/* Parses one item of the host list into *out (name on the heap). */
int bw_parse_host(bw_valctx *c, const char *item, bw_host_pattern *out)
{
    char inner[BW_ITEM_MAX];
    size_t n = strlen(item);
    memset(out, 0, sizeof *out);
    if (n >= sizeof inner)
        return bad_host(c, item);
    if (item[0] == '[') {
        if (n < 3 || item[n - 1] != ']')
            return bad_host(c, item);
        memcpy(inner, item + 1, n - 2);
        inner[n - 2] = '\0';
        if (inet_pton(AF_INET6, inner, out->addr) != 1)
            return bad_host(c, item);
        out->family = AF_INET6;
    } else if (strchr(item, '/')) {
        return parse_cidr(c, item, strchr(item, '/'), out);
    } else if (parse_ip(item, out) < 0) {
        bool suffix = item[0] == '*' && item[1] == '.';
        size_t len = valid_hostname(suffix ? item + 2 : item);
        if (!len)
            return bad_host(c, item);
        out->kind = suffix ? BW_HOST_SUFFIX : BW_HOST_NAME;
        return set_name(c, suffix ? "." : "", suffix ? item + 2 : item, len, out);
    }
    out->kind = BW_HOST_IP;
    out->prefix = out->family == AF_INET ? 32 : 128;
    unmap_v4(out);
    return 0;
}

int bw_parse_hosts(bw_valctx *c, const char *s, bw_host_pattern **v, size_t *n)
{
    char item[BW_ITEM_MAX];
    int r;
    while ((r = bw_list_next(&s, item, sizeof item)) > 0) {
        bw_host_pattern h;
        if (bw_parse_host(c, item, &h) < 0)
            return -1;
        bw_host_pattern *grown = realloc(*v, (*n + 1) * sizeof **v);
        if (!grown) {
            free(h.name);
            return bw_valctx_fail(c, "out of memory");
        }
        grown[(*n)++] = h;
        *v = grown;
    }
    if (r < 0)
        return bw_valctx_fail(c, "bad value '%.40s...' for '%s': item too long",
                              s, c->key);
    return 0;
}
