/*
 * bench_hotpath.c - what the shim costs on the send/recv hot path (issue 8 item 1).
 *
 *   BUILD=DIR bench_hotpath           run every measurement, print the rows
 *   bench_hotpath phase pingpong PORT N   N round trips of 64 bytes (send, then
 *                                     recv until 64 bytes) on one connection
 *   bench_hotpath phase pipe PORT N   N writes and reads of 64 bytes on a pipe,
 *                                     with a connection to PORT open
 *   (a phase prints "NANOSECONDS CALLS": its loop's time and how many
 *   send/recv/read/write calls it made)
 *
 * Rows:
 *   hotpath_pingpong_rtt_per_s  round trips per second under the shim
 *                               (destination matched by a section, breaker
 *                               on, state = shared) against no shim; best of
 *                               REPS interleaved runs. Target ratio >= 0.99.
 *   hotpath_tracked_ir_per_call instructions the shim adds per send or recv
 *                               on a tracked connection (target <= 25)
 *   hotpath_untracked_ir_per_call  ... per read or write on a pipe (<= 12)
 * The connection is first checked to be tracked (bc_tracked). A figure not
 * above its noise (the spread of the plain runs; half an instruction) is
 * reported "within noise", never "met".
 * The instruction rows are callgrind counts: (Ir_shim(2N) - Ir_shim(N) -
 * (Ir_plain(2N) - Ir_plain(N))) / calls(N), which cancels start-up and
 * set-up and is repeatable to the instruction. Their baseline column is the
 * plain program's own instructions per call (libc wrapper + syscall entry).
 */
#include "bench_common.h"

#define REPS 10
#define N_RTT 50000
#define N_CG 2000
#define MSG 64

static int phase_pingpong(int port, long n)
{
    int fd = bc_dial(port);
    if (fd < 0)
        bc_die("connect");
    char buf[MSG];
    memset(buf, 'x', sizeof buf);
    long calls = 0;
    int64_t t0 = bc_now_ns();
    for (long i = 0; i < n; i++) {
        if (send(fd, buf, MSG, 0) != MSG)
            bc_die("send");
        calls++;
        for (size_t got = 0; got < MSG; calls++) {
            ssize_t r = recv(fd, buf + got, MSG - got, 0);
            if (r <= 0)
                bc_die("recv");
            got += (size_t)r;
        }
    }
    int64_t t1 = bc_now_ns();
    close(fd);
    printf("%lld %ld\n", (long long)(t1 - t0), calls);
    return 0;
}

/* A tracked connection stays open meanwhile, as in a program that has one:
 * the descriptor table's page then exists and the lookup goes all the way. */
static int phase_pipe(int port, long n)
{
    int keep = bc_dial(port), p[2];
    if (keep < 0)
        bc_die("connect");
    if (pipe(p) != 0)
        bc_die("pipe");
    char buf[MSG] = {0};
    int64_t t0 = bc_now_ns();
    for (long i = 0; i < n; i++)
        if (write(p[1], buf, MSG) != MSG || read(p[0], buf, MSG) != MSG)
            bc_die("pipe I/O");
    int64_t t1 = bc_now_ns();
    printf("%lld %ld\n", (long long)(t1 - t0), 2 * n);
    close(keep);
    return 0;
}

/* One phase under callgrind; *ir gets the instructions, *calls the phase's call count. */
static int cg_run(const char *cfg, const char *args, long long *ir, long *calls)
{
    char out[128];
    long long ns;
    *ir = bc_cg_ir(cfg, args, out, sizeof out);
    return *ir > 0 && sscanf(out, "%lld %ld", &ns, calls) == 2 ? 0 : -1;
}

/* Instructions the shim adds per call of phase KIND; *plain gets the plain cost per call. */
static double cg_added(const char *kind, int port, double *plain)
{
    long long ir[2][2];
    long calls[2][2];
    for (int s = 0; s < 2; s++)          /* 0: plain, 1: shim */
        for (int m = 0; m < 2; m++) {    /* N, 2N */
            char args[64];
            if (strcmp(kind, "pipe") == 0)
                snprintf(args, sizeof args, "pipe %d %d", port, N_CG * (m + 1));
            else
                snprintf(args, sizeof args, "pingpong %d %d", port, N_CG * (m + 1));
            if (cg_run(s ? "hot" : NULL, args, &ir[s][m], &calls[s][m]) != 0)
                return -1e9;   /* failed: below any real difference */
        }
    double d_plain = (double)(ir[0][1] - ir[0][0]), d_shim = (double)(ir[1][1] - ir[1][0]);
    double n = (double)(calls[1][1] - calls[1][0]);
    *plain = d_plain / (double)(calls[0][1] - calls[0][0]);
    return (d_shim - d_plain) / n;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "pingpong") == 0)
        return phase_pingpong(atoi(argv[3]), atol(argv[4]));
    if (argc == 5 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "pipe") == 0)
        return phase_pipe(atoi(argv[3]), atol(argv[4]));
    if (bc_setup("hotpath") != 0)
        return 1;
    pid_t srv;
    int port = bc_serve(280, &srv);
    int rc = bc_config("hot", "[global]\nstate = shared\nstate_dir = %s\nlog_level = off\n"
                       "[destination echo]\nhost = 127.0.0.1\nport = %d\nbreaker = on\n",
                       bc_tmp, port);
    char targs[64];
    snprintf(targs, sizeof targs, "pingpong %d 10", port);
    if (rc == 0 && bc_tracked("hot", targs, "echo") != 1) {
        fprintf(stderr, "bench_hotpath: the connection was not tracked\n");
        rc = -1;
    }
    double best[2] = {1e18, 1e18}, plain_runs[REPS];
    for (int r = 0; r < REPS && rc == 0; r++)
        for (int s = 0; s < 2 && rc == 0; s++) {
            char out[128], args[64];
            long long ns;
            long calls;
            snprintf(args, sizeof args, "pingpong %d %d", port, N_RTT);
            if (bc_phase(s ? "hot" : NULL, "", out, sizeof out, args) != 0 ||
                sscanf(out, "%lld %ld", &ns, &calls) != 2)
                rc = -1;
            else {
                if (ns < best[s])
                    best[s] = (double)ns;
                if (s == 0)
                    plain_runs[r] = (double)ns;
            }
        }
    double tracked = -1, untracked = -1, plain_t = 0, plain_u = 0;
    int have_cg = system("valgrind --version >/dev/null 2>&1") == 0;
    if (rc == 0 && have_cg) {
        tracked = cg_added("pingpong", port, &plain_t);
        untracked = cg_added("pipe", port, &plain_u);
    }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    bc_cleanup();
    if (rc != 0)
        return 1;
    double rps_shim = N_RTT / best[1] * 1e9, rps_plain = N_RTT / best[0] * 1e9;
    double ratio = rps_shim / rps_plain;
    double noise = bc_spread(plain_runs, REPS);
    bc_row("hotpath_pingpong_rtt_per_s", rps_shim, rps_plain, ratio);
    printf("# hotpath_pingpong_rtt_per_s: %.3f of no shim (best of %d x %d round trips; runs "
           "spread %.1f%%), target >= 0.99: %s\n", ratio, REPS, N_RTT, noise * 100,
           bc_verdict(1 - ratio, noise, ratio >= 0.99));
    if (!have_cg) {
        printf("# hotpath instruction counts: valgrind not installed (apt-get install valgrind)\n");
        return 0;
    }
    if (tracked < -1e8 || untracked < -1e8 || plain_t <= 0 || plain_u <= 0)
        return 1;
    bc_row("hotpath_tracked_ir_per_call", tracked, plain_t, tracked / plain_t);
    bc_row("hotpath_untracked_ir_per_call", untracked, plain_u, untracked / plain_u);
    printf("# hotpath_tracked_ir_per_call: %.1f instructions added per send/recv, target <= 25: %s\n",
           tracked, bc_verdict(tracked, 0.5, tracked <= 25));
    printf("# hotpath_untracked_ir_per_call: %.1f instructions added per read/write on a pipe, "
           "target <= 12: %s\n", untracked, bc_verdict(untracked, 0.5, untracked <= 12));
    return 0;
}
