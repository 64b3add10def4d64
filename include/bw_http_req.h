/*
 * bw_http_req.h - Idempotency-Key injection into an outgoing HTTP/1.x request
 * stream (SPEC section 6, RFC 9112), as a streaming scanner.
 *
 * The shell feeds the scanner every byte the program writes on a connection,
 * in order, in whatever chunks the program used. The scanner never holds on
 * to the program's bytes: each call says how many bytes of the chunk go out
 * unchanged and whether a header line goes out after them. The result is the
 * input with exactly one line "<header>: <key>" inserted before the blank line
 * ending the header block of each request whose method is listed (exact,
 * case-sensitive) and that has no field of that name (any case) already.
 * The decision for a request is made when its header block ends, so the
 * same stream split any way yields the same output.
 *
 * Anything other than well-framed HTTP/1.x requests makes the connection a
 * permanent passthrough: first bytes that are not a request line (TLS,
 * HTTP/2's preface, binary), the end of the header block of a CONNECT or of
 * a request with Upgrade, both Content-Length and Transfer-Encoding, a bad or
 * conflicting Content-Length, a final transfer coding other than chunked,
 * Transfer-Encoding in HTTP/1.0, a bad chunk-size line, obs-fold, a bare CR,
 * an invalid field name, NUL in a field, or a line longer than
 * BW_HTTP_LINE_MAX. Empty lines before a request line are allowed
 * (RFC 9112 section 2.2).
 *
 * Line endings: a bare LF ends a line. The inserted line ends the way the
 * blank line after it begins: CRLF when that line starts with CR, LF when it
 * is a bare LF. The decision is made at that first byte, so a blank line
 * made of a CR and then something other than LF (a malformed request the
 * server will refuse) gets its key and the connection then passes through.
 *
 * Short writes: the state is a plain value with no pointers. To account for
 * a send that took fewer bytes than scanned, copy the state before the scan,
 * restore it, and scan again just the bytes that went out: scanning a prefix
 * gives the same answer for that prefix.
 */
#ifndef BW_HTTP_REQ_H
#define BW_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_http_frame.h"

/* Longest line bw_http_req_header_line() writes, with its NUL:
 * the longest name, ": ", a quoted UUID, CRLF. */
#define BW_HTTP_REQ_LINE_MAX ((BW_MAX_HEADER_NAME - 1) + 2 + 38 + 2 + 1)

/* Kinds of request, as the response reader needs them (bw_http_resp.h). */
enum bw_http_method {
    BW_HTTP_M_NONE,      /* no request line in this step */
    BW_HTTP_M_OTHER,
    BW_HTTP_M_HEAD,      /* its response has no body */
    BW_HTTP_M_CONNECT,   /* a 2xx response ends HTTP on the connection */
};

/* What to inject. n_methods 0: never inject (the scanner still reports
 * requests, for the response reader). */
typedef struct bw_http_req_cfg {
    const char (*methods)[BW_MAX_METHOD_LEN];
    unsigned n_methods;
    const char *header;             /* field name, e.g. "Idempotency-Key" */
    enum bw_idem_format format;
    enum bw_idem_key key;
} bw_http_req_cfg;

/* Points cfg at the idempotency settings of p (which must outlive cfg).
 * When p->idempotency is off, cfg injects nothing. */
void bw_http_req_cfg_from_policy(bw_http_req_cfg *cfg, const bw_policy *p);

/* What one scan step found, besides the byte count it returns. */
typedef struct bw_http_req_event {
    bool insert;      /* send bw_http_req_header_line() after the passed bytes */
    bool crlf;        /* ending of that line: CRLF (true) or LF */
    uint8_t request;  /* enum bw_http_method: a request line ended in the passed bytes */
} bw_http_req_event;

/*
 * One connection's scanner. Zeroed memory is a fresh connection
 * (bw_http_req_init does just that). Fixed size, no heap, no pointers.
 */
typedef struct bw_http_req {
    bw_http_fields fields;
    bw_http_body body;
    uint32_t keys;          /* header lines inserted on this connection */
    uint32_t line_len;      /* bytes of the request line so far */
    uint8_t phase;
    uint8_t sub;            /* position inside "HTTP/1.x" */
    uint8_t method_len;     /* BW_MAX_METHOD_LEN: longer than any listed */
    uint8_t flags;
    char method[BW_MAX_METHOD_LEN];
} bw_http_req;

void bw_http_req_init(bw_http_req *st);

/*
 * Scans buf[0..len) and returns how many of its bytes, from the start, go
 * out unchanged now. It stops early at an event: after a request line ends
 * (ev->request says which kind) and at an insertion point (ev->insert; the
 * line must go out after the returned bytes, before the rest). Call again
 * with the rest of buf until all of it is scanned; every call either returns
 * at least one byte or reports an event, so the loop ends. len 0 returns 0.
 */
size_t bw_http_req_scan(bw_http_req *st, const bw_http_req_cfg *cfg,
                        const uint8_t *buf, size_t len, bw_http_req_event *ev);

/*
 * Writes the header line for an insertion event into out (size bytes, at
 * least BW_HTTP_REQ_LINE_MAX): "<header>: <uuid>" or "<header>: \"<uuid>\""
 * (cfg->format), ended as ev->crlf says, NUL-terminated. The key is a UUIDv4
 * from rnd, or a UUIDv7 from unix_ms and rnd[0..9] (cfg->key). Returns the
 * line's length without the NUL, or 0 when size is too small.
 */
size_t bw_http_req_header_line(const bw_http_req_cfg *cfg, const bw_http_req_event *ev,
                               const uint8_t rnd[16], uint64_t unix_ms,
                               char *out, size_t size);

/*
 * Accounts for n bytes the program sent without the shell seeing them
 * (sendfile). When they all fall inside a request body, framing goes on and
 * true is returned; otherwise the connection passes through from now on
 * (nothing unseen can be framed) and false is returned.
 */
bool bw_http_req_unseen(bw_http_req *st, uint64_t n);

/* True once the connection passes through for good. */
bool bw_http_req_passthrough(const bw_http_req *st);

#endif
