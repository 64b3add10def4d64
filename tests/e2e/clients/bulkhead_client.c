/*
 * bulkhead_client - the bulkhead tests' instrument: runs a script of socket
 * operations given as arguments and prints one line per result, so that a
 * test can compare the whole output exactly.
 *
 *   bulkhead_client PORT CMD...
 *
 * Sockets are numbered s0, s1, ... in the order the script creates them (a
 * failed connect keeps its socket open and its number). Results go to stdout;
 * timings go to stderr as "# sN took MS ms" (tests read lower bounds there).
 *
 *   conn            blocking connect to 127.0.0.1:PORT -> "sN ok" / "sN ERRNO"
 *   conn6           the same to [::1]:PORT
 *   connp P         the same to 127.0.0.1:P
 *   nb / nbp P      non-blocking connect -> "sN started" (0 or EINPROGRESS) / "sN ERRNO"
 *   nbwait N        polls sN (at most 10 s), reads SO_ERROR -> "sN so_error ERRNO|0"
 *   epoll           creates an epoll instance (nonblocking = auto is then native)
 *   echo N          one round trip on sN -> "sN echo ok" / "sN echo failed"
 *   echoall         one round trip on every open connected socket -> "echoall ok=A"
 *   close N         close(); sysclose N: syscall(SYS_close); closerange N:
 *                   close_range(fd, fd, 0); fclose N: fdopen() then fclose()
 *   closerangeall   one close_range() from the lowest to the highest open socket
 *   bye N           graceful close: shutdown(SHUT_WR), read to EOF, close()
 *   dup N / fdup N  dup() / fcntl(F_DUPFD) of sN into a new number -> "sM = dup sN"
 *   dup2 N / dup3 N the JVM's close: dup2()/dup3() an unconnected socket over
 *                   sN's descriptor, then close that copy -> "sN dup2 closed"
 *   later MS N      a thread sleeps MS, then closes sN gracefully ("bye")
 *   bgconn MS       a thread sleeps MS, then connects; its line is printed
 *                   when it finishes, so the order of lines is the order of
 *                   admission
 *   join            waits for every thread started by later and bgconn
 *   burst K         K threads connect at once -> "burst ok=A ERRNO=B ..."
 *   stress T C      T threads do C cycles each of connect, echo, 1 ms, graceful
 *                   close -> "stress ok=A failed=B"
 *   forkclose       fork; the child closes every open socket (close, SYS_close,
 *                   close_range in turn), tries one connect, exits; parent waits
 *   sleep MS        sleeps
 *   kill            SIGKILL to itself (nothing closed, nothing flushed after)
 *
 * The process model (tests/e2e/t_proc_*.sh):
 *   closefrom N     closefrom() from sN's descriptor up
 *   rawclose N      close by a raw system call that no hook can see
 *   rawclosefree N  the same, leaving the number free for the next open()
 *   spare           makes a socket now; the next connect uses it
 *   vfork           vfork; the child closes sN's descriptors with close(),
 *                   then close_range(3, ~0U, 0), and execs /bin/true
 *                   -> "vfork child exit S"
 *   clone           the same as vfork with the program's own
 *                   clone(CLONE_VM | CLONE_VFORK | SIGCHLD)
 *                   -> "clone child exit S"
 *   spawn           posix_spawn of /bin/true with file actions closing
 *                   every open socket -> "spawn child exit S"
 *   cloexec N       sets FD_CLOEXEC on sN
 *   exec            execs this program again with the rest of the script
 *                   (its sockets are numbered from s0 again)
 *   execfail        an exec that fails -> "execfail ERRNO"
 *   inherited       numbers the connected sockets this image inherited
 *                   (after exec) as the next sN -> "inherited K"
 *   passhelper      forks a helper process (before any connect: it inherits
 *                   no socket) that takes descriptors over a UNIX socket
 *   pass N          sends sN's descriptor to the helper (SCM_RIGHTS)
 *   passclose       the helper closes every descriptor it got -> "helper closed K"
 *   passlinger MS   (before passhelper) once this process is gone, the helper
 *                   keeps what it got for MS more, then -> "helper done"
 *   forkhold N MS   forks a child that keeps sN (and all it inherits) open
 *                   for MS, then closes it -> "forkhold child done"; this
 *                   process goes on at once
 *   mark WORD       -> "WORD" (a point the test can wait for)
 *   cancel P MS K   a thread connects to 127.0.0.1:P (0: PORT) with a
 *                   cleanup handler closing sK (-1: none); MS later it is
 *                   cancelled and joined -> "cancel joined cancelled|finished"
 *   sigloop MS      for MS, the main thread connects and closes in a loop
 *                   while SIGALRM every 0.5 ms runs a handler that connects
 *                   and closes a socket of its own -> "sigloop done"; the
 *                   errnos of the main thread's failed connects go to stderr
 *                   ("# sigloop ... connects failed: NAME=COUNT ..." or "none")
 *   sigwrite P      connects to 127.0.0.1:P (a server that reads slowly) and
 *                   writes 64 MB (SO_SNDTIMEO 2 s) while a SIGALRM handler,
 *                   0.3 s in, sends on the same socket with MSG_DONTWAIT
 *                   -> "sigwrite handler ok|ERRNO main partial|all|ERRNO"
 *
 * The number a close (close, sysclose, closerange, closerangeall, fclose, bye,
 * later) frees is taken again at once by a copy of /dev/null made with a raw
 * dup3 system call, which no hook sees, and the copies of dead sockets that
 * dup2/dup3 leave stay open: a later socket() then never gets that number,
 * which would give a leaked slot back (the shim drops stale records of
 * numbers handed out again) and hide a close path that does not.
 *
 * At the end the program exits without closing anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 256
#define MAX_THREADS 64

static int g_port;
static int g_fds[MAX_SOCKS];        /* -1 once closed */
static int g_ok[MAX_SOCKS];         /* its connect succeeded */
static int g_nsocks;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t g_threads[MAX_THREADS];
static int g_nthreads;
static int g_null = -1;             /* /dev/null, the source of placeholders */
static int g_spare = -1;            /* a socket made ahead for the next connect */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Takes the just-closed number fd again, unseen by the shim (see above). */
static void hold(int fd)
{
    if (syscall(SYS_dup3, g_null, fd, O_CLOEXEC) != fd) {
        perror("dup3 placeholder");
        exit(2);
    }
}

static const char *errname(int e)
{
    static const struct { int e; const char *n; } t[] = {
        {ECONNREFUSED, "ECONNREFUSED"}, {ETIMEDOUT, "ETIMEDOUT"}, {EHOSTUNREACH, "EHOSTUNREACH"},
        {ENETUNREACH, "ENETUNREACH"}, {ECONNABORTED, "ECONNABORTED"}, {EINPROGRESS, "EINPROGRESS"},
        {EINTR, "EINTR"}, {ECONNRESET, "ECONNRESET"}, {EAGAIN, "EAGAIN"}, {EALREADY, "EALREADY"},
        {EBADF, "EBADF"}, {EISCONN, "EISCONN"},
    };
    static __thread char other[32];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].e == e)
            return t[i].n;
    snprintf(other, sizeof other, "errno%d", e);
    return other;
}

/* Prints one result line atomically (threads print too). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&g_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

/* Reserves the next socket number; the descriptor is filled in later. */
static int new_slot(void)
{
    pthread_mutex_lock(&g_lock);
    int n = g_nsocks < MAX_SOCKS ? g_nsocks++ : -1;
    if (n >= 0)
        g_fds[n] = -1;
    pthread_mutex_unlock(&g_lock);
    if (n < 0) {
        fprintf(stderr, "too many sockets\n");
        exit(2);
    }
    return n;
}

static int fd_of(const char *arg)
{
    int n = atoi(arg);
    if (n < 0 || n >= g_nsocks || g_fds[n] < 0) {
        fprintf(stderr, "s%d is not open\n", n);
        exit(2);
    }
    return n;
}

/* Fills *ss with 127.0.0.1:port, or [::1]:port when v6; returns its length. */
static socklen_t loopback(struct sockaddr_storage *ss, int port, int v6)
{
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
}

/* Connects a new socket; returns its number, *err gets 0 or the errno. */
static int do_connect(int port, int v6, int nonblocking, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(&ss, port, v6);
    int n = new_slot();
    int fd = g_spare >= 0 && !v6 && !nonblocking ? g_spare
             : socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    g_spare = -1;
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    g_fds[n] = fd;
    long t0 = now_ms();
    *err = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    g_ok[n] = *err == 0;
    fprintf(stderr, "# s%d took %ld ms\n", n, now_ms() - t0);
    return n;
}

static void report_connect(int n, int err)
{
    say("s%d %s", n, err ? errname(err) : "ok");
}

/* One "ping" round trip; 0 on success. */
static int echo_once(int fd)
{
    char buf[8];
    size_t got = 0;
    if (write(fd, "ping", 4) != 4)
        return -1;
    while (got < 4) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            return -1;
        ssize_t r = read(fd, buf + got, 4 - got);
        if (r <= 0)
            return -1;
        got += r;
    }
    return memcmp(buf, "ping", 4) == 0 ? 0 : -1;
}

/* Closes so that the server has closed its side first: the server's count
 * then never includes a connection whose slot was already given back. */
static void bye(int fd)
{
    char buf[64];
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1 || read(fd, buf, sizeof buf) <= 0)
            break;
    }
    close(fd);
}

/* The JVM's close: an unconnected socket dup2()ed over the descriptor. */
static void close_by_dup2(int n, int use_dup3)
{
    int dead = socket(AF_INET, SOCK_STREAM, 0);
    int fd = g_fds[n];
    int r = use_dup3 ? dup3(dead, fd, O_CLOEXEC) : dup2(dead, fd);
    if (r != fd) {
        perror("dup2");
        exit(2);
    }
    close(dead);
    g_fds[n] = -1;      /* fd now holds the dead socket: left open, see above */
    say("s%d %s closed", n, use_dup3 ? "dup3" : "dup2");
}

struct later_arg { long ms; int n; int port; };

static void *later_main(void *p)
{
    struct later_arg *a = p;
    sleep_ms(a->ms);
    int fd = g_fds[a->n];   /* may have been connected by a bgconn meanwhile */
    g_fds[a->n] = -1;
    if (fd >= 0) {
        bye(fd);
        hold(fd);
    }
    free(a);
    return NULL;
}

static void *bgconn_main(void *p)
{
    struct later_arg *a = p;
    sleep_ms(a->ms);
    struct sockaddr_storage ss;
    socklen_t len = loopback(&ss, a->port, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    g_fds[a->n] = fd;
    long t0 = now_ms();
    int err = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    g_ok[a->n] = err == 0;
    fprintf(stderr, "# s%d took %ld ms\n", a->n, now_ms() - t0);
    report_connect(a->n, err);
    free(a);
    return NULL;
}

static void spawn(void *(*fn)(void *), long ms, int n)
{
    struct later_arg *a = malloc(sizeof *a);
    *a = (struct later_arg){ms, n, g_port};
    if (g_nthreads == MAX_THREADS || pthread_create(&g_threads[g_nthreads++], NULL, fn, a) != 0) {
        fprintf(stderr, "cannot start a thread\n");
        exit(2);
    }
}

static void join_all(void)
{
    for (int i = 0; i < g_nthreads; i++)
        pthread_join(g_threads[i], NULL);
    g_nthreads = 0;
}

/* burst: K threads released together by a barrier. */
static pthread_barrier_t g_barrier;
struct burst_res { int n, err; long ms; };

static void *burst_main(void *p)
{
    struct burst_res *r = p;
    pthread_barrier_wait(&g_barrier);
    r->n = do_connect(g_port, 0, 0, &r->err);
    return NULL;
}

static void burst(int k)
{
    pthread_t t[MAX_THREADS];
    struct burst_res r[MAX_THREADS];
    int ok = 0, rejected = 0, rej_err = 0, other = 0;
    if (k < 1 || k > MAX_THREADS)
        exit(2);
    pthread_barrier_init(&g_barrier, NULL, (unsigned)k);
    for (int i = 0; i < k; i++)
        pthread_create(&t[i], NULL, burst_main, &r[i]);
    for (int i = 0; i < k; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < k; i++) {
        if (r[i].err == 0)
            ok++;
        else if (!rej_err || r[i].err == rej_err)
            rej_err = r[i].err, rejected++;
        else
            other++;
    }
    if (rejected)
        say("burst ok=%d %s=%d%s", ok, errname(rej_err), rejected, other ? " mixed" : "");
    else
        say("burst ok=%d", ok);
}

/* stress: every thread cycles connect, echo, hold 1 ms, graceful close. */
static int g_cycles;
static int g_stress_ok, g_stress_failed, g_stress_err;

static void *stress_main(void *p)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(&ss, g_port, 0);
    (void)p;
    for (int i = 0; i < g_cycles; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
        int err = errno;
        if (ok && echo_once(fd) != 0)
            ok = 0, err = -1;
        if (ok) {
            sleep_ms(1);
            bye(fd);
        } else {
            close(fd);
        }
        pthread_mutex_lock(&g_lock);
        if (ok)
            g_stress_ok++;
        else
            g_stress_failed++, g_stress_err = err;
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

static void stress(int threads, int cycles)
{
    pthread_t t[MAX_THREADS];
    if (threads < 1 || threads > MAX_THREADS)
        exit(2);
    g_cycles = cycles;
    long t0 = now_ms();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, stress_main, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "# stress took %ld ms\n", now_ms() - t0);
    if (g_stress_failed)
        say("stress ok=%d failed=%d last=%s", g_stress_ok, g_stress_failed,
            g_stress_err < 0 ? "echo" : errname(g_stress_err));
    else
        say("stress ok=%d failed=0", g_stress_ok);
}

/* forkclose: the child closes what it inherited, three ways in turn. */
static void fork_close(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        int k = 0;
        for (int n = 0; n < g_nsocks; n++) {
            int fd = g_fds[n];
            if (fd < 0)
                continue;
            if (k % 3 == 0)
                close(fd);
            else if (k % 3 == 1)
                syscall(SYS_close, fd);
            else
                syscall(SYS_close_range, fd, fd, 0);
            k++;
        }
        int err, n = do_connect(g_port, 0, 0, &err);
        say("child closed %d, s%d %s", k, n, err ? errname(err) : "ok");
        _exit(0);
    }
    int st = 0;
    for (int i = 0; i < 2000 && waitpid(pid, &st, WNOHANG) == 0; i++)   /* at most 20 s */
        sleep_ms(10);
    say("child exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- the process model ---- */

/* close() as a raw system call: no hook, not even syscall()'s, sees it. */
static long raw_close(int fd)
{
    long ret;
#if defined(__x86_64__)
    __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_close), "D"((long)fd)
                     : "rcx", "r11", "memory");
#else
    ret = syscall(SYS_close, fd);   /* elsewhere the hook sees it: the test is weaker */
#endif
    return ret;
}

/* Waits at most 20 s for pid; returns its exit status or -1. */
static int reap(pid_t pid)
{
    int st = 0;
    for (int i = 0; i < 2000 && waitpid(pid, &st, WNOHANG) == 0; i++)
        sleep_ms(10);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What a vfork-like child does: closes every socket, then everything from
 * 3 up, and execs /bin/true. */
struct child_job {
    int fds[MAX_SOCKS], n;
};

static int child_main(void *p)
{
    struct child_job *j = p;
    for (int k = 0; k < j->n; k++)
        close(j->fds[k]);
    close_range(3, ~0U, 0);
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
}

static void child_job_init(struct child_job *j)
{
    j->n = 0;
    for (int k = 0; k < g_nsocks; k++)
        if (g_fds[k] >= 0)
            j->fds[j->n++] = g_fds[k];
    fflush(stdout);
}

static void do_vfork(void)
{
    struct child_job j;
    child_job_init(&j);
    pid_t pid = vfork();
    if (pid == 0)
        child_main(&j);
    say("vfork child exit %d", pid < 0 ? -1 : reap(pid));
}

/* The program's own clone(CLONE_VM | CLONE_VFORK), on a stack of its own. */
static void do_clone(void)
{
    static char stack[256 * 1024] __attribute__((aligned(16)));
    struct child_job j;
    child_job_init(&j);
    pid_t pid = clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &j);
    say("clone child exit %d", pid < 0 ? -1 : reap(pid));
}

static void do_spawn(void)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int k = 0; k < g_nsocks; k++)
        if (g_fds[k] >= 0)
            posix_spawn_file_actions_addclose(&fa, g_fds[k]);
    extern char **environ;
    char *argv[] = {"true", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    say("spawn child exit %d", r != 0 ? -1 : reap(pid));
}

/* exec: this program again, with PORT and the script after "exec". */
static void do_exec(char **argv, int argc, int next)
{
    char *args[argc + 2];
    int k = 0;
    args[k++] = argv[0];
    args[k++] = argv[1];
    for (int i = next; i < argc; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    fflush(stdout);
    execv("/proc/self/exe", args);
    perror("exec");
    exit(2);
}

static int g_helper = -1;          /* our end of the helper's socketpair */
static pid_t g_helper_pid;
static long g_helper_linger_ms;    /* how long the helper outlives us */

/* The helper: keeps descriptors sent with 'p', closes them all at 'c'. */
static void helper_main(int sock)
{
    int fds[MAX_SOCKS], n = 0;
    for (;;) {
        char op;
        union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
        struct iovec v = {&op, 1};
        struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &ctl,
                           .msg_controllen = sizeof ctl};
        if (recvmsg(sock, &m, 0) != 1) {
            if (g_helper_linger_ms > 0) {   /* the sender is gone; we still hold its sockets */
                sleep_ms(g_helper_linger_ms);
                for (int i = 0; i < n; i++)
                    close(fds[i]);
                say("helper done");
            }
            _exit(0);
        }
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        if (op == 'p' && cm && cm->cmsg_type == SCM_RIGHTS && n < MAX_SOCKS)
            memcpy(&fds[n++], CMSG_DATA(cm), sizeof(int));
        char reply = (char)n;
        if (op == 'c') {
            for (int i = 0; i < n; i++)
                close(fds[i]);
            n = 0;
        }
        if (write(sock, &reply, 1) != 1)
            _exit(1);
    }
}

static void pass_helper(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        exit(2);
    fflush(stdout);
    g_helper_pid = fork();
    if (g_helper_pid == 0) {
        close(sv[0]);
        helper_main(sv[1]);
    }
    close(sv[1]);
    g_helper = sv[0];
}

/* A fork child keeps sN open for ms after this process closed its copy. */
static void fork_hold(int n, long ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sleep_ms(ms);
        close(g_fds[n]);
        say("forkhold child done");
        _exit(0);
    }
    if (pid < 0)
        exit(2);
}

/* Sends op (with fd when >= 0) to the helper; returns its one-byte reply. */
static int to_helper(char op, int fd)
{
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct iovec v = {&op, 1};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = &ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    char reply;
    if (g_helper < 0 || sendmsg(g_helper, &m, 0) != 1 || read(g_helper, &reply, 1) != 1) {
        fprintf(stderr, "helper gone\n");
        exit(2);
    }
    return reply;
}

struct cancel_job {
    int port, close_n;
};

static void cleanup_close(void *arg)
{
    int k = *(int *)arg;
    if (k >= 0 && g_fds[k] >= 0) {
        int fd = g_fds[k];
        g_fds[k] = -1;
        close(fd);
        hold(fd);
    }
}

static void *cancel_main(void *p)
{
    struct cancel_job *j = p;
    int err, n;
    pthread_cleanup_push(cleanup_close, &j->close_n);
    n = do_connect(j->port, 0, 0, &err);
    report_connect(n, err);
    pthread_cleanup_pop(0);
    return NULL;
}

static void do_cancel(int port, long ms, int close_n)
{
    struct cancel_job j = {port ? port : g_port, close_n};
    pthread_t t;
    void *res = NULL;
    pthread_create(&t, NULL, cancel_main, &j);
    sleep_ms(ms);
    pthread_cancel(t);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    if (pthread_timedjoin_np(t, &res, &ts) != 0) {
        say("cancel join timed out");
        exit(3);
    }
    say("cancel joined %s", res == PTHREAD_CANCELED ? "cancelled" : "finished");
}

static volatile sig_atomic_t g_handled;

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    struct sockaddr_storage ss;
    socklen_t len = loopback(&ss, g_port, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&ss, len);
        close(fd);
    }
    g_handled++;
    errno = saved;
}

/* Runs handler on SIGALRM, first after first_us, then every every_us (0: once). */
static void alarm_with(void (*handler)(int), long first_us, long every_us)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{every_us / 1000000, every_us % 1000000},
                           {first_us / 1000000, first_us % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

struct tally { int err; long n; };

/* Counts one more err in t: at most 8 different ones, more go to the eighth. */
static void tally(struct tally *t, int *n, int err)
{
    int k = 0;
    while (k < *n && t[k].err != err)
        k++;
    if (k == 8)
        k = 7;
    else if (k == *n)
        t[(*n)++] = (struct tally){err, 0};
    t[k].n++;
}

static void sigloop(long ms)
{
    struct tally errors[8];
    int n_errors = 0;
    alarm_with(on_alarm, 500, 500);
    struct sockaddr_storage ss;
    socklen_t len = loopback(&ss, g_port, 0);
    long t0 = now_ms(), cycles = 0;
    while (now_ms() - t0 < ms) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&ss, len) != 0)
            tally(errors, &n_errors, errno);
        close(fd);
        cycles++;
    }
    alarm_with(on_alarm, 0, 0);
    fprintf(stderr, "# sigloop %ld cycles, %d handler runs, connects failed:", cycles,
            (int)g_handled);
    for (int k = 0; k < n_errors; k++)
        fprintf(stderr, " %s=%ld", errname(errors[k].err), errors[k].n);
    fprintf(stderr, "%s\n", n_errors ? "" : " none");
    say("sigloop done");
}

static int g_sig_fd = -1;
static volatile int g_sig_err = -1;

static void on_alarm_send(int sig)
{
    (void)sig;
    int saved = errno;
    g_sig_err = send(g_sig_fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? errno : 0;
    errno = saved;
}

static void sigwrite(int port)
{
    int err, n = do_connect(port, 0, 0, &err);
    if (err)
        exit(2);
    g_sig_fd = g_fds[n];
    struct timeval tv = {2, 0};
    setsockopt(g_sig_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    alarm_with(on_alarm_send, 300000, 0);
    size_t len = 64 << 20;
    char *buf = calloc(1, len);
    if (!buf)
        exit(2);
    const char *head = "POST / HTTP/1.1\r\nContent-Length: 80000000\r\n\r\n";
    memcpy(buf, head, strlen(head));
    ssize_t w = write(g_sig_fd, buf, len);
    int werr = errno;
    free(buf);
    say("sigwrite handler %s main %s", g_sig_err < 0 ? "none" : g_sig_err ? errname(g_sig_err) : "ok",
        w > 0 && (size_t)w < len ? "partial" : w < 0 ? errname(werr) : "all");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bulkhead_client PORT CMD...\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    g_null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 2; i < argc; i++) {
        const char *c = argv[i];
        const char *arg = i + 1 < argc ? argv[i + 1] : "";
        int err, n;
        if (!strcmp(c, "conn") || !strcmp(c, "conn6")) {
            n = do_connect(g_port, c[4] == '6', 0, &err);
            report_connect(n, err);
        } else if (!strcmp(c, "connp")) {
            n = do_connect(atoi(arg), 0, 0, &err);
            report_connect(n, err);
            i++;
        } else if (!strcmp(c, "nb") || !strcmp(c, "nbp")) {
            n = do_connect(c[2] == 'p' ? atoi(arg) : g_port, 0, 1, &err);
            say("s%d %s", n, err == 0 || err == EINPROGRESS ? "started" : errname(err));
            i += c[2] == 'p';
        } else if (!strcmp(c, "nbwait")) {
            n = fd_of(arg), i++;
            struct pollfd p = {g_fds[n], POLLOUT, 0};
            int e = 0;
            socklen_t l = sizeof e;
            if (poll(&p, 1, 10000) != 1 || getsockopt(g_fds[n], SOL_SOCKET, SO_ERROR, &e, &l) != 0)
                e = -1;
            say("s%d so_error %s", n, e == 0 ? "0" : e < 0 ? "none" : errname(e));
        } else if (!strcmp(c, "epoll")) {
            if (epoll_create1(EPOLL_CLOEXEC) < 0)
                return 2;
        } else if (!strcmp(c, "echoall")) {
            int ok = 0;
            for (n = 0; n < g_nsocks; n++)
                ok += g_fds[n] >= 0 && g_ok[n] && echo_once(g_fds[n]) == 0;
            say("echoall ok=%d", ok);
        } else if (!strcmp(c, "closerangeall")) {
            int lo = -1, hi = -1;
            for (n = 0; n < g_nsocks; n++)
                if (g_fds[n] >= 0) {
                    lo = lo < 0 || g_fds[n] < lo ? g_fds[n] : lo;
                    hi = g_fds[n] > hi ? g_fds[n] : hi;
                    g_fds[n] = -1;
                }
            if (lo >= 0 && close_range((unsigned)lo, (unsigned)hi, 0) != 0)
                return 2;
            for (int fd = lo; lo >= 0 && fd <= hi; fd++)
                hold(fd);
        } else if (!strcmp(c, "echo")) {
            n = fd_of(arg), i++;
            say("s%d echo %s", n, echo_once(g_fds[n]) == 0 ? "ok" : "failed");
        } else if (!strcmp(c, "close") || !strcmp(c, "sysclose") || !strcmp(c, "closerange") ||
                   !strcmp(c, "fclose") || !strcmp(c, "bye")) {
            n = fd_of(arg), i++;
            int fd = g_fds[n], r = 0;
            g_fds[n] = -1;
            if (!strcmp(c, "close"))
                r = close(fd);
            else if (!strcmp(c, "sysclose"))
                r = (int)syscall(SYS_close, fd);
            else if (!strcmp(c, "closerange"))
                r = close_range((unsigned)fd, (unsigned)fd, 0);
            else if (!strcmp(c, "fclose"))
                r = fclose(fdopen(fd, "r+"));
            else
                bye(fd);
            if (r != 0) {
                perror(c);
                return 2;
            }
            hold(fd);
        } else if (!strcmp(c, "dup") || !strcmp(c, "fdup")) {
            n = fd_of(arg), i++;
            int m = new_slot();
            g_fds[m] = c[0] == 'd' ? dup(g_fds[n]) : fcntl(g_fds[n], F_DUPFD, 0);
            if (g_fds[m] < 0)
                return 2;
            say("s%d = %s s%d", m, c, n);
        } else if (!strcmp(c, "dup2") || !strcmp(c, "dup3")) {
            close_by_dup2(fd_of(arg), c[3] == '3');
            i++;
        } else if (!strcmp(c, "later")) {
            n = i + 2 < argc ? atoi(argv[i + 2]) : -1;
            if (n < 0 || n >= g_nsocks)
                return 2;
            spawn(later_main, atol(arg), n);
            i += 2;
        } else if (!strcmp(c, "bgconn")) {
            spawn(bgconn_main, atol(arg), new_slot());
            i++;
        } else if (!strcmp(c, "join")) {
            join_all();
        } else if (!strcmp(c, "burst")) {
            burst(atoi(arg)), i++;
        } else if (!strcmp(c, "stress")) {
            stress(atoi(arg), atoi(argv[i + 2])), i += 2;
        } else if (!strcmp(c, "forkclose")) {
            fork_close();
        } else if (!strcmp(c, "closefrom")) {
            n = fd_of(arg), i++;
            int lo = g_fds[n];
            closefrom(lo);
            for (int k = 0; k < g_nsocks; k++)
                if (g_fds[k] >= lo)
                    g_fds[k] = -1;
            for (int fd = lo; fd < lo + 64; fd++)
                hold(fd);   /* the numbers the sockets had, and more */
        } else if (!strcmp(c, "rawclose") || !strcmp(c, "rawclosefree")) {
            n = fd_of(arg), i++;
            int fd = g_fds[n];
            g_fds[n] = -1;
            if (raw_close(fd) != 0)
                return 2;
            if (!strcmp(c, "rawclose"))
                hold(fd);
        } else if (!strcmp(c, "spare")) {
            g_spare = socket(AF_INET, SOCK_STREAM, 0);
        } else if (!strcmp(c, "vfork")) {
            do_vfork();
        } else if (!strcmp(c, "clone")) {
            do_clone();
        } else if (!strcmp(c, "spawn")) {
            do_spawn();
        } else if (!strcmp(c, "cloexec")) {
            n = fd_of(arg), i++;
            if (fcntl(g_fds[n], F_SETFD, FD_CLOEXEC) != 0)
                return 2;
        } else if (!strcmp(c, "exec")) {
            do_exec(argv, argc, i + 1);
        } else if (!strcmp(c, "inherited")) {
            int k = 0;
            for (int fd = 3; fd < 1024; fd++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                if (fd == g_null || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
                    continue;
                n = new_slot();
                g_fds[n] = fd;
                g_ok[n] = 1;
                k++;
            }
            say("inherited %d", k);
        } else if (!strcmp(c, "execfail")) {
            execl("/nonexistent/breakwater-test", "x", (char *)NULL);
            say("execfail %s", errno == ENOENT ? "ENOENT" : errname(errno));
        } else if (!strcmp(c, "cancel")) {
            if (i + 3 >= argc)
                return 2;
            do_cancel(atoi(arg), atol(argv[i + 2]), atoi(argv[i + 3]));
            i += 3;
        } else if (!strcmp(c, "passhelper")) {
            pass_helper();
        } else if (!strcmp(c, "pass")) {
            n = fd_of(arg), i++;
            to_helper('p', g_fds[n]);
        } else if (!strcmp(c, "passlinger")) {
            g_helper_linger_ms = atol(arg), i++;
        } else if (!strcmp(c, "forkhold")) {
            if (i + 2 >= argc)
                return 2;
            fork_hold(fd_of(arg), atol(argv[i + 2]));
            i += 2;
        } else if (!strcmp(c, "mark")) {
            say("%s", arg), i++;
        } else if (!strcmp(c, "passclose")) {
            say("helper closed %d", to_helper('c', -1));
        } else if (!strcmp(c, "sigwrite")) {
            sigwrite(atoi(arg)), i++;
        } else if (!strcmp(c, "sigloop")) {
            sigloop(atol(arg)), i++;
        } else if (!strcmp(c, "sleep")) {
            sleep_ms(atol(arg)), i++;
        } else if (!strcmp(c, "kill")) {
            fflush(stdout);
            raise(SIGKILL);
        } else {
            fprintf(stderr, "unknown command %s\n", c);
            return 2;
        }
    }
    join_all();
    return 0;
}
