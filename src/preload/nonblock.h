/* nonblock.h - a socket's O_NONBLOCK, tracked from the calls that set it (nonblock.c). */
#ifndef BW_NONBLOCK_H
#define BW_NONBLOCK_H

#include <stdbool.h>

/* socket() made fd with type (SOCK_NONBLOCK or not): its mode is known. */
void bw_nonblock_note_socket(int fd, int type);

/* The program set fd's mode (fcntl F_SETFL, ioctl FIONBIO) successfully. */
void bw_nonblock_note_set(int fd, bool nonblocking);

/* fd's description may be shared or changed unseen: ask the kernel next time. */
void bw_nonblock_forget(int fd);
void bw_nonblock_forget_range(unsigned lo, unsigned hi);

/* Fork, in parent and child: every description is shared with the other side. */
void bw_nonblock_atfork(void);

/* True when fd is in non-blocking mode: from what was seen, else from the
 * kernel (fcntl F_GETFL; false when that fails). errno preserved. */
bool bw_nonblock_is_set(int fd);

#endif
