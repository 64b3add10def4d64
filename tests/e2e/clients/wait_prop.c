/*
 * wait_prop - property test for connect retries inside the program's own
 * waits (issue 12). For ROUNDS random rounds (seeded, the seed is printed) it
 * picks a wait API, a program timeout T and a server behaviour, starts a
 * non-blocking connect, and waits the way an event loop does: the socket for
 * writability and a pipe that a timer thread writes at a random moment, each
 * wait with timeout T, until the connect has an answer and the pipe's byte was
 * delivered. In a third of the rounds it also reads SO_ERROR after each wait
 * that did not report the socket, as some programs do, and takes a non-zero
 * value as the answer. Then it checks:
 *   - connect() itself, and getsockopt(SO_ERROR), return within SLACK (no
 *     blocked retry);
 *   - no wait lasts longer than T + SLACK; a wait that returns 0 lasted >= T;
 *   - a wait's count matches what it reported, and reports only what was asked;
 *   - the pipe's byte is reported within SLACK of its write (none missed or
 *     held back during a backoff);
 *   - the connect's final answer fits the behaviour: listening -> connected;
 *     blackhole -> no answer before the round ends; refused -> ECONNREFUSED,
 *     under the shim only after every backoff (-b) has passed; late listener
 *     (listen() 30..400 ms after the connect) -> connected under the shim,
 *     ECONNREFUSED without it. "Connected" means SO_ERROR 0 and a peer name.
 *
 * SLACK defaults to 80 ms (-S).
 *
 *   wait_prop -e shim|plain -B BLACKHOLE_PORT [-s SEED] [-n ROUNDS] [-S SLACK_MS]
 *             [-b BACKOFF_MS,...] [-T MAX_T_MS] [-v]
 *
 * -e: which answers to expect (under the shim with retries, or without it).
 * -b: the backoffs the config gives with jitter = none (default 150,300), i.e.
 *     retries = 2, backoff_initial_ms = 150, backoff_max_ms = 300.
 * APIs: poll, ppoll, select, pselect, select-alias (one set passed as both
 * the write and the except set, as perl's IO::Socket::IP does: the kernel
 * writes the except result over the write result, so only the count tells
 * that the socket was reported), epoll_wait (level-triggered,
 * edge-triggered, one-shot), epoll_pwait, epoll_pwait2 (edge-triggered).
 * Prints one line per violation ("VIOLATION round=R ..."), and a summary:
 *   "wait_prop: seed=S rounds=R waits=W violations=V max_over_ms=X max_pipe_ms=Y"
 * Exit status: 0 without violations, 1 with, 2 on usage or setup errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum api { A_POLL, A_PPOLL, A_SELECT, A_PSELECT, A_SELECT_ALIAS, A_EP_LT, A_EP_ET, A_EP_ONESHOT,
           A_EP_PWAIT, A_EP_PWAIT2, A_N };
static const char *const api_name[A_N] = { "poll", "ppoll", "select", "pselect", "select-alias",
    "epoll_wait-LT",
    "epoll_wait-ET", "epoll_wait-ONESHOT", "epoll_pwait-LT", "epoll_pwait2-ET" };
enum beh { B_REFUSED, B_LATE, B_BLACKHOLE, B_LISTEN, B_N };
static const char *const beh_name[B_N] = { "refused", "late", "blackhole", "listening" };

static int64_t g_slack_us = 80000, g_backoff_sum_us;
static int g_max_t = 300, g_verbose, g_violations;
static bool g_shim;
static int64_t g_max_over_us, g_max_pipe_us, g_waits, g_waits_api[A_N];
static uint64_t g_rng;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* xorshift64*: the rounds depend on the seed only. */
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}

/* A uniform integer in [lo, hi]. */
static int rnd_in(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static void die(const char *what)
{
    fprintf(stderr, "wait_prop: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Reports one broken property of round r (printf-style detail). */
static void violation(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("VIOLATION round=%d ", r);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    g_violations++;
}

/* A TCP socket bound to 127.0.0.1 on an ephemeral port (not listening);
 * *port gets the port. */
static int bound_socket(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("bind 127.0.0.1:0");
    *port = ntohs(a.sin_port);
    return fd;
}

/* What the timer thread of a round does: write the pipe at t0 + pipe_at, and
 * (late behaviour) listen() on late_fd at t0 + listen_at. */
struct timer {
    int64_t t0, pipe_at, listen_at;
    int pipe_w, late_fd;
    _Atomic int64_t wrote_us;       /* when the byte was written; 0 before */
};

static void sleep_until(int64_t t_us)
{
    struct timespec ts = { .tv_sec = t_us / 1000000, .tv_nsec = (t_us % 1000000) * 1000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *timer_main(void *arg)
{
    struct timer *t = arg;
    bool listen_first = t->late_fd >= 0 && t->listen_at < t->pipe_at;
    for (int step = 0; step < 2; step++) {
        bool do_listen = (step == 0) == listen_first;
        if (do_listen) {
            if (t->late_fd < 0)
                continue;
            sleep_until(t->t0 + t->listen_at);
            if (listen(t->late_fd, 64) < 0)
                die("listen (late)");
        } else {
            sleep_until(t->t0 + t->pipe_at);
            if (write(t->pipe_w, "x", 1) != 1)
                die("write pipe");
            atomic_store(&t->wrote_us, now_us());
        }
    }
    return NULL;
}

/* One wait of the round's API for the socket (writable) and/or the pipe
 * (readable), at most t_ms. For epoll, ep holds the registrations made at the
 * round's start. Sets *sock_ev / *pipe_ev to what was reported; returns the
 * API's own return value (-1 with errno on error), and *extra counts reports
 * of anything else (a count larger than what was reported counts too). */
static int wait_once(enum api api, int ep, int sock, int pipe_r, bool want_sock, bool want_pipe,
                     int t_ms, bool *sock_ev, bool *pipe_ev, int *extra)
{
    struct timespec ts = { .tv_sec = t_ms / 1000, .tv_nsec = (t_ms % 1000) * 1000000L };
    struct timeval tv = { .tv_sec = t_ms / 1000, .tv_usec = (t_ms % 1000) * 1000L };
    sigset_t none;
    sigemptyset(&none);
    int rc, n = 0;
    *sock_ev = *pipe_ev = false;
    *extra = 0;
    if (api == A_POLL || api == A_PPOLL) {
        struct pollfd p[2];
        if (want_sock)
            p[n++] = (struct pollfd){ .fd = sock, .events = POLLOUT };
        if (want_pipe)
            p[n++] = (struct pollfd){ .fd = pipe_r, .events = POLLIN };
        rc = api == A_POLL ? poll(p, n, t_ms) : ppoll(p, n, &ts, &none);
        int seen = 0;
        for (int i = 0; rc > 0 && i < n; i++) {
            if (!p[i].revents)
                continue;
            seen++;
            if (p[i].fd == sock)
                *sock_ev = true;
            else
                *pipe_ev = true;
        }
        if (rc > 0 && rc != seen)
            *extra = rc - seen;
        return rc;
    }
    if (api == A_SELECT || api == A_PSELECT || api == A_SELECT_ALIAS) {
        bool alias = api == A_SELECT_ALIAS;
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        if (want_sock)
            FD_SET(sock, &w);
        if (want_pipe)
            FD_SET(pipe_r, &r);
        int nfds = (sock > pipe_r ? sock : pipe_r) + 1;
        /* glibc declares the sets restrict; perl passes one twice all the same */
        int (*sel)(int, fd_set *, fd_set *, fd_set *, struct timeval *) = select;
        rc = alias ? sel(nfds, &r, &w, &w, &tv)
           : api == A_SELECT ? select(nfds, &r, &w, NULL, &tv)
                             : pselect(nfds, &r, &w, NULL, &ts, &none);
        if (rc > 0) {
            *pipe_ev = want_pipe && FD_ISSET(pipe_r, &r);
            /* aliased, the socket's bit is gone: what is left of the count tells */
            *sock_ev = want_sock && (alias ? rc > *pipe_ev : FD_ISSET(sock, &w));
            *extra = rc - *sock_ev - *pipe_ev;
            for (int fd = 0; fd < nfds; fd++)
                if ((FD_ISSET(fd, &r) && fd != pipe_r) || (!alias && FD_ISSET(fd, &w) && fd != sock))
                    (*extra)++;
        }
        return rc;
    }
    struct epoll_event ev[4];
    if (api == A_EP_PWAIT)
        rc = epoll_pwait(ep, ev, 4, t_ms, &none);
    else if (api == A_EP_PWAIT2)
        rc = epoll_pwait2(ep, ev, 4, &ts, &none);
    else
        rc = epoll_wait(ep, ev, 4, t_ms);
    for (int i = 0; i < rc; i++) {
        if (ev[i].data.fd == sock && want_sock)
            *sock_ev = true;
        else if (ev[i].data.fd == pipe_r && want_pipe)
            *pipe_ev = true;
        else
            (*extra)++;
    }
    return rc;
}

/* Registers fd with ep for events plus the flags of api (ET, ONESHOT). */
static void ep_add(int ep, enum api api, int fd, uint32_t events)
{
    if (api == A_EP_ET || api == A_EP_PWAIT2)
        events |= EPOLLET;
    if (api == A_EP_ONESHOT)
        events |= EPOLLONESHOT;
    struct epoll_event e = { .events = events, .data.fd = fd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
        die("epoll_ctl ADD");
}

/* The connect's answer: 0 connected, an errno, or -1 for none yet. */
struct answer {
    int err;
    int64_t at_us;      /* since the connect started */
};

/* SO_ERROR of a socket reported writable; a 0 must come with a peer. */
static int resolve(int r, int sock)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        die("getsockopt SO_ERROR");
    if (err == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(sock, (struct sockaddr *)&ss, &sl) < 0) {
            violation(r, "socket reported writable with SO_ERROR 0 but not connected (%s)",
                      strerrorname_np(errno));
            return ENOTCONN;
        }
    }
    return err;
}

/* Checks the final answer against the behaviour and -e. */
static void check_answer(int r, enum api api, enum beh b, int late_ms, const struct answer *a)
{
    const char *want;
    bool ok;
    switch (b) {
    case B_LISTEN:
        want = "connected";
        ok = a->err == 0;
        break;
    case B_BLACKHOLE:
        want = "no answer";
        ok = a->err == -1;
        break;
    case B_LATE:
        want = g_shim ? "connected" : "ECONNREFUSED";
        ok = g_shim ? a->err == 0 : a->err == ECONNREFUSED;
        break;
    default:
        want = g_shim ? "ECONNREFUSED after the backoffs" : "ECONNREFUSED";
        ok = a->err == ECONNREFUSED && (!g_shim || a->at_us >= g_backoff_sum_us * 95 / 100);
        break;
    }
    if (!ok)
        violation(r, "api=%s behaviour=%s late_ms=%d: expected %s, got %s after %lld ms",
                  api_name[api], beh_name[b], late_ms, want, a->err == -1 ? "no answer"
                  : a->err == 0 ? "connected" : strerrorname_np(a->err),
                  (long long)(a->at_us / 1000));
}

/* Accepts and closes whatever waits on the listening socket. */
static void drain(int lfd)
{
    int c;
    while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        close(c);
}

struct servers {
    int refused_port, listen_fd, listen_port, blackhole_port;
};

/* One round; returns nothing, counts violations. */
static void run_round(int r, const struct servers *sv)
{
    enum api api = (enum api)rnd_in(0, A_N - 1);
    enum beh b = (enum beh)rnd_in(0, B_N - 1);
    int t_ms = rnd_in(20, g_max_t);
    int pipe_ms = rnd_in(5, t_ms * 3 / 2);
    int late_ms = rnd_in(30, 400);
    bool peek = rnd_in(0, 2) == 0;   /* also read SO_ERROR after each quiet wait */
    int port = b == B_REFUSED ? sv->refused_port : b == B_LISTEN ? sv->listen_port
             : b == B_BLACKHOLE ? sv->blackhole_port : 0;
    struct timer tm = { .late_fd = -1, .pipe_at = pipe_ms * 1000LL, .listen_at = late_ms * 1000LL };
    if (b == B_LATE)
        tm.late_fd = bound_socket(&port);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        die("pipe2");
    tm.pipe_w = pfd[1];
    int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0)
        die("socket");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (g_verbose)
        printf("round %d api=%s T=%d behaviour=%s port=%d pipe_ms=%d late_ms=%d peek=%d\n", r,
               api_name[api], t_ms, beh_name[b], port, pipe_ms, late_ms, peek);

    /* The timer runs from just before the connect (the late listener's
     * delay counts from there even if connect() blocks). */
    int64_t t0 = now_us();
    tm.t0 = t0;
    pthread_t th;
    if (pthread_create(&th, NULL, timer_main, &tm) != 0)
        die("pthread_create");
    int64_t tc = now_us();
    int rc = connect(sock, (struct sockaddr *)&a, sizeof a);
    int cerr = rc == 0 ? 0 : errno;
    int64_t t1 = now_us();
    if (t1 - tc > g_slack_us)
        violation(r, "api=%s behaviour=%s: non-blocking connect() took %lld ms", api_name[api],
                  beh_name[b], (long long)((t1 - tc) / 1000));
    struct answer ans = { .err = -1 };
    if (cerr != EINPROGRESS)
        ans = (struct answer){ .err = cerr, .at_us = t1 - t0 };
    int ep = -1;
    if (api >= A_EP_LT) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            die("epoll_create1");
        if (ans.err == -1)
            ep_add(ep, api, sock, EPOLLOUT);
        ep_add(ep, api, pfd[0], EPOLLIN);
    }
    /* Refused and late rounds must be answered: they get a long cap. */
    int64_t cap = b == B_BLACKHOLE || b == B_LISTEN ? t_ms * 1000LL + 50000
                : g_backoff_sum_us + 1500000;
    bool delivered = false, sock_in_ep = ep >= 0 && ans.err == -1;
    for (;;) {
        int64_t now = now_us();
        bool want_sock = ans.err == -1 && now - t0 < cap;
        if (sock_in_ep && !want_sock) {
            epoll_ctl(ep, EPOLL_CTL_DEL, sock, NULL);
            sock_in_ep = false;
        }
        if (!want_sock && delivered)
            break;
        if (now - t0 > cap + 3000000) {
            violation(r, "api=%s: the pipe's byte was never delivered", api_name[api]);
            break;
        }
        bool se, pe;
        int extra;
        int64_t s = now_us();
        int n = wait_once(api, ep, sock, pfd[0], want_sock, !delivered, t_ms, &se, &pe, &extra);
        int64_t e = now_us();
        if (n < 0 && errno != EINTR)
            die(api_name[api]);
        g_waits++;
        g_waits_api[api]++;
        int64_t over = (e - s) - t_ms * 1000LL;
        if (over > g_max_over_us)
            g_max_over_us = over;
        if (over > g_slack_us)
            violation(r, "api=%s behaviour=%s T=%d: the wait lasted %lld ms", api_name[api],
                      beh_name[b], t_ms, (long long)((e - s) / 1000));
        if (n == 0 && e - s < t_ms * 1000LL - 1000)
            violation(r, "api=%s behaviour=%s T=%d: returned 0 after only %lld ms", api_name[api],
                      beh_name[b], t_ms, (long long)((e - s) / 1000));
        if (extra)
            violation(r, "api=%s: returned %d with %d report(s) of nothing asked for", api_name[api],
                      n, extra);
        int64_t w = atomic_load(&tm.wrote_us);
        if (!delivered && w) {
            int64_t from = w > s ? w : s;
            int64_t late = e - from;
            if (pe && late > g_max_pipe_us)
                g_max_pipe_us = late;
            if (late > g_slack_us)
                violation(r, "api=%s behaviour=%s T=%d: pipe written %lld ms into the wait, %s "
                          "%lld ms later", api_name[api], beh_name[b], t_ms,
                          (long long)((w - s) / 1000), pe ? "reported" : "not reported, wait ended",
                          (long long)(late / 1000));
        }
        if (pe) {
            char c;
            if (read(pfd[0], &c, 1) != 1)
                violation(r, "api=%s: pipe reported readable, nothing to read", api_name[api]);
            delivered = true;
            if (ep >= 0)
                epoll_ctl(ep, EPOLL_CTL_DEL, pfd[0], NULL);
        }
        if (!se && want_sock && peek) {
            /* As a program that asks SO_ERROR without being told: under the
             * shim it says 0 while a retry is pending. */
            int err = 0;
            socklen_t len = sizeof err;
            int64_t g0 = now_us();
            if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                die("getsockopt SO_ERROR");
            int64_t g1 = now_us();
            if (g1 - g0 > g_slack_us)
                violation(r, "api=%s behaviour=%s: getsockopt(SO_ERROR) took %lld ms", api_name[api],
                          beh_name[b], (long long)((g1 - g0) / 1000));
            if (err) {
                ans = (struct answer){ .err = err, .at_us = g1 - t0 };
                if (sock_in_ep)
                    epoll_ctl(ep, EPOLL_CTL_DEL, sock, NULL);
                sock_in_ep = false;
            }
        }
        if (se) {
            ans = (struct answer){ .err = resolve(r, sock), .at_us = e - t0 };
            if (sock_in_ep)
                epoll_ctl(ep, EPOLL_CTL_DEL, sock, NULL);
            sock_in_ep = false;
        }
    }
    if (ans.err == -1)
        ans.at_us = now_us() - t0;   /* no answer by the end of the round */
    check_answer(r, api, b, late_ms, &ans);
    if (g_verbose)
        printf("  answer %s at %lld ms\n", ans.err == -1 ? "none" : ans.err == 0 ? "connected"
               : strerrorname_np(ans.err), (long long)(ans.at_us / 1000));
    close(sock);
    pthread_join(th, NULL);
    if (ep >= 0)
        close(ep);
    close(pfd[0]);
    close(pfd[1]);
    if (tm.late_fd >= 0) {
        drain(tm.late_fd);
        close(tm.late_fd);
    }
    drain(sv->listen_fd);
}

/* Parses "150,300" into the sum of the backoffs, in microseconds. */
static int64_t parse_backoffs(const char *s)
{
    int64_t sum = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0)
            return -1;
        sum += v * 1000;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return sum;
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    int rounds = 200, opt;
    const char *expect = NULL;
    struct servers sv = { .blackhole_port = 0 };
    g_backoff_sum_us = parse_backoffs("150,300");
    while ((opt = getopt(argc, argv, "e:B:s:n:S:b:T:v")) != -1) {
        switch (opt) {
        case 'e': expect = optarg; break;
        case 'B': sv.blackhole_port = atoi(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'n': rounds = atoi(optarg); break;
        case 'S': g_slack_us = atoll(optarg) * 1000; break;
        case 'b': g_backoff_sum_us = parse_backoffs(optarg); break;
        case 'T': g_max_t = atoi(optarg); break;
        case 'v': g_verbose = 1; break;
        default: return 2;
        }
    }
    if (!expect || (strcmp(expect, "shim") && strcmp(expect, "plain")) || sv.blackhole_port <= 0 ||
        rounds <= 0 || g_backoff_sum_us < 0 || g_max_t < 20) {
        fprintf(stderr, "usage: wait_prop -e shim|plain -B BLACKHOLE_PORT [-s SEED] [-n ROUNDS] "
                "[-S SLACK_MS] [-b BACKOFF_MS,...] [-T MAX_T_MS] [-v]\n");
        return 2;
    }
    g_shim = strcmp(expect, "shim") == 0;
    g_rng = seed ? seed : 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("wait_prop: seed=%llu rounds=%d expect=%s slack_ms=%lld\n", (unsigned long long)seed,
           rounds, expect, (long long)(g_slack_us / 1000));
    int refused_fd = bound_socket(&sv.refused_port);
    sv.listen_fd = bound_socket(&sv.listen_port);
    if (listen(sv.listen_fd, 128) < 0)
        die("listen");
    for (int r = 1; r <= rounds; r++)
        run_round(r, &sv);
    close(refused_fd);
    close(sv.listen_fd);
    printf("waits per API:");
    for (int i = 0; i < A_N; i++)
        printf(" %s=%lld", api_name[i], (long long)g_waits_api[i]);
    printf("\nwait_prop: seed=%llu rounds=%d waits=%lld violations=%d max_over_ms=%.1f "
           "max_pipe_ms=%.1f\n", (unsigned long long)seed, rounds, (long long)g_waits, g_violations,
           g_max_over_us / 1000.0, g_max_pipe_us / 1000.0);
    return g_violations ? 1 : 0;
}
