/* inject.h - the write path of a tracked connection (see inject.c). */
#ifndef BW_INJECT_H
#define BW_INJECT_H

#include <sys/types.h>
#include <sys/uio.h>

#include "shim.h"

enum bw_via { BW_VIA_SEND, BW_VIA_WRITE };

/*
 * Sends the program's bytes iov[0..n) on c (fd) with send flags (via send)
 * or as write/writev, inserting Idempotency-Key lines where the request
 * scanner says. Returns what the real call would: a count of the program's
 * own bytes, or -1 with errno. A key line that went out only in part is kept
 * and sent before any later byte.
 */
ssize_t bw_inject_send(bw_conn *c, int fd, const struct iovec *iov, int n, int flags,
                       enum bw_via via);

/*
 * sendfile on c: a pending key line goes first; the file's bytes, which the
 * shim does not see, keep the request scanner in step when they fall inside a
 * body (bw_http_req_unseen) and stop it for good otherwise. off is an off_t *
 * or off64_t * as is64 says. Returns what sendfile returns.
 */
ssize_t bw_inject_sendfile(bw_conn *c, int out, int in, void *off, size_t n, bool is64);

#endif
