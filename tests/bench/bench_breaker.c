/*
 * bench_breaker.c - cost of the circuit breaker on the connect path (issue 4).
 *
 *   BUILD=DIR bench_breaker            run every measurement, print the rows
 *   bench_breaker phase KIND N         one measurement in this process (used
 *                                      by the above, with or without the shim)
 *
 * Rows, "name | value | baseline | ratio" (nanoseconds, medians):
 *   breaker_reject_ns     a connect rejected by an open breaker, under the
 *                         shim, against a plain connect refused by the kernel
 *                         (closed loopback port) without it. Target < 2000 ns.
 *   connect_shim_ns       a successful loopback connect under the shim (breaker
 *                         on, connect_timeout_ms = 0), against no shim.
 *   breaker_admission_ns  the same connect with breaker = on minus breaker =
 *                         off, both under the shim: what asking and telling
 *                         the breaker adds to a connect. Baseline: the
 *                         connect without the shim. Target < 1000 ns.
 * Then "# " lines saying whether each target was met. Targets are reported,
 * never asserted: a busy machine says nothing about the code.
 *
 * Each phase runs in a fresh process (so the shim is or is not preloaded) and
 * prints the median of N samples of one connect() timed with CLOCK_MONOTONIC;
 * socket() and close() stay outside the timed part. Every phase is run REPS
 * times, interleaved, and the smallest median is kept. Everything is on
 * 127.0.0.1 and bounded: a phase that does not answer within 60 s fails.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPS 5
#define N_REJECT 20000
#define N_CONNECT 4000
#define TARGET_REJECT_NS 2000
#define TARGET_ADMIT_NS 1000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A TCP socket bound to 127.0.0.1 on a kernel-chosen port, listening when
 * backlog > 0 (else the port is reserved and refuses). Returns the fd; *sin
 * gets the address. Exits on error. */
static int bound_socket(int backlog, struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof *sin) != 0 ||
        (backlog > 0 && listen(fd, backlog) != 0) ||
        getsockname(fd, (struct sockaddr *)sin, &len) != 0) {
        perror("bench_breaker: listener");
        exit(1);
    }
    return fd;
}

/* Closes fd with an RST, so that no TIME_WAIT piles up over thousands of connects. */
static void close_hard(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* One timed connect() of a new socket to sin; *err gets its errno (0 = connected). */
static int64_t timed_connect(const struct sockaddr_in *sin, int *fd_out, int *err)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("bench_breaker: socket");
        exit(1);
    }
    int64_t t0 = now_ns();
    int r = connect(fd, (const struct sockaddr *)sin, sizeof *sin);
    int64_t t1 = now_ns();
    *err = r == 0 ? 0 : errno;
    *fd_out = fd;
    return t1 - t0;
}

/*
 * Phase KIND, in this process: "refused" (connects to a closed port; under
 * the shim the first opens the breaker and the rest are rejections, without
 * it every one is the kernel's refusal) or "connect" (connects to a listener
 * here, each accepted and both ends closed). Prints the median in ns.
 */
static int phase(const char *kind, int n)
{
    struct sockaddr_in sin;
    bool refused = strcmp(kind, "refused") == 0;
    int lfd = bound_socket(refused ? 0 : 4096, &sin);
    int64_t *v = calloc((size_t)n, sizeof *v);
    if (!v)
        return 1;
    int fd, err;
    if (refused) {   /* the opening failure: not a sample */
        timed_connect(&sin, &fd, &err);
        close(fd);
    }
    for (int i = 0; i < n; i++) {
        v[i] = timed_connect(&sin, &fd, &err);
        if (refused != (err != 0) || (refused && err != ECONNREFUSED)) {
            fprintf(stderr, "bench_breaker: %s: connect %d: %s\n", kind, i, strerror(err));
            return 1;
        }
        if (!refused) {
            int a = accept(lfd, NULL, NULL);
            if (a >= 0)
                close_hard(a);
        }
        close_hard(fd);
    }
    close(lfd);
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    printf("%lld\n", (long long)v[n / 2]);
    free(v);
    return 0;
}

static char self[PATH_MAX], lib[PATH_MAX], tmpdir[] = "/tmp/bw-bench-brk.XXXXXX";

/* Writes the config DIR/NAME.ini with breaker = MODE; returns 0 or -1. */
static int write_config(const char *name, const char *mode)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.ini", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "[global]\nstate_dir = %s\nlog_level = off\n"
               "[destination bench]\nhost = 127.0.0.1\nretries = 0\nconnect_timeout_ms = 0\n"
               "breaker = %s\nbreaker_consecutive_failures = 1\n"
               "breaker_open_ms = 3600000\nbreaker_open_max_ms = 3600000\n",
            tmpdir, mode);
    fclose(f);
    return chmod(path, 0600);
}

/* Runs one phase in a child, preloaded with config CFG (NULL: no shim). Returns its median or -1. */
static long long run_phase(const char *cfg, const char *kind, int n)
{
    char cmd[3 * PATH_MAX + 256];
    if (cfg)
        snprintf(cmd, sizeof cmd, "env -u BREAKWATER_LOG -u BREAKWATER_DISABLE LD_PRELOAD='%s' "
                 "BREAKWATER_CONFIG='%s/%s.ini' timeout 60 '%s' phase %s %d",
                 lib, tmpdir, cfg, self, kind, n);
    else
        snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD timeout 60 '%s' phase %s %d", self, kind, n);
    FILE *p = popen(cmd, "r");
    long long v = -1;
    if (!p || fscanf(p, "%lld", &v) != 1)
        v = -1;
    if (p && pclose(p) != 0)
        v = -1;
    if (v < 0)
        fprintf(stderr, "bench_breaker: phase '%s' (%s) failed\n", kind, cfg ? cfg : "no shim");
    return v;
}

static void keep_min(long long *best, long long v)
{
    if (v >= 0 && (*best < 0 || v < *best))
        *best = v;
}

static void row(const char *name, long long value, long long base)
{
    printf("%s | %lld | %lld | %.2f\n", name, value, base, base > 0 ? (double)value / base : 0.0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "phase") == 0)
        return phase(argv[2], atoi(argv[3]));
    const char *build = getenv("BUILD");
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (!build || k <= 0) {
        fprintf(stderr, "usage: BUILD=DIR bench_breaker\n");
        return 2;
    }
    self[k] = '\0';
    snprintf(lib, sizeof lib, "%s/libbreakwater.so", build);
    if (access(lib, R_OK) != 0 || !mkdtemp(tmpdir)) {
        fprintf(stderr, "bench_breaker: no %s, or no temporary directory\n", lib);
        return 1;
    }
    int rc = write_config("on", "on") | write_config("off", "off");
    long long rej = -1, refused = -1, on = -1, off = -1, plain = -1;
    for (int r = 0; r < REPS && rc == 0; r++) {
        keep_min(&rej, run_phase("on", "refused", N_REJECT));
        keep_min(&refused, run_phase(NULL, "refused", N_REJECT));
        keep_min(&on, run_phase("on", "connect", N_CONNECT));
        keep_min(&off, run_phase("off", "connect", N_CONNECT));
        keep_min(&plain, run_phase(NULL, "connect", N_CONNECT));
    }
    char cmd[sizeof tmpdir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_breaker: could not remove %s\n", tmpdir);
    if (rc != 0 || rej < 0 || refused < 0 || on < 0 || off < 0 || plain < 0)
        return 1;
    row("breaker_reject_ns", rej, refused);
    row("connect_shim_ns", on, plain);
    row("breaker_admission_ns", on - off, plain);
    printf("# breaker_reject_ns: %lld ns, target < %d ns: %s\n", rej, TARGET_REJECT_NS,
           rej < TARGET_REJECT_NS ? "met" : "missed");
    printf("# breaker_admission_ns: %lld ns (breaker on %lld, off %lld), target < %d ns: %s\n",
           on - off, on, off, TARGET_ADMIT_NS, on - off < TARGET_ADMIT_NS ? "met" : "missed");
    return 0;
}
