/* state_view.c - the shared state of a config, opened and read for the
 * state commands (see state_view.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "bw_proc.h"
#include "bw_sys.h"
#include "state_files.h"
#include "state_view.h"

#define LOCK_WAIT_MS 300

int64_t bw_view_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t bw_view_rand(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)getpid() ^ (uint32_t)bw_view_now_ms();
    return r;
}

/* Set once a lock could not be had in time: a file whose lock words are
 * stuck would otherwise cost the wait once per entry. */
static bool locks_stuck;

int bw_view_lock(bw_entry *e)
{
    if (locks_stuck)
        return -1;
    /* One lock that stays held means a stuck or hostile file: read the rest
     * without locking (the core bounds-checks what it reads). */
    if (bw_entry_lock_for(e, LOCK_WAIT_MS) != 0) {
        locks_stuck = true;
        return -1;
    }
    return 0;
}

void bw_view_put_safe(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            fputc(*p, out);
        else
            fprintf(out, "\\x%02x", *p);
    }
}

void bw_view_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

int64_t bw_view_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bw_view_note_transition(bw_view *v, const bw_entry *e, const bw_breaker_transition *t)
{
    bw_event_where w;
    bw_entry_where(e, &w);
    bw_event_add_breaker(&v->st.hdr->events, &w, t, bw_view_wall_ms(), (int32_t)getpid());
}

const char *bw_view_take_option(int *argc, char **argv, const char *name, bool has_value)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], name) != 0 || (has_value && i + 1 >= *argc))
            continue;
        const char *found = has_value ? argv[i + 1] : argv[i];
        int drop = has_value ? 2 : 1;
        memmove(&argv[i], &argv[i + drop], (size_t)(*argc - i - drop + 1) * sizeof *argv);
        *argc -= drop;
        return found;
    }
    return NULL;
}

int bw_view_args(int argc, char **argv, const char *usage, const char **config, bool *json,
                 const char **pos, int max, int *npos)
{
    *config = NULL;
    *npos = 0;
    bool opts = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && strcmp(a, "-c") == 0 && i + 1 < argc) {
            *config = argv[++i];
        } else if (opts && json && strcmp(a, "--json") == 0) {
            *json = true;
        } else if (opts && a[0] == '-' && a[1]) {
            bw_cli_error("%s: unknown option '%s'\nusage: %s", argv[0], a, usage);
            return 2;
        } else if (*npos < max) {
            pos[(*npos)++] = a;
        } else {
            bw_cli_error("%s: unexpected argument '%s'\nusage: %s", argv[0], a, usage);
            return 2;
        }
    }
    return 0;
}

const char *bw_view_config_name(const bw_view *v)
{
    return v->cfg && v->cfg->path[0] ? v->cfg->path : "the built-in config";
}

/* "; files of other layout versions: ..." into buf when there are any
 * (a rolling upgrade: every program still runs an older build). */
static void describe_others(const bw_config *cfg, char *buf, size_t len)
{
    bw_state_file files[8];
    size_t n = bw_state_files_find(cfg, files, 8);
    FILE *f = fmemopen(buf, len, "w");
    if (!f)
        return;
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "; " : "; files of other layout versions: ", f);
        bw_state_file_describe(f, &files[i]);
    }
    if (fclose(f) != 0)
        buf[0] = '\0';   /* too long for one line: leave it out */
}

int bw_view_open(const char *given, bw_view *v)
{
    memset(v, 0, sizeof *v);
    const char *path = bw_cli_config_path(given);
    if (!path) {
        v->cfg = bw_config_builtin();
    } else {
        bw_diag_first f = {.label = "error: "};
        if (bw_config_load(path, &v->cfg, bw_diag_keep_first, &f) != 0) {
            if (f.errors > 1)
                bw_cli_error("invalid config: %s (and %d more; see 'breakwater check %s')",
                             f.text, f.errors - 1, path);
            else
                bw_cli_error("invalid config: %s", f.errors ? f.text : path);
            return 1;
        }
    }
    if (!v->cfg) {
        bw_cli_error("out of memory");
        return 1;
    }
    if (v->cfg->state == BW_STATE_PROCESS)
        return BW_VIEW_PROCESS;
    bw_state_path(v->cfg, v->state_path, sizeof v->state_path);
    if (access(v->state_path, F_OK) != 0 && errno == ENOENT) {
        char others[2048] = "";
        describe_others(v->cfg, others, sizeof others);
        bw_cli_error("no shared state for %s yet (no program %shas run with it): "
                     "%s does not exist%s", bw_view_config_name(v),
                     others[0] ? "of this build " : "", v->state_path, others);
        return 1;
    }
    char why[PATH_MAX + 160];
    if (bw_state_map_file(v->state_path, v->cfg->path, false, &v->st, why, sizeof why) != 0) {
        bw_cli_error("shared state of %s unusable: %s", bw_view_config_name(v), why);
        return 1;
    }
    v->mapped = true;
    return 0;
}

/* Frees the snapshot in v->dests. */
static void drop_snapshot(bw_view *v)
{
    for (size_t i = 0; i < v->n_dests; i++)
        free(v->dests[i].addrs);
    free(v->dests);
    v->dests = NULL;
    v->n_dests = 0;
}

int bw_view_rebuild(bw_view *v)
{
    drop_snapshot(v);
    return bw_view_build(v);
}

void bw_view_close(bw_view *v)
{
    drop_snapshot(v);
    if (v->mapped)
        munmap(v->st.hdr, v->st.size);
    bw_config_free(v->cfg);
    memset(v, 0, sizeof *v);
}

int bw_view_finish(bw_view *v, const char *cmd, int rc)
{
    bw_view_close(v);
    if (fflush(stdout) != 0 && rc == 0) {
        bw_cli_error("%s: cannot write the output", cmd);
        rc = 1;
    }
    return rc;
}



static const bw_policy *policy_of(const bw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_dests; i++)
        if (strcmp(cfg->dests[i].name, name) == 0)
            return &cfg->dests[i].policy;
    return &cfg->defaults;
}

/*
 * Reads one entry's breaker and bulkhead under its lock (without, when the
 * lock cannot be had: the core functions are bounds-checked, so a torn read
 * gives odd numbers, never a crash). Dead owners' slots are taken back
 * first, so status shows what is really held.
 */
static void read_entry(bw_entry *e, const bw_policy *p, int64_t now, bw_view_brk *brk,
                       uint32_t *active)
{
    bool locked = bw_view_lock(e) == 0;
    uint32_t freed = locked ? bw_bulkhead_reclaim(&e->bulkhead, bw_proc_alive, NULL) : 0;
    brk->state = bw_breaker_state(&e->breaker, p);
    brk->failure_rate = bw_breaker_failure_rate(&e->breaker, now);
    brk->window_calls = bw_breaker_window_calls(&e->breaker, now);
    for (int s = 0; s < BW_BRK_NSTATES; s++)
        brk->transitions[s] = bw_breaker_transitions(&e->breaker, (enum bw_breaker_state)s);
    *active = bw_bulkhead_active(&e->bulkhead);
    if (locked)
        bw_entry_unlock(e);
    if (freed)   /* a waiter in some process may now have its slot */
        bw_sys_futex_wake_all(&e->bulkhead.seq);
}

static bw_view_dest *dest_for(bw_view *v, const char *name, size_t *cap)
{
    for (size_t i = 0; i < v->n_dests; i++)
        if (strcmp(v->dests[i].name, name) == 0)
            return &v->dests[i];
    if (v->n_dests == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        bw_view_dest *d = realloc(v->dests, n * sizeof *d);
        if (!d)
            return NULL;
        v->dests = d;
        *cap = n;
    }
    bw_view_dest *d = &v->dests[v->n_dests++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->policy = policy_of(v->cfg, d->name);
    return d;
}

static bool same_addr(const bw_view_addr *a, const bw_entry *e)
{
    return a->family == e->family && a->port == e->port && memcmp(a->addr, e->addr, 16) == 0;
}

/* Adds address entry e to d, unless d already has that address (a hostile
 * file may repeat keys: one series each). Returns 0 or -1 (ENOMEM). */
static int add_addr(bw_view_dest *d, bw_entry *e, int64_t now)
{
    for (size_t i = 0; i < d->n_addrs; i++)
        if (same_addr(&d->addrs[i], e))
            return 0;
    if (d->n_addrs == d->cap) {
        size_t n = d->cap ? d->cap * 2 : 4;
        bw_view_addr *a = realloc(d->addrs, n * sizeof *a);
        if (!a)
            return -1;
        d->addrs = a;
        d->cap = n;
    }
    bw_view_addr *a = &d->addrs[d->n_addrs++];
    memset(a, 0, sizeof *a);
    a->e = e;
    a->family = e->family;
    memcpy(a->addr, e->addr, 16);
    a->port = e->port;
    bw_entry_format_addr(e, a->text, sizeof a->text);
    for (int c = 0; c < BW_CNT_N; c++)
        a->cnt[c] = bw_counter_get(e, (enum bw_counter)c);
    read_entry(e, d->policy, now, &a->brk, &a->active);
    return 0;
}

static int cmp_dest(const void *x, const void *y)
{
    return strcmp(((const bw_view_dest *)x)->name, ((const bw_view_dest *)y)->name);
}

static int cmp_addr(const void *x, const void *y)
{
    const bw_view_addr *a = x, *b = y;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    return (a->port > b->port) - (a->port < b->port);
}

int bw_view_build(bw_view *v)
{
    size_t cap = 0;
    int64_t now = bw_view_now_ms();
    for (size_t i = 0; i < v->st.n_entries; i++) {
        bw_entry *e = &v->st.entries[i];
        if (__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) != 2)
            continue;
        uint32_t kind = e->kind;
        if (kind != BW_ENTRY_ADDRESS && kind != BW_ENTRY_DESTINATION)
            continue;
        if (kind == BW_ENTRY_ADDRESS && e->family != AF_INET && e->family != AF_INET6)
            continue;
        char name[BW_MAX_NAME];
        memcpy(name, e->dest, sizeof name);
        name[sizeof name - 1] = '\0';    /* the file's copy may lack its NUL */
        bw_view_dest *d = dest_for(v, name, &cap);
        if (!d)
            goto oom;
        if (kind == BW_ENTRY_DESTINATION) {
            if (!d->e) {
                d->e = e;
                read_entry(e, d->policy, now, &d->brk, &d->active);
                bw_hist_read(&e->connect_time, d->connect_time, &d->connect_time_sum_us);
            }
        } else if (add_addr(d, e, now) != 0) {
            goto oom;
        }
    }
    qsort(v->dests, v->n_dests, sizeof *v->dests, cmp_dest);
    for (size_t i = 0; i < v->n_dests; i++)
        qsort(v->dests[i].addrs, v->dests[i].n_addrs, sizeof *v->dests[i].addrs, cmp_addr);
    return 0;
oom:
    bw_cli_error("out of memory reading %s", v->state_path);
    return 1;
}

const bw_view_brk *bw_view_breaker_of(const bw_view_dest *d, const bw_view_addr *a)
{
    /* No destination entry (a hostile or half-made file): a fresh breaker. */
    static const bw_view_brk fresh = {.state = BW_BRK_CLOSED};
    static const bw_view_brk fresh_off = {.state = BW_BRK_DISABLED};
    if (d->policy->breaker_scope == BW_SCOPE_DESTINATION) {
        if (!d->e)
            return d->policy->breaker == BW_BREAKER_OFF ? &fresh_off : &fresh;
        return &d->brk;
    }
    return &a->brk;
}

bw_entry *bw_view_breaker_entry(const bw_view_dest *d, const bw_view_addr *a)
{
    return d->policy->breaker_scope == BW_SCOPE_DESTINATION ? d->e : a->e;
}

uint32_t bw_view_active(const bw_view_dest *d)
{
    if (d->policy->bulkhead_scope == BW_SCOPE_DESTINATION)
        return d->e ? d->active : 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < d->n_addrs; i++)
        sum += d->addrs[i].active;
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

uint64_t bw_view_sum(const bw_view_dest *d, enum bw_counter c)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < d->n_addrs; i++)
        sum += d->addrs[i].cnt[c];
    return sum;
}
