/*
 * bench_failfast.c - how fast a call to a dead dependency fails (issue 8 item 3).
 *
 *   BUILD=DIR bench_failfast            run the measurement, print the row
 *   bench_failfast phase calls PORT N SKIP
 *                                       N blocking connects to PORT, each on a
 *                                       new socket with the client's own 1 s
 *                                       limit (SO_SNDTIMEO); prints the median
 *                                       nanoseconds of calls SKIP..N-1
 *
 * The dependency is bw_faultd blackhole (SYNs dropped: a connect hangs until
 * the caller gives up). Without the shim each call waits out the client's own
 * 1 s. Under the shim (breaker_consecutive_failures = WARM) the first WARM
 * calls do too and open the breaker; the calls after them are measured.
 * Row: failfast_speedup | median with the breaker open (ns) | median without
 * the shim (ns) | speed-up (baseline / value). Target >= 1000.
 */
#include "bench_common.h"

#define PLAIN_CALLS 3
#define WARM 3
#define OPEN_CALLS 2000

static int phase_calls(int port, int n, int skip)
{
    struct sockaddr_in sin = bc_loopback(port);
    double *v = calloc((size_t)n, sizeof *v);
    struct timeval tv = {1, 0};
    int last_err = 0;
    for (int i = 0; v && i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
            bc_die("socket");
        int64_t t0 = bc_now_ns();
        int r = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        v[i] = (double)(bc_now_ns() - t0);
        last_err = r == 0 ? 0 : errno;
        close(fd);
        if (r == 0) {
            fprintf(stderr, "bench_failfast: a connect to the blackhole succeeded\n");
            return 1;
        }
    }
    if (!v)
        return 1;
    printf("%.0f %s\n", bc_median(v + skip, n - skip), strerror(last_err));
    return 0;
}

/* Starts bw_faultd blackhole; returns its port, *pid its pid; -1 on failure. */
static int start_blackhole(pid_t *pid)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    *pid = fork();
    if (*pid == 0) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/tests/support/bw_faultd", bc_build);
        dup2(p[1], 1);
        close(p[0]);
        unsetenv("LD_PRELOAD");
        execl(path, "bw_faultd", "--max-seconds", "120", "blackhole", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    int port = -1;
    if (!f || fscanf(f, "port %d", &port) != 1)
        port = -1;
    if (f)
        fclose(f);
    usleep(300000);   /* let it fill its accept queue */
    return port;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "calls") == 0)
        return phase_calls(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (bc_setup("failfast") != 0)
        return 1;
    pid_t bh;
    int port = start_blackhole(&bh);
    int rc = port > 0 ? 0 : -1;
    rc |= bc_config("open", "[global]\nstate = shared\nstate_dir = %s\nlog_level = off\n"
                    "[destination dead]\nhost = 127.0.0.1\nport = %d\n"
                    "breaker_consecutive_failures = %d\n", bc_tmp, port, WARM);
    char args[64], out[128], plain_how[64] = "", shim_how[64] = "";
    double plain = 0, shim = 0;
    snprintf(args, sizeof args, "calls %d %d 0", port, PLAIN_CALLS);
    if (rc == 0 && (bc_phase(NULL, "", out, sizeof out, args) != 0 ||
                    sscanf(out, "%lf %63[^\n]", &plain, plain_how) != 2))
        rc = -1;
    snprintf(args, sizeof args, "calls %d %d %d", port, WARM + OPEN_CALLS, WARM);
    if (rc == 0 && (bc_phase("open", "", out, sizeof out, args) != 0 ||
                    sscanf(out, "%lf %63[^\n]", &shim, shim_how) != 2))
        rc = -1;
    /* Proof that the calls measured were the shim's: the breaker rejected them. */
    long rejected = rc == 0 ? bc_status_count("open", "dead", "rejected_breaker") : -1;
    if (port > 0) {
        kill(bh, SIGTERM);
        waitpid(bh, NULL, 0);
    }
    bc_cleanup();
    if (rc != 0 || shim <= 0)
        return 1;
    if (rejected < OPEN_CALLS - WARM) {
        printf("# failfast: status counts %ld breaker rejections for destination dead (-1: none), "
               "fewer than %d: the config did not track them, no row is valid\n",
               rejected, OPEN_CALLS - WARM);
        return 1;
    }
    bc_row("failfast_speedup", shim, plain, plain / shim);
    printf("# failfast_speedup: a call to a blackholed dependency takes %.0f ns with the breaker "
           "open (%s) vs %.3f s without the shim (%s): %.0fx faster, target >= 1000x: %s\n",
           shim, shim_how, plain / 1e9, plain_how, plain / shim,
           bc_verdict(plain / shim, 1, plain / shim >= 1000));
    return 0;
}
