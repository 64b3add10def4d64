/*
 * bw_fdbits.h - one bit per descriptor number, for facts about descriptors
 * the shim learns when they are made (an epoll instance, a TCP socket) and
 * forgets when they are closed. Lock-free and allocation-free; a set of
 * 1M bits is 128 KiB of zero pages until used. Descriptors at or above
 * BW_FDT_MAX are never marked. Below, bw_fdfacts: eight such facts a byte
 * per descriptor, for facts forgotten together.
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

/*
 * Up to eight facts per descriptor number, a byte of them each, so that a
 * close forgets all of a number's with one load when it has none and one
 * exchange when it has some. Thread safety: facts of different numbers
 * never share a byte, so hooks racing on different descriptors never touch
 * one atomic; on one byte every change is an atomic read-modify-write
 * (fetch_or, fetch_and, exchange), so no mark or unmark of one fact undoes
 * a concurrent change of another, and what they return is exact, which
 * keeps the counts exact. A forget (one exchange) is the unmarks of every
 * fact at one instant. count[i]: how many numbers have fact 1 << i, kept
 * for the facts in counted only. top: past the highest number ever marked
 * (raised before the byte is marked); range operations stop there. The
 * bytes are an array of BW_FDT_MAX apart (1 MiB of zero pages until used, a
 * page per 4096 numbers), so that an initialised bw_fdfacts does not put
 * them in the data segment.
 */
typedef struct bw_fdfacts {
    _Atomic uint8_t *fact;     /* BW_FDT_MAX bytes, zero at first */
    uint8_t counted;           /* facts counted; set by the initialiser, then constant */
    atomic_int count[8];
    atomic_uint top;
} bw_fdfacts;

/* The facts of fd (0 when fd is out of range). One load. */
static inline unsigned bw_fdfacts_of(bw_fdfacts *f, int fd)
{
    return (unsigned)fd < BW_FDT_MAX
               ? atomic_load_explicit(&f->fact[(unsigned)fd], memory_order_relaxed)
               : 0;
}

/* Marks facts (a mask) on fd; nothing for fd out of range. Inline: one
 * `lock or` for facts not counted on a number below top (bw_fdfacts_mark_slow
 * otherwise: it raises top, and counts). */
void bw_fdfacts_mark_slow(bw_fdfacts *f, int fd, unsigned facts);
static inline void bw_fdfacts_mark(bw_fdfacts *f, int fd, unsigned facts)
{
    if ((unsigned)fd < atomic_load_explicit(&f->top, memory_order_relaxed) &&
        !(facts & f->counted))
        atomic_fetch_or(&f->fact[(unsigned)fd], (uint8_t)facts);
    else
        bw_fdfacts_mark_slow(f, fd, facts);
}
/* Unmarks facts on fd (bw_fdfacts_unmark: when one of them is set). */
void bw_fdfacts_unmark_set(bw_fdfacts *f, int fd, unsigned facts);
static inline void bw_fdfacts_unmark(bw_fdfacts *f, int fd, unsigned facts)
{
    if (bw_fdfacts_of(f, fd) & facts)
        bw_fdfacts_unmark_set(f, fd, facts);
}
/* Takes facts (had, counted ones) off the counts. */
void bw_fdfacts_uncount(bw_fdfacts *f, unsigned had);
/* Forgets every fact of fd and returns those it had: a load alone when it
 * had none, else an exchange (and the counts). */
static inline unsigned bw_fdfacts_forget(bw_fdfacts *f, int fd)
{
    if (!bw_fdfacts_of(f, fd))
        return 0;
    unsigned had = atomic_exchange(&f->fact[(unsigned)fd], 0);
    if (had & f->counted)
        bw_fdfacts_uncount(f, had);
    return had;
}
/* Unmarks facts on lo..hi (inclusive), up to top. */
void bw_fdfacts_unmark_range(bw_fdfacts *f, unsigned lo, unsigned hi, unsigned facts);

/* How many numbers have fact (one bit, among counted). */
static inline int bw_fdfacts_count(bw_fdfacts *f, unsigned fact)
{
    return atomic_load_explicit(&f->count[__builtin_ctz(fact)], memory_order_relaxed);
}

#endif
