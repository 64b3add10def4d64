/*
 * sockdiag.c - is a TCP socket still open in some process? Asked of the
 * kernel's sock_diag netlink interface by the connection's addresses: a
 * socket that some descriptor still refers to has an inode; one every
 * holder closed (orphaned, closing, TIME_WAIT) has inode 0 or is gone.
 * No privilege is needed (the same facts as /proc/net/tcp). The socket's
 * identity (inode, addresses) is read here too, while it is still open.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bw_sys.h"

/* Fills an address and port of id from sa (network byte order). */
static int fill(const struct sockaddr_storage *sa, __be32 addr[4], __be16 *port)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        addr[0] = in->sin_addr.s_addr;
        *port = in->sin_port;
        return AF_INET;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        memcpy(addr, &in6->sin6_addr, 16);
        *port = in6->sin6_port;
        return AF_INET6;
    }
    return -1;
}

int bw_sys_tcp_held(const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    uint64_t inode)
{
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    int fam = fill(local, req.r.id.idiag_src, &req.r.id.idiag_sport);
    if (fam < 0 || fill(peer, req.r.id.idiag_dst, &req.r.id.idiag_dport) != fam)
        return -1;
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = (__u8)fam;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0U;
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    int saved = errno, held = -1;
    int fd = (int)bw_raw_syscall(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
                                 NETLINK_SOCK_DIAG, 0, 0, 0);
    if (fd < 0)
        goto out;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (bw_raw_syscall(SYS_sendto, fd, (long)&req, sizeof req, 0, (long)&kernel,
                       sizeof kernel) != (long)sizeof req)
        goto out;
    union {
        struct nlmsghdr nh;
        char buf[1024];
    } ans;
    long n;
    do
        n = bw_raw_syscall(SYS_recvfrom, fd, (long)&ans, sizeof ans, 0, 0, 0);
    while (n < 0 && errno == EINTR);
    if (n < (long)sizeof(struct nlmsghdr) || ans.nh.nlmsg_len > (unsigned long)n)
        goto out;
    if (ans.nh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(&ans.nh);
        if (ans.nh.nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error == -ENOENT)
            held = 0;   /* no such socket any more */
    } else if (ans.nh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
               ans.nh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        const struct inet_diag_msg *m = NLMSG_DATA(&ans.nh);
        held = m->idiag_inode != 0 && m->idiag_inode == inode;
    }
out:
    if (fd >= 0)
        bw_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    errno = saved;
    return held;
}

int bw_sys_tcp_identity(int fd, uint64_t *inode, struct sockaddr_storage *local,
                        struct sockaddr_storage *peer)
{
    struct statx stx;
    socklen_t ll = sizeof *local, pl = sizeof *peer;
    if (bw_raw_syscall(SYS_statx, fd, (long)"", AT_EMPTY_PATH, STATX_INO, (long)&stx, 0) != 0 ||
        bw_raw_syscall(SYS_getsockname, fd, (long)local, (long)&ll, 0, 0, 0) != 0 ||
        bw_raw_syscall(SYS_getpeername, fd, (long)peer, (long)&pl, 0, 0, 0) != 0)
        return -1;
    *inode = stx.stx_ino;
    return 0;
}
