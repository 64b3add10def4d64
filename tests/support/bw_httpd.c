/*
 * bw_httpd - a small recording HTTP/1.1 server for breakwater's end-to-end tests.
 *
 *   bw_httpd [-6] [-p PORT] [-d DIR] [-r RECORD] [--max-seconds S]
 *   bw_httpd --gen N          print the N bytes GET /bytes/N serves, and exit
 *
 * Routes (any method; a request body is always read, by Content-Length or chunked):
 *   GET|HEAD /bytes/N   N deterministic pseudo-random bytes (same as --gen N)
 *   GET|HEAD /status/S  status S with a one-line body
 *   GET|HEAD /PATH      with -d DIR: the file DIR/PATH ("..", symlinks out: 404)
 *   any other request   200 with {"method":..,"path":..,"length":N,"sha256":".."}
 *                       describing the body it carried
 * Keep-alive (HTTP/1.1 default, "Connection: close" honoured, HTTP/1.0 closes
 * unless keep-alive), "Expect: 100-continue" answered, a thread per connection.
 *
 * -r RECORD appends one line per request, fields separated by TAB:
 *   CONN SEQ METHOD TARGET BODY_LEN BODY_SHA256 HEADER...
 * CONN numbers connections from 1, SEQ numbers requests on a connection from 1,
 * each HEADER is "Name: value" exactly as received (in order), with '\\', TAB,
 * CR and LF written as \\ \t \r \n. Lines are written whole (one write, O_APPEND).
 *
 * -p PORT: 0 (default) lets the kernel choose; the first stdout line is
 * "port N" (always printed, flushed). -6 also listens on [::1], same port.
 * --max-seconds S (default 300): exits by itself after S seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_MAX (64 * 1024)
#define IO_TIMEOUT_S 60

/* ---- SHA-256 (FIPS 180-4), enough for checksumming request bodies ---- */
struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(struct sha256 *s, const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
    e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->n = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->len += len;
    while (len > 0) {
        size_t k = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, k);
        s->n += k;
        p += k;
        len -= k;
        if (s->n == 64) {
            sha_block(s, s->buf);
            s->n = 0;
        }
    }
}

static void sha_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    sha_update(s, &pad, 1);
    while (s->n != 56)
        sha_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = bits >> (56 - 8 * i);
    sha_update(s, lenb, 8);
    for (int i = 0; i < 8; i++)
        sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* ---- deterministic bytes for /bytes/N: xorshift64*, fixed seed ---- */
static void gen_bytes(uint64_t *state, unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((i & 7) == 0) {
            uint64_t x = *state;
            x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
            *state = x;
        }
        buf[i] = (unsigned char)((*state * 0x2545F4914F6CDD1DULL) >> (8 * (i & 7)));
    }
}
#define GEN_SEED 0x9E3779B97F4A7C15ULL
#define GEN_CHUNK 65536          /* gen_bytes is always fed whole chunks */

static const char *g_dir, *g_record;
static int g_record_fd = -1;
static pthread_mutex_t g_record_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long g_conn_seq;
static pthread_mutex_t g_conn_lock = PTHREAD_MUTEX_INITIALIZER;

/* One connection: a buffered reader over the socket. */
struct client {
    int fd;
    unsigned long id;
    char buf[HDR_MAX];
    size_t len, off;
};

/* Fills the buffer if empty; returns bytes available, 0 on EOF/error. */
static size_t fill(struct client *c)
{
    if (c->off < c->len)
        return c->len - c->off;
    c->off = c->len = 0;
    ssize_t n;
    do
        n = read(c->fd, c->buf, sizeof c->buf);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    c->len = n;
    return n;
}

/* Reads one line (without CRLF) into out; -1 on EOF or an over-long line. */
static int read_line(struct client *c, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (!fill(c))
            return -1;
        char ch = c->buf[c->off++];
        if (ch == '\n') {
            if (n > 0 && out[n - 1] == '\r')
                n--;
            out[n] = 0;
            return (int)n;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
}

/* Reads exactly n body bytes into the hash; -1 on EOF. */
static int read_body(struct client *c, uint64_t n, struct sha256 *sha)
{
    while (n > 0) {
        size_t avail = fill(c);
        if (!avail)
            return -1;
        size_t k = avail < n ? avail : n;
        sha_update(sha, c->buf + c->off, k);
        c->off += k;
        n -= k;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= w;
    }
    return 0;
}

/* Appends the escaped form of s to the line. */
static void esc_append(char **line, size_t *len, size_t *cap, const char *s)
{
    for (; *s; s++) {
        if (*len + 3 > *cap) {
            *cap *= 2;
            *line = realloc(*line, *cap);
            if (!*line)
                abort();
        }
        char e = *s == '\\' ? '\\' : *s == '\t' ? 't' : *s == '\r' ? 'r' : *s == '\n' ? 'n' : 0;
        if (e) {
            (*line)[(*len)++] = '\\';
            (*line)[(*len)++] = e;
        } else {
            (*line)[(*len)++] = *s;
        }
    }
}

static void record(unsigned long conn, unsigned long seq, const char *method, const char *target,
                   uint64_t blen, const char *hex, char **hdrs, int nh)
{
    if (g_record_fd < 0)
        return;
    size_t cap = 1024, len = 0;
    char *line = malloc(cap), head[128];
    if (!line)
        abort();
    snprintf(head, sizeof head, "%lu\x01%lu\x01", conn, seq);
    esc_append(&line, &len, &cap, head);
    esc_append(&line, &len, &cap, method);
    esc_append(&line, &len, &cap, "\x01");
    esc_append(&line, &len, &cap, target);
    snprintf(head, sizeof head, "\x01%llu\x01%s", (unsigned long long)blen, hex);
    esc_append(&line, &len, &cap, head);
    for (int i = 0; i < nh; i++) {
        esc_append(&line, &len, &cap, "\x01");
        esc_append(&line, &len, &cap, hdrs[i]);
    }
    for (size_t i = 0; i < len; i++)   /* \x01 marks the real field separators */
        if (line[i] == '\x01')
            line[i] = '\t';
    line[len++] = '\n';
    pthread_mutex_lock(&g_record_lock);
    if (write(g_record_fd, line, len) != (ssize_t)len)
        perror("bw_httpd: record");
    pthread_mutex_unlock(&g_record_lock);
    free(line);
}

static int send_head(int fd, int status, const char *reason, uint64_t clen, const char *ctype,
                     int keep)
{
    char h[512];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nServer: bw_httpd\r\nContent-Type: %s\r\n"
                     "Content-Length: %llu\r\nConnection: %s\r\n\r\n",
                     status, reason, ctype, (unsigned long long)clen, keep ? "keep-alive" : "close");
    return write_all(fd, h, n);
}

static int send_simple(int fd, int status, const char *reason, const char *body, int head_only,
                       int keep)
{
    size_t n = strlen(body);
    if (send_head(fd, status, reason, n, "text/plain", keep) < 0)
        return -1;
    return head_only ? 0 : write_all(fd, body, n);
}

static int serve_bytes(int fd, uint64_t n, int head_only, int keep)
{
    if (send_head(fd, 200, "OK", n, "application/octet-stream", keep) < 0)
        return -1;
    if (head_only)
        return 0;
    unsigned char buf[GEN_CHUNK];
    uint64_t st = GEN_SEED;
    while (n > 0) {
        gen_bytes(&st, buf, GEN_CHUNK);
        size_t k = n < GEN_CHUNK ? n : GEN_CHUNK;
        if (write_all(fd, buf, k) < 0)
            return -1;
        n -= k;
    }
    return 0;
}

static int serve_file(int fd, const char *path, int head_only, int keep)
{
    char full[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    if (strstr(path, "..") || snprintf(full, sizeof full, "%s/%s", g_dir, path) >= (int)sizeof full ||
        !realpath(g_dir, real_dir) || !realpath(full, real_file) ||
        strncmp(real_dir, real_file, strlen(real_dir)) != 0)
        return send_simple(fd, 404, "Not Found", "not found\n", head_only, keep);
    int f = open(real_file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0)
            close(f);
        return send_simple(fd, 404, "Not Found", "not found\n", head_only, keep);
    }
    int rc = send_head(fd, 200, "OK", st.st_size, "application/octet-stream", keep);
    char buf[65536];
    off_t left = st.st_size;
    while (rc == 0 && !head_only && left > 0) {
        ssize_t n = read(f, buf, sizeof buf);
        if (n <= 0) {
            rc = -1;
            break;
        }
        rc = write_all(fd, buf, n);
        left -= n;
    }
    close(f);
    return rc;
}

static const char *hdr_value(char **hdrs, int nh, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < nh; i++)
        if (strncasecmp(hdrs[i], name, nl) == 0 && hdrs[i][nl] == ':') {
            const char *v = hdrs[i] + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    return NULL;
}

/* Serves one request; 1 to keep the connection, 0 to close it. */
static int serve_one(struct client *c, unsigned long seq)
{
    char line[HDR_MAX], method[32], target[8192], version[16];
    char *hdrs[256];
    int nh = 0, keep = 1, rc = 0;
    if (read_line(c, line, sizeof line) < 0)
        return 0;
    if (line[0] == 0 && read_line(c, line, sizeof line) < 0)   /* stray CRLF */
        return 0;
    if (sscanf(line, "%31s %8191s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        send_simple(c->fd, 400, "Bad Request", "bad request line\n", 0, 0);
        return 0;
    }
    for (;;) {
        int n = read_line(c, line, sizeof line);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (nh < 256 && !(hdrs[nh] = strdup(line)))
            abort();
        if (nh < 256)
            nh++;
    }
    const char *conn = hdr_value(hdrs, nh, "Connection");
    if (strcmp(version, "HTTP/1.0") == 0)
        keep = conn && strncasecmp(conn, "keep-alive", 10) == 0;
    else if (conn && strcasestr(conn, "close"))
        keep = 0;
    const char *expect = hdr_value(hdrs, nh, "Expect");
    if (expect && strncasecmp(expect, "100-continue", 12) == 0 &&
        write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
        goto out;

    struct sha256 sha;
    sha_init(&sha);
    uint64_t blen = 0;
    const char *te = hdr_value(hdrs, nh, "Transfer-Encoding");
    const char *cl = hdr_value(hdrs, nh, "Content-Length");
    if (te && strcasestr(te, "chunked")) {
        for (;;) {
            if (read_line(c, line, sizeof line) < 0)
                goto out;
            char *e;
            uint64_t n = strtoull(line, &e, 16);
            if (e == line)
                goto out;
            if (n == 0)
                break;
            if (read_body(c, n, &sha) < 0 || read_line(c, line, sizeof line) != 0)
                goto out;
            blen += n;
        }
        while ((rc = read_line(c, line, sizeof line)) > 0)    /* trailers */
            ;
        if (rc < 0)
            goto out;
    } else if (cl) {
        blen = strtoull(cl, NULL, 10);
        if (read_body(c, blen, &sha) < 0)
            goto out;
    }
    char hex[65];
    sha_hex(&sha, hex);
    record(c->id, seq, method, target, blen, hex, hdrs, nh);

    int head_only = strcmp(method, "HEAD") == 0;
    int get = head_only || strcmp(method, "GET") == 0;
    unsigned long long n;
    int st;
    if (get && sscanf(target, "/bytes/%llu", &n) == 1) {
        rc = serve_bytes(c->fd, n, head_only, keep);
    } else if (get && sscanf(target, "/status/%d", &st) == 1 && st >= 200 && st <= 999) {
        char body[64];
        snprintf(body, sizeof body, "status %d\n", st);
        rc = send_simple(c->fd, st, "Status", body, head_only, keep);
    } else if (get && g_dir) {
        rc = serve_file(c->fd, target + 1, head_only, keep);
    } else {
        char body[16384];
        char *q = body;
        q += snprintf(q, 64, "{\"method\":\"");
        for (const char *m = method; *m && q < body + 100; m++)
            *q++ = *m;
        q += snprintf(q, 32, "\",\"path\":\"");
        for (const char *t = target; *t && q < body + 8300; t++)
            if (*t != '"' && *t != '\\')
                *q++ = *t;
        snprintf(q, 256, "\",\"length\":%llu,\"sha256\":\"%s\"}\n", (unsigned long long)blen, hex);
        rc = send_head(c->fd, 200, "OK", strlen(body), "application/json", keep);
        if (rc == 0 && !head_only)
            rc = write_all(c->fd, body, strlen(body));
    }
    rc = rc == 0 && keep;
out:
    for (int i = 0; i < nh; i++)
        free(hdrs[i]);
    return rc;
}

static void *conn_thread(void *arg)
{
    struct client *c = arg;
    struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (unsigned long seq = 1; seq < 100000; seq++)
        if (!serve_one(c, seq))
            break;
    close(c->fd);
    free(c);
    return NULL;
}

static int listen_on(int v6, int port)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (v6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc < 0 || listen(fd, 256) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: bw_httpd [-6] [-p PORT] [-d DIR] [-r RECORD] [--max-seconds S]\n"
                    "       bw_httpd --gen N\n");
    exit(2);
}

static void *killer(void *arg)
{
    sleep((unsigned)(uintptr_t)arg);
    _exit(0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "max-seconds", required_argument, NULL, 'm' },
        { "gen", required_argument, NULL, 'g' },
        { NULL, 0, NULL, 0 },
    };
    long max_seconds = 300;
    int port = 0, v6 = 0, o;
    while ((o = getopt_long(argc, argv, "6p:d:r:", opts, NULL)) != -1) {
        switch (o) {
        case '6': v6 = 1; break;
        case 'p': port = atoi(optarg); break;
        case 'd': g_dir = optarg; break;
        case 'r': g_record = optarg; break;
        case 'm': max_seconds = atol(optarg); break;
        case 'g': {
            unsigned long long n = strtoull(optarg, NULL, 10);
            unsigned char buf[GEN_CHUNK];
            uint64_t st = GEN_SEED;
            while (n > 0) {
                gen_bytes(&st, buf, GEN_CHUNK);
                size_t k = n < GEN_CHUNK ? n : GEN_CHUNK;
                if (fwrite(buf, 1, k, stdout) != k)
                    return 1;
                n -= k;
            }
            return fflush(stdout) != 0;
        }
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    signal(SIGPIPE, SIG_IGN);
    if (g_record) {
        g_record_fd = open(g_record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g_record_fd < 0) {
            perror("bw_httpd: record file");
            return 1;
        }
    }
    int lfd[2] = { -1, -1 };
    for (int attempt = 0; attempt < 20 && lfd[0] < 0; attempt++) {
        lfd[0] = listen_on(0, port);
        if (lfd[0] < 0) {
            perror("bw_httpd: listen 127.0.0.1");
            return 1;
        }
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        getsockname(lfd[0], (struct sockaddr *)&a, &len);
        if (v6 && (lfd[1] = listen_on(1, ntohs(a.sin_port))) < 0) {
            close(lfd[0]);
            lfd[0] = -1;
            if (port) {
                perror("bw_httpd: listen ::1");
                return 1;
            }
            continue;
        }
        port = ntohs(a.sin_port);
    }
    if (lfd[0] < 0)
        return 1;
    printf("port %d\n", port);
    fflush(stdout);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, killer, (void *)(uintptr_t)max_seconds);
    struct pollfd p[2] = { { .fd = lfd[0], .events = POLLIN }, { .fd = lfd[1], .events = POLLIN } };
    for (;;) {
        if (poll(p, v6 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            struct client *c = malloc(sizeof *c);
            if (!c) {
                close(fd);
                continue;
            }
            c->fd = fd;
            c->len = c->off = 0;
            pthread_mutex_lock(&g_conn_lock);
            c->id = ++g_conn_seq;
            pthread_mutex_unlock(&g_conn_lock);
            if (pthread_create(&t, &attr, conn_thread, c) != 0) {
                close(fd);
                free(c);
            }
        }
    }
}
