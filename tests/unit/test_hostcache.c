/* test_hostcache.c - the process-wide address -> hostname cache. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/un.h>

#include "bw_hostcache.h"
#include "bw_test.h"

static const struct sockaddr *sa_of(const char *ip, uint16_t port, struct sockaddr_storage *ss)
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

/* IPv4 address number i (i < 2^24) in 10.0.0.0/8, port 80. */
static const struct sockaddr *sa_num(unsigned i, struct sockaddr_storage *ss)
{
    char ip[32];
    snprintf(ip, sizeof ip, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    return sa_of(ip, 80, ss);
}

static void put(const char *ip, const char *host)
{
    struct sockaddr_storage ss;
    bw_hostcache_put(sa_of(ip, 1234, &ss), host);
}

/* The name cached for ip as a static string, "" when none. */
static const char *get(const char *ip)
{
    static char out[BW_HOSTCACHE_NAMELEN];
    struct sockaddr_storage ss;
    if (!bw_hostcache_get(sa_of(ip, 4321, &ss), out, sizeof out))
        return "";
    return out;
}

static void test_put_get(void)
{
    bw_hostcache_reset();
    put("192.0.2.1", "a.example.com");
    put("2001:db8::1", "six.example.com");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), "a.example.com");   /* other port */
    CU_ASSERT_STRING_EQUAL(get("2001:db8::1"), "six.example.com");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.2"), "");
    CU_ASSERT_STRING_EQUAL(get("2001:db8::2"), "");
    put("192.0.2.3", "Mixed.Case.");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.3"), "Mixed.Case.");        /* stored as given */
}

static void test_overwrite(void)
{
    bw_hostcache_reset();
    put("192.0.2.1", "old.example.com");
    put("192.0.2.1", "new.example.com");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), "new.example.com");
    put("192.0.2.1", "x");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), "x");
}

static void fill(unsigned from, unsigned count)
{
    for (unsigned i = from; i < from + count; i++) {
        char name[32];
        struct sockaddr_storage ss;
        snprintf(name, sizeof name, "h%u", i);
        bw_hostcache_put(sa_num(i, &ss), name);
    }
}

static bool has(unsigned i, const char *want)
{
    char out[64];
    struct sockaddr_storage ss;
    return bw_hostcache_get(sa_num(i, &ss), out, sizeof out) && strcmp(out, want) == 0;
}

static void test_eviction(void)
{
    bw_hostcache_reset();
    fill(0, BW_HOSTCACHE_ENTRIES);
    unsigned present = 0;
    for (unsigned i = 0; i < BW_HOSTCACHE_ENTRIES; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%u", i);
        present += has(i, name);
    }
    CU_ASSERT_EQUAL(present, BW_HOSTCACHE_ENTRIES);

    fill(BW_HOSTCACHE_ENTRIES, 1);           /* full: the oldest (0) goes */
    CU_ASSERT_FALSE(has(0, "h0"));
    CU_ASSERT_TRUE(has(1, "h1"));
    CU_ASSERT_TRUE(has(BW_HOSTCACHE_ENTRIES, "h4096"));

    struct sockaddr_storage ss;
    bw_hostcache_put(sa_num(1, &ss), "renewed");   /* 1 is now the newest */
    fill(BW_HOSTCACHE_ENTRIES + 1, 1);       /* so 2 goes, not 1 */
    CU_ASSERT_TRUE(has(1, "renewed"));
    CU_ASSERT_FALSE(has(2, "h2"));
    CU_ASSERT_TRUE(has(3, "h3"));
    fill(BW_HOSTCACHE_ENTRIES + 2, 1);
    CU_ASSERT_FALSE(has(3, "h3"));
    CU_ASSERT_TRUE(has(1, "renewed"));
}

static void test_mapped(void)
{
    bw_hostcache_reset();
    put("::ffff:192.0.2.7", "mapped.example.com");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.7"), "mapped.example.com");
    CU_ASSERT_STRING_EQUAL(get("::ffff:192.0.2.7"), "mapped.example.com");
    put("192.0.2.8", "plain.example.com");
    CU_ASSERT_STRING_EQUAL(get("::ffff:192.0.2.8"), "plain.example.com");
    CU_ASSERT_STRING_EQUAL(get("::192.0.2.8"), "");   /* IPv4-compatible is not mapped */
}

static void test_long_and_bad_names(void)
{
    bw_hostcache_reset();
    char name[BW_HOSTCACHE_NAMELEN + 1];
    memset(name, 'a', sizeof name - 1);
    name[BW_HOSTCACHE_NAMELEN - 1] = '\0';            /* 255 characters: fits */
    put("192.0.2.1", name);
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), name);
    name[BW_HOSTCACHE_NAMELEN - 1] = 'a';
    name[BW_HOSTCACHE_NAMELEN] = '\0';                /* 256: not stored */
    put("192.0.2.2", name);
    CU_ASSERT_STRING_EQUAL(get("192.0.2.2"), "");
    put("192.0.2.3", "short.test");
    put("192.0.2.3", name);                            /* keeps the earlier name */
    CU_ASSERT_STRING_EQUAL(get("192.0.2.3"), "short.test");
    put("192.0.2.4", "");
    put("192.0.2.4", NULL);
    CU_ASSERT_STRING_EQUAL(get("192.0.2.4"), "");

    char out[11];
    struct sockaddr_storage ss;
    CU_ASSERT_TRUE(bw_hostcache_get(sa_of("192.0.2.3", 1, &ss), out, 11));
    CU_ASSERT_STRING_EQUAL(out, "short.test");
    CU_ASSERT_FALSE(bw_hostcache_get(sa_of("192.0.2.3", 1, &ss), out, 10));

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    bw_hostcache_put((struct sockaddr *)&un, "unix.test");
    CU_ASSERT_FALSE(bw_hostcache_get((struct sockaddr *)&un, out, sizeof out));
    CU_ASSERT_FALSE(bw_hostcache_get(NULL, out, sizeof out));
}

static void test_reset(void)
{
    bw_hostcache_reset();
    put("192.0.2.1", "a.test");
    put("2001:db8::1", "b.test");
    bw_hostcache_reset();
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), "");
    CU_ASSERT_STRING_EQUAL(get("2001:db8::1"), "");
    put("192.0.2.1", "c.test");
    CU_ASSERT_STRING_EQUAL(get("192.0.2.1"), "c.test");
    /* after a reset the whole capacity is there again, and only it */
    bw_hostcache_reset();
    fill(100, BW_HOSTCACHE_ENTRIES);
    CU_ASSERT_TRUE(has(100, "h100"));
    fill(0, 1);
    CU_ASSERT_FALSE(has(100, "h100"));
    CU_ASSERT_TRUE(has(101, "h101"));
}

/* ---- threads ---- */

#define N_THREADS 4
#define N_OPS 20000
#define N_ADDRS 6000   /* more than fit, so eviction runs under contention */

struct worker {
    unsigned id;
    unsigned bad;      /* gets that returned a name never put for that address */
    unsigned hits;
};

/* Names put for address i all start "n<i>-", whatever thread put them. */
static bool name_is_for(const char *name, unsigned i)
{
    char want[16];
    int n = snprintf(want, sizeof want, "n%u-", i);
    return strncmp(name, want, (size_t)n) == 0;
}

static void *stress(void *arg)
{
    struct worker *w = arg;
    uint32_t x = 2463534242u + w->id * 7919u;
    for (unsigned op = 0; op < N_OPS; op++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        unsigned i = x % N_ADDRS;
        struct sockaddr_storage ss;
        const struct sockaddr *sa = sa_num(i, &ss);
        if (x & 0x100) {
            char name[48];
            snprintf(name, sizeof name, "n%u-t%u-%u", i, w->id, op);
            bw_hostcache_put(sa, name);
        } else {
            char out[BW_HOSTCACHE_NAMELEN];
            if (bw_hostcache_get(sa, out, sizeof out)) {
                w->hits++;
                w->bad += !name_is_for(out, i);
            }
        }
    }
    return NULL;
}

static void test_threads(void)
{
    bw_hostcache_reset();
    pthread_t t[N_THREADS];
    struct worker w[N_THREADS];
    for (unsigned k = 0; k < N_THREADS; k++) {
        w[k] = (struct worker){.id = k};
        CU_ASSERT_FATAL(pthread_create(&t[k], NULL, stress, &w[k]) == 0);
    }
    unsigned bad = 0, hits = 0;
    for (unsigned k = 0; k < N_THREADS; k++) {
        pthread_join(t[k], NULL);
        bad += w[k].bad;
        hits += w[k].hits;
    }
    CU_ASSERT_EQUAL(bad, 0);
    printf("\n  %u threads x %u ops: %u hits ", N_THREADS, N_OPS, hits);

    /* the structure is intact: what survived is valid and no more than fits */
    unsigned present = 0;
    for (unsigned i = 0; i < N_ADDRS; i++) {
        char out[BW_HOSTCACHE_NAMELEN];
        struct sockaddr_storage ss;
        if (bw_hostcache_get(sa_num(i, &ss), out, sizeof out)) {
            present++;
            CU_ASSERT(name_is_for(out, i));
        }
    }
    CU_ASSERT(present > 0 && present <= BW_HOSTCACHE_ENTRIES);
    /* and a full round of fresh puts replaces all of it */
    fill(1u << 20, BW_HOSTCACHE_ENTRIES);
    unsigned old = 0, fresh = 0;
    for (unsigned i = 0; i < N_ADDRS; i++) {
        char out[BW_HOSTCACHE_NAMELEN];
        struct sockaddr_storage ss;
        old += bw_hostcache_get(sa_num(i, &ss), out, sizeof out);
    }
    for (unsigned i = 1u << 20; i < (1u << 20) + BW_HOSTCACHE_ENTRIES; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%u", i);
        fresh += has(i, name);
    }
    CU_ASSERT_EQUAL(old, 0);
    CU_ASSERT_EQUAL(fresh, BW_HOSTCACHE_ENTRIES);
}

/* The generation moves when an address's name changes or goes, and only then. */
static void test_generation(void)
{
    bw_hostcache_reset();
    unsigned g = bw_hostcache_generation();
    put("10.9.0.1", "a.test");
    CU_ASSERT_NOT_EQUAL(bw_hostcache_generation(), g);   /* a new address */
    g = bw_hostcache_generation();
    put("10.9.0.1", "a.test");                              /* renewed as it was */
    CU_ASSERT_EQUAL(bw_hostcache_generation(), g);
    put("10.9.0.1", "b.test");
    CU_ASSERT_NOT_EQUAL(bw_hostcache_generation(), g);
    g = bw_hostcache_generation();
    fill(0, BW_HOSTCACHE_ENTRIES);                          /* 10.9.0.1 evicted */
    CU_ASSERT_NOT_EQUAL(bw_hostcache_generation(), g);
    g = bw_hostcache_generation();
    bw_hostcache_reset();
    CU_ASSERT_NOT_EQUAL(bw_hostcache_generation(), g);
}

static const bw_test_case hostcache_cases[] = {
    {"put and get", test_put_get},
    {"overwrite", test_overwrite},
    {"eviction when full", test_eviction},
    {"IPv4-mapped addresses", test_mapped},
    {"long, empty and bad names", test_long_and_bad_names},
    {"reset", test_reset},
    {"threads", test_threads},
    {"generation", test_generation},
    {NULL, NULL},
};

BW_TEST_MAIN({"hostcache", hostcache_cases})
