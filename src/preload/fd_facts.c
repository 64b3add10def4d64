/*
 * fd_facts.c - facts about descriptors, a byte of them per number
 * (bw_fdbits.h's bw_fdfacts; the bits are shim.h's BW_FACT_*), so that a
 * close forgets them all in one step (most numbers: one load):
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
 *   which then win over tcp_user_timeout_ms and tcp_keepalive;
 * - nonblock.c's two (the socket's O_NONBLOCK, when known) and epreg.c's
 *   (its registration record counts).
 */
#include "bw_fdbits.h"
#include "pending.h"
#include "shim.h"

/* The bytes, apart from bw_fd_facts so that they stay in .bss. */
static _Atomic uint8_t fact_bytes[BW_FDT_MAX];
bw_fdfacts bw_fd_facts = {.fact = fact_bytes, .counted = BW_FACT_EPOLL | BW_FACT_EPREG};

/* Facts are the process's: a vfork child (running on its parent's memory)
 * neither marks nor forgets. */
static void mark(int fd, unsigned facts)
{
    if (!bw_vfork_child)
        bw_fdfacts_mark(&bw_fd_facts, fd, facts);
}

void bw_epoll_mark(int fd) { mark(fd, BW_FACT_EPOLL); }
void bw_tcp_mark(int fd) { mark(fd, BW_FACT_TCP); }
void bw_sndtimeo_mark(int fd) { mark(fd, BW_FACT_SNDTIMEO); }
void bw_own_user_timeout_mark(int fd) { mark(fd, BW_FACT_OWN_UTO); }
void bw_own_keepalive_mark(int fd) { mark(fd, BW_FACT_OWN_KEEPALIVE); }

/* fd is fresh (socket() forgot its number's facts just before). */
void bw_tcp_socket_mark(int fd, bool nonblocking)
{
    mark(fd, BW_FACT_TCP | BW_FACT_NB_KNOWN | (nonblocking ? BW_FACT_NB_ON : 0));
}

/* The facts of the socket or epoll instance itself, not of the number:
 * the mode is left out (the copy's changes would go unseen, nonblock.c). */
void bw_fd_facts_copy(int oldfd, int newfd)
{
    mark(newfd, bw_fdfacts_of(&bw_fd_facts, oldfd) &
                    (BW_FACT_EPOLL | BW_FACT_TCP | BW_FACT_SNDTIMEO | BW_FACT_OWN_UTO |
                     BW_FACT_OWN_KEEPALIVE));
}

/* An epoll instance's end is also its registrations' (epreg.c), told
 * before its fact goes, as before the facts shared a byte. */
void bw_fd_facts_forget_had(int fd)
{
    if (bw_vfork_child)
        return;
    if (bw_fd_fact(fd, BW_FACT_EPOLL))
        bw_epreg_forget_epoll(fd);
    bw_fdfacts_forget(&bw_fd_facts, fd);
}

/* Epoll instances among them keep stale records (epreg.c) until the
 * socket's own close or connect. */
void bw_fd_facts_forget_range(unsigned lo, unsigned hi)
{
    if (!bw_vfork_child)
        bw_fdfacts_unmark_range(&bw_fd_facts, lo, hi, 0xff);
}
