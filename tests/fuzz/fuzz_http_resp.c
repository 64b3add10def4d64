/*
 * fuzz_http_resp.c - libFuzzer harness for the response status reader.
 *
 * Input: byte 0 says which of the first eight requests were HEAD, byte 1
 * which were CONNECT, byte 2 seeds the split; the rest is the stream. It is
 * read whole, one byte at a time and in chunks sized from its own bytes,
 * each chunk in an exact-size heap block (ASan catches a read past it).
 * Checked: every step consumes within bounds and makes progress, statuses are
 * final ones (200..999), and all three runs report the same list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bw_http_req.h"
#include "bw_http_resp.h"

#define MAX_ST 4096

typedef struct trace {
    int st[MAX_ST];
    size_t n;
} trace;

static void feed(bw_http_resp *r, const uint8_t *in, size_t len, trace *t)
{
    uint8_t *chunk = malloc(len);
    memcpy(chunk, in, len);
    size_t off = 0;
    while (off < len) {
        int status;
        size_t n = bw_http_resp_step(r, chunk + off, len - off, &status);
        if (n == 0 || n > len - off)
            abort();
        off += n;
        if (status && (status < 200 || status > 999))
            abort();
        if (status && t->n < MAX_ST)
            t->st[t->n++] = status;
    }
    free(chunk);
}

enum { WHOLE, BYTES, DERIVED };

static void run(const uint8_t *hdr, const uint8_t *in, size_t len, int how, trace *t)
{
    bw_http_resp r;
    bw_http_resp_init(&r);
    t->n = 0;
    for (int i = 0; i < 8; i++) {
        int kind = (hdr[0] >> i) & 1 ? BW_HTTP_M_HEAD
                 : (hdr[1] >> i) & 1 ? BW_HTTP_M_CONNECT : BW_HTTP_M_OTHER;
        bw_http_resp_expect(&r, kind);
    }
    size_t at = 0;
    while (at < len) {
        size_t n = len - at;
        if (how == BYTES)
            n = 1;
        else if (how == DERIVED)
            n = 1 + ((in[at] ^ hdr[2]) % 29u);
        if (n > len - at)
            n = len - at;
        feed(&r, in + at, n, t);
        at += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static trace t[3];
    if (size < 3)
        return 0;
    for (int how = WHOLE; how <= DERIVED; how++)
        run(data, data + 3, size - 3, how, &t[how]);
    for (int how = BYTES; how <= DERIVED; how++)
        if (t[how].n != t[WHOLE].n || memcmp(t[how].st, t[WHOLE].st, t[WHOLE].n * sizeof(int)))
            abort();
    return 0;
}
