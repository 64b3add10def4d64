/*
 * vg_client.c - one pass over the shim's main paths, for tests/valgrind.sh.
 *
 *   vg_client HTTP_PORT REFUSED_PORT BROKEN_PORT
 *
 * HTTP_PORT is a bw_httpd (idempotency on in the config), REFUSED_PORT and
 * BROKEN_PORT have no listener (retries with tiny backoff; a breaker that opens
 * after 2 failures with breaker_errno = ECONNABORTED). In order: a keep-alive
 * POST, dup, a second POST on the duplicate with writev, dup2 + fdopen/fclose;
 * a non-blocking connect completed through poll and getsockopt(SO_ERROR); a
 * refused connect; two refused connects that open a breaker and one it
 * rejects; UDP and a socketpair passing through. One line per step on stdout;
 * exit status 0 when every step saw what it should.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int g_bad;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        g_bad++;
}

/* A socket connected (or not) to 127.0.0.1:port through getaddrinfo, so the
 * resolver hooks run too. Returns the fd; *err is connect's errno or 0. */
static int dial(const char *port, int flags, int *err)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    *err = 0;
    if (getaddrinfo("127.0.0.1", port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype | flags, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        *err = errno;
    freeaddrinfo(ai);
    return fd;
}

/* Reads one response (headers, then Content-Length bytes of body); returns
 * its status or -1. */
static int read_response(int fd)
{
    char buf[8192];
    size_t got = 0;
    char *end = NULL;
    while (!end && got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return -1;
    int status = -1;
    long clen = 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || (cl && sscanf(cl + 17, "%ld", &clen) != 1))
        return -1;
    long body = (long)(got - (size_t)(end + 4 - buf));
    while (body < clen) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return -1;
        body += n;
    }
    return status;
}

static int write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

static void http_steps(const char *port)
{
    int err;
    int fd = dial(port, 0, &err);
    check(fd >= 0 && err == 0, "http connect");
    if (fd < 0 || err)
        return;
    check(write_all(fd, "POST /vg/1 HTTP/1.1\r\nHost: vg\r\nContent-Length: 5\r\n\r\n") == 0 &&
              write_all(fd, "hello") == 0 && read_response(fd) == 200,
          "POST on a keep-alive connection");
    int d = dup(fd);
    check(d >= 0 && close(fd) == 0, "dup, close the original");
    static char head[] = "POST /vg/2 HTTP/1.1\r\nHost: vg\r\nContent-Length: 3\r\n\r\n";
    static char body[] = "abc";
    struct iovec iov[2] = {{head, sizeof head - 1}, {body, sizeof body - 1}};
    check(writev(d, iov, 2) == (ssize_t)(sizeof head + sizeof body - 2) && read_response(d) == 200,
          "POST by writev on the duplicate");
    int d2 = dup2(d, 100);
    check(d2 == 100 && close(d) == 0, "dup2, close the duplicate");
    FILE *f = fdopen(d2, "r+");
    check(f != NULL && fclose(f) == 0, "fdopen, fclose");
}

static void nonblocking_step(const char *port)
{
    int err;
    int fd = dial(port, SOCK_NONBLOCK, &err);
    check(fd >= 0 && (err == 0 || err == EINPROGRESS), "non-blocking connect");
    if (fd < 0)
        return;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int soerr = -1;
    socklen_t len = sizeof soerr;
    check(poll(&p, 1, 5000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
              soerr == 0,
          "SO_ERROR after poll");
    static const char req[] = "GET /bytes/10 HTTP/1.1\r\nHost: vg\r\nConnection: close\r\n\r\n";
    check(send(fd, req, sizeof req - 1, 0) == (ssize_t)sizeof req - 1, "send");
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    check(read_response(fd) == 200, "response on the non-blocking connection");
    close(fd);
}

static void refused_steps(const char *refused, const char *broken)
{
    int err;
    int fd = dial(refused, 0, &err);
    check(fd >= 0 && err == ECONNREFUSED, "refused after retries");
    close(fd);
    for (int i = 0; i < 2; i++) {
        fd = dial(broken, 0, &err);
        check(fd >= 0 && err == ECONNREFUSED, "refused, counted by the breaker");
        close(fd);
    }
    fd = dial(broken, 0, &err);
    check(fd >= 0 && err == ECONNABORTED, "rejected by the open breaker");
    close(fd);
}

static void passthrough_steps(void)
{
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(u >= 0 && connect(u, (struct sockaddr *)&a, sizeof a) == 0 && close(u) == 0, "udp");
    int sv[2];
    char c = 0;
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && write(sv[0], "x", 1) == 1 &&
              read(sv[1], &c, 1) == 1 && c == 'x' && close(sv[0]) == 0 && close(sv[1]) == 0,
          "socketpair");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vg_client HTTP_PORT REFUSED_PORT BROKEN_PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    http_steps(argv[1]);
    nonblocking_step(argv[1]);
    refused_steps(argv[2], argv[3]);
    passthrough_steps();
    return g_bad ? 1 : 0;
}
