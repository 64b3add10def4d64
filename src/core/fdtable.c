/* fdtable.c - the descriptor table (see bw_fdtable.h). */
#include <errno.h>
#include <sys/mman.h>

#include "bw_fdtable.h"

bw_fdt_slot bw_fdt_page0[BW_FDT_PAGE];
_Atomic(bw_fdt_slot *) bw_fdt_pages[BW_FDT_PAGES] = {[0] = bw_fdt_page0};

/* Returns the page holding fd, mapping it on first use; NULL when out of memory. */
static bw_fdt_slot *page_for(unsigned fd)
{
    _Atomic(bw_fdt_slot *) *where = &bw_fdt_pages[fd >> BW_FDT_PAGE_SHIFT];
    bw_fdt_slot *page = atomic_load_explicit(where, memory_order_acquire);
    if (page)
        return page;
    /* mmap, not malloc: this can run inside malloc-sensitive hooks, and a
     * zeroed mapping is already a page of empty slots. */
    int saved = errno;
    void *m = mmap(NULL, BW_FDT_PAGE * sizeof(bw_fdt_slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    if (m == MAP_FAILED)
        return NULL;
    bw_fdt_slot *expected = NULL;
    if (!atomic_compare_exchange_strong(where, &expected, (bw_fdt_slot *)m)) {
        munmap(m, BW_FDT_PAGE * sizeof(bw_fdt_slot));   /* another thread won */
        errno = saved;
        return expected;
    }
    return (bw_fdt_slot *)m;
}

void *bw_fdt_set_mapping(int fd, void *rec)
{
    if ((unsigned)fd >= BW_FDT_MAX)
        return rec;
    bw_fdt_slot *page = page_for((unsigned)fd);
    if (!page)
        return rec;
    return atomic_exchange(&page[(unsigned)fd & (BW_FDT_PAGE - 1)], rec);
}

void bw_fdt_take_range(unsigned lo, unsigned hi, void (*fn)(int, void *, void *), void *ctx)
{
    if (hi >= BW_FDT_MAX)
        hi = BW_FDT_MAX - 1;
    for (unsigned p = lo >> BW_FDT_PAGE_SHIFT; lo <= hi && p <= hi >> BW_FDT_PAGE_SHIFT; p++) {
        bw_fdt_slot *page = atomic_load_explicit(&bw_fdt_pages[p], memory_order_acquire);
        if (!page)
            continue;
        unsigned first = p == lo >> BW_FDT_PAGE_SHIFT ? lo & (BW_FDT_PAGE - 1) : 0;
        unsigned last = p == hi >> BW_FDT_PAGE_SHIFT ? hi & (BW_FDT_PAGE - 1) : BW_FDT_PAGE - 1;
        for (unsigned i = first; i <= last; i++) {
            void *rec = atomic_exchange(&page[i], NULL);
            if (rec)
                fn((int)((p << BW_FDT_PAGE_SHIFT) | i), rec, ctx);
        }
    }
}

int bw_fdt_next(unsigned lo, unsigned hi)
{
    if (hi >= BW_FDT_MAX)
        hi = BW_FDT_MAX - 1;
    for (unsigned fd = lo; fd <= hi;) {
        bw_fdt_slot *page = atomic_load_explicit(&bw_fdt_pages[fd >> BW_FDT_PAGE_SHIFT],
                                                 memory_order_acquire);
        unsigned end = (fd | (BW_FDT_PAGE - 1)) < hi ? (fd | (BW_FDT_PAGE - 1)) : hi;
        for (; page && fd <= end; fd++)
            if (atomic_load_explicit(&page[fd & (BW_FDT_PAGE - 1)], memory_order_acquire))
                return (int)fd;
        fd = end + 1;
        if (fd == 0)
            break;   /* wrapped past UINT_MAX */
    }
    return -1;
}
