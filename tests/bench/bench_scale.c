/*
 * bench_scale.c - the shim at scale (issue 8 item 5).
 *
 *   BUILD=DIR bench_scale                 run every measurement, print the rows
 *   bench_scale phase cycles PORT N       bench_common.h's connect cycles
 *   bench_scale phase conc PORT CONNS THREADS
 *                                         CONNS connections held open at once,
 *                                         opened by THREADS threads, each
 *                                         echoing 64 bytes; prints "ERRORS
 *                                         OPENED RSS_DELTA_BYTES"
 *
 * Rows:
 *   scale_connect_ns_10000_sections  ns per connect cycle with 10,000
 *                  destination sections (the matching one last) against 1
 *                  section; best of REPS interleaved runs. Target ratio <= 1.1.
 *   scale_connect_ns_100_sections    the same with 100 sections
 *   scale_concurrent_ok              connections that were opened and echoed
 *                  under the shim, of CONNS over THREADS threads (baseline:
 *                  the same without the shim). Target: all of them, no error.
 *   scale_rss_bytes_per_conn         the process's resident memory growth per
 *                  open connection under the shim, against without it (the
 *                  shim's share is the difference); sizeof(bw_conn) is noted.
 * The peer is bench_common.h's epoll echo server (never preloaded). Each
 * config is first checked to track its connects (bc_tracked).
 */
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

#define REPS 7
#define N_CYCLES 2000
#define CONNS 10000
#define THREADS 64

static int g_port, g_per, g_extra;
static pthread_barrier_t g_opened, g_measured;
static atomic_int g_errors, g_ok;

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    if (f)
        fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* One thread's share: open g_per connections and echo 64 bytes on each, wait
 * until every thread has (the main thread measures), then close them. */
static void *conc_thread(void *arg)
{
    int per = g_per + ((long)arg < g_extra);   /* the remainder goes to the first threads */
    int *fds = calloc((size_t)per, sizeof *fds);
    char buf[64];
    memset(buf, 'y', sizeof buf);
    for (int i = 0; fds && i < per; i++) {
        fds[i] = bc_dial(g_port);
        size_t got = 0;
        if (fds[i] >= 0 && send(fds[i], buf, sizeof buf, 0) == (ssize_t)sizeof buf)
            for (ssize_t r = 1; got < sizeof buf && r > 0; got += (size_t)(r > 0 ? r : 0))
                r = recv(fds[i], buf + got, sizeof buf - got, 0);
        atomic_fetch_add(got == sizeof buf ? &g_ok : &g_errors, 1);
    }
    pthread_barrier_wait(&g_opened);
    pthread_barrier_wait(&g_measured);
    for (int i = 0; fds && i < per; i++)
        if (fds[i] >= 0)
            bc_close_hard(fds[i]);
    free(fds);
    return NULL;
}

static int phase_conc(int port, int conns, int threads)
{
    if (bc_raise_nofile(conns + 1024) < conns + 64) {
        fprintf(stderr, "bench_scale: cannot raise RLIMIT_NOFILE to %d\n", conns + 1024);
        return 1;
    }
    g_port = port;
    g_per = conns / threads;
    g_extra = conns % threads;
    pthread_barrier_init(&g_opened, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&g_measured, NULL, (unsigned)threads + 1);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    long before = rss_bytes();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], &attr, conc_thread, (void *)(long)i) != 0)
            bc_die("pthread_create");
    pthread_barrier_wait(&g_opened);
    long after = rss_bytes();
    pthread_barrier_wait(&g_measured);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    printf("%d %d %ld\n", atomic_load(&g_errors), atomic_load(&g_ok), after - before);
    return 0;
}

/* Writes bc_tmp/sN.ini: n sections, the one matching 127.0.0.1:port last; the
 * others mix exact IPs, hostnames, suffixes and CIDRs, as a big file would. */
static int write_sections(int n, int port)
{
    char path[sizeof bc_tmp + 32];
    snprintf(path, sizeof path, "%s/s%d.ini", bc_tmp, n);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "[global]\nstate = shared\nstate_dir = %s\nlog_level = off\n", bc_tmp);
    for (int i = 0; i < n - 1; i++) {
        int a = (i >> 8) & 255, b = i & 255;
        switch (i % 4) {
        case 0: fprintf(f, "[destination d%d]\nhost = 10.%d.%d.1\nport = 8080\n", i, a, b); break;
        case 1: fprintf(f, "[destination d%d]\nhost = svc%d.example.internal\n", i, i); break;
        case 2: fprintf(f, "[destination d%d]\nhost = *.zone%d.example\n", i, i); break;
        default: fprintf(f, "[destination d%d]\nhost = 10.%d.%d.0/24\nport = %d\n", i, a, b, port); break;
        }
    }
    fprintf(f, "[destination target]\nhost = 127.0.0.1\nport = %d\n", port);
    fclose(f);
    return chmod(path, 0600);
}

/* sizeof(bw_conn) as the build sees it, compiled from the shim's own header; -1 if unknown. */
static long sizeof_conn(void)
{
    char src[PATH_MAX], root[PATH_MAX], cmd[3 * PATH_MAX + 256];
    snprintf(src, sizeof src, "%s", __FILE__);
    snprintf(root, sizeof root, "%s/../..", dirname(src));
    snprintf(cmd, sizeof cmd, "printf '#include <stdio.h>\\n#include \"shim.h\"\\nint main(void) "
             "{ printf(\"%%%%zu\\\\n\", sizeof(bw_conn)); return 0; }\\n' | cc -std=gnu11 "
             "-D_GNU_SOURCE -pthread -I'%s/include' -I'%s/src/preload' -x c - -o '%s/sz' "
             "2>/dev/null && '%s/sz'", root, root, bc_tmp, bc_tmp);
    return bc_popen_long(cmd);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "cycles") == 0)
        return bc_phase_cycles(atoi(argv[3]), atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "phase") == 0 && strcmp(argv[2], "conc") == 0)
        return phase_conc(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (bc_setup("scale") != 0)
        return 1;
    bc_raise_nofile(CONNS * 2 + 1024);   /* the server child and the phases inherit it */
    pid_t srv;
    int port = bc_serve(280, &srv);
    const int sizes[3] = {1, 100, 10000};
    int rc = 0;
    for (int i = 0; i < 3; i++)
        rc |= write_sections(sizes[i], port);
    double best[3] = {1e18, 1e18, 1e18};
    char args[64], out[128], cfg[16];
    snprintf(args, sizeof args, "cycles %d 3", port);
    for (int i = 0; i < 3 && rc == 0; i++) {   /* every config tracks its connects */
        snprintf(cfg, sizeof cfg, "s%d", sizes[i]);
        if (bc_tracked(cfg, args, "target") != 3) {
            fprintf(stderr, "bench_scale: config %s did not track its connects\n", cfg);
            rc = -1;
        }
    }
    snprintf(args, sizeof args, "cycles %d %d", port, N_CYCLES);
    for (int r = 0; r < REPS && rc == 0; r++)
        for (int i = 0; i < 3 && rc == 0; i++) {
            double ns;
            snprintf(cfg, sizeof cfg, "s%d", sizes[i]);
            if (bc_phase(cfg, "", out, sizeof out, args) != 0 || sscanf(out, "%lf", &ns) != 1)
                rc = -1;
            else if (ns < best[i])
                best[i] = ns;
        }
    int err[2] = {-1, -1}, ok[2] = {0, 0};
    long rss[2] = {0, 0};
    snprintf(args, sizeof args, "conc %d %d %d", port, CONNS, THREADS);
    for (int s = 0; s < 2 && rc == 0; s++)
        if (bc_phase(s ? "s1" : NULL, "", out, sizeof out, args) != 0 ||
            sscanf(out, "%d %d %ld", &err[s], &ok[s], &rss[s]) != 3)
            rc = -1;
    long conn_size = sizeof_conn();
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    bc_cleanup();
    if (rc != 0)
        return 1;
    for (int i = 2; i >= 1; i--) {
        char name[64];
        snprintf(name, sizeof name, "scale_connect_ns_%d_sections", sizes[i]);
        bc_row(name, best[i] / N_CYCLES, best[0] / N_CYCLES, best[i] / best[0]);
    }
    int total = CONNS;
    bc_row("scale_concurrent_ok", ok[1], ok[0], ok[0] ? (double)ok[1] / ok[0] : 0);
    double per_shim = (double)rss[1] / total, per_plain = (double)rss[0] / total;
    bc_row("scale_rss_bytes_per_conn", per_shim, per_plain, per_plain > 0 ? per_shim / per_plain : 0);
    printf("# scale_connect_ns_10000_sections: %.3f of 1 section, target <= 1.1: %s\n",
           best[2] / best[0], best[2] / best[0] <= 1.1 ? "met" : "missed");
    printf("# scale_concurrent_ok: %d of %d tracked connections over %d threads opened and echoed, "
           "%d errors (without the shim: %d, %d errors), target no error: %s\n", ok[1], total,
           THREADS, err[1], ok[0], err[0], err[1] == 0 && ok[1] == total ? "met" : "missed");
    printf("# scale_rss_bytes_per_conn: the shim holds %.0f bytes of resident memory per tracked "
           "connection (%.0f with it, %.0f without); sizeof(bw_conn) = %ld\n",
           per_shim - per_plain, per_shim, per_plain, conn_size);
    return 0;
}
