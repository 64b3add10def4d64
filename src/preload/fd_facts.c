/*
 * fd_facts.c - facts about descriptors kept as bits (bw_fdbits.h):
 *
 * - which are epoll instances, for nonblocking = auto (an event loop wants
 *   EINPROGRESS back; a program that polls one socket with a timeout wants
 *   the shim to retry for it). An instance counts while a descriptor of it
 *   is open, not from the moment one was ever created: CPython's selectors
 *   module creates and closes an epoll at import just to see that it works,
 *   and that must not turn every Python program with socket timeouts into
 *   an event loop.
 * - which are TCP sockets made by socket(), so that connect() need not ask
 *   the kernel for SO_TYPE (one system call less per connect);
 * - which of those the program gave an SO_SNDTIMEO of its own, so that for
 *   the others connect() knows it is zero without asking (one more);
 * - which carry the program's own TCP_USER_TIMEOUT or keepalive settings,
 *   which then win over tcp_user_timeout_ms and tcp_keepalive.
 */
#include "bw_fdbits.h"
#include "nonblock.h"
#include "pending.h"
#include "shim.h"

static bw_fdbits epoll_fds;
static bw_fdbits tcp_fds;
static bw_fdbits sndtimeo_fds;
static bw_fdbits own_user_timeout_fds;
static bw_fdbits own_keepalive_fds;

/* Facts are the process's: a vfork child (running on its parent's memory)
 * neither marks nor forgets. */
void bw_epoll_mark(int fd) { if (!bw_vfork_child) bw_fdbits_mark(&epoll_fds, fd); }
bool bw_epoll_is_open(void) { return bw_fdbits_any(&epoll_fds); }
bool bw_epoll_is_epoll(int fd) { return bw_fdbits_has(&epoll_fds, fd); }

void bw_tcp_mark(int fd) { if (!bw_vfork_child) bw_fdbits_mark(&tcp_fds, fd); }
bool bw_tcp_known(int fd) { return bw_fdbits_has(&tcp_fds, fd); }
void bw_sndtimeo_mark(int fd) { if (!bw_vfork_child) bw_fdbits_mark(&sndtimeo_fds, fd); }
bool bw_sndtimeo_maybe(int fd) { return !bw_tcp_known(fd) || bw_fdbits_has(&sndtimeo_fds, fd); }

void bw_own_user_timeout_mark(int fd) { if (!bw_vfork_child) bw_fdbits_mark(&own_user_timeout_fds, fd); }
bool bw_own_user_timeout(int fd) { return bw_fdbits_has(&own_user_timeout_fds, fd); }
void bw_own_keepalive_mark(int fd) { if (!bw_vfork_child) bw_fdbits_mark(&own_keepalive_fds, fd); }
bool bw_own_keepalive(int fd) { return bw_fdbits_has(&own_keepalive_fds, fd); }

void bw_fd_facts_forget(int fd)
{
    if (bw_vfork_child)
        return;
    if (bw_fdbits_has(&epoll_fds, fd))
        bw_epreg_forget_epoll(fd);
    bw_epreg_forget(fd);
    bw_fdbits_unmark(&epoll_fds, fd);
    bw_fdbits_unmark(&tcp_fds, fd);
    bw_fdbits_unmark(&sndtimeo_fds, fd);
    bw_fdbits_unmark(&own_user_timeout_fds, fd);
    bw_fdbits_unmark(&own_keepalive_fds, fd);
    bw_nonblock_forget(fd);
}

void bw_fd_facts_forget_range(unsigned lo, unsigned hi)
{
    if (bw_vfork_child)
        return;
    bw_epreg_forget_range(lo, hi);   /* epoll instances among them keep stale records
                                      * until the socket's own close or connect */
    bw_fdbits_unmark_range(&epoll_fds, lo, hi);
    bw_fdbits_unmark_range(&tcp_fds, lo, hi);
    bw_fdbits_unmark_range(&sndtimeo_fds, lo, hi);
    bw_fdbits_unmark_range(&own_user_timeout_fds, lo, hi);
    bw_fdbits_unmark_range(&own_keepalive_fds, lo, hi);
    bw_nonblock_forget_range(lo, hi);
}
