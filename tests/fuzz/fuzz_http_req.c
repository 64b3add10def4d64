/*
 * fuzz_http_req.c - libFuzzer harness for the request scanner.
 *
 * Input: byte 0 picks the config (header name, format, key kind), byte 1
 * seeds the split; the rest is the stream. It is scanned three ways: whole,
 * one byte at a time, and in chunks whose sizes come from the stream's own
 * bytes, each chunk in an exact-size heap block (ASan catches a read past
 * it). Checked: the output with the inserted lines removed is the input; every
 * inserted line is well formed and sits just before a CR or LF that starts a
 * line; all three runs insert at the same offsets and report the same
 * requests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bw_http_req.h"

#define MAX_EVENTS 4096

typedef struct trace {
    size_t ins_at[MAX_EVENTS];   /* input offsets of insertions */
    size_t n_ins;
    uint8_t kinds[MAX_EVENTS];
    size_t n_kinds;
} trace;

static const char methods[][BW_MAX_METHOD_LEN] = {"POST", "PATCH", "PUT", "GET"};

static void pick_cfg(uint8_t sel, bw_http_req_cfg *cfg)
{
    cfg->methods = methods;
    cfg->n_methods = 1 + (sel & 3u);
    cfg->header = (sel & 4u) ? "X-Request-Id" : "Idempotency-Key";
    cfg->format = (sel & 8u) ? BW_IDEM_SF_STRING : BW_IDEM_TOKEN;
    cfg->key = (sel & 16u) ? BW_IDEM_UUID7 : BW_IDEM_UUID4;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "<header>: <uuid>" or with a quoted uuid, then CRLF or LF as announced. */
static void check_line(const bw_http_req_cfg *cfg, const bw_http_req_event *ev,
                       const char *line, size_t n)
{
    size_t hl = strlen(cfg->header), q = cfg->format == BW_IDEM_SF_STRING;
    size_t want = hl + 2 + 36 + 2 * q + (ev->crlf ? 2 : 1);
    if (n != want || memcmp(line, cfg->header, hl) != 0 || memcmp(line + hl, ": ", 2) != 0)
        abort();
    const char *u = line + hl + 2 + q;
    if (q && (u[-1] != '"' || u[36] != '"'))
        abort();
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !is_hex(u[i]))
            abort();
    }
    if (u[14] != (cfg->key == BW_IDEM_UUID7 ? '7' : '4') || !strchr("89ab", u[19]))
        abort();
    if (memcmp(line + n - (ev->crlf ? 2 : 1), ev->crlf ? "\r\n" : "\n", ev->crlf ? 2 : 1))
        abort();
}

/* Scans one chunk; checks output against input as it goes. */
static void feed(bw_http_req *st, const bw_http_req_cfg *cfg, const uint8_t *in, size_t at,
                 size_t len, trace *t)
{
    uint8_t *chunk = malloc(len);
    memcpy(chunk, in + at, len);
    size_t off = 0, guard = 2 * len + 2;
    while (off < len) {
        if (!guard--)
            abort();   /* no progress */
        bw_http_req_event ev;
        size_t n = bw_http_req_scan(st, cfg, chunk + off, len - off, &ev);
        if (n > len - off)
            abort();
        off += n;
        if (ev.request && t->n_kinds < MAX_EVENTS)
            t->kinds[t->n_kinds++] = ev.request;
        if (!ev.insert)
            continue;
        static const uint8_t rnd[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        char line[BW_HTTP_REQ_LINE_MAX];
        size_t ln = bw_http_req_header_line(cfg, &ev, rnd, 1700000000000ull, line, sizeof line);
        check_line(cfg, &ev, line, ln);
        size_t pos = at + off;   /* the line goes before in[pos] */
        if (off >= len)
            abort();   /* an insertion is always before a byte of this chunk */
        if (chunk[off] != (ev.crlf ? '\r' : '\n') || pos == 0 || in[pos - 1] != '\n')
            abort();
        if (t->n_ins < MAX_EVENTS)
            t->ins_at[t->n_ins++] = pos;
    }
    free(chunk);
}

enum { WHOLE, BYTES, DERIVED };

static void run(const bw_http_req_cfg *cfg, const uint8_t *in, size_t len, int how,
                uint8_t seed, trace *t)
{
    bw_http_req st;
    bw_http_req_init(&st);
    memset(t, 0, sizeof *t);
    size_t at = 0;
    while (at < len) {
        size_t n = len - at;
        if (how == BYTES)
            n = 1;
        else if (how == DERIVED)
            n = 1 + ((in[at] ^ seed) % 23u);
        if (n > len - at)
            n = len - at;
        feed(&st, cfg, in, at, n, t);
        at += n;
    }
    if (t->n_ins < MAX_EVENTS && st.keys != t->n_ins)
        abort();
}

static bool same(const trace *a, const trace *b)
{
    return a->n_ins == b->n_ins && a->n_kinds == b->n_kinds &&
           !memcmp(a->ins_at, b->ins_at, a->n_ins * sizeof a->ins_at[0]) &&
           !memcmp(a->kinds, b->kinds, a->n_kinds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static trace t[3];
    if (size < 2)
        return 0;
    bw_http_req_cfg cfg;
    pick_cfg(data[0], &cfg);
    for (int how = WHOLE; how <= DERIVED; how++)
        run(&cfg, data + 2, size - 2, how, data[1], &t[how]);
    if (!same(&t[WHOLE], &t[BYTES]) || !same(&t[WHOLE], &t[DERIVED]))
        abort();
    return 0;
}
