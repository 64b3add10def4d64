/*
 * retry_client - connects to HOST PORT the way a plain C program does, and
 * reports how each connect() ended, for the connect-retry tests (t_retry_*).
 *
 *   retry_client [-t THREADS] [-s SNDTIMEO_MS] [-a ALARM_MS] [-r] [-f] [-n] HOST PORT
 *
 * Every thread (default 1) makes one socket and one connect() call and prints
 *   "connect ok fd=N ms=M" or "connect fail fd=N errno=NAME ms=M"
 * -s sets SO_SNDTIMEO on the socket first (the program's own connect limit).
 * -a arms a SIGALRM after ALARM_MS whose handler is installed WITHOUT
 *    SA_RESTART, so a connect() blocked when it fires returns EINTR.
 * -r installs that handler WITH SA_RESTART: the kernel restarts the call, and
 *    so must the shim.
 * -f first installs crash handlers (SIGSEGV, SIGBUS, SIGFPE) without
 *    SA_RESTART, as sanitizer runtimes and Python's faulthandler do: they
 *    interrupt no call, so -r's restart must still hold.
 * -n makes the socket non-blocking and, on EINPROGRESS, waits with poll()
 *    and reads SO_ERROR (printed as "connect inprogress ... then=NAME").
 * Exit status: 0 when every connect succeeded, 1 otherwise, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static int g_sndtimeo_ms, g_nonblock, g_restart;
static atomic_int g_alarms;
static atomic_int g_failed;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "unknown";
}

static void on_fault(int sig)
{
    (void)sig;   /* never raised here: installed only */
    _exit(3);
}

static void on_alarm(int sig)
{
    (void)sig;   /* only there to interrupt the blocked call */
    atomic_fetch_add(&g_alarms, 1);
}

/* One socket, one connect(); prints its outcome. */
static void *one_connect(void *arg)
{
    (void)arg;
    int fd = socket(g_addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        atomic_store(&g_failed, 1);
        return NULL;
    }
    if (g_sndtimeo_ms > 0) {
        struct timeval tv = {g_sndtimeo_ms / 1000, (g_sndtimeo_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (g_nonblock)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    long long t0 = now_ms();
    int rc = connect(fd, (struct sockaddr *)&g_addr, g_addrlen);
    int cerr = rc == 0 ? 0 : errno, err = cerr;
    long long ms = now_ms() - t0;
    const char *how = rc == 0 ? "ok" : "fail";
    char then[64] = "";
    if (err == EINPROGRESS && g_nonblock) {
        /* The outcome comes later, as the program learns it. */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = ETIMEDOUT;
        socklen_t sl = sizeof soerr;
        if (poll(&p, 1, 10000) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        snprintf(then, sizeof then, " then=%s", soerr ? errname(soerr) : "ok");
        how = "inprogress";
        err = soerr;
    }
    pthread_mutex_lock(&g_out);
    if (rc == 0)
        printf("connect ok fd=%d ms=%lld\n", fd, ms);
    else
        printf("connect %s fd=%d errno=%s ms=%lld%s\n", how, fd, errname(cerr),
               ms, then);
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
    if (err)
        atomic_store(&g_failed, 1);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 1, alarm_ms = 0, opt;
    while ((opt = getopt(argc, argv, "t:s:a:rnf")) != -1) {
        switch (opt) {
        case 'f': {
            struct sigaction fa;
            memset(&fa, 0, sizeof fa);
            fa.sa_handler = on_fault;
            sigemptyset(&fa.sa_mask);
            fa.sa_flags = SA_NODEFER | SA_ONSTACK;
            sigaction(SIGSEGV, &fa, NULL);
            sigaction(SIGBUS, &fa, NULL);
            sigaction(SIGFPE, &fa, NULL);
            break;
        }
        case 't': threads = atoi(optarg); break;
        case 's': g_sndtimeo_ms = atoi(optarg); break;
        case 'a': alarm_ms = atoi(optarg); break;
        case 'n': g_nonblock = 1; break;
        case 'r': g_restart = 1; break;
        default: goto usage;
        }
    }
    if (argc - optind != 2 || threads < 1 || threads > 1000)
        goto usage;
    const char *host = argv[optind];
    int port = atoi(argv[optind + 1]);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&g_addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&g_addr;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        g_addrlen = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        g_addrlen = sizeof *s6;
    } else {
        goto usage;
    }
    if (alarm_ms > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = g_restart ? SA_RESTART : 0;   /* without: the blocked call sees EINTR */
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 0}, {alarm_ms / 1000, (alarm_ms % 1000) * 1000}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (threads == 1) {
        one_connect(NULL);
    } else {
        pthread_t tid[1000];
        for (int i = 0; i < threads; i++)
            if (pthread_create(&tid[i], NULL, one_connect, NULL) != 0) {
                perror("pthread_create");
                return 1;
            }
        for (int i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
    }
    if (alarm_ms > 0 && atomic_load(&g_alarms) != 1)
        fprintf(stderr, "retry_client: the alarm fired %d times, not once\n", atomic_load(&g_alarms));
    return atomic_load(&g_failed) ? 1 : 0;
usage:
    fprintf(stderr, "usage: retry_client [-t THREADS] [-s SNDTIMEO_MS] [-a ALARM_MS] [-r] [-f] [-n] HOST PORT\n");
    return 2;
}
