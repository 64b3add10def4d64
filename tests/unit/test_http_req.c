/*
 * test_http_req.c - the Idempotency-Key request scanner: a corpus of valid
 * and invalid request streams, each checked byte for byte against the exact
 * expected output under several splits (whole, 1-byte, random), and a
 * property test over seeded random request sequences.
 */
#include <stdarg.h>
#include <string.h>

#include "bw_http_req.h"
#include "bw_test.h"
#include "bw_uuid.h"

/* ---- a growable byte string ---- */

typedef struct str {
    char *p;
    size_t len, cap;
} str;

static void put(str *s, const void *b, size_t n)
{
    if (n == 0)
        return;
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
    }
    memcpy(s->p + s->len, b, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void puts_(str *s, const char *z)
{
    put(s, z, strlen(z));
}

static void putf(str *s, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(s, tmp, (size_t)n);
}

/* ---- deterministic randomness ---- */

static uint64_t rng_state;

static uint32_t rnd32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static uint32_t below(uint32_t n)
{
    return rnd32() % n;
}

/* The random bytes of the k-th key on a stream (key_seed 0: all 0xab). */
static int key_seed;

static void key_rnd(unsigned k, uint8_t rnd[16])
{
    for (int i = 0; i < 16; i++)
        rnd[i] = key_seed ? (uint8_t)(k * 37 + i * 11 + 1) : 0xab;
}

#define KEY_MS 0x017F22E279B0ull

/* ---- the driver: what the shell does with each chunk ---- */

typedef struct run {
    str out;
    unsigned keys;
    int kinds[64];
    unsigned n_kinds;
} run;

/* Scans one chunk (copied to an exact-size heap block, so ASan sees any
 * read past it) and appends what would go out on the wire. */
static void feed(bw_http_req *st, const bw_http_req_cfg *cfg, const char *b, size_t len, run *r)
{
    uint8_t *chunk = malloc(len ? len : 1);
    memcpy(chunk, b, len);
    const uint8_t *p = chunk;
    size_t left = len, guard = 2 * len + 4;
    while (left && guard--) {
        bw_http_req_event ev;
        size_t n = bw_http_req_scan(st, cfg, p, left, &ev);
        CU_ASSERT_FATAL(n <= left);
        put(&r->out, p, n);
        p += n;
        left -= n;
        if (ev.request && r->n_kinds < 64)
            r->kinds[r->n_kinds++] = ev.request;
        if (ev.insert) {
            char line[BW_HTTP_REQ_LINE_MAX];
            uint8_t rnd[16];
            key_rnd(r->keys++, rnd);
            size_t ln = bw_http_req_header_line(cfg, &ev, rnd, KEY_MS, line, sizeof line);
            CU_ASSERT_FATAL(ln > 0);
            put(&r->out, line, ln);
        }
    }
    CU_ASSERT_FATAL(left == 0);   /* the scan loop made progress */
    free(chunk);
}

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_SMALL, SPLIT_RANDOM };

static void run_split(const bw_http_req_cfg *cfg, const char *in, size_t len,
                      enum split how, run *r, bw_http_req *st)
{
    memset(r, 0, sizeof *r);
    bw_http_req_init(st);
    size_t at = 0;
    while (at < len) {
        size_t n = len - at;
        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_SMALL)
            n = 1 + below(7);
        else if (how == SPLIT_RANDOM)
            n = 1 + below((uint32_t)(len - at < 300 ? len - at : 300));
        if (n > len - at)
            n = len - at;
        feed(st, cfg, in + at, n, r);
        at += n;
    }
}

static const char default_methods[][BW_MAX_METHOD_LEN] = {"POST", "PATCH"};
static const bw_http_req_cfg default_cfg = {
    default_methods, 2, "Idempotency-Key", BW_IDEM_TOKEN, BW_IDEM_UUID4};

/* Checks that every split of in yields exactly want; returns the last run's key count. */
static unsigned check_cfg(const bw_http_req_cfg *cfg, const char *in, size_t in_len,
                          const char *want, size_t want_len)
{
    run r;
    bw_http_req st;
    unsigned keys = 0;
    key_seed = 0;
    rng_state = 42;
    for (int how = SPLIT_WHOLE; how <= SPLIT_RANDOM; how++) {
        for (int rep = 0; rep < (how >= SPLIT_SMALL ? 8 : 1); rep++) {
            run_split(cfg, in, in_len, (enum split)how, &r, &st);
            CU_ASSERT_EQUAL(r.out.len, want_len);
            CU_ASSERT(r.out.len == want_len && memcmp(r.out.p, want, want_len) == 0);
            if (r.out.len != want_len || memcmp(r.out.p, want, want_len) != 0)
                printf("\nsplit %d: got [%.*s]\nwant [%.*s]\n", how, (int)r.out.len,
                       r.out.p ? r.out.p : "", (int)want_len, want);
            CU_ASSERT_EQUAL(st.keys, r.keys);
            keys = r.keys;
            free(r.out.p);
        }
    }
    return keys;
}

#define CHECK(in, want) check_cfg(&default_cfg, in, sizeof(in) - 1, want, sizeof(want) - 1)
#define SAME(in) CHECK(in, in)

#define UUID "abababab-abab-4bab-abab-abababababab"
#define KEY "Idempotency-Key: " UUID "\r\n"

/* ---- corpus ---- */

static void test_get_untouched(void)
{
    CU_ASSERT_EQUAL(SAME("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

static void test_post_content_length(void)
{
    CU_ASSERT_EQUAL(CHECK("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nhe\r\n\r\nllo",
                          "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n" KEY "\r\nhe\r\n\r\nllo"),
                    1);
}

static void test_post_no_headers(void)
{
    CHECK("POST / HTTP/1.1\r\n\r\n", "POST / HTTP/1.1\r\n" KEY "\r\n");
}

static void test_post_chunked(void)
{
    CHECK("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
          "6;ext=1\r\nhe\r\n\r\n\r\n4 ; a=\"b\"\r\n\r\n\r\n\r\nA\r\n0123456789\r\n"
          "0\r\nX-Trailer: 1\r\nPOST: x\r\n\r\n"
          "POST /d HTTP/1.1\r\n\r\n",
          "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" KEY "\r\n"
          "6;ext=1\r\nhe\r\n\r\n\r\n4 ; a=\"b\"\r\n\r\n\r\n\r\nA\r\n0123456789\r\n"
          "0\r\nX-Trailer: 1\r\nPOST: x\r\n\r\n"
          "POST /d HTTP/1.1\r\n" KEY "\r\n");
}

static void test_chunked_codings(void)
{
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, CHUNKED \r\n\r\n0\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, CHUNKED \r\n" KEY "\r\n0\r\n\r\n");
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked,\r\n\r\n"
          "0\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked,\r\n" KEY
          "\r\n0\r\n\r\n");
    /* final coding not chunked: cannot be framed */
    SAME("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n");
    /* HTTP/1.0 with Transfer-Encoding: faulty framing (RFC 9112 6.1) */
    SAME("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

static void test_methods(void)
{
    CHECK("PATCH /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
          "PATCH /x HTTP/1.1\r\nContent-Length: 2\r\n" KEY "\r\n{}");
    SAME("PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    SAME("DELETE /x HTTP/1.1\r\n\r\n");
    SAME("post / HTTP/1.1\r\n\r\n");          /* methods are case-sensitive */
    SAME("POSTX / HTTP/1.1\r\n\r\n");
    SAME("POS / HTTP/1.1\r\n\r\n");
    SAME("OPTIONS * HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n");
}

static void test_http10(void)
{
    CHECK("POST /old HTTP/1.0\r\nContent-Length: 1\r\n\r\nx",
          "POST /old HTTP/1.0\r\nContent-Length: 1\r\n" KEY "\r\nx");
}

static void test_existing_key(void)
{
    SAME("POST / HTTP/1.1\r\nidempotency-KEY: mine\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nIDEMPOTENCY-KEY:\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: \"x\"\r\nContent-Length: 0\r\n\r\n");
    /* only an exact name counts */
    CHECK("POST / HTTP/1.1\r\nIdempotency-Keys: x\r\nX-Idempotency-Key: y\r\n\r\n",
          "POST / HTTP/1.1\r\nIdempotency-Keys: x\r\nX-Idempotency-Key: y\r\n" KEY "\r\n");
    /* the name inside a value or body does not count */
    CHECK("POST / HTTP/1.1\r\nX: Idempotency-Key: 1\r\nContent-Length: 19\r\n\r\nIdempotency-Key: 1\n",
          "POST / HTTP/1.1\r\nX: Idempotency-Key: 1\r\nContent-Length: 19\r\n" KEY
          "\r\nIdempotency-Key: 1\n");
}

static void test_lf_only(void)
{
    CHECK("POST / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhiPOST /2 HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\nHost: a\nContent-Length: 2\nIdempotency-Key: " UUID "\n\nhi"
          "POST /2 HTTP/1.1\r\n" KEY "\r\n");
    CHECK("POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n",
          "POST / HTTP/1.1\nTransfer-Encoding: chunked\nIdempotency-Key: " UUID "\n\n2\nhi\n0\n\n");
}

static void test_pipelined(void)
{
    CU_ASSERT_EQUAL(
        CHECK("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
              "GET /b HTTP/1.1\r\n\r\n"
              "PATCH /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
              "POST /d HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
              "POST /a HTTP/1.1\r\nContent-Length: 3\r\n" KEY "\r\nabc"
              "GET /b HTTP/1.1\r\n\r\n"
              "PATCH /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY "\r\n1\r\nz\r\n0\r\n\r\n"
              "POST /d HTTP/1.1\r\nContent-Length: 0\r\n" KEY "\r\n"),
        3);
}

static void test_empty_lines_before_request(void)
{
    CHECK("\r\n\nPOST / HTTP/1.1\r\n\r\n", "\r\n\nPOST / HTTP/1.1\r\n" KEY "\r\n");
    CHECK("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nContent-Length: 1\r\n" KEY "\r\nx\r\nPOST / HTTP/1.1\r\n" KEY "\r\n");
}

static void test_expect_continue(void)
{
    CHECK("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"
          "POST /n HTTP/1.1\r\n\r\n",
          "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n" KEY "\r\nbody"
          "POST /n HTTP/1.1\r\n" KEY "\r\n");
}

static void test_connect(void)
{
    SAME("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
         "POST / HTTP/1.1\r\n\r\n");
}

static void test_upgrade(void)
{
    SAME("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
         "POST / HTTP/1.1\r\n\r\n");
    /* the upgrading request itself is still HTTP: it gets its key */
    CHECK("POST /h2c HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx"
          "POST / HTTP/1.1\r\n\r\n",
          "POST /h2c HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 1\r\n" KEY "\r\nx"
          "POST / HTTP/1.1\r\n\r\n");
}

static void test_not_http(void)
{
    SAME("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03POST / HTTP/1.1\r\n\r\n");
    SAME("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("\x00\x01\x02POST / HTTP/1.1\r\n\r\n");
    SAME("POST / HTTP/1.1x\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("POST /\r\n\r\nPOST / HTTP/1.1\r\n\r\n");           /* HTTP/0.9 style */
    SAME("POST  / HTTP/1.1\r\n\r\n");                         /* two spaces */
    SAME("POST /a\tb HTTP/1.1\r\n\r\n");                      /* control in target */
    SAME(" POST / HTTP/1.1\r\n\r\n");
    SAME("\rPOST / HTTP/1.1\r\n\r\n");
}

static void test_cl_and_te(void)
{
    SAME("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
}

static void test_bad_content_length(void)
{
    SAME("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
    SAME("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc");
    SAME("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    /* identical repeats agree on one length */
    CHECK("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length:  02 \r\n\r\nab"
          "POST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length:  02 \r\n" KEY "\r\nab"
          "POST / HTTP/1.1\r\n" KEY "\r\n");
}

static void test_bad_chunks(void)
{
    /* the head was fine, so the key went in; what follows is not ours */
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY
          "\r\nzz\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY
          "\r\n2\r\nabc\r\nPOST / HTTP/1.1\r\n\r\n");
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 1\r\na\r\n0\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY
          "\r\n 1\r\na\r\n0\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "10000000000000000\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY
          "\r\n10000000000000000\r\nPOST / HTTP/1.1\r\n\r\n");
    CHECK("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n bad\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" KEY
          "\r\n0\r\n bad\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
}

static void test_obs_fold(void)
{
    SAME("POST / HTTP/1.1\r\nX: a\r\n b\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("POST / HTTP/1.1\r\n\tX: a\r\n\r\n");
}

static void test_bare_cr(void)
{
    SAME("POST / HTTP/1.1\r\nX: a\rb\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    SAME("POST / HTTP/1.1\rX: a\r\n\r\n");
    /* a blank line of CR and no LF: the key was due at the CR already */
    CHECK("POST / HTTP/1.1\r\n\rX\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
          "POST / HTTP/1.1\r\n" KEY "\rX\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
}

static void test_bad_field_names(void)
{
    SAME("POST / HTTP/1.1\r\nX : a\r\n\r\n");
    SAME("POST / HTTP/1.1\r\n: a\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nX(y): a\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nNoColon\r\n\r\n");
    SAME("POST / HTTP/1.1\r\nX: a\0b\r\n\r\n");
}

static void test_long_lines(void)
{
    str in = {0}, want = {0};
    puts_(&in, "POST / HTTP/1.1\r\nX-Long: ");
    for (int i = 0; i < 70000; i++)
        put(&in, "v", 1);
    puts_(&in, "\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
    check_cfg(&default_cfg, in.p, in.len, in.p, in.len);
    free(in.p);
    /* just under the limit is fine */
    in = (str){0};
    puts_(&in, "POST / HTTP/1.1\r\nX-Long: ");
    for (int i = 0; i < 60000; i++)
        put(&in, "v", 1);
    puts_(&in, "\r\n");
    put(&want, in.p, in.len);
    puts_(&in, "\r\n");
    puts_(&want, KEY "\r\n");
    check_cfg(&default_cfg, in.p, in.len, want.p, want.len);
    free(in.p);
    free(want.p);
}

static void test_custom_config(void)
{
    static const char methods[][BW_MAX_METHOD_LEN] = {"PUT", "DELETE", "post"};
    bw_http_req_cfg cfg = {methods, 3, "X-Request-Id", BW_IDEM_SF_STRING, BW_IDEM_UUID7};
    const char in[] = "PUT /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
                      "POST /b HTTP/1.1\r\n\r\n"
                      "post /c HTTP/1.1\r\n\r\n"
                      "DELETE /d HTTP/1.1\r\nx-request-id: 7\r\n\r\n";
#define XKEY "X-Request-Id: \"017f22e2-79b0-7bab-abab-abababababab\"\r\n"
    const char want[] = "PUT /a HTTP/1.1\r\nContent-Length: 1\r\n" XKEY "\r\nx"
                        "POST /b HTTP/1.1\r\n\r\n"
                        "post /c HTTP/1.1\r\n" XKEY "\r\n"
                        "DELETE /d HTTP/1.1\r\nx-request-id: 7\r\n\r\n";
    CU_ASSERT_EQUAL(check_cfg(&cfg, in, sizeof in - 1, want, sizeof want - 1), 2);
}

static void test_no_methods(void)
{
    bw_http_req_cfg cfg = default_cfg;
    cfg.n_methods = 0;
    const char in[] = "POST / HTTP/1.1\r\n\r\n";
    check_cfg(&cfg, in, sizeof in - 1, in, sizeof in - 1);
}

static void test_from_policy(void)
{
    bw_policy p;
    memset(&p, 0, sizeof p);
    strcpy(p.methods[0], "POST");
    p.n_methods = 1;
    strcpy(p.idempotency_header, "Idempotency-Key");
    bw_http_req_cfg cfg;
    bw_http_req_cfg_from_policy(&cfg, &p);
    CU_ASSERT_EQUAL(cfg.n_methods, 0);   /* idempotency off */
    p.idempotency = true;
    bw_http_req_cfg_from_policy(&cfg, &p);
    CU_ASSERT_EQUAL(cfg.n_methods, 1);
    const char in[] = "POST / HTTP/1.1\r\n\r\n";
    const char want[] = "POST / HTTP/1.1\r\n" KEY "\r\n";
    check_cfg(&cfg, in, sizeof in - 1, want, sizeof want - 1);
}

static void test_request_kinds(void)
{
    const char in[] = "HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
                      "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
                      "CONNECT h:1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    run r;
    bw_http_req st;
    for (int how = SPLIT_WHOLE; how <= SPLIT_BYTES; how++) {
        run_split(&default_cfg, in, sizeof in - 1, (enum split)how, &r, &st);
        CU_ASSERT_EQUAL(r.n_kinds, 4);
        CU_ASSERT_EQUAL(r.kinds[0], BW_HTTP_M_HEAD);
        CU_ASSERT_EQUAL(r.kinds[1], BW_HTTP_M_OTHER);
        CU_ASSERT_EQUAL(r.kinds[2], BW_HTTP_M_OTHER);
        CU_ASSERT_EQUAL(r.kinds[3], BW_HTTP_M_CONNECT);
        CU_ASSERT(bw_http_req_passthrough(&st));
        free(r.out.p);
    }
}

static void test_insert_at_chunk_start(void)
{
    /* the chunk ends right after the last header line: the key is due at
     * the start of the next chunk, with nothing passed before it */
    bw_http_req st;
    bw_http_req_event ev;
    bw_http_req_init(&st);
    const char *a = "POST / HTTP/1.1\r\nHost: a\r\n";
    size_t n = bw_http_req_scan(&st, &default_cfg, (const uint8_t *)a, strlen(a), &ev);
    CU_ASSERT_EQUAL(n, strlen("POST / HTTP/1.1\r\n"));
    CU_ASSERT_EQUAL(ev.request, BW_HTTP_M_OTHER);
    a += n;
    n = bw_http_req_scan(&st, &default_cfg, (const uint8_t *)a, strlen(a), &ev);
    CU_ASSERT_EQUAL(n, strlen(a));
    CU_ASSERT(!ev.insert && !ev.request);
    n = bw_http_req_scan(&st, &default_cfg, (const uint8_t *)"\r\n", 2, &ev);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(ev.insert && ev.crlf);
    n = bw_http_req_scan(&st, &default_cfg, (const uint8_t *)"\r\n", 2, &ev);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(!ev.insert);
    CU_ASSERT_EQUAL(st.keys, 1);
    CU_ASSERT_EQUAL(bw_http_req_scan(&st, &default_cfg, (const uint8_t *)"", 0, &ev), 0);
}

static void test_short_write_replay(void)
{
    /* The documented way to handle a short send: snapshot, scan, restore,
     * rescan the part that went out. */
    const char *in = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST / HTTP/1.1\r\n\r\n";
    bw_http_req st, snap;
    bw_http_req_event ev;
    bw_http_req_init(&st);
    const uint8_t *p = (const uint8_t *)in;
    size_t left = strlen(in), inserted = 0, guard = 100;
    while (left && guard--) {
        snap = st;
        size_t n = bw_http_req_scan(&st, &default_cfg, p, left, &ev);
        size_t sent = n > 3 ? n / 2 : n;   /* the kernel takes only part */
        if (sent < n) {
            st = snap;
            bw_http_req_event ev2;
            CU_ASSERT_EQUAL(bw_http_req_scan(&st, &default_cfg, p, sent, &ev2), sent);
            CU_ASSERT(!ev2.insert);
        } else if (ev.insert) {
            inserted++;
        }
        p += sent;
        left -= sent;
    }
    CU_ASSERT_EQUAL(left, 0);
    CU_ASSERT_EQUAL(inserted, 2);
    CU_ASSERT_EQUAL(st.keys, 2);
}

static void test_unseen_bytes(void)
{
    const char *head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
    const char *next = "POST / HTTP/1.1\r\n\r\n";
    bw_http_req st;
    bw_http_req_event ev;
    run r = {0};
    bw_http_req_init(&st);
    feed(&st, &default_cfg, head, strlen(head), &r);
    CU_ASSERT(bw_http_req_unseen(&st, 4));    /* sendfile of part of the body */
    CU_ASSERT(bw_http_req_unseen(&st, 6));    /* ... and the rest */
    CU_ASSERT_EQUAL(bw_http_req_scan(&st, &default_cfg, (const uint8_t *)next, strlen(next), &ev),
                    strlen("POST / HTTP/1.1\r\n"));
    feed(&st, &default_cfg, next + strlen("POST / HTTP/1.1\r\n"), 2, &r);
    CU_ASSERT_EQUAL(st.keys, 2);
    CU_ASSERT(!bw_http_req_passthrough(&st));
    /* more than the body holds: framing is lost */
    feed(&st, &default_cfg, head, strlen(head), &r);
    CU_ASSERT(!bw_http_req_unseen(&st, 11));
    CU_ASSERT(bw_http_req_passthrough(&st));
    /* unseen bytes where a head is due */
    bw_http_req_init(&st);
    CU_ASSERT(bw_http_req_unseen(&st, 0));
    CU_ASSERT(!bw_http_req_unseen(&st, 1));
    CU_ASSERT(bw_http_req_passthrough(&st));
    /* inside a chunk */
    const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
    bw_http_req_init(&st);
    feed(&st, &default_cfg, ch, strlen(ch), &r);
    CU_ASSERT(bw_http_req_unseen(&st, 5));
    feed(&st, &default_cfg, "\r\n0\r\n\r\n", 7, &r);
    CU_ASSERT(!bw_http_req_passthrough(&st));
    CU_ASSERT_EQUAL(bw_http_req_scan(&st, &default_cfg, (const uint8_t *)next, strlen(next), &ev),
                    strlen("POST / HTTP/1.1\r\n"));
    free(r.out.p);
}

static void test_header_line(void)
{
    uint8_t rnd[16];
    char out[BW_HTTP_REQ_LINE_MAX];
    memset(rnd, 0xab, sizeof rnd);
    bw_http_req_cfg cfg = default_cfg;
    bw_http_req_event ev = {true, true, 0};
    CU_ASSERT_EQUAL(bw_http_req_header_line(&cfg, &ev, rnd, 0, out, sizeof out), strlen(KEY));
    CU_ASSERT_STRING_EQUAL(out, KEY);
    ev.crlf = false;
    cfg.format = BW_IDEM_SF_STRING;
    bw_http_req_header_line(&cfg, &ev, rnd, 0, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "Idempotency-Key: \"" UUID "\"\n");
    /* too small: nothing claimed */
    CU_ASSERT_EQUAL(bw_http_req_header_line(&cfg, &ev, rnd, 0, out, 20), 0);
    CU_ASSERT_EQUAL(bw_http_req_header_line(&cfg, &ev, rnd, 0, out, 0), 0);
    /* the longest header name fits in BW_HTTP_REQ_LINE_MAX */
    char name[BW_MAX_HEADER_NAME];
    memset(name, 'N', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cfg.header = name;
    ev.crlf = true;
    CU_ASSERT_EQUAL(bw_http_req_header_line(&cfg, &ev, rnd, 0, out, sizeof out),
                    BW_HTTP_REQ_LINE_MAX - 1);
}

static void test_state_size(void)
{
    CU_ASSERT(sizeof(bw_http_req) < 512);
}

/* ---- property test: random request sequences in random splits ---- */

static void rand_text(str *s, int min, int max, const char *alphabet)
{
    int n = min + (int)below((uint32_t)(max - min + 1));
    size_t na = strlen(alphabet);
    for (int i = 0; i < n; i++)
        put(s, &alphabet[below((uint32_t)na)], 1);
}

static void rand_bytes(str *s, size_t n)
{
    /* body bytes that look like heads, line ends and methods too */
    static const char *const bits[] = {"\r\n", "\r\n\r\n", "\n\n", "POST / HTTP/1.1\r\n", "\r",
                                       "0\r\n\r\n", "Idempotency-Key: x\r\n"};
    while (n) {
        if (below(4) == 0) {
            const char *b = bits[below(7)];
            size_t bl = strlen(b) < n ? strlen(b) : n;
            put(s, b, bl);
            n -= bl;
        } else {
            char c = (char)below(256);
            put(s, &c, 1);
            n--;
        }
    }
}

/* The sequence model: input, expected output and the number of keys. */
typedef struct model {
    str in, want;
    unsigned keys;
    bool dead;   /* passthrough: nothing more is inserted */
} model;

static void both(model *m, const char *b, size_t n)
{
    put(&m->in, b, n);
    put(&m->want, b, n);
}

static void both_s(model *m, const char *z)
{
    both(m, z, strlen(z));
}

static const char *eol(bool lf)
{
    return lf ? "\n" : "\r\n";
}

static void gen_chunked_body(model *m, bool lf)
{
    int chunks = (int)below(4);
    for (int c = 0; c < chunks; c++) {
        size_t n = 1 + below(40);
        str tmp = {0};
        putf(&tmp, below(2) ? "%zx" : "%zX", n);
        if (below(3) == 0)
            puts_(&tmp, below(2) ? ";a=b" : " ; ext=\"q;x\"");
        puts_(&tmp, eol(lf));
        rand_bytes(&tmp, n);
        puts_(&tmp, eol(lf));
        both(m, tmp.p, tmp.len);
        free(tmp.p);
    }
    both_s(m, below(2) ? "0" : "000");
    both_s(m, eol(lf));
    for (int t = (int)below(3); t > 0; t--) {
        both_s(m, "X-Trailer: v");
        both_s(m, eol(lf));
    }
    both_s(m, eol(lf));
}

static const char *const gen_methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE",
                                          "HEAD", "OPTIONS", "post", "POSTX"};

static void gen_request(model *m)
{
    const char *method = gen_methods[below(9)];
    bool lf = below(5) == 0, http10 = below(6) == 0, has_key = false;
    str head = {0};
    if (below(8) == 0)
        puts_(&head, eol(lf));   /* tolerated empty line */
    putf(&head, "%s /", method);
    rand_text(&head, 0, 20, "abcxyz/?=&%-._~0123456789");
    putf(&head, " HTTP/1.%s", http10 ? "0" : "1");
    puts_(&head, eol(below(4) == 0 ? !lf : lf));
    for (int h = (int)below(6); h > 0; h--) {
        if (below(6) == 0) {
            static const char *const names[] = {"Idempotency-Key", "idempotency-key",
                                                "IDEMPOTENCY-KEY", "iDeMpOtEnCy-KeY"};
            puts_(&head, names[below(4)]);
            has_key = true;
        } else {
            puts_(&head, "X-");
            rand_text(&head, 1, 12, "abcdefghijklmnopqrstuvwxyzABC-_0123456789!#$%&'*+.^`|~");
        }
        puts_(&head, ":");
        rand_text(&head, 0, 30, " \tabc:;,\"\\\x80\xff/=0123456789");
        puts_(&head, eol(below(5) == 0 ? !lf : lf));
    }
    int body = (int)below(3);   /* 0 none, 1 Content-Length, 2 chunked */
    if (body == 2 && http10)
        body = 1;
    size_t cl = below(60);
    if (body == 1)
        putf(&head, "Content-Length: %zu%s", cl, eol(lf));
    if (body == 2)
        putf(&head, "Transfer-Encoding: %schunked%s", below(2) ? "gzip, " : "", eol(lf));
    bool blank_lf = below(4) == 0 ? !lf : lf;
    both(m, head.p, head.len);
    free(head.p);
    bool listed = !strcmp(method, "POST") || !strcmp(method, "PATCH");
    if (listed && !has_key && !m->dead) {
        char line[BW_HTTP_REQ_LINE_MAX];
        uint8_t rnd[16];
        bw_http_req_event ev = {true, !blank_lf, 0};
        key_rnd(m->keys++, rnd);
        size_t n = bw_http_req_header_line(&default_cfg, &ev, rnd, KEY_MS, line, sizeof line);
        put(&m->want, line, n);
    }
    both_s(m, eol(blank_lf));
    if (body == 1) {
        str b = {0};
        rand_bytes(&b, cl);
        both(m, b.p, b.len);
        free(b.p);
    } else if (body == 2) {
        gen_chunked_body(m, lf);
    }
}

/* Something after which the connection passes through for good. */
static void gen_poison(model *m)
{
    static const char *const poison[] = {
        "CONNECT h:443 HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "\x16\x03\x01\x02\x00",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "POST / HTTP/1.1\r\nX: a\rb\r\n\r\n",
    };
    both_s(m, poison[below(7)]);
    m->dead = true;
}

static void test_random_sequences(void)
{
    for (unsigned seq = 0; seq < 2000; seq++) {
        rng_state = 0x9e3779b97f4a7c15ull * (seq + 1);
        key_seed = 1;
        model m = {0};
        int n = 1 + (int)below(5);
        for (int i = 0; i < n; i++) {
            if (below(20) == 0)
                gen_poison(&m);
            gen_request(&m);
        }
        int how = (int)(seq % 4);
        run r;
        bw_http_req st;
        run_split(&default_cfg, m.in.p, m.in.len, (enum split)how, &r, &st);
        bool same = r.out.len == m.want.len && memcmp(r.out.p, m.want.p, m.want.len) == 0;
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(r.keys, m.keys);
        if (!same) {
            printf("\nsequence %u (split %d) differs:\n[%.*s]\nwant\n[%.*s]\n", seq, how,
                   (int)r.out.len, r.out.p, (int)m.want.len, m.want.p);
            seq = 2000;   /* one report is enough */
        }
        free(r.out.p);
        free(m.in.p);
        free(m.want.p);
    }
}

static const bw_test_case corpus_cases[] = {
    {"GET passes untouched", test_get_untouched},
    {"POST with Content-Length", test_post_content_length},
    {"POST without fields", test_post_no_headers},
    {"chunked POST, extensions, trailers", test_post_chunked},
    {"transfer-coding lists", test_chunked_codings},
    {"listed and unlisted methods", test_methods},
    {"HTTP/1.0", test_http10},
    {"existing key in any case", test_existing_key},
    {"LF-only line endings", test_lf_only},
    {"pipelined requests", test_pipelined},
    {"empty lines before a request", test_empty_lines_before_request},
    {"Expect: 100-continue", test_expect_continue},
    {"CONNECT", test_connect},
    {"Upgrade", test_upgrade},
    {"TLS, HTTP/2, binary, bad request lines", test_not_http},
    {"both Content-Length and Transfer-Encoding", test_cl_and_te},
    {"bad Content-Length", test_bad_content_length},
    {"bad chunk framing", test_bad_chunks},
    {"obs-fold", test_obs_fold},
    {"bare CR", test_bare_cr},
    {"bad field names", test_bad_field_names},
    {"line length limit", test_long_lines},
    {"custom header, methods, sf-string, uuid7", test_custom_config},
    {"no methods: nothing inserted", test_no_methods},
    {"config from a policy", test_from_policy},
    {NULL, NULL},
};

static const bw_test_case api_cases[] = {
    {"request kinds are reported", test_request_kinds},
    {"insertion at a chunk's start", test_insert_at_chunk_start},
    {"short write: snapshot and rescan", test_short_write_replay},
    {"bytes sent unseen (sendfile)", test_unseen_bytes},
    {"header line text", test_header_line},
    {"state is small", test_state_size},
    {NULL, NULL},
};

static const bw_test_case property_cases[] = {
    {"2000 random sequences, random splits", test_random_sequences},
    {NULL, NULL},
};

BW_TEST_MAIN({"http_req corpus", corpus_cases}, {"http_req api", api_cases},
             {"http_req property", property_cases})
