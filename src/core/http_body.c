/*
 * http_body.c - the body framer shared by requests and responses
 * (bw_http_frame.h): skips exactly Content-Length bytes, or follows the
 * chunked coding of RFC 9112 section 7.1 up to the last-chunk line.
 */
#include "bw_http_frame.h"

enum phase {
    B_DONE,       /* zeroed memory: an empty body */
    B_LENGTH,     /* Content-Length data */
    B_SIZE,       /* chunk-size hex digits */
    B_SIZE_WS,    /* whitespace after the size (BWS before an extension) */
    B_EXT,        /* chunk extensions, up to the end of the line */
    B_SIZE_CR,    /* CR ending the size line; LF must follow */
    B_DATA,       /* chunk data */
    B_DATA_END,   /* CRLF after the chunk data */
    B_DATA_CR,
};

void bw_http_body_start_length(bw_http_body *b, uint64_t n)
{
    b->phase = n ? B_LENGTH : B_DONE;
    b->remaining = n;
}

void bw_http_body_start_chunked(bw_http_body *b)
{
    b->phase = B_SIZE;
    b->remaining = 0;
    b->digits = 0;
    b->line_len = 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The chunk-size line ended: data follows, or the last chunk was seen. */
static enum bw_http_frame_res size_line_end(bw_http_body *b)
{
    b->line_len = 0;
    if (b->remaining == 0) {
        b->phase = B_DONE;
        return BW_HF_DONE;
    }
    b->phase = B_DATA;
    return BW_HF_MORE;
}

/* One byte of a chunk-size line: 1*HEXDIG [BWS] [";" ext...] CRLF. */
static enum bw_http_frame_res size_byte(bw_http_body *b, uint8_t c)
{
    if (++b->line_len > BW_HTTP_LINE_MAX)
        return BW_HF_BAD;
    int h = hexval(c);
    switch (b->phase) {
    case B_SIZE:
        if (h >= 0) {
            if (b->remaining > (UINT64_MAX >> 8))
                return BW_HF_BAD;
            b->remaining = (b->remaining << 4) | (uint64_t)h;
            b->digits = 1;
            return BW_HF_MORE;
        }
        if (!b->digits)
            return BW_HF_BAD;
        __attribute__((fallthrough));   /* the size ended */
    case B_SIZE_WS:
        if (c == ' ' || c == '\t')
            b->phase = B_SIZE_WS;
        else if (c == ';')
            b->phase = B_EXT;
        else if (c == '\r')
            b->phase = B_SIZE_CR;
        else if (c == '\n')
            return size_line_end(b);
        else
            return BW_HF_BAD;
        return BW_HF_MORE;
    case B_EXT:
        if (c == '\r')
            b->phase = B_SIZE_CR;
        else if (c == '\n')
            return size_line_end(b);
        else if (c == 0)
            return BW_HF_BAD;
        return BW_HF_MORE;
    default: /* B_SIZE_CR */
        return c == '\n' ? size_line_end(b) : BW_HF_BAD;
    }
}

/* One byte of the line end after chunk data. */
static enum bw_http_frame_res data_end_byte(bw_http_body *b, uint8_t c)
{
    if (b->phase == B_DATA_END && c == '\r') {
        b->phase = B_DATA_CR;
        return BW_HF_MORE;
    }
    if (c != '\n')
        return BW_HF_BAD;
    bw_http_body_start_chunked(b);
    return BW_HF_MORE;
}

/* Skips data bytes in bulk: the only part of a body that can be large. */
static uint64_t skip_data(bw_http_body *b, uint64_t len, enum bw_http_frame_res *res)
{
    uint64_t n = b->remaining < len ? b->remaining : len;
    b->remaining -= n;
    if (b->remaining == 0) {
        if (b->phase == B_LENGTH) {
            b->phase = B_DONE;
            *res = BW_HF_DONE;
            return n;
        }
        b->phase = B_DATA_END;
    }
    *res = BW_HF_MORE;
    return n;
}

size_t bw_http_body_feed(bw_http_body *b, const uint8_t *buf, size_t len,
                         enum bw_http_frame_res *res)
{
    size_t i = 0;
    *res = BW_HF_MORE;
    if (b->phase == B_DONE) {
        *res = BW_HF_DONE;
        return 0;
    }
    while (i < len) {
        if (b->phase == B_LENGTH || b->phase == B_DATA) {
            i += (size_t)skip_data(b, len - i, res);
            if (*res == BW_HF_DONE)
                return i;
            continue;
        }
        uint8_t c = buf[i++];
        if (b->phase == B_DATA_END || b->phase == B_DATA_CR)
            *res = data_end_byte(b, c);
        else
            *res = size_byte(b, c);
        if (*res != BW_HF_MORE)
            return i;
    }
    return i;
}

bool bw_http_body_skip(bw_http_body *b, uint64_t n, enum bw_http_frame_res *res)
{
    if ((b->phase != B_LENGTH && b->phase != B_DATA) || b->remaining < n)
        return false;
    skip_data(b, n, res);
    return true;
}
