/*
 * tls_bench - the HTTPS benchmarks' client, on the system libssl.
 *
 *   tls_bench http PORT N        N keep-alive POSTs over one TLS connection to
 *                                127.0.0.1:PORT; prints "rps R"
 *   tls_bench untracked CERT KEY N
 *                                N round trips of a 64-byte SSL_write and its
 *                                SSL_read between two SSL objects of this
 *                                process over a socketpair (a descriptor the
 *                                shim does not track); prints "ns_per_pair X"
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/ssl.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "tls_bench: %s\n", what);
    exit(1);
}

/* Reads one response (headers with Content-Length, then its body). */
static void read_response(SSL *s)
{
    static char buf[65536];
    size_t have = 0;
    for (;;) {
        int r = SSL_read(s, buf + have, (int)(sizeof buf - 1 - have));
        if (r <= 0)
            die("SSL_read");
        have += (size_t)r;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strcasestr(buf, "content-length:");
        size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        if (have >= want)
            return;
    }
}

static int http(int port, long n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (SSL_connect(s) != 1)
        die("SSL_connect");
    const char req[] = "POST /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                       "Content-Type: text/plain\r\n\r\nhello";
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (SSL_write(s, req, (int)sizeof req - 1) != (int)sizeof req - 1)
            die("SSL_write");
        read_response(s);
    }
    double dt = now() - t0;
    printf("rps %.1f\n", (double)n / dt);
    SSL_shutdown(s);
    SSL_free(s);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}

/* Drives both handshakes over the socketpair in one thread. */
static void pair_handshake(SSL *c, SSL *s)
{
    int rc = 0, rs = 0;
    for (int i = 0; i < 1000 && (rc != 1 || rs != 1); i++) {
        if (rc != 1)
            rc = SSL_connect(c);
        if (rs != 1)
            rs = SSL_accept(s);
    }
    if (rc != 1 || rs != 1)
        die("in-process handshake");
}

static int untracked(const char *cert, const char *key, long n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        die("socketpair");
    SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_file(sc, cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1)
        die("certificate");
    SSL *c = SSL_new(cc), *s = SSL_new(sc);
    SSL_set_fd(c, sv[0]);
    SSL_set_fd(s, sv[1]);
    pair_handshake(c, s);
    char msg[64], got[64];
    memset(msg, 'x', sizeof msg);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (SSL_write(c, msg, sizeof msg) != sizeof msg || SSL_read(s, got, sizeof got) != sizeof got)
            die("round trip");
    }
    double dt = now() - t0;
    printf("ns_per_pair %.1f\n", dt * 1e9 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "http"))
        return http(atoi(argv[2]), atol(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "untracked"))
        return untracked(argv[2], argv[3], atol(argv[4]));
    die("usage: tls_bench http PORT N | untracked CERT KEY N");
    return 2;
}
