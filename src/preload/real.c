/*
 * real.c - the table of real functions (see real.h).
 *
 * Fallbacks make the raw system call with inline assembly, because calling
 * syscall(2) from here would land in our own syscall() hook. The few entries
 * with no system call behind them (resolver, fclose) resolve themselves on
 * first use instead; they are never reached from inside another library's
 * malloc or constructor in practice, and dlsym of a present symbol does not
 * allocate.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "real.h"

long bw_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    ret = x0;
#else
#error "bw_raw_syscall: unsupported architecture"
#endif
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#define SC(nr, a, b, c, d, e, f) \
    bw_raw_syscall(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static int fb_connect(int fd, const struct sockaddr *sa, socklen_t l) { return SC(SYS_connect, fd, sa, l, 0, 0, 0); }
static ssize_t fb_send(int fd, const void *b, size_t n, int fl) { return SC(SYS_sendto, fd, b, n, fl, 0, 0); }
static ssize_t fb_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *sa, socklen_t l) { return SC(SYS_sendto, fd, b, n, fl, sa, l); }
static ssize_t fb_sendmsg(int fd, const struct msghdr *m, int fl) { return SC(SYS_sendmsg, fd, m, fl, 0, 0, 0); }
static int fb_sendmmsg(int fd, struct mmsghdr *m, unsigned n, int fl) { return SC(SYS_sendmmsg, fd, m, n, fl, 0, 0); }
static ssize_t fb_write(int fd, const void *b, size_t n) { return SC(SYS_write, fd, b, n, 0, 0, 0); }
static ssize_t fb_writev(int fd, const struct iovec *v, int n) { return SC(SYS_writev, fd, v, n, 0, 0, 0); }
static ssize_t fb_sendfile(int o, int i, off_t *off, size_t n) { return SC(SYS_sendfile, o, i, off, n, 0, 0); }
static ssize_t fb_sendfile64(int o, int i, off64_t *off, size_t n) { return SC(SYS_sendfile, o, i, off, n, 0, 0); }
static ssize_t fb_recv(int fd, void *b, size_t n, int fl) { return SC(SYS_recvfrom, fd, b, n, fl, 0, 0); }
static ssize_t fb_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *sa, socklen_t *l) { return SC(SYS_recvfrom, fd, b, n, fl, sa, l); }
static ssize_t fb_recvmsg(int fd, struct msghdr *m, int fl) { return SC(SYS_recvmsg, fd, m, fl, 0, 0, 0); }
static int fb_recvmmsg(int fd, struct mmsghdr *m, unsigned n, int fl, struct timespec *t) { return SC(SYS_recvmmsg, fd, m, n, fl, t, 0); }
static ssize_t fb_read(int fd, void *b, size_t n) { return SC(SYS_read, fd, b, n, 0, 0, 0); }
static ssize_t fb_readv(int fd, const struct iovec *v, int n) { return SC(SYS_readv, fd, v, n, 0, 0, 0); }
static ssize_t fb_read_chk(int fd, void *b, size_t n, size_t bl) { (void)bl; return fb_read(fd, b, n); }
static ssize_t fb_recv_chk(int fd, void *b, size_t n, size_t bl, int fl) { (void)bl; return fb_recv(fd, b, n, fl); }
static ssize_t fb_recvfrom_chk(int fd, void *b, size_t n, size_t bl, int fl, struct sockaddr *sa, socklen_t *l) { (void)bl; return fb_recvfrom(fd, b, n, fl, sa, l); }
static int fb_close(int fd) { return SC(SYS_close, fd, 0, 0, 0, 0, 0); }
static int fb_close_range(unsigned lo, unsigned hi, int fl) { return SC(436 /* SYS_close_range */, lo, hi, fl, 0, 0, 0); }
static int fb_dup(int fd) { return SC(SYS_dup, fd, 0, 0, 0, 0, 0); }
static int fb_dup2(int a, int b) { return SC(SYS_dup2, a, b, 0, 0, 0, 0); }
static int fb_dup3(int a, int b, int fl) { return SC(SYS_dup3, a, b, fl, 0, 0, 0); }
static int fb_getsockopt(int fd, int lv, int nm, void *v, socklen_t *l) { return SC(SYS_getsockopt, fd, lv, nm, v, l, 0); }
static int fb_setsockopt(int fd, int lv, int nm, const void *v, socklen_t l) { return SC(SYS_setsockopt, fd, lv, nm, v, l, 0); }
static int fb_epoll_create(int n) { return n <= 0 ? (errno = EINVAL, -1) : SC(SYS_epoll_create1, 0, 0, 0, 0, 0, 0); }
static int fb_epoll_create1(int fl) { return SC(SYS_epoll_create1, fl, 0, 0, 0, 0, 0); }
static int fb_socket(int d, int t, int p) { return SC(SYS_socket, d, t, p, 0, 0, 0); }
static int fb_socketpair(int d, int t, int p, int sv[2]) { return SC(SYS_socketpair, d, t, p, sv, 0, 0); }
static int fb_accept(int fd, struct sockaddr *sa, socklen_t *l) { return SC(SYS_accept4, fd, sa, l, 0, 0, 0); }
static int fb_accept4(int fd, struct sockaddr *sa, socklen_t *l, int fl) { return SC(SYS_accept4, fd, sa, l, fl, 0, 0); }
static int fb_pipe(int p[2]) { return SC(SYS_pipe2, p, 0, 0, 0, 0, 0); }
static int fb_pipe2(int p[2], int fl) { return SC(SYS_pipe2, p, fl, 0, 0, 0, 0); }
static int fb_eventfd(unsigned v, int fl) { return SC(SYS_eventfd2, v, fl, 0, 0, 0, 0); }
static int fb_timerfd_create(int c, int fl) { return SC(SYS_timerfd_create, c, fl, 0, 0, 0, 0); }
static int fb_signalfd(int fd, const sigset_t *m, int fl) { return SC(SYS_signalfd4, fd, m, 8, fl, 0, 0); }
static int fb_memfd_create(const char *n, unsigned fl) { return SC(SYS_memfd_create, n, fl, 0, 0, 0, 0); }

/* The waits: glibc passes the kernel a copy of the timeout and the signal
 * set's size; so do these. */
#define SIGSET_BYTES 8
static int fb_ppoll(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *m)
{
    struct timespec copy, *tp = t ? (copy = *t, &copy) : NULL;
    return SC(SYS_ppoll, p, n, tp, m, SIGSET_BYTES, 0);
}
static int fb_poll(struct pollfd *p, nfds_t n, int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    return fb_ppoll(p, n, ms < 0 ? NULL : &t, NULL);
}
static int fb_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
                      const sigset_t *m)
{
    struct timespec copy, *tp = t ? (copy = *t, &copy) : NULL;
    struct { const sigset_t *set; size_t size; } data = {m, SIGSET_BYTES};
    return SC(SYS_pselect6, n, r, w, e, tp, &data);
}
static int fb_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    struct timespec t = tv ? (struct timespec){tv->tv_sec, tv->tv_usec * 1000} : (struct timespec){0, 0};
    return fb_pselect(n, r, w, e, tv ? &t : NULL, NULL);
}
static int fb_epoll_pwait(int ep, struct epoll_event *ev, int max, int ms, const sigset_t *m)
{
    return SC(SYS_epoll_pwait, ep, ev, max, ms, m, SIGSET_BYTES);
}
static int fb_epoll_wait(int ep, struct epoll_event *ev, int max, int ms)
{
    return fb_epoll_pwait(ep, ev, max, ms, NULL);
}
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif
static int fb_epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *t,
                           const sigset_t *m)
{
    return SC(SYS_epoll_pwait2, ep, ev, max, t, m, SIGSET_BYTES);
}
static int fb_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) { return SC(SYS_epoll_ctl, ep, op, fd, ev, 0, 0); }

/* Variadic fallbacks: the optional argument is read as a long, as the kernel does. */
static int fb_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return SC(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

static int fb_open(const char *p, int fl, ...)
{
    va_list ap;
    va_start(ap, fl);
    long mode = (fl & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, long) : 0;
    va_end(ap);
    return SC(SYS_openat, AT_FDCWD, p, fl, mode, 0, 0);
}

static int fb_openat(int dir, const char *p, int fl, ...)
{
    va_list ap;
    va_start(ap, fl);
    long mode = (fl & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, long) : 0;
    va_end(ap);
    return SC(SYS_openat, dir, p, fl, mode, 0, 0);
}

static long fb_syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    return bw_raw_syscall(nr, a, b, c, d, e, f);
}

/* Entries with no system call: resolve on first use. */
static void *lazy(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static int fb_getaddrinfo(const char *n, const char *s, const struct addrinfo *h, struct addrinfo **r)
{
    int (*f)(const char *, const char *, const struct addrinfo *, struct addrinfo **) = lazy("getaddrinfo");
    return f ? f(n, s, h, r) : EAI_SYSTEM;
}
static struct hostent *fb_gethostbyname(const char *n)
{
    struct hostent *(*f)(const char *) = lazy("gethostbyname");
    return f ? f(n) : NULL;
}
static struct hostent *fb_gethostbyname2(const char *n, int af)
{
    struct hostent *(*f)(const char *, int) = lazy("gethostbyname2");
    return f ? f(n, af) : NULL;
}
static int fb_gethostbyname_r(const char *n, struct hostent *h, char *b, size_t l, struct hostent **r, int *e)
{
    int (*f)(const char *, struct hostent *, char *, size_t, struct hostent **, int *) = lazy("gethostbyname_r");
    return f ? f(n, h, b, l, r, e) : ENOSYS;
}
static int fb_gethostbyname2_r(const char *n, int af, struct hostent *h, char *b, size_t l, struct hostent **r, int *e)
{
    int (*f)(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *) = lazy("gethostbyname2_r");
    return f ? f(n, af, h, b, l, r, e) : ENOSYS;
}
static int fb_fclose(FILE *fp)
{
    int (*f)(FILE *) = lazy("fclose");
    return f ? f(fp) : EOF;
}

struct bw_real bw_real = {
    .connect = fb_connect, .send = fb_send, .sendto = fb_sendto, .sendmsg = fb_sendmsg,
    .sendmmsg = fb_sendmmsg, .write = fb_write, .writev = fb_writev, .sendfile = fb_sendfile,
    .sendfile64 = fb_sendfile64, .recv = fb_recv, .recvfrom = fb_recvfrom, .recvmsg = fb_recvmsg,
    .recvmmsg = fb_recvmmsg, .read = fb_read, .readv = fb_readv, .read_chk = fb_read_chk,
    .recv_chk = fb_recv_chk, .recvfrom_chk = fb_recvfrom_chk, .close = fb_close,
    .close_range = fb_close_range, .dup = fb_dup, .dup2 = fb_dup2, .dup3 = fb_dup3,
    .fcntl = fb_fcntl, .fcntl64 = fb_fcntl, .syscall = fb_syscall, .getsockopt = fb_getsockopt, .setsockopt = fb_setsockopt,
    .getaddrinfo = fb_getaddrinfo, .gethostbyname = fb_gethostbyname,
    .gethostbyname2 = fb_gethostbyname2, .gethostbyname_r = fb_gethostbyname_r,
    .gethostbyname2_r = fb_gethostbyname2_r, .epoll_create = fb_epoll_create,
    .epoll_create1 = fb_epoll_create1, .fclose = fb_fclose, .socket = fb_socket,
    .socketpair = fb_socketpair, .accept = fb_accept, .accept4 = fb_accept4, .open = fb_open,
    .open64 = fb_open, .openat = fb_openat, .openat64 = fb_openat, .pipe = fb_pipe,
    .pipe2 = fb_pipe2, .eventfd = fb_eventfd, .timerfd_create = fb_timerfd_create,
    .signalfd = fb_signalfd, .memfd_create = fb_memfd_create,
    .poll = fb_poll, .ppoll = fb_ppoll, .select = fb_select, .pselect = fb_pselect,
    .epoll_wait = fb_epoll_wait, .epoll_pwait = fb_epoll_pwait, .epoll_pwait2 = fb_epoll_pwait2,
    .epoll_ctl = fb_epoll_ctl,
};

/* Replaces *slot with the next definition of name, when there is one. */
static void bind_next(void **slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p)
        *slot = p;
}

#define BIND(field, name) bind_next((void **)&bw_real.field, name)

static atomic_int resolve_state;    /* 0 not yet, 1 in progress, 2 done */

void bw_real_resolve(void)
{
    int expected = 0;
    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2 ||
        !atomic_compare_exchange_strong(&resolve_state, &expected, 1))
        return;   /* done, or under way (maybe on this very thread): fallbacks serve meanwhile */
    int saved = errno;
    BIND(connect, "connect"); BIND(send, "send"); BIND(sendto, "sendto");
    BIND(sendmsg, "sendmsg"); BIND(sendmmsg, "sendmmsg"); BIND(write, "write");
    BIND(writev, "writev"); BIND(sendfile, "sendfile"); BIND(sendfile64, "sendfile64");
    BIND(recv, "recv"); BIND(recvfrom, "recvfrom"); BIND(recvmsg, "recvmsg");
    BIND(recvmmsg, "recvmmsg"); BIND(read, "read"); BIND(readv, "readv");
    BIND(read_chk, "__read_chk"); BIND(recv_chk, "__recv_chk");
    BIND(recvfrom_chk, "__recvfrom_chk"); BIND(close, "close");
    BIND(close_range, "close_range"); BIND(dup, "dup"); BIND(dup2, "dup2"); BIND(dup3, "dup3");
    BIND(fcntl, "fcntl"); BIND(fcntl64, "fcntl64"); BIND(syscall, "syscall");
    BIND(getsockopt, "getsockopt"); BIND(setsockopt, "setsockopt"); BIND(getaddrinfo, "getaddrinfo");
    BIND(gethostbyname, "gethostbyname"); BIND(gethostbyname2, "gethostbyname2");
    BIND(gethostbyname_r, "gethostbyname_r"); BIND(gethostbyname2_r, "gethostbyname2_r");
    BIND(epoll_create, "epoll_create"); BIND(epoll_create1, "epoll_create1");
    BIND(fclose, "fclose"); BIND(socket, "socket"); BIND(socketpair, "socketpair");
    BIND(accept, "accept"); BIND(accept4, "accept4"); BIND(open, "open");
    BIND(open64, "open64"); BIND(openat, "openat"); BIND(openat64, "openat64");
    BIND(pipe, "pipe"); BIND(pipe2, "pipe2"); BIND(eventfd, "eventfd");
    BIND(timerfd_create, "timerfd_create"); BIND(signalfd, "signalfd");
    BIND(memfd_create, "memfd_create");
    BIND(poll, "poll"); BIND(ppoll, "ppoll"); BIND(select, "select"); BIND(pselect, "pselect");
    BIND(epoll_wait, "epoll_wait"); BIND(epoll_pwait, "epoll_pwait");
    BIND(epoll_pwait2, "epoll_pwait2"); BIND(epoll_ctl, "epoll_ctl");
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
    errno = saved;
}
