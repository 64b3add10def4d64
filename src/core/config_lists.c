/*
 * config_lists.c - parsers of the comma-separated list values other than
 * host: retry_on, port, breaker_http_status, idempotency_methods.
 */
#include "bw_config.h"

#include <stdlib.h>
#include <string.h>

#define BW_ITEM_MAX 256

static int item_too_long(bw_valctx *c, const char *cur)
{
    return bw_valctx_fail(c, "bad value '%.40s...' for '%s': item too long",
                          cur, c->key);
}

/* Parses decimal digits (surrounding blanks allowed) into *v; -1 if not. */
static int item_number(const char *s, uint32_t *v)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    uint32_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        n = n > 1000000 ? n : n * 10 + (uint32_t)(*s - '0');   /* saturate */
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s)
        return -1;
    *v = n;
    return 0;
}

/*
 * Parses "N" or "LO-HI" with lo <= N, LO <= HI <= hi. what names one item
 * for the message ("a port"). Returns 0 with *a..*b set, or -1 with c->msg.
 */
static int range_item(bw_valctx *c, const char *item, uint32_t lo, uint32_t hi,
                      const char *what, uint32_t *a, uint32_t *b)
{
    char left[BW_ITEM_MAX];
    const char *dash = strchr(item, '-');
    size_t n = dash ? (size_t)(dash - item) : strlen(item);
    memcpy(left, item, n);
    left[n] = '\0';
    if (item_number(left, a) < 0 || (dash && item_number(dash + 1, b) < 0))
        return bw_valctx_fail(c, "bad value '%s' for '%s': expected %s "
                              "(%u..%u) or a range lo-hi", item, c->key, what, lo, hi);
    if (!dash)
        *b = *a;
    if (*a < lo || *a > hi || *b < lo || *b > hi)
        return bw_valctx_fail(c, "'%s' = %s is out of range (%u..%u)",
                              c->key, item, lo, hi);
    if (*a > *b)
        return bw_valctx_fail(c, "bad value '%s' for '%s': the range ends "
                              "before it starts", item, c->key);
    return 0;
}

int bw_parse_statuses(bw_valctx *c, const char *s, bw_status_set *set)
{
    char item[BW_ITEM_MAX];
    int r;
    while ((r = bw_list_next(&s, item, sizeof item)) > 0) {
        uint32_t a, b;
        if (range_item(c, item, 100, 599, "a status", &a, &b) < 0)
            return -1;
        for (uint32_t st = a; st <= b; st++)
            set->bits[(st - 100) / 64] |= (uint64_t)1 << ((st - 100) % 64);
    }
    return r < 0 ? item_too_long(c, s) : 0;
}

int bw_parse_ports(bw_valctx *c, const char *s, bw_port_range **v, size_t *n)
{
    char item[BW_ITEM_MAX];
    int r;
    while ((r = bw_list_next(&s, item, sizeof item)) > 0) {
        uint32_t a, b;
        if (range_item(c, item, 1, 65535, "a port", &a, &b) < 0)
            return -1;
        bw_port_range *grown = realloc(*v, (*n + 1) * sizeof **v);
        if (!grown)
            return bw_valctx_fail(c, "out of memory");
        grown[*n].lo = (uint16_t)a;
        grown[*n].hi = (uint16_t)b;
        *v = grown;
        (*n)++;
    }
    return r < 0 ? item_too_long(c, s) : 0;
}

int bw_parse_retry_on(bw_valctx *c, const char *s, uint32_t *mask)
{
    static const struct {
        const char *word;
        uint32_t bit;
    } words[] = {
        {"refused", BW_RETRY_REFUSED},
        {"unreachable", BW_RETRY_UNREACHABLE},
        {"timeout", BW_RETRY_TIMEOUT},
    };
    char item[BW_ITEM_MAX];
    int r;
    while ((r = bw_list_next(&s, item, sizeof item)) > 0) {
        size_t i = 0;
        while (i < 3 && strcmp(item, words[i].word))
            i++;
        if (i == 3)
            return bw_valctx_fail(c, "bad value '%s' for '%s': expected "
                                  "refused, unreachable or timeout", item, c->key);
        *mask |= words[i].bit;
    }
    return r < 0 ? item_too_long(c, s) : 0;
}

/* Appends one method to p unless it is listed already. */
static int add_method(bw_valctx *c, const char *item, bw_policy *p)
{
    char m[BW_MAX_METHOD_LEN];
    if (bw_parse_token(c, item, m, sizeof m) < 0)
        return -1;
    for (unsigned i = 0; i < p->n_methods; i++)
        if (!strcmp(p->methods[i], m))
            return 0;
    if (p->n_methods == BW_MAX_METHODS)
        return bw_valctx_fail(c, "'%s' lists more than %d methods", c->key,
                              BW_MAX_METHODS);
    memcpy(p->methods[p->n_methods++], m, sizeof m);
    return 0;
}

int bw_parse_methods(bw_valctx *c, const char *s, bw_policy *p)
{
    char item[BW_ITEM_MAX];
    int r;
    while ((r = bw_list_next(&s, item, sizeof item)) > 0)
        if (add_method(c, item, p) < 0)
            return -1;
    return r < 0 ? item_too_long(c, s) : 0;
}
