/*
 * io.c - the send and receive families. The untracked path is one table
 * lookup and the real call: no lock, no allocation, errno untouched.
 */
#include <errno.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "shim.h"

BW_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return bw_real.send(fd, buf, n, flags);
}

BW_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len)
{
    return bw_real.sendto(fd, buf, n, flags, sa, len);
}

BW_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return bw_real.sendmsg(fd, msg, flags);
}

BW_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
    return bw_real.sendmmsg(fd, vec, n, flags);
}

BW_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    return bw_real.write(fd, buf, n);
}

BW_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    return bw_real.writev(fd, iov, n);
}

BW_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    return bw_real.sendfile(out, in, off, n);
}

BW_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    return bw_real.sendfile64(out, in, off, n);
}

BW_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return bw_real.recv(fd, buf, n, flags);
}

BW_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
                           socklen_t *len)
{
    return bw_real.recvfrom(fd, buf, n, flags, sa, len);
}

BW_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    return bw_real.recvmsg(fd, msg, flags);
}

BW_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags,
                       struct timespec *timeout)
{
    return bw_real.recvmmsg(fd, vec, n, flags, timeout);
}

BW_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    return bw_real.read(fd, buf, n);
}

BW_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    return bw_real.readv(fd, iov, n);
}

BW_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    return bw_real.read_chk(fd, buf, n, buflen);
}

BW_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    return bw_real.recv_chk(fd, buf, n, buflen, flags);
}

BW_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *sa, socklen_t *len)
{
    return bw_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
}

BW_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return bw_real.getsockopt(fd, level, name, val, len);
}
