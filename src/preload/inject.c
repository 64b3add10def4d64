/*
 * inject.c - the write path of a tracked connection: Idempotency-Key lines
 * inserted where the request scanner (bw_http_req.h) says, and request kinds
 * handed to the response reader.
 *
 * Each round plans on a copy of the scanner state (where the first key line
 * goes, and where a second one would go: the round stops there), makes one
 * real call with the program's bytes and the line, and then scans for real
 * exactly the program bytes that went out. So whatever a short write takes,
 * the scanner has seen what the peer has seen, and the count returned is in
 * the program's own bytes. A line that went out in part is kept in the
 * connection's HTTP part (h->pending) and finished before any later byte.
 *
 * The connection's write lock is held across the real call: it orders the
 * line and the bytes around it against other writers of the same
 * connection, and only ever waits for them. The reader side has its own lock.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "inject.h"
#include "observe.h"
#include "tls.h"

#define MAX_IOV 64     /* program buffers per round; more go in further rounds */

static ssize_t real_out(int fd, const struct iovec *v, int n, int flags, enum bw_via via)
{
    if (via == BW_VIA_WRITE)
        return bw_real.writev(fd, v, n);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)v;
    m.msg_iovlen = (size_t)n;
    return bw_real.sendmsg(fd, &m, flags);
}

/* Points *p at the program's byte pos; returns how many contiguous bytes follow. */
static size_t piece(const struct iovec *iov, int n, size_t pos, const uint8_t **p)
{
    for (int i = 0; i < n; i++) {
        if (pos < iov[i].iov_len) {
            *p = (const uint8_t *)iov[i].iov_base + pos;
            return iov[i].iov_len - pos;
        }
        pos -= iov[i].iov_len;
    }
    return 0;
}

#define PLAN_KINDS 8

struct plan {
    bool insert;
    size_t line_at;       /* program offset of the line */
    size_t cut;           /* the round sends program bytes up to here */
    bw_http_req_event ev;
    /* When the whole round goes out, the scanner state after it is already
     * known: reusing it saves scanning the same bytes twice. */
    bool reusable;
    bw_http_req after;
    uint8_t kinds[PLAN_KINDS];   /* request kinds seen, for the response reader */
    unsigned n_kinds;
};

/* Plans a round from program offset from, on a copy of the scanner. */
static void plan_round(const bw_conn_http *h, const struct iovec *iov, int n, size_t from,
                       size_t total, struct plan *pl)
{
    bw_http_req st = h->req;
    pl->insert = false;
    pl->cut = total;
    pl->reusable = false;
    pl->n_kinds = 0;
    bool overflow = false;
    for (size_t pos = from; pos < total;) {
        const uint8_t *p = NULL;
        size_t len = piece(iov, n, pos, &p);
        bw_http_req_event ev;
        pos += bw_http_req_scan(&st, &h->req_cfg, p, len, &ev);
        if (ev.request) {
            if (pl->n_kinds < PLAN_KINDS)
                pl->kinds[pl->n_kinds++] = ev.request;
            else
                overflow = true;
        }
        if (!ev.insert)
            continue;
        if (pl->insert) {
            pl->cut = pos;    /* a second line: the next round sends it */
            return;           /* (st is past that line's decision: not reusable) */
        }
        pl->insert = true;
        pl->line_at = pos;
        pl->ev = ev;
    }
    pl->reusable = !overflow;
    pl->after = st;
}

/* The round went out whole: take the planned state and its request kinds. */
static unsigned adopt_plan(const bw_conn *c, bw_conn_http *h, const struct plan *pl)
{
    h->req = pl->after;
    if ((c->watch_responses || h->tls_watch_responses) && pl->n_kinds > 0) {
        pthread_mutex_lock(&h->rlock);
        for (unsigned i = 0; i < pl->n_kinds; i++)
            bw_http_resp_expect(&h->resp, pl->kinds[i]);
        pthread_mutex_unlock(&h->rlock);
    }
    return pl->insert ? 1 : 0;
}

/* Scans for real the program bytes [from, to) that went out; with
 * through_line, also the decision at `to` for a line that went out. */
static unsigned commit_scan(const bw_conn *c, bw_conn_http *h, const struct iovec *iov, int n,
                            size_t from, size_t to, bool through_line)
{
    unsigned keys = 0;
    for (size_t pos = from; pos < to || through_line;) {
        const uint8_t *p = NULL;
        size_t len = piece(iov, n, pos, &p);
        if (pos < to && len > to - pos)
            len = to - pos;
        bw_http_req_event ev;
        size_t adv = bw_http_req_scan(&h->req, &h->req_cfg, p, len, &ev);
        pos += adv;
        if (ev.request && (c->watch_responses || h->tls_watch_responses)) {
            pthread_mutex_lock(&h->rlock);
            bw_http_resp_expect(&h->resp, ev.request);
            pthread_mutex_unlock(&h->rlock);
        }
        if (ev.insert) {
            keys++;
            if (pos >= to)
                through_line = false;
        }
        if (adv == 0 && !ev.insert && !ev.request)
            break;   /* cannot happen by the scanner's contract; never spin */
    }
    return keys;
}

/* Sends what is left of a partly sent line. 0 when none is left, else -1/errno. */
static int flush_pending(bw_conn_http *h, int fd, int flags, enum bw_via via)
{
    while (h->pending_off < h->pending_len) {
        struct iovec v = {h->pending + h->pending_off, (size_t)(h->pending_len - h->pending_off)};
        ssize_t r = real_out(fd, &v, 1, flags, via);
        if (r < 0)
            return -1;
        h->pending_off += (uint8_t)r;
    }
    h->pending_off = h->pending_len = 0;
    return 0;
}

static size_t make_line(const bw_conn_http *h, const bw_http_req_event *ev, uint8_t *out,
                        size_t size)
{
    uint8_t rnd[16];
    bw_rand_key(rnd);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    return bw_http_req_header_line(&h->req_cfg, ev, rnd, ms, (char *)out, size);
}

/* Adds program bytes [a, b) to out (at most cap entries); returns the new count. */
static int add_range(struct iovec *out, int cnt, int cap, const struct iovec *iov, int n,
                     size_t a, size_t b)
{
    while (a < b && cnt < cap) {
        const uint8_t *p = NULL;
        size_t len = piece(iov, n, a, &p);
        if (len > b - a)
            len = b - a;
        out[cnt++] = (struct iovec){(void *)p, len};
        a += len;
    }
    return cnt;
}

/* Keeps the part of a key line a short write left unsent, for flush_pending. */
static void keep_unsent_line(bw_conn_http *h, const uint8_t *rest, size_t len)
{
    memcpy(h->pending, rest, len);
    h->pending_off = 0;
    h->pending_len = (uint8_t)len;
}

/*
 * One round: one real call with the program's bytes [done, plan.cut) and,
 * when the plan inserts one, a key line at plan.line_at:
 *
 *     program [done, split) | key line | program [split, plan.cut)
 *
 * Returns how many program bytes went out (done + that is the new done), or
 * -1 with errno. *full: the whole round went out.
 */
static ssize_t round_out(bw_conn *c, bw_conn_http *h, int fd, const struct iovec *iov, int n,
                         size_t done, size_t total, int flags, enum bw_via via, bool *full)
{
    struct plan pl;
    plan_round(h, iov, n, done, total, &pl);
    uint8_t line[BW_HTTP_REQ_LINE_MAX];
    size_t line_len = pl.insert ? make_line(h, &pl.ev, line, sizeof line) : 0;
    size_t split = pl.insert ? pl.line_at : pl.cut;
    size_t before_line = split - done, after_line = pl.cut - split;

    struct iovec out[MAX_IOV + 2];
    int cnt = add_range(out, 0, MAX_IOV, iov, n, done, split);
    if (line_len > 0)
        out[cnt++] = (struct iovec){line, line_len};
    cnt = add_range(out, cnt, MAX_IOV + 2, iov, n, split, pl.cut);
    ssize_t r = real_out(fd, out, cnt, flags, via);
    if (r < 0)
        return -1;

    /* Where the kernel stopped: in the bytes before the line, in the line,
     * or in the bytes after it. */
    size_t sent = (size_t)r, line_sent = 0, consumed;
    if (sent <= before_line) {
        consumed = done + sent;
    } else {
        size_t past_first = sent - before_line;
        line_sent = past_first < line_len ? past_first : line_len;
        consumed = split + (past_first - line_sent);
    }
    bool whole = sent == before_line + line_len + after_line;
    bool line_out = line_sent > 0 && consumed == split;   /* the line went out, nothing after it */
    unsigned keys = whole && pl.reusable ? adopt_plan(c, h, &pl)
                                         : commit_scan(c, h, iov, n, done, consumed, line_out);
    if (line_sent > 0 && line_sent < line_len)
        keep_unsent_line(h, line + line_sent, line_len - line_sent);
    bw_count(c->entry, BW_CNT_IDEMPOTENCY_KEYS, keys);
    *full = whole;
    return (ssize_t)(consumed - done);
}

static ssize_t inject_send(bw_conn *c, int fd, const struct iovec *iov, int n, int flags,
                           enum bw_via via);
static ssize_t inject_sendfile(bw_conn *c, int out, int in, void *off, size_t n, bool is64);

/*
 * The value of work, run inside the shim (a cancellation of the thread in
 * it leaves the shim first), or of passthrough when this thread may not
 * enter the shim now (a signal handler that interrupted it, a vfork
 * child): the program's bytes then go as they are. errno is work's.
 */
#define INSIDE_OR_PASS(passthrough, work)                  \
    ({                                                     \
        ssize_t r_;                                        \
        if (!bw_enter()) {                                 \
            r_ = (passthrough);                            \
        } else {                                           \
            pthread_cleanup_push(bw_leave_cancelled, NULL); \
            r_ = (work);                                   \
            pthread_cleanup_pop(0);                        \
            int err_ = errno;                              \
            bw_leave();                                    \
            errno = err_;                                  \
        }                                                  \
        r_;                                                \
    })

ssize_t bw_inject_send(bw_conn *c, int fd, const struct iovec *iov, int n, int flags,
                       enum bw_via via)
{
    return INSIDE_OR_PASS(real_out(fd, iov, n, flags, via),
                          inject_send(c, fd, iov, n, flags, via));
}

static ssize_t real_sendfile(int out, int in, void *off, size_t n, bool is64)
{
    return is64 ? bw_real.sendfile64(out, in, off, n) : bw_real.sendfile(out, in, off, n);
}

ssize_t bw_inject_sendfile(bw_conn *c, int out, int in, void *off, size_t n, bool is64)
{
    return INSIDE_OR_PASS(real_sendfile(out, in, off, n, is64),
                          inject_sendfile(c, out, in, off, n, is64));
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* Sends the wtotal program bytes of iov[0, w) in rounds, each after what is
 * left of a key line. Returns the program bytes that went out; stops early
 * on an error (*err set) or a short write (the socket is full). */
static size_t send_window(bw_conn *c, bw_conn_http *h, int fd, const struct iovec *iov, int w,
                          size_t wtotal, int flags, enum bw_via via, int *err)
{
    size_t wdone = 0;
    while (wdone < wtotal) {
        bool full;
        ssize_t got = flush_pending(h, fd, flags, via) != 0
                          ? -1
                          : round_out(c, h, fd, iov, w, wdone, wtotal, flags, via, &full);
        if (got < 0) {
            *err = errno;
            break;
        }
        wdone += (size_t)got;
        if (!full && got > 0)
            break;   /* short write: the socket is full, report what went out */
    }
    return wdone;
}

/* The program's bytes (total > 0), MAX_IOV buffers at a time so that a
 * blocking call still sends them all, as it would without the shim.
 * Returns the bytes that went out, or -1 (*err set) when none did. */
static ssize_t send_program_bytes(bw_conn *c, bw_conn_http *h, int fd, const struct iovec *iov,
                                  int n, int flags, enum bw_via via, int *err)
{
    size_t done = 0;
    for (int base = 0; base < n; base += MAX_IOV) {
        int w = n - base < MAX_IOV ? n - base : MAX_IOV;
        size_t wtotal = iov_total(iov + base, w);
        size_t wdone = send_window(c, h, fd, iov + base, w, wtotal, flags, via, err);
        done += wdone;
        if (*err || wdone < wtotal)
            break;
    }
    return done > 0 ? (ssize_t)done : -1;
}

/* A call with no bytes of the program's: what is left of a key line goes
 * first, then the call itself, as the program made it. */
static ssize_t send_no_bytes(bw_conn_http *h, int fd, const struct iovec *iov, int n, int flags,
                             enum bw_via via, int *err)
{
    if (flush_pending(h, fd, flags, via) != 0) {
        *err = errno;
        return -1;
    }
    ssize_t r = real_out(fd, iov, n, flags, via);
    *err = errno;
    return r;
}

static ssize_t inject_send(bw_conn *c, int fd, const struct iovec *iov, int n, int flags,
                           enum bw_via via)
{
    bw_conn_http *h = bw_conn_http_of(c);
    if (!c->watch_requests || !h) {
        ssize_t r = real_out(fd, iov, n, flags, via);
        bw_observe_inside(c, r, errno);
        return r;
    }
    bw_conn_ref(c);   /* a close() meanwhile must not release the record (and h) under us */
    pthread_mutex_lock(&h->lock);
    bw_locked_mutex = &h->lock;
    bw_locked_conn = c;   /* the send below is a cancellation point */
    int err = 0;
    ssize_t ret = iov_total(iov, n) > 0 ? send_program_bytes(c, h, fd, iov, n, flags, via, &err)
                                        : send_no_bytes(h, fd, iov, n, flags, via, &err);
    bw_locked_conn = NULL;
    pthread_mutex_unlock(&h->lock);
    bw_observe_inside(c, ret, ret < 0 ? err : 0);
    bw_conn_unref(c);
    if (ret < 0)
        errno = err;
    return ret;
}

static ssize_t inject_sendfile(bw_conn *c, int out, int in, void *off, size_t n, bool is64)
{
    ssize_t r;
    int err;
    bw_conn_http *h = bw_conn_http_of(c);
    if (!h) {   /* a stale reader of a reused record */
        r = real_sendfile(out, in, off, n, is64);
        err = errno;
        bw_observe_inside(c, r, err);
        errno = err;
        return r;
    }
    bw_conn_ref(c);
    pthread_mutex_lock(&h->lock);
    bw_locked_mutex = &h->lock;
    bw_locked_conn = c;
    /* A partly sent key line goes before the file's bytes. */
    if (flush_pending(h, out, 0, BW_VIA_WRITE) != 0) {
        r = -1;
        err = errno;
    } else {
        r = real_sendfile(out, in, off, n, is64);
        err = errno;
        if (r > 0 && !bw_http_req_unseen(&h->req, (uint64_t)r)) {
            /* Header bytes the shim cannot see: requests can no longer be
             * followed, nor paired with their responses. */
            c->watch_requests = false;
            pthread_mutex_lock(&h->rlock);
            c->watch_responses = false;
            pthread_mutex_unlock(&h->rlock);
        }
    }
    bw_locked_conn = NULL;
    pthread_mutex_unlock(&h->lock);
    bw_observe_inside(c, r, err);
    bw_conn_unref(c);
    errno = err;
    return r;
}

/* ---- inside TLS (see inject.h) ---- */

/* A key line goes out in one record with the program's bytes around it, from
 * a copy of at most this many bytes (on the stack). */
#define TLS_STAGE 4096

/* Hands the rest of a key line that went out in part to the library. 1 when
 * none is left (or the line is staged: it goes with its round), else out's value. */
static ssize_t tls_flush_line(bw_conn_http *h, bw_tls_out_fn out, void *ctx)
{
    while (!h->tls_staged && h->pending_off < h->pending_len) {
        h->tls_piece_prog = 0;
        h->tls_piece_line = (size_t)(h->pending_len - h->pending_off);
        ssize_t r = out(ctx, h->pending + h->pending_off, (size_t)(h->pending_len - h->pending_off));
        if (r <= 0)
            return r;
        h->pending_off += (uint8_t)r;
    }
    if (!h->tls_staged)
        h->pending_off = h->pending_len = 0;
    return 1;
}

/*
 * One round from program offset done: the program's bytes up to the next
 * key line, or the line with the bytes around it from a copy. The line is
 * made once and kept in h->pending (staged) until some of it went out, so
 * the retry of a failed round hands over the very same bytes. Returns the
 * program bytes that went out (>= 0; *want: how many were offered), or -1
 * with out's failing value in *fail.
 */
static ssize_t tls_round(const bw_conn *c, bw_conn_http *h, const struct iovec *v, size_t done,
                         bw_tls_out_fn out, void *ctx, size_t *want, ssize_t *fail,
                         unsigned *keys)
{
    const uint8_t *p = v->iov_base;
    struct plan pl;
    plan_round(h, v, 1, done, v->iov_len, &pl);
    size_t end = pl.insert ? pl.line_at : pl.cut;
    if (!pl.insert || end - done > TLS_STAGE - BW_HTTP_REQ_LINE_MAX) {
        *want = h->tls_piece_prog = end - done;
        h->tls_piece_line = 0;
        ssize_t r = out(ctx, p + done, end - done);
        if (r <= 0)
            return *fail = r, -1;
        if (!pl.insert && (size_t)r == end - done && pl.reusable)
            adopt_plan(c, h, &pl);   /* scanned already: the state after it is known */
        else
            *keys += commit_scan(c, h, v, 1, done, done + (size_t)r, false);
        return r;
    }
    if (!h->tls_staged) {
        h->pending_len = (uint8_t)make_line(h, &pl.ev, h->pending, sizeof h->pending);
        h->pending_off = 0;
        h->tls_staged = true;
    }
    uint8_t stage[TLS_STAGE];
    size_t before = end - done, L = h->pending_len, after = pl.cut - end;
    if (after > TLS_STAGE - before - L)
        after = TLS_STAGE - before - L;
    memcpy(stage, p + done, before);
    memcpy(stage + before, h->pending, L);
    memcpy(stage + before + L, p + end, after);
    *want = h->tls_piece_prog = before + after;
    h->tls_piece_line = L;
    ssize_t r = out(ctx, stage, before + L + after);
    if (r <= 0)
        return *fail = r, -1;
    size_t m = (size_t)r, took;
    h->tls_staged = false;
    if (m <= before) {               /* the line did not go: made anew in its turn */
        h->pending_len = 0;
        took = m;
        *keys += commit_scan(c, h, v, 1, done, done + m, false);
    } else if (m < before + L) {     /* part of it: the rest goes before anything else */
        h->pending_off = (uint8_t)(m - before);
        took = before;
        *keys += commit_scan(c, h, v, 1, done, end, true);
    } else {
        h->pending_off = h->pending_len = 0;
        took = m - L;
        if (end + after == pl.cut && took == before + after && pl.reusable)
            *keys += adopt_plan(c, h, &pl);
        else
            *keys += commit_scan(c, h, v, 1, done, done + took, done + took == end);
    }
    return (ssize_t)took;
}

ssize_t bw_inject_tls(bw_conn *c, const void *buf, size_t n, bool partial, bw_tls_out_fn out,
                      void *ctx)
{
    bw_conn_http *h = bw_conn_http_of(c);
    if (!h)   /* a stale reader of a reused record */
        return out(ctx, buf, n);
    struct iovec v = {(void *)buf, n};
    bw_conn_ref(c);
    pthread_mutex_lock(&h->lock);
    /* A retry starts with the bytes of the call that failed (possibly more:
     * curl offers what it gathered since); those that went out then are not
     * handed over again. */
    size_t done = 0;
    if (h->tls_resume && h->tls_resume_done <= n)
        done = h->tls_resume_done;
    else if (h->tls_staged)   /* not the retry the library asked for */
        h->tls_staged = false, h->pending_len = 0;
    h->tls_resume = false;
    unsigned keys = 0;
    ssize_t fail = 1;
    while ((fail = tls_flush_line(h, out, ctx)) > 0 && done < n) {
        size_t want;
        ssize_t took = tls_round(c, h, &v, done, out, ctx, &want, &fail, &keys);
        if (took < 0)
            break;
        done += (size_t)took;
        if (partial && (size_t)took < want)
            break;   /* the library took less: report it, as it would */
    }
    /* A failed piece is buffered inside the library, which now wants this
     * very call again: failing it (even after progress, partial or not) is
     * what makes the program repeat it. */
    ssize_t ret = (ssize_t)done;
    if (fail <= 0) {
        ret = fail;
        h->tls_resume = true;
        h->tls_resume_done = done;
    }
    bw_count(c->entry, BW_CNT_IDEMPOTENCY_KEYS, keys);
    pthread_mutex_unlock(&h->lock);
    bw_conn_unref(c);
    return ret;
}

ssize_t bw_inject_tls_unseen(bw_conn *c, ssize_t r)
{
    bw_conn_http *h = bw_conn_http_of(c);
    if (!h)
        return r;
    pthread_mutex_lock(&h->lock);
    if (r > 0 && h->tls_resume) {
        /* r counts the piece as handed over: the key line's bytes are not the program's. */
        size_t took = (size_t)r > h->tls_piece_line ? (size_t)r - h->tls_piece_line : 0;
        if (took > h->tls_piece_prog)
            took = h->tls_piece_prog;
        r = (ssize_t)(h->tls_resume_done + took);
        h->tls_resume = h->tls_staged = false;
        h->pending_off = h->pending_len = 0;
        pthread_mutex_lock(&h->rlock);
        h->tls_watch_requests = h->tls_watch_responses = false;
        pthread_mutex_unlock(&h->rlock);
        atomic_store(&c->tls, BW_TLSM_PASS);
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}
