/*
 * idem_post - keep-alive POST throughput, for the idempotency benchmark.
 *
 *   idem_post serve SECONDS        a minimal responder on 127.0.0.1: prints
 *                                  "port N", answers every request (header
 *                                  block + Content-Length body) with an empty
 *                                  200, one connection at a time; exits after
 *                                  SECONDS
 *   idem_post client PORT N BODY   N POSTs of BODY bytes on one keep-alive
 *                                  connection, each written as a header write
 *                                  and a body write, each awaiting its
 *                                  response; prints requests per second and
 *                                  the process's CPU microseconds per request
 *
 * The client is what runs under the shim; the responder never does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

static void die(const char *what)
{
    fprintf(stderr, "idem_post: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("write");
        p += r;
        n -= (size_t)r;
    }
}

/* Serves one connection until EOF or error; then prints "requests R keys K"
 * (K: header blocks that carried an Idempotency-Key line), so the benchmark
 * can tell injection really happened. */
static void serve_conn(int fd)
{
    static char buf[1 << 16];
    size_t have = 0;
    unsigned long reqs = 0, keys = 0;
    for (;;) {
        char *end = memmem(buf, have, "\r\n\r\n", 4);
        if (!end) {
            if (have == sizeof buf)
                break;
            ssize_t r = read(fd, buf + have, sizeof buf - have);
            if (r <= 0)
                break;
            have += (size_t)r;
            continue;
        }
        size_t hlen = (size_t)(end - buf) + 4, cl = 0;
        for (char *p = buf; p < end; p++)
            if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
                cl = strtoul(p + 15, NULL, 10);
        size_t need = hlen + cl;
        if (need > sizeof buf)
            break;   /* the benchmark's requests are small */
        while (have < need) {
            ssize_t r = read(fd, buf + have, sizeof buf - have);
            if (r <= 0)
                goto out;
            have += (size_t)r;
        }
        reqs++;
        keys += memmem(buf, hlen, "\nIdempotency-Key: ", 18) != NULL;
        memmove(buf, buf + need, have - need);
        have -= need;
        write_all(fd, resp, sizeof resp - 1);
    }
out:
    printf("requests %lu keys %lu\n", reqs, keys);
    fflush(stdout);
}

_Noreturn static void serve(int seconds)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16) ||
        getsockname(ls, (struct sockaddr *)&a, &al))
        die("listen");
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    alarm((unsigned)seconds);   /* bounded: the benchmark script may die first */
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve_conn(fd);
        close(fd);
    }
}

/* Reads one empty-bodied response (the responder's fixed one). */
static void read_resp(int fd)
{
    char buf[256];
    size_t have = 0;
    while (have < sizeof resp - 1) {
        ssize_t r = read(fd, buf + have, sizeof resp - 1 - have);
        if (r <= 0)
            die("read");
        have += (size_t)r;
    }
}

static int client(int port, long n, size_t body_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a))
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *body = malloc(body_len + 1), hdr[512];
    memset(body, 'b', body_len);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        int hl = snprintf(hdr, sizeof hdr,
                          "POST /orders/%ld HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idem_post\r\n"
                          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                          i, body_len);
        write_all(fd, hdr, (size_t)hl);
        write_all(fd, body, body_len);
        read_resp(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    printf("%.0f %.3f\n", n / s, cpu * 1e6 / (double)n);
    close(fd);
    free(body);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        serve(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "client") == 0)
        return client(atoi(argv[2]), atol(argv[3]), (size_t)atol(argv[4]));
    fprintf(stderr, "usage: idem_post serve SECONDS | client PORT N BODY\n");
    return 2;
}
