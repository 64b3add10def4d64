/*
 * bw_fdbits.h - one bit per descriptor number, for facts about descriptors
 * the shim learns when they are made (an epoll instance, a TCP socket) and
 * forgets when they are closed. Lock-free and allocation-free; a set of
 * 1M bits is 128 KiB of zero pages until used. Descriptors at or above
 * BW_FDT_MAX are never marked.
 */
#ifndef BW_FDBITS_H
#define BW_FDBITS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bw_fdtable.h"

typedef struct bw_fdbits {
    _Atomic uint64_t words[BW_FDT_MAX / 64];
    atomic_int count;          /* bits set */
} bw_fdbits;

void bw_fdbits_mark(bw_fdbits *b, int fd);
/* bw_fdbits_unmark for a bit found set. */
void bw_fdbits_unmark_set(bw_fdbits *b, int fd);

/* Unmarks lo..hi (inclusive), skipping empty words. */
void bw_fdbits_unmark_range(bw_fdbits *b, unsigned lo, unsigned hi);

static inline bool bw_fdbits_has(bw_fdbits *b, int fd)
{
    return (unsigned)fd < BW_FDT_MAX &&
           (atomic_load_explicit(&b->words[(unsigned)fd / 64], memory_order_relaxed) >>
            ((unsigned)fd % 64)) & 1;
}

/* Inline: close and socket forget seven facts, most of them never learned. */
static inline void bw_fdbits_unmark(bw_fdbits *b, int fd)
{
    if (bw_fdbits_has(b, fd))   /* also the cheap answer when nothing is marked */
        bw_fdbits_unmark_set(b, fd);
}

static inline bool bw_fdbits_any(bw_fdbits *b)
{
    return atomic_load_explicit(&b->count, memory_order_relaxed) > 0;
}

#endif
