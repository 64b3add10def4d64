/*
 * http_req.c - the streaming request scanner behind Idempotency-Key
 * injection (bw_http_req.h). It frames each request (request line, header
 * section, body, trailers) without keeping any of its bytes, and stops at
 * the first byte of the blank line ending a header block when a key is due.
 */
#include <string.h>

#include "bw_http_req.h"
#include "bw_uuid.h"

enum phase {
    R_START,      /* before a request line; empty lines allowed */
    R_START_CR,   /* CR of an empty line */
    R_METHOD,
    R_TARGET0,    /* first byte of the request-target */
    R_TARGET,
    R_VERSION,    /* inside "HTTP/1.x" */
    R_RL_END,     /* after the version: CRLF or LF */
    R_RL_CR,
    R_FIELDS,     /* header section */
    R_BODY,
    R_TRAILERS,
    R_PASS,       /* permanent passthrough */
};

#define F_HTTP10  0x01u
#define F_DECIDED 0x02u   /* the key decision for this request is made */
#define F_CHUNKED 0x04u

static const char version[] = "HTTP/1.";

void bw_http_req_init(bw_http_req *st)
{
    memset(st, 0, sizeof *st);
}

bool bw_http_req_passthrough(const bw_http_req *st)
{
    return st->phase == R_PASS;
}

void bw_http_req_cfg_from_policy(bw_http_req_cfg *cfg, const bw_policy *p)
{
    cfg->methods = p->methods;
    cfg->n_methods = p->idempotency ? p->n_methods : 0;
    cfg->header = p->idempotency_header;
    cfg->format = p->idempotency_format;
    cfg->key = p->idempotency_key;
}

static bool method_is(const bw_http_req *st, const char *m)
{
    size_t n = strlen(m);
    return st->method_len == n && memcmp(st->method, m, n) == 0;
}

static enum bw_http_method method_kind(const bw_http_req *st)
{
    if (method_is(st, "HEAD"))
        return BW_HTTP_M_HEAD;
    if (method_is(st, "CONNECT"))
        return BW_HTTP_M_CONNECT;
    return BW_HTTP_M_OTHER;
}

static bool method_listed(const bw_http_req *st, const bw_http_req_cfg *cfg)
{
    if (!cfg)
        return false;
    for (unsigned i = 0; i < cfg->n_methods; i++)
        if (method_is(st, cfg->methods[i]))
            return true;
    return false;
}

/* A request begins with byte c (a tchar): its per-request state is reset. */
static void start_request(bw_http_req *st, uint8_t c)
{
    st->flags = 0;
    st->line_len = 1;
    st->method[0] = (char)c;
    st->method_len = 1;
    st->phase = R_METHOD;
}

static void method_byte(bw_http_req *st, uint8_t c)
{
    if (c == ' ')
        st->phase = R_TARGET0;
    else if (!bw_http_tchar(c))
        st->phase = R_PASS;
    else if (st->method_len < BW_MAX_METHOD_LEN - 1)
        st->method[st->method_len++] = (char)c;
    else
        st->method_len = BW_MAX_METHOD_LEN;   /* longer than any listed */
}

/* Request-target bytes: anything visible (URI characters, and obs-text
 * some clients send raw); a control or a second space is not a request. */
static bool target_char(uint8_t c)
{
    return c > ' ' && c != 0x7f;
}

static void version_byte(bw_http_req *st, uint8_t c)
{
    if (st->sub < sizeof version - 1) {
        if (c == (uint8_t)version[st->sub])
            st->sub++;
        else
            st->phase = R_PASS;
    } else if (c >= '0' && c <= '9') {
        if (c == '0')
            st->flags |= F_HTTP10;
        st->phase = R_RL_END;
    } else {
        st->phase = R_PASS;
    }
}

/* A byte after the version: CRLF or LF ends the request line, and the
 * header section begins. Returns the request's kind at that LF. */
static enum bw_http_method line_end_byte(bw_http_req *st, uint8_t c)
{
    if (c == '\r' && st->phase == R_RL_END) {
        st->phase = R_RL_CR;
        return BW_HTTP_M_NONE;
    }
    if (c != '\n') {
        st->phase = R_PASS;
        return BW_HTTP_M_NONE;
    }
    bw_http_fields_reset(&st->fields, false);
    st->phase = R_FIELDS;
    return method_kind(st);
}

/* One byte of an empty line or a request line. Returns the request's kind
 * when c ends its request line, BW_HTTP_M_NONE otherwise. */
static enum bw_http_method line_byte(bw_http_req *st, uint8_t c)
{
    if (st->phase != R_START && st->phase != R_START_CR &&
        ++st->line_len > BW_HTTP_LINE_MAX) {
        st->phase = R_PASS;
        return BW_HTTP_M_NONE;
    }
    switch (st->phase) {
    case R_START:
        if (c == '\r')
            st->phase = R_START_CR;
        else if (c != '\n' && bw_http_tchar(c))
            start_request(st, c);
        else if (c != '\n')
            st->phase = R_PASS;   /* TLS, binary, ... */
        return BW_HTTP_M_NONE;
    case R_START_CR:
        st->phase = c == '\n' ? R_START : R_PASS;
        return BW_HTTP_M_NONE;
    case R_METHOD:
        method_byte(st, c);
        return BW_HTTP_M_NONE;
    case R_TARGET0:
    case R_TARGET:
        if (c == ' ' && st->phase == R_TARGET) {
            st->phase = R_VERSION;
            st->sub = 0;
        } else {
            st->phase = target_char(c) ? R_TARGET : R_PASS;
        }
        return BW_HTTP_M_NONE;
    case R_VERSION:
        version_byte(st, c);
        return BW_HTTP_M_NONE;
    default: /* R_RL_END, R_RL_CR */
        return line_end_byte(st, c);
    }
}

/*
 * The header block ends at the next byte (c, a CR or LF). Refuses framing
 * that cannot be followed, then decides on the key. Returns true when a
 * line is to be inserted before c.
 */
static bool decide(bw_http_req *st, const bw_http_req_cfg *cfg, uint8_t c,
                   bw_http_req_event *ev)
{
    unsigned f = st->fields.flags;
    st->flags |= F_DECIDED;
    if ((f & BW_HFF_TE) &&
        ((f & BW_HFF_CL) || (st->flags & F_HTTP10) || !(f & BW_HFF_TE_CHUNKED))) {
        st->phase = R_PASS;   /* RFC 9112 6.1, 6.3: faulty framing */
        return false;
    }
    if ((f & BW_HFF_KEY) || !method_listed(st, cfg))
        return false;
    ev->insert = true;
    ev->crlf = c == '\r';
    st->keys++;
    return true;
}

/* The header block ended: where the request's body, if any, goes. */
static void head_done(bw_http_req *st)
{
    unsigned f = st->fields.flags;
    if ((f & BW_HFF_UPGRADE) || method_is(st, "CONNECT")) {
        st->phase = R_PASS;   /* whatever follows is not ours to parse */
    } else if (f & BW_HFF_TE) {
        st->flags |= F_CHUNKED;
        bw_http_body_start_chunked(&st->body);
        st->phase = R_BODY;
    } else if ((f & BW_HFF_CL) && st->fields.cl) {
        bw_http_body_start_length(&st->body, st->fields.cl);
        st->phase = R_BODY;
    } else {
        st->phase = R_START;   /* no body (RFC 9112 6.3, rule 7) */
    }
}

/* Moves on after body bytes were framed with result res. */
static void body_result(bw_http_req *st, enum bw_http_frame_res res)
{
    if (res == BW_HF_BAD) {
        st->phase = R_PASS;
    } else if (res == BW_HF_DONE) {
        if (st->flags & F_CHUNKED) {
            bw_http_fields_reset(&st->fields, true);
            st->phase = R_TRAILERS;
        } else {
            st->phase = R_START;
        }
    }
}

/* Consumes body bytes; returns how many. */
static size_t body_bytes(bw_http_req *st, const uint8_t *buf, size_t len)
{
    enum bw_http_frame_res res;
    size_t n = bw_http_body_feed(&st->body, buf, len, &res);
    body_result(st, res);
    return n;
}

bool bw_http_req_unseen(bw_http_req *st, uint64_t n)
{
    enum bw_http_frame_res res;
    if (n == 0)
        return st->phase != R_PASS;
    if (st->phase != R_BODY || !bw_http_body_skip(&st->body, n, &res)) {
        st->phase = R_PASS;
        return false;
    }
    body_result(st, res);
    return true;
}

/* Header or trailer bytes at buf[0..len), len > 0; returns how many were
 * consumed. Runs of field bytes go in bulk, the blank line byte by byte
 * (the key decision is made before its first byte). */
static size_t field_bytes(bw_http_req *st, const bw_http_req_cfg *cfg,
                          const uint8_t *buf, size_t len)
{
    const char *key = cfg ? cfg->header : NULL;
    enum bw_http_frame_res r;
    size_t n = bw_http_fields_feed(&st->fields, buf, len, key, &r);
    if (n == 0) {
        r = bw_http_fields_byte(&st->fields, buf[0], key);
        n = 1;
    }
    if (r == BW_HF_BAD)
        st->phase = R_PASS;
    else if (r == BW_HF_DONE && st->phase == R_TRAILERS)
        st->phase = R_START;
    else if (r == BW_HF_DONE)
        head_done(st);
    return n;
}

/*
 * Takes from buf[0..len) the request-line bytes that need no decision of
 * their own, with the effect line_byte would have on each: the rest of a
 * method's name, of a request-target, and a whole "HTTP/1.x". Stays within
 * the line length limit; returns how many bytes it took.
 */
static size_t line_run(bw_http_req *st, const uint8_t *buf, size_t len)
{
    size_t room = BW_HTTP_LINE_MAX - st->line_len, n = 0;
    if (len > room)
        len = room;
    if (st->phase == R_METHOD) {
        while (n < len && bw_http_tchar(buf[n]))
            method_byte(st, buf[n++]);
    } else if (st->phase == R_TARGET) {
        while (n < len && target_char(buf[n]))
            n++;
    } else if (st->phase == R_VERSION && st->sub == 0 && len >= sizeof version &&
               memcmp(buf, version, sizeof version - 1) == 0 &&
               buf[sizeof version - 1] >= '0' && buf[sizeof version - 1] <= '9') {
        n = sizeof version;
        st->sub = sizeof version - 1;
        version_byte(st, buf[n - 1]);
    }
    st->line_len += (uint32_t)n;
    return n;
}

size_t bw_http_req_scan(bw_http_req *st, const bw_http_req_cfg *cfg,
                        const uint8_t *buf, size_t len, bw_http_req_event *ev)
{
    size_t i = 0;
    memset(ev, 0, sizeof *ev);
    while (i < len) {
        uint8_t c = buf[i];
        switch (st->phase) {
        case R_PASS:
            return len;
        case R_BODY:
            i += body_bytes(st, buf + i, len - i);
            continue;
        case R_FIELDS:
            if (!(st->flags & F_DECIDED) && (c == '\r' || c == '\n') &&
                bw_http_fields_at_line_start(&st->fields) && decide(st, cfg, c, ev))
                return i;
            if (st->phase == R_PASS)
                return len;
            __attribute__((fallthrough));
        case R_TRAILERS:
            i += field_bytes(st, cfg, buf + i, len - i);
            continue;
        default:
            if ((i += line_run(st, buf + i, len - i)) == len)
                return i;
            ev->request = (uint8_t)line_byte(st, buf[i++]);
            if (ev->request)
                return i;
        }
    }
    return i;
}

/* Appends n bytes of s at *p; false when they do not fit before end. */
static bool put(char **p, const char *end, const char *s, size_t n)
{
    if ((size_t)(end - *p) < n)
        return false;
    memcpy(*p, s, n);
    *p += n;
    return true;
}

/* Built by hand rather than with snprintf: the shell calls this inside
 * write(), which a program may call from a signal handler. */
size_t bw_http_req_header_line(const bw_http_req_cfg *cfg, const bw_http_req_event *ev,
                               const uint8_t rnd[16], uint64_t unix_ms,
                               char *out, size_t size)
{
    uint8_t u[16];
    char text[BW_UUID_TEXT];
    if (cfg->key == BW_IDEM_UUID7)
        bw_uuid7(u, unix_ms, rnd);
    else
        bw_uuid4(u, rnd);
    bw_uuid_format(u, text);
    bool quote = cfg->format == BW_IDEM_SF_STRING;
    const char *eol = ev->crlf ? "\r\n" : "\n";
    char *p = out;
    const char *end = out + (size ? size - 1 : 0);   /* room for the NUL */
    if (!size || !put(&p, end, cfg->header, strlen(cfg->header)) ||
        !put(&p, end, ": \"", quote ? 3 : 2) ||
        !put(&p, end, text, BW_UUID_TEXT - 1) ||
        !put(&p, end, "\"", quote) ||
        !put(&p, end, eol, strlen(eol)))
        return 0;
    *p = '\0';
    return (size_t)(p - out);
}
