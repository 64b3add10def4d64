/*
 * sidecar_http - the responder and load generator behind bench_sidecar.sh.
 *
 *   sidecar_http serve SECONDS      a tiny epoll HTTP responder on 127.0.0.1:
 *                                   prints "port N"; answers each request
 *                                   (a header block, no body) with a 2-byte
 *                                   200; closes after the response when the
 *                                   request says "Connection: close"
 *   sidecar_http client PORT N KA   N sequential GETs to 127.0.0.1:PORT, a new
 *                                   connection each (KA = 0) or all on one
 *                                   keep-alive connection (KA = 1); prints
 *                                   "P50_US P99_US CPU_US_PER_REQUEST"
 *   sidecar_http freeport           prints a free loopback port
 *
 * The client is what runs directly, under the shim, or through HAProxy; the
 * responder never runs under the shim. Everything is bounded: the responder
 * exits after SECONDS, the client after N requests (or its first error).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 8192
#define REQ_MAX 512

static const char resp_ka[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char resp_close[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

static void die(const char *what)
{
    fprintf(stderr, "sidecar_http: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int listener(struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    socklen_t len = sizeof *sin;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof *sin) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)sin, &len) != 0)
        die("listener");
    return fd;
}

/* Reads what fd has; answers each complete request in its buffer. Returns -1 when fd is done. */
static int serve_readable(int fd, char (*bufs)[REQ_MAX], int *have)
{
    ssize_t r = read(fd, bufs[fd] + have[fd], REQ_MAX - 1 - (size_t)have[fd]);
    if (r <= 0)
        return r < 0 && errno == EAGAIN ? 0 : -1;
    have[fd] += (int)r;
    bufs[fd][have[fd]] = '\0';
    char *end;
    while ((end = strstr(bufs[fd], "\r\n\r\n")) != NULL) {
        *end = '\0';
        int close_it = strstr(bufs[fd], "Connection: close") != NULL;
        const char *resp = close_it ? resp_close : resp_ka;
        size_t len = close_it ? sizeof resp_close - 1 : sizeof resp_ka - 1;
        if (write(fd, resp, len) != (ssize_t)len || close_it)
            return -1;   /* small responses on loopback: a short write is a dead peer */
        int used = (int)(end + 4 - bufs[fd]);
        memmove(bufs[fd], bufs[fd] + used, (size_t)(have[fd] - used) + 1);
        have[fd] -= used;
    }
    return have[fd] >= REQ_MAX - 1 ? -1 : 0;
}

static int serve(int seconds)
{
    static char bufs[MAXFD][REQ_MAX];
    static int have[MAXFD];
    struct sockaddr_in sin;
    int lfd = listener(&sin), one = 1;
    printf("port %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    alarm((unsigned)seconds);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[64];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    have[c] = 0;
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
            } else if (serve_readable(fd, bufs, have) < 0) {
                close(fd);   /* the server closes first: no TIME_WAIT on the client's ports */
            }
        }
    }
    return 0;
}

static int dial(int port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads one response (header block + Content-Length: 2 body); in close mode, until EOF. */
static void read_response(int fd, int until_eof)
{
    char buf[1024];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && until_eof && have > 0)
            return;
        if (r <= 0)
            die(r == 0 ? "response cut short" : "read");
        have += (size_t)r;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!until_eof && end && (size_t)(end + 4 - buf) + 2 <= have)
            return;
        if (have >= sizeof buf - 1)
            die("response too long");
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int client(int port, int n, int keepalive)
{
    static const char req_ka[] = "GET / HTTP/1.1\r\nHost: backend\r\n\r\n";
    static const char req_close[] = "GET / HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n";
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    if (!lat)
        die("calloc");
    int fd = keepalive ? dial(port) : -1;
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_ns();
        if (!keepalive)
            fd = dial(port);
        const char *req = keepalive ? req_ka : req_close;
        size_t len = keepalive ? sizeof req_ka - 1 : sizeof req_close - 1;
        if (write(fd, req, len) != (ssize_t)len)
            die("write");
        read_response(fd, !keepalive);
        if (!keepalive)
            close(fd);
        lat[i] = now_ns() - t0;
    }
    if (keepalive)
        close(fd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
                    ru.ru_stime.tv_usec;
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("%.2f %.2f %.3f\n", lat[n / 2] / 1e3, lat[(long)n * 99 / 100] / 1e3, cpu_us / n);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "client") == 0)
        return client(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc == 2 && strcmp(argv[1], "freeport") == 0) {
        struct sockaddr_in sin;
        int fd = listener(&sin);
        printf("%d\n", ntohs(sin.sin_port));
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: sidecar_http serve SECONDS | client PORT N KA | freeport\n");
    return 2;
}
