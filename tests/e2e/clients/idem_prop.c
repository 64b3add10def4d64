/*
 * idem_prop - property-test client for Idempotency-Key injection (SPEC section 6).
 *
 *   idem_prop HOST PORT SEED NCONN OUTDIR block|nonblock
 *
 * For each of NCONN connections (one after another) it generates a random,
 * seeded stream of pipelined HTTP/1.x requests (GET, HEAD, DELETE, POST, PATCH,
 * PUT; Content-Length, chunked with extensions and trailers, empty bodies;
 * CRLF or bare LF; bodies that look like requests; some requests already
 * carrying a key), saves it as OUTDIR/sent-I.bin and the program offsets
 * where a key line must appear (the blank line ending each POST/PATCH header
 * block without a key) as OUTDIR/sent-I.off, then writes it on one TCP
 * connection in random splits: 1-byte writes, large writes, writev with
 * several iovecs, send with MSG_DONTWAIT, sendmsg, sendto. In nonblock mode
 * the socket is non-blocking with SO_SNDBUF 4096, so short writes and EAGAIN
 * happen against a slow reader. Every return value is checked to be within
 * the bytes asked for; the rest is retried. Then it shuts down its side and
 * waits (bounded) for the server's EOF, so the server sees connections in
 * order. Prints one summary line; exits 1 on any broken promise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 20000   /* longest wait for the socket to drain or the server's EOF */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static uint64_t rng_state;
static unsigned long n_short, n_eagain, n_calls, n_keys, n_reqs;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("idem_prop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* xorshift64*: seeded, so a failing stream can be regenerated. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t rn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Random body bytes; sometimes text that looks like a request of its own. */
static void body_bytes(struct buf *b, size_t n)
{
    static const char fake[] = "\r\n\r\nPOST /x HTTP/1.1\r\nHost: y\r\n\r\n";
    size_t start = b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rnd();
        put(b, &c, 1);
    }
    if (n >= sizeof fake && rn(3) == 0)
        memcpy(b->p + start + rn(n - sizeof fake + 2), fake, sizeof fake - 1);
}

static size_t body_len(void)
{
    switch (rn(6)) {
    case 0: return 0;
    case 1: return 1 + rn(16);
    case 2: return rn(1024);
    case 3: return rn(16384);
    case 4: return rn(4) == 0 ? rn(131072) : rn(200);
    default: return rn(4096);
    }
}

static void field(struct buf *b, const char *eol)
{
    static const char *names[] = {"X-Test", "accept", "User-Agent", "X-Idempotency-Key-Not",
                                  "Idempotency-Keys", "X-Long", "cache-control"};
    const char *nm = names[rn(sizeof names / sizeof *names)];
    putf(b, "%s:%s", nm, rn(4) ? " " : "");
    size_t vl = strcmp(nm, "X-Long") == 0 ? rn(8000) : rn(60);
    for (size_t i = 0; i < vl; i++) {
        char c = (char)(0x21 + rn(94));
        put(b, &c, 1);
    }
    puts_(b, eol);
}

/* Appends one request to b; records where its key line must go, if any. */
static void gen_request(struct buf *b, struct buf *offs)
{
    static const char *methods[] = {"GET", "POST", "POST", "PATCH", "PUT", "DELETE", "HEAD",
                                    "POST", "OPTIONS", "post"};
    const char *m = methods[rn(sizeof methods / sizeof *methods)];
    const char *eol = rn(12) == 0 ? "\n" : "\r\n";
    bool http10 = rn(10) == 0;
    bool keyed = strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0;
    bool has_key = false;
    n_reqs++;
    if (rn(15) == 0)
        puts_(b, eol);   /* an empty line before a request line is allowed */
    putf(b, "%s /p/%lu?q=%u HTTP/1.%c%s", m, n_reqs, (unsigned)rn(100000), http10 ? '0' : '1', eol);
    putf(b, "Host: 127.0.0.1%s", eol);
    int nf = (int)rn(6);
    int key_at = keyed && rn(6) == 0 ? (int)rn((size_t)nf + 1) : -1;
    int body = rn(5) ? (int)rn(3) : 0;   /* 0 none, 1 Content-Length, 2 chunked */
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "DELETE") == 0)
        body = rn(8) == 0 ? 1 : 0;
    if (http10 && body == 2)
        body = 1;
    size_t cl = body == 1 ? body_len() : 0;
    for (int i = 0; i <= nf; i++) {
        if (i == key_at) {
            static const char *kn[] = {"Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"};
            putf(b, "%s: client-%lu%s", kn[rn(3)], n_reqs, eol);
            has_key = true;
        }
        if (i == nf / 2 && body == 1)
            putf(b, "%s: %zu%s", rn(2) ? "Content-Length" : "content-length", cl, eol);
        if (i == nf / 2 && body == 2)
            putf(b, "Transfer-Encoding: %schunked%s", rn(3) ? "" : "gzip, ", eol);
        if (i < nf)
            field(b, eol);
    }
    if (keyed && !has_key) {
        unsigned long off = (unsigned long)b->len;
        putf(offs, "%lu\n", off);
        n_keys++;
    }
    puts_(b, eol);
    if (body == 1)
        body_bytes(b, cl);
    if (body == 2) {
        int nch = (int)rn(5);
        for (int i = 0; i < nch; i++) {
            size_t n = 1 + rn(rn(4) ? 300 : 20000);
            putf(b, rn(2) ? "%zx" : "%03zX", n);
            if (rn(3) == 0)
                putf(b, ";ext%d=%s", i, rn(2) ? "v" : "\"q v\"");
            puts_(b, eol);
            body_bytes(b, n);
            puts_(b, eol);
        }
        putf(b, "0%s%s", rn(4) == 0 ? ";last" : "", eol);
        for (int t = (int)rn(3); t > 0; t--)
            putf(b, "X-Trailer-%d: %u%s", t, (unsigned)rn(1000), eol);
        puts_(b, eol);
    }
}

static void save(const char *dir, const char *name, int i, const struct buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sent-%d.%s", dir, i, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0)
        die("cannot write %s", path);
}

/* Generates connection i's stream into b (empty) and saves it, with the
 * offsets where a key line must appear, in dir. */
static void make_stream(const char *dir, int i, struct buf *b)
{
    struct buf offs = {0};
    int nreq = 1 + (int)rn(rn(4) ? 12 : 40);
    for (int r = 0; r < nreq; r++)
        gen_request(b, &offs);
    put(&offs, "", 0);
    save(dir, "bin", i, b);
    save(dir, "off", i, &offs);
    free(offs.p);
}

static void wait_fd(int fd, short ev)
{
    struct pollfd p = {fd, ev, 0};
    int r;
    do
        r = poll(&p, 1, WAIT_MS);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        die("socket not ready after %d ms", WAIT_MS);
}

/* One write call of a random kind over data[0..n); returns what it returned. */
static ssize_t one_call(int fd, const unsigned char *data, size_t n, int style, size_t *asked)
{
    size_t want;
    switch (style == 0 ? 0 : style == 1 ? 2 : (int)rn(10)) {
    case 0: case 1: want = 1; break;
    case 2: want = 1 + rn(64); break;
    case 3: want = 1 + rn(8192); break;
    case 4: want = rn(50) ? 1 + rn(3000) : 0; break;
    default: want = 1 + rn(rn(2) ? 300000 : 3000); break;
    }
    if (want > n)
        want = n;
    *asked = want;
    n_calls++;
    int kind = (int)rn(6);
    if (kind == 0)
        return write(fd, data, want);
    if (kind == 1)
        return send(fd, data, want, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (kind == 2)
        return sendto(fd, data, want, MSG_NOSIGNAL, NULL, 0);
    struct iovec v[8];
    int nv = 1 + (int)rn(8);
    size_t pos = 0;
    for (int i = 0; i < nv; i++) {
        size_t l = i == nv - 1 ? want - pos : rn(want - pos + 1);
        v[i] = (struct iovec){(void *)(data + pos), l};   /* some may be empty */
        pos += l;
    }
    if (kind == 3)
        return writev(fd, v, nv);
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = v;
    mh.msg_iovlen = (size_t)nv;
    return sendmsg(fd, &mh, kind == 4 ? MSG_DONTWAIT : 0);
}

/* Sends all of b; style 0: 1-byte calls, 1: up to 64 bytes, 2: any mix. */
static void send_all(int fd, const struct buf *b, int style)
{
    size_t pos = 0;
    time_t start = time(NULL);
    while (pos < b->len) {
        if (time(NULL) - start > 60)
            die("stream not sent within 60 s");
        size_t asked;
        ssize_t r = one_call(fd, b->p + pos, b->len - pos, style, &asked);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                n_eagain++;
                wait_fd(fd, POLLOUT);
                continue;
            }
            if (errno == EINTR)
                continue;
            die("write failed at %zu: %s", pos, strerror(errno));
        }
        if ((size_t)r > asked)
            die("a write of %zu bytes returned %zd", asked, r);
        if (r == 0 && asked > 0)
            die("a write of %zu bytes returned 0", asked);
        if ((size_t)r < asked)
            n_short++;
        pos += (size_t)r;
    }
}

static int dial(const char *host, const char *port, bool nonblock)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        die("bad address %s", host);
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (nonblock) {
        int sz = 4096;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        die("connect: %s", strerror(errno));
    freeaddrinfo(ai);
    if (nonblock)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Half-closes and reads until the server's EOF (it closes after saving). */
static void finish(int fd)
{
    char tmp[4096];
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 1000; i++) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r == 0)
            break;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            wait_fd(fd, POLLIN);
        else if (r < 0 && errno != EINTR)
            die("read: %s", strerror(errno));
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 7)
        die("usage: idem_prop HOST PORT SEED NCONN OUTDIR block|nonblock");
    rng_state = strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
    int nconn = atoi(argv[4]);
    bool nonblock = strcmp(argv[6], "nonblock") == 0;
    size_t total = 0;
    for (int i = 1; i <= nconn; i++) {
        struct buf b = {0};
        make_stream(argv[5], i, &b);
        int fd = dial(argv[1], argv[2], nonblock);
        send_all(fd, &b, (int)rn(3));
        finish(fd);
        total += b.len;
        free(b.p);
    }
    printf("conns %d bytes %zu requests %lu keys %lu calls %lu short %lu eagain %lu\n", nconn,
           total, n_reqs, n_keys, n_calls, n_short, n_eagain);
    return 0;
}
