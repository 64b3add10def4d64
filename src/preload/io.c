/*
 * io.c - the send and receive families. The untracked path is one table
 * lookup and the real call: no lock, no allocation, errno untouched. On a
 * tracked connection the shim learns from each call's result: the outcome
 * of a connect still in progress, I/O failures for the breaker, and HTTP
 * responses when breaker_http_status is set. Writes go through inject.c.
 */
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "inject.h"
#include "observe.h"
#include "pending.h"
#include "shim.h"

/*
 * The hottest hooks (send, recv, read, write) keep their tracked half in a
 * separate function (BW_TRACKED: never inlined), so that the untracked path
 * compiles to the table lookup and a tail call, saving no register: about
 * ten instructions (tests/bench/bench_hotpath.c counts them). The record
 * comes last, so that the program's arguments stay in their registers.
 * The tracked half has a fast path of its own: while the connection's
 * io_flags (shim.h) say there is nothing to look at (bw_io_quiet), it is
 * two tests, the real call and a look at its sign; the rest (the *_busy
 * functions) is as the other hooks do it.
 */
#define BW_TRACKED static __attribute__((noinline))

/* The fast path: the real call (real) when c is quiet for mask, with its
 * failure observed, else the rest (busy). Returns from the hook. */
#define QUIET_OR(c, mask, busy, real)                                           \
    do {                                                                        \
        if (__builtin_expect(!bw_io_quiet(c, mask), 0))                         \
            return busy;                                                        \
        ssize_t r_ = real;                                                      \
        return __builtin_expect(r_ < 0, 0) ? bw_observe_failure(c, r_) : r_;   \
    } while (0)

/* A socket whose connect waits for a retry is still connecting to the
 * program: I/O on it says EAGAIN, as on a socket in SYN_SENT. */
#define PENDING_AGAIN(c)                                                   \
    do {                                                                   \
        if (__builtin_expect(bw_pend_phase_of(c) == BW_PEND_BACKOFF, 0)) { \
            errno = EAGAIN;                                                \
            return -1;                                                     \
        }                                                                  \
    } while (0)

BW_TRACKED ssize_t send_busy(int fd, const void *buf, size_t n, int flags, bw_conn *c)
{
    PENDING_AGAIN(c);
    bw_sndtimeo_settle(c, fd);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.send(fd, buf, n, flags));
    struct iovec v = {(void *)buf, n};
    return bw_inject_send(c, fd, &v, 1, flags, BW_VIA_SEND);
}

BW_TRACKED ssize_t send_tracked(int fd, const void *buf, size_t n, int flags, bw_conn *c)
{
    QUIET_OR(c, BW_IO_SEND, send_busy(fd, buf, n, flags, c),
             bw_real.send(fd, buf, n, flags));
}

BW_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    bw_conn *c = bw_fdt_get(fd);
    if (__builtin_expect(c != NULL, 0))
        return send_tracked(fd, buf, n, flags, c);
    return bw_real.send(fd, buf, n, flags);
}

BW_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len)
{
    bw_conn *c = bw_fdt_get(fd);
    if (c)
        bw_sndtimeo_settle(c, fd);
    if (!c || sa)   /* an address on a connected TCP socket: let the kernel answer */
        return bw_real.sendto(fd, buf, n, flags, sa, len);
    PENDING_AGAIN(c);
    struct iovec v = {(void *)buf, n};
    return bw_inject_send(c, fd, &v, 1, flags, BW_VIA_SEND);
}

BW_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (msg && msg->msg_controllen)
        bw_passfd_note(msg);   /* descriptors sent away (SCM_RIGHTS) */
    bw_conn *c = bw_fdt_get(fd);
    if (c)
        bw_sndtimeo_settle(c, fd);
    if (!c || !msg || msg->msg_name || msg->msg_controllen || msg->msg_iovlen > IOV_MAX)
        return bw_real.sendmsg(fd, msg, flags);
    PENDING_AGAIN(c);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.sendmsg(fd, msg, flags));
    return bw_inject_send(c, fd, msg->msg_iov, (int)msg->msg_iovlen, flags, BW_VIA_SEND);
}

BW_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
    for (unsigned i = 0; vec && i < n; i++)
        if (vec[i].msg_hdr.msg_controllen)
            bw_passfd_note(&vec[i].msg_hdr);
    bw_conn *c = bw_fdt_get(fd);
    if (c)
        bw_sndtimeo_settle(c, fd);
    if (!c || !vec)
        return bw_real.sendmmsg(fd, vec, n, flags);
    /* One message at a time through the same path, so each count stays the program's. */
    unsigned done = 0;
    for (; done < n; done++) {
        ssize_t r = sendmsg(fd, &vec[done].msg_hdr, flags);
        if (r < 0)
            return done > 0 ? (int)done : -1;
        vec[done].msg_len = (unsigned)r;
    }
    return (int)done;
}

BW_TRACKED ssize_t write_busy(int fd, const void *buf, size_t n, bw_conn *c)
{
    PENDING_AGAIN(c);
    bw_sndtimeo_settle(c, fd);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.write(fd, buf, n));
    struct iovec v = {(void *)buf, n};
    return bw_inject_send(c, fd, &v, 1, 0, BW_VIA_WRITE);
}

BW_TRACKED ssize_t write_tracked(int fd, const void *buf, size_t n, bw_conn *c)
{
    QUIET_OR(c, BW_IO_SEND, write_busy(fd, buf, n, c),
             bw_real.write(fd, buf, n));
}

BW_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    bw_conn *c = bw_fdt_get(fd);
    if (__builtin_expect(c != NULL, 0))
        return write_tracked(fd, buf, n, c);
    return bw_real.write(fd, buf, n);
}

BW_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c || n < 0 || n > IOV_MAX)
        return bw_real.writev(fd, iov, n);
    PENDING_AGAIN(c);
    bw_sndtimeo_settle(c, fd);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.writev(fd, iov, n));
    return bw_inject_send(c, fd, iov, n, 0, BW_VIA_WRITE);
}

BW_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    bw_conn *c = bw_fdt_get(out);
    if (!c)
        return bw_real.sendfile(out, in, off, n);
    PENDING_AGAIN(c);
    bw_sndtimeo_settle(c, out);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.sendfile(out, in, off, n));
    return bw_inject_sendfile(c, out, in, off, n, false);
}

BW_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    bw_conn *c = bw_fdt_get(out);
    if (!c)
        return bw_real.sendfile64(out, in, off, n);
    PENDING_AGAIN(c);
    bw_sndtimeo_settle(c, out);
    if (!c->watch_requests)
        return bw_observed(c, bw_real.sendfile64(out, in, off, n));
    return bw_inject_sendfile(c, out, in, off, n, true);
}

/* Bytes spliced into a tracked socket are the program's own: not scanned,
 * only its SO_SNDTIMEO (shim.h) put back first. */
BW_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
                         unsigned int flags)
{
    bw_conn *c = bw_fdt_get(out);
    if (c)
        bw_sndtimeo_settle(c, out);
    return bw_real.splice(in, off_in, out, off_out, n, flags);
}

/* A receive whose bytes go to the HTTP response reader. Apart from
 * recv_tracked, so that the common path keeps nothing but c across the
 * real call (fewer registers saved: about ten instructions per call). */
BW_TRACKED ssize_t recv_watched(int fd, void *buf, size_t n, int flags, bw_conn *c)
{
    ssize_t r = bw_real.recv(fd, buf, n, flags);
    struct iovec v = {buf, n};
    return bw_observe_read(c, r, errno, &v, 1, flags);
}

BW_TRACKED ssize_t recv_busy(int fd, void *buf, size_t n, int flags, bw_conn *c)
{
    PENDING_AGAIN(c);
    if (c->watch_responses)
        return recv_watched(fd, buf, n, flags, c);
    return bw_observed(c, bw_real.recv(fd, buf, n, flags));
}

BW_TRACKED ssize_t recv_tracked(int fd, void *buf, size_t n, int flags, bw_conn *c)
{
    QUIET_OR(c, BW_IO_RECV, recv_busy(fd, buf, n, flags, c),
             bw_real.recv(fd, buf, n, flags));
}

BW_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    bw_conn *c = bw_fdt_get(fd);
    if (__builtin_expect(c != NULL, 0))
        return recv_tracked(fd, buf, n, flags, c);
    return bw_real.recv(fd, buf, n, flags);
}

BW_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
                           socklen_t *len)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c)
        return bw_real.recvfrom(fd, buf, n, flags, sa, len);
    PENDING_AGAIN(c);
    ssize_t r = bw_real.recvfrom(fd, buf, n, flags, sa, len);
    struct iovec v = {buf, n};
    return bw_observe_read(c, r, errno, &v, 1, flags);
}

BW_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c)
        return bw_real.recvmsg(fd, msg, flags);
    PENDING_AGAIN(c);
    ssize_t r = bw_real.recvmsg(fd, msg, flags);
    if (!msg)
        return r;
    return bw_observe_read(c, r, errno, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

BW_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags,
                       struct timespec *timeout)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c)
        return bw_real.recvmmsg(fd, vec, n, flags, timeout);
    PENDING_AGAIN(c);
    int r = bw_real.recvmmsg(fd, vec, n, flags, timeout);
    int err = errno;
    if (r <= 0) {
        bw_observe_read(c, r, err, NULL, 0, flags);
    } else {
        for (int i = 0; i < r; i++) {
            ssize_t got = vec[i].msg_len;
            bw_observe_read(c, got, 0, vec[i].msg_hdr.msg_iov, (int)vec[i].msg_hdr.msg_iovlen, flags);
        }
    }
    errno = err;
    return r;
}

/* As recv_watched, for read(). */
BW_TRACKED ssize_t read_watched(int fd, void *buf, size_t n, bw_conn *c)
{
    ssize_t r = bw_real.read(fd, buf, n);
    struct iovec v = {buf, n};
    return bw_observe_read(c, r, errno, &v, 1, 0);
}

BW_TRACKED ssize_t read_busy(int fd, void *buf, size_t n, bw_conn *c)
{
    PENDING_AGAIN(c);
    if (c->watch_responses)
        return read_watched(fd, buf, n, c);
    return bw_observed(c, bw_real.read(fd, buf, n));
}

BW_TRACKED ssize_t read_tracked(int fd, void *buf, size_t n, bw_conn *c)
{
    QUIET_OR(c, BW_IO_RECV, read_busy(fd, buf, n, c),
             bw_real.read(fd, buf, n));
}

BW_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    bw_conn *c = bw_fdt_get(fd);
    if (__builtin_expect(c != NULL, 0))
        return read_tracked(fd, buf, n, c);
    return bw_real.read(fd, buf, n);
}

BW_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c)
        return bw_real.readv(fd, iov, n);
    PENDING_AGAIN(c);
    ssize_t r = bw_real.readv(fd, iov, n);
    return bw_observe_read(c, r, errno, iov, n, 0);
}

/* The _chk variants: glibc's own check first (it aborts on overflow), then the plain path. */
BW_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c || n > buflen)
        return bw_real.read_chk(fd, buf, n, buflen);
    return read(fd, buf, n);
}

BW_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c || n > buflen)
        return bw_real.recv_chk(fd, buf, n, buflen, flags);
    return recv(fd, buf, n, flags);
}

BW_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *sa, socklen_t *len)
{
    bw_conn *c = bw_fdt_get(fd);
    if (!c || n > buflen)
        return bw_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
    return recvfrom(fd, buf, n, flags, sa, len);
}

BW_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    bw_conn *c = bw_fdt_get(fd);
    if (c && bw_is_sndtimeo(level, name))
        bw_sndtimeo_settle(c, fd);   /* the program reads its own value */
    int pend_err;
    if (c && level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= sizeof(int) &&
        bw_pend_so_error(fd, c, &pend_err)) {
        *(int *)val = pend_err;   /* 0 while a retry is pending; the final error once */
        *len = sizeof(int);
        return 0;
    }
    int r = bw_real.getsockopt(fd, level, name, val, len);
    if (c && r == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
        *len >= sizeof(int))
        bw_observe_so_error(c, fd, *(int *)val);
    return r;
}
