/*
 * bw_http_resp.h - reads the final status of each HTTP/1.x response on a
 * connection, for breaker_http_status (SPEC section 4). It never changes a
 * byte: the shell shows it what the program received, in order, in any
 * chunks, and it follows response framing (RFC 9112 section 6.3) to find
 * the next response on a keep-alive connection.
 *
 * A final status is reported as soon as its status line ends, whatever
 * follows. Interim 1xx responses are skipped, never reported. A response to HEAD,
 * 204 and 304 have no body. Anything after which the stream is no longer
 * HTTP/1.x responses it can frame turns the reader permanently blind
 * (reports nothing more): 101 Switching Protocols, a 2xx to CONNECT, a
 * close-delimited body (no Content-Length, no chunked), a final transfer
 * coding other than chunked, both Content-Length and Transfer-Encoding, a
 * bad status line or field line, a bad chunk, a line longer than
 * BW_HTTP_LINE_MAX.
 *
 * Which response answers a HEAD or CONNECT is known from the requests: the
 * shell calls bw_http_resp_expect() for each request line that goes out (the
 * request scanner reports them, bw_http_req.h), in order. A response with
 * no request noted is taken as the answer to an ordinary request.
 */
#ifndef BW_HTTP_RESP_H
#define BW_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_http_frame.h"

#define BW_HTTP_RESP_QUEUE 64   /* requests noted and not yet answered */

/* One connection's reader. Zeroed memory is a fresh connection
 * (bw_http_resp_init does just that). Fixed size, no heap, no pointers. */
typedef struct bw_http_resp {
    bw_http_fields fields;
    bw_http_body body;
    uint64_t q_head;        /* ring of pending requests: bit set = HEAD */
    uint64_t q_connect;     /* ... bit set = CONNECT */
    uint32_t line_len;
    uint16_t status;        /* of the response being read */
    uint8_t q_first, q_len;
    uint8_t phase;
    uint8_t sub;            /* position inside the status line's fixed part */
    uint8_t flags;
    uint8_t kind;           /* enum bw_http_method of the request answered */
    uint8_t ra_len;         /* a 429/503 head's Retry-After, waiting to be taken */
    char ra[BW_HTTP_RA_MAX];
} bw_http_resp;

void bw_http_resp_init(bw_http_resp *st);

/*
 * Notes that a request went out; kind is an enum bw_http_method
 * (bw_http_req.h). More than BW_HTTP_RESP_QUEUE unanswered requests make the
 * reader blind: it could no longer pair responses with their requests.
 */
void bw_http_resp_expect(bw_http_resp *st, int kind);

/*
 * Reads buf[0..len) and returns how many bytes it consumed: all of them, or
 * fewer when a final response's status line ended, in which case *status is its
 * code (100..999) and the rest is to be fed in the next call. *status is 0
 * when no final status completed. Never reads past len.
 */
size_t bw_http_resp_step(bw_http_resp *st, const uint8_t *buf, size_t len, int *status);

/*
 * Reads all of buf[0..len). The final statuses completed in it are stored,
 * in order, in statuses[0..max); returns how many completed, which may be
 * more than max (the ones beyond max are not stored). Use bw_http_resp_step
 * where no status may be lost.
 */
int bw_http_resp_feed(bw_http_resp *st, const uint8_t *buf, size_t len,
                      int *statuses, int max);

/*
 * Takes the Retry-After value of the last 429 or 503 response whose head
 * ended (RFC 9110 section 10.2.3): copies it to out (up to outlen bytes) and
 * returns its length, or returns 0 when there is none waiting. Each value is
 * given once.
 */
size_t bw_http_resp_take_retry_after(bw_http_resp *st, char *out, size_t outlen);

/* True once the reader has stopped looking for good. */
bool bw_http_resp_blind(const bw_http_resp *st);

#endif
