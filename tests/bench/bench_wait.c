/*
 * bench_wait.c - what the shim costs in the program's waits while no connect
 * of its is pending (issue 12): poll and epoll_wait must stay within noise
 * of no shim, since every event loop calls them all the time.
 *
 *   BUILD=DIR bench_wait               run every measurement, print the rows
 *   bench_wait phase poll PORT N       N poll()s, timeout 0, over a tracked
 *                                      connection to PORT and 15 pipe ends
 *   bench_wait phase epoll PORT N      N epoll_wait()s, timeout 0, on an epoll
 *                                      instance holding the same 16
 *   bench_wait phase pollbusy PORT N   as poll, while an unrelated connect
 *                                      (to a blackhole) is pending
 *   (a phase prints "NANOSECONDS CALLS")
 *
 * Rows (instruction counts by callgrind, differential as in bench_hotpath.c:
 * (Ir_shim(2N) - Ir_shim(N) - (Ir_plain(2N) - Ir_plain(N))) / N):
 *   wait_poll_ir_per_call        added per poll() (target: the 6 instructions any
 *                                hook costs - a load, a test, an indirect jump -
 *                                and no more: within noise of a system call)
 *   wait_epoll_ir_per_call       added per epoll_wait() (same)
 *   wait_pollbusy_ir_per_fd      added per polled descriptor while another
 *                                connect is pending (a table lookup: <= 30)
 *   wait_poll_calls_per_s        poll() calls per second against no shim,
 *                                best of REPS interleaved runs (>= 0.97)
 */
#include <poll.h>
#include <sys/epoll.h>

#include "bench_common.h"

#define REPS 7
#define N_WALL 200000
#define N_CG 5000
#define NFDS 16
#define IR_NOISE 0.5   /* instructions per call: exact, up to the rounding of two run lengths */

/* A connected, tracked socket and 15 pipe ends, none of them ready for reading. */
static void open_fds(int port, struct pollfd *p)
{
    p[0].fd = bc_dial(port);
    if (p[0].fd < 0)
        bc_die("connect");
    p[0].events = POLLIN;
    for (int i = 1; i < NFDS; i += 2) {
        int pp[2];
        if (pipe(pp) != 0)
            bc_die("pipe");
        p[i].fd = pp[0];
        p[i].events = POLLIN;
        if (i + 1 < NFDS) {
            p[i + 1].fd = pp[1];
            p[i + 1].events = 0;
        }
    }
}

/* A non-blocking connect that stays pending: to the blackhole port BH. */
static int pending_connect(int bh)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = bc_loopback(bh);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 || errno != EINPROGRESS)
        bc_die("pending connect");
    return fd;
}

static int phase(const char *kind, int port, long n)
{
    struct pollfd p[NFDS];
    open_fds(port, p);
    int ep = -1, busy = -1;
    struct epoll_event ev[NFDS];
    if (strcmp(kind, "epoll") == 0) {
        if ((ep = epoll_create1(0)) < 0)
            bc_die("epoll_create1");
        for (int i = 0; i < NFDS; i++) {
            struct epoll_event e = {.events = (uint32_t)p[i].events, .data.fd = p[i].fd};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, p[i].fd, &e) != 0)
                bc_die("epoll_ctl");
        }
    }
    if (strcmp(kind, "pollbusy") == 0)
        busy = pending_connect(atoi(getenv("BW_BENCH_BLACKHOLE")));
    int64_t t0 = bc_now_ns();
    for (long i = 0; i < n; i++) {
        int r = ep >= 0 ? epoll_wait(ep, ev, NFDS, 0) : poll(p, NFDS, 0);
        if (r != 0)
            bc_die("a wait found something ready");
    }
    printf("%lld %ld\n", (long long)(bc_now_ns() - t0), n);
    if (busy >= 0)
        close(busy);
    return 0;
}

/* Starts bw_faultd blackhole (a listener whose full accept queue drops new
 * SYNs, so a connect to it stays pending); returns its port. */
static int blackhole(pid_t *pid)
{
    int p[2];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tests/support/bw_faultd", bc_build);
    if (pipe(p) != 0 || (*pid = fork()) < 0)
        bc_die("blackhole server");
    if (*pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(path, path, "--max-seconds", "280", "blackhole", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    int port = 0;
    if (!f || fscanf(f, "port %d", &port) != 1)
        bc_die("blackhole server's port");
    fclose(f);
    return port;
}

/* One phase under callgrind: its instruction total. */
/* Instructions the shim adds per wait of phase KIND (plain and shim both run
 * KIND, but for pollbusy, whose plain baseline is poll: no shim has no pending
 * connect). *plain gets the plain cost per call. */
static double cg_added(const char *kind, int port, double *plain)
{
    long long ir[2][2];
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 2; m++) {
            char args[64];
            snprintf(args, sizeof args, "%s %d %d", s || strcmp(kind, "pollbusy") ? kind : "poll",
                     port, N_CG * (m + 1));
            if ((ir[s][m] = bc_cg_ir(s ? "wait" : NULL, args, NULL, 0)) <= 0)
                return -1e9;
        }
    *plain = (double)(ir[0][1] - ir[0][0]) / N_CG;
    return ((double)(ir[1][1] - ir[1][0]) - (double)(ir[0][1] - ir[0][0])) / N_CG;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "phase") == 0)
        return phase(argv[2], atoi(argv[3]), atol(argv[4]));
    if (bc_setup("wait") != 0)
        return 1;
    pid_t srv, bh_srv;
    int port = bc_serve(280, &srv);
    int bh_port = blackhole(&bh_srv);
    char bh_env[16];
    snprintf(bh_env, sizeof bh_env, "%d", bh_port);
    setenv("BW_BENCH_BLACKHOLE", bh_env, 1);
    int rc = bc_config("wait", "[global]\nstate = shared\nstate_dir = %s\nlog_level = off\n"
                       "[destination echo]\nhost = 127.0.0.1\nport = %d\n"
                       "[destination hole]\nhost = 127.0.0.1\nport = %d\n",
                       bc_tmp, port, bh_port);
    double best[2] = {1e18, 1e18}, runs[2][REPS];
    for (int r = 0; r < REPS && rc == 0; r++)
        for (int s = 0; s < 2 && rc == 0; s++) {
            char out[128], args[64];
            long long ns;
            long calls;
            snprintf(args, sizeof args, "poll %d %d", port, N_WALL);
            if (bc_phase(s ? "wait" : NULL, "", out, sizeof out, args) != 0 ||
                sscanf(out, "%lld %ld", &ns, &calls) != 2)
                rc = -1;
            else {
                runs[s][r] = (double)ns;
                if (ns < best[s])
                    best[s] = (double)ns;
            }
        }
    int is_tracked = rc == 0 && bc_status_count("wait", "echo", "connects") > 0;
    double add_poll = -1e9, add_epoll = -1e9, add_busy = -1e9, plain_p = 0, plain_e = 0, plain_b = 0;
    int have_cg = system("valgrind --version >/dev/null 2>&1") == 0;
    if (rc == 0 && have_cg) {
        add_poll = cg_added("poll", port, &plain_p);
        add_epoll = cg_added("epoll", port, &plain_e);
        add_busy = cg_added("pollbusy", port, &plain_b);
    }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    kill(bh_srv, SIGKILL);
    waitpid(bh_srv, NULL, 0);
    bc_cleanup();
    if (rc != 0)
        return 1;
    if (!is_tracked) {
        printf("# wait: the benchmark's connection was not tracked (no connects in status): "
               "no row is valid\n");
        return 1;
    }
    double ratio = best[0] / best[1];
    bc_row("wait_poll_calls_per_s", N_WALL / best[1] * 1e9, N_WALL / best[0] * 1e9, ratio);
    double noise = bc_spread(runs[0], REPS) + bc_spread(runs[1], REPS);
    printf("# wait_poll_calls_per_s: %.3f of no shim (best of %d x %d polls of %d fds, noise "
           "%.3f), target >= 0.97: %s\n", ratio, REPS, N_WALL, NFDS, noise,
           bc_verdict(1 - ratio, noise, ratio >= 0.97));
    if (!have_cg) {
        printf("# wait instruction counts: valgrind not installed (apt-get install valgrind)\n");
        return 1;
    }
    if (add_poll < -1e8 || add_epoll < -1e8 || add_busy < -1e8)
        return 1;
    bc_row("wait_poll_ir_per_call", add_poll, plain_p, add_poll / plain_p);
    bc_row("wait_epoll_ir_per_call", add_epoll, plain_e, add_epoll / plain_e);
    bc_row("wait_pollbusy_ir_per_fd", add_busy / NFDS, plain_b / NFDS, add_busy / plain_b);
    printf("# wait_poll_ir_per_call: %.1f instructions added per poll() with nothing pending "
           "(plain poll: %.0f in user space), target <= 6: %s\n", add_poll, plain_p,
           bc_verdict(add_poll, IR_NOISE, add_poll <= 6.5));
    printf("# wait_epoll_ir_per_call: %.1f added per epoll_wait(), target <= 6: %s\n",
           add_epoll, bc_verdict(add_epoll, IR_NOISE, add_epoll <= 6.5));
    printf("# wait_pollbusy_ir_per_fd: %.1f added per polled descriptor while another connect "
           "is pending, target <= 30: %s\n", add_busy / NFDS,
           bc_verdict(add_busy / NFDS, IR_NOISE, add_busy / NFDS <= 30));
    return 0;
}
