/*
 * bw_http_frame.h - the pieces of HTTP/1.x message framing (RFC 9112) that
 * requests and responses share: a field-section parser (header and trailer
 * lines) and a body framer (Content-Length and chunked bodies).
 *
 * Both are streaming byte machines with fixed-size state and no heap: they
 * never buffer message data, they only classify it, so a stream split into
 * any chunks (one byte at a time included) is framed the same way. Whatever
 * they cannot frame safely is reported as BAD; the callers (bw_http_req.h,
 * bw_http_resp.h) then stop interpreting the connection for good.
 *
 * Line endings: a bare LF ends a line (RFC 9112 section 2.2 lets recipients
 * accept it); a CR anywhere but before LF is BAD. A line longer than
 * BW_HTTP_LINE_MAX bytes is BAD; lines are counted, never stored.
 */
#ifndef BW_HTTP_FRAME_H
#define BW_HTTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_HTTP_LINE_MAX 65536u   /* longest start, field or chunk-size line */
#define BW_HTTP_NAME_BUF 64       /* field-name bytes kept for classification */

/* Result of feeding a framer. */
enum bw_http_frame_res {
    BW_HF_MORE,   /* consumed; the section or body goes on */
    BW_HF_DONE,   /* the section or body ended with the last byte consumed */
    BW_HF_BAD,    /* cannot be framed: stop interpreting the stream */
};

/* What a header section said about framing (bw_http_fields.flags). */
#define BW_HFF_CL         0x01u   /* Content-Length seen (cl holds it) */
#define BW_HFF_TE         0x02u   /* Transfer-Encoding seen */
#define BW_HFF_TE_CHUNKED 0x04u   /* ... and its final coding is chunked */
#define BW_HFF_UPGRADE    0x08u   /* Upgrade seen */
#define BW_HFF_KEY        0x10u   /* the caller's key field seen */
#define BW_HFF_RETRY_AFTER 0x20u  /* Retry-After seen: its value is in ra[0..ra_len) */

#define BW_HTTP_RA_MAX 31         /* longest Retry-After value kept (an HTTP-date is 29) */

/*
 * A field section in progress. Zeroed memory is a header section at its
 * first line. Plain value: it may be copied to snapshot a parse.
 */
typedef struct bw_http_fields {
    uint64_t cl;            /* Content-Length agreed by every CL line so far */
    uint64_t cl_line;       /* value of the CL line being read */
    uint32_t line_len;
    uint8_t phase;
    uint8_t flags;          /* BW_HFF_* */
    uint8_t trailers;       /* a trailer section: names are not classified */
    uint8_t kind;           /* class of the field being read */
    uint8_t name_len;       /* BW_HTTP_NAME_BUF + 1: longer than name[] */
    uint8_t sub;            /* position inside the value of a CL or TE line */
    uint8_t elem_len;       /* TE list element being read (9: not "chunked") */
    char elem[8];
    char name[BW_HTTP_NAME_BUF];   /* lower case */
    uint8_t ra_len;                /* BW_HTTP_RA_MAX + 1: too long to be one */
    char ra[BW_HTTP_RA_MAX];       /* the Retry-After value, whitespace trimmed */
} bw_http_fields;

/*
 * The delay a Retry-After value asks for (RFC 9110 section 10.2.3), in
 * seconds from now_unix (the wall clock, seconds since the epoch): the value
 * is delay-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); a
 * date in the past gives 0. Returns -1 for anything else.
 */
int64_t bw_http_retry_after_secs(const char *v, size_t n, int64_t now_unix);

/* Starts a new header (trailers false) or trailer (true) section. */
void bw_http_fields_reset(bw_http_fields *f, bool trailers);

/*
 * Feeds one byte of the section. key (may be NULL) is a field name to look
 * for, compared case-insensitively; finding it sets BW_HFF_KEY. Returns DONE
 * when c ends the blank line closing the section, BAD on a malformed line
 * (obs-fold, invalid name, space before the colon, NUL or bare CR, a bad or
 * conflicting Content-Length, a line too long), MORE otherwise.
 */
enum bw_http_frame_res bw_http_fields_byte(bw_http_fields *f, uint8_t c, const char *key);

/*
 * Feeds buf[0..len) of the section, as many calls of bw_http_fields_byte
 * would, and returns how many bytes it consumed; *res is the result for the
 * last of them (MORE when none). It stops after a byte that gives DONE or
 * BAD, and before a CR or LF that begins a line (the blank line ending the
 * section, which the caller feeds with bw_http_fields_byte). Names and the
 * values nothing reads are skipped in runs, not byte by byte.
 */
size_t bw_http_fields_feed(bw_http_fields *f, const uint8_t *buf, size_t len,
                           const char *key, enum bw_http_frame_res *res);

/* Nonzero when one of the eight bytes of x equals the byte repeated in b. */
static inline uint64_t bw_http_has_byte(uint64_t x, uint64_t b)
{
    uint64_t y = x ^ b;
    return (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
}

/* Length of the run at p[0..n) of bytes that may sit inside a field value or
 * a reason phrase: up to the first NUL, CR or LF, or n. Eight bytes at a
 * time (little-endian: the lowest flagged byte of a word is the first one
 * that matches; the flags can be wrong only above a true match), the rest
 * byte by byte. */
static inline size_t bw_http_value_run(const uint8_t *p, size_t n)
{
    size_t j = 0;
    for (; n - j >= 8; j += 8) {
        uint64_t x;
        __builtin_memcpy(&x, p + j, 8);
        uint64_t m = bw_http_has_byte(x, 0) | bw_http_has_byte(x, 0x0d0d0d0d0d0d0d0dull) |
                     bw_http_has_byte(x, 0x0a0a0a0a0a0a0a0aull);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (m)
            return j + (size_t)__builtin_ctzll(m) / 8;
#else
        if (m)
            break;
#endif
    }
    while (j < n && p[j] != 0 && p[j] != '\r' && p[j] != '\n')
        j++;
    return j;
}

/* True when the next byte starts a line: a CR or LF there opens the blank
 * line that ends the section. */
bool bw_http_fields_at_line_start(const bw_http_fields *f);

/* True for the bytes of an RFC 9110 token (tchar). */
bool bw_http_tchar(uint8_t c);

/* A message body in progress. Zeroed memory is an empty body. Plain value. */
typedef struct bw_http_body {
    uint64_t remaining;     /* bytes of data left (whole body or chunk) */
    uint32_t line_len;
    uint8_t phase;
    uint8_t digits;         /* hex digits seen in the chunk-size line */
} bw_http_body;

/* Starts a body of exactly n bytes. */
void bw_http_body_start_length(bw_http_body *b, uint64_t n);

/* Starts a chunked body. */
void bw_http_body_start_chunked(bw_http_body *b);

/*
 * Consumes body bytes from buf[0..len) and returns how many. *res is DONE
 * when the body ended with the last byte consumed (for a chunked body: the
 * last-chunk line; the trailer section follows), BAD on a malformed chunk
 * framing (bad size line, missing CRLF after data, size overflow), MORE when
 * all len bytes were consumed and the body goes on. Never reads past len.
 */
size_t bw_http_body_feed(bw_http_body *b, const uint8_t *buf, size_t len,
                         enum bw_http_frame_res *res);

/*
 * Accounts for n data bytes that went out unseen (sendfile): true when all
 * of them fall inside the current Content-Length body or chunk, with *res
 * as bw_http_body_feed would give; false, changing nothing, otherwise.
 */
bool bw_http_body_skip(bw_http_body *b, uint64_t n, enum bw_http_frame_res *res);

#endif
