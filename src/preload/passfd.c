/*
 * passfd.c - sockets that may live on in another process: handed over with
 * SCM_RIGHTS, or kept by a fork child.
 *
 * A slot belongs to the socket (its open file description), not to the
 * process that connected it. A socket that may live on elsewhere is noted
 * (its addresses and inode) when that becomes possible: when it is sent in
 * an SCM_RIGHTS message (bw_passfd_note), or when the process forks
 * (bw_passfd_forking: every connected socket, three system calls each,
 * once per connection). When this process then closes its last descriptor
 * of it, its slot is handed over to the socket itself in the bulkhead
 * (bw_bulkhead.h, "Sockets"): it stays counted whichever process lives or
 * dies, until a process that finds the bulkhead full (a connect about to
 * wait or be refused, guard.c) asks the kernel which of those sockets are
 * closed everywhere (bw_passfd_closed: sock_diag, by raw system calls, no
 * lock held) and drops them. A socket the bulkhead has no room for, and any
 * under max_connections = 0 (nothing ever fills), gives its slot back at
 * once, as before.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bw_sys.h"
#include "guard.h"
#include "nonblock.h"
#include "shim.h"

static void id_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port);

/* Notes who c's socket (fd) is, once: it may live on in another process.
 * Two threads may note it at once (a fork, a sendmsg): one block stays. */
static void note_one(int fd, bw_conn *c)
{
    if (atomic_load(&c->pass))
        return;
    uint64_t inode;
    struct sockaddr_storage local, peer;
    if (bw_sys_tcp_identity(fd, &inode, &local, &peer) != 0)
        return;   /* not connected (yet): nothing to keep for it */
    uint8_t family = (uint8_t)local.ss_family;
    if ((family != AF_INET && family != AF_INET6) || peer.ss_family != family)
        return;   /* never handed over (bw_passfd_keep) */
    bw_conn_pass *b = bw_conn_pass_get();
    if (!b)
        return;   /* out of memory: its slot is given back at its close, as before */
    b->id.inode = inode;
    b->id.family = family;
    id_addr(&local, b->id.local, &b->id.local_port);
    id_addr(&peer, b->id.peer, &b->id.peer_port);
    bw_conn_pass *none = NULL;
    if (!atomic_compare_exchange_strong(&c->pass, &none, b))
        bw_conn_pass_put(b);
}

void bw_passfd_note(const struct msghdr *msg)
{
    if (!bw_enter())
        return;
    int saved = errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cm);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof fd, sizeof fd);
            bw_nonblock_forget(fd);   /* the receiver shares its description */
            bw_conn *c = bw_fdt_get(fd);
            if (c) {
                bw_sndtimeo_settle(c, fd);   /* the receiver sees the program's value */
                note_one(fd, c);
            }
        }
    }
    errno = saved;
    bw_leave();
}

/* Other threads may be connecting or closing meanwhile: only the record's
 * atomic fields are read here (whether it holds a slot is bw_passfd_keep's
 * question, asked when its last descriptor is gone). Each connection is
 * noted once, whatever the number of forks. */
void bw_passfd_forking(void)
{
    if (!bw_enter())
        return;
    int saved = errno;
    for (int fd = bw_fdt_next(0, ~0U); fd >= 0; fd = bw_fdt_next((unsigned)fd + 1, ~0U)) {
        bw_conn *c = bw_fdt_get(fd);
        if (c && atomic_load(&c->state) == BW_CONN_CONNECTED)
            note_one(fd, c);
    }
    errno = saved;
    bw_leave();
}

/* One address of a socket in the bulkhead's form, from a sockaddr. */
static void id_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        memcpy(addr, &in->sin_addr, 4);
        *port = in->sin_port;
    } else {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        memcpy(addr, &in6->sin6_addr, 16);
        *port = in6->sin6_port;
    }
}

/* ... and back. */
static void id_sockaddr(uint8_t family, const uint8_t addr[16], uint16_t port,
                        struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    ss->ss_family = family;
    if (family == AF_INET) {
        struct sockaddr_in *in = (void *)ss;
        memcpy(&in->sin_addr, addr, 4);
        in->sin_port = port;
    } else {
        struct sockaddr_in6 *in6 = (void *)ss;
        memcpy(&in6->sin6_addr, addr, 16);
        in6->sin6_port = port;
    }
}

bool bw_passfd_keep(bw_conn *c)
{
    bw_conn_pass *b = atomic_load(&c->pass);
    if (!b || !c->holds_slot || !c->bulkhead_entry || c->owner != bw_self_pid() ||
        !c->policy->max_connections)
        return false;
    bw_bulkhead_sock id = b->id;
    if (!bw_guard_slot_hand_over(c->bulkhead_entry, c->slot_untracked, c->owner, &id))
        return false;
    c->holds_slot = false;   /* the socket holds it now */
    return true;
}

bool bw_passfd_closed(const bw_bulkhead_sock *id)
{
    if (id->family != AF_INET && id->family != AF_INET6)
        return false;   /* a corrupt entry: never given back on a guess */
    struct sockaddr_storage local, peer;
    id_sockaddr(id->family, id->local, id->local_port, &local);
    id_sockaddr(id->family, id->peer, id->peer_port, &peer);
    return bw_sys_tcp_held(&local, &peer, id->inode) == 0;
}
