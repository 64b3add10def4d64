/*
 * test_http_resp.c - the response status reader: a corpus of response
 * framings fed whole, byte by byte and in random splits (each chunk in an
 * exact-size heap block, so a read past it is caught by ASan), and a
 * property test over seeded random keep-alive sequences.
 */
#include <stdarg.h>
#include <string.h>

#include "bw_http_req.h"
#include "bw_http_resp.h"
#include "bw_test.h"

static uint64_t rng_state;

static uint32_t below(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

#define MAX_ST 256

typedef struct result {
    int st[MAX_ST];
    int n;
    bool blind;
} result;

/* Feeds one chunk through bw_http_resp_step, as the shell would. */
static void feed_chunk(bw_http_resp *r, const char *b, size_t len, result *out)
{
    uint8_t *chunk = malloc(len ? len : 1);
    memcpy(chunk, b, len);
    const uint8_t *p = chunk;
    size_t left = len, guard = len + 2;
    while (left && guard--) {
        int status;
        size_t n = bw_http_resp_step(r, p, left, &status);
        CU_ASSERT_FATAL(n <= left && n > 0);
        p += n;
        left -= n;
        if (status && out->n < MAX_ST)
            out->st[out->n++] = status;
    }
    CU_ASSERT_FATAL(left == 0);
    free(chunk);
}

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_SMALL, SPLIT_RANDOM };

/* Runs in through a fresh reader; kinds[] are the requests noted first. */
static void run_split(const char *in, size_t len, const int *kinds, int n_kinds,
                      enum split how, result *out)
{
    bw_http_resp r;
    bw_http_resp_init(&r);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_kinds; i++)
        bw_http_resp_expect(&r, kinds[i]);
    size_t at = 0;
    while (at < len) {
        size_t n = len - at;
        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_SMALL)
            n = 1 + below(7);
        else if (how == SPLIT_RANDOM)
            n = 1 + below((uint32_t)(len - at));
        if (n > len - at)
            n = len - at;
        feed_chunk(&r, in + at, n, out);
        at += n;
    }
    out->blind = bw_http_resp_blind(&r);
}

/* Every split of in must give exactly the statuses want[0..n_want). */
static void check_kinds(const char *in, size_t len, const int *kinds, int n_kinds,
                        const int *want, int n_want, bool blind)
{
    rng_state = 7;
    for (int how = SPLIT_WHOLE; how <= SPLIT_RANDOM; how++) {
        for (int rep = 0; rep < (how >= SPLIT_SMALL ? 8 : 1); rep++) {
            result got;
            run_split(in, len, kinds, n_kinds, (enum split)how, &got);
            CU_ASSERT_EQUAL(got.n, n_want);
            bool same = got.n == n_want &&
                        (n_want == 0 || !memcmp(got.st, want, sizeof(int) * (size_t)n_want));
            CU_ASSERT(same);
            CU_ASSERT_EQUAL(got.blind, blind);
            if (!same) {
                printf("\nsplit %d: got", how);
                for (int i = 0; i < got.n; i++)
                    printf(" %d", got.st[i]);
                printf("\n");
            }
        }
    }
}

#define LIST(...) ((const int[]){__VA_ARGS__})
#define NLIST(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define CHECK(in, blind, ...) \
    check_kinds(in, sizeof(in) - 1, NULL, 0, LIST(__VA_ARGS__), NLIST(__VA_ARGS__), blind)
#define CHECK_NONE(in, blind) check_kinds(in, sizeof(in) - 1, NULL, 0, NULL, 0, blind)
#define CHECK_K(in, kinds, blind, ...)                                                 \
    check_kinds(in, sizeof(in) - 1, kinds, (int)(sizeof kinds / sizeof kinds[0]),     \
                LIST(__VA_ARGS__), NLIST(__VA_ARGS__), blind)

static void test_content_length(void)
{
    CHECK("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHTTP/1.1 5x"
          "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
          "HTTP/1.1 404 Not Found\r\ncontent-length:3\r\n\r\n404",
          false, 200, 503, 404);
}

static void test_chunked(void)
{
    CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "b;x=y\r\nHTTP/1.1 50\r\n10\r\n0123456789abcdef\r\n0\r\nX-Checksum: 1\r\n\r\n"
          "HTTP/1.1 500 Oops\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
          false, 200, 500);
}

static void test_close_delimited(void)
{
    CHECK("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody HTTP/1.1 500 X\r\n\r\n", true, 200);
    CHECK("HTTP/1.0 200 OK\r\n\r\nHTTP/1.1 500 X\r\n\r\n", true, 200);
    CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nHTTP/1.1 500 X\r\n\r\n", true, 200);
}

static void test_interim(void)
{
    CHECK("HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
          "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
          false, 201);
}

static void test_no_body_statuses(void)
{
    CHECK("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
          "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n",
          false, 204, 304, 204, 502);
}

static void test_head(void)
{
    static const int kinds[] = {BW_HTTP_M_HEAD, BW_HTTP_M_OTHER, BW_HTTP_M_HEAD};
    CHECK_K("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "HTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n",
            kinds, false, 200, 404, 200, 503);
}

static void test_switching(void)
{
    CHECK_NONE("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
               "HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n",
               true);
}

static void test_connect(void)
{
    static const int ok[] = {BW_HTTP_M_CONNECT, BW_HTTP_M_OTHER};
    CHECK_K("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n",
            ok, true, 200);
    CHECK_K("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n",
            ok, false, 407, 500);
}

static void test_keep_alive_sequence(void)
{
    CHECK("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal\r\nContent-Length: 1\r\n\r\nx"
          "HTTP/1.0 503 Busy\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"
          "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"           /* no reason, no SP */
          "HTTP/1.1 999 Odd\nContent-Length: 1\n\nz"            /* LF only */
          "HTTP/1.1 429 \r\nTransfer-Encoding: chunked\r\n\r\n1\nq\n0\n\n",
          false, 200, 500, 503, 200, 999, 429);
}

static void test_unframeable(void)
{
    CHECK("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
          "HTTP/1.1 500 X\r\n\r\n", true, 200);
    CHECK("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 500 X\r\n\r\n",
          true, 200);
    CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 500 X\r\n\r\n",
          true, 200);
    /* the status line was fine: its status counts, then nothing more */
    CHECK("HTTP/1.1 502 Bad\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", true, 502);
    CHECK("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", true, 200);
    CHECK("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\nHTTP/1.1 500 X\r\n\r\n", true, 200);
    CHECK_NONE("HTTP/2 200\r\n\r\n", true);
    CHECK_NONE("HTTP/1.1 20 OK\r\n\r\n", true);
    CHECK_NONE("HTTP/1.1 2000 OK\r\n\r\n", true);
    CHECK_NONE("HTTP/1.1 099 OK\r\n\r\n", true);
    CHECK_NONE("HTTP/1.1 200OK\r\n\r\n", true);
    CHECK_NONE("\x16\x03\x03\x00\x4a\x02", true);
    CHECK_NONE("SSH-2.0-OpenSSH_9.2\r\n", true);
    CHECK("HTTP/1.1 200 OK\r\nContent-Length: 1", false, 200);   /* head not ended yet */
    CHECK_NONE("HTTP/1.1 200 OK", false);                          /* status line neither */
}

static void test_queue_overflow(void)
{
    bw_http_resp r;
    bw_http_resp_init(&r);
    for (int i = 0; i < BW_HTTP_RESP_QUEUE; i++)
        bw_http_resp_expect(&r, BW_HTTP_M_OTHER);
    CU_ASSERT(!bw_http_resp_blind(&r));
    bw_http_resp_expect(&r, BW_HTTP_M_OTHER);
    CU_ASSERT(bw_http_resp_blind(&r));
}

static void test_queue_wraps(void)
{
    /* the ring keeps request order across many more requests than it holds */
    bw_http_resp r;
    bw_http_resp_init(&r);
    const char *head_resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    const char *get_resp = "HTTP/1.1 201 OK\r\nContent-Length: 5\r\n\r\nabcde";
    result got = {0};
    for (int i = 0; i < 200; i++) {
        bool head = i % 3 == 0;
        bw_http_resp_expect(&r, head ? BW_HTTP_M_HEAD : BW_HTTP_M_OTHER);
        const char *s = head ? head_resp : get_resp;
        int before = got.n;
        feed_chunk(&r, s, strlen(s), &got);
        CU_ASSERT_EQUAL(got.n, before + 1);
    }
    CU_ASSERT(!bw_http_resp_blind(&r));
}

static void test_feed_array(void)
{
    const char in[] = "HTTP/1.1 200 OK\r\n\r\n";   /* close-delimited: then blind */
    const char three[] = "HTTP/1.1 204 A\r\n\r\nHTTP/1.1 304 B\r\n\r\nHTTP/1.1 205 C\r\n"
                         "Content-Length: 0\r\n\r\n";
    bw_http_resp r;
    int st[2] = {0, 0};
    bw_http_resp_init(&r);
    CU_ASSERT_EQUAL(bw_http_resp_feed(&r, (const uint8_t *)three, sizeof three - 1, st, 2), 3);
    CU_ASSERT_EQUAL(st[0], 204);
    CU_ASSERT_EQUAL(st[1], 304);
    CU_ASSERT_EQUAL(bw_http_resp_feed(&r, (const uint8_t *)in, sizeof in - 1, st, 2), 1);
    CU_ASSERT_EQUAL(st[0], 200);
    CU_ASSERT(bw_http_resp_blind(&r));
    CU_ASSERT_EQUAL(bw_http_resp_feed(&r, (const uint8_t *)three, sizeof three - 1, st, 2), 0);
    CU_ASSERT_EQUAL(bw_http_resp_feed(&r, (const uint8_t *)"", 0, st, 2), 0);
}

static void test_long_line(void)
{
    size_t n = 70000;
    char *in = malloc(n + 64);
    strcpy(in, "HTTP/1.1 200 ");
    memset(in + 13, 'r', n);
    strcpy(in + 13 + n, "\r\nContent-Length: 0\r\n\r\n");
    result got;
    run_split(in, strlen(in), NULL, 0, SPLIT_WHOLE, &got);
    CU_ASSERT_EQUAL(got.n, 0);
    CU_ASSERT(got.blind);
    free(in);
}

/* Feeds s one byte at a time; returns the Retry-After taken afterwards in out. */
static size_t ra_after(const char *s, char *out, size_t outlen)
{
    bw_http_resp r;
    bw_http_resp_init(&r);
    for (size_t i = 0; s[i]; i++) {
        int status;
        bw_http_resp_step(&r, (const uint8_t *)s + i, 1, &status);
    }
    return bw_http_resp_take_retry_after(&r, out, outlen);
}

static void test_retry_after(void)
{
    char v[64];
    size_t n = ra_after("HTTP/1.1 503 Busy\r\nRetry-After:  120 \r\nContent-Length: 0\r\n\r\n", v, sizeof v);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(v, "120", 3), 0);
    /* 429, a date, case-insensitive name; the last of two lines counts. */
    n = ra_after("HTTP/1.1 429 Slow\r\nretry-after: 1\r\nRETRY-AFTER: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "Content-Length: 2\r\n\r\nab", v, sizeof v);
    CU_ASSERT_EQUAL(n, 29);
    CU_ASSERT_EQUAL(memcmp(v, "Sun, 06 Nov 1994 08:49:37 GMT", 29), 0);
    /* Not for other statuses, not before the head ends, and given once. */
    CU_ASSERT_EQUAL(ra_after("HTTP/1.1 500 X\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n", v, 64), 0);
    CU_ASSERT_EQUAL(ra_after("HTTP/1.1 503 X\r\nRetry-After: 5\r\n", v, 64), 0);
    bw_http_resp r;
    bw_http_resp_init(&r);
    int st[4];
    const char *two = "HTTP/1.1 503 X\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
    bw_http_resp_feed(&r, (const uint8_t *)two, strlen(two), st, 4);
    CU_ASSERT_EQUAL(bw_http_resp_take_retry_after(&r, v, sizeof v), 1);
    CU_ASSERT_EQUAL(bw_http_resp_take_retry_after(&r, v, sizeof v), 0);
    /* Too long to be a Retry-After: dropped. A trailer is no header. */
    CU_ASSERT_EQUAL(ra_after("HTTP/1.1 503 X\r\nRetry-After: 123456789012345678901234567890123\r\n"
                             "Content-Length: 0\r\n\r\n", v, 64), 0);
    CU_ASSERT_EQUAL(ra_after("HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nRetry-After: 9\r\n\r\n",
                             v, 64), 0);
}

static void test_retry_after_values(void)
{
    int64_t now = 784111777;   /* Sun, 06 Nov 1994 08:49:37 GMT */
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("120", 3, now), 120);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("0", 1, now), 0);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT", 29, now - 2), 2);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT", 29, now + 5), 0);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Tue, 01 Dec 2026 07:00:00 GMT", 29, 1796108400 - 60), 60);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Wed, 29 Feb 2024 00:00:00 GMT", 29, 1709164800), 0);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Thu, 01 Mar 2024 00:00:00 GMT", 29, 1709164800), 86400);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("-1", 2, now), -1);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("1.5", 3, now), -1);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("", 0, now), -1);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Sun, 06 Foo 1994 08:49:37 GMT", 29, now), -1);
    CU_ASSERT_EQUAL(bw_http_retry_after_secs("Sunday, 06-Nov-94 08:49:37 GMT", 30, now), -1);
}

static void test_state_size(void)
{
    CU_ASSERT(sizeof(bw_http_resp) < 512);
}

/* ---- property test ---- */

typedef struct model {
    char *in;
    size_t len, cap;
    int kinds[64], n_kinds;
    int want[64], n_want;
    bool blind;
} model;

static void put(model *m, const char *b, size_t n)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2 + 64;
        m->in = realloc(m->in, m->cap);
    }
    memcpy(m->in + m->len, b, n);
    m->len += n;
}

static void putf(model *m, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(m, tmp, (size_t)n);
}

static void body_bytes(model *m, size_t n)
{
    static const char pool[] = "HTTP/1.1 200 OK\r\n\r\n0\r\nContent-Length: 5\r\nxyz\n";
    for (size_t i = 0; i < n; i++) {
        char c = below(3) ? pool[below(sizeof pool - 1)] : (char)below(256);
        put(m, &c, 1);
    }
}

static const int gen_codes[] = {200, 201, 204, 206, 301, 304, 400, 404, 429, 500, 502, 503, 504, 599, 700};

/* One request/response pair; may end the stream (blind). */
static void gen_response(model *m)
{
    const char *eol = below(5) ? "\r\n" : "\n";
    int kind = below(5) == 0 ? BW_HTTP_M_HEAD : BW_HTTP_M_OTHER;
    int code = gen_codes[below(sizeof gen_codes / sizeof gen_codes[0])];
    m->kinds[m->n_kinds++] = kind;
    for (int i = (int)below(3); i > 0 && below(2); i--)
        putf(m, "HTTP/1.1 1%02u Interim%s%s", below(2) ? 0u : 3u, eol, eol);
    bool http10 = below(4) == 0;
    putf(m, "HTTP/1.%c %d Reason text%s", http10 ? '0' : '1', code, eol);
    if (below(2))
        putf(m, "Server: test%sX-Any: a, b%s", eol, eol);
    int framing = (int)below(10);   /* 0..5 length, 6..8 chunked, 9 close */
    size_t cl = below(50);
    bool no_body = kind == BW_HTTP_M_HEAD || code == 204 || code == 304;
    if (framing < 6)
        putf(m, "Content-Length: %zu%s", cl, eol);
    else if (framing < 9)
        putf(m, "Transfer-Encoding: chunked%s", eol);
    put(m, eol, strlen(eol));
    m->want[m->n_want++] = code;
    if (no_body)
        return;
    if (framing < 6) {
        body_bytes(m, cl);
    } else if (framing < 9) {
        m->blind = http10;   /* chunked in HTTP/1.0 is faulty framing */
        for (int c = (int)below(3); c > 0; c--) {
            size_t n = 1 + below(30);
            putf(m, "%zx%s%s", n, below(3) ? "" : ";e=1", eol);
            body_bytes(m, n);
            put(m, eol, strlen(eol));
        }
        putf(m, "0%s%s%s", eol, below(2) ? "T: 1\r\n" : "", eol);
    } else {
        body_bytes(m, cl);
        m->blind = true;
    }
}

static void test_random_sequences(void)
{
    for (unsigned seq = 0; seq < 2000; seq++) {
        rng_state = 0x2545f4914f6cdd1dull * (seq + 1);
        model m = {0};
        int n = 1 + (int)below(8);
        for (int i = 0; i < n && !m.blind; i++)
            gen_response(&m);
        result got;
        run_split(m.in, m.len, m.kinds, m.n_kinds, (enum split)(seq % 4), &got);
        bool same = got.n == m.n_want && !memcmp(got.st, m.want, sizeof(int) * (size_t)m.n_want);
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(got.blind, m.blind);
        if (!same) {
            printf("\nsequence %u differs: [%.*s]\n", seq, (int)m.len, m.in);
            seq = 2000;
        }
        free(m.in);
    }
}

static const bw_test_case corpus_cases[] = {
    {"Content-Length", test_content_length},
    {"chunked with trailers", test_chunked},
    {"close-delimited", test_close_delimited},
    {"1xx interim responses", test_interim},
    {"204 and 304 have no body", test_no_body_statuses},
    {"responses to HEAD", test_head},
    {"101 Switching Protocols", test_switching},
    {"CONNECT", test_connect},
    {"keep-alive sequence", test_keep_alive_sequence},
    {"what cannot be framed", test_unframeable},
    {"line length limit", test_long_line},
    {NULL, NULL},
};

static const bw_test_case api_cases[] = {
    {"request queue overflow", test_queue_overflow},
    {"request queue wraps", test_queue_wraps},
    {"feed into an array", test_feed_array},
    {"state is small", test_state_size},
    {"Retry-After of 429 and 503", test_retry_after},
    {"Retry-After values", test_retry_after_values},
    {NULL, NULL},
};

static const bw_test_case property_cases[] = {
    {"2000 random sequences, random splits", test_random_sequences},
    {NULL, NULL},
};

BW_TEST_MAIN({"http_resp corpus", corpus_cases}, {"http_resp api", api_cases},
             {"http_resp property", property_cases})
