/* test_match.c - destination matching: precedence table, edge cases, 10,000 sections. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "bw_match.h"
#include "bw_state.h"
#include "bw_test.h"

/* A section as the tests write it: comma-separated hosts and ports. */
struct sect {
    const char *name;
    const char *hosts;
    const char *ports;   /* NULL: any port */
};

/* Test-side stand-in for the config parser (kept here so this test needs only match). */
static void parse_host(const char *item, bw_host_pattern *p)
{
    memset(p, 0, sizeof *p);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", item);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, p->addr) == 1)
        p->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, p->addr) == 1)
        p->family = AF_INET6;
    if (p->family) {
        p->kind = slash ? BW_HOST_CIDR : BW_HOST_IP;
        p->prefix = (uint8_t)(slash ? atoi(slash + 1) : p->family == AF_INET ? 32 : 128);
    } else if (strncmp(item, "*.", 2) == 0) {
        p->kind = BW_HOST_SUFFIX;
        p->name = strdup(item + 1);
    } else {
        p->kind = BW_HOST_NAME;
        p->name = strdup(item);
    }
}

static void parse_ports(const char *s, bw_dest *d)
{
    d->ports = calloc(16, sizeof *d->ports);
    for (char *end; *s; s = end + (*end == ',')) {
        unsigned long lo = strtoul(s, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtoul(end + 1, &end, 10);
        d->ports[d->n_ports++] = (bw_port_range){(uint16_t)lo, (uint16_t)hi};
        while (*end == ' ')
            end++;
    }
}

static bw_dest *make_dests(const struct sect *s, size_t n)
{
    bw_dest *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        snprintf(d[i].name, sizeof d[i].name, "%s", s[i].name);
        d[i].hosts = calloc(8, sizeof *d[i].hosts);
        char buf[256];
        snprintf(buf, sizeof buf, "%s", s[i].hosts);
        char *save = NULL;
        for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
            parse_host(t, &d[i].hosts[d[i].n_hosts++]);
        if (s[i].ports)
            parse_ports(s[i].ports, &d[i]);
    }
    return d;
}

static void free_dests(bw_dest *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t h = 0; h < d[i].n_hosts; h++)
            free(d[i].hosts[h].name);
        free(d[i].hosts);
        free(d[i].ports);
    }
    free(d);
}

static const struct sockaddr *make_sa(const char *ip, uint16_t port,
                                      struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
    } else {
        CU_ASSERT_FATAL(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    }
    return (const struct sockaddr *)ss;
}

static const struct sect table_sects[] = {
    {"cidr8", "10.0.0.0/8", NULL},
    {"cidr16", "10.1.0.0/16", NULL},
    {"cidr24_ports", "10.1.2.0/24", "443"},
    {"suffix_short", "*.example.com", NULL},
    {"suffix_long", "*.api.example.com", NULL},
    {"exact_name", "db.api.example.com", NULL},
    {"exact_ip", "10.1.2.3", NULL},
    {"exact_name_ports", "db.api.example.com", "5432"},
    {"suffix_long_ports", "*.api.example.com", "8000-8099"},
    {"dup_first", "dup.test", NULL},
    {"dup_second", "dup.test", NULL},
    {"v6_exact", "2001:db8::1", NULL},
    {"v6_cidr32", "2001:db8::/32", NULL},
    {"v6_cidr64", "2001:db8:0:1::/64", NULL},
    {"mapped_pat", "::ffff:192.168.1.0/120", NULL},
    {"v4_any", "0.0.0.0/0", "9999"},
    {"multi", "multi.test, 172.16.0.0/12", NULL},
    {"ranges", "203.0.113.0/24", "1000-1999, 3000, 65535"},
    {"v6_any", "::/0", "9999"},
    {"cidr24_noports", "10.1.2.0/24", NULL},
    {"upper", "Mixed.Case.TEST", NULL},
    {"both_ports", "both.test", "7000"},
    {"both_ip_ports", "198.51.100.7", "7000"},
    {"early_ip", "198.51.100.8", NULL},
    {"late_name_ports", "late.test", "80"},
};
#define N_TABLE (sizeof table_sects / sizeof table_sects[0])

struct row {
    const char *host;
    const char *addr;
    uint16_t port;
    const char *want;   /* NULL: no section (-1) */
};

static const struct row table_rows[] = {
    /* exact name vs suffix vs CIDR, and ports at equal specificity */
    {"db.api.example.com", "10.9.9.9", 5432, "exact_name_ports"},
    {"db.api.example.com", "10.9.9.9", 80, "exact_name"},
    {"db.api.example.com", "10.1.2.3", 80, "exact_name"},        /* name vs IP: file order */
    {"db.api.example.com", "10.1.2.3", 5432, "exact_name_ports"},
    {"both.test", "198.51.100.7", 7000, "both_ports"},            /* both with ports: first */
    {"late.test", "198.51.100.8", 80, "late_name_ports"},         /* ports beat file order */
    {"late.test", "198.51.100.8", 81, "early_ip"},
    /* suffixes: longer first, ports, boundaries, never the bare domain */
    {"x.api.example.com", "10.9.9.9", 80, "suffix_long"},
    {"x.api.example.com", "10.9.9.9", 8050, "suffix_long_ports"},
    {"x.y.api.example.com", "10.9.9.9", 7999, "suffix_long"},
    {"x.y.api.example.com", "10.9.9.9", 8000, "suffix_long_ports"},
    {"x.y.api.example.com", "10.9.9.9", 8099, "suffix_long_ports"},
    {"x.y.api.example.com", "10.9.9.9", 8100, "suffix_long"},
    {"api.example.com", "10.200.0.1", 80, "suffix_short"},
    {"www.example.com", "10.1.5.5", 80, "suffix_short"},
    {"example.com", "10.1.5.5", 80, "cidr16"},
    {".example.com", "192.0.2.1", 80, NULL},
    {"www.example.com", "10.1.2.3", 80, "exact_ip"},             /* exact IP beats suffix */
    /* CIDRs: longer prefix first, ports, /0 */
    {NULL, "10.1.2.3", 80, "exact_ip"},
    {NULL, "10.1.2.4", 443, "cidr24_ports"},
    {NULL, "10.1.2.4", 80, "cidr24_noports"},
    {NULL, "10.1.9.9", 443, "cidr16"},
    {NULL, "10.200.0.1", 80, "cidr8"},
    {NULL, "11.0.0.1", 80, NULL},
    {NULL, "11.0.0.1", 9999, "v4_any"},
    {NULL, "203.0.113.5", 9999, "v4_any"},
    {"unknown.org", "11.0.0.1", 80, NULL},
    /* ties, case, trailing dot, unknown host */
    {"dup.test", "192.0.2.1", 80, "dup_first"},
    {"DUP.Test.", "192.0.2.1", 80, "dup_first"},
    {"mixed.case.test", "192.0.2.1", 80, "upper"},
    {"www.EXAMPLE.com.", "192.0.2.1", 80, "suffix_short"},
    {NULL, "192.0.2.1", 80, NULL},
    {"", "192.0.2.1", 80, NULL},
    {"multi.test", "192.0.2.1", 80, "multi"},
    {NULL, "172.20.0.1", 80, "multi"},
    /* IPv6 */
    {NULL, "2001:db8::1", 80, "v6_exact"},
    {NULL, "2001:db8:0:1::5", 80, "v6_cidr64"},
    {NULL, "2001:db8:ffff::1", 80, "v6_cidr32"},
    {NULL, "2001:db9::1", 80, NULL},
    {NULL, "2001:db9::1", 9999, "v6_any"},
    /* IPv4-mapped IPv6 matches as IPv4 */
    {NULL, "::ffff:10.1.2.3", 80, "exact_ip"},
    {NULL, "::ffff:10.1.2.4", 443, "cidr24_ports"},
    {NULL, "::ffff:192.168.1.7", 80, "mapped_pat"},
    {NULL, "192.168.1.7", 80, "mapped_pat"},
    {NULL, "::ffff:11.0.0.1", 9999, "v4_any"},
    {"dup.test", "::ffff:192.0.2.1", 80, "dup_first"},
    /* port ranges: boundaries */
    {NULL, "203.0.113.5", 999, NULL},
    {NULL, "203.0.113.5", 1000, "ranges"},
    {NULL, "203.0.113.5", 1999, "ranges"},
    {NULL, "203.0.113.5", 2000, NULL},
    {NULL, "203.0.113.5", 3000, "ranges"},
    {NULL, "203.0.113.5", 3001, NULL},
    {NULL, "203.0.113.5", 65535, "ranges"},
};

static void test_precedence_table(void)
{
    bw_dest *d = make_dests(table_sects, N_TABLE);
    struct bw_match *m = bw_match_build(d, N_TABLE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (size_t i = 0; i < sizeof table_rows / sizeof table_rows[0]; i++) {
        const struct row *r = &table_rows[i];
        struct sockaddr_storage ss;
        long got = bw_match_lookup(m, r->host, make_sa(r->addr, r->port, &ss));
        const char *name = got >= 0 ? d[got].name : NULL;
        bool ok = (name && r->want) ? strcmp(name, r->want) == 0 : name == r->want;
        if (!ok)
            printf("\n  row %zu: %s %s:%u -> %s, want %s", i, r->host ? r->host : "(null)",
                   r->addr, r->port, name ? name : "-1", r->want ? r->want : "-1");
        CU_ASSERT(ok);
    }
    bw_match_free(m);
    free_dests(d, N_TABLE);
}

static void test_empty_and_bad_input(void)
{
    struct sockaddr_storage ss;
    const struct sockaddr *sa = make_sa("10.0.0.1", 80, &ss);
    struct bw_match *m = bw_match_build(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "a.example.com", sa), -1);
    bw_match_free(m);
    bw_match_free(NULL);
    CU_ASSERT_EQUAL(bw_match_lookup(NULL, "a.example.com", sa), -1);

    static const struct sect any[] = {{"all", "0.0.0.0/0, ::/0, a.test", NULL}};
    bw_dest *d = make_dests(any, 1);
    m = bw_match_build(d, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    CU_ASSERT_EQUAL(bw_match_lookup(m, "a.test", (struct sockaddr *)&un), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "a.test", NULL), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, NULL, make_sa("::1", 1, &ss)), 0);
    CU_ASSERT_EQUAL(bw_match_lookup(m, NULL, make_sa("255.255.255.255", 0, &ss)), 0);
    bw_match_free(m);
    free_dests(d, 1);
}

/* Two sections holding the same host, one of them twice: each listed once, in order. */
static void test_same_host_many_sections(void)
{
    static const struct sect s[] = {
        {"p1", "h.test, h.test", "1"},
        {"p2", "H.TEST.", "2"},
        {"any", "h.test", NULL},
        {"p3", "h.test", "3"},
    };
    bw_dest *d = make_dests(s, 4);
    struct bw_match *m = bw_match_build(d, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    struct sockaddr_storage ss;
    CU_ASSERT_EQUAL(bw_match_lookup(m, "h.test", make_sa("192.0.2.1", 1, &ss)), 0);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "h.test", make_sa("192.0.2.1", 2, &ss)), 1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "h.test", make_sa("192.0.2.1", 3, &ss)), 3);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "h.test", make_sa("192.0.2.1", 4, &ss)), 2);
    bw_match_free(m);
    free_dests(d, 4);
}

static void test_ipaddr_from_sockaddr(void)
{
    struct sockaddr_storage ss;
    bw_ipaddr a;
    CU_ASSERT_FATAL(bw_ipaddr_from_sockaddr(make_sa("::ffff:1.2.3.4", 8080, &ss), &a));
    CU_ASSERT_EQUAL(a.family, AF_INET);
    CU_ASSERT_EQUAL(a.port, 8080);
    static const uint8_t v4[16] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL(memcmp(a.addr, v4, 16), 0);
    CU_ASSERT_FATAL(bw_ipaddr_from_sockaddr(make_sa("fe80::2", 1, &ss), &a));
    CU_ASSERT_EQUAL(a.family, AF_INET6);
    CU_ASSERT_EQUAL(a.addr[0], 0xfe);
    CU_ASSERT_EQUAL(a.addr[15], 2);
    CU_ASSERT_FALSE(bw_ipaddr_from_sockaddr(NULL, &a));
    /* As given: the mapped address stays IPv6, and formats as it was given. */
    CU_ASSERT_FATAL(bw_ipaddr_from_sockaddr_as_is(make_sa("::ffff:1.2.3.4", 8080, &ss), &a));
    CU_ASSERT_EQUAL(a.family, AF_INET6);
    CU_ASSERT_EQUAL(a.port, 8080);
    CU_ASSERT_EQUAL(a.addr[10], 0xff);
    CU_ASSERT_EQUAL(a.addr[12], 1);
    char text[64];
    bw_format_key_addr((uint8_t)a.family, a.addr, a.port, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "[::ffff:1.2.3.4]:8080");
    CU_ASSERT_FATAL(bw_ipaddr_from_sockaddr(make_sa("::ffff:1.2.3.4", 8080, &ss), &a));
    bw_format_key_addr((uint8_t)a.family, a.addr, a.port, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "1.2.3.4:8080");
    CU_ASSERT_FALSE(bw_ipaddr_from_sockaddr_as_is(NULL, &a));
}

/* ---- 10,000 generated sections ---- */

#define N_BIG 10000

/* Section i's host pattern and a (host, address, port) that only it matches. */
static void big_section(int i, char *pattern, size_t plen, char *host, size_t hlen,
                        char *addr, size_t alen)
{
    snprintf(addr, alen, "192.0.2.1");
    switch (i % 8) {
    case 0: case 4:
        snprintf(pattern, plen, "svc-%d.example.com", i);
        snprintf(host, hlen, "svc-%d.example.com", i);
        break;
    case 1: case 5:
        snprintf(pattern, plen, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        snprintf(addr, alen, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        host[0] = '\0';
        break;
    case 2:
        snprintf(pattern, plen, "100.%d.%d.0/24", i >> 8, i & 255);
        snprintf(addr, alen, "100.%d.%d.77", i >> 8, i & 255);
        snprintf(host, hlen, "unrelated-%d.test", i);
        break;
    case 6:
        snprintf(pattern, plen, "fd00:%x::/48", i);
        snprintf(addr, alen, "fd00:%x::1234", i);
        host[0] = '\0';
        break;
    default:
        snprintf(pattern, plen, "*.zone-%d.example.com", i);
        snprintf(host, hlen, "host-%d.zone-%d.example.com", i, i);
        break;
    }
}

struct big {
    bw_dest *d;
    char (*hosts)[64];
    struct sockaddr_storage *sas;
};

static struct big make_big(void)
{
    static struct sect s[N_BIG];
    static char patterns[N_BIG][64], names[N_BIG][16];
    struct big b = {.hosts = calloc(N_BIG, sizeof *b.hosts),
                    .sas = calloc(N_BIG, sizeof *b.sas)};
    for (int i = 0; i < N_BIG; i++) {
        char addr[64];
        big_section(i, patterns[i], sizeof patterns[i], b.hosts[i], sizeof b.hosts[i],
                    addr, sizeof addr);
        snprintf(names[i], sizeof names[i], "s%d", i);
        s[i] = (struct sect){names[i], patterns[i], i % 5 == 0 ? "443" : NULL};
        make_sa(addr, 443, &b.sas[i]);
    }
    b.d = make_dests(s, N_BIG);
    return b;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_ten_thousand_sections(void)
{
    struct big b = make_big();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct bw_match *m = bw_match_build(b.d, N_BIG);
    double build_ms = ms_since(&t0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);

    int wrong = 0;
    for (int i = 0; i < N_BIG; i++) {
        const char *h = b.hosts[i][0] ? b.hosts[i] : NULL;
        if (bw_match_lookup(m, h, (struct sockaddr *)&b.sas[i]) != i)
            wrong++;
    }
    CU_ASSERT_EQUAL(wrong, 0);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    long sum = 0;
    for (int n = 0; n < 100000; n++) {
        int i = (int)((n * 7919u) % N_BIG);
        sum += bw_match_lookup(m, b.hosts[i][0] ? b.hosts[i] : NULL,
                               (struct sockaddr *)&b.sas[i]);
    }
    double lookup_ms = ms_since(&t0);
    long want = 0;
    for (int n = 0; n < 100000; n++)
        want += (long)((n * 7919u) % N_BIG);
    CU_ASSERT_EQUAL(sum, want);
    printf("\n  10000 sections: build %.1f ms, 100000 lookups %.1f ms ", build_ms, lookup_ms);

    struct sockaddr_storage ss;
    CU_ASSERT_EQUAL(bw_match_lookup(m, "svc-10001.example.com", make_sa("192.0.2.1", 443, &ss)), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "x.zone-99999.example.com", make_sa("192.0.2.1", 443, &ss)), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, NULL, make_sa("10.200.0.1", 443, &ss)), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, NULL, make_sa("100.200.200.1", 443, &ss)), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, NULL, make_sa("fd01::1", 443, &ss)), -1);
    /* every fifth section has port 443 only */
    CU_ASSERT_EQUAL(bw_match_lookup(m, "svc-0.example.com", make_sa("192.0.2.1", 80, &ss)), -1);
    CU_ASSERT_EQUAL(bw_match_lookup(m, "svc-4.example.com", make_sa("192.0.2.1", 80, &ss)), 4);

    bw_match_free(m);
    free_dests(b.d, N_BIG);
    free(b.hosts);
    free(b.sas);
}

static const bw_test_case match_cases[] = {
    {"precedence table", test_precedence_table},
    {"empty index and bad input", test_empty_and_bad_input},
    {"one host in many sections", test_same_host_many_sections},
    {"sockaddr to matched address", test_ipaddr_from_sockaddr},
    {"10,000 sections", test_ten_thousand_sections},
    {NULL, NULL},
};

BW_TEST_MAIN({"match", match_cases})
