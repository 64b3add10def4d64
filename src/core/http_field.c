/*
 * http_field.c - the field-section parser shared by the request injector and
 * the response reader (bw_http_frame.h). Only the fields that decide framing
 * are interpreted: Content-Length, Transfer-Encoding, Upgrade and the
 * caller's key field. Values are never stored.
 */
#include <string.h>
#include <strings.h>

#include "bw_http_frame.h"

enum phase { P_LINE_START, P_NAME, P_VALUE, P_VALUE_CR, P_BLANK_CR };
enum kind { K_OTHER, K_CL, K_TE, K_UPGRADE, K_KEY, K_RETRY_AFTER };
enum cl_sub { CL_LEAD, CL_DIGITS, CL_TRAIL };

#define ELEM_NOT_CHUNKED 9

/* RFC 9110 tchar: DIGIT, ALPHA and "!#$%&'*+-.^_`|~". */
static const bool tchar_tab[256] = {
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
    ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
    ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
    ['`'] = true, ['|'] = true, ['~'] = true,
};

bool bw_http_tchar(uint8_t c)
{
    return tchar_tab[c];
}

void bw_http_fields_reset(bw_http_fields *f, bool trailers)
{
    memset(f, 0, sizeof *f);
    f->trailers = trailers;
}

bool bw_http_fields_at_line_start(const bw_http_fields *f)
{
    return f->phase == P_LINE_START;
}

/* Field name name[0..len) is s (n bytes), in any case. */
static bool name_is(const char *name, size_t len, const char *s, size_t n)
{
    return len == n && strncasecmp(name, s, n) == 0;
}

/* Decides, at the colon, which of the interesting fields the line whose
 * name is name[0..len) is (len BW_HTTP_NAME_BUF + 1: longer than any). The
 * length and first letter sort most names out before any comparison. */
static enum kind classify(const bw_http_fields *f, const char *name, size_t len,
                          const char *key)
{
    if (f->trailers || len == 0)
        return K_OTHER;   /* trailers never change framing (RFC 9110 6.5.1) */
    if (key && (key[0] | 0x20) == (name[0] | 0x20) && name_is(name, len, key, strlen(key)))
        return K_KEY;
    switch (len) {
    case 14:
        return name_is(name, len, "content-length", 14) ? K_CL : K_OTHER;
    case 17:
        return name_is(name, len, "transfer-encoding", 17) ? K_TE : K_OTHER;
    case 7:
        return name_is(name, len, "upgrade", 7) ? K_UPGRADE : K_OTHER;
    case 11:
        return name_is(name, len, "retry-after", 11) ? K_RETRY_AFTER : K_OTHER;
    }
    return K_OTHER;
}

/* One byte of a Content-Length value: OWS 1*DIGIT OWS, nothing else (a list
 * of repeated values is refused rather than guessed at). */
static bool cl_byte(bw_http_fields *f, uint8_t c)
{
    bool ws = c == ' ' || c == '\t';
    if (c >= '0' && c <= '9' && f->sub != CL_TRAIL) {
        if (f->cl_line > (UINT64_MAX >> 4) / 10)
            return false;   /* far beyond any real body: refuse to frame */
        f->cl_line = f->cl_line * 10 + (c - '0');
        f->sub = CL_DIGITS;
        return true;
    }
    if (ws) {
        if (f->sub == CL_DIGITS)
            f->sub = CL_TRAIL;
        return true;
    }
    return false;
}

/* Ends one element of the Transfer-Encoding list; empty elements do not count. */
static void te_elem_end(bw_http_fields *f)
{
    if (f->elem_len == 0)
        return;
    if (f->elem_len == 7 && memcmp(f->elem, "chunked", 7) == 0)
        f->flags |= BW_HFF_TE_CHUNKED;
    else
        f->flags &= (uint8_t)~BW_HFF_TE_CHUNKED;
    f->elem_len = 0;
    f->sub = 0;
}

/* One byte of a Transfer-Encoding value. Only "is the final coding exactly
 * chunked" matters; sub marks whitespace seen after an element's text. */
static void te_byte(bw_http_fields *f, uint8_t c)
{
    if (c == ',') {
        te_elem_end(f);
    } else if (c == ' ' || c == '\t') {
        if (f->elem_len)
            f->sub = 1;
    } else if (f->sub || f->elem_len >= 8) {
        f->elem_len = ELEM_NOT_CHUNKED;   /* "chunked;x", "gzip chunked", ... */
    } else {
        f->elem[f->elem_len++] = (char)(c | 0x20);
    }
}

/* The field line just ended: fold what it said into the section's flags. */
static enum bw_http_frame_res line_end(bw_http_fields *f)
{
    switch (f->kind) {
    case K_CL:
        if (f->sub == CL_LEAD)
            return BW_HF_BAD;   /* empty value */
        if ((f->flags & BW_HFF_CL) && f->cl != f->cl_line)
            return BW_HF_BAD;   /* conflicting lengths */
        f->cl = f->cl_line;
        f->flags |= BW_HFF_CL;
        break;
    case K_TE:
        te_elem_end(f);
        f->flags |= BW_HFF_TE;
        break;
    case K_UPGRADE:
        f->flags |= BW_HFF_UPGRADE;
        break;
    case K_KEY:
        f->flags |= BW_HFF_KEY;
        break;
    case K_RETRY_AFTER:
        while (f->ra_len && f->ra_len <= BW_HTTP_RA_MAX &&
               (f->ra[f->ra_len - 1] == ' ' || f->ra[f->ra_len - 1] == '\t'))
            f->ra_len--;   /* trailing whitespace */
        f->flags |= BW_HFF_RETRY_AFTER;
        break;
    }
    f->phase = P_LINE_START;
    f->line_len = 0;
    return BW_HF_MORE;
}

/* A field line begins (its first byte is a tchar). */
static void begin_name(bw_http_fields *f)
{
    f->phase = P_NAME;
    f->name_len = 0;
    f->kind = K_OTHER;
    f->sub = 0;
    f->elem_len = 0;
    f->cl_line = 0;
}

/* The colon after the field name name[0..len): what the line is decides how
 * its value is read. */
static void name_end(bw_http_fields *f, const char *name, size_t len, const char *key)
{
    f->kind = (uint8_t)classify(f, name, len, key);
    if (f->kind == K_RETRY_AFTER)
        f->ra_len = 0;   /* of several Retry-After lines, the last counts */
    f->phase = P_VALUE;
}

static enum bw_http_frame_res start_byte(bw_http_fields *f, uint8_t c)
{
    if (c == '\r') {
        f->phase = P_BLANK_CR;
        return BW_HF_MORE;
    }
    if (c == '\n')
        return BW_HF_DONE;
    if (!bw_http_tchar(c))
        return BW_HF_BAD;   /* obs-fold, empty name, binary */
    begin_name(f);
    f->name[f->name_len++] = (char)c;
    return BW_HF_MORE;
}

static enum bw_http_frame_res name_byte(bw_http_fields *f, uint8_t c, const char *key)
{
    if (c == ':') {
        name_end(f, f->name, f->name_len, key);
        return BW_HF_MORE;
    }
    if (!bw_http_tchar(c))
        return BW_HF_BAD;   /* includes whitespace before the colon */
    if (f->name_len < BW_HTTP_NAME_BUF)
        f->name[f->name_len++] = (char)c;
    else
        f->name_len = BW_HTTP_NAME_BUF + 1;   /* too long to match anything */
    return BW_HF_MORE;
}

static enum bw_http_frame_res value_byte(bw_http_fields *f, uint8_t c)
{
    if (c == '\r') {
        f->phase = P_VALUE_CR;
        return BW_HF_MORE;
    }
    if (c == '\n')
        return line_end(f);
    if (c == 0)
        return BW_HF_BAD;
    if (f->kind == K_CL && !cl_byte(f, c))
        return BW_HF_BAD;
    if (f->kind == K_TE)
        te_byte(f, c);
    if (f->kind == K_RETRY_AFTER && !(f->ra_len == 0 && (c == ' ' || c == '\t'))) {
        if (f->ra_len < BW_HTTP_RA_MAX)
            f->ra[f->ra_len++] = (char)c;
        else
            f->ra_len = BW_HTTP_RA_MAX + 1;
    }
    return BW_HF_MORE;
}

enum bw_http_frame_res bw_http_fields_byte(bw_http_fields *f, uint8_t c, const char *key)
{
    if (++f->line_len > BW_HTTP_LINE_MAX)
        return BW_HF_BAD;
    switch (f->phase) {
    case P_LINE_START:
        return start_byte(f, c);
    case P_NAME:
        return name_byte(f, c, key);
    case P_VALUE:
        return value_byte(f, c);
    case P_VALUE_CR:
        return c == '\n' ? line_end(f) : BW_HF_BAD;
    case P_BLANK_CR:
        return c == '\n' ? BW_HF_DONE : BW_HF_BAD;
    }
    return BW_HF_BAD;
}

/* Keeps the name bytes p[0..n) of the line being read, as name_byte would. */
static void keep_name(bw_http_fields *f, const uint8_t *p, size_t n)
{
    if (f->name_len > BW_HTTP_NAME_BUF)
        return;
    size_t room = BW_HTTP_NAME_BUF - f->name_len;
    if (n > room) {
        f->name_len = BW_HTTP_NAME_BUF + 1;   /* too long to match anything */
        return;
    }
    memcpy(f->name + f->name_len, p, n);
    f->name_len = (uint8_t)(f->name_len + n);
}

/* Values that are only skipped: nothing in them changes framing. */
static bool value_unread(const bw_http_fields *f)
{
    return f->kind == K_OTHER || f->kind == K_KEY || f->kind == K_UPGRADE;
}

/*
 * Consumes from p[0..n) whole stretches that need no byte-by-byte decision,
 * with the same effect as bw_http_fields_byte on each of their bytes: field
 * names up to their colon, values nothing reads up to their line end, and
 * those line ends (LF or CRLF), line after line. Returns how many bytes it
 * took; the byte after them (a blank line, a value that is read, a bad
 * byte, a line end split across calls, one past the line length limit) is
 * for bw_http_fields_byte.
 */
static size_t fast_bytes(bw_http_fields *f, const uint8_t *p, size_t n, const char *key)
{
    size_t j = 0;
    while (j < n) {
        size_t room = BW_HTTP_LINE_MAX - f->line_len;
        size_t lim = n - j < room ? n : j + room;   /* the line may grow to p[lim] */
        size_t s = j;
        if (f->phase == P_LINE_START) {
            if (!tchar_tab[p[j]])
                return j;
            begin_name(f);
        }
        if (f->phase == P_NAME) {
            bool whole = f->name_len == 0;   /* the name starts in p */
            while (lim - j >= 4 && tchar_tab[p[j]] & tchar_tab[p[j + 1]] & tchar_tab[p[j + 2]] &
                                       tchar_tab[p[j + 3]])
                j += 4;
            while (j < lim && tchar_tab[p[j]])
                j++;
            if (j == lim || p[j] != ':') {
                keep_name(f, p + s, j - s);
                f->line_len += (uint32_t)(j - s);
                return j;
            }
            if (whole)   /* classified where it lies: nothing kept */
                name_end(f, (const char *)p + s, j - s > BW_HTTP_NAME_BUF ? BW_HTTP_NAME_BUF + 1 : j - s, key);
            else {
                keep_name(f, p + s, j - s);
                name_end(f, f->name, f->name_len, key);
            }
            j++;
        }
        if (f->phase != P_VALUE || !value_unread(f)) {
            f->line_len += (uint32_t)(j - s);
            return j;
        }
        j += bw_http_value_run(p + j, lim - j);
        f->line_len += (uint32_t)(j - s);
        if (j < lim && p[j] == '\n') {
            j += 1;
        } else if (j + 1 < lim && p[j] == '\r' && p[j + 1] == '\n') {
            j += 2;
        } else {
            return j;
        }
        if (f->kind == K_OTHER) {   /* line_end's work for a line that says nothing */
            f->phase = P_LINE_START;
            f->line_len = 0;
        } else {
            line_end(f);   /* MORE: the line's value is not read */
        }
    }
    return j;
}

size_t bw_http_fields_feed(bw_http_fields *f, const uint8_t *buf, size_t len,
                           const char *key, enum bw_http_frame_res *res)
{
    size_t i = 0;
    *res = BW_HF_MORE;
    while (i < len) {
        i += fast_bytes(f, buf + i, len - i, key);
        if (i == len || (f->phase == P_LINE_START && (buf[i] == '\r' || buf[i] == '\n')))
            return i;   /* all taken, or the blank line: the caller's byte */
        *res = bw_http_fields_byte(f, buf[i++], key);
        if (*res != BW_HF_MORE)
            return i;
    }
    return i;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's method). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s as a number, or -1. */
static int64_t digits(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int64_t bw_http_retry_after_secs(const char *v, size_t n, int64_t now_unix)
{
    if (n == 0 || n > BW_HTTP_RA_MAX)
        return -1;
    if (n <= 10 && digits(v, n) >= 0)
        return digits(v, n);   /* delay-seconds */
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (n != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
        v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
        return -1;
    int month = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(v + 8, months + 3 * i, 3) == 0)
            month = i + 1;
    int64_t day = digits(v + 5, 2), year = digits(v + 12, 4), hh = digits(v + 17, 2),
            mm = digits(v + 20, 2), ss = digits(v + 23, 2);
    if (month < 0 || day < 1 || day > 31 || year < 0 || hh < 0 || hh > 23 || mm < 0 ||
        mm > 59 || ss < 0 || ss > 60)
        return -1;
    int64_t at = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hh * 3600 +
                 mm * 60 + ss;
    return at > now_unix ? at - now_unix : 0;
}
