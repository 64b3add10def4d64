/*
 * reentry_client.c - a program whose signal handler uses the waits while
 * its main thread is inside them (t_proc_reentry.sh).
 *
 *   reentry_client PORT MS
 *
 * Two non-blocking sockets connect to PORT (nobody listens: under the shim
 * each connect stays pending, retried inside the waits) and sit in an epoll
 * instance. For MS milliseconds the main thread goes round poll, epoll_wait,
 * epoll_ctl(MOD) and select on them, reconnecting a socket whose connect
 * failed for good; a SIGALRM every 0.5 ms runs a handler that calls poll,
 * epoll_ctl(MOD) and getsockopt(SO_ERROR) on them too (all async-signal-safe
 * in POSIX). Prints "done" with the number of handler runs; a hang is the
 * bug (the caller bounds the run).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_port, g_ep = -1;
static int g_fd[2] = {-1, -1};
static volatile sig_atomic_t g_handled;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A new non-blocking socket k connecting to PORT, registered in the epoll instance. */
static void start(int k)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)k};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll_ctl ADD");
        exit(2);
    }
    connect(fd, (struct sockaddr *)&sin, sizeof sin);
    g_fd[k] = fd;
}

/* Socket k's connect is over (failed): a fresh one takes its place. */
static void restart_if_over(int k)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(g_fd[k], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0)
        return;   /* still connecting (or a retry is pending) */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);   /* the handler uses g_fd */
    close(g_fd[k]);
    start(k);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    struct pollfd p[2] = {{g_fd[0], POLLOUT, 0}, {g_fd[1], POLLOUT, 0}};
    poll(p, 2, 0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 0};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, g_fd[0], &ev);
    int err;
    socklen_t len = sizeof err;
    getsockopt(g_fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
    g_handled++;
    errno = saved;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: reentry_client PORT MS\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    long ms = atol(argv[2]);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    start(0);
    start(1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &it, NULL);
    long end = now_ms() + ms, rounds = 0;
    while (now_ms() < end) {
        struct pollfd p[2] = {{g_fd[0], POLLOUT, 0}, {g_fd[1], POLLOUT, 0}};
        struct epoll_event evs[2], ev = {.events = EPOLLOUT, .data.u64 = 0};
        fd_set w;
        struct timeval tv = {0, 1000};
        switch (rounds++ % 4) {
        case 0:
            poll(p, 2, 1);
            break;
        case 1:
            epoll_wait(g_ep, evs, 2, 1);
            break;
        case 2:
            for (int i = 0; i < 50; i++)
                epoll_ctl(g_ep, EPOLL_CTL_MOD, g_fd[0], &ev);
            break;
        default:
            FD_ZERO(&w);
            FD_SET(g_fd[0], &w);
            FD_SET(g_fd[1], &w);
            select((g_fd[0] > g_fd[1] ? g_fd[0] : g_fd[1]) + 1, NULL, &w, NULL, &tv);
            break;
        }
        restart_if_over(0);
        restart_if_over(1);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("done, handler ran %s\n", g_handled > 100 ? "often" : "rarely");
    fprintf(stderr, "# %ld rounds, %d handler runs\n", rounds, (int)g_handled);
    return 0;
}
