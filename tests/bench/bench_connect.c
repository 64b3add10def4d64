/*
 * bench_connect.c - what the shim costs on the connect path (issue 8 item 2).
 *
 *   BUILD=DIR bench_connect           run every measurement, print the rows
 *   bench_connect phase cycles PORT N one measurement (bench_common.h)
 *
 * Rows: connect+close cycles per second to a loopback listener (a separate,
 * never-preloaded process) under the shim, the destination matched by a
 * section with the built-in defaults (retries, breaker on, connect timeout),
 * against no shim:
 *   connect_cycles_per_s_process   state = process   (target ratio >= 0.90)
 *   connect_cycles_per_s_shared    state = shared    (target ratio >= 0.90)
 * Best of REPS interleaved runs of N_CYCLES cycles each.
 */
#include "bench_common.h"

#define REPS 15
#define N_CYCLES 2000

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "cycles") == 0)
        return bc_phase_cycles(atoi(argv[3]), atol(argv[4]));
    if (bc_setup("connect") != 0)
        return 1;
    pid_t srv;
    int port = bc_serve(200, &srv);
    const char *cfgs[3] = {NULL, "process", "shared"};
    int rc = 0;
    for (int c = 1; c < 3; c++)
        rc |= bc_config(cfgs[c], "[global]\nstate = %s\nstate_dir = %s\nlog_level = off\n"
                        "[destination conn]\nhost = 127.0.0.1\nport = %d\n",
                        cfgs[c], bc_tmp, port);
    double best[3] = {1e18, 1e18, 1e18};
    char args[64], out[64];
    snprintf(args, sizeof args, "cycles %d %d", port, N_CYCLES);
    for (int r = 0; r < REPS && rc == 0; r++)
        for (int c = 0; c < 3 && rc == 0; c++) {
            double ns;
            if (bc_phase(cfgs[c], "", out, sizeof out, args) != 0 || sscanf(out, "%lf", &ns) != 1)
                rc = -1;
            else if (ns < best[c])
                best[c] = ns;
        }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    bc_cleanup();
    if (rc != 0)
        return 1;
    double plain = N_CYCLES / best[0] * 1e9;
    for (int c = 1; c < 3; c++) {
        char name[64];
        double v = N_CYCLES / best[c] * 1e9;
        snprintf(name, sizeof name, "connect_cycles_per_s_%s", cfgs[c]);
        bc_row(name, v, plain, v / plain);
        printf("# %s: %.3f of no shim (%.1f vs %.1f us per socket+connect+close), "
               "target >= 0.90: %s\n", name, v / plain, best[c] / N_CYCLES / 1e3,
               best[0] / N_CYCLES / 1e3, v / plain >= 0.90 ? "met" : "missed");
    }
    return 0;
}
