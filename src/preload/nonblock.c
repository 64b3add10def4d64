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

static bw_fdbits known;   /* mode known (and the bit below is it) */
static bw_fdbits on;      /* O_NONBLOCK set */

static void set_mode(int fd, bool nonblocking)
{
    if (nonblocking)
        bw_fdbits_mark(&on, fd);
    else
        bw_fdbits_unmark(&on, fd);
    bw_fdbits_mark(&known, fd);
}

void bw_nonblock_note_socket(int fd, int type)
{
    if (!bw_vfork_child)
        set_mode(fd, type & SOCK_NONBLOCK);
}

void bw_nonblock_note_set(int fd, bool nonblocking)
{
    /* A vfork child shares the parent's table and its descriptions: the
     * parent must ask the kernel from now on. */
    if (bw_vfork_child || !bw_fdbits_has(&known, fd))
        bw_nonblock_forget(fd);
    else
        set_mode(fd, nonblocking);
}

void bw_nonblock_forget(int fd)
{
    bw_fdbits_unmark(&known, fd);
}

void bw_nonblock_forget_range(unsigned lo, unsigned hi)
{
    bw_fdbits_unmark_range(&known, lo, hi);
}

void bw_nonblock_atfork(void)
{
    if (bw_fdbits_any(&known))
        bw_nonblock_forget_range(0, ~0U);
}

bool bw_nonblock_is_set(int fd)
{
    if (bw_fdbits_has(&known, fd))
        return bw_fdbits_has(&on, fd);
    int saved = errno;
    int flags = bw_real.fcntl(fd, F_GETFL);
    errno = saved;
    return flags >= 0 && (flags & O_NONBLOCK);
}
