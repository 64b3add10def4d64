/*
 * test_config.c - the INI loader and validator: every value parser at its
 * boundaries, every error class with its exact message and line, [defaults]
 * inheritance, file-level checks, the example config, and 10,000 sections.
 */
#include "bw_config.h"
#include "bw_match.h"
#include "bw_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

struct diag {
    int line;
    enum bw_diag_severity sev;
    char msg[1024];
};
static struct diag diags[64];
static int n_diags;

static void collect(void *ctx, const char *file, int line,
                    enum bw_diag_severity sev, const char *msg)
{
    (void)ctx, (void)file;
    if (n_diags < 64) {
        diags[n_diags].line = line;
        diags[n_diags].sev = sev;
        snprintf(diags[n_diags].msg, sizeof diags[0].msg, "%s", msg);
    }
    n_diags++;
}

static char tmpdir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_tmpdir(void)
{
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Returns the path of name in the test directory (made on first use). */
static const char *tmp_path(const char *name)
{
    static char path[256];
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/bw_test_config.XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
        atexit(rm_tmpdir);
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static const char *write_file(const char *name, const char *data, size_t len, mode_t mode)
{
    const char *path = tmp_path(name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
    close(fd);
    CU_ASSERT_FATAL(chmod(path, mode) == 0);
    return path;
}

/* Loads text as a 0644 file; diagnostics land in diags[]. */
static int load_text(const char *text, bw_config **cfg)
{
    const char *path = write_file("t.ini", text, strlen(text), 0644);
    n_diags = 0;
    return bw_config_load(path, cfg, collect, NULL);
}

/* Loads text; asserts it fails with exactly one error, at line, saying msg. */
static void expect_error(const char *text, int line, const char *msg)
{
    bw_config *cfg = (bw_config *)1;
    int r = load_text(text, &cfg);
    CU_ASSERT_EQUAL(r, -1);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(n_diags, 1);
    for (int i = 1; i < n_diags && i < 64; i++)
        printf("\n  extra %d: %s\n", diags[i].line, diags[i].msg);
    if (n_diags < 1)
        return;
    CU_ASSERT_EQUAL(diags[0].sev, BW_DIAG_ERROR);
    CU_ASSERT_EQUAL(diags[0].line, line);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, msg);
    if (strcmp(diags[0].msg, msg) || diags[0].line != line)
        printf("\n  got %d: %s\n  expected %d: %s\n", diags[0].line,
               diags[0].msg, line, msg);
}

/* Loads text that must be valid with no diagnostics; returns the config. */
static bw_config *load_ok(const char *text)
{
    bw_config *cfg = NULL;
    int r = load_text(text, &cfg);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(n_diags, 0);
    for (int i = 0; i < n_diags && i < 64; i++)
        printf("\n  unexpected %d: %s\n", diags[i].line, diags[i].msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    return cfg;
}

/* A value parser's failure message. */
static bw_valctx vc(const char *key)
{
    bw_valctx c;
    memset(&c, 0, sizeof c);
    c.key = key;
    return c;
}

#define DEST "[destination payments]\nhost = pay.example\n"

/* ---- value parsers ---- */

static void test_bool(void)
{
    static const char *const yes[] = {"on", "ON", "true", "True", "yes", "YES", "1"};
    static const char *const no[] = {"off", "Off", "false", "FALSE", "no", "No", "0"};
    bw_valctx c = vc("enabled");
    bool b;
    for (int i = 0; i < 7; i++) {
        b = false;
        CU_ASSERT_EQUAL(bw_parse_bool(&c, yes[i], &b), 0);
        CU_ASSERT_TRUE(b);
        CU_ASSERT_EQUAL(bw_parse_bool(&c, no[i], &b), 0);
        CU_ASSERT_FALSE(b);
    }
    static const char *const bad[] = {"maybe", "", "2", "onn", "y", "01"};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(bw_parse_bool(&c, bad[i], &b), -1);
    bw_parse_bool(&c, "maybe", &b);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'maybe' for 'enabled': expected "
                           "on/off, true/false, yes/no or 1/0");
}

static void test_uint(void)
{
    bw_valctx c = vc("retries");
    uint32_t v = 7;
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "0", 0, 100, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "100", 0, 100, &v), 0);
    CU_ASSERT_EQUAL(v, 100);
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "007", 0, 100, &v), 0);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "101", 0, 100, &v), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'retries' = 101 is out of range (0..100)");
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "99999999999999999999999", 0, 100, &v), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'retries' = 99999999999999999999999 is out "
                           "of range (0..100)");
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "4294967296", 0, UINT32_MAX, &v), -1);
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "4294967295", 0, UINT32_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, UINT32_MAX);
    static const char *const bad[] = {"-1", "+1", "1x", " 1", "", "0x10", "1.0", "1 2"};
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(bw_parse_uint(&c, bad[i], 0, 100, &v), -1);
    CU_ASSERT_EQUAL(v, UINT32_MAX);   /* unchanged on error */
    bw_parse_uint(&c, "-1", 0, 100, &v);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value '-1' for 'retries': expected an integer");
    c.key = "breaker_open_ms";
    CU_ASSERT_EQUAL(bw_parse_uint(&c, "0", 1, 86400000, &v), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'breaker_open_ms' = 0 is out of range (1..86400000)");
}

static void test_decimal(void)
{
    bw_valctx c = vc("backoff_multiplier");
    double d = 0;
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "1", 1, 100, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 1.0, 1e-12);
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "100.0", 1, 100, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 100.0, 1e-12);
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "2.5", 1, 100, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 2.5, 1e-12);
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "1.1", 1, 100, &d), 0);
    CU_ASSERT_EQUAL(d, 1.1);
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "0.99", 1, 100, &d), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'backoff_multiplier' = 0.99 is out of range "
                           "(1.0..100.0)");
    CU_ASSERT_EQUAL(bw_parse_decimal(&c, "100.01", 1, 100, &d), -1);
    static const char *const bad[] = {"1e2", "-2", "+2", "2.", ".5", "1,5", "inf",
                                      "nan", "", "2.0x", "1234567890123456"};
    for (int i = 0; i < 11; i++)
        CU_ASSERT_EQUAL(bw_parse_decimal(&c, bad[i], 1, 100, &d), -1);
    bw_parse_decimal(&c, "1,5", 1, 100, &d);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value '1,5' for 'backoff_multiplier': "
                           "expected a decimal number such as 2.0");
}

static void test_errno_names(void)
{
    static const int errs[] = {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT,
                               ECONNABORTED};
    static const char *const names[] = {"ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH",
                                        "ETIMEDOUT", "ECONNABORTED"};
    bw_valctx c = vc("breaker_errno");
    for (int i = 0; i < 5; i++) {
        int e = 0;
        CU_ASSERT_EQUAL(bw_parse_errno(&c, names[i], &e), 0);
        CU_ASSERT_EQUAL(e, errs[i]);
        CU_ASSERT_STRING_EQUAL(bw_errno_name(errs[i]), names[i]);
    }
    CU_ASSERT_PTR_NULL(bw_errno_name(EAGAIN));
    int e = 0;
    CU_ASSERT_EQUAL(bw_parse_errno(&c, "econnrefused", &e), -1);
    CU_ASSERT_EQUAL(bw_parse_errno(&c, "EAGAIN", &e), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'EAGAIN' for 'breaker_errno': expected "
                           "ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT or "
                           "ECONNABORTED");
}

static void test_ports(void)
{
    bw_valctx c = vc("port");
    bw_port_range *v = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "80, 8000-8099,1-65535 ,65535", &v, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT(v[0].lo == 80 && v[0].hi == 80);
    CU_ASSERT(v[1].lo == 8000 && v[1].hi == 8099);
    CU_ASSERT(v[2].lo == 1 && v[2].hi == 65535);
    CU_ASSERT(v[3].lo == 65535 && v[3].hi == 65535);
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "443", &v, &n), 0);   /* appends */
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "0", &v, &n), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'port' = 0 is out of range (1..65535)");
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "65536", &v, &n), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'port' = 65536 is out of range (1..65535)");
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "90-80", &v, &n), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value '90-80' for 'port': the range ends "
                           "before it starts");
    CU_ASSERT_EQUAL(bw_parse_ports(&c, "http", &v, &n), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'http' for 'port': expected a port "
                           "(1..65535) or a range lo-hi");
    static const char *const bad[] = {"80-", "-80", "1-2-3", "+80", "8 0", "80x"};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(bw_parse_ports(&c, bad[i], &v, &n), -1);
    CU_ASSERT_EQUAL(n, 5);
    free(v);
}

static void test_statuses(void)
{
    bw_valctx c = vc("breaker_http_status");
    bw_status_set s = {{0}};
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "502,503, 504", &s), 0);
    CU_ASSERT_TRUE(bw_status_set_has(&s, 502) && bw_status_set_has(&s, 504));
    CU_ASSERT_FALSE(bw_status_set_has(&s, 501) || bw_status_set_has(&s, 505));
    memset(&s, 0, sizeof s);
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "100, 500-599", &s), 0);
    int count = 0;
    for (int st = 0; st < 700; st++)
        count += bw_status_set_has(&s, st);
    CU_ASSERT_EQUAL(count, 101);
    CU_ASSERT_TRUE(bw_status_set_has(&s, 100) && bw_status_set_has(&s, 599));
    CU_ASSERT_FALSE(bw_status_set_has(&s, 499));
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "99", &s), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'breaker_http_status' = 99 is out of range (100..599)");
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "500-600", &s), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'breaker_http_status' = 500-600 is out of range "
                           "(100..599)");
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "5xx", &s), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value '5xx' for 'breaker_http_status': "
                           "expected a status (100..599) or a range lo-hi");
    memset(&s, 0, sizeof s);
    CU_ASSERT_EQUAL(bw_parse_statuses(&c, "", &s), 0);
    CU_ASSERT_TRUE(bw_status_set_empty(&s));
}

static void test_retry_on(void)
{
    bw_valctx c = vc("retry_on");
    uint32_t m = 0;
    CU_ASSERT_EQUAL(bw_parse_retry_on(&c, "refused", &m), 0);
    CU_ASSERT_EQUAL(m, BW_RETRY_REFUSED);
    m = 0;
    CU_ASSERT_EQUAL(bw_parse_retry_on(&c, "timeout , unreachable", &m), 0);
    CU_ASSERT_EQUAL(m, BW_RETRY_TIMEOUT | BW_RETRY_UNREACHABLE);
    CU_ASSERT_EQUAL(bw_parse_retry_on(&c, "Refused", &m), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'Refused' for 'retry_on': expected "
                           "refused, unreachable or timeout");
    m = 0;
    CU_ASSERT_EQUAL(bw_parse_retry_on(&c, "", &m), 0);
    CU_ASSERT_EQUAL(m, 0);
}

static void test_methods_and_tokens(void)
{
    bw_valctx c = vc("idempotency_methods");
    bw_policy p;
    bw_policy_defaults(&p);
    p.n_methods = 0;
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "POST, PUT, POST", &p), 0);
    CU_ASSERT_EQUAL_FATAL(p.n_methods, 2);
    CU_ASSERT_STRING_EQUAL(p.methods[0], "POST");
    CU_ASSERT_STRING_EQUAL(p.methods[1], "PUT");
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "PO ST", &p), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'PO ST' for 'idempotency_methods': "
                           "expected a token (letters, digits and !#$%&'*+-.^_`|~)");
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "AAAAAAAAAAAAAAAAAAAAAAA", &p), 0);   /* 23 */
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "AAAAAAAAAAAAAAAAAAAAAAAA", &p), -1); /* 24 */
    CU_ASSERT_STRING_EQUAL(c.msg, "'idempotency_methods' value "
                           "'AAAAAAAAAAAAAAAAAAAAAAAA' is too long (at most 23 characters)");
    p.n_methods = 0;
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "A,B,C,D,E,F,G,H,I,J,K,L,M,N,O,P", &p), 0);
    CU_ASSERT_EQUAL(p.n_methods, 16);
    CU_ASSERT_EQUAL(bw_parse_methods(&c, "Q", &p), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'idempotency_methods' lists more than 16 methods");

    char h[BW_MAX_HEADER_NAME];
    char name63[64], name64[65];
    memset(name63, 'x', 63), name63[63] = '\0';
    memset(name64, 'x', 64), name64[64] = '\0';
    c.key = "idempotency_header";
    CU_ASSERT_EQUAL(bw_parse_token(&c, "X-Request_Id!", h, sizeof h), 0);
    CU_ASSERT_STRING_EQUAL(h, "X-Request_Id!");
    CU_ASSERT_EQUAL(bw_parse_token(&c, name63, h, sizeof h), 0);
    CU_ASSERT_EQUAL(bw_parse_token(&c, name64, h, sizeof h), -1);
    CU_ASSERT_EQUAL(bw_parse_token(&c, "Idem Key", h, sizeof h), -1);
    CU_ASSERT_EQUAL(bw_parse_token(&c, "Idem:Key", h, sizeof h), -1);
    CU_ASSERT_EQUAL(bw_parse_token(&c, "", h, sizeof h), -1);
    CU_ASSERT_EQUAL(bw_parse_token(&c, "Id\xc3\xa9m", h, sizeof h), -1);
}

static void test_abspath(void)
{
    bw_valctx c = vc("state_dir");
    char out[16];
    CU_ASSERT_EQUAL(bw_parse_abspath(&c, "/run/bw", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "/run/bw");
    CU_ASSERT_EQUAL(bw_parse_abspath(&c, "run/bw", out, sizeof out), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'run/bw' for 'state_dir': expected an "
                           "absolute path");
    CU_ASSERT_EQUAL(bw_parse_abspath(&c, "/123456789012345", out, sizeof out), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "'state_dir' is too long (at most 15 characters)");
}

/* Parses one host item; asserts success and returns it. */
static bw_host_pattern host_ok(const char *item)
{
    bw_valctx c = vc("host");
    bw_host_pattern h;
    int r = bw_parse_host(&c, item, &h);
    CU_ASSERT_EQUAL(r, 0);
    if (r)
        printf("\n  host '%s': %s\n", item, c.msg);
    return h;
}

static void test_hosts_names(void)
{
    bw_host_pattern h = host_ok("Pay.Example.COM.");
    CU_ASSERT_EQUAL(h.kind, BW_HOST_NAME);
    CU_ASSERT_STRING_EQUAL(h.name, "pay.example.com");
    CU_ASSERT_EQUAL(h.family, 0);
    free(h.name);
    h = host_ok("*.Example.com");
    CU_ASSERT_EQUAL(h.kind, BW_HOST_SUFFIX);
    CU_ASSERT_STRING_EQUAL(h.name, ".example.com");
    free(h.name);
    h = host_ok("localhost");
    CU_ASSERT_STRING_EQUAL(h.name, "localhost");
    free(h.name);
    h = host_ok("a_b-c.x1");
    free(h.name);
    char label63[80] = "", label64[80] = "";
    memset(label63, 'a', 63), strcat(label63, ".com");
    memset(label64, 'a', 64), strcat(label64, ".com");
    h = host_ok(label63);
    free(h.name);
    const char *const bad[] = {"a..b", "-a.com", "a-.com", "*", "*.", "*.*.a",
        "a*.com", "1.2.3.256", "10.0.0", "a b", ".a.com", "[10.0.0.1]", "[::1",
        "::1]", "a.com..", "", label64};
    bw_valctx c = vc("host");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = bw_parse_host(&c, bad[i], &h);
        CU_ASSERT_EQUAL(r, -1);
        if (r == 0)
            printf("\n  accepted bad host '%s'\n", bad[i]);
    }
    bw_parse_host(&c, "a..b", &h);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'a..b' for 'host': expected a hostname, "
                           "*.suffix, IP address or CIDR");
}

static void warn_collect(void *arg, const char *msg)
{
    (void)arg;
    collect(NULL, NULL, 0, BW_DIAG_WARNING, msg);
}

static void test_hosts_addresses(void)
{
    static const uint8_t v6_loop[16] = {[15] = 1};
    bw_host_pattern h = host_ok("10.1.2.3");
    CU_ASSERT(h.kind == BW_HOST_IP && h.family == AF_INET && h.prefix == 32);
    CU_ASSERT(h.addr[0] == 10 && h.addr[1] == 1 && h.addr[2] == 2 && h.addr[3] == 3);
    CU_ASSERT_PTR_NULL(h.name);
    h = host_ok("::1");
    CU_ASSERT(h.kind == BW_HOST_IP && h.family == AF_INET6 && h.prefix == 128);
    CU_ASSERT_EQUAL(memcmp(h.addr, v6_loop, 16), 0);
    h = host_ok("[::1]");
    CU_ASSERT(h.kind == BW_HOST_IP && h.family == AF_INET6);
    CU_ASSERT_EQUAL(memcmp(h.addr, v6_loop, 16), 0);
    h = host_ok("::ffff:10.0.0.7");
    CU_ASSERT(h.kind == BW_HOST_IP && h.family == AF_INET && h.prefix == 32);
    CU_ASSERT(h.addr[0] == 10 && h.addr[3] == 7);
    h = host_ok("10.0.0.0/8");
    CU_ASSERT(h.kind == BW_HOST_CIDR && h.family == AF_INET && h.prefix == 8);
    h = host_ok("0.0.0.0/0");
    CU_ASSERT(h.kind == BW_HOST_CIDR && h.prefix == 0);
    h = host_ok("fd00::/8");
    CU_ASSERT(h.kind == BW_HOST_CIDR && h.family == AF_INET6 && h.prefix == 8);
    CU_ASSERT_EQUAL(h.addr[0], 0xfd);
    h = host_ok("2001:db8::/128");
    CU_ASSERT_EQUAL(h.prefix, 128);

    bw_valctx c = vc("host");
    c.warn = warn_collect;
    n_diags = 0;
    CU_ASSERT_EQUAL(bw_parse_host(&c, "10.1.2.3/12", &h), 0);
    CU_ASSERT(h.addr[0] == 10 && h.addr[1] == 0 && h.addr[2] == 0 && h.addr[3] == 0);
    CU_ASSERT_EQUAL(n_diags, 1);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, "'10.1.2.3/12' in 'host' has host bits set; "
                           "using 10.0.0.0/12");
    CU_ASSERT_EQUAL(bw_parse_host(&c, "10.63.255.255/11", &h), 0);
    CU_ASSERT(h.addr[0] == 10 && h.addr[1] == 0x20 && h.addr[2] == 0);
    CU_ASSERT_EQUAL(bw_parse_host(&c, "fd00::1/64", &h), 0);
    CU_ASSERT_EQUAL(h.addr[15], 0);
    CU_ASSERT_EQUAL(n_diags, 3);

    CU_ASSERT_EQUAL(bw_parse_host(&c, "10.0.0.0/33", &h), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value '10.0.0.0/33' for 'host': prefix out "
                           "of range (0..32)");
    CU_ASSERT_EQUAL(bw_parse_host(&c, "fd00::/129", &h), -1);
    CU_ASSERT_STRING_EQUAL(c.msg, "bad value 'fd00::/129' for 'host': prefix out "
                           "of range (0..128)");
    static const char *const bad[] = {"10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8",
        "host.example/8", "10.0.0.0/-1", "1:2:3:4:5:6:7:8:9", "[::1]/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(bw_parse_host(&c, bad[i], &h), -1);
}

static void test_hosts_list(void)
{
    bw_valctx c = vc("host");
    bw_host_pattern *v = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(bw_parse_hosts(&c, "a.example, *.b.example, 10.0.0.1, [::1], "
                                   "fd00::/8", &v, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_EQUAL(v[0].kind, BW_HOST_NAME);
    CU_ASSERT_EQUAL(v[1].kind, BW_HOST_SUFFIX);
    CU_ASSERT_EQUAL(v[2].kind, BW_HOST_IP);
    CU_ASSERT_EQUAL(v[3].kind, BW_HOST_IP);
    CU_ASSERT_EQUAL(v[4].kind, BW_HOST_CIDR);
    CU_ASSERT_EQUAL(bw_parse_hosts(&c, "c.example, bad..name", &v, &n), -1);
    CU_ASSERT_EQUAL(n, 6);   /* the item before the bad one stays */
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

static void test_edit_distance(void)
{
    CU_ASSERT_EQUAL(bw_edit_distance("retires", "retries"), 1);
    CU_ASSERT_EQUAL(bw_edit_distance("RETRIES", "retries"), 0);
    CU_ASSERT_EQUAL(bw_edit_distance("", "abc"), 3);
    CU_ASSERT_EQUAL(bw_edit_distance("abc", ""), 3);
    CU_ASSERT_EQUAL(bw_edit_distance("kitten", "sitting"), 3);
    CU_ASSERT_EQUAL(bw_edit_distance("ca", "abc"), 3);   /* OSA, not Damerau */
    CU_ASSERT_EQUAL(bw_config_key_closest("retires"), bw_config_key_index("retries"));
    CU_ASSERT_EQUAL(bw_config_key_closest("log_levle"), bw_config_key_index("log_level"));
    CU_ASSERT_EQUAL(bw_config_key_index("nope"), -1);
    CU_ASSERT_EQUAL(bw_config_nkeys(), 59);
}

/* ---- defaults ---- */

static void test_policy_defaults(void)
{
    bw_policy p;
    memset(&p, 0xa5, sizeof p);
    bw_policy_defaults(&p);
    CU_ASSERT_TRUE(p.enabled);
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 5000);
    CU_ASSERT_EQUAL(p.retries, 2);
    CU_ASSERT_EQUAL(p.retry_on, BW_RETRY_REFUSED | BW_RETRY_UNREACHABLE | BW_RETRY_TIMEOUT);
    CU_ASSERT_EQUAL(p.backoff_initial_ms, 100);
    CU_ASSERT_EQUAL(p.backoff_max_ms, 2000);
    CU_ASSERT_EQUAL(p.backoff_multiplier, 2.0);
    CU_ASSERT_EQUAL(p.jitter, BW_JITTER_FULL);
    CU_ASSERT_EQUAL(p.deadline_ms, 0);
    CU_ASSERT_EQUAL(p.nonblocking, BW_NB_AUTO);
    CU_ASSERT_EQUAL(p.tcp_user_timeout_ms, 0);
    CU_ASSERT_FALSE(p.tcp_keepalive);
    CU_ASSERT_EQUAL(p.tcp_keepalive_idle_s, 60);
    CU_ASSERT_EQUAL(p.tcp_keepalive_interval_s, 10);
    CU_ASSERT_EQUAL(p.tcp_keepalive_count, 5);
    CU_ASSERT_EQUAL(p.connect_rate, 0);
    CU_ASSERT_EQUAL(p.connect_rate_burst, 0);
    CU_ASSERT_EQUAL(p.slow_start_ms, 0);
    CU_ASSERT_TRUE(p.failover);
    CU_ASSERT_EQUAL(p.failover_max_ejected_percent, 50);
    CU_ASSERT_TRUE(p.retry_after);
    CU_ASSERT_EQUAL(p.retry_after_max_ms, 60000);
    CU_ASSERT_EQUAL(p.retry_budget_percent, 20);
    CU_ASSERT_EQUAL(p.retry_budget_min_per_sec, 10);
    CU_ASSERT_EQUAL(p.breaker, BW_BREAKER_ON);
    CU_ASSERT_EQUAL(p.breaker_scope, BW_SCOPE_ADDRESS);
    CU_ASSERT_EQUAL(p.breaker_window, BW_WINDOW_COUNT);
    CU_ASSERT_EQUAL(p.breaker_window_size, 20);
    CU_ASSERT_EQUAL(p.breaker_min_calls, 10);
    CU_ASSERT_EQUAL(p.breaker_failure_rate, 50);
    CU_ASSERT_EQUAL(p.breaker_consecutive_failures, 5);
    CU_ASSERT_EQUAL(p.breaker_slow_ms, 0);
    CU_ASSERT_EQUAL(p.breaker_slow_rate, 100);
    CU_ASSERT_EQUAL(p.breaker_open_ms, 5000);
    CU_ASSERT_EQUAL(p.breaker_open_max_ms, 60000);
    CU_ASSERT_EQUAL(p.breaker_half_open_probes, 1);
    CU_ASSERT_EQUAL(p.breaker_half_open_timeout_ms, 10000);
    CU_ASSERT_EQUAL(p.breaker_errno, ECONNREFUSED);
    CU_ASSERT_TRUE(p.breaker_io_errors);
    CU_ASSERT_TRUE(bw_status_set_empty(&p.breaker_http_status));
    CU_ASSERT_EQUAL(p.max_connections, 0);
    CU_ASSERT_EQUAL(p.bulkhead_scope, BW_SCOPE_DESTINATION);
    CU_ASSERT_EQUAL(p.bulkhead_wait_ms, 0);
    CU_ASSERT_EQUAL(p.bulkhead_errno, ECONNREFUSED);
    CU_ASSERT_FALSE(p.idempotency);
    CU_ASSERT_EQUAL_FATAL(p.n_methods, 2);
    CU_ASSERT_STRING_EQUAL(p.methods[0], "POST");
    CU_ASSERT_STRING_EQUAL(p.methods[1], "PATCH");
    CU_ASSERT_STRING_EQUAL(p.idempotency_header, "Idempotency-Key");
    CU_ASSERT_EQUAL(p.idempotency_format, BW_IDEM_TOKEN);
    CU_ASSERT_EQUAL(p.idempotency_key, BW_IDEM_UUID4);
    CU_ASSERT_EQUAL(p.tls, BW_TLS_AUTO);
    CU_ASSERT_TRUE(p.tls_handshake_failures);
}

static void check_global_defaults(const bw_config *cfg)
{
    CU_ASSERT_EQUAL(cfg->log_level, BW_LOG_WARN);
    CU_ASSERT_EQUAL(cfg->log_target, BW_LOGTO_STDERR);
    CU_ASSERT_EQUAL(cfg->state, BW_STATE_SHARED);
    CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/dev/shm");
    CU_ASSERT_EQUAL(cfg->on_config_error, BW_ONERR_PASSTHROUGH);
    CU_ASSERT_TRUE(cfg->reload);
}

static void test_builtin(void)
{
    bw_config *cfg = bw_config_builtin();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    check_global_defaults(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->path, "");
    CU_ASSERT_EQUAL(cfg->n_dests, 0);
    CU_ASSERT_PTR_NOT_NULL(cfg->match);
    bw_policy p;
    bw_policy_defaults(&p);
    CU_ASSERT_EQUAL(memcmp(&p, &cfg->defaults, sizeof p), 0);
    bw_config_free(cfg);
    bw_config_free(NULL);
}

static void test_file_defaults(void)
{
    bw_config *cfg = load_ok("[global]\n[defaults]\n" DEST);
    check_global_defaults(cfg);
    bw_policy p;
    bw_policy_defaults(&p);
    CU_ASSERT_EQUAL(memcmp(&p, &cfg->defaults, sizeof p), 0);
    CU_ASSERT_EQUAL_FATAL(cfg->n_dests, 1);
    CU_ASSERT_EQUAL(memcmp(&p, &cfg->dests[0].policy, sizeof p), 0);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].name, "payments");
    CU_ASSERT_EQUAL(cfg->dests[0].line, 3);
    CU_ASSERT_EQUAL(cfg->dests[0].n_ports, 0);
    CU_ASSERT_EQUAL_FATAL(cfg->dests[0].n_hosts, 1);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].hosts[0].name, "pay.example");
    bw_config_free(cfg);
}

/* ---- every key set ---- */

static void test_global_keys(void)
{
    bw_config *cfg = load_ok("[global]\nlog_level = debug\nlog = /var/log/bw.log\n"
                             "state = process\nstate_dir = /run/bw\n"
                             "on_config_error = exit\nreload = off\n");
    CU_ASSERT_EQUAL(cfg->log_level, BW_LOG_DEBUG);
    CU_ASSERT_EQUAL(cfg->log_target, BW_LOGTO_FILE);
    CU_ASSERT_STRING_EQUAL(cfg->log_path, "/var/log/bw.log");
    CU_ASSERT_EQUAL(cfg->state, BW_STATE_PROCESS);
    CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/run/bw");
    CU_ASSERT_EQUAL(cfg->on_config_error, BW_ONERR_EXIT);
    CU_ASSERT_FALSE(cfg->reload);
    bw_config_free(cfg);
    cfg = load_ok("[global]\nlog = syslog\nlog_level = off\n");
    CU_ASSERT_EQUAL(cfg->log_target, BW_LOGTO_SYSLOG);
    CU_ASSERT_EQUAL(cfg->log_level, BW_LOG_OFF);
    bw_config_free(cfg);
    expect_error("[global]\nlog = bw.log\n", 2, "bad value 'bw.log' for 'log': "
                 "expected stderr, syslog or an absolute path");
    expect_error("[global]\nstate_dir = shm\n", 2, "bad value 'shm' for 'state_dir': "
                 "expected an absolute path");
    expect_error("[global]\nlog_level = verbose\n", 2, "bad value 'verbose' for "
                 "'log_level': expected off, error, warn, info or debug");
    expect_error("[global]\nstate = Shared\n", 2, "bad value 'Shared' for 'state': "
                 "expected shared or process");
    expect_error("[global]\non_config_error = abort\n", 2, "bad value 'abort' for "
                 "'on_config_error': expected passthrough or exit");
}

static const char all_keys[] =
    "[destination all]\n"
    "host = a.example\n"
    "port = 80\n"
    "enabled = no\n"
    "connect_timeout_ms = 0\n"
    "retries = 100\n"
    "retry_on = timeout\n"
    "backoff_initial_ms = 86400000\n"
    "backoff_max_ms = 86400000\n"
    "backoff_multiplier = 1.5\n"
    "jitter = decorrelated\n"
    "deadline_ms = 30000\n"
    "nonblocking = native\n"
    "retry_budget_percent = 0\n"
    "retry_budget_min_per_sec = 1000000\n"
    "breaker = dry-run\n"
    "breaker_scope = destination\n"
    "breaker_window = time\n"
    "breaker_window_size = 3600\n"
    "breaker_min_calls = 100000\n"
    "breaker_failure_rate = 100\n"
    "breaker_consecutive_failures = 0\n"
    "breaker_slow_ms = 250\n"
    "breaker_slow_rate = 1\n"
    "breaker_open_ms = 1\n"
    "breaker_open_max_ms = 1\n"
    "breaker_half_open_probes = 16\n"
    "breaker_half_open_timeout_ms = 0\n"
    "breaker_errno = ECONNABORTED\n"
    "breaker_io_errors = false\n"
    "breaker_http_status = 503\n"
    "max_connections = 1000000\n"
    "bulkhead_scope = address\n"
    "bulkhead_wait_ms = 86400000\n"
    "bulkhead_errno = ETIMEDOUT\n"
    "idempotency = on\n"
    "idempotency_methods = PUT\n"
    "idempotency_header = X-Idem\n"
    "idempotency_format = sf-string\n"
    "idempotency_key = uuid7\n"
    "tls = off\n"
    "tls_handshake_failures = no\n";

static void test_policy_keys(void)
{
    bw_config *cfg = load_ok(all_keys);
    const bw_policy *p = &cfg->dests[0].policy;
    CU_ASSERT_FALSE(p->enabled);
    CU_ASSERT_EQUAL(p->connect_timeout_ms, 0);
    CU_ASSERT_EQUAL(p->retries, 100);
    CU_ASSERT_EQUAL(p->retry_on, BW_RETRY_TIMEOUT);
    CU_ASSERT_EQUAL(p->backoff_initial_ms, 86400000);
    CU_ASSERT_EQUAL(p->backoff_max_ms, 86400000);
    CU_ASSERT_EQUAL(p->backoff_multiplier, 1.5);
    CU_ASSERT_EQUAL(p->jitter, BW_JITTER_DECORRELATED);
    CU_ASSERT_EQUAL(p->deadline_ms, 30000);
    CU_ASSERT_EQUAL(p->nonblocking, BW_NB_NATIVE);
    CU_ASSERT_EQUAL(p->retry_budget_percent, 0);
    CU_ASSERT_EQUAL(p->retry_budget_min_per_sec, 1000000);
    CU_ASSERT_EQUAL(p->breaker, BW_BREAKER_DRYRUN);
    CU_ASSERT_EQUAL(p->breaker_scope, BW_SCOPE_DESTINATION);
    CU_ASSERT_EQUAL(p->breaker_window, BW_WINDOW_TIME);
    CU_ASSERT_EQUAL(p->breaker_window_size, 3600);
    CU_ASSERT_EQUAL(p->breaker_min_calls, 100000);
    CU_ASSERT_EQUAL(p->breaker_failure_rate, 100);
    CU_ASSERT_EQUAL(p->breaker_consecutive_failures, 0);
    CU_ASSERT_EQUAL(p->breaker_slow_ms, 250);
    CU_ASSERT_EQUAL(p->breaker_slow_rate, 1);
    CU_ASSERT_EQUAL(p->breaker_open_ms, 1);
    CU_ASSERT_EQUAL(p->breaker_open_max_ms, 1);
    CU_ASSERT_EQUAL(p->breaker_half_open_probes, 16);
    CU_ASSERT_EQUAL(p->breaker_half_open_timeout_ms, 0);
    CU_ASSERT_EQUAL(p->breaker_errno, ECONNABORTED);
    CU_ASSERT_FALSE(p->breaker_io_errors);
    CU_ASSERT_TRUE(bw_status_set_has(&p->breaker_http_status, 503));
    CU_ASSERT_FALSE(bw_status_set_has(&p->breaker_http_status, 502));
    CU_ASSERT_EQUAL(p->max_connections, 1000000);
    CU_ASSERT_EQUAL(p->bulkhead_scope, BW_SCOPE_ADDRESS);
    CU_ASSERT_EQUAL(p->bulkhead_wait_ms, 86400000);
    CU_ASSERT_EQUAL(p->bulkhead_errno, ETIMEDOUT);
    CU_ASSERT_TRUE(p->idempotency);
    CU_ASSERT_EQUAL(p->n_methods, 1);
    CU_ASSERT_STRING_EQUAL(p->methods[0], "PUT");
    CU_ASSERT_STRING_EQUAL(p->idempotency_header, "X-Idem");
    CU_ASSERT_EQUAL(p->idempotency_format, BW_IDEM_SF_STRING);
    CU_ASSERT_EQUAL(p->idempotency_key, BW_IDEM_UUID7);
    CU_ASSERT_EQUAL(p->tls, BW_TLS_OFF);
    CU_ASSERT_FALSE(p->tls_handshake_failures);
    CU_ASSERT_EQUAL_FATAL(cfg->dests[0].n_ports, 1);
    CU_ASSERT_EQUAL(cfg->dests[0].ports[0].lo, 80);
    bw_config_free(cfg);
}

/* Every key's range boundaries through the loader: lo and hi load, one past fails. */
static void test_key_ranges(void)
{
    static const struct {
        const char *key;
        const char *ok_lo, *ok_hi, *bad, *range;
    } r[] = {
        {"retries", "0", "100", "101", "0..100"},
        {"connect_timeout_ms", "0", "86400000", "86400001", "0..86400000"},
        {"deadline_ms", "0", "86400000", "86400001", "0..86400000"},
        {"retry_budget_percent", "0", "100", "101", "0..100"},
        {"retry_budget_min_per_sec", "0", "1000000", "1000001", "0..1000000"},
        {"breaker_min_calls", "1", "20", "0", "1..100000"},
        {"breaker_failure_rate", "1", "100", "0", "1..100"},
        {"breaker_consecutive_failures", "0", "100000", "100001", "0..100000"},
        {"breaker_slow_ms", "0", "86400000", "86400001", "0..86400000"},
        {"breaker_slow_rate", "1", "100", "101", "1..100"},
        {"breaker_half_open_probes", "1", "16", "17", "1..16"},
        {"breaker_half_open_timeout_ms", "0", "86400000", "86400001", "0..86400000"},
        {"max_connections", "0", "1000000", "1000001", "0..1000000"},
        {"bulkhead_wait_ms", "0", "86400000", "86400001", "0..86400000"},
        {"breaker_open_max_ms", "5000", "86400000", "86400001", "1..86400000"},
        {"backoff_max_ms", "100", "86400000", "86400001", "0..86400000"},
    };
    char text[256], msg[256];
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        const char *vals[] = {r[i].ok_lo, r[i].ok_hi};
        for (int j = 0; j < 2; j++) {
            snprintf(text, sizeof text, DEST "%s = %s\n", r[i].key, vals[j]);
            bw_config_free(load_ok(text));
        }
        snprintf(text, sizeof text, DEST "%s = %s\n", r[i].key, r[i].bad);
        snprintf(msg, sizeof msg, "'%s' = %s is out of range (%s)", r[i].key,
                 r[i].bad, r[i].range);
        expect_error(text, 3, msg);
    }
    expect_error(DEST "breaker_open_ms = 0\n", 3,
                 "'breaker_open_ms' = 0 is out of range (1..86400000)");
    expect_error(DEST "backoff_multiplier = 0.5\n", 3,
                 "'backoff_multiplier' = 0.5 is out of range (1.0..100.0)");
    expect_error(DEST "backoff_multiplier = 101\n", 3,
                 "'backoff_multiplier' = 101 is out of range (1.0..100.0)");
    expect_error(DEST "jitter = Full\n", 3, "bad value 'Full' for 'jitter': expected "
                 "full, equal, decorrelated or none");
    expect_error(DEST "nonblocking = yes\n", 3, "bad value 'yes' for 'nonblocking': "
                 "expected auto, wait or native");
    expect_error(DEST "breaker = dryrun\n", 3, "bad value 'dryrun' for 'breaker': "
                 "expected on, off or dry-run");
    expect_error(DEST "bulkhead_scope = host\n", 3, "bad value 'host' for "
                 "'bulkhead_scope': expected destination or address");
    expect_error(DEST "breaker_window = sliding\n", 3, "bad value 'sliding' for "
                 "'breaker_window': expected count or time");
    expect_error(DEST "idempotency_format = sf\n", 3, "bad value 'sf' for "
                 "'idempotency_format': expected token or sf-string");
    expect_error(DEST "idempotency_key = uuid1\n", 3, "bad value 'uuid1' for "
                 "'idempotency_key': expected uuid4 or uuid7");
    expect_error(DEST "tls = on\n", 3, "bad value 'on' for 'tls': expected auto or off");
    expect_error(DEST "tls_handshake_failures = sometimes\n", 3, "bad value 'sometimes' for "
                 "'tls_handshake_failures': expected on/off, true/false, yes/no or 1/0");
    expect_error(DEST "idempotency_header = Idem Key\n", 3, "bad value 'Idem Key' for "
                 "'idempotency_header': expected a token (letters, digits and "
                 "!#$%&'*+-.^_`|~)");
    expect_error(DEST "enabled = maybe\n", 3, "bad value 'maybe' for 'enabled': "
                 "expected on/off, true/false, yes/no or 1/0");
    expect_error(DEST "retries = 500\n", 3, "'retries' = 500 is out of range (0..100)");
    expect_error(DEST "retries = -1\n", 3, "bad value '-1' for 'retries': expected an "
                 "integer");
}

/* ---- rules between keys ---- */

static void test_rules(void)
{
    expect_error(DEST "backoff_max_ms = 50\n", 3, "'backoff_initial_ms' = 100 exceeds "
                 "'backoff_max_ms' = 50 in [destination payments]");
    expect_error(DEST "backoff_max_ms = 50\nbackoff_initial_ms = 60\n", 4,
                 "'backoff_initial_ms' = 60 exceeds 'backoff_max_ms' = 50 in "
                 "[destination payments]");
    bw_config_free(load_ok(DEST "backoff_max_ms = 50\nbackoff_initial_ms = 50\n"));
    expect_error(DEST "breaker_open_max_ms = 4999\n", 3, "'breaker_open_ms' = 5000 "
                 "exceeds 'breaker_open_max_ms' = 4999 in [destination payments]");
    /* the pair split between [defaults] and a section, in both orders */
    expect_error("[defaults]\nbackoff_initial_ms = 3000\n" DEST, 2,
                 "'backoff_initial_ms' = 3000 exceeds 'backoff_max_ms' = 2000 in "
                 "[defaults]");
    expect_error("[defaults]\nbackoff_initial_ms = 500\n" DEST "backoff_max_ms = 400\n",
                 5, "'backoff_initial_ms' = 500 exceeds 'backoff_max_ms' = 400 in "
                 "[destination payments]");
    expect_error(DEST "backoff_max_ms = 400\n[defaults]\nbackoff_initial_ms = 500\n",
                 5, "'backoff_initial_ms' = 500 exceeds 'backoff_max_ms' = 400 in "
                 "[destination payments]");
    /* window size against the window kind */
    bw_config_free(load_ok(DEST "breaker_window_size = 1000\n"));
    bw_config_free(load_ok(DEST "breaker_window_size = 1\nbreaker_min_calls = 1\n"));
    expect_error(DEST "breaker_window_size = 1001\n", 3, "'breaker_window_size' = 1001 "
                 "is out of range (1..1000 for a count window) in [destination payments]");
    expect_error(DEST "breaker_window_size = 0\n", 3, "'breaker_window_size' = 0 "
                 "is out of range (1..1000 for a count window) in [destination payments]");
    bw_config_free(load_ok(DEST "breaker_window = time\nbreaker_window_size = 3600\n"));
    expect_error(DEST "breaker_window_size = 3601\nbreaker_window = time\n", 4,
                 "'breaker_window_size' = 3601 is out of range (1..3600 for a time "
                 "window) in [destination payments]");
    /* min calls over a count window: a warning only */
    bw_config *cfg = NULL;
    CU_ASSERT_EQUAL(load_text(DEST "breaker_min_calls = 21\n", &cfg), 0);
    CU_ASSERT_EQUAL_FATAL(n_diags, 1);
    CU_ASSERT_EQUAL(diags[0].sev, BW_DIAG_WARNING);
    CU_ASSERT_EQUAL(diags[0].line, 3);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, "'breaker_min_calls' = 21 exceeds "
                           "'breaker_window_size' = 20 in [destination payments]: the "
                           "failure rate would never be judged");
    bw_config_free(cfg);
    bw_config_free(load_ok(DEST "breaker_min_calls = 21\nbreaker_window = time\n"));
}

/* ---- errors in the file ---- */

static void test_section_errors(void)
{
    expect_error("[gloabl]\nretries = x\n", 1, "unknown section [gloabl]; did you "
                 "mean [global]?");
    expect_error("[destinaton pay]\n", 1, "unknown section [destinaton pay]; did you "
                 "mean [destination pay]?");
    expect_error("[global]\n[server]\n", 2, "unknown section [server]; expected "
                 "[global], [defaults] or [destination NAME]");
    expect_error("retries = 1\n[global]\n", 1, "key 'retries' before any section");
    expect_error("[global]\n[global]\n", 2, "duplicate section [global] (first at line 1)");
    expect_error("[defaults]\n\n[defaults]\n", 3, "duplicate section [defaults] (first "
                 "at line 1)");
    expect_error("[destination]\n", 1, "[destination] needs a name: [destination NAME]");
    expect_error("[destination a/b]\nhost = x\n", 1, "bad destination name 'a/b': "
                 "expected letters, digits, '_', '.' or '-'");
    expect_error("[destination a b]\nhost = x\n", 1, "bad destination name 'a b': "
                 "expected letters, digits, '_', '.' or '-'");
    char text[256], msg[256], name[80];
    memset(name, 'n', 64), name[64] = '\0';
    snprintf(text, sizeof text, "[destination %s]\nhost = x\n", name);
    snprintf(msg, sizeof msg, "destination name '%s' is too long (at most 63 "
             "characters)", name);
    expect_error(text, 1, msg);
    name[63] = '\0';
    snprintf(text, sizeof text, "[destination %s]\nhost = x\n", name);
    bw_config *cfg = load_ok(text);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].name, name);
    bw_config_free(cfg);
    cfg = load_ok("[ destination\tA-z_0.9 ]\nhost = x\n");
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].name, "A-z_0.9");
    bw_config_free(cfg);
    expect_error("[global\n", 1, "bad section header '[global': missing ']'");
    expect_error("[global]\njust words\n", 2, "cannot parse 'just words': expected "
                 "'[section]' or 'key = value'");
    expect_error("[global]\n= on\n", 2, "missing key name before '='");
    expect_error("\n\n[destination payments]\nport = 80\n", 3,
                 "[destination payments] has no 'host'");
    expect_error("[destination payments]\nhost = a\n\n[destination payments]\nhost = b\n",
                 4, "duplicate destination name 'payments' (first defined at line 1)");
}

static void test_key_errors(void)
{
    expect_error(DEST "retires = 3\n", 3, "unknown key 'retires' in [destination "
                 "payments]; did you mean 'retries'?");
    expect_error("[global]\nlog_levle = warn\n", 2, "unknown key 'log_levle' in "
                 "[global]; did you mean 'log_level'?");
    expect_error("[global]\nretries = 3\n", 2, "'retries' belongs in [defaults] or a "
                 "[destination] section, not [global]");
    expect_error("[global]\nhost = a\n", 2, "'host' belongs in [defaults] or a "
                 "[destination] section, not [global]");
    expect_error(DEST "log_level = debug\n", 3, "'log_level' belongs in [global], not "
                 "[destination payments]");
    expect_error("[defaults]\nreload = on\n", 2, "'reload' belongs in [global], not "
                 "[defaults]");
    expect_error("[defaults]\nhost = a\n", 2, "'host' is not allowed in [defaults]: it "
                 "belongs in a [destination] section");
    expect_error("[defaults]\nport = 80\n", 2, "'port' is not allowed in [defaults]: it "
                 "belongs in a [destination] section");
    expect_error(DEST "retries = 1\nretries = 2\n", 4, "duplicate key 'retries' in "
                 "[destination payments] (first set at line 3)");
    expect_error("[destination payments]\nhost = a\nhost = b\n", 3, "duplicate key "
                 "'host' in [destination payments] (first set at line 2)");
    expect_error("[destination payments]\nhost =\n", 2, "bad value '' for 'host': "
                 "expected a hostname, *.suffix, IP address or CIDR");
    expect_error(DEST "port = 0\n", 3, "'port' = 0 is out of range (1..65535)");
    expect_error(DEST "breaker_http_status = 600\n", 3,
                 "'breaker_http_status' = 600 is out of range (100..599)");
    expect_error(DEST "breaker_errno = EAGAIN\n", 3, "bad value 'EAGAIN' for "
                 "'breaker_errno': expected ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, "
                 "ETIMEDOUT or ECONNABORTED");
    /* an unknown section's keys are not reported again */
    expect_error("[gloabl]\nnot_a_key = 1\nretries = 500\n", 1,
                 "unknown section [gloabl]; did you mean [global]?");
}

static void test_all_errors_reported(void)
{
    bw_config *cfg = (bw_config *)1;
    int r = load_text("[global]\n"                 /* 1 */
                      "log_level = loud\n"         /* 2 */
                      "[destination a]\n"          /* 3 */
                      "retries = 101\n"            /* 4 */
                      "[destination b]\n"          /* 5 */
                      "host = ok.example\n"        /* 6 */
                      "jiter = full\n"             /* 7 */
                      "[destination a]\n"          /* 8 */
                      "host = x\n", &cfg);         /* 9 */
    CU_ASSERT_EQUAL(r, -1);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL_FATAL(n_diags, 5);
    static const int lines[] = {2, 4, 7, 8, 3};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(diags[i].line, lines[i]);
        CU_ASSERT_EQUAL(diags[i].sev, BW_DIAG_ERROR);
    }
    CU_ASSERT_STRING_EQUAL(diags[2].msg, "unknown key 'jiter' in [destination b]; did "
                           "you mean 'jitter'?");
    CU_ASSERT_STRING_EQUAL(diags[4].msg, "[destination a] has no 'host'");
}

static void test_continuation(void)
{
    bw_config *cfg = load_ok("[destination payments]\n"
                             "host = a.example,\n"
                             "       b.example ; a comment\n"
                             "\n"
                             "  10.0.0.1\n"
                             "port = 80\n"
                             "\t443\n"
                             "retry_on = refused\n"
                             "   timeout\n");
    CU_ASSERT_EQUAL_FATAL(cfg->dests[0].n_hosts, 3);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].hosts[1].name, "b.example");
    CU_ASSERT_EQUAL(cfg->dests[0].hosts[2].kind, BW_HOST_IP);
    CU_ASSERT_EQUAL_FATAL(cfg->dests[0].n_ports, 2);
    CU_ASSERT_EQUAL(cfg->dests[0].ports[1].lo, 443);
    CU_ASSERT_EQUAL(cfg->dests[0].policy.retry_on, BW_RETRY_REFUSED | BW_RETRY_TIMEOUT);
    bw_config_free(cfg);
    expect_error(DEST "retries = 1\n  2\n", 4, "'retries' continues on an indented "
                 "line, but only a list value may span lines");
    expect_error(DEST "port = 80\n  99999\n", 4, "'port' = 99999 is out of range "
                 "(1..65535)");
    /* an indented line right after a header is a key, as inih reads it; after
     * a key it continues that key's value, which the message explains */
    cfg = load_ok("[destination payments]\n  host = a.example\nretries = 4\n");
    CU_ASSERT_EQUAL(cfg->dests[0].policy.retries, 4);
    bw_config_free(cfg);
    expect_error("[destination payments]\n  host = a.example\n  retries = 4\n", 3,
                 "'retries' is indented, so it continues the value of 'host': "
                 "remove the indentation");
}

static void test_host_warning(void)
{
    bw_config *cfg = NULL;
    CU_ASSERT_EQUAL(load_text("[destination net]\nhost = 10.1.0.0/8\n", &cfg), 0);
    CU_ASSERT_EQUAL_FATAL(n_diags, 1);
    CU_ASSERT_EQUAL(diags[0].sev, BW_DIAG_WARNING);
    CU_ASSERT_EQUAL(diags[0].line, 2);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, "'10.1.0.0/8' in 'host' has host bits set; "
                           "using 10.0.0.0/8");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->dests[0].hosts[0].addr[1], 0);
    bw_config_free(cfg);
}

/* ---- [defaults] ---- */

static void check_inherit(const char *text)
{
    bw_config *cfg = load_ok(text);
    CU_ASSERT_EQUAL(cfg->defaults.retries, 5);
    CU_ASSERT_EQUAL(cfg->defaults.n_methods, 1);
    CU_ASSERT_EQUAL_FATAL(cfg->n_dests, 2);
    const bw_policy *a = &cfg->dests[0].policy, *b = &cfg->dests[1].policy;
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].name, "a");
    CU_ASSERT_EQUAL(a->retries, 5);                 /* inherited */
    CU_ASSERT_EQUAL(a->breaker, BW_BREAKER_OFF);    /* inherited */
    CU_ASSERT_EQUAL(a->n_methods, 1);
    CU_ASSERT_STRING_EQUAL(a->methods[0], "PUT");
    CU_ASSERT_EQUAL(a->max_connections, 7);         /* own */
    CU_ASSERT_EQUAL(b->retries, 1);                 /* overridden */
    CU_ASSERT_EQUAL(b->breaker, BW_BREAKER_OFF);
    CU_ASSERT_EQUAL(b->n_methods, 2);
    CU_ASSERT_STRING_EQUAL(b->methods[1], "DELETE");
    CU_ASSERT_EQUAL(b->max_connections, 0);         /* built-in */
    CU_ASSERT_EQUAL(b->connect_timeout_ms, 5000);
    bw_config_free(cfg);
}

static void test_defaults_inherit(void)
{
    static const char defaults[] = "[defaults]\nretries = 5\nbreaker = off\n"
                                   "idempotency_methods = PUT\n";
    static const char dests[] = "[destination a]\nhost = a\nmax_connections = 7\n"
                                "[destination b]\nhost = b\nretries = 1\n"
                                "idempotency_methods = POST, DELETE\n";
    char text[512];
    snprintf(text, sizeof text, "%s%s", defaults, dests);
    check_inherit(text);
    snprintf(text, sizeof text, "%s%s", dests, defaults);
    check_inherit(text);
}

/* ---- the file itself ---- */

static void expect_file_error(const char *path, const char *msg)
{
    bw_config *cfg = (bw_config *)1;
    n_diags = 0;
    CU_ASSERT_EQUAL(bw_config_load(path, &cfg, collect, NULL), -1);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL_FATAL(n_diags >= 1, 1);
    CU_ASSERT_EQUAL(diags[0].line, 0);
    CU_ASSERT_EQUAL(diags[0].sev, BW_DIAG_ERROR);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, msg);
}

static void test_file_empty(void)
{
    static const char *const texts[] = {"", "\n\n", "; only\n# comments\n  ; here\n"};
    for (int i = 0; i < 3; i++) {
        bw_config *cfg = NULL;
        CU_ASSERT_EQUAL(load_text(texts[i], &cfg), 0);
        CU_ASSERT_EQUAL_FATAL(n_diags, 1);
        CU_ASSERT_EQUAL(diags[0].line, 0);
        CU_ASSERT_EQUAL(diags[0].sev, BW_DIAG_WARNING);
        CU_ASSERT_STRING_EQUAL(diags[0].msg, "no sections; built-in defaults apply");
        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        CU_ASSERT_EQUAL(cfg->n_dests, 0);
        bw_config_free(cfg);
    }
}

static void test_file_mode(void)
{
    const char *path = write_file("m.ini", "[global]\n", 9, 0666);
    expect_file_error(path, "refusing a config file writable by group or others "
                      "(mode 0666)");
    CU_ASSERT_EQUAL(n_diags, 1);
    write_file("m.ini", "[global]\n", 9, 0620);
    expect_file_error(path, "refusing a config file writable by group or others "
                      "(mode 0620)");
    write_file("m.ini", "[global]\n", 9, 0602);
    expect_file_error(path, "refusing a config file writable by group or others "
                      "(mode 0602)");
    /* the rest of the file is still checked */
    write_file("m.ini", "[global]\nretries = 1\n", 21, 0666);
    expect_file_error(path, "refusing a config file writable by group or others "
                      "(mode 0666)");
    CU_ASSERT_EQUAL(n_diags, 2);
    write_file("m.ini", "[global]\n", 9, 0600);
    bw_config *cfg = NULL;
    n_diags = 0;
    CU_ASSERT_EQUAL(bw_config_load(path, &cfg, collect, NULL), 0);
    CU_ASSERT_EQUAL(n_diags, 0);
    bw_config_free(cfg);
}

static void test_file_kinds(void)
{
    const char *dir = tmp_path("adir");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    expect_file_error(dir, "is a directory");
    const char *fifo = tmp_path("fifo");
    CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
    expect_file_error(fifo, "not a regular file");
    expect_file_error(tmp_path("missing.ini"), "cannot open: No such file or directory");
    const char *bin = write_file("bin.ini", "[global]\n\0\n", 11, 0644);
    expect_file_error(bin, "not a text file");
    CU_ASSERT_EQUAL(n_diags, 1);
    const char *big = write_file("big.ini", "", 0, 0644);
    CU_ASSERT_FATAL(truncate(big, BW_CONFIG_MAX_FILE + 1) == 0);
    expect_file_error(big, "larger than 16 MiB");
    if (geteuid() != 0) {
        const char *locked = write_file("locked.ini", "[global]\n", 9, 0000);
        expect_file_error(locked, "cannot open: Permission denied");
    } else {
        printf("(running as root: unreadable-file check skipped) ");
    }
    bw_config *cfg = NULL;
    CU_ASSERT_EQUAL(bw_config_load(tmp_path("missing.ini"), &cfg, NULL, NULL), -1);
}

static void test_file_identity(void)
{
    bw_config *cfg = load_ok("[global]\n");
    char real[PATH_MAX];
    struct stat st;
    CU_ASSERT_FATAL(realpath(tmp_path("t.ini"), real) != NULL);
    CU_ASSERT_FATAL(stat(real, &st) == 0);
    CU_ASSERT_STRING_EQUAL(cfg->path, real);
    CU_ASSERT_EQUAL(cfg->ino, (uint64_t)st.st_ino);
    CU_ASSERT_EQUAL(cfg->dev, (uint64_t)st.st_dev);
    CU_ASSERT_EQUAL(cfg->mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                    st.st_mtim.tv_nsec);
    CU_ASSERT_PTR_NOT_NULL(cfg->match);
    bw_config_free(cfg);
}

static void test_file_lines(void)
{
    char text[1024];
    /* 198 characters is the longest line */
    memset(text, 0, sizeof text);
    strcpy(text, "[global]\n;");
    memset(text + strlen(text), 'x', 197);
    strcat(text, "\n");
    bw_config_free(load_ok(text));
    memset(text, 0, sizeof text);
    strcpy(text, "[global]\n;");
    memset(text + strlen(text), 'x', 198);
    strcat(text, "\nreload = on\n");
    expect_error(text, 2, "line too long (more than 198 characters)");
    /* a header too long: its keys are ignored, not misfiled */
    memset(text, 0, sizeof text);
    strcpy(text, "[global]\n[destination ");
    memset(text + strlen(text), 'y', 190);
    strcat(text, "]\nhost = a\nretries = 999\n");
    expect_error(text, 2, "line too long (more than 198 characters)");
    /* CRLF endings and a UTF-8 byte order mark */
    bw_config *cfg = load_ok("\xEF\xBB\xBF[destination w]\r\nhost = a.example\r\n"
                             "retries = 7 ; why\r\n");
    CU_ASSERT_EQUAL(cfg->dests[0].policy.retries, 7);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].hosts[0].name, "a.example");
    bw_config_free(cfg);
    /* no newline at the end, and "key: value" */
    cfg = load_ok("[destination w]\nhost: a.example\nretries = 3");
    CU_ASSERT_EQUAL(cfg->dests[0].policy.retries, 3);
    bw_config_free(cfg);
}

static void test_example_config(void)
{
    bw_config *cfg = NULL;
    n_diags = 0;
    int r = bw_config_load("conf/breakwater.ini", &cfg, collect, NULL);
    for (int i = 0; i < n_diags && i < 64; i++)
        printf("\n  conf/breakwater.ini:%d: %s\n", diags[i].line, diags[i].msg);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(n_diags, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg->n_dests, 2);
    CU_ASSERT_STRING_EQUAL(cfg->dests[0].name, "payments");
    CU_ASSERT_STRING_EQUAL(cfg->dests[1].name, "local-dev");
    bw_policy p;
    bw_policy_defaults(&p);
    CU_ASSERT_EQUAL(memcmp(&p, &cfg->defaults, sizeof p), 0);
    bw_config_free(cfg);
}

/* Every key of the table is documented in the example with a "; key =" line. */
static void test_example_documents_keys(void)
{
    FILE *f = fopen("conf/breakwater.ini", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (int k = 0; k < bw_config_nkeys(); k++) {
        char want[80];
        const char *name = bw_config_key_name(k);
        if (!strcmp(name, "host") || !strcmp(name, "port"))
            continue;   /* shown in the example sections */
        snprintf(want, sizeof want, "\n; %s =", name);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
        if (!strstr(text, want))
            printf("\n  not documented: %s\n", name);
    }
}

static void test_ten_thousand(void)
{
    const char *path = tmp_path("big10k.ini");
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "[defaults]\nretries = 3\n");
    for (int i = 0; i < 10000; i++)
        fprintf(f, "[destination d%d]\nhost = h%d.example, 10.%d.%d.0/24\n"
                "port = %d\n", i, i, i / 256, i % 256, 1000 + i);
    fclose(f);
    chmod(path, 0644);
    struct timespec t0, t1;
    bw_config *cfg = NULL;
    n_diags = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = bw_config_load(path, &cfg, collect, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("(10,000 sections loaded in %.1f ms) ",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(n_diags, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg->n_dests, 10000);
    int in_order = 1;
    for (int i = 0; i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        in_order &= !strcmp(cfg->dests[i].name, name) && cfg->dests[i].line == 3 + 3 * i &&
                    cfg->dests[i].policy.retries == 3 && cfg->dests[i].n_hosts == 2 &&
                    cfg->dests[i].ports[0].lo == 1000 + i;
    }
    CU_ASSERT_TRUE(in_order);
    bw_config_free(cfg);
    /* a duplicate at the very end is found through the name table */
    f = fopen(path, "a");
    fprintf(f, "[destination d4321]\nhost = x\n");
    fclose(f);
    n_diags = 0;
    CU_ASSERT_EQUAL(bw_config_load(path, &cfg, collect, NULL), -1);
    CU_ASSERT_EQUAL_FATAL(n_diags, 1);
    CU_ASSERT_EQUAL(diags[0].line, 30003);
    CU_ASSERT_STRING_EQUAL(diags[0].msg, "duplicate destination name 'd4321' (first "
                           "defined at line 12966)");
}

static const bw_test_case value_cases[] = {
    {"bool", test_bool},
    {"uint", test_uint},
    {"decimal", test_decimal},
    {"errno names", test_errno_names},
    {"ports", test_ports},
    {"statuses", test_statuses},
    {"retry_on", test_retry_on},
    {"methods and tokens", test_methods_and_tokens},
    {"absolute path", test_abspath},
    {"host names", test_hosts_names},
    {"host addresses", test_hosts_addresses},
    {"host list", test_hosts_list},
    {"edit distance", test_edit_distance},
    {NULL, NULL},
};

static const bw_test_case key_cases[] = {
    {"policy defaults", test_policy_defaults},
    {"builtin config", test_builtin},
    {"defaults from a file", test_file_defaults},
    {"global keys", test_global_keys},
    {"every policy key", test_policy_keys},
    {"key ranges", test_key_ranges},
    {"rules between keys", test_rules},
    {"[defaults] inheritance", test_defaults_inherit},
    {NULL, NULL},
};

/* bw_diag_keep_first: the first error, labelled, and a count of errors only. */
static void test_keep_first(void)
{
    bw_diag_first f = {.label = "error: "};
    bw_diag_keep_first(&f, "a.ini", 3, BW_DIAG_WARNING, "a warning");
    CU_ASSERT_EQUAL(f.errors, 0);
    bw_diag_keep_first(&f, "a.ini", 4, BW_DIAG_ERROR, "first");
    bw_diag_keep_first(&f, "a.ini", 9, BW_DIAG_ERROR, "second");
    CU_ASSERT_EQUAL(f.errors, 2);
    CU_ASSERT_STRING_EQUAL(f.text, "a.ini:4: error: first");
    bw_diag_first plain = {.label = ""};
    bw_diag_keep_first(&plain, "b.ini", 1, BW_DIAG_ERROR, "bad");
    CU_ASSERT_STRING_EQUAL(plain.text, "b.ini:1: bad");
}

static const bw_test_case error_cases[] = {
    {"first error kept", test_keep_first},
    {"section errors", test_section_errors},
    {"key errors", test_key_errors},
    {"all errors reported", test_all_errors_reported},
    {"continuation lines", test_continuation},
    {"host bits warning", test_host_warning},
    {NULL, NULL},
};

static const bw_test_case file_cases[] = {
    {"empty file", test_file_empty},
    {"writable by others", test_file_mode},
    {"directory, fifo, missing, binary, big, unreadable", test_file_kinds},
    {"path and identity", test_file_identity},
    {"lines", test_file_lines},
    {"example config loads", test_example_config},
    {"example documents every key", test_example_documents_keys},
    {"10,000 sections", test_ten_thousand},
    {NULL, NULL},
};

BW_TEST_MAIN({"config values", value_cases}, {"config keys", key_cases},
             {"config errors", error_cases}, {"config file", file_cases})
