/*
 * test_http_bulk.c - the HTTP scanners' bulk paths (names, unread values,
 * line ends, request targets, reason phrases and fixed line starts taken in
 * runs) against the byte machine they stand for: random field sections fed
 * through bw_http_fields_feed, whole and in random splits, must end where
 * bw_http_fields_byte fed one byte at a time ends, with the same framing
 * facts; and lines at the length limit are judged the same whole and byte by
 * byte.
 */
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

typedef struct buf {
    uint8_t *b;
    size_t len, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void puts_(buf *o, const char *s)
{
    put(o, s, strlen(s));
}

/* One field line, mostly well formed; sometimes a stray byte, a bare CR, a
 * line close to BW_HTTP_LINE_MAX bytes. */
static void gen_line(buf *o)
{
    static const char *const names[] = {
        "Content-Length", "content-length", "Transfer-Encoding", "Upgrade", "Retry-After",
        "Idempotency-Key", "idempotency-key", "X-Any", "Server", "Date", "A",
        "X-A-Very-Long-Field-Name-That-Is-Longer-Than-Sixty-Four-Bytes-Of-Name",
    };
    static const char *const values[] = {
        "5", " 12 ", "0", "chunked", "gzip, chunked", "120", "Sun, 06 Nov 1994 08:49:37 GMT",
        "text/plain; q=1", "", " websocket", "nginx/1.22.1", "a\tb",
    };
    static const char strays[] = "\0\r\n :\t\x7f" "\x80" "a,";
    size_t start = o->len;
    puts_(o, names[below(sizeof names / sizeof names[0])]);
    puts_(o, below(8) ? ": " : ":");
    puts_(o, values[below(sizeof values / sizeof values[0])]);
    if (below(25) == 0) {   /* pad the line to about the limit */
        size_t want = BW_HTTP_LINE_MAX - 3 + below(6), have = o->len - start + 2;
        for (; have < want; have++)
            put(o, "v", 1);
    }
    if (below(6) == 0) {   /* a stray byte somewhere in the line */
        size_t at = start + below((uint32_t)(o->len - start + 1));
        uint8_t c = (uint8_t)strays[below(sizeof strays - 1)];
        put(o, "x", 1);
        memmove(o->b + at + 1, o->b + at, o->len - at - 1);
        o->b[at] = c;
    }
    uint32_t e = below(20);
    puts_(o, e < 14 ? "\r\n" : e < 19 ? "\n" : "\rx");
}

typedef struct outcome {
    size_t at;                    /* bytes consumed when the section ended */
    enum bw_http_frame_res res;   /* DONE, BAD, or MORE when it never ended */
    bw_http_fields f;
} outcome;

static void byte_machine(const buf *in, bool trailers, const char *key, outcome *o)
{
    bw_http_fields_reset(&o->f, trailers);
    o->res = BW_HF_MORE;
    for (o->at = 0; o->at < in->len && o->res == BW_HF_MORE; o->at++)
        o->res = bw_http_fields_byte(&o->f, in->b[o->at], key);
}

/* As the scanners feed it: runs through bw_http_fields_feed, the blank
 * line's bytes through bw_http_fields_byte; chunk sizes from max_chunk. */
static void bulk(const buf *in, bool trailers, const char *key, size_t max_chunk, outcome *o)
{
    bw_http_fields_reset(&o->f, trailers);
    o->res = BW_HF_MORE;
    o->at = 0;
    while (o->at < in->len && o->res == BW_HF_MORE) {
        size_t left = in->len - o->at;
        size_t n = max_chunk ? 1 + below((uint32_t)(left < max_chunk ? left : max_chunk)) : left;
        uint8_t *chunk = malloc(n);   /* exact size: ASan sees a read past it */
        memcpy(chunk, in->b + o->at, n);
        size_t off = 0;
        while (off < n && o->res == BW_HF_MORE) {
            size_t used = bw_http_fields_feed(&o->f, chunk + off, n - off, key, &o->res);
            CU_ASSERT_FATAL(used <= n - off);
            if (used == 0) {
                CU_ASSERT_FATAL(bw_http_fields_at_line_start(&o->f));
                CU_ASSERT_FATAL(chunk[off] == '\r' || chunk[off] == '\n');
                o->res = bw_http_fields_byte(&o->f, chunk[off], key);
                used = 1;
            }
            off += used;
        }
        o->at += off;
        free(chunk);
    }
}

/* The facts the callers read from a section. */
static bool same(const outcome *a, const outcome *b)
{
    if (a->at != b->at || a->res != b->res)
        return false;
    if (a->res != BW_HF_DONE)
        return true;   /* BAD, or still going: nothing is read from it */
    const bw_http_fields *x = &a->f, *y = &b->f;
    bool ra = x->ra_len == y->ra_len &&
              (x->ra_len > BW_HTTP_RA_MAX || !memcmp(x->ra, y->ra, x->ra_len));
    return x->flags == y->flags && x->cl == y->cl && ra;
}

static void test_sections(void)
{
    unsigned done = 0, bad = 0;
    for (unsigned seq = 0; seq < 3000; seq++) {
        rng_state = 0x9e3779b97f4a7c15ull * (seq + 1);
        buf in = {0};
        for (int n = (int)below(8); n > 0; n--)
            gen_line(&in);
        if (below(10))
            puts_(&in, below(4) ? "\r\n" : "\n");
        bool trailers = below(4) == 0;
        const char *key = below(3) ? "Idempotency-Key" : NULL;
        outcome want, got;
        byte_machine(&in, trailers, key, &want);
        done += want.res == BW_HF_DONE;
        bad += want.res == BW_HF_BAD;
        static const size_t chunks[] = {0, 1, 3, 64};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            bulk(&in, trailers, key, chunks[c], &got);
            if (!same(&want, &got)) {
                CU_FAIL("bulk feed differs from the byte machine");
                printf("\nsequence %u, chunks of %zu: byte machine %d at %zu, bulk %d at %zu\n",
                       seq, chunks[c], want.res, want.at, got.res, got.at);
                seq = 3000;
                break;
            }
        }
        free(in.b);
    }
    /* the generator reaches both ends */
    CU_ASSERT(done > 300);
    CU_ASSERT(bad > 300);
}

/* A request stream: true when its request line is reported, fed whole or
 * one byte at a time (both must agree). */
static bool request_seen(const buf *in)
{
    bool seen[2] = {false, false};
    for (int way = 0; way < 2; way++) {
        bw_http_req st;
        bw_http_req_init(&st);
        size_t off = 0;
        while (off < in->len) {
            size_t n = way ? 1 : in->len - off;
            bw_http_req_event ev;
            off += bw_http_req_scan(&st, NULL, in->b + off, n, &ev);
            seen[way] |= ev.request != BW_HTTP_M_NONE;
        }
    }
    CU_ASSERT_EQUAL(seen[0], seen[1]);
    return seen[0];
}

/* Response stream: the statuses reported, whole vs byte by byte. */
static int statuses_seen(const buf *in)
{
    int n[2] = {0, 0}, st[4];
    for (int way = 0; way < 2; way++) {
        bw_http_resp r;
        bw_http_resp_init(&r);
        if (way == 0) {
            n[way] = bw_http_resp_feed(&r, in->b, in->len, st, 4);
        } else {
            for (size_t i = 0; i < in->len; i++)
                n[way] += bw_http_resp_feed(&r, in->b + i, 1, st, 4);
        }
    }
    CU_ASSERT_EQUAL(n[0], n[1]);
    return n[0];
}

static void pad(buf *o, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(o, &c, 1);
}

/* Lines of BW_HTTP_LINE_MAX bytes (line end included) pass; one more fails. */
static void test_line_limits(void)
{
    for (size_t len = BW_HTTP_LINE_MAX - 1; len <= BW_HTTP_LINE_MAX + 1; len++) {
        bool ok = len <= BW_HTTP_LINE_MAX;
        buf in = {0};
        /* a request-target */
        puts_(&in, "GET /");
        pad(&in, 't', len - strlen("GET / HTTP/1.1\r\n"));
        puts_(&in, " HTTP/1.1\r\n");
        CU_ASSERT_EQUAL(in.len, len);
        puts_(&in, "\r\n");
        CU_ASSERT_EQUAL(request_seen(&in), ok);
        in.len = 0;
        /* a reason phrase */
        puts_(&in, "HTTP/1.1 200 ");
        pad(&in, 'r', len - strlen("HTTP/1.1 200 \r\n"));
        puts_(&in, "\r\n");
        CU_ASSERT_EQUAL(in.len, len);
        puts_(&in, "Content-Length: 0\r\n\r\n");
        puts_(&in, "HTTP/1.1 204 No\r\n\r\n");
        CU_ASSERT_EQUAL(statuses_seen(&in), ok ? 2 : 0);
        in.len = 0;
        /* a field value and a field name, in a request and in a response */
        for (int name = 0; name < 2; name++) {
            for (int resp = 0; resp < 2; resp++) {
                in.len = 0;
                const char *start = resp ? "HTTP/1.1 200 OK\r\n" : "POST / HTTP/1.1\r\n";
                puts_(&in, start);
                size_t at = in.len;
                if (name) {
                    pad(&in, 'n', len - strlen(": v\r\n"));
                    puts_(&in, ": v\r\n");
                } else {
                    puts_(&in, "X-Long: ");
                    pad(&in, 'v', len - strlen("X-Long: \r\n"));
                    puts_(&in, "\r\n");
                }
                CU_ASSERT_EQUAL(in.len - at, len);
                puts_(&in, "Content-Length: 0\r\n\r\n");
                puts_(&in, resp ? "HTTP/1.1 204 No\r\n\r\n" : "GET / HTTP/1.1\r\n\r\n");
                if (resp) {
                    CU_ASSERT_EQUAL(statuses_seen(&in), ok ? 2 : 1);
                } else {
                    bw_http_req st;
                    bw_http_req_init(&st);
                    bw_http_req_event ev;
                    for (size_t off = 0; off < in.len;)
                        off += bw_http_req_scan(&st, NULL, in.b + off, in.len - off, &ev);
                    CU_ASSERT_EQUAL(bw_http_req_passthrough(&st), !ok);
                }
            }
        }
        free(in.b);
    }
}

static const bw_test_case cases[] = {
    {"3000 random field sections: bulk = byte machine", test_sections},
    {"lines at the length limit, whole and byte by byte", test_line_limits},
    {NULL, NULL},
};

BW_TEST_MAIN({"http bulk paths", cases})
