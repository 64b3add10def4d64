/*
 * fd.c - hooks that end, copy or hand out descriptor numbers.
 *
 * A record is taken out of the table before the real close, so that a number
 * the kernel hands out again at once can never be released twice. Every call
 * that creates a descriptor drops a stale record of the number it returns: its
 * earlier owner was closed on a path no hook sees (glibc internals, raw
 * system calls, io_uring).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "nonblock.h"
#include "shim.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Returns ret unchanged after dropping any stale record of the number it names. */
static int fresh(int ret)
{
    if (ret >= 0) {
        bw_forget_fd(ret);
        bw_fd_facts_forget(ret);
    }
    return ret;
}

BW_EXPORT int close(int fd)
{
    if (bw_vfork_child)
        return bw_real.close(fd);   /* the table is the parent's */
    bw_conn *c = bw_fdt_take(fd);
    bw_fd_facts_forget(fd);
    int ret = bw_real.close(fd);
    if (c)
        bw_conn_unref(c);   /* errno preserved */
    return ret;
}

static void unref_taken(int fd, void *rec, void *ctx)
{
    (void)fd;
    (void)ctx;
    bw_conn_unref(rec);
}

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#define CLOSE_BATCH 64

/*
 * Closes lo..hi (lo <= hi) with the real close_range, a batch of tracked
 * descriptors at a time: their records come out of the table before the
 * real call, so that no number is closed while still tracked, and are
 * released after it, so that no slot comes back while its socket is open.
 * A failed call (ENOSYS: an old kernel) puts the batch back. Returns what
 * close_range returns.
 */
static int close_tracked_range(unsigned lo, unsigned hi, int flags)
{
    for (;;) {
        bw_conn *recs[CLOSE_BATCH];
        int fds[CLOSE_BATCH], n = 0;
        unsigned end = hi;
        for (int fd = bw_fdt_next(lo, hi); fd >= 0;
             fd = (unsigned)fd < hi ? bw_fdt_next((unsigned)fd + 1, hi) : -1) {
            bw_conn *c = bw_fdt_take(fd);
            if (c) {
                recs[n] = c;
                fds[n++] = fd;
            }
            if (n == CLOSE_BATCH) {
                end = (unsigned)fd;
                break;
            }
        }
        int ret = bw_real.close_range(lo, end, flags);
        int saved = errno;
        for (int i = 0; i < n; i++) {
            if (ret == 0) {
                bw_conn_unref(recs[i]);
                continue;
            }
            bw_conn *old = bw_fdt_set(fds[i], recs[i]);   /* put back: still open */
            if (old && old != recs[i])
                bw_conn_unref(old);
        }
        if (ret == 0)
            bw_fd_facts_forget_range(lo, end);
        errno = saved;
        if (ret != 0 || end == hi)
            return ret;
        lo = end + 1;
    }
}

BW_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
    /* CLOEXEC only marks (the descriptors stay open here); a vfork child's
     * table is the parent's; unknown flags and lo > hi are the kernel's to refuse. */
    if (bw_vfork_child || (flags & CLOSE_RANGE_CLOEXEC) || lo > hi ||
        ((unsigned)flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
        return bw_real.close_range(lo, hi, flags);
    return close_tracked_range(lo, hi, flags);
}

/* glibc's closefrom() closes inside libc, where no hook sees it: the same
 * as close_range(lo, ~0U, 0), with glibc's own fallback (no close_range in
 * the kernel) after which the table is cleared of lo and up. */
BW_EXPORT void closefrom(int lo)
{
    if (bw_vfork_child || lo < 0 || close_tracked_range((unsigned)lo, ~0U, 0) != 0) {
        bw_real.closefrom(lo);
        if (!bw_vfork_child && lo >= 0) {
            bw_fdt_take_range((unsigned)lo, ~0U, unref_taken, NULL);
            bw_fd_facts_forget_range((unsigned)lo, ~0U);
        }
    }
}

/* newfd now refers to what oldfd does: its record, or its epoll instance. */
static void copied(int oldfd, int newfd)
{
    bw_dup_fd(oldfd, newfd);
    bw_conn *c = bw_fdt_get(oldfd);
    if (c && bw_fdt_get(newfd) != c)
        bw_sndtimeo_settle(c, oldfd);   /* a copy the record does not follow (beyond the table) */
    bw_fd_facts_forget(newfd);
    bw_nonblock_forget(oldfd);   /* one description, two numbers: changes go unseen */
    bw_fd_facts_copy(oldfd, newfd);
}

BW_EXPORT int dup(int fd)
{
    int ret = bw_real.dup(fd);
    if (ret >= 0)
        copied(fd, ret);
    return ret;
}

BW_EXPORT int dup2(int oldfd, int newfd)
{
    int ret = bw_real.dup2(oldfd, newfd);
    if (ret >= 0 && oldfd != newfd)
        copied(oldfd, newfd);   /* the implicit close of newfd included (the JVM's pre-close) */
    return ret;
}

BW_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    int ret = bw_real.dup3(oldfd, newfd, flags);
    if (ret >= 0)
        copied(oldfd, newfd);
    return ret;
}

/* fcntl's optional argument is an int or a pointer; both travel as a word. */
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    int ret = real(fd, cmd, arg);
    if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        copied(fd, ret);
    else if (ret >= 0 && cmd == F_SETFL)
        bw_nonblock_note_set(fd, (long)arg & O_NONBLOCK);
    return ret;
}

BW_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(bw_real.fcntl, fd, cmd, arg);
}

BW_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(bw_real.fcntl64, fd, cmd, arg);
}

/* A raw system call on fd that a lent SO_SNDTIMEO would affect, or that
 * copies fd where the record does not follow: the program's value first. */
static void settle_fd(long fd)
{
    bw_conn *c = fd >= 0 && fd <= INT32_MAX ? bw_fdt_get((int)fd) : NULL;
    if (c)
        bw_sndtimeo_settle(c, (int)fd);
}

/* libuv closes with syscall(SYS_close); some runtimes connect the same way. */
BW_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    switch (nr) {
    case SYS_write:
    case SYS_writev:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_sendfile:
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
        settle_fd(a);
        return bw_real.syscall(nr, a, b, c, d, e, f);
    case SYS_splice:
        settle_fd(c);
        return bw_real.syscall(nr, a, b, c, d, e, f);
    case SYS_close:
        return close((int)a);
    case SYS_connect:
        return bw_connect((int)a, (const struct sockaddr *)b, (socklen_t)c);
    case SYS_fcntl:   /* may copy the descriptor (F_DUPFD) */
        settle_fd(a);
        /* fall through */
    case SYS_ioctl:   /* may set O_NONBLOCK: ask the kernel at connect */
        bw_nonblock_forget((int)a);
        return bw_real.syscall(nr, a, b, c, d, e, f);
#ifdef SYS_close_range
    case SYS_close_range:
        return close_range((unsigned)a, (unsigned)b, (int)c);
#endif
    default:
        return bw_real.syscall(nr, a, b, c, d, e, f);
    }
}

/* stdio writes a socket wrapped by fdopen() inside libc, where no hook
 * sees it: a lent SO_SNDTIMEO (shim.h) goes back first. */
BW_EXPORT FILE *fdopen(int fd, const char *mode)
{
    settle_fd(fd);
    return bw_real.fdopen(fd, mode);
}

/* A socket wrapped by fdopen() is closed inside libc by fclose(). */
BW_EXPORT int fclose(FILE *fp)
{
    int fd = fp && !bw_vfork_child ? fileno(fp) : -1;
    bw_conn *c = bw_fdt_take(fd);
    bw_fd_facts_forget(fd);
    int ret = bw_real.fclose(fp);
    if (c)
        bw_conn_unref(c);   /* errno preserved */
    return ret;
}

BW_EXPORT int socket(int domain, int type, int protocol)
{
    int fd = fresh(bw_real.socket(domain, type, protocol));
    if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) &&
        (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM) {
        bw_tcp_socket_mark(fd, type & SOCK_NONBLOCK);
    }
    return fd;
}

/* Observed only: FIONBIO sets the mode connect() needs to know. */
BW_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int ret = bw_real.ioctl(fd, req, arg);
    if (ret == 0 && req == FIONBIO && arg)
        bw_nonblock_note_set(fd, *(const int *)arg != 0);
    return ret;
}

BW_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
    int ret = bw_real.socketpair(domain, type, protocol, sv);
    if (ret == 0) {
        fresh(sv[0]);
        fresh(sv[1]);
    }
    return ret;
}

BW_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return fresh(bw_real.accept(fd, addr, len));
}

BW_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return fresh(bw_real.accept4(fd, addr, len, flags));
}

/* open's mode is only there with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                   \
    mode_t mode = 0;                                             \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                     \
        va_list ap;                                              \
        va_start(ap, last);                                      \
        mode = (mode_t)va_arg(ap, int);                          \
        va_end(ap);                                              \
    }

BW_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(bw_real.open(path, flags, mode));
}

BW_EXPORT int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(bw_real.open64(path, flags, mode));
}

BW_EXPORT int openat(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(bw_real.openat(dir, path, flags, mode));
}

BW_EXPORT int openat64(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(bw_real.openat64(dir, path, flags, mode));
}

BW_EXPORT int pipe(int fds[2])
{
    int ret = bw_real.pipe(fds);
    if (ret == 0) {
        fresh(fds[0]);
        fresh(fds[1]);
    }
    return ret;
}

BW_EXPORT int pipe2(int fds[2], int flags)
{
    int ret = bw_real.pipe2(fds, flags);
    if (ret == 0) {
        fresh(fds[0]);
        fresh(fds[1]);
    }
    return ret;
}

BW_EXPORT int eventfd(unsigned int initval, int flags)
{
    return fresh(bw_real.eventfd(initval, flags));
}

BW_EXPORT int timerfd_create(int clockid, int flags)
{
    return fresh(bw_real.timerfd_create(clockid, flags));
}

BW_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    return fresh(bw_real.signalfd(fd, mask, flags));
}

BW_EXPORT int memfd_create(const char *name, unsigned int flags)
{
    return fresh(bw_real.memfd_create(name, flags));
}

BW_EXPORT int epoll_create(int size)
{
    int fd = fresh(bw_real.epoll_create(size));
    if (fd >= 0)
        bw_epoll_mark(fd);
    return fd;
}

BW_EXPORT int epoll_create1(int flags)
{
    int fd = fresh(bw_real.epoll_create1(flags));
    if (fd >= 0)
        bw_epoll_mark(fd);
    return fd;
}

/* The options setsockopt() notes (below), one bit per option number. */
#define OPT_BIT(name) (1ULL << (name))
#define SOL_SOCKET_NOTED OPT_BIT(SO_KEEPALIVE)   /* SO_SNDTIMEO: bw_is_sndtimeo (old and new numbers) */
#define IPPROTO_TCP_NOTED (OPT_BIT(TCP_USER_TIMEOUT) | OPT_BIT(TCP_KEEPIDLE) | \
                           OPT_BIT(TCP_KEEPINTVL) | OPT_BIT(TCP_KEEPCNT))
_Static_assert(SO_KEEPALIVE < 64 && TCP_USER_TIMEOUT < 64 &&
                   TCP_KEEPIDLE < 64 && TCP_KEEPINTVL < 64 && TCP_KEEPCNT < 64,
               "option numbers fit a 64-bit mask");

/* True for an option setsockopt() notes: a few compares, so that any other
 * (SO_LINGER, TCP_NODELAY...) goes straight to the real call. */
static inline bool noted_opt(int level, int name)
{
    if (level == SOL_SOCKET)
        return bw_is_sndtimeo(level, name) ||
               ((unsigned)name < 64 && (SOL_SOCKET_NOTED >> name) & 1);
    return level == IPPROTO_TCP && (unsigned)name < 64 && (IPPROTO_TCP_NOTED >> name) & 1;
}

static int setsockopt_noted(int fd, int level, int name, const void *val, socklen_t len);

/* Observed only: which sockets carry an SO_SNDTIMEO, a TCP_USER_TIMEOUT or
 * keepalive settings of the program's own. Other options pass straight through. */
BW_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (__builtin_expect(!noted_opt(level, name), 1))
        return bw_real.setsockopt(fd, level, name, val, len);
    return setsockopt_noted(fd, level, name, val, len);
}

/* setsockopt() of an option it notes (noted_opt). */
__attribute__((noinline)) static int setsockopt_noted(int fd, int level, int name,
                                                      const void *val, socklen_t len)
{
    int ret = bw_real.setsockopt(fd, level, name, val, len);
    if (ret != 0)
        return ret;
    if (bw_is_sndtimeo(level, name)) {
        bw_sndtimeo_mark(fd);
        bw_conn *c = bw_fdt_get(fd);
        if (c)   /* the program's value is in force now: nothing to put back */
            atomic_store_explicit(&c->sndtimeo_lent, false, memory_order_relaxed);
    } else if (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT) {
        bw_own_user_timeout_mark(fd);
    } else {
        bw_own_keepalive_mark(fd);   /* the rest of the masks: keepalive's options */
    }
    return ret;
}
