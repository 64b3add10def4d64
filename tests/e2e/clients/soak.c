/*
 * soak.c - a bounded soak client for breakwater (tests/e2e/t_soak.sh).
 *
 *   soak FLAP_PORT STABLE_PORT SECONDS THREADS WORKERS WORKER_THREADS MAX_CONNECTIONS
 *
 * A pre-fork parent: it opens one connection (to STABLE_PORT) and keeps it
 * across fork, then forks WORKERS workers, each of which closes its inherited
 * copy and runs WORKER_THREADS threads; the parent itself runs THREADS
 * threads. Every thread loops for SECONDS: connect to 127.0.0.1 (FLAP_PORT
 * three times in four, else STABLE_PORT), send a few bytes, read them back,
 * close. Odd-numbered workers create an epoll instance first and connect
 * non-blocking, waiting with epoll_wait (the shim's native mode); everyone
 * else connects blocking (wait mode, with retries).
 *
 * Each connect() call is counted once, by its outcome: ok (connected and
 * echoed), io (connected, echo failed), refused (ECONNREFUSED), breaker
 * (ENETUNREACH: the config's breaker_errno), bulkhead (ECONNABORTED: its
 * bulkhead_errno), other. Workers send their counts to the parent through a
 * pipe. The config must use those two errnos.
 *
 * At the end the parent checks, and prints as "key value" lines:
 *   - every worker exited 0 (a worker exits 3 on a descriptor leak);
 *   - its own /proc/self/fd count is what it was before the workload;
 *   - slots: after everything is closed, exactly MAX_CONNECTIONS connects to
 *     STABLE_PORT are admitted at once, the next one is rejected with
 *     ECONNABORTED, and once they are closed one more is admitted.
 * Exit status 0 when all hold and some echoes succeeded, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OUT_OK, OUT_IO, OUT_REFUSED, OUT_BREAKER, OUT_BULKHEAD, OUT_OTHER, OUT_N };
static const char *const r_names[OUT_N] = {"ok", "io", "refused", "breaker", "bulkhead", "other"};
enum { TGT_FLAP, TGT_STABLE, TGT_N };
static const char *const tgt_names[TGT_N] = {"flap", "stable"};

struct counts {
    long n[TGT_N][OUT_N];
    long other_errno[8];            /* a few errnos of "other" outcomes, for the log */
};

static int g_port[TGT_N];
static double g_until;              /* CLOCK_MONOTONIC seconds */
static int g_native;                /* this process connects non-blocking, via epoll */
static struct counts g_counts;
static pthread_mutex_t g_counts_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Number of open descriptors of this process (the directory's own one included,
 * the same before and after). */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int classify(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return OUT_REFUSED;
    case ENETUNREACH:
        return OUT_BREAKER;
    case ECONNABORTED:
        return OUT_BULKHEAD;
    default:
        return OUT_OTHER;
    }
}

/* connect() on a blocking or (native) non-blocking socket; 0 or an errno. */
static int do_connect(int fd, int tgt)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(g_port[tgt])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return 0;
    if (errno != EINPROGRESS || !g_native)
        return errno;
    /* Native: the program waits for completion itself, with an epoll
     * instance of its own per connect (simple, and thread-safe). */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return errno;
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd}, got;
    int err = ETIMEDOUT;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 && epoll_wait(ep, &got, 1, 5000) == 1) {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
    }
    close(ep);
    if (err == 0) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);   /* echo with blocking I/O */
    }
    return err;
}

/* Sends len bytes and reads them back; 0 when they came back intact. */
static int echo(int fd, unsigned seed)
{
    char out[2048], in[2048];
    size_t len = 1 + seed % sizeof out, got = 0;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(seed + i * 7);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -1;
    while (got < len) {
        ssize_t r = recv(fd, in + got, len - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return memcmp(in, out, len) == 0 ? 0 : -1;
}

static void note_errno(struct counts *c, long err)
{
    for (int i = 0; i < 8; i++)
        if (c->other_errno[i] == 0 || c->other_errno[i] == err) {
            c->other_errno[i] = err;
            break;
        }
}

static void count(struct counts *c, int tgt, int r, int err)
{
    c->n[tgt][r]++;
    if (r == OUT_OTHER)
        note_errno(c, err);
}

static void add_counts(struct counts *to, const struct counts *from)
{
    for (int t = 0; t < TGT_N; t++)
        for (int r = 0; r < OUT_N; r++)
            to->n[t][r] += from->n[t][r];
    for (int i = 0; i < 8 && from->other_errno[i]; i++)
        note_errno(to, from->other_errno[i]);
}

/* One connect/send/recv/close round; counts its outcome into c. */
static void round_trip(struct counts *c, int tgt, unsigned seed)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (g_native ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        count(c, tgt, OUT_OTHER, errno);
        return;
    }
    int err = do_connect(fd, tgt);
    if (err)
        count(c, tgt, classify(err), err);
    else
        count(c, tgt, echo(fd, seed) == 0 ? OUT_OK : OUT_IO, 0);
    close(fd);
}

static void *loop(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u ^ (unsigned)getpid();
    struct counts c = {0};
    for (long i = 0; i < 1000000 && now_s() < g_until; i++) {
        seed = seed * 1103515245u + 12345u;
        round_trip(&c, (seed >> 16) % 4 == 0 ? TGT_STABLE : TGT_FLAP, seed >> 8);
        usleep((seed >> 4) % 10000);  /* some slack: fewer TIME_WAITs, less CPU */
    }
    pthread_mutex_lock(&g_counts_lock);
    add_counts(&g_counts, &c);
    pthread_mutex_unlock(&g_counts_lock);
    return NULL;
}

static int run_threads(int n)
{
    pthread_t t[256];
    int started = 0;
    for (int i = 0; i < n && i < 256; i++)
        if (pthread_create(&t[started], NULL, loop, (void *)(uintptr_t)(i + 1)) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    return started == n ? 0 : -1;
}

/* Worker body: exits 0, 3 on a descriptor leak, 4 if threads failed to start. */
static void worker(int idx, int wfd, int held, int nthreads)
{
    close(held);                    /* a pre-fork child drops what it inherited */
    g_native = idx % 2 == 1;
    if (g_native)
        close(epoll_create1(EPOLL_CLOEXEC));   /* the process has had an epoll instance */
    memset(&g_counts, 0, sizeof g_counts);
    int before = count_fds();
    int rc = run_threads(nthreads) == 0 ? 0 : 4;
    int after = count_fds();
    if (after != before) {
        fprintf(stderr, "worker %d: %d descriptors before, %d after\n", idx, before, after);
        rc = 3;
    }
    if (write(wfd, &g_counts, sizeof g_counts) != (ssize_t)sizeof g_counts)
        rc = 5;
    _exit(rc);
}

/* Opens a blocking connection to STABLE_PORT; the fd, or -errno. */
static int open_stable(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = do_connect(fd, TGT_STABLE);
    if (err) {
        close(fd);
        return -err;
    }
    return fd;
}

/* The slot check: MAX admitted at once, the next rejected, then one again. */
static int check_slots(int max, struct counts *c)
{
    int fds[1024], n = 0, ok = 1, r;
    for (; n < max && n < 1024; n++) {
        if ((r = open_stable()) < 0) {
            count(c, TGT_STABLE, classify(-r), -r);
            printf("slots connect %d of %d failed: %s\n", n + 1, max, strerror(-r));
            ok = 0;
            break;
        }
        count(c, TGT_STABLE, OUT_OK, 0);
        fds[n] = r;
    }
    printf("slots admitted %d\n", n);
    if (ok) {
        r = open_stable();
        if (r >= 0) {
            count(c, TGT_STABLE, OUT_OK, 0);
            printf("slots next admitted (bulkhead leaked a slot the other way)\n");
            close(r);
            ok = 0;
        } else {
            count(c, TGT_STABLE, classify(-r), -r);
            printf("slots next %s\n", -r == ECONNABORTED ? "rejected" : strerror(-r));
            ok = ok && -r == ECONNABORTED;
        }
    }
    while (n > 0)
        close(fds[--n]);
    r = open_stable();
    if (r >= 0) {
        count(c, TGT_STABLE, OUT_OK, 0);
        close(r);
    } else {
        count(c, TGT_STABLE, classify(-r), -r);
        ok = 0;
    }
    printf("slots after close %s\n", r >= 0 ? "admitted" : strerror(-r));
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: soak FLAP_PORT STABLE_PORT SECONDS THREADS WORKERS "
                        "WORKER_THREADS MAX_CONNECTIONS\n");
        return 2;
    }
    g_port[TGT_FLAP] = atoi(argv[1]);
    g_port[TGT_STABLE] = atoi(argv[2]);
    double secs = atof(argv[3]);
    int threads = atoi(argv[4]), workers = atoi(argv[5]), wthreads = atoi(argv[6]);
    int maxconn = atoi(argv[7]);
    if (workers > 64 || threads > 256 || wthreads > 256)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    int fds_before = count_fds();
    struct counts setup = {0};
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return 1;
    int held = open_stable();     /* the pre-fork parent's own connection */
    if (held < 0) {
        fprintf(stderr, "pre-fork connect: %s\n", strerror(-held));
        return 1;
    }
    count(&setup, TGT_STABLE, OUT_OK, 0);
    g_until = now_s() + secs;
    pid_t pids[64];
    int nw = 0;
    for (int i = 0; i < workers; i++) {
        pid_t p = fork();
        if (p == 0) {
            close(pfd[0]);
            worker(i, pfd[1], held, wthreads);
        }
        if (p > 0)
            pids[nw++] = p;
        else
            perror("fork");
    }
    close(pfd[1]);
    int ok = run_threads(threads) == 0;
    int workers_ok = 0;
    for (int i = 0; i < nw; i++) {
        int st = 0, done = 0;
        for (int k = 0; k < 3000 && !done; k++) {   /* at most 30 s each after the workload */
            if (waitpid(pids[i], &st, WNOHANG) == pids[i])
                done = 1;
            else
                usleep(10000);
        }
        if (!done) {
            fprintf(stderr, "worker %d hangs\n", i);
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &st, 0);
        }
        if (done && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            workers_ok++;
        else
            fprintf(stderr, "worker %d: status %#x\n", i, st);
    }
    struct counts wc;
    for (int i = 0; i < nw && read(pfd[0], &wc, sizeof wc) == (ssize_t)sizeof wc; i++)
        add_counts(&g_counts, &wc);
    close(pfd[0]);
    close(held);
    int fds_after = count_fds();
    add_counts(&g_counts, &setup);
    int slots_ok = check_slots(maxconn, &g_counts);

    printf("workers ok %d of %d\n", workers_ok, workers);
    printf("fds before %d after %d\n", fds_before, fds_after);
    for (int t = 0; t < TGT_N; t++) {
        long total = 0, conn_ok = g_counts.n[t][OUT_OK] + g_counts.n[t][OUT_IO];
        for (int r = 0; r < OUT_N; r++) {
            printf("%s %s %ld\n", tgt_names[t], r_names[r], g_counts.n[t][r]);
            total += g_counts.n[t][r];
        }
        printf("%s attempts %ld\n%s connected %ld\n", tgt_names[t], total, tgt_names[t], conn_ok);
    }
    for (int i = 0; i < 8 && g_counts.other_errno[i]; i++)
        printf("other errno %ld %s\n", g_counts.other_errno[i], strerror((int)g_counts.other_errno[i]));
    ok = ok && workers_ok == workers && fds_after == fds_before && slots_ok &&
         g_counts.n[TGT_FLAP][OUT_OK] > 0 && g_counts.n[TGT_STABLE][OUT_OK] > 0;
    printf("result %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
