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
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
    bw_conn *c = bw_fdt_get(fd) ? bw_fdt_take(fd) : NULL;
    bw_fd_facts_forget(fd);
    int ret = bw_real.close(fd);
    if (c) {
        int saved = errno;
        bw_conn_unref(c);
        errno = saved;
    }
    return ret;
}

static void unref_taken(int fd, void *rec, void *ctx)
{
    (void)fd;
    (void)ctx;
    bw_conn_unref(rec);
}

BW_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
    int ret = bw_real.close_range(lo, hi, flags);
    /* CLOEXEC only marks; the descriptors stay open in this process. */
    if (ret == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && lo <= hi) {
        int saved = errno;
        bw_fdt_take_range(lo, hi, unref_taken, NULL);
        bw_fd_facts_forget_range(lo, hi);
        errno = saved;
    }
    return ret;
}

/* newfd now refers to what oldfd does: its record, or its epoll instance. */
static void copied(int oldfd, int newfd)
{
    bw_dup_fd(oldfd, newfd);
    bw_fd_facts_forget(newfd);
    if (bw_epoll_is_epoll(oldfd))
        bw_epoll_mark(newfd);
    if (bw_tcp_known(oldfd))
        bw_tcp_mark(newfd);
    if (bw_tcp_known(oldfd) && bw_sndtimeo_maybe(oldfd))
        bw_sndtimeo_mark(newfd);
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

/* libuv closes with syscall(SYS_close); some runtimes connect the same way. */
BW_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    switch (nr) {
    case SYS_close:
        return close((int)a);
    case SYS_connect:
        return bw_connect((int)a, (const struct sockaddr *)b, (socklen_t)c);
#ifdef SYS_close_range
    case SYS_close_range:
        return close_range((unsigned)a, (unsigned)b, (int)c);
#endif
    default:
        return bw_real.syscall(nr, a, b, c, d, e, f);
    }
}

/* A socket wrapped by fdopen() is closed inside libc by fclose(). */
BW_EXPORT int fclose(FILE *fp)
{
    int fd = fp ? fileno(fp) : -1;
    bw_conn *c = bw_fdt_get(fd) ? bw_fdt_take(fd) : NULL;
    bw_fd_facts_forget(fd);
    int ret = bw_real.fclose(fp);
    if (c) {
        int saved = errno;
        bw_conn_unref(c);
        errno = saved;
    }
    return ret;
}

BW_EXPORT int socket(int domain, int type, int protocol)
{
    int fd = fresh(bw_real.socket(domain, type, protocol));
    if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) &&
        (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM)
        bw_tcp_mark(fd);
    return fd;
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

/* Observed only: which sockets carry an SO_SNDTIMEO, a TCP_USER_TIMEOUT or
 * keepalive settings of the program's own. */
BW_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int ret = bw_real.setsockopt(fd, level, name, val, len);
    if (ret == 0 && level == IPPROTO_TCP && name == TCP_USER_TIMEOUT)
        bw_own_user_timeout_mark(fd);
    if (ret == 0 && ((level == SOL_SOCKET && name == SO_KEEPALIVE) ||
                     (level == IPPROTO_TCP && (name == TCP_KEEPIDLE || name == TCP_KEEPINTVL ||
                                               name == TCP_KEEPCNT))))
        bw_own_keepalive_mark(fd);
    if (ret == 0 && level == SOL_SOCKET && (name == SO_SNDTIMEO
#ifdef SO_SNDTIMEO_NEW
                                            || name == SO_SNDTIMEO_NEW
#endif
                                            ))
        bw_sndtimeo_mark(fd);
    return ret;
}
