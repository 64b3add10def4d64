/*
 * bench_common.h - what the C benchmarks of issue 8 share (header-only, so
 * that run.sh can still build each bench_*.c from its one file).
 *
 * The pattern: the driver (run by run.sh, never preloaded) forks a loopback
 * peer (bc_serve) that is never preloaded either, then runs each measured
 * phase in a fresh process of its own executable, with or without
 * LD_PRELOAD (bc_phase), so that only the client pays for the shim.
 * Everything is on 127.0.0.1 and bounded in count and time.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char bc_self[PATH_MAX], bc_lib[PATH_MAX], bc_build[PATH_MAX];
static char bc_tmp[64];

static inline int64_t bc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void bc_die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int bc_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n-1] (sorts v). */
static inline double bc_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bc_cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Closes fd with an RST, so that thousands of cycles leave no TIME_WAIT. */
static inline void bc_close_hard(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static inline struct sockaddr_in bc_loopback(int port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    return sin;
}

/* A new TCP connection to 127.0.0.1:port with TCP_NODELAY; -1 on error (errno set). */
static inline int bc_dial(int port)
{
    struct sockaddr_in sin = bc_loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Raises RLIMIT_NOFILE to want (or the hard limit, when not root). Returns the soft limit. */
static inline long bc_raise_nofile(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_max < want) {
        struct rlimit up = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return want;
    }
    rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

/*
 * Forks the loopback peer: an epoll echo server on 127.0.0.1 (kernel-chosen
 * port, backlog 4096) that accepts every connection, echoes what it reads and
 * closes on EOF or error. It dies with its parent and after max_seconds.
 * Returns the port; *pid gets the child's pid.
 */
static inline int bc_serve(int max_seconds, pid_t *pid)
{
    struct sockaddr_in sin = bc_loopback(0);
    socklen_t len = sizeof sin;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 65535) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) != 0)
        bc_die("listener");
    pid_t parent = getpid();
    *pid = fork();
    if (*pid < 0)
        bc_die("fork");
    if (*pid > 0) {
        close(lfd);
        return ntohs(sin.sin_port);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    alarm((unsigned)max_seconds);
    bc_raise_nofile(65536);
    fcntl(lfd, F_SETFL, O_NONBLOCK);   /* accept until the queue is empty */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int k = 0; k < 64; k++) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0)
                        break;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                /* Loopback with small messages: a write takes it all; a
                 * short one would only mean a slower echo, never a hang
                 * for these clients, which send one message at a time. */
                if (write(fd, buf, (size_t)r) < 0 && errno != EAGAIN)
                    close(fd);
            } else if (r == 0 || errno != EAGAIN) {
                close(fd);
            }
        }
    }
}

/* Sets up bc_self, bc_build, bc_lib and a temporary directory bc_tmp. Returns 0 or -1. */
static inline int bc_setup(const char *name)
{
    const char *build = getenv("BUILD");
    ssize_t k = readlink("/proc/self/exe", bc_self, sizeof bc_self - 1);
    if (!build || k <= 0) {
        fprintf(stderr, "usage: BUILD=DIR %s\n", name);
        return -1;
    }
    bc_self[k] = '\0';
    snprintf(bc_build, sizeof bc_build, "%s", build);
    snprintf(bc_lib, sizeof bc_lib, "%s/libbreakwater.so", build);
    snprintf(bc_tmp, sizeof bc_tmp, "/tmp/bw-bench-%s.XXXXXX", name);
    if (access(bc_lib, R_OK) != 0 || !mkdtemp(bc_tmp)) {
        fprintf(stderr, "%s: no %s, or no temporary directory\n", name, bc_lib);
        return -1;
    }
    return 0;
}

static inline void bc_cleanup(void)
{
    char cmd[sizeof bc_tmp + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", bc_tmp);
    if (bc_tmp[0] && system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", bc_tmp);
}

/* Writes bc_tmp/NAME.ini (mode 0600, as the shim requires) from a format. */
static inline int bc_config(const char *name, const char *fmt, ...)
{
    char path[sizeof bc_tmp + 64];
    snprintf(path, sizeof path, "%s/%s.ini", bc_tmp, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    return chmod(path, 0600);
}

/*
 * Runs "SELF phase ARGS" in a fresh process, preloaded with bc_tmp/CFG.ini
 * (cfg NULL: no shim), wrapped in PREFIX (e.g. valgrind; "" for none), within
 * 120 s. Reads its first stdout line into out. Returns 0, or -1 on failure.
 */
static inline int bc_phase(const char *cfg, const char *prefix, char *out, size_t outlen,
                           const char *args)
{
    char cmd[4 * PATH_MAX + 512];
    if (cfg)
        snprintf(cmd, sizeof cmd, "env -u BREAKWATER_LOG -u BREAKWATER_DISABLE LD_PRELOAD='%s' "
                 "BREAKWATER_CONFIG='%s/%s.ini' timeout 120 %s '%s' phase %s",
                 bc_lib, bc_tmp, cfg, prefix, bc_self, args);
    else
        snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD timeout 120 %s '%s' phase %s", prefix,
                 bc_self, args);
    FILE *p = popen(cmd, "r");
    int ok = p && fgets(out, (int)outlen, p) != NULL;
    if (p && pclose(p) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "bench: phase '%s' (%s) failed\n", args, cfg ? cfg : "no shim");
    return ok ? 0 : -1;
}

/*
 * Phase "cycles PORT N": N times socket + connect to 127.0.0.1:PORT + close
 * (with an RST); prints the loop's nanoseconds. Socket and close are timed
 * too: the shim hooks both, and a program pays for them on every connection.
 */
static inline int bc_phase_cycles(int port, long n)
{
    struct sockaddr_in sin = bc_loopback(port);
    int64_t t0 = bc_now_ns();
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
            bc_die("connect cycle");
        bc_close_hard(fd);
    }
    printf("%lld\n", (long long)(bc_now_ns() - t0));
    return 0;
}

/*
 * Runs "SELF phase ARGS" under callgrind (cfg as for bc_phase) and returns
 * the instructions it executed (callgrind's total), or -1. The phase's first
 * stdout line goes into out when out is not NULL.
 */
static inline long long bc_cg_ir(const char *cfg, const char *args, char *out, size_t outlen)
{
    char line[256], file[sizeof bc_tmp + 16], prefix[sizeof file + 128];
    snprintf(file, sizeof file, "%s/cg.out", bc_tmp);
    snprintf(prefix, sizeof prefix, "valgrind -q --tool=callgrind --callgrind-out-file=%s", file);
    if (bc_phase(cfg, prefix, out ? out : line, out ? outlen : sizeof line, args) != 0)
        return -1;
    FILE *f = fopen(file, "r");
    long long ir = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "summary: %lld", &ir) == 1 || sscanf(line, "totals: %lld", &ir) == 1)
            break;
    if (f)
        fclose(f);
    unlink(file);
    return ir;
}

/* System calls "SELF phase ARGS" made (strace -f -c, cfg as for bc_phase), or -1. */
static inline long long bc_syscalls(const char *cfg, const char *args)
{
    char out[256], file[sizeof bc_tmp + 16], prefix[sizeof file + 64];
    snprintf(file, sizeof file, "%s/strace.out", bc_tmp);
    snprintf(prefix, sizeof prefix, "strace -f -c -o '%s'", file);
    if (bc_phase(cfg, prefix, out, sizeof out, args) != 0)
        return -1;
    FILE *f = fopen(file, "r");
    char line[256];
    long long calls = -1;
    while (f && fgets(line, sizeof line, f)) {
        double pct, secs;
        long long usecs, n;
        if (strstr(line, " total") &&
            sscanf(line, "%lf %lf %lld %lld", &pct, &secs, &usecs, &n) == 4)
            calls = n;
    }
    if (f)
        fclose(f);
    unlink(file);
    return calls;
}

/* The number a shell command prints first, or -1. */
static inline long bc_popen_long(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    long n = -1;
    if (!p || fscanf(p, "%ld", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

/*
 * How many connects of "SELF phase ARGS" under cfg the shim tracked as
 * destination dest: its debug log says "connect ADDR -> DEST" for each.
 * A benchmark whose config matched nothing would measure nothing: it must
 * check this before it reports. Returns the count, or -1.
 */
static inline long bc_tracked(const char *cfg, const char *args, const char *dest)
{
    char cmd[4 * PATH_MAX + 512];
    snprintf(cmd, sizeof cmd, "env -u BREAKWATER_DISABLE BREAKWATER_LOG=debug LD_PRELOAD='%s' "
             "BREAKWATER_CONFIG='%s/%s.ini' timeout 120 '%s' phase %s 2>&1 >/dev/null | "
             "grep -c -- ' -> %s$'", bc_lib, bc_tmp, cfg, bc_self, args, dest);
    return bc_popen_long(cmd);
}

/*
 * Counter COUNTER ("connects", "rejected_breaker", ...) of the first address
 * of destination dest in `breakwater status --json` for config cfg, or -1:
 * for a benchmark whose proof of tracking is the shared state, not a log.
 */
static inline long bc_status_count(const char *cfg, const char *dest, const char *counter)
{
    char cmd[2 * PATH_MAX + 64], name[128], key[64];
    snprintf(cmd, sizeof cmd, "'%s/breakwater' status -c '%s/%s.ini' --json", bc_build, bc_tmp, cfg);
    FILE *p = popen(cmd, "r");
    static char buf[1 << 16];
    size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    if (p)
        pclose(p);
    buf[n] = '\0';
    snprintf(name, sizeof name, "\"name\": \"%s\"", dest);
    snprintf(key, sizeof key, "\"%s\": ", counter);
    const char *d = strstr(buf, name), *k = d ? strstr(d, key) : NULL;
    return k ? strtol(k + strlen(key), NULL, 10) : -1;
}

/*
 * The verdict on an added cost (instructions, nanoseconds, a ratio's
 * shortfall from 1): "within noise" when it is not above noise (zero and
 * negative figures included: they say nothing about the code), else "met"
 * or "missed" as ok says.
 */
static inline const char *bc_verdict(double added, double noise, int ok)
{
    if (added <= noise)
        return "within noise";
    return ok ? "met" : "missed";
}

/* The relative spread of n wall-clock runs: (second best - best) / best,
 * the noise a best-of-n figure carries. v is sorted. */
static inline double bc_spread(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bc_cmp_dbl);
    return n > 1 && v[0] > 0 ? (v[1] - v[0]) / v[0] : 0;
}

static inline void bc_row(const char *name, double value, double base, double ratio)
{
    printf("%s | %.6g | %.6g | %.3f\n", name, value, base, ratio);
}

#endif
