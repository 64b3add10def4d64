/*
 * breaker.c - the circuit breaker state machine: admission, recording of
 * outcomes, operator override and reset. The rules are in bw_breaker.h.
 *
 * Every entry point first makes the struct safe to use (bounds, window
 * shape), then makes at most one visible state change, so each call reports
 * at most one transition.
 */
#include <string.h>
#include "bw_breaker.h"

_Static_assert(sizeof(bw_breaker) < 1024, "bw_breaker must stay under 1 KiB");

/* Probe tokens: low bits are slot + 1 (0 = no probe), high bits the generation. */
#define TOKEN_SLOT_BITS 5
#define TOKEN_SLOT_MASK ((1u << TOKEN_SLOT_BITS) - 1)

static uint32_t sat_inc(uint32_t v)
{
    return v == UINT32_MAX ? v : v + 1;
}

/* Fields bw_breaker_success_quiet reads without the lock are written with
 * atomic stores (plain moves on the usual targets), as state and force. */
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* The run of failures in a row ends (a success, a move to open or closed, a
 * reset); run_breaks tells a later replacement that it did, and run_held
 * whether the run it ended held failures (bw_breaker_success_quiet). */
static void break_run(bw_breaker *b)
{
    STORE(b->run_held, (uint8_t)(b->consecutive != 0));
    STORE(b->consecutive, 0);
    STORE(b->run_breaks, (uint8_t)(b->run_breaks + 1));
}

/*
 * The writers' half of the sequence number (bw_breaker_success_quiet is the
 * reader): every public function that may change b calls begin_write
 * before its first change and end_write after its last, under the caller's
 * lock. Odd means a change is under way; a writer that died inside (a
 * robust lock's previous holder) left it odd, and the next one keeps it
 * odd until it is done. The release fence orders the odd number before the
 * changes, the release store the changes before the even number (Boehm's
 * seqlock in C11 terms; the changes are atomic stores where a reader looks).
 */
static uint32_t begin_write(bw_breaker *b)
{
    uint32_t seq = LOAD(b->seq) | 1;
    STORE(b->seq, seq);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return seq;
}

static void end_write(bw_breaker *b, uint32_t seq)
{
    __atomic_store_n(&b->seq, seq + 1, __ATOMIC_RELEASE);
}

static uint32_t clamp_ms(int64_t v)
{
    return v <= 0 ? 0 : v >= UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* a - b without overflow: times may come from a corrupt shared file. */
static int64_t diff_ms(int64_t a, int64_t b)
{
    int64_t d;
    if (!__builtin_sub_overflow(a, b, &d))
        return d;
    return a < b ? INT64_MIN : INT64_MAX;
}

/* Probe slots in use by the policy: 1..BW_BRK_MAX_PROBES. */
static unsigned probe_limit(const bw_policy *p)
{
    unsigned n = p->breaker_half_open_probes;
    return n < 1 ? 1 : n > BW_BRK_MAX_PROBES ? BW_BRK_MAX_PROBES : n;
}

/* The fields bw_breaker_state_peek, bw_breaker_rejects_until and
 * bw_breaker_admits_now read without the lock: every write of them is an
 * atomic store (under the caller's lock, as every write). */
static void set_state(bw_breaker *b, enum bw_breaker_state s)
{
    __atomic_store_n(&b->state, (uint8_t)s, __ATOMIC_RELAXED);
}

static void set_force(bw_breaker *b, enum bw_breaker_force f)
{
    __atomic_store_n(&b->force, (uint8_t)f, __ATOMIC_RELAXED);
}

/* The end of an opening, read without the lock by bw_breaker_rejects_until. */
static void set_open_until(bw_breaker *b, int64_t ms)
{
    __atomic_store_n(&b->open_until_ms, ms, __ATOMIC_RELAXED);
}

/* Brings fields that a corrupt file may have spoiled back into their domain. */
static void prepare(bw_breaker *b, const bw_policy *p)
{
    if (b->state > BW_BRK_HALF_OPEN)
        set_state(b, BW_BRK_CLOSED);
    if (b->force > BW_FORCE_CLOSED)
        set_force(b, BW_FORCE_AUTO);
    bw_breaker_window_sync(&b->window, p);
}

void bw_breaker_init(bw_breaker *b)
{
    memset(b, 0, sizeof *b);
}

/* The visible state of a breaker whose override is force and automatic
 * state is state (either may be garbage from a corrupt file). */
static enum bw_breaker_state visible(const bw_policy *p, uint8_t force, uint8_t state)
{
    if (p->breaker == BW_BREAKER_OFF)
        return BW_BRK_DISABLED;
    if (force == BW_FORCE_OPEN)
        return BW_BRK_FORCED_OPEN;
    if (force == BW_FORCE_CLOSED)
        return BW_BRK_FORCED_CLOSED;
    return state <= BW_BRK_HALF_OPEN ? (enum bw_breaker_state)state : BW_BRK_CLOSED;
}

enum bw_breaker_state bw_breaker_state(const bw_breaker *b, const bw_policy *p)
{
    return visible(p, b->force, b->state);
}

enum bw_breaker_state bw_breaker_state_peek(const bw_breaker *b, const bw_policy *p)
{
    return visible(p, __atomic_load_n(&b->force, __ATOMIC_RELAXED),
                   __atomic_load_n(&b->state, __ATOMIC_RELAXED));
}

int64_t bw_breaker_rejects_until(const bw_breaker *b, const bw_policy *p)
{
    if (p->breaker != BW_BREAKER_ON)
        return INT64_MIN;
    uint8_t force = __atomic_load_n(&b->force, __ATOMIC_RELAXED);
    if (force != BW_FORCE_AUTO)
        return force == BW_FORCE_OPEN ? INT64_MAX : INT64_MIN;
    /* Whatever raises open_until_ms makes the state open in the same
     * update, and only an open breaker whose time is up moves on (to half
     * open): open now and open until later is a rejection until then. */
    if (__atomic_load_n(&b->state, __ATOMIC_RELAXED) != BW_BRK_OPEN)
        return INT64_MIN;
    return __atomic_load_n(&b->open_until_ms, __ATOMIC_RELAXED);
}

/* Starts *t as a change from -> to and counts the move into to. */
static void begin(bw_breaker *b, bw_breaker_transition *t, enum bw_breaker_state from,
                  enum bw_breaker_state to, enum bw_breaker_reason why)
{
    memset(t, 0, sizeof *t);
    t->from = from;
    t->to = to;
    t->reason = why;
    if ((unsigned)to < BW_BRK_NSTATES)
        b->transitions[to]++;
}

/*
 * Open time of the next opening: breaker_open_ms doubled once per reopening
 * since the last close, capped at breaker_open_max_ms, then +-10% from rnd
 * (rnd = 0 gives -10%, UINT32_MAX +10%, 2^31 exactly the middle).
 */
static uint32_t open_duration(const bw_breaker *b, const bw_policy *p, uint32_t rnd)
{
    uint64_t d = p->breaker_open_ms, max = p->breaker_open_max_ms;

    for (unsigned i = 0; i < b->reopenings && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    uint64_t span = d / 10;
    uint64_t off = ((uint64_t)rnd * (2 * span + 1)) >> 32;
    return clamp_ms((int64_t)(d - span + off));
}

/* Any automatic state -> open, for reason why. */
static void go_open(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                    bw_breaker_transition *t, enum bw_breaker_reason why)
{
    uint32_t d = open_duration(b, p, rnd);

    begin(b, t, (enum bw_breaker_state)b->state, BW_BRK_OPEN, why);
    t->open_ms = d;
    set_state(b, BW_BRK_OPEN);
    set_open_until(b, now_ms + d);
    if (b->reopenings < UINT8_MAX)
        b->reopenings++;
    break_run(b);
    b->probes_issued = b->probes_ok = 0;
}

static void go_half_open(bw_breaker *b, int64_t now_ms, bw_breaker_transition *t)
{
    begin(b, t, BW_BRK_OPEN, BW_BRK_HALF_OPEN, BW_BRK_WHY_OPEN_ELAPSED);
    set_state(b, BW_BRK_HALF_OPEN);
    b->generation++;   /* makes tokens of earlier periods stale */
    b->since_ms = now_ms;
    b->probes_issued = b->probes_ok = 0;
}

/* half_open -> closed: a fresh start, so the window and the doubling go;
 * slow start runs from now_ms. */
static void go_closed(bw_breaker *b, int64_t now_ms, unsigned probes, bw_breaker_transition *t)
{
    begin(b, t, BW_BRK_HALF_OPEN, BW_BRK_CLOSED, BW_BRK_WHY_PROBES_OK);
    b->since_ms = now_ms;
    t->probes_ok = t->probes = probes;
    set_state(b, BW_BRK_CLOSED);
    b->reopenings = 0;
    break_run(b);
    b->probes_issued = b->probes_ok = 0;
    bw_breaker_window_clear(&b->window);
}

/* breaker_min_calls, capped at a count window's size so the rate rule can fire. */
static uint32_t min_calls(const bw_breaker *b, const bw_policy *p)
{
    uint32_t m = p->breaker_min_calls ? p->breaker_min_calls : 1;
    if (b->window.kind == BW_WINDOW_COUNT && m > b->window.size)
        m = b->window.size;
    return m;
}

/* True when bad/calls >= pct percent, computed exactly. */
static bool rate_reached(uint32_t bad, uint32_t calls, uint32_t pct)
{
    return (uint64_t)bad * 100 >= (uint64_t)pct * calls;
}

/* True when neither rate rule can fire on a window without a bad call
 * (thresholds of at least 1 %, as the validator keeps them). */
static bool rates_need_bad(const bw_policy *p)
{
    return p->breaker_failure_rate > 0 && (p->breaker_slow_ms == 0 || p->breaker_slow_rate > 0);
}

/*
 * Judges a closed breaker's window at now_ms and opens it when a rule
 * fires (failure rate first, then slow rate, then the failure run).
 * Returns true when it opened.
 */
static bool trip(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                 bw_breaker_transition *t)
{
    /* A window with no bad call meets no rate of 1 % or more: only the
     * failure run is left to judge (the usual success needs no counting). */
    bool rates_idle = rates_need_bad(p) && bw_breaker_window_all_good(&b->window);
    bw_breaker_counts c = {0, 0, 0};
    if (!rates_idle)
        c = bw_breaker_window_counts(&b->window, now_ms);
    uint32_t cf = p->breaker_consecutive_failures, run = b->consecutive;
    enum bw_breaker_reason why = BW_BRK_WHY_NONE;
    uint32_t bad = 0, threshold = 0;

    if (c.calls > 0 && c.calls >= min_calls(b, p)) {
        if (rate_reached(c.failures, c.calls, p->breaker_failure_rate))
            why = BW_BRK_WHY_FAILURE_RATE, bad = c.failures, threshold = p->breaker_failure_rate;
        else if (p->breaker_slow_ms > 0 && rate_reached(c.slow, c.calls, p->breaker_slow_rate))
            why = BW_BRK_WHY_SLOW_RATE, bad = c.slow, threshold = p->breaker_slow_rate;
    }
    if (why == BW_BRK_WHY_NONE && cf > 0 && run >= cf)
        why = BW_BRK_WHY_CONSECUTIVE, bad = run, threshold = cf;
    if (why == BW_BRK_WHY_NONE)
        return false;
    go_open(b, p, now_ms, rnd, t, why);
    t->failures = bad;
    t->threshold = threshold;
    if (why != BW_BRK_WHY_CONSECUTIVE) {
        t->calls = c.calls;
        t->rate_pct = (uint32_t)((uint64_t)bad * 100 / c.calls);
    }
    return true;
}

/* Reopens a half-open breaker whose oldest unanswered probe has run out of time. */
static bool probe_timeouts(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                           bw_breaker_transition *t)
{
    uint32_t limit = p->breaker_half_open_timeout_ms;
    unsigned waiting = (unsigned)b->probes_issued & ~(unsigned)b->probes_ok;

    if (b->state != BW_BRK_HALF_OPEN || limit == 0)
        return false;
    for (unsigned i = 0; i < BW_BRK_MAX_PROBES; i++) {
        if (!(waiting >> i & 1))
            continue;
        int64_t in_period = diff_ms(now_ms, b->since_ms);
        if (in_period >= (int64_t)limit + b->probe_start[i]) {
            go_open(b, p, now_ms, rnd, t, BW_BRK_WHY_PROBE_TIMEOUT);
            return true;
        }
    }
    return false;
}

/* Lets one more probe through if a slot is free; returns its token or 0. */
static uint32_t take_probe(bw_breaker *b, const bw_policy *p, int64_t now_ms)
{
    for (unsigned i = 0; i < probe_limit(p); i++) {
        if (b->probes_issued >> i & 1)
            continue;
        b->probes_issued |= (uint16_t)(1u << i);
        b->probe_start[i] = clamp_ms(diff_ms(now_ms, b->since_ms));
        return (b->generation << TOKEN_SLOT_BITS) | (i + 1);
    }
    return 0;
}

/* The slot a token names in the current half-open period, or -1. */
static int probe_slot(const bw_breaker *b, uint32_t token)
{
    unsigned slot = token & TOKEN_SLOT_MASK;

    if (b->state != BW_BRK_HALF_OPEN || slot == 0 || slot > BW_BRK_MAX_PROBES)
        return -1;
    if ((token >> TOKEN_SLOT_BITS) != (b->generation & (UINT32_MAX >> TOKEN_SLOT_BITS)))
        return -1;
    slot--;
    if (!(b->probes_issued >> slot & 1) || (b->probes_ok >> slot & 1))
        return -1;
    return (int)slot;
}

/* Automatic admission (no override, breaker on or dry-run). */
/* Slow start: within slow_start_ms of closing, a call is admitted with a
 * chance of 10 % rising linearly to 100 %; rnd draws it (per mille). */
static bool slow_start_rejects(const bw_breaker *b, const bw_policy *p, int64_t now_ms,
                               uint32_t rnd)
{
    if (!p->slow_start_ms || !b->since_ms)
        return false;
    int64_t elapsed = diff_ms(now_ms, b->since_ms);
    if (elapsed < 0 || elapsed >= (int64_t)p->slow_start_ms)
        return false;
    uint32_t permille = 100 + (uint32_t)(900 * elapsed / p->slow_start_ms);
    return rnd % 1000 >= permille;
}

static enum bw_breaker_verdict decide(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                                      uint32_t rnd, bw_breaker_decision *d)
{
    d->changed = probe_timeouts(b, p, now_ms, rnd, &d->transition);
    if (b->state == BW_BRK_OPEN) {
        if (now_ms < b->open_until_ms || d->changed) {
            d->open_left_ms = clamp_ms(diff_ms(b->open_until_ms, now_ms));
            return BW_ADMIT_REJECT;
        }
        go_half_open(b, now_ms, &d->transition);
        d->changed = true;
    }
    if (b->state == BW_BRK_HALF_OPEN) {
        d->probe_token = take_probe(b, p, now_ms);
        return d->probe_token ? BW_ADMIT_PROBE : BW_ADMIT_REJECT;
    }
    if (slow_start_rejects(b, p, now_ms, rnd)) {
        d->slow_start = true;
        return BW_ADMIT_REJECT;
    }
    return BW_ADMIT_ALLOW;
}

bool bw_breaker_admits_now(const bw_breaker *b, const bw_policy *p)
{
    if (p->breaker == BW_BREAKER_OFF)
        return true;
    if (p->slow_start_ms)
        return false;   /* slow start draws: the full admission */
    uint8_t force = __atomic_load_n(&b->force, __ATOMIC_RELAXED);
    uint8_t state = __atomic_load_n(&b->state, __ATOMIC_RELAXED);
    return force == BW_FORCE_CLOSED || (force == BW_FORCE_AUTO && state == BW_BRK_CLOSED);
}

enum bw_breaker_verdict bw_breaker_admit(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                                         uint32_t rnd, bw_breaker_decision *d)
{
    enum bw_breaker_verdict v = BW_ADMIT_ALLOW;

    memset(d, 0, sizeof *d);
    if (p->breaker != BW_BREAKER_OFF) {
        uint32_t seq = begin_write(b);
        prepare(b, p);
        if (b->force == BW_FORCE_OPEN)
            v = BW_ADMIT_REJECT;
        else if (b->force == BW_FORCE_AUTO)
            v = decide(b, p, now_ms, rnd, d);
        end_write(b, seq);
    }
    if (v == BW_ADMIT_REJECT && p->breaker == BW_BREAKER_DRYRUN) {
        v = BW_ADMIT_ALLOW;
        d->would_reject = true;
    }
    d->verdict = v;
    return v;
}

/* A half-open probe's outcome: one failure reopens, the last success closes. */
static bool judge_probe(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                        int slot, bool failed, bw_breaker_transition *t)
{
    if (failed) {
        go_open(b, p, now_ms, rnd, t, BW_BRK_WHY_PROBE_FAILED);
        return true;
    }
    b->probes_ok |= (uint16_t)(1u << slot);
    unsigned ok = (unsigned)__builtin_popcount(b->probes_ok);
    if (ok < probe_limit(p))
        return false;
    go_closed(b, now_ms, ok, t);
    return true;
}

/* bw_breaker_record inside its caller's begin_write and end_write; t is set. */
static bool record(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd, bool failed,
                   uint32_t duration_ms, uint32_t probe_token, bw_breaker_transition *t)
{
    bool slow = p->breaker_slow_ms > 0 && duration_ms >= p->breaker_slow_ms;
    bool changed = false;

    prepare(b, p);
    /* The usual call: a good one, closed, into a count window holding no
     * bad call. It changes nothing but the window's position and the run,
     * and trips nothing (trip would find no rate and no run): no judging. */
    if (!failed && !slow && b->force == BW_FORCE_AUTO && b->state == BW_BRK_CLOSED &&
        rates_need_bad(p) && bw_breaker_window_add_good(&b->window)) {
        break_run(b);
        return false;
    }
    if (b->force == BW_FORCE_AUTO)
        changed = probe_timeouts(b, p, now_ms, rnd, t);
    int slot = probe_slot(b, probe_token);
    bw_breaker_window_add(&b->window, now_ms, failed, slow);
    if (failed)
        STORE(b->consecutive, sat_inc(b->consecutive));
    else
        break_run(b);
    if (changed || b->force != BW_FORCE_AUTO)
        return changed;
    if (b->state == BW_BRK_CLOSED)
        return trip(b, p, now_ms, rnd, t);
    if (slot >= 0)
        return judge_probe(b, p, now_ms, rnd, slot, failed, t);
    return false;   /* open, or not a probe of this period: counted only */
}

bool bw_breaker_record(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                       enum bw_breaker_outcome outcome, uint32_t duration_ms,
                       uint32_t probe_token, bw_breaker_transition *t)
{
    bw_breaker_transition scratch;
    if (p->breaker == BW_BREAKER_OFF)
        return false;
    uint32_t seq = begin_write(b);
    bool changed = record(b, p, now_ms, rnd, outcome != BW_CALL_SUCCESS, duration_ms,
                          probe_token, t ? t : &scratch);
    end_write(b, seq);
    return changed;
}

bw_breaker_run bw_breaker_run_now(const bw_breaker *b)
{
    return (bw_breaker_run){b->consecutive, b->run_breaks};
}

/*
 * Why leaving such a success out is the same as recording it, and why the
 * answer holds though read without the lock:
 * - Recorded, it would take record()'s usual-call branch: prepare changes
 *   nothing (state, force and window shape are in their domain), the
 *   window moves its position on a ring of good calls only (len stays
 *   size: window_calls, rates and every later count read the same; which
 *   position a later call overwrites does not matter while all are good)
 *   and break_run makes consecutive 0 (it is), run_held 0 (it is) and
 *   counts one more run_breaks. Nothing else: no transition, no event.
 * - run_breaks only tells bw_breaker_record_replacing whether the success
 *   being replaced was the last end of the run. A replacement whose success
 *   ended an empty run (before.failures 0) comes out the same either way
 *   (it carries on 0 failures). One whose success ended failures set
 *   run_held, so no success is left out here until a recorded end of the
 *   run follows it, and that counts: it sees the same match or mismatch as
 *   if every success had been recorded. This success's own replacement
 *   carries *run, whose failures are 0.
 * - The reads: seq even at first, every field read with an atomic load,
 *   then an acquire fence and seq again, the same. Every writer makes seq
 *   odd before its first change (release fence) and even after its last
 *   (release store), so a reader that sees the same even number twice saw
 *   no change at all, and what it read is the breaker of one instant (the
 *   success is ordered there, before every change that follows). seq is
 *   32 bits: a reader would have to sleep through 2^31 changes to be
 *   fooled by its wrapping.
 */
bool bw_breaker_success_quiet(const bw_breaker *b, const bw_policy *p, uint32_t duration_ms,
                              bw_breaker_run *run)
{
    if (p->breaker == BW_BREAKER_OFF || !rates_need_bad(p) ||
        (p->breaker_slow_ms > 0 && duration_ms >= p->breaker_slow_ms))
        return false;
    uint32_t seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
    if (seq & 1)
        return false;
    bool quiet = LOAD(b->force) == BW_FORCE_AUTO && LOAD(b->state) == BW_BRK_CLOSED &&
                 LOAD(b->consecutive) == 0 && LOAD(b->run_held) == 0 &&
                 bw_breaker_window_full_good(&b->window, p);
    uint8_t breaks = LOAD(b->run_breaks);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!quiet || LOAD(b->seq) != seq)
        return false;
    *run = (bw_breaker_run){0, breaks};
    return true;
}

bool bw_breaker_record_replacing(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                                 uint32_t rnd, bw_breaker_run before, uint32_t duration_ms,
                                 bw_breaker_transition *t)
{
    bw_breaker_transition scratch;
    if (p->breaker == BW_BREAKER_OFF)
        return false;
    uint32_t seq = begin_write(b);
    if ((uint8_t)(before.breaks + 1) == b->run_breaks) {
        uint32_t run = before.failures + b->consecutive;
        STORE(b->consecutive, run < before.failures ? UINT32_MAX : run);   /* saturating */
    }
    bool changed = record(b, p, now_ms, rnd, true, duration_ms, 0, t ? t : &scratch);
    end_write(b, seq);
    return changed;
}

static bool force(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                  enum bw_breaker_force mode, bw_breaker_transition *t);
static bool reset(bw_breaker *b, const bw_policy *p, bw_breaker_transition *t);
static bool open_for(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t ms,
                     bw_breaker_transition *t);

bool bw_breaker_force(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                      enum bw_breaker_force mode, bw_breaker_transition *t)
{
    bw_breaker_transition scratch;

    if (mode != BW_FORCE_AUTO && mode != BW_FORCE_OPEN && mode != BW_FORCE_CLOSED)
        return false;
    uint32_t seq = begin_write(b);
    bool changed = force(b, p, now_ms, rnd, mode, t ? t : &scratch);
    end_write(b, seq);
    return changed;
}

bool bw_breaker_reset(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                      bw_breaker_transition *t)
{
    bw_breaker_transition scratch;

    (void)now_ms;   /* nothing in a reset depends on time; kept for a uniform API */
    uint32_t seq = begin_write(b);
    bool changed = reset(b, p, t ? t : &scratch);
    end_write(b, seq);
    return changed;
}

bool bw_breaker_open_for(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t ms,
                         bw_breaker_transition *t)
{
    bw_breaker_transition scratch;
    if (p->breaker == BW_BREAKER_OFF)
        return false;
    uint32_t seq = begin_write(b);
    bool changed = open_for(b, p, now_ms, ms, t ? t : &scratch);
    end_write(b, seq);
    return changed;
}

/* The bodies of the three above, inside their begin_write and end_write. */
static bool force(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                  enum bw_breaker_force mode, bw_breaker_transition *t)
{
    prepare(b, p);
    enum bw_breaker_state from = bw_breaker_state(b, p);
    if (mode != BW_FORCE_AUTO && b->state == BW_BRK_HALF_OPEN) {
        /* Abandon the period; probing starts afresh once the override is lifted. */
        set_state(b, BW_BRK_OPEN);
        set_open_until(b, now_ms);
        b->probes_issued = b->probes_ok = 0;
    }
    set_force(b, mode);
    if (mode == BW_FORCE_AUTO && p->breaker != BW_BREAKER_OFF && b->state == BW_BRK_CLOSED &&
        trip(b, p, now_ms, rnd, t)) {
        t->from = from;
        return true;
    }
    enum bw_breaker_state to = bw_breaker_state(b, p);
    if (to == from)
        return false;
    begin(b, t, from, to, mode == BW_FORCE_AUTO ? BW_BRK_WHY_UNFORCED : BW_BRK_WHY_FORCED);
    if (to == BW_BRK_OPEN)
        t->open_ms = clamp_ms(diff_ms(b->open_until_ms, now_ms));
    return true;
}

static bool reset(bw_breaker *b, const bw_policy *p, bw_breaker_transition *t)
{
    prepare(b, p);
    enum bw_breaker_state from = bw_breaker_state(b, p);
    set_state(b, BW_BRK_CLOSED);
    set_force(b, BW_FORCE_AUTO);
    b->reopenings = 0;
    break_run(b);
    b->probes_issued = b->probes_ok = 0;
    set_open_until(b, 0);
    b->since_ms = 0;   /* an operator's reset starts at full rate: no slow start */
    bw_breaker_window_clear(&b->window);
    enum bw_breaker_state to = bw_breaker_state(b, p);
    if (to == from)
        return false;
    begin(b, t, from, to, BW_BRK_WHY_RESET);
    return true;
}

static bool open_for(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t ms,
                     bw_breaker_transition *t)
{
    prepare(b, p);
    if (b->force != BW_FORCE_AUTO)
        return false;
    enum bw_breaker_state from = bw_breaker_state(b, p);
    set_open_until(b, now_ms + ms);
    if (from == BW_BRK_OPEN)
        return false;
    begin(b, t, from, BW_BRK_OPEN, BW_BRK_WHY_RETRY_AFTER);
    t->open_ms = ms;
    set_state(b, BW_BRK_OPEN);
    break_run(b);
    b->probes_issued = b->probes_ok = 0;
    return true;
}
