/*
 * gnutls_prop - property-test client for Idempotency-Key injection through
 * GnuTLS's gnutls_record_send (issue 16 stage 3).
 *
 *   gnutls_prop HOST PORT SEED NCONN OUTDIR block|nonblock same|null
 *
 * The request streams, their saved copies and key offsets are idem_prop's
 * (its generator is included below). Each connection does a GnuTLS
 * handshake on its socket and sends the stream with gnutls_record_send in
 * random splits (GnuTLS sends at most one record per call: returns are
 * often short). In nonblock mode the socket is non-blocking with SO_SNDBUF
 * 4096 against a slow reader; after GNUTLS_E_AGAIN the call is repeated with
 * the same arguments ("same") or, GnuTLS's other way, with (NULL, 0)
 * ("null"). Every return is checked to be within the bytes offered. Prints
 * one summary line; exits 1 on any broken promise.
 */
#define main idem_prop_main
#include "idem_prop.c"
#undef main

#include <gnutls/gnutls.h>

static unsigned long n_again, n_null, n_partial;

static void check(int r, const char *what)
{
    if (r < 0)
        die("%s: %s", what, gnutls_strerror(r));
}

static void send_stream(gnutls_session_t s, int fd, const struct buf *b, bool null_retry)
{
    size_t pos = 0;
    time_t start = time(NULL);
    while (pos < b->len) {
        size_t want = rn(4) ? 1 + rn(rn(2) ? 64 : 20000) : 1 + rn(300000);
        if (want > b->len - pos)
            want = b->len - pos;
        bool retry = false;
        for (;;) {
            if (time(NULL) - start > 60)
                die("stream not sent within 60 s");
            ssize_t r = retry && null_retry ? gnutls_record_send(s, NULL, 0)
                                            : gnutls_record_send(s, b->p + pos, want);
            n_calls++;
            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                n_again++;
                n_null += null_retry;
                retry = true;
                wait_fd(fd, POLLOUT);
                continue;
            }
            check((int)r, "gnutls_record_send");
            if (r == 0 || (size_t)r > want)
                die("a send of %zu bytes returned %zd", want, r);
            if ((size_t)r < want)
                n_partial++;
            pos += (size_t)r;
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 8)
        die("usage: gnutls_prop HOST PORT SEED NCONN OUTDIR block|nonblock same|null");
    rng_state = strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
    int nconn = atoi(argv[4]);
    bool nonblock = strcmp(argv[6], "nonblock") == 0, null_retry = strcmp(argv[7], "null") == 0;
    gnutls_certificate_credentials_t cred;
    check(gnutls_certificate_allocate_credentials(&cred), "credentials");
    size_t total = 0;
    for (int i = 1; i <= nconn; i++) {
        struct buf b = {0};
        make_stream(argv[5], i, &b);
        int fd = dial(argv[1], argv[2], nonblock);
        gnutls_session_t s;
        check(gnutls_init(&s, GNUTLS_CLIENT | (nonblock ? GNUTLS_NONBLOCK : 0)), "init");
        check(gnutls_set_default_priority(s), "priority");
        check(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), "credentials_set");
        gnutls_transport_set_int(s, fd);
        int r;
        while ((r = gnutls_handshake(s)) < 0) {
            if (gnutls_error_is_fatal(r))
                check(r, "gnutls_handshake");
            wait_fd(fd, gnutls_record_get_direction(s) ? POLLOUT : POLLIN);
        }
        send_stream(s, fd, &b, null_retry);
        while ((r = gnutls_bye(s, GNUTLS_SHUT_WR)) == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            wait_fd(fd, POLLOUT);
        gnutls_deinit(s);
        finish(fd);
        total += b.len;
        free(b.p);
    }
    gnutls_certificate_free_credentials(cred);
    printf("conns %d bytes %zu requests %lu keys %lu calls %lu again %lu null %lu partial %lu\n",
           nconn, total, n_reqs, n_keys, n_calls, n_again, n_null, n_partial);
    return 0;
}
