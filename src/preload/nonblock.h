/* nonblock.h - a socket's O_NONBLOCK, tracked from the calls that set it (nonblock.c). */
#ifndef BW_NONBLOCK_H
#define BW_NONBLOCK_H

#include <stdbool.h>

#include "shim.h"

/* The program set fd's mode (fcntl F_SETFL, ioctl FIONBIO) successfully. */
void bw_nonblock_note_set(int fd, bool nonblocking);

/* fd's description may be shared or changed unseen: ask the kernel next time. */
void bw_nonblock_forget(int fd);

/* Fork, in parent and child: every description is shared with the other side. */
void bw_nonblock_atfork(void);

/* True when fd is in non-blocking mode: from what was seen (one load), else
 * from the kernel (bw_nonblock_ask: fcntl F_GETFL; false when that fails).
 * errno preserved. */
bool bw_nonblock_ask(int fd);
static inline bool bw_nonblock_is_set(int fd)
{
    unsigned facts = bw_fdfacts_of(&bw_fd_facts, fd);
    if (facts & BW_FACT_NB_KNOWN)
        return facts & BW_FACT_NB_ON;
    return bw_nonblock_ask(fd);
}

#endif
