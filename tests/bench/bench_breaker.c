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
 *   breaker_admission_ir  user-space instructions the same connect costs with
 *                         breaker = on more than with breaker = off, both
 *                         under the shim, by callgrind over N and 2N connects
 *                         ((Ir_on(2N) - Ir_on(N)) - (Ir_off(2N) - Ir_off(N))) / N:
 *                         what asking and telling the breaker adds to a
 *                         connect, exactly, where the difference of two
 *                         wall-clock medians of 14 us connects was noise.
 *                         Baseline: the connect's own added instructions
 *                         with breaker = off. Target < 1000 instructions.
 * Each config is first checked to track its connects (bc_tracked).
 * Then "# " lines saying whether each target was met. Targets are reported,
 * never asserted: a busy machine says nothing about the code.
 *
 * Each phase runs in a fresh process (so the shim is or is not preloaded) and
 * prints the median of N samples of one connect() timed with CLOCK_MONOTONIC;
 * socket() and close() stay outside the timed part. Every phase is run REPS
 * times, interleaved, and the smallest median is kept. Everything is on
 * 127.0.0.1 and bounded: a phase that does not answer within 60 s fails.
 */
#include "bench_common.h"

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
#define TARGET_ADMIT_IR 1000
#define N_CG 500

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

/* Writes the config bc_tmp/NAME.ini with breaker = MODE; returns 0 or -1. */
static int write_config(const char *name, const char *mode)
{
    return bc_config(name, "[global]\nstate_dir = %s\nlog_level = off\n"
                     "[destination bench]\nhost = 127.0.0.1\nretries = 0\nconnect_timeout_ms = 0\n"
                     "breaker = %s\nbreaker_consecutive_failures = 1\n"
                     "breaker_open_ms = 3600000\nbreaker_open_max_ms = 3600000\n", bc_tmp, mode);
}

/* Runs one phase in a child, preloaded with config CFG (NULL: no shim). Returns its median or -1. */
static long long run_phase(const char *cfg, const char *kind, int n)
{
    char args[64], out[64];
    long long v = -1;
    snprintf(args, sizeof args, "%s %d", kind, n);
    if (bc_phase(cfg, "", out, sizeof out, args) != 0 || sscanf(out, "%lld", &v) != 1)
        return -1;
    return v;
}

/* Instructions per connect that breaker = on adds to breaker = off; -1e9 on failure. */
static double admission_ir(double *off_per_connect)
{
    long long ir[2][2];
    const char *cfg[2] = {"off", "on"};
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < 2; m++) {
            char args[64];
            snprintf(args, sizeof args, "connect %d", N_CG * (m + 1));
            if ((ir[k][m] = bc_cg_ir(cfg[k], args, NULL, 0)) <= 0)
                return -1e9;
        }
    *off_per_connect = (double)(ir[0][1] - ir[0][0]) / N_CG;
    return ((double)(ir[1][1] - ir[1][0]) - (double)(ir[0][1] - ir[0][0])) / N_CG;
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
    if (bc_setup("breaker") != 0)
        return 2;
    int rc = write_config("on", "on") | write_config("off", "off");
    for (int k = 0; k < 2 && rc == 0; k++)
        if (bc_tracked(k ? "on" : "off", "connect 3", "bench") != 3) {
            fprintf(stderr, "bench_breaker: config %s did not track its connects\n", k ? "on" : "off");
            rc = -1;
        }
    long long rej = -1, refused = -1, on = -1, plain = -1;
    for (int r = 0; r < REPS && rc == 0; r++) {
        keep_min(&rej, run_phase("on", "refused", N_REJECT));
        keep_min(&refused, run_phase(NULL, "refused", N_REJECT));
        keep_min(&on, run_phase("on", "connect", N_CONNECT));
        keep_min(&plain, run_phase(NULL, "connect", N_CONNECT));
    }
    double off_ir = 0, adm = -1e9;
    int have_cg = system("valgrind --version >/dev/null 2>&1") == 0;
    if (rc == 0 && have_cg && (adm = admission_ir(&off_ir)) < -1e8)
        rc = -1;
    bc_cleanup();
    if (rc != 0 || rej < 0 || refused < 0 || on < 0 || plain < 0)
        return 1;
    row("breaker_reject_ns", rej, refused);
    row("connect_shim_ns", on, plain);
    printf("# breaker_reject_ns: %lld ns, target < %d ns: %s\n", rej, TARGET_REJECT_NS,
           bc_verdict((double)rej, 0, rej < TARGET_REJECT_NS));
    if (!have_cg) {
        printf("# breaker_admission_ir: valgrind not installed (apt-get install valgrind)\n");
        return 0;
    }
    bc_row("breaker_admission_ir", adm, off_ir, adm / off_ir);
    printf("# breaker_admission_ir: %.0f instructions per connect for asking and telling the "
           "breaker (a connect under the shim with breaker = off: %.0f), target < %d: %s\n",
           adm, off_ir, TARGET_ADMIT_IR, bc_verdict(adm, 1, adm < TARGET_ADMIT_IR));
    return 0;
}
