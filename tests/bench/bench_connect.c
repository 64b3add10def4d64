/*
 * bench_connect.c - what the shim costs on the connect path (issues 8, 18).
 *
 *   BUILD=DIR bench_connect           run every measurement, print the rows
 *   bench_connect phase cycles PORT N one measurement (bench_common.h)
 *
 * The destination, a loopback listener (a separate, never-preloaded
 * process), is matched by a section with the built-in defaults (retries,
 * breaker on, connect timeout), in three configs: state = process,
 * state = shared, and "noretry" (state = process, retries = 0,
 * connect_timeout_ms = 0: nothing to retry or bound). Each config is first
 * checked to track the connects (bc_tracked): a config that matched nothing
 * would measure nothing, and the benchmark fails. Rows:
 *   connect_cycles_per_s_CFG        socket+connect+close cycles per second
 *                                   against no shim, best of REPS interleaved
 *                                   runs (target ratio >= 0.90)
 *   connect_added_ir_per_cycle_CFG  user-space instructions the shim adds per
 *                                   cycle, by callgrind: (Ir_shim(2N) -
 *                                   Ir_shim(N) - (Ir_plain(2N) - Ir_plain(N))) / N
 *                                   (target <= 1,500)
 *   connect_added_syscalls_per_cycle_CFG  system calls added per cycle, by
 *                                   strace -c, differential as above (target <= 1)
 * A figure not above its noise (the spread of the plain runs for the wall
 * clock, one instruction or 0.05 system call per cycle for the counts) is
 * reported "within noise", never "met".
 */
#include "bench_common.h"

#define REPS 15
#define N_CYCLES 2000
#define N_CG 1000
#define N_STRACE 200
#define N_CFG 3
#define TARGET_RATIO 0.90
#define TARGET_IR 1500
#define TARGET_SYSCALLS 1

static const char *const cfgs[N_CFG] = {"process", "shared", "noretry"};

/* Added per cycle by cfg against no shim, as measure() counts it over N
 * and 2N cycles; *plain gets no shim's own count per cycle. -1e9 on failure. */
static double added(long long (*measure)(const char *, const char *), const char *cfg, int port,
                    long n, double *plain)
{
    long long v[2][2];
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 2; m++) {
            char args[64];
            snprintf(args, sizeof args, "cycles %d %ld", port, n * (m + 1));
            if ((v[s][m] = measure(s ? cfg : NULL, args)) < 0)
                return -1e9;
        }
    *plain = (double)(v[0][1] - v[0][0]) / (double)n;
    return ((double)(v[1][1] - v[1][0]) - (double)(v[0][1] - v[0][0])) / (double)n;
}

static long long cg_total(const char *cfg, const char *args)
{
    return bc_cg_ir(cfg, args, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "cycles") == 0)
        return bc_phase_cycles(atoi(argv[3]), atol(argv[4]));
    if (bc_setup("connect") != 0)
        return 1;
    pid_t srv;
    int port = bc_serve(500, &srv);
    int rc = 0;
    for (int c = 0; c < N_CFG; c++)
        rc |= bc_config(cfgs[c], "[global]\nstate = %s\nstate_dir = %s\nlog_level = off\n"
                        "[destination conn]\nhost = 127.0.0.1\nport = %d\n%s",
                        c == 1 ? "shared" : "process", bc_tmp, port,
                        c == 2 ? "retries = 0\nconnect_timeout_ms = 0\n" : "");
    char args[64], out[64];
    snprintf(args, sizeof args, "cycles %d 3", port);
    for (int c = 0; c < N_CFG && rc == 0; c++)
        if (bc_tracked(cfgs[c], args, "conn") != 3) {
            fprintf(stderr, "bench_connect: config %s did not track its connects\n", cfgs[c]);
            rc = -1;
        }
    double ns[N_CFG + 1][REPS];   /* [0]: no shim */
    snprintf(args, sizeof args, "cycles %d %d", port, N_CYCLES);
    for (int r = 0; r < REPS && rc == 0; r++)
        for (int c = 0; c <= N_CFG && rc == 0; c++)
            if (bc_phase(c ? cfgs[c - 1] : NULL, "", out, sizeof out, args) != 0 ||
                sscanf(out, "%lf", &ns[c][r]) != 1)
                rc = -1;
    double ir[N_CFG], sys[N_CFG], ir_plain = 0, sys_plain = 0;
    int have_cg = system("valgrind --version >/dev/null 2>&1") == 0;
    int have_strace = system("strace -V >/dev/null 2>&1") == 0;
    for (int c = 0; c < N_CFG && rc == 0; c++) {
        ir[c] = have_cg ? added(cg_total, cfgs[c], port, N_CG, &ir_plain) : 0;
        sys[c] = have_strace ? added(bc_syscalls, cfgs[c], port, N_STRACE, &sys_plain) : 0;
        if (ir[c] < -1e8 || sys[c] < -1e8)
            rc = -1;
    }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    bc_cleanup();
    if (rc != 0)
        return 1;
    double noise = bc_spread(ns[0], REPS), plain_ns = ns[0][0];
    for (int c = 0; c < N_CFG; c++) {
        char name[80];
        bc_spread(ns[c + 1], REPS);   /* sorts: [0] is the best */
        double best = ns[c + 1][0];
        double v = N_CYCLES / best * 1e9, plain = N_CYCLES / plain_ns * 1e9, ratio = v / plain;
        snprintf(name, sizeof name, "connect_cycles_per_s_%s", cfgs[c]);
        bc_row(name, v, plain, ratio);
        printf("# %s: %.3f of no shim (%.2f vs %.2f us per socket+connect+close; runs spread "
               "%.1f%%), target >= %.2f: %s\n", name, ratio, best / N_CYCLES / 1e3,
               plain_ns / N_CYCLES / 1e3, noise * 100, TARGET_RATIO,
               bc_verdict(1 - ratio, noise, ratio >= TARGET_RATIO));
    }
    if (!have_cg || !have_strace)
        printf("# connect instruction and system call counts: valgrind or strace not installed\n");
    for (int c = 0; c < N_CFG && have_cg; c++) {
        char name[80];
        snprintf(name, sizeof name, "connect_added_ir_per_cycle_%s", cfgs[c]);
        bc_row(name, ir[c], ir_plain, ir[c] / ir_plain);
        printf("# %s: %.0f user-space instructions added per socket+connect+close, "
               "target <= %d: %s\n", name, ir[c], TARGET_IR,
               bc_verdict(ir[c], 1, ir[c] <= TARGET_IR));
    }
    for (int c = 0; c < N_CFG && have_strace; c++) {
        char name[80];
        snprintf(name, sizeof name, "connect_added_syscalls_per_cycle_%s", cfgs[c]);
        bc_row(name, sys[c], sys_plain, sys[c] / sys_plain);
        printf("# %s: %.2f system calls added per socket+connect+close, target <= %d: %s\n",
               name, sys[c], TARGET_SYSCALLS, bc_verdict(sys[c], 0.05, sys[c] <= TARGET_SYSCALLS + 0.05));
    }
    return 0;
}
