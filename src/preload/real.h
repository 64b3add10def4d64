/*
 * real.h - the libc functions the shim interposes, called through this table.
 *
 * Every entry starts out pointing at a fallback that makes the raw system call
 * (so a hook that runs before start-up, e.g. from another library's
 * constructor, still works) and is replaced once by dlsym(RTLD_NEXT) in
 * bw_real_resolve(). Nothing is looked up after that. The functions are
 * listed once, in real_list.h.
 */
#ifndef BW_REAL_H
#define BW_REAL_H

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* One field per line of real_list.h, named as there. */
struct bw_real {
#define BW_REAL(ret, field, symbol, params, fallback) ret(*field) params;
#include "real_list.h"
#undef BW_REAL
};

/* Hidden: the hooks call through it with one instruction, not two. */
extern struct bw_real bw_real __attribute__((visibility("hidden")));

/* Replaces the fallbacks with the next definitions in link order. Idempotent,
 * thread-safe, and safe to call from a hook re-entered during resolution. */
void bw_real_resolve(void);

/* After bw_real_resolve(): how many functions of the list found a next
 * definition; *listed: how many the list has. */
unsigned bw_real_resolved(unsigned *listed);

/* bw_raw_syscall: see bw_sys.h. */
#include "bw_sys.h"

#endif
