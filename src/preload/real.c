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

#include "bw_sys.h"
#include "real.h"

/* Older headers lack it; the number is the same on every architecture. */
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

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
static int fb_close_range(unsigned lo, unsigned hi, int fl) { return SC(SYS_close_range, lo, hi, fl, 0, 0, 0); }
static void fb_closefrom(int lo) { SC(SYS_close_range, lo, ~0U, 0, 0, 0, 0); }
static ssize_t fb_splice(int i, loff_t *oi, int o, loff_t *oo, size_t n, unsigned fl) { return SC(SYS_splice, i, oi, o, oo, n, fl); }
static int fb_execve(const char *p, char *const a[], char *const e[]) { return SC(SYS_execve, p, a, e, 0, 0, 0); }
static int fb_fexecve(int fd, char *const a[], char *const e[]) { return SC(SYS_execveat, fd, "", a, e, AT_EMPTY_PATH, 0); }
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

static int fb_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    long arg = va_arg(ap, long);
    va_end(ap);
    return SC(SYS_ioctl, fd, req, arg, 0, 0, 0);
}

/* posix_spawn is libc's own child machinery: no raw system call stands in. */
static int fb_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *at, char *const a[], char *const e[])
{
    (void)pid;
    (void)path;
    (void)fa;
    (void)at;
    (void)a;
    (void)e;
    return ENOSYS;
}

static int fb_system(const char *cmd)
{
    (void)cmd;
    errno = ENOSYS;
    return -1;
}

static FILE *fb_fdopen(int fd, const char *mode)
{
    (void)fd;
    (void)mode;
    errno = ENOSYS;
    return NULL;
}

static FILE *fb_popen(const char *cmd, const char *type)
{
    (void)cmd;
    (void)type;
    errno = ENOSYS;
    return NULL;
}

/* clone's child runs a function on a stack it is given: no raw system call
 * stands in for that. */
static int fb_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    (void)fn;
    (void)stack;
    (void)flags;
    (void)arg;
    errno = ENOSYS;
    return -1;
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
static int fb_execvpe(const char *f, char *const a[], char *const e[])
{
    int (*fn)(const char *, char *const[], char *const[]) = lazy("execvpe");
    return fn ? fn(f, a, e) : (errno = ENOSYS, -1);
}
static int fb_fclose(FILE *fp)
{
    int (*f)(FILE *) = lazy("fclose");
    return f ? f(fp) : EOF;
}

struct bw_real bw_real = {
#define BW_REAL(ret, field, symbol, params, fallback) .field = fallback,
#include "real_list.h"
#undef BW_REAL
};

/* Replaces *slot with the next definition of name, when there is one;
 * counts the names left on their fallback. */
static atomic_uint n_listed, n_unbound;

static void bind_next(void **slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    atomic_fetch_add_explicit(&n_listed, 1, memory_order_relaxed);
    if (p)
        *slot = p;
    else
        atomic_fetch_add_explicit(&n_unbound, 1, memory_order_relaxed);
}

unsigned bw_real_resolved(unsigned *listed)
{
    *listed = atomic_load_explicit(&n_listed, memory_order_relaxed);
    return *listed - atomic_load_explicit(&n_unbound, memory_order_relaxed);
}

enum { RESOLVE_NOT_YET, RESOLVE_UNDER_WAY, RESOLVE_DONE };
static atomic_int resolve_state;    /* RESOLVE_* */

void bw_real_resolve(void)
{
    int expected = RESOLVE_NOT_YET;
    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == RESOLVE_DONE ||
        !atomic_compare_exchange_strong(&resolve_state, &expected, RESOLVE_UNDER_WAY))
        return;   /* done, or under way (maybe on this very thread): fallbacks serve meanwhile */
    int saved = errno;
#define BW_REAL(ret, field, symbol, params, fallback) bind_next((void **)&bw_real.field, symbol);
#include "real_list.h"
#undef BW_REAL
    atomic_store_explicit(&resolve_state, RESOLVE_DONE, memory_order_release);
    errno = saved;
}
