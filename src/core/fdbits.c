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

/* Adds delta to the count of every counted fact in facts. */
static void recount(bw_fdfacts *f, unsigned facts, int delta)
{
    for (facts &= f->counted; facts; facts &= facts - 1)
        atomic_fetch_add_explicit(&f->count[__builtin_ctz(facts)], delta, memory_order_relaxed);
}

void bw_fdfacts_mark_slow(bw_fdfacts *f, int fd, unsigned facts)
{
    if ((unsigned)fd >= BW_FDT_MAX)
        return;
    unsigned top = atomic_load_explicit(&f->top, memory_order_relaxed);
    while ((unsigned)fd >= top &&
           !atomic_compare_exchange_weak(&f->top, &top, (unsigned)fd + 1))
        ;
    if (!(facts & f->counted)) {
        atomic_fetch_or(&f->fact[(unsigned)fd], (uint8_t)facts);   /* one `lock or` */
        return;
    }
    unsigned had = atomic_fetch_or(&f->fact[(unsigned)fd], (uint8_t)facts);
    if (facts & ~had & f->counted)
        recount(f, facts & ~had, 1);
}

void bw_fdfacts_unmark_set(bw_fdfacts *f, int fd, unsigned facts)
{
    unsigned had = atomic_fetch_and(&f->fact[(unsigned)fd], (uint8_t)~facts);
    if (facts & had & f->counted)
        recount(f, facts & had, -1);
}

void bw_fdfacts_uncount(bw_fdfacts *f, unsigned had)
{
    recount(f, had, -1);
}

void bw_fdfacts_unmark_range(bw_fdfacts *f, unsigned lo, unsigned hi, unsigned facts)
{
    unsigned top = atomic_load_explicit(&f->top, memory_order_relaxed);
    if (top == 0)
        return;   /* nothing was ever marked */
    if (hi > top - 1)
        hi = top - 1;   /* below BW_FDT_MAX: the loop ends */
    for (unsigned fd = lo; fd <= hi; fd++)
        bw_fdfacts_unmark(f, (int)fd, facts);
}
