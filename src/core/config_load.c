/*
 * config_load.c - drives libinih over a file already in memory and builds a
 * bw_config from what it reports.
 *
 * inih says nothing about section headers, blank lines or malformed lines, it
 * truncates section names to 49 bytes, and it splits a line longer than its
 * buffer into two without notice. So our reader function sees every line
 * first: it counts lines, refuses long ones, has each classified the way
 * inih will (bw_ini_lines.h: header, key, continuation, malformed), and
 * handles headers and malformed lines itself. inih then only parses
 * "key = value" (trimming, inline comments) and calls the handler
 * synchronously for that same line.
 */
#include "bw_config.h"
#include "bw_hash.h"
#include "bw_ini_lines.h"
#include "bw_match.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum sec_kind { SEC_NONE, SEC_GLOBAL, SEC_DEFAULTS, SEC_DEST, SEC_SKIP };

/* Destination names to indices: open addressing, slot = index + 1. */
struct names {
    size_t *slot;
    size_t mask, used;
};

typedef struct loader {
    const char *file;
    bw_diag_fn diag;
    void *ctx;
    int errors;
    bw_config *cfg;
    int nkeys;
    /* the reader */
    const char *buf;
    size_t len, pos;
    int lineno;
    bw_ini_lexer lexer;    /* inih's memory from line to line */
    enum bw_ini_kind kind; /* of the line just handed to inih */
    bool any_section;
    /* the current section */
    enum sec_kind sec;
    size_t dest;
    char where[BW_MAX_NAME + 16];
    int cont_key;          /* key a continuation line extends; -1: ignore it */
    /* line where each key was set (0: not set), per section */
    int *global_lines, *defaults_lines, *dest_lines, *zero_lines;
    int global_line, defaults_line;
    size_t cap_dests;
    struct names names;
} loader;

__attribute__((format(printf, 4, 5)))
static void emit(loader *ld, int line, enum bw_diag_severity sev, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ld->errors += sev == BW_DIAG_ERROR;
    if (ld->diag)
        ld->diag(ld->ctx, ld->file, line, sev, msg);
}

#define ERR(ld, ...) emit((ld), (ld)->lineno, BW_DIAG_ERROR, __VA_ARGS__)

/* ---- destination names ---- */

static size_t name_hash(const char *s)
{
    return (size_t)bw_hash(s, strlen(s), 0);
}

/* Returns the slot for name: holding it, or the empty one where it goes. */
static size_t *name_slot(loader *ld, const char *name)
{
    struct names *t = &ld->names;
    for (size_t i = name_hash(name) & t->mask;; i = (i + 1) & t->mask)
        if (!t->slot[i] || !strcmp(ld->cfg->dests[t->slot[i] - 1].name, name))
            return &t->slot[i];
}

/* Records dests[idx] under its name; -1 on ENOMEM. */
static int name_insert(loader *ld, size_t idx)
{
    struct names *t = &ld->names;
    if ((t->used + 1) * 2 > t->mask + 1) {
        struct names old = *t;
        size_t cap = (old.mask + 1) * 2;
        t->slot = calloc(cap, sizeof *t->slot);
        if (!t->slot) {
            *t = old;
            return -1;
        }
        t->mask = cap - 1;
        for (size_t i = 0; i <= old.mask; i++)
            if (old.slot[i])
                *name_slot(ld, ld->cfg->dests[old.slot[i] - 1].name) = old.slot[i];
        free(old.slot);
    }
    *name_slot(ld, ld->cfg->dests[idx].name) = idx + 1;
    t->used++;
    return 0;
}

/* ---- sections ---- */

static int *section_lines(loader *ld)
{
    switch (ld->sec) {
    case SEC_GLOBAL:
        return ld->global_lines;
    case SEC_DEFAULTS:
        return ld->defaults_lines;
    default:
        return ld->dest_lines + ld->dest * (size_t)ld->nkeys;
    }
}

static void enter_single(loader *ld, enum sec_kind kind, int *first, const char *where)
{
    if (*first)
        ERR(ld, "duplicate section %s (first at line %d)", where, *first);
    else
        *first = ld->lineno;
    ld->sec = kind;
    snprintf(ld->where, sizeof ld->where, "%s", where);
}

/* Appends a zeroed destination; returns its index, or -1 on ENOMEM. */
static long add_dest(loader *ld, const char *name)
{
    bw_config *cfg = ld->cfg;
    if (cfg->n_dests == ld->cap_dests) {
        size_t cap = ld->cap_dests ? ld->cap_dests * 2 : 16;
        bw_dest *d = realloc(cfg->dests, cap * sizeof *d);
        if (d)
            cfg->dests = d;
        int *l = realloc(ld->dest_lines, cap * (size_t)ld->nkeys * sizeof *l);
        if (l)
            ld->dest_lines = l;
        if (!d || !l)
            return -1;
        ld->cap_dests = cap;
    }
    size_t i = cfg->n_dests++;
    memset(&cfg->dests[i], 0, sizeof cfg->dests[i]);
    snprintf(cfg->dests[i].name, BW_MAX_NAME, "%s", name);
    cfg->dests[i].line = ld->lineno;
    memset(ld->dest_lines + i * (size_t)ld->nkeys, 0, (size_t)ld->nkeys * sizeof(int));
    return (long)i;
}

/* Reports a bad NAME; returns whether it may be registered as unique. */
static bool check_dest_name(loader *ld, const char *name)
{
    size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789_.-");
    if (name[n]) {
        ERR(ld, "bad destination name '%s': expected letters, digits, '_', '.' "
            "or '-'", name);
        return false;
    }
    if (n >= BW_MAX_NAME) {
        ERR(ld, "destination name '%s' is too long (at most %d characters)",
            name, BW_MAX_NAME - 1);
        return false;
    }
    return true;
}

/* Enters [destination NAME]; a section with a bad or duplicate name is still
 * parsed, so that the errors in its keys are reported too. */
static void enter_dest(loader *ld, const char *name)
{
    ld->sec = SEC_SKIP;
    if (!*name) {
        ERR(ld, "[destination] needs a name: [destination NAME]");
        return;
    }
    bool unique = check_dest_name(ld, name);
    long i = add_dest(ld, name);
    if (i < 0) {
        ERR(ld, "out of memory");
        return;
    }
    size_t *slot = unique ? name_slot(ld, name) : NULL;
    if (slot && *slot)
        ERR(ld, "duplicate destination name '%s' (first defined at line %d)",
            name, ld->cfg->dests[*slot - 1].line);
    else if (slot && name_insert(ld, (size_t)i) < 0)
        ERR(ld, "out of memory");
    ld->sec = SEC_DEST;
    ld->dest = (size_t)i;
    snprintf(ld->where, sizeof ld->where, "[destination %s]", ld->cfg->dests[i].name);
}

static void unknown_section(loader *ld, const char *text)
{
    static const char *const known[] = {"global", "defaults", "destination"};
    char word[64];
    size_t n = strcspn(text, " \t");
    snprintf(word, sizeof word, "%.*s", (int)n, text);
    size_t best = 0, best_d = (size_t)-1;
    for (size_t i = 0; i < 3; i++) {
        size_t d = bw_edit_distance(word, known[i]);
        if (d < best_d)
            best_d = d, best = i;
    }
    if (best_d <= 2)
        ERR(ld, "unknown section [%s]; did you mean [%s%s]?", text, known[best],
            text + n);
    else
        ERR(ld, "unknown section [%s]; expected [global], [defaults] or "
            "[destination NAME]", text);
    ld->sec = SEC_SKIP;
}

/* Handles the header whose text (between the brackets) is text[0..n). */
static void on_section(loader *ld, const char *text, size_t n)
{
    char sec[256];
    while (n && isspace((unsigned char)*text))
        text++, n--;
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    snprintf(sec, sizeof sec, "%.*s", (int)n, text);
    ld->any_section = true;
    ld->cont_key = -1;
    if (!strcmp(sec, "global"))
        enter_single(ld, SEC_GLOBAL, &ld->global_line, "[global]");
    else if (!strcmp(sec, "defaults"))
        enter_single(ld, SEC_DEFAULTS, &ld->defaults_line, "[defaults]");
    else if (!strncmp(sec, "destination", 11) && (!sec[11] || isspace((unsigned char)sec[11])))
        enter_dest(ld, sec + 11 + strspn(sec + 11, " \t"));
    else
        unknown_section(ld, sec);
}

/* ---- keys ---- */

static void value_warning(void *arg, const char *msg)
{
    loader *ld = arg;
    emit(ld, ld->lineno, BW_DIAG_WARNING, "%s", msg);
}

/* Sets key k from value in the current section; returns 0, or -1 after
 * reporting the error. */
static int apply(loader *ld, int k, const char *value, bool append)
{
    bw_valctx c = {.warn = value_warning, .warn_arg = ld};
    void *obj = ld->cfg;
    enum bw_key_scope scope = bw_config_key_scope(k);
    if (scope == BW_KEY_POLICY && ld->sec == SEC_DEFAULTS)
        obj = &ld->cfg->defaults;
    else if (scope == BW_KEY_POLICY)
        obj = &ld->cfg->dests[ld->dest].policy;
    else if (scope == BW_KEY_TARGET)
        obj = &ld->cfg->dests[ld->dest];
    if (bw_config_key_set(k, &c, value, append, obj) == 0)
        return 0;
    ERR(ld, "%s", c.msg);
    return -1;
}

/* Reports key k set in a section where it does not belong; true if it may. */
static bool key_allowed(loader *ld, int k, const char *name)
{
    enum bw_key_scope scope = bw_config_key_scope(k);
    if (scope == BW_KEY_GLOBAL && ld->sec != SEC_GLOBAL)
        ERR(ld, "'%s' belongs in [global], not %s", name, ld->where);
    else if (scope != BW_KEY_GLOBAL && ld->sec == SEC_GLOBAL)
        ERR(ld, "'%s' belongs in [defaults] or a [destination] section, not "
            "[global]", name);
    else if (scope == BW_KEY_TARGET && ld->sec == SEC_DEFAULTS)
        ERR(ld, "'%s' is not allowed in [defaults]: it belongs in a "
            "[destination] section", name);
    else
        return true;
    return false;
}

static void on_key(loader *ld, const char *name, const char *value)
{
    ld->cont_key = -1;
    if (ld->sec == SEC_SKIP)
        return;
    if (!*name) {
        ERR(ld, "missing key name before '='");
        return;
    }
    if (ld->sec == SEC_NONE) {
        ERR(ld, "key '%s' before any section", name);
        return;
    }
    int k = bw_config_key_index(name);
    if (k < 0) {
        ERR(ld, "unknown key '%s' in %s; did you mean '%s'?", name, ld->where,
            bw_config_key_name(bw_config_key_closest(name)));
        return;
    }
    if (!key_allowed(ld, k, name))
        return;
    int *lines = section_lines(ld);
    if (lines[k]) {
        ERR(ld, "duplicate key '%s' in %s (first set at line %d)", name,
            ld->where, abs(lines[k]));
        return;
    }
    ld->cont_key = k;
    /* a bad value is marked by a negative line: it is neither inherited
     * nor checked against other keys, so one mistake gives one message */
    lines[k] = apply(ld, k, value, false) == 0 ? ld->lineno : -ld->lineno;
}

/* Returns the key an indented "key = value" line names, or -1: inih reads
 * such a line as a continuation, which would give a baffling message. */
static int indented_key(const char *value)
{
    char name[64];
    size_t n = strcspn(value, "=:");
    while (n && isspace((unsigned char)value[n - 1]))
        n--;
    if (!value[strcspn(value, "=:")] || n >= sizeof name)
        return -1;
    memcpy(name, value, n);
    name[n] = '\0';
    return bw_config_key_index(name);
}

/* An indented line after "key = value": more items for a list key. */
static void on_continuation(loader *ld, const char *value)
{
    char v[512];
    int k = ld->cont_key, named = indented_key(value);
    if (k < 0)
        return;
    if (named >= 0) {
        ERR(ld, "'%s' is indented, so it continues the value of '%s': remove "
            "the indentation", bw_config_key_name(named), bw_config_key_name(k));
        return;
    }
    if (!bw_config_key_is_list(k)) {
        ERR(ld, "'%s' continues on an indented line, but only a list value "
            "may span lines", bw_config_key_name(k));
        return;
    }
    /* inih strips inline comments on key lines but not on continuations */
    size_t n = (size_t)(bw_ini_find_chars_or_comment(value, NULL) - value);
    while (n && isspace((unsigned char)value[n - 1]))
        n--;
    snprintf(v, sizeof v, "%.*s", (int)n, value);
    apply(ld, k, v, true);
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    loader *ld = user;
    (void)section;   /* ours, from the reader: inih truncates long ones */
    if (ld->kind == BW_INI_KEY)
        on_key(ld, name, value);
    else if (ld->kind == BW_INI_CONT)
        on_continuation(ld, value);
    return 1;
}

/* ---- the reader ---- */

/* Classifies a line the way inih will, acting on headers and bad lines. */
static void classify(loader *ld, const char *line)
{
    bw_ini_line l;
    bw_ini_classify(&ld->lexer, line, ld->lineno, &l);
    ld->kind = l.kind;
    if (l.kind == BW_INI_SECTION)
        on_section(ld, l.name, l.name_len);
    else if (l.kind == BW_INI_BAD && l.text[0] == '[')
        ERR(ld, "bad section header '%.*s': missing ']'", (int)l.text_len, l.text);
    else if (l.kind == BW_INI_BAD)
        ERR(ld, "cannot parse '%.*s': expected '[section]' or 'key = value'", (int)l.text_len,
            l.text);
}

/* A line too long for inih's buffer: reported, and its section or key
 * ignored, rather than letting inih parse it in two pieces. */
static void too_long(loader *ld, const char *p, size_t n, size_t max)
{
    size_t i = 0;
    ERR(ld, "line too long (more than %zu characters)", max);
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    ld->cont_key = -1;
    ld->kind = BW_INI_BLANK;
    if (i < n && p[i] == '[') {
        ld->any_section = true;
        ld->sec = SEC_SKIP;
    }
}

/* fgets-like reader over the file in memory, one whole line per call. */
static char *reader(char *str, int num, void *stream)
{
    loader *ld = stream;
    if (ld->pos >= ld->len || num < 3)
        return NULL;
    const char *p = ld->buf + ld->pos;
    const char *nl = memchr(p, '\n', ld->len - ld->pos);
    size_t n = nl ? (size_t)(nl - p) : ld->len - ld->pos;
    ld->pos += n + (nl != NULL);
    ld->lineno++;
    if (n && p[n - 1] == '\r')
        n--;
    size_t max = (size_t)num - 2;   /* room for '\n' and NUL */
    if (n > max) {
        too_long(ld, p, n, max);
        strcpy(str, "\n");
        return str;
    }
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    classify(ld, str);
    return str;
}

/* ---- after the last line ---- */

static void rule_report(void *arg, int line, enum bw_diag_severity sev, const char *msg)
{
    emit(arg, line, sev, "%s", msg);
}

/* Merges [defaults] into each destination and checks what must hold. */
static void finish_dests(loader *ld)
{
    bw_config *cfg = ld->cfg;
    int host = bw_config_key_index("host");
    for (size_t i = 0; i < cfg->n_dests; i++) {
        bw_dest *d = &cfg->dests[i];
        int *own = ld->dest_lines + i * (size_t)ld->nkeys;
        char where[BW_MAX_NAME + 16];
        snprintf(where, sizeof where, "[destination %s]", d->name);
        if (!own[host])
            emit(ld, d->line, BW_DIAG_ERROR, "%s has no 'host'", where);
        bw_policy p;
        memcpy(&p, &cfg->defaults, sizeof p);   /* padding too, for memcmp */
        for (int k = 0; k < ld->nkeys; k++)
            if (own[k] > 0)
                bw_config_key_copy(k, &p, &d->policy);
        memcpy(&d->policy, &p, sizeof p);
        bw_config_check_rules(&d->policy, own, ld->defaults_lines, where,
                              rule_report, ld);
    }
}

static void finish(loader *ld)
{
    if (!ld->any_section && !ld->errors)
        emit(ld, 0, BW_DIAG_WARNING, "no sections; built-in defaults apply");
    bw_config_check_rules(&ld->cfg->defaults, ld->defaults_lines, ld->zero_lines,
                          "[defaults]", rule_report, ld);
    finish_dests(ld);
    if (ld->errors)
        return;
    bw_match_free(ld->cfg->match);
    ld->cfg->match = bw_match_build(ld->cfg->dests, ld->cfg->n_dests);
    if (!ld->cfg->match)
        emit(ld, 0, BW_DIAG_ERROR, "out of memory");
}

/* ---- entry ---- */

/* File-level checks. Returns -1 when the content must not be parsed. */
static int check_file(loader *ld, const struct stat *st, const char *buf, size_t len)
{
    if (S_ISDIR(st->st_mode)) {
        emit(ld, 0, BW_DIAG_ERROR, "is a directory");
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        emit(ld, 0, BW_DIAG_ERROR, "not a regular file");
        return -1;
    }
    if (st->st_size > BW_CONFIG_MAX_FILE || len > (size_t)BW_CONFIG_MAX_FILE) {
        emit(ld, 0, BW_DIAG_ERROR, "larger than %ld MiB", BW_CONFIG_MAX_FILE >> 20);
        return -1;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        emit(ld, 0, BW_DIAG_ERROR, "refusing a config file writable by group "
             "or others (mode %04o)", (unsigned)(st->st_mode & 07777));
    if (memchr(buf, '\0', len)) {
        emit(ld, 0, BW_DIAG_ERROR, "not a text file");
        return -1;
    }
    return 0;
}

static int setup(loader *ld)
{
    size_t nk = (size_t)ld->nkeys;
    ld->cfg = bw_config_builtin();
    ld->global_lines = calloc(nk, sizeof(int));
    ld->defaults_lines = calloc(nk, sizeof(int));
    ld->zero_lines = calloc(nk, sizeof(int));
    ld->names.slot = calloc(16, sizeof(size_t));
    ld->names.mask = 15;
    ld->cont_key = -1;
    if (ld->cfg && ld->global_lines && ld->defaults_lines && ld->zero_lines &&
        ld->names.slot)
        return 0;
    emit(ld, 0, BW_DIAG_ERROR, "out of memory");
    return -1;
}

static void teardown(loader *ld)
{
    free(ld->global_lines);
    free(ld->defaults_lines);
    free(ld->zero_lines);
    free(ld->dest_lines);
    free(ld->names.slot);
}

int bw_config_parse(const char *file, const char *abspath, const char *buf,
                    size_t len, const struct stat *st, bw_config **out,
                    bw_diag_fn diag, void *ctx)
{
    loader ld = {.file = file, .diag = diag, .ctx = ctx, .buf = buf, .len = len,
                 .nkeys = bw_config_nkeys()};
    *out = NULL;
    if (check_file(&ld, st, buf, len) == 0 && setup(&ld) == 0) {
        ini_parse_stream(reader, &ld, handler, &ld);
        finish(&ld);
    }
    teardown(&ld);
    if (ld.errors) {
        bw_config_free(ld.cfg);
        return -1;
    }
    bw_config *cfg = ld.cfg;
    snprintf(cfg->path, sizeof cfg->path, "%s", abspath);
    cfg->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    cfg->ino = st->st_ino;
    cfg->dev = st->st_dev;
    *out = cfg;
    return 0;
}
