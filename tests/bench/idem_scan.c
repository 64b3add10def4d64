/*
 * idem_scan - cost per byte of the request scanner (bw_http_req_scan).
 *
 *   idem_scan MB
 *
 * Builds two streams of about MB MiB of pipelined requests: "headers" (small
 * GETs and POSTs, nearly every byte inside a header block: the worst case)
 * and "bodies" (POSTs with 16 KiB Content-Length bodies, the usual case), and
 * scans each in 64 KiB writes the way the shim does, acting on every event.
 * As the floor any line parser pays, it also times a plain pass that counts
 * LF bytes. Prints "NAME NS_PER_BYTE FLOOR_NS_PER_BYTE KEYS" per stream, the
 * best of 5 passes each. Exits 1 if the scanner finds the wrong number of keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_http_req.h"

static const char methods[2][BW_MAX_METHOD_LEN] = {"POST", "PATCH"};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fills a stream of about size bytes; returns its length and the POST count. */
static size_t build(char *buf, size_t size, size_t body, unsigned *posts)
{
    size_t len = 0;
    *posts = 0;
    for (unsigned i = 0;; i++) {
        char hdr[512];
        bool post = body > 0 || i % 2;
        int n = snprintf(hdr, sizeof hdr,
                         "%s /api/v1/items/%u?expand=true HTTP/1.1\r\nHost: api.example.com\r\n"
                         "User-Agent: legacy-client/1.0\r\nAccept: application/json\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         post ? "POST" : "GET", i, post ? (body ? body : 32) : (size_t)0);
        size_t bl = post ? (body ? body : 32) : 0;
        if (len + (size_t)n + bl > size)
            return len;
        memcpy(buf + len, hdr, (size_t)n);
        len += (size_t)n;
        memset(buf + len, 'x', bl);
        len += bl;
        *posts += post;
    }
}

/* One shim-like pass: returns the keys the scanner asked for. */
static unsigned scan_all(const bw_http_req_cfg *cfg, const char *buf, size_t len)
{
    bw_http_req st;
    bw_http_req_init(&st);
    unsigned keys = 0;
    for (size_t off = 0; off < len;) {
        size_t w = len - off < 65536 ? len - off : 65536;
        for (size_t pos = 0; pos < w;) {
            bw_http_req_event ev;
            pos += bw_http_req_scan(&st, cfg, (const uint8_t *)buf + off + pos, w - pos, &ev);
            keys += ev.insert;
        }
        off += w;
    }
    return keys;
}

static size_t count_lf(const char *buf, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

int main(int argc, char **argv)
{
    size_t size = (size_t)(argc > 1 ? atoi(argv[1]) : 32) << 20;
    char *buf = malloc(size);
    if (!buf)
        return 1;
    bw_http_req_cfg cfg = {methods, 2, "Idempotency-Key", BW_IDEM_TOKEN, BW_IDEM_UUID4};
    static const struct { const char *name; size_t body; } kinds[] = {{"headers", 0}, {"bodies", 16384}};
    for (unsigned k = 0; k < 2; k++) {
        unsigned posts;
        size_t len = build(buf, size, kinds[k].body, &posts);
        double best = 1e9, floor = 1e9;
        volatile size_t sink = 0;
        for (int rep = 0; rep < 5; rep++) {
            double t = now();
            unsigned keys = scan_all(&cfg, buf, len);
            t = now() - t;
            if (keys != posts) {
                fprintf(stderr, "idem_scan: %u keys for %u POSTs\n", keys, posts);
                return 1;
            }
            best = t < best ? t : best;
            t = now();
            sink += count_lf(buf, len);
            t = now() - t;
            floor = t < floor ? t : floor;
        }
        printf("%s %.3f %.3f %u\n", kinds[k].name, best * 1e9 / len, floor * 1e9 / len, posts);
    }
    free(buf);
    return 0;
}
