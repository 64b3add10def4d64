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

/*
 * One call of the TLS library's write on c's plaintext: out(ctx, p, len)
 * hands bytes to the library and returns how many it took (> 0) or the
 * library's own failing return value (<= 0, its error state set for the
 * program to query). The program's bytes buf[0..n) go out in pieces cut at
 * each key line, and every piece is handed over exactly as a retry of it
 * would be: after a failure the program must repeat its call (the libraries'
 * rule), and the same stream position plans the same piece, at the same
 * address for a key line, at the same offset of the program's buffer
 * otherwise; the bytes of a failed call that went out before the failing
 * piece are not handed over again. partial: the library may take less than
 * it was given (SSL_MODE_ENABLE_PARTIAL_WRITE; GnuTLS, one record per
 * call), and so may this call. Returns the program's bytes that went out
 * (> 0), or out's failing value.
 */
typedef ssize_t (*bw_tls_out_fn)(void *ctx, const void *p, size_t len);
ssize_t bw_inject_tls(bw_conn *c, const void *buf, size_t n, bool partial, bw_tls_out_fn out,
                      void *ctx);

/*
 * GnuTLS finished the piece of a failed call that it buffered, asked with
 * (NULL, 0) instead of the call's own arguments (r: its return). Without
 * the program's bytes the request scanner cannot follow: the plaintext of c
 * is not watched any more. Returns r as the program counts it: the bytes of
 * its failed call that went out.
 */
ssize_t bw_inject_tls_unseen(bw_conn *c, ssize_t r);

#endif
