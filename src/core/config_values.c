/*
 * config_values.c - parsers of single config values: booleans, integers,
 * decimals, errno names, paths, tokens, and the helpers every parser shares
 * (message formatting, list splitting, "did you mean" distance).
 *
 * Numbers are parsed by hand rather than with strtoul/strtod: those accept
 * signs, blanks and exponents, and strtod follows the program's locale, which
 * in a preloaded program is whatever the program chose.
 */
#include "bw_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int bw_valctx_fail(bw_valctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int bw_list_next(const char **cur, char *item, size_t size)
{
    const char *p = *cur;
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p) {
            *cur = p;
            return 0;
        }
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *last = end;
        while (last > p && isspace((unsigned char)last[-1]))
            last--;
        size_t n = (size_t)(last - p);
        if (n >= size) {
            *cur = p;
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        *cur = end;
        return 1;
    }
}

/*
 * Parses a string of decimal digits only. Returns 0 with *out set, 1 when the
 * digits are valid but overflow 64 bits, -1 when s is not all digits.
 */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    bool overflow = false;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    *out = v;
    return overflow ? 1 : 0;
}

int bw_parse_uint(bw_valctx *c, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    int r = parse_digits(s, &v);
    if (r < 0)
        return bw_valctx_fail(c, "bad value '%s' for '%s': expected an integer",
                              s, c->key);
    if (r > 0 || v < lo || v > hi)
        return bw_valctx_fail(c, "'%s' = %s is out of range (%u..%u)",
                              c->key, s, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

/*
 * Reads "DIGITS[.DIGITS]" into *out. Returns 0, or -1 when s has another
 * shape or more digits than a double holds exactly.
 */
static int parse_plain_decimal(const char *s, double *out)
{
    uint64_t mant = 0;
    double scale = 1.0;
    int digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        mant = mant * 10 + (uint64_t)(*p - '0');
    if (p == s)
        return -1;
    if (*p == '.') {
        const char *f = ++p;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            scale *= 10.0;
        }
        if (p == f)
            return -1;
    }
    if (*p || digits > 15)
        return -1;
    *out = (double)mant / scale;
    return 0;
}

int bw_parse_decimal(bw_valctx *c, const char *s, double lo, double hi, double *out)
{
    double v;
    if (parse_plain_decimal(s, &v) < 0)
        return bw_valctx_fail(c, "bad value '%s' for '%s': expected a decimal "
                              "number such as 2.0", s, c->key);
    if (v < lo || v > hi)
        return bw_valctx_fail(c, "'%s' = %s is out of range (%.1f..%.1f)",
                              c->key, s, lo, hi);
    *out = v;
    return 0;
}

int bw_parse_bool(bw_valctx *c, const char *s, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return bw_valctx_fail(c, "bad value '%s' for '%s': expected on/off, "
                          "true/false, yes/no or 1/0", s, c->key);
}

static const struct {
    int err;
    const char *name;
} errno_names[] = {
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {ENETUNREACH, "ENETUNREACH"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNABORTED, "ECONNABORTED"},
};

/* Returns the name of an errno the config accepts, or NULL for any other. */
const char *bw_errno_name(int err)
{
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return NULL;
}

int bw_parse_errno(bw_valctx *c, const char *s, int *out)
{
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++) {
        if (!strcmp(s, errno_names[i].name)) {
            *out = errno_names[i].err;
            return 0;
        }
    }
    return bw_valctx_fail(c, "bad value '%s' for '%s': expected ECONNREFUSED, "
                          "EHOSTUNREACH, ENETUNREACH, ETIMEDOUT or ECONNABORTED",
                          s, c->key);
}

int bw_parse_abspath(bw_valctx *c, const char *s, char *out, size_t size)
{
    if (s[0] != '/')
        return bw_valctx_fail(c, "bad value '%s' for '%s': expected an absolute "
                              "path", s, c->key);
    size_t n = strlen(s);
    if (n >= size)
        return bw_valctx_fail(c, "'%s' is too long (at most %zu characters)",
                              c->key, size - 1);
    memcpy(out, s, n + 1);
    return 0;
}

/* RFC 9110 tchar: what a method or header field name may be made of. */
static bool is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int bw_parse_token(bw_valctx *c, const char *s, char *out, size_t size)
{
    const char *p = s;
    for (; *p; p++)
        if (!is_tchar((unsigned char)*p) || (unsigned char)*p > 127)
            break;
    if (!*s || *p)
        return bw_valctx_fail(c, "bad value '%s' for '%s': expected a token "
                              "(letters, digits and !#$%%&'*+-.^_`|~)", s, c->key);
    size_t n = strlen(s);
    if (n >= size)
        return bw_valctx_fail(c, "'%s' value '%s' is too long (at most %zu "
                              "characters)", c->key, s, size - 1);
    memcpy(out, s, n + 1);
    return 0;
}

#define BW_DIST_MAX 64

size_t bw_edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, BW_DIST_MAX - 1), lb = strnlen(b, BW_DIST_MAX - 1);
    size_t d[3][BW_DIST_MAX];   /* rows i-2, i-1, i of the usual table */
    for (size_t j = 0; j <= lb; j++)
        d[1][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = d[(i + 1) % 3], *prev = d[i % 3], *pp = d[(i + 2) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]);
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
    }
    return d[(la + 1) % 3][lb];
}
