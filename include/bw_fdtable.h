/*
 * bw_fdtable.h - descriptor number -> connection record, for the whole process.
 *
 * The read side is what every read()/write() in the program pays, so it is a
 * two-level array of atomic pointers: no lock, no allocation, two loads. Pages
 * of BW_FDT_PAGE slots are mapped on first use and never unmapped, so a reader
 * racing a writer sees either the old or the new record, never freed memory of
 * the table itself. Records are opaque here; their lifetime is the caller's.
 * Descriptors at or above BW_FDT_MAX are never tracked (lookups return NULL).
 */
#ifndef BW_FDTABLE_H
#define BW_FDTABLE_H

#include <stdatomic.h>
#include <stddef.h>

#define BW_FDT_PAGE_SHIFT 10
#define BW_FDT_PAGE (1u << BW_FDT_PAGE_SHIFT)
#define BW_FDT_PAGES 1024u
#define BW_FDT_MAX (BW_FDT_PAGE * BW_FDT_PAGES)

typedef _Atomic(void *) bw_fdt_slot;

/* Hidden, also where declared: the shim's code then reaches them directly,
 * not through the global offset table (a load less on every lookup). */
extern _Atomic(bw_fdt_slot *) bw_fdt_pages[BW_FDT_PAGES] __attribute__((visibility("hidden")));

/* The first page, static (and bw_fdt_pages[0] from the start): descriptors
 * below BW_FDT_PAGE, nearly all a program has, are one compare and one load
 * away, the hooks' whole cost on an untracked read or write. */
extern bw_fdt_slot bw_fdt_page0[BW_FDT_PAGE] __attribute__((visibility("hidden")));

/* The slot of fd when its page exists, else NULL. */
static inline bw_fdt_slot *bw_fdt_slot_of(int fd)
{
    if (__builtin_expect((unsigned)fd < BW_FDT_PAGE, 1))
        return &bw_fdt_page0[fd];
    if ((unsigned)fd >= BW_FDT_MAX)
        return NULL;
    bw_fdt_slot *page = atomic_load_explicit(&bw_fdt_pages[(unsigned)fd >> BW_FDT_PAGE_SHIFT],
                                             memory_order_acquire);
    return page ? &page[(unsigned)fd & (BW_FDT_PAGE - 1)] : NULL;
}

/* Returns the record of fd, or NULL when fd is not tracked. Lock-free. */
static inline void *bw_fdt_get(int fd)
{
    bw_fdt_slot *slot = bw_fdt_slot_of(fd);
    return slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
}

/*
 * Stores rec for fd and returns the record it replaces (NULL if none), which
 * the caller must release. Returns rec itself, storing nothing, when fd is out
 * of range or a page cannot be mapped (errno is preserved either way).
 * Inline: an exchange when fd's page exists; bw_fdt_set_mapping otherwise.
 */
void *bw_fdt_set_mapping(int fd, void *rec);
static inline void *bw_fdt_set(int fd, void *rec)
{
    bw_fdt_slot *slot = bw_fdt_slot_of(fd);
    if (__builtin_expect(!slot, 0))
        return bw_fdt_set_mapping(fd, rec);
    return atomic_exchange(slot, rec);
}

/* Removes and returns the record of fd (NULL when none). Lock-free; a load
 * alone when there is none (close() of an untracked descriptor). */
static inline void *bw_fdt_take(int fd)
{
    bw_fdt_slot *slot = bw_fdt_slot_of(fd);
    if (!slot || !atomic_load_explicit(slot, memory_order_relaxed))
        return NULL;
    return atomic_exchange(slot, NULL);
}

/*
 * Removes every record of descriptors lo..hi (inclusive) and calls fn(fd, rec, ctx)
 * for each. Only pages that exist are visited, so a range up to ~0U is cheap.
 */
void bw_fdt_take_range(unsigned lo, unsigned hi, void (*fn)(int fd, void *rec, void *ctx),
                       void *ctx);

/* The lowest tracked descriptor in lo..hi (inclusive), or -1 when there is
 * none. Only pages that exist are visited. */
int bw_fdt_next(unsigned lo, unsigned hi);

#endif
