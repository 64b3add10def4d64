/*
 * tls_prop - property-test client for Idempotency-Key injection inside TLS
 * (issue 16 stage 3), on the system libssl.
 *
 *   tls_prop HOST PORT SEED NCONN OUTDIR block|nonblock
 *
 * The request streams, their saved copies and key offsets are idem_prop's
 * (its generator is included below). Each connection is TLS, with random
 * choices per connection: the transport is the socket (SSL_set_fd) or a BIO
 * of this program's own that calls send/recv (as curl's does, so the shim
 * must learn the socket from inside the call); SSL_MODE_ENABLE_PARTIAL_WRITE
 * on or off; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER on or off. The stream goes
 * out in random calls of SSL_write and SSL_write_ex. In nonblock mode the
 * socket is non-blocking with SO_SNDBUF 4096 against a slow reader: after
 * WANT_WRITE the call is repeated with the same length, from a copy at
 * another address when the buffer may move. Every return is checked against
 * the library's rules: all of a call's bytes without partial writes, at most
 * them with. Prints one summary line; exits 1 on any broken promise.
 */
#define main idem_prop_main
#include "idem_prop.c"
#undef main

#include <openssl/err.h>
#include <openssl/ssl.h>

static unsigned long n_want_write, n_want_read, n_moved, n_partial, n_own_bio;

static int bio_write(BIO *b, const char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = send(fd, p, (size_t)n, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

static int bio_read(BIO *b, char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(fd, p, (size_t)n, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO *own_bio(int fd)
{
    static BIO_METHOD *m;
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tls_prop");
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
    }
    BIO *b = BIO_new(m);
    BIO_set_data(b, (void *)(intptr_t)fd);
    BIO_set_init(b, 1);
    return b;
}

/* Waits as SSL_get_error says; dies on anything but WANT_READ/WANT_WRITE. */
static void wait_ssl(SSL *s, int fd, int ret, const char *what)
{
    int e = SSL_get_error(s, ret);
    if (e == SSL_ERROR_WANT_WRITE) {
        n_want_write++;
        wait_fd(fd, POLLOUT);
    } else if (e == SSL_ERROR_WANT_READ) {
        n_want_read++;
        wait_fd(fd, POLLIN);
    } else {
        ERR_print_errors_fp(stderr);
        die("%s failed: SSL error %d (errno %s)", what, e, strerror(errno));
    }
}

/* Sends all of b on s in random calls, following the retry rules. */
static void tls_send_all(SSL *s, int fd, const struct buf *b, bool partial, bool moving)
{
    size_t pos = 0;
    time_t start = time(NULL);
    unsigned char *copy = NULL;
    while (pos < b->len) {
        size_t want = rn(4) ? 1 + rn(rn(2) ? 64 : 20000) : 1 + rn(300000);
        if (want > b->len - pos)
            want = b->len - pos;
        bool ex = rn(2);
        const unsigned char *from = b->p + pos;
        for (;;) {
            if (time(NULL) - start > 60)
                die("stream not sent within 60 s");
            size_t put = 0;
            int r;
            if (ex) {
                r = SSL_write_ex(s, from, want, &put);
            } else {
                r = SSL_write(s, from, (int)want);
                put = r > 0 ? (size_t)r : 0;
            }
            n_calls++;
            if (r > 0) {
                if (put == 0 || put > want || (!partial && put != want))
                    die("a write of %zu bytes took %zu (partial %d)", want, put, partial);
                if (put < want)
                    n_partial++;
                pos += put;
                break;
            }
            wait_ssl(s, fd, r, "SSL_write");
            if (moving) {   /* the same bytes from another address */
                free(copy);
                copy = malloc(want);
                if (!copy)
                    die("out of memory");
                memcpy(copy, b->p + pos, want);
                from = copy;
                n_moved++;
            }
        }
    }
    free(copy);
}

int main(int argc, char **argv)
{
    if (argc != 7)
        die("usage: tls_prop HOST PORT SEED NCONN OUTDIR block|nonblock");
    rng_state = strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
    int nconn = atoi(argv[4]);
    bool nonblock = strcmp(argv[6], "nonblock") == 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    size_t total = 0;
    for (int i = 1; i <= nconn; i++) {
        struct buf b = {0};
        make_stream(argv[5], i, &b);
        int fd = dial(argv[1], argv[2], nonblock);
        SSL *s = SSL_new(ctx);
        bool partial = rn(2), moving = rn(2);
        SSL_set_mode(s, (partial ? SSL_MODE_ENABLE_PARTIAL_WRITE : 0) |
                            (moving ? SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER : 0));
        if (rn(2)) {
            BIO *bio = own_bio(fd);
            SSL_set_bio(s, bio, bio);
            n_own_bio++;
        } else {
            SSL_set_fd(s, fd);
        }
        int r;
        while ((r = SSL_connect(s)) != 1)
            wait_ssl(s, fd, r, "SSL_connect");
        tls_send_all(s, fd, &b, partial, moving);
        while ((r = SSL_shutdown(s)) < 0)
            wait_ssl(s, fd, r, "SSL_shutdown");
        SSL_free(s);
        finish(fd);
        total += b.len;
        free(b.p);
    }
    SSL_CTX_free(ctx);
    printf("conns %d bytes %zu requests %lu keys %lu calls %lu want_write %lu want_read %lu "
           "moved %lu partial %lu own_bio %lu\n", nconn, total, n_reqs, n_keys, n_calls,
           n_want_write, n_want_read, n_moved, n_partial, n_own_bio);
    return 0;
}
