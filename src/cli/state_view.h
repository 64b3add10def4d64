/*
 * state_view.h - what `status`, `metrics`, `reset` and `force` share: the
 * shared state of a config, opened without creating it, and a snapshot of
 * its entries grouped by destination (sorted by name, then by address).
 *
 * The state file may be hostile (it is validated by bw_state_attach, but an
 * entry's contents are whatever the file holds): names are copied with a
 * bound, kinds and families are checked, duplicates are dropped, and entry
 * locks are taken with a time limit, so no file can crash or hang the tool.
 */
#ifndef BW_CLI_STATE_VIEW_H
#define BW_CLI_STATE_VIEW_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bw_breaker.h"
#include "bw_config.h"
#include "bw_histogram.h"
#include "bw_state.h"

/* One breaker as status shows it, read at one instant. */
typedef struct bw_view_brk {
    enum bw_breaker_state state;
    double failure_rate;
    uint32_t window_calls;
    uint64_t transitions[BW_BRK_NSTATES];
} bw_view_brk;

typedef struct bw_view_addr {
    bw_entry *e;                  /* the live entry, for reset and force */
    char text[64];                /* "127.0.0.1:8080", "[::1]:8080" */
    uint8_t family, addr[16];
    uint16_t port;
    uint64_t cnt[BW_CNT_N];
    bw_view_brk brk;              /* its own breaker (breaker_scope = address) */
    uint32_t active;              /* its own bulkhead (bulkhead_scope = address) */
} bw_view_addr;

typedef struct bw_view_dest {
    char name[BW_MAX_NAME];       /* NUL-terminated copy */
    const bw_policy *policy;      /* its section's, or [defaults] */
    bw_entry *e;                  /* destination entry; NULL if the file has none */
    bw_view_brk brk;              /* the destination-scope breaker */
    uint32_t active;              /* the destination-scope bulkhead */
    uint64_t connect_time[BW_HIST_BOUNDS + 1];   /* cumulative (bw_hist_read) */
    uint64_t connect_time_sum_us;
    bw_view_addr *addrs;
    size_t n_addrs, cap;
} bw_view_dest;

typedef struct bw_view {
    bw_config *cfg;
    char state_path[PATH_MAX];
    bw_state st;
    bool mapped;
    bw_view_dest *dests;
    size_t n_dests;
} bw_view;

/* Results of bw_view_open besides the exit statuses 0 and 1. */
#define BW_VIEW_PROCESS 3         /* state = process: nothing shared */

/*
 * Loads the config (FILE given with -c, else as the library would find it;
 * the built-in config when there is none) and maps its shared state file
 * without creating it. Returns 0; 1 after printing one line on stderr saying
 * why not; or BW_VIEW_PROCESS (nothing printed) when the config says
 * state = process. v must be released with bw_view_close in every case.
 */
int bw_view_open(const char *given, bw_view *v);

/*
 * Takes the snapshot into v->dests: reclaims the bulkhead slots of dead
 * processes, then reads counters, breakers and bulkheads. Returns 0, or 1
 * after printing why (out of memory).
 */
int bw_view_build(bw_view *v);

/* Drops the snapshot and takes a new one (bw_view_build). */
int bw_view_rebuild(bw_view *v);

void bw_view_close(bw_view *v);

/* Closes v at the end of command cmd whose result so far is rc, and flushes
 * stdout: returns rc, or 1 (after saying so) when the output could not be
 * written. */
int bw_view_finish(bw_view *v, const char *cmd, int rc);

/* The config as users name it: its absolute path, or "the built-in config". */
const char *bw_view_config_name(const bw_view *v);

/* The breaker an address is judged by, per breaker_scope. */
const bw_view_brk *bw_view_breaker_of(const bw_view_dest *d, const bw_view_addr *a);

/* The live entry holding that breaker; NULL when the file has none. */
bw_entry *bw_view_breaker_entry(const bw_view_dest *d, const bw_view_addr *a);

/* Connections active at the destination, per bulkhead_scope. */
uint32_t bw_view_active(const bw_view_dest *d);

/* Sum of counter c over the destination's addresses. */
uint64_t bw_view_sum(const bw_view_dest *d, enum bw_counter c);

/*
 * Locks a live entry like bw_entry_lock (recovering a dead holder's lock),
 * but gives up after a short while: a hostile file's lock word must not
 * hang the tool. 0 or -1.
 */
int bw_view_lock(bw_entry *e);

/* CLOCK_MONOTONIC in milliseconds, the shim's clock. */
int64_t bw_view_now_ms(void);

/* A random value for breaker jitter. */
uint32_t bw_view_rand(void);

/*
 * Writes s to out with every byte outside printable ASCII as \xHH, so a
 * name from a hostile file cannot inject control characters.
 */
void bw_view_put_safe(FILE *out, const char *s);

/* A JSON string. Bytes outside printable ASCII are escaped as \u00XX (read
 * as Latin-1): a hostile file's name then still makes valid JSON. */
void bw_view_json_str(FILE *out, const char *s);

/* CLOCK_REALTIME in milliseconds, the events' clock. */
int64_t bw_view_wall_ms(void);

/* Adds an operator's breaker transition on entry e to the events. */
void bw_view_note_transition(bw_view *v, const bw_entry *e, const bw_breaker_transition *t);

/*
 * Takes option name (with its value when has_value) out of argv (before
 * any "--"), for the options of one command that bw_view_args does not
 * know. Returns the value (has_value) or the option itself, or NULL when
 * absent; *argc and argv (NULL-terminated) lose what was taken.
 */
const char *bw_view_take_option(int *argc, char **argv, const char *name, bool has_value);

/*
 * Parses the options of the state commands: -c FILE, and --json when json
 * is not NULL; up to max positional arguments go to pos. Returns 0, or 2
 * after printing the usage line.
 */
int bw_view_args(int argc, char **argv, const char *usage, const char **config, bool *json,
                 const char **pos, int max, int *npos);

/*
 * Calls fn once for each breaker that DEST (a destination name or
 * ADDRESS:PORT; NULL = all) designates, per breaker_scope: for scope
 * address, each (matching) address's own, with a its address; for scope
 * destination, the destination's, with a NULL (e is then NULL when the file
 * has no destination entry). Returns how many destinations and addresses
 * DEST matched (0: it names nothing in the state).
 */
typedef void (*bw_view_target_fn)(bw_view_dest *d, bw_view_addr *a, bw_entry *e, void *ctx);
size_t bw_view_each_target(bw_view *v, const char *dest, bw_view_target_fn fn, void *ctx);

/*
 * bw_view_open and bw_view_build for a command that changes the state (cmd
 * names it in messages): state = process is a failure there, there being
 * nothing shared to change. Returns 0 or 1 (one line printed).
 */
int bw_view_open_to_change(const char *given, bw_view *v, const char *cmd);

/* Text of the breaker a target names: its address, or "*" for the destination. */
const char *bw_view_target_addr(const bw_view_addr *a);

#endif
