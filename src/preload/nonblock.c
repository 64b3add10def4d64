/*
 * nonblock.c - whether a socket is in non-blocking mode, learned from the
 * calls that set it (socket's SOCK_NONBLOCK, fcntl F_SETFL, ioctl FIONBIO)
 * instead of asking the kernel with fcntl(F_GETFL) on every connect.
 *
 * O_NONBLOCK belongs to the open file description, which other descriptors
 * and processes may share. The mode is therefore "known" only for a socket
 * this process made with socket() and never shared since: a dup of it, an
 * SCM_RIGHTS send of it and any fork (whose child could change it) make it
 * unknown again, and connect() then asks the kernel as before. A socket
 * handed to posix_spawn's child without close-on-exec, then changed there
 * before this process connects it, is the one case not seen.
 */
#include <errno.h>
#include <fcntl.h>

#include "bw_fdbits.h"
#include "nonblock.h"
#include "shim.h"

/* Two of the descriptor facts (shim.h): BW_FACT_NB_KNOWN, mode known, and
 * BW_FACT_NB_ON, what it is. socket() sets both (bw_tcp_socket_mark). */
static void set_mode(int fd, bool nonblocking)
{
    if (nonblocking) {
        bw_fdfacts_mark(&bw_fd_facts, fd, BW_FACT_NB_ON | BW_FACT_NB_KNOWN);
    } else {
        bw_fdfacts_unmark(&bw_fd_facts, fd, BW_FACT_NB_ON);
        bw_fdfacts_mark(&bw_fd_facts, fd, BW_FACT_NB_KNOWN);
    }
}

void bw_nonblock_note_set(int fd, bool nonblocking)
{
    /* A vfork child shares the parent's table and its descriptions: the
     * parent must ask the kernel from now on. */
    if (bw_vfork_child || !bw_fd_fact(fd, BW_FACT_NB_KNOWN))
        bw_nonblock_forget(fd);
    else
        set_mode(fd, nonblocking);
}

void bw_nonblock_forget(int fd)
{
    bw_fdfacts_unmark(&bw_fd_facts, fd, BW_FACT_NB_KNOWN);
}

/* Every number up to the highest ever marked. */
void bw_nonblock_atfork(void)
{
    bw_fdfacts_unmark_range(&bw_fd_facts, 0, ~0U, BW_FACT_NB_KNOWN);
}

bool bw_nonblock_ask(int fd)
{
    int saved = errno;
    int flags = bw_real.fcntl(fd, F_GETFL);
    errno = saved;
    return flags >= 0 && (flags & O_NONBLOCK);
}
