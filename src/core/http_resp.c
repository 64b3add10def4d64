/*
 * http_resp.c - the streaming response status reader (bw_http_resp.h). It
 * parses status lines and follows each response's framing to the next one,
 * keeping no byte of the stream.
 */
#include <string.h>

#include "bw_http_req.h"
#include "bw_http_resp.h"

enum phase {
    S_START,      /* before a status line; empty lines tolerated */
    S_START_CR,
    S_VERSION,    /* "HTTP/1.x " */
    S_CODE,       /* three digits */
    S_AFTER_CODE, /* SP and a reason, or the line end at once */
    S_REASON,
    S_SL_CR,
    S_FIELDS,
    S_BODY,
    S_TRAILERS,
    S_BLIND,      /* stopped looking for good */
};

#define F_HTTP10  0x01u
#define F_CHUNKED 0x02u

static const char version[] = "HTTP/1.";

void bw_http_resp_init(bw_http_resp *st)
{
    memset(st, 0, sizeof *st);
}

bool bw_http_resp_blind(const bw_http_resp *st)
{
    return st->phase == S_BLIND;
}

void bw_http_resp_expect(bw_http_resp *st, int kind)
{
    if (st->q_len == BW_HTTP_RESP_QUEUE) {
        st->phase = S_BLIND;
        return;
    }
    unsigned at = (st->q_first + st->q_len++) % BW_HTTP_RESP_QUEUE;
    uint64_t bit = (uint64_t)1 << at;
    st->q_head = kind == BW_HTTP_M_HEAD ? st->q_head | bit : st->q_head & ~bit;
    st->q_connect = kind == BW_HTTP_M_CONNECT ? st->q_connect | bit : st->q_connect & ~bit;
}

/* Takes the oldest unanswered request off the queue. */
static int pop_request(bw_http_resp *st)
{
    if (st->q_len == 0)
        return BW_HTTP_M_OTHER;
    uint64_t bit = (uint64_t)1 << st->q_first;
    int kind = (st->q_head & bit) ? BW_HTTP_M_HEAD
             : (st->q_connect & bit) ? BW_HTTP_M_CONNECT : BW_HTTP_M_OTHER;
    st->q_first = (uint8_t)((st->q_first + 1) % BW_HTTP_RESP_QUEUE);
    st->q_len--;
    return kind;
}

/* Sets up the body that follows a final response's head (RFC 9112 6.3). */
static void start_body(bw_http_resp *st, int kind)
{
    unsigned f = st->fields.flags;
    int code = st->status;
    if (kind == BW_HTTP_M_CONNECT && code / 100 == 2) {
        st->phase = S_BLIND;   /* a tunnel now */
    } else if (kind == BW_HTTP_M_HEAD || code == 204 || code == 304) {
        st->phase = S_START;
    } else if (f & BW_HFF_TE) {
        bool framed = (f & BW_HFF_TE_CHUNKED) && !(f & BW_HFF_CL) &&
                      !(st->flags & F_HTTP10);
        st->flags |= F_CHUNKED;
        bw_http_body_start_chunked(&st->body);
        st->phase = framed ? S_BODY : S_BLIND;
    } else if (f & BW_HFF_CL) {
        bw_http_body_start_length(&st->body, st->fields.cl);
        st->phase = st->fields.cl ? S_BODY : S_START;
    } else {
        st->phase = S_BLIND;   /* delimited by close: nothing follows */
    }
}

/* A response head ended: on to its body, the next response, or blindness.
 * A 429 or 503 keeps its Retry-After for the shell to take. */
static void head_done(bw_http_resp *st)
{
    const bw_http_fields *f = &st->fields;
    if ((st->status == 429 || st->status == 503) && (f->flags & BW_HFF_RETRY_AFTER) &&
        f->ra_len > 0 && f->ra_len <= BW_HTTP_RA_MAX) {
        memcpy(st->ra, f->ra, f->ra_len);
        st->ra_len = f->ra_len;
    }
    if (st->status == 101)
        st->phase = S_BLIND;
    else if (st->status < 200)
        st->phase = S_START;   /* interim: the final response follows */
    else
        start_body(st, st->kind);
}

static void start_line(bw_http_resp *st)
{
    st->flags = 0;
    st->status = 0;
    st->sub = 1;
    st->line_len = 1;
    st->phase = S_VERSION;
}

/* The status line ended. Returns the status when it is final (the
 * request it answers is taken off the queue then), else 0. */
static int end_line(bw_http_resp *st)
{
    bw_http_fields_reset(&st->fields, false);
    st->phase = S_FIELDS;
    if (st->status < 200)
        return 0;
    st->kind = (uint8_t)pop_request(st);
    return st->status;
}

/* "HTTP/1." DIGIT SP, then three digits. */
static void version_byte(bw_http_resp *st, uint8_t c)
{
    if (st->sub < sizeof version - 1) {
        st->phase = c == (uint8_t)version[st->sub] ? S_VERSION : S_BLIND;
    } else if (st->sub == sizeof version - 1) {
        st->phase = c >= '0' && c <= '9' ? S_VERSION : S_BLIND;
        if (c == '0')
            st->flags |= F_HTTP10;
    } else {
        st->phase = c == ' ' ? S_CODE : S_BLIND;
        st->sub = 0;
        return;
    }
    st->sub++;
}

static void code_byte(bw_http_resp *st, uint8_t c)
{
    bool ok = c >= '0' && c <= '9' && (st->sub > 0 || c > '0');
    if (!ok) {
        st->phase = S_BLIND;
        return;
    }
    st->status = (uint16_t)(st->status * 10 + (c - '0'));
    if (++st->sub == 3)
        st->phase = S_AFTER_CODE;
}

/* One byte of an empty line or a status line. Returns a final status
 * when c ends its status line, else 0. */
static int line_byte(bw_http_resp *st, uint8_t c)
{
    if (st->phase > S_START_CR && ++st->line_len > BW_HTTP_LINE_MAX) {
        st->phase = S_BLIND;
        return 0;
    }
    switch (st->phase) {
    case S_START:
        if (c == 'H')
            start_line(st);
        else if (c == '\r')
            st->phase = S_START_CR;
        else if (c != '\n')
            st->phase = S_BLIND;
        break;
    case S_START_CR:
        st->phase = c == '\n' ? S_START : S_BLIND;
        break;
    case S_VERSION:
        version_byte(st, c);
        break;
    case S_CODE:
        code_byte(st, c);
        break;
    case S_AFTER_CODE:
    case S_REASON:
        /* RFC 9112 wants SP before an empty reason; some servers omit it. */
        if (c == '\r')
            st->phase = S_SL_CR;
        else if (c == '\n')
            return end_line(st);
        else if (c == 0 || (st->phase == S_AFTER_CODE && c != ' '))
            st->phase = S_BLIND;
        else
            st->phase = S_REASON;
        break;
    default: /* S_SL_CR */
        if (c == '\n')
            return end_line(st);
        st->phase = S_BLIND;
    }
    return 0;
}

/* Consumes body bytes; returns how many. */
static size_t body_bytes(bw_http_resp *st, const uint8_t *buf, size_t len)
{
    enum bw_http_frame_res res;
    size_t n = bw_http_body_feed(&st->body, buf, len, &res);
    if (res == BW_HF_BAD) {
        st->phase = S_BLIND;
    } else if (res == BW_HF_DONE) {
        if (st->flags & F_CHUNKED) {
            bw_http_fields_reset(&st->fields, true);
            st->phase = S_TRAILERS;
        } else {
            st->phase = S_START;
        }
    }
    return n;
}

/* Header or trailer bytes at buf[0..len), len > 0; returns how many were
 * consumed. Runs of field bytes go in bulk, the blank line byte by byte. */
static size_t field_bytes(bw_http_resp *st, const uint8_t *buf, size_t len)
{
    enum bw_http_frame_res r;
    size_t n = bw_http_fields_feed(&st->fields, buf, len, NULL, &r);
    if (n == 0) {
        r = bw_http_fields_byte(&st->fields, buf[0], NULL);
        n = 1;
    }
    if (r == BW_HF_BAD)
        st->phase = S_BLIND;
    else if (r == BW_HF_DONE && st->phase == S_TRAILERS)
        st->phase = S_START;
    else if (r == BW_HF_DONE)
        head_done(st);
    return n;
}

/*
 * The fixed start of a status line, "HTTP/1.x NNN", lying whole at buf[0..len)
 * in phase S_START: read at once, leaving the state line_byte would leave
 * after those 12 bytes. Returns 12, or 0 for anything else (the bytes then
 * go one by one and decide the same way).
 */
static size_t status_fast(bw_http_resp *st, const uint8_t *b, size_t len)
{
    if (len < 12 || memcmp(b, version, sizeof version - 1) != 0 || b[7] < '0' || b[7] > '9' ||
        b[8] != ' ' || b[9] < '1' || b[9] > '9' || b[10] < '0' || b[10] > '9' ||
        b[11] < '0' || b[11] > '9')
        return 0;
    start_line(st);
    if (b[7] == '0')
        st->flags |= F_HTTP10;
    st->status = (uint16_t)((b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0'));
    st->sub = 3;
    st->line_len = 12;
    st->phase = S_AFTER_CODE;
    return 12;
}

/* Skips the reason phrase's bytes that keep it going (not NUL, CR, LF),
 * within the line length limit; returns how many. */
static size_t reason_run(bw_http_resp *st, const uint8_t *buf, size_t len)
{
    size_t room = BW_HTTP_LINE_MAX - st->line_len;
    size_t n = bw_http_value_run(buf, len < room ? len : room);
    st->line_len += (uint32_t)n;
    return n;
}

size_t bw_http_resp_step(bw_http_resp *st, const uint8_t *buf, size_t len, int *status)
{
    size_t i = 0;
    *status = 0;
    while (i < len) {
        switch (st->phase) {
        case S_BLIND:
            return len;
        case S_BODY:
            i += body_bytes(st, buf + i, len - i);
            break;
        case S_FIELDS:
        case S_TRAILERS:
            i += field_bytes(st, buf + i, len - i);
            break;
        default:
            if (st->phase == S_START)
                i += status_fast(st, buf + i, len - i);
            if (st->phase == S_REASON)
                i += reason_run(st, buf + i, len - i);
            if (i == len)
                break;
            *status = line_byte(st, buf[i++]);
            if (*status)
                return i;
        }
    }
    return i;
}

size_t bw_http_resp_take_retry_after(bw_http_resp *st, char *out, size_t outlen)
{
    size_t n = st->ra_len <= BW_HTTP_RA_MAX ? st->ra_len : 0;
    st->ra_len = 0;
    if (n > outlen)
        n = outlen;
    memcpy(out, st->ra, n);
    return n;
}

int bw_http_resp_feed(bw_http_resp *st, const uint8_t *buf, size_t len,
                      int *statuses, int max)
{
    int n = 0;
    while (len) {
        int status;
        size_t used = bw_http_resp_step(st, buf, len, &status);
        buf += used;
        len -= used;
        if (status && n < max)
            statuses[n] = status;
        n += status != 0;
    }
    return n;
}
