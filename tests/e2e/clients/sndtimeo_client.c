/*
 * sndtimeo_client - what a program's socket shows of SO_SNDTIMEO after a
 * blocking connect the shim retried (t_sndtimeo_lent.sh).
 *
 *   sndtimeo_client OWN_MS MODE     OWN_MS: the program's own SO_SNDTIMEO,
 *                                   set before connect (0: none set)
 *   sndtimeo_client check FD        prints "child_get=MS" for inherited FD
 *
 * The client reserves a port (a bound socket, not listening: connects are
 * refused) and a thread starts listening on it 150 ms later, so that the
 * first attempt is refused and a retry connects; it prints "port=P". Then,
 * by MODE:
 *   send   sends 64 KiB pieces to the peer, which never reads (both ends'
 *          buffers are small: it is full at once), until a send fails or
 *          SIGALRM (3 s, no SA_RESTART) cuts it: "send_ms=T max_ms=L
 *          end=EINTR|EAGAIN|..." (L: the longest send), then "get=MS"
 *   get    "get=MS", the first thing done on the socket after connect
 *   exec   execs itself as "check FD"
 *   fork   fork, the child execs "check FD"
 *   vfork  vfork, the child execs "check FD"
 *   spawn  posix_spawn of "check FD"
 *   system system("SELF check FD")
 *   pass   hands FD by SCM_RIGHTS to a process forked before the connect,
 *          which prints "recv_get=MS"
 * MS is getsockopt(SO_SNDTIMEO) in milliseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
    fprintf(stderr, "sndtimeo_client: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long sndtimeo_ms(int fd)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0)
        die("getsockopt");
    return tv.tv_sec * 1000L + tv.tv_usec / 1000;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *listen_later(void *arg)
{
    usleep(150 * 1000);
    if (listen(*(int *)arg, 8) != 0)
        die("listen");
    return NULL;
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) { (void)sig; alarmed = 1; }

static void send_until_cut(int fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;   /* no SA_RESTART: the blocked send ends with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    static char buf[65536];
    int64_t t0 = now_ms(), longest = 0;
    alarm(3);
    int err = 0;
    while (!alarmed) {
        int64_t began = now_ms();
        ssize_t r = send(fd, buf, sizeof buf, 0);
        if (now_ms() - began > longest)
            longest = now_ms() - began;
        if (r < 0) {
            err = errno;
            break;
        }
    }
    printf("send_ms=%lld max_ms=%lld end=%s\n", (long long)(now_ms() - t0), (long long)longest,
           err == EINTR || (!err && alarmed) ? "EINTR" : err == EAGAIN ? "EAGAIN" : strerror(err));
}

static void run_check(const char *self, int fd, int how)
{
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", fd);
    char *argv[] = {(char *)self, "check", fdarg, NULL};
    fflush(stdout);
    if (how == 'S') {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "'%s' check %d", self, fd);
        if (system(cmd) != 0)
            die("system");
        return;
    }
    if (how == 's') {
        pid_t pid;
        if ((errno = posix_spawn(&pid, self, NULL, NULL, argv, environ)) != 0)
            die("posix_spawn");
        waitpid(pid, NULL, 0);
        return;
    }
    if (how == 'e') {
        execv(self, argv);
        die("execv");
    }
    pid_t pid = how == 'v' ? vfork() : fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execv(self, argv);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
}

/* The receiver of "pass": prints what the socket it is handed shows. */
static void receive_fd(int us)
{
    char byte;
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec v = {&byte, 1};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    if (recvmsg(us, &m, 0) != 1)
        die("recvmsg");
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    if (!cm || cm->cmsg_type != SCM_RIGHTS)
        die("no descriptor received");
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    printf("recv_get=%ld\n", sndtimeo_ms(fd));
    fflush(stdout);
    _exit(0);
}

static void pass_fd(int us, int fd)
{
    char byte = 'x';
    char ctl[CMSG_SPACE(sizeof(int))];
    memset(ctl, 0, sizeof ctl);
    struct iovec v = {&byte, 1};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    if (sendmsg(us, &m, 0) != 1)
        die("sendmsg");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0) {
        printf("child_get=%ld\n", sndtimeo_ms(atoi(argv[2])));
        return 0;
    }
    if (argc != 3)
        return fprintf(stderr, "usage: sndtimeo_client OWN_MS MODE\n"), 2;
    long own = atol(argv[1]);
    const char *mode = argv[2];
    int pair[2] = {-1, -1};
    pid_t receiver = -1;
    if (strcmp(mode, "pass") == 0) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
            die("socketpair");
        if ((receiver = fork()) == 0) {
            close(pair[0]);
            receive_fd(pair[1]);
        }
        close(pair[1]);
    }
    /* The port: reserved now, listening in 150 ms. */
    int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    int small = 4096;   /* small buffers on both ends: the peer is full at once */
    if (lst < 0 || setsockopt(lst, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0 ||
        bind(lst, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(lst, (struct sockaddr *)&sin, &sl) != 0)
        die("reserve a port");
    pthread_t th;
    pthread_create(&th, NULL, listen_later, &lst);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) != 0)
        die("socket");
    if (own) {
        struct timeval tv = {own / 1000, (own % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
            die("setsockopt");
    }
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        die("connect");
    pthread_join(th, NULL);
    printf("port=%d\n", ntohs(sin.sin_port));
    fflush(stdout);
    if (strcmp(mode, "send") == 0) {   /* the sends first: nothing else on fd before them */
        send_until_cut(fd);
        printf("get=%ld\n", sndtimeo_ms(fd));
        return 0;
    }
    if (strcmp(mode, "get") == 0) {
        printf("get=%ld\n", sndtimeo_ms(fd));
        return 0;
    }
    if (strcmp(mode, "pass") == 0) {
        pass_fd(pair[0], fd);
        waitpid(receiver, NULL, 0);
        return 0;
    }
    int how = strcmp(mode, "exec") == 0 ? 'e' : strcmp(mode, "fork") == 0 ? 'f'
            : strcmp(mode, "vfork") == 0 ? 'v' : strcmp(mode, "spawn") == 0 ? 's'
            : strcmp(mode, "system") == 0 ? 'S' : 0;
    if (!how)
        return fprintf(stderr, "sndtimeo_client: unknown mode %s\n", mode), 2;
    run_check(argv[0], fd, how);
    return 0;
}
