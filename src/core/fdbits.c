/* fdbits.c - a bit per descriptor (see bw_fdbits.h). */
#include "bw_fdbits.h"

void bw_fdbits_mark(bw_fdbits *b, int fd)
{
    if ((unsigned)fd >= BW_FDT_MAX)
        return;
    uint64_t bit = 1ULL << ((unsigned)fd % 64);
    if (!(atomic_fetch_or(&b->words[(unsigned)fd / 64], bit) & bit))
        atomic_fetch_add(&b->count, 1);
}

void bw_fdbits_unmark_set(bw_fdbits *b, int fd)
{
    uint64_t bit = 1ULL << ((unsigned)fd % 64);
    if (atomic_fetch_and(&b->words[(unsigned)fd / 64], ~bit) & bit)
        atomic_fetch_sub(&b->count, 1);
}

void bw_fdbits_unmark_range(bw_fdbits *b, unsigned lo, unsigned hi)
{
    if (!bw_fdbits_any(b))
        return;
    if (hi >= BW_FDT_MAX)
        hi = BW_FDT_MAX - 1;
    for (unsigned fd = lo; fd <= hi; fd++) {
        if (fd % 64 == 0 && fd + 63 <= hi &&
            atomic_load_explicit(&b->words[fd / 64], memory_order_relaxed) == 0) {
            fd += 63;   /* a whole empty word */
            continue;
        }
        bw_fdbits_unmark(b, (int)fd);
    }
}
