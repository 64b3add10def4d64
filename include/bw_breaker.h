/*
 * bw_breaker.h - the circuit breaker of one destination (SPEC section 4).
 *
 * A pure state machine: closed -> open -> half_open -> closed (or back to
 * open), plus the operator's forced_open / forced_closed override. It makes
 * no system call: the caller passes the monotonic clock (now_ms) and, where
 * jitter is needed, a uniformly random uint32_t (rnd), so every rule can be
 * driven deterministically.
 *
 * A bw_breaker is plain fixed-size data with no pointers (under 1 KiB), so it
 * may live in a mapping shared by several processes and be copied. All zero
 * is a valid closed breaker with an empty window (bw_breaker_init does just
 * that). Nothing here locks: the caller holds one lock around every call
 * (bw_breaker_state_peek, bw_breaker_rejects_until, bw_breaker_admits_now
 * and bw_breaker_success_quiet may run without it). Every function that may
 * change a breaker brackets its change with the breaker's sequence number
 * (odd while it writes), which lets bw_breaker_success_quiet read a
 * consistent breaker without the lock.
 * A breaker read from a corrupt file is bounds-checked and never makes these
 * functions read or write outside the struct.
 *
 * Rules, with the keys of bw_policy:
 * - closed: every call is allowed and recorded in the window (see
 *   bw_breaker_window.h for count and time windows). It opens when the
 *   window holds >= breaker_min_calls calls (capped at breaker_window_size
 *   for count windows, so the rule can fire at all) and failures/calls >=
 *   breaker_failure_rate, or slow/calls >= breaker_slow_rate (when
 *   breaker_slow_ms > 0; a call of duration >= breaker_slow_ms is slow,
 *   whatever its outcome), or after breaker_consecutive_failures failures in
 *   a row (when > 0; a success resets the run).
 * - open: calls are rejected until the open time has passed; the next call
 *   then moves the breaker to half_open. The first opening lasts
 *   breaker_open_ms, each reopening without a close in between twice the
 *   previous, capped at breaker_open_max_ms; then +-10% jitter from rnd.
 * - half_open: breaker_half_open_probes calls are let through as probes,
 *   each once per half-open period; others are rejected. Any probe failing,
 *   or having no outcome after breaker_half_open_timeout_ms (0 = no limit;
 *   checked lazily on admit and record), reopens it; all succeeding closes it
 *   and clears the window. A slow probe that succeeds counts as a success.
 * - A call's outcome is always added to the window, in every state; it is
 *   judged only as said above, so an outcome arriving late for an open
 *   breaker is counted but changes nothing.
 * - forced_open rejects, forced_closed allows; both freeze the automatic
 *   state (records still fill the window). Back to auto, the automatic state
 *   resumes and a closed breaker whose window now trips opens at once.
 * - breaker = dry-run computes everything the same but admission never
 *   rejects: the decision says would_reject instead. breaker = off: admit
 *   allows and record does nothing (the shell does not call them then).
 */
#ifndef BW_BREAKER_H
#define BW_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bw_config.h"
#include "bw_breaker_window.h"

#define BW_BRK_MAX_PROBES 16   /* breaker_half_open_probes is 1..16 */

/* State as users see it (SPEC section 3); the values are the metrics gauge. */
enum bw_breaker_state {
    BW_BRK_CLOSED = 0,
    BW_BRK_OPEN = 1,
    BW_BRK_HALF_OPEN = 2,
    BW_BRK_FORCED_OPEN = 3,
    BW_BRK_FORCED_CLOSED = 4,
    BW_BRK_DISABLED = 5,       /* breaker = off; no gauge value */
};
#define BW_BRK_NSTATES 6

enum bw_breaker_force { BW_FORCE_AUTO = 0, BW_FORCE_OPEN = 1, BW_FORCE_CLOSED = 2 };

enum bw_breaker_reason {
    BW_BRK_WHY_NONE = 0,
    BW_BRK_WHY_FAILURE_RATE,   /* closed -> open */
    BW_BRK_WHY_SLOW_RATE,      /* closed -> open */
    BW_BRK_WHY_CONSECUTIVE,    /* closed -> open */
    BW_BRK_WHY_OPEN_ELAPSED,   /* open -> half_open */
    BW_BRK_WHY_PROBE_FAILED,   /* half_open -> open */
    BW_BRK_WHY_PROBE_TIMEOUT,  /* half_open -> open */
    BW_BRK_WHY_PROBES_OK,      /* half_open -> closed */
    BW_BRK_WHY_FORCED,         /* any -> forced_open / forced_closed */
    BW_BRK_WHY_UNFORCED,       /* forced_* -> the automatic state */
    BW_BRK_WHY_RESET,          /* any -> closed */
    BW_BRK_WHY_RETRY_AFTER,    /* closed or half_open -> open: the server said when */
};

/*
 * One change of the user-visible state. Which numbers are set depends on the
 * reason: rates set failures (failed or slow calls), calls, rate_pct (floor)
 * and threshold (percent); consecutive sets failures and threshold; probes
 * set probes_ok and probes; every move to open sets open_ms (the time until
 * the next probe, jitter included).
 */
typedef struct bw_breaker_transition {
    enum bw_breaker_state from, to;
    enum bw_breaker_reason reason;
    uint32_t failures;
    uint32_t calls;
    uint32_t rate_pct;
    uint32_t threshold;
    uint32_t probes_ok;
    uint32_t probes;
    uint32_t open_ms;
} bw_breaker_transition;

enum bw_breaker_verdict {
    BW_ADMIT_ALLOW = 0,
    BW_ADMIT_PROBE,            /* allowed as a half-open probe: keep probe_token */
    BW_ADMIT_REJECT,
};

typedef struct bw_breaker_decision {
    enum bw_breaker_verdict verdict;
    bool would_reject;         /* dry-run: the breaker would have rejected this call */
    uint32_t probe_token;      /* nonzero for a probe; pass it to bw_breaker_record */
    uint32_t open_left_ms;     /* rejected (or would be) while open: time to the next probe */
    bool changed;              /* admission moved the state: see transition */
    bool slow_start;           /* rejected (or would be) by slow_start_ms, not while open */
    bw_breaker_transition transition;
} bw_breaker_decision;

/* The breaker. Fields are private: use the functions below. */
typedef struct bw_breaker {
    uint8_t state;             /* BW_BRK_CLOSED, _OPEN or _HALF_OPEN */
    uint8_t force;             /* enum bw_breaker_force */
    uint8_t reopenings;        /* openings since the last close, saturating */
    uint8_t run_breaks;        /* times the failure run was broken, mod 256 */
    uint16_t probes_issued;    /* half_open: bit per probe slot let through */
    uint16_t probes_ok;        /* half_open: bit per probe slot that succeeded */
    uint32_t generation;       /* half-open periods entered; tags probe tokens */
    uint32_t consecutive;      /* failures in a row */
    uint32_t seq;              /* odd while a function here changes the breaker */
    uint8_t run_held;          /* the failure run's last end ended failures (> 0): a
                                  replacement may still carry it on */
    uint8_t reserved_[3];
    int64_t open_until_ms;
    int64_t since_ms;          /* half_open: when it began; closed: when probes closed
                                  it (slow start), 0 after a reset or at first */
    uint32_t probe_start[BW_BRK_MAX_PROBES];   /* ms after since_ms */
    uint64_t transitions[BW_BRK_NSTATES];      /* moves into each state */
    bw_breaker_window window;
} bw_breaker;

/* Makes b a closed breaker with an empty window (all zero). */
void bw_breaker_init(bw_breaker *b);

/*
 * Decides whether a call may go out at now_ms and fills *d. Returns the
 * verdict (also in d->verdict). May move open -> half_open or, when a probe
 * timed out, half_open -> open: then d->changed is true and d->transition
 * says how. rnd jitters the open time of such a reopening, and draws the
 * admitted share of slow_start_ms: for that long after probes closed the
 * breaker, a call is admitted with a chance rising from 10 % to 100 %.
 */
enum bw_breaker_verdict bw_breaker_admit(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                                         uint32_t rnd, bw_breaker_decision *d);

/*
 * True when bw_breaker_admit would allow a call now without changing b or
 * saying anything (no probe, no transition, no dry-run rejection): the
 * breaker is off, forced closed, or closed with no slow_start_ms. The one
 * call that needs no lock: it reads only state and force, which every
 * function here stores atomically, so a breaker opening meanwhile sees the
 * call as admitted just before it opened. False means: ask bw_breaker_admit.
 */
bool bw_breaker_admits_now(const bw_breaker *b, const bw_policy *p);

enum bw_breaker_outcome { BW_CALL_SUCCESS = 0, BW_CALL_FAILURE = 1 };

/*
 * Records the outcome of a call admitted earlier. duration_ms decides
 * slowness; probe_token is the decision's token (0 for an ordinary call; a
 * stale token from an earlier half-open period counts as an ordinary call).
 * Returns true and fills *t (may be NULL) when the state changed.
 */
bool bw_breaker_record(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                       enum bw_breaker_outcome outcome, uint32_t duration_ms,
                       uint32_t probe_token, bw_breaker_transition *t);

/* The failure run at one instant, for bw_breaker_record_replacing. */
typedef struct bw_breaker_run {
    uint32_t failures;   /* failures in a row */
    uint8_t breaks;      /* times a run was broken so far, mod 256 */
} bw_breaker_run;

/* The failure run now: take it just before recording a success that may be
 * replaced later. */
bw_breaker_run bw_breaker_run_now(const bw_breaker *b);

/*
 * True when recording a success of duration_ms (an ordinary call, no probe
 * token) would change nothing anyone can observe, and may be left out: the
 * breaker is on or dry-run, automatic and closed, the success is not slow,
 * both rate rules need a bad call to fire, the count window has the
 * policy's shape, is full and holds no failed or slow call, and no failure
 * run is open or may still be carried on by a replacement (consecutive 0,
 * run_held 0). Recording it would only move the window's ring position
 * (every position is good: the ring reads the same turned) and count one
 * more end of an empty run (which changes no bw_breaker_record_replacing:
 * see breaker.c). *run then gets bw_breaker_run_now of that same instant,
 * for a later bw_breaker_record_replacing of this success.
 *
 * Needs no lock: it reads with atomic loads between two reads of the
 * sequence number, and says false (ask bw_breaker_record under the lock)
 * when a writer was inside or finished meanwhile, so its answer is that
 * of one instant between two changes. False also for breaker = off (the
 * shell records nothing then).
 */
bool bw_breaker_success_quiet(const bw_breaker *b, const bw_policy *p, uint32_t duration_ms,
                              bw_breaker_run *run);

/*
 * Records a failure that replaces a success recorded earlier for the same
 * call (a TLS handshake that failed after its TCP connect counted as a
 * success). before is bw_breaker_run_now taken just before that success.
 * When nothing but that success broke the failure run since (no other
 * success, no move to open or closed, no reset), the run goes on as if the
 * success had not been: its failures before, those since, and this one.
 * Otherwise, and for the window in any case, it is an ordinary failure
 * (bw_breaker_record; the window keeps the success too).
 */
bool bw_breaker_record_replacing(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                                 uint32_t rnd, bw_breaker_run before, uint32_t duration_ms,
                                 bw_breaker_transition *t);

/*
 * The server asked for no calls for ms (Retry-After): the breaker is open
 * until now_ms + ms, whatever its open time would have been; a half-open
 * period is abandoned. No effect while forced or with breaker = off.
 * Returns true and fills *t (may be NULL) when the state changed (an open
 * breaker only gets its new end).
 */
bool bw_breaker_open_for(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t ms,
                         bw_breaker_transition *t);

/*
 * Operator override. OPEN/CLOSED hold the breaker there (a half-open period
 * in progress is abandoned: its probes become ordinary calls and probing
 * restarts after AUTO); AUTO hands back to the automatic state, opening it at
 * once when it is closed and its window trips. Returns true and fills *t
 * (may be NULL) when the visible state changed.
 */
bool bw_breaker_force(bw_breaker *b, const bw_policy *p, int64_t now_ms, uint32_t rnd,
                      enum bw_breaker_force mode, bw_breaker_transition *t);

/*
 * Closes the breaker, lifts any override, clears the window, the failure run
 * and the open-time doubling (SPEC `breakwater reset`). Transition counters
 * stay (they are monotonic metrics). Returns true and fills *t (may be NULL)
 * when the visible state changed.
 */
bool bw_breaker_reset(bw_breaker *b, const bw_policy *p, int64_t now_ms,
                      bw_breaker_transition *t);

/* Visible state: disabled when p->breaker is off, else forced or automatic. */
enum bw_breaker_state bw_breaker_state(const bw_breaker *b, const bw_policy *p);

/* bw_breaker_state without the caller's lock, for a verdict that may be
 * stale by the time it is used (failover's choice of a sibling, which the
 * sibling's own admission then confirms under the lock): the override and
 * the automatic state are single bytes that every writer here stores
 * atomically, so this reads each whole, never a torn value, and makes
 * no system call. */
enum bw_breaker_state bw_breaker_state_peek(const bw_breaker *b, const bw_policy *p);

/*
 * A time before which bw_breaker_admit rejects and changes nothing:
 * INT64_MAX while forced open, the end of the opening while open (breaker
 * = on); INT64_MIN when it says nothing (ask bw_breaker_admit). Read
 * without the caller's lock, as bw_breaker_state_peek (open_until_ms is
 * stored atomically too); no clock needed to know that a closed breaker
 * says nothing.
 */
int64_t bw_breaker_rejects_until(const bw_breaker *b, const bw_policy *p);

/* SPEC section 3 name of a state ("closed", "half_open", ...); "?" if invalid. */
const char *bw_breaker_state_name(enum bw_breaker_state s);

/* Metrics gauge: 0 closed, 1 open, 2 half-open, 3 forced open, 4 forced
 * closed; -1 for disabled or invalid (emit no sample). */
int bw_breaker_state_gauge(enum bw_breaker_state s);

/* Window totals at now_ms (read-only). */
bw_breaker_counts bw_breaker_counts_at(const bw_breaker *b, int64_t now_ms);

/* Calls in the window at now_ms (status `window_calls`). */
uint32_t bw_breaker_window_calls(const bw_breaker *b, int64_t now_ms);

/* failures/calls of the window at now_ms, 0.0 when empty (status `failure_rate`). */
double bw_breaker_failure_rate(const bw_breaker *b, int64_t now_ms);

/* Transitions into state s so far (breakwater_breaker_transitions_total{to=...}). */
uint64_t bw_breaker_transitions(const bw_breaker *b, enum bw_breaker_state s);

/*
 * Writes the SPEC section 8 message for t, without level or newline:
 * "NAME ADDR breaker open: 6 of 10 calls failed (60% >= 50%); next probe in
 * 5000 ms". Returns what snprintf returns (the length it wanted).
 */
int bw_breaker_format(char *buf, size_t size, const char *name, const char *addr,
                      const bw_breaker_transition *t);

#endif
