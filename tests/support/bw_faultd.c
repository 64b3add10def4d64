/*
 * bw_faultd - a fault-injecting TCP server for breakwater's tests, modelled on
 * Toxiproxy's toxics. One process, one mode, chosen by arguments:
 *
 *   bw_faultd [-6] [-p PORT] [--max-seconds S] [--count-file PATH] MODE [ARG...]
 *
 *   echo                   echo every byte back (poll-based, many clients)
 *   reset [MS]             accept, wait MS (default 0) reading and discarding,
 *                          then close with an RST (SO_LINGER 0)
 *   hang                   accept, read and discard, never answer, never close
 *   blackhole              listen with backlog 0 and fill the accept queue with
 *                          connections to itself, so new SYNs are dropped and a
 *                          client's connect() hangs until its own timeout
 *   late MS                port reserved at once (connects are refused), listening
 *                          (as echo) only after MS milliseconds
 *   http STATUS            answer every HTTP/1.x request with STATUS and a small
 *                          body (keep-alive, Content-Length; chunked and
 *                          Content-Length request bodies are read and dropped)
 *   flap UP_MS DOWN_MS     echo while listening for UP_MS, then no listener
 *                          (connects refused) for DOWN_MS, repeatedly; accepted
 *                          connections stay open
 *   slow BYTES_PER_SEC     echo, but send at most BYTES_PER_SEC back
 *   slice N [DELAY_MS]     echo, but write back in N-byte pieces, DELAY_MS apart
 *
 * A closed port ("refuse") needs no server: tests use lib.sh's free_port.
 *
 * -p PORT: 0 (default) lets the kernel choose; the first line on stdout is then
 * "port N" (always printed, flushed). -6 listens on [::1] too, same port.
 * --max-seconds S (default 300): exits by itself after S seconds.
 * --count-file PATH: whenever the number of open accepted connections changes,
 * PATH is replaced (write + rename) by "current N peak M\n".
 * Exits on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_ECHO, M_RESET, M_HANG, M_BLACKHOLE, M_LATE, M_HTTP, M_FLAP, M_SLOW, M_SLICE };

#define MAX_CONNS 1024
#define IN_CHUNK 65536
#define OUT_HIGH (1 << 20)      /* stop reading while this much is unsent */
#define HTTP_MAX (64 << 20)     /* largest buffered HTTP request */

struct conn {
    int fd;
    char *out;                  /* pending output */
    size_t out_len, out_off, out_cap;
    char *in;                   /* HTTP mode: buffered request bytes */
    size_t in_len, in_cap;
    int64_t reset_at;           /* reset mode: when to send the RST */
    int64_t next_write;         /* slice/slow: earliest next write */
    int peer_eof;               /* peer shut down its side */
    int close_after;            /* close once output is flushed */
};

static enum mode g_mode = M_ECHO;
static long g_arg1, g_arg2;
static int g_port, g_ipv6;
static const char *g_count_file;
static struct conn g_conns[MAX_CONNS];
static int g_nconns, g_peak;
static int g_listen[2] = { -1, -1 };     /* 127.0.0.1, ::1 listeners */
static int g_reserve[2] = { -1, -1 };    /* bound, never listening: keep the port */
static volatile sig_atomic_t g_stop;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "bw_faultd: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Replaces the count file by "current N peak M" (write + rename: readers never
 * see a half-written file). */
static void write_count(void)
{
    char tmp[4096], line[64];
    if (!g_count_file)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp%d", g_count_file, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof line, "current %d peak %d\n", g_nconns, g_peak);
    if (write(fd, line, n) != n) {
        close(fd);
        unlink(tmp);
        return;
    }
    close(fd);
    rename(tmp, g_count_file);
}

/* Binds a TCP socket to 127.0.0.1 or ::1 at PORT with SO_REUSEADDR; -1 on error. */
static int bind_socket(int v6, int port)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* Reserves the port on both addresses with sockets that never listen, so that
 * "no listener" phases (late, flap) refuse connects and nobody takes the port. */
static void reserve_port(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        g_reserve[0] = bind_socket(0, g_port);
        if (g_reserve[0] < 0)
            die("bind 127.0.0.1");
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        getsockname(g_reserve[0], (struct sockaddr *)&a, &len);
        int port = ntohs(a.sin_port);
        if (!g_ipv6) {
            g_port = port;
            return;
        }
        g_reserve[1] = bind_socket(1, port);
        if (g_reserve[1] >= 0) {
            g_port = port;
            return;
        }
        if (g_port != 0)
            die("bind ::1");
        close(g_reserve[0]);    /* chosen port busy on ::1: try another */
    }
    die("no port free on both 127.0.0.1 and ::1");
}

static void start_listening(int backlog)
{
    for (int i = 0; i < 1 + g_ipv6; i++) {
        if (g_listen[i] >= 0)
            continue;
        g_listen[i] = bind_socket(i, g_port);
        if (g_listen[i] < 0)
            die("bind listener");
        if (listen(g_listen[i], backlog) < 0)
            die("listen");
        fcntl(g_listen[i], F_SETFL, O_NONBLOCK);
    }
}

static void stop_listening(void)
{
    for (int i = 0; i < 2; i++) {
        if (g_listen[i] >= 0)
            close(g_listen[i]);
        g_listen[i] = -1;
    }
}

/* blackhole: a backlog-0 listener whose accept queue is filled by our own
 * connections, never accepted. Further SYNs are dropped by the kernel. */
static int g_fillers[32];
static int g_nfillers;

static void fill_queue(int v6)
{
    for (int i = 0; i < 8 && g_nfillers < 32; i++) {
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket");
        int rc;
        if (v6) {
            struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(g_port),
                                      .sin6_addr = IN6ADDR_LOOPBACK_INIT };
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(g_port) };
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        }
        g_fillers[g_nfillers++] = fd;
        if (rc < 0 && errno != EINPROGRESS)
            die("connect to self");
        if (rc == 0)
            continue;
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, 300) == 0)
            return;             /* this SYN was dropped: the queue is full */
    }
}

static void add_conn(int fd)
{
    if (g_nconns >= MAX_CONNS) {
        close(fd);
        return;
    }
    int one = 1;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = &g_conns[g_nconns++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->reset_at = g_mode == M_RESET ? now_ms() + g_arg1 : 0;
    if (g_nconns > g_peak)
        g_peak = g_nconns;
    write_count();
}

static void drop_conn(int i, int rst)
{
    struct conn *c = &g_conns[i];
    if (rst) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
    free(c->out);
    free(c->in);
    g_conns[i] = g_conns[--g_nconns];
    write_count();
}

static void out_append(struct conn *c, const char *p, size_t n)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        c->out = realloc(c->out, cap);
        if (!c->out)
            die("realloc");
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static const char *reason(long status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Status";
    }
}

/* Finds header NAME's value in the header block [h, end); NULL if absent. */
static const char *find_header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(h, '\n', end - h);
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', end - line);
        if (!eol)
            break;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = ve - v;
            return v;
        }
        p = eol;
    }
    return NULL;
}

/* Length of a complete chunked body at [p, end), or -1 if incomplete, -2 if bad. */
static long chunked_len(const char *p, const char *end)
{
    const char *s = p;
    for (;;) {
        const char *eol = memchr(s, '\n', end - s);
        if (!eol)
            return -1;
        char *ep;
        unsigned long n = strtoul(s, &ep, 16);
        if (ep == s)
            return -2;
        s = eol + 1;
        if (n == 0) {           /* trailers until an empty line */
            for (;;) {
                const char *e2 = memchr(s, '\n', end - s);
                if (!e2)
                    return -1;
                int empty = e2 == s || (e2 == s + 1 && *s == '\r');
                s = e2 + 1;
                if (empty)
                    return s - p;
            }
        }
        if ((size_t)(end - s) < n + 2)
            return -1;
        s += n;
        if (*s == '\r')
            s++;
        if (s >= end)
            return -1;
        if (*s != '\n')
            return -2;
        s++;
    }
}

/* HTTP mode: answers every complete request buffered in c->in. */
static void http_serve(struct conn *c)
{
    for (;;) {
        char *start = c->in, *end = c->in + c->in_len;
        char *hend = memmem(start, c->in_len, "\r\n\r\n", 4);
        size_t hlen;
        if (hend) {
            hlen = hend + 4 - start;
        } else if ((hend = memmem(start, c->in_len, "\n\n", 2))) {
            hlen = hend + 2 - start;
        } else {
            if (c->in_len > HTTP_MAX)
                c->close_after = 1;
            return;
        }
        size_t vlen, total = hlen;
        const char *v;
        if ((v = find_header(start, start + hlen, "Transfer-Encoding", &vlen)) &&
            memmem(v, vlen, "chunked", 7)) {
            long n = chunked_len(start + hlen, end);
            if (n == -1)
                return;
            if (n < 0) {
                c->close_after = 1;
                return;
            }
            total += n;
        } else if ((v = find_header(start, start + hlen, "Content-Length", &vlen))) {
            unsigned long n = strtoul(v, NULL, 10);
            if (n > HTTP_MAX) {
                c->close_after = 1;
                return;
            }
            if (c->in_len < hlen + n)
                return;
            total += n;
        }
        int close_it = 0;
        if ((v = find_header(start, start + hlen, "Connection", &vlen)) && vlen >= 5 &&
            memmem(v, vlen, "close", 5))
            close_it = 1;
        if (memmem(start, hlen, "HTTP/1.0", 8) &&
            !((v = find_header(start, start + hlen, "Connection", &vlen)) &&
              strncasecmp(v, "keep-alive", 10) == 0))
            close_it = 1;
        char body[128], head[512];
        int bl = snprintf(body, sizeof body, "bw_faultd status %ld\n", g_arg1);
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %ld %s\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %d\r\nConnection: %s\r\n\r\n",
                          g_arg1, reason(g_arg1), bl, close_it ? "close" : "keep-alive");
        out_append(c, head, hl);
        if (strncmp(start, "HEAD ", 5) != 0)
            out_append(c, body, bl);
        memmove(c->in, c->in + total, c->in_len - total);
        c->in_len -= total;
        if (close_it) {
            c->close_after = 1;
            return;
        }
    }
}

/* Handles readable input on connection c; returns -1 when it must be closed. */
static int on_readable(struct conn *c)
{
    char buf[IN_CHUNK];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        c->peer_eof = 1;
        return 0;
    }
    switch (g_mode) {
    case M_RESET:
    case M_HANG:
        return 0;               /* swallowed */
    case M_HTTP:
        if (c->in_len + n > c->in_cap) {
            size_t cap = c->in_cap ? c->in_cap : 8192;
            while (cap < c->in_len + n)
                cap *= 2;
            c->in = realloc(c->in, cap);
            if (!c->in)
                die("realloc");
            c->in_cap = cap;
        }
        memcpy(c->in + c->in_len, buf, n);
        c->in_len += n;
        http_serve(c);
        return 0;
    default:
        out_append(c, buf, n);
        return 0;
    }
}

/* Writes pending output, honouring slice/slow pacing; -1 on a dead peer. */
static int on_writable(struct conn *c)
{
    int64_t t = now_ms();
    if (c->next_write > t)
        return 0;
    size_t n = c->out_len - c->out_off;
    if (g_mode == M_SLICE && n > (size_t)g_arg1)
        n = g_arg1;
    if (g_mode == M_SLOW) {
        size_t per_tick = g_arg1 / 100 > 0 ? g_arg1 / 100 : 1;    /* 10 ms ticks */
        if (n > per_tick)
            n = per_tick;
    }
    ssize_t w = send(c->fd, c->out + c->out_off, n, MSG_NOSIGNAL);
    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    c->out_off += w;
    if (g_mode == M_SLICE && g_arg2 > 0)
        c->next_write = t + g_arg2;
    if (g_mode == M_SLOW)
        c->next_write = t + (g_arg1 >= 100 ? 10 : 1000 / (g_arg1 > 0 ? g_arg1 : 1));
    return 0;
}

static void accept_all(int lfd)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        add_conn(fd);
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bw_faultd [-6] [-p PORT] [--max-seconds S] [--count-file PATH] MODE [ARG...]\n"
            "modes: echo | reset [MS] | hang | blackhole | late MS | http STATUS |\n"
            "       flap UP_MS DOWN_MS | slow BYTES_PER_SEC | slice N [DELAY_MS]\n");
    exit(2);
}

static long num_arg(char **argv, int i, int argc, int required, long dflt)
{
    if (i >= argc) {
        if (required)
            usage();
        return dflt;
    }
    char *e;
    long v = strtol(argv[i], &e, 10);
    if (*e || v < 0)
        usage();
    return v;
}

static void parse_args(int argc, char **argv, long *max_seconds)
{
    static const struct option opts[] = {
        { "max-seconds", required_argument, NULL, 'm' },
        { "count-file", required_argument, NULL, 'c' },
        { "port", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "+6p:", opts, NULL)) != -1) {
        switch (o) {
        case '6': g_ipv6 = 1; break;
        case 'p': g_port = atoi(optarg); break;
        case 'm': *max_seconds = atol(optarg); break;
        case 'c': g_count_file = optarg; break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *m = argv[optind];
    int a = optind + 1;
    if (!strcmp(m, "echo")) g_mode = M_ECHO;
    else if (!strcmp(m, "reset")) { g_mode = M_RESET; g_arg1 = num_arg(argv, a, argc, 0, 0); }
    else if (!strcmp(m, "hang")) g_mode = M_HANG;
    else if (!strcmp(m, "blackhole")) g_mode = M_BLACKHOLE;
    else if (!strcmp(m, "late")) { g_mode = M_LATE; g_arg1 = num_arg(argv, a, argc, 1, 0); }
    else if (!strcmp(m, "http")) { g_mode = M_HTTP; g_arg1 = num_arg(argv, a, argc, 1, 0); }
    else if (!strcmp(m, "flap")) {
        g_mode = M_FLAP;
        g_arg1 = num_arg(argv, a, argc, 1, 0);
        g_arg2 = num_arg(argv, a + 1, argc, 1, 0);
    } else if (!strcmp(m, "slow")) { g_mode = M_SLOW; g_arg1 = num_arg(argv, a, argc, 1, 0); }
    else if (!strcmp(m, "slice")) {
        g_mode = M_SLICE;
        g_arg1 = num_arg(argv, a, argc, 1, 0);
        g_arg2 = num_arg(argv, a + 1, argc, 0, 0);
        if (g_arg1 < 1)
            usage();
    } else usage();
    if (g_mode == M_HTTP && (g_arg1 < 100 || g_arg1 > 999))
        usage();
}

int main(int argc, char **argv)
{
    long max_seconds = 300;
    parse_args(argc, argv, &max_seconds);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    reserve_port();
    int64_t t0 = now_ms(), deadline = t0 + max_seconds * 1000;
    int64_t phase_end = 0;      /* late/flap: when the listener changes */
    if (g_mode == M_LATE) {
        phase_end = t0 + g_arg1;
    } else if (g_mode == M_BLACKHOLE) {
        start_listening(0);
        fill_queue(0);
        if (g_ipv6)
            fill_queue(1);
    } else {
        start_listening(128);
        if (g_mode == M_FLAP)
            phase_end = t0 + g_arg1;
    }
    write_count();
    printf("port %d\n", g_port);
    fflush(stdout);

    struct pollfd pfd[MAX_CONNS + 2];
    while (!g_stop) {
        int64_t t = now_ms();
        if (t >= deadline)
            break;
        if (phase_end && t >= phase_end) {
            if (g_mode == M_LATE) {
                start_listening(128);
                phase_end = 0;
            } else if (g_listen[0] >= 0) {
                stop_listening();
                phase_end = t + g_arg2;
            } else {
                start_listening(128);
                phase_end = t + g_arg1;
            }
        }
        int64_t wake = deadline;
        if (phase_end && phase_end < wake)
            wake = phase_end;
        int np = 0;
        if (g_mode != M_BLACKHOLE)
            for (int i = 0; i < 2; i++)
                if (g_listen[i] >= 0)
                    pfd[np++] = (struct pollfd){ .fd = g_listen[i], .events = POLLIN };
        int nl = np;
        for (int i = 0; i < g_nconns; i++) {
            struct conn *c = &g_conns[i];
            short ev = 0;
            int pending = c->out_len > c->out_off;
            if (!c->peer_eof && (!pending || c->out_len - c->out_off < OUT_HIGH))
                ev |= POLLIN;
            if (pending) {
                if (c->next_write > t) {
                    if (c->next_write < wake)
                        wake = c->next_write;
                } else {
                    ev |= POLLOUT;
                }
            }
            if (c->reset_at && c->reset_at < wake)
                wake = c->reset_at;
            pfd[np++] = (struct pollfd){ .fd = c->fd, .events = ev };
        }
        int timeout = (int)(wake - t);
        if (timeout < 0)
            timeout = 0;
        if (poll(pfd, np, timeout) < 0 && errno != EINTR)
            die("poll");
        for (int i = 0; i < nl; i++)
            if (pfd[i].revents & POLLIN)
                accept_all(pfd[i].fd);
        /* Walk connections backwards: drop_conn moves the last one into slot i,
         * and the pollfd array still matches the pre-accept order. */
        int ncheck = np - nl;
        t = now_ms();
        for (int i = ncheck - 1; i >= 0; i--) {
            struct conn *c = &g_conns[i];
            short re = pfd[nl + i].revents;
            int dead = 0;
            if (g_mode == M_RESET && t >= c->reset_at) {
                drop_conn(i, 1);
                continue;
            }
            if (re & (POLLIN | POLLHUP | POLLERR))
                dead = on_readable(c) < 0;
            if (!dead && c->out_len > c->out_off && (re & POLLOUT || c->next_write <= t))
                dead = on_writable(c) < 0;
            int flushed = c->out_len == c->out_off;
            if (!dead && flushed && (c->close_after || (c->peer_eof && g_mode != M_HANG &&
                                                        g_mode != M_RESET)))
                dead = 1;
            if (!dead && c->peer_eof && g_mode == M_HANG)
                dead = 1;       /* hang: the client gave up */
            if (dead)
                drop_conn(i, 0);
        }
    }
    return 0;
}
