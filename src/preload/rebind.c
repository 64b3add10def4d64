/*
 * rebind.c - binds an object's references to the shim's hooks to the shim.
 *
 * An object loaded with RTLD_DEEPBIND (PHP loads its extensions that way)
 * looks its symbols up in its own dependencies before the global scope, so
 * its calls to connect, send, close, ... bind straight to libc and bypass
 * LD_PRELOAD. After such a dlopen we walk the objects it loaded and rewrite
 * every relocation (JUMP_SLOT, GLOB_DAT, absolute) that imports a name the
 * shim exports so that it points at the shim's definition: exactly what a
 * normal, global-scope binding would have chosen. The set of names is the
 * shim's own dynamic symbol table (every exported function is a hook), so a
 * hook added anywhere in src/preload is covered with no list to maintain.
 *
 * The object's own definitions stay its own (DEEPBIND's purpose), and GOT
 * pages under RELRO are made writable only while being patched.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rebind.h"

#if defined(__x86_64__)
#define R_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB R_X86_64_GLOB_DAT
#define R_ABS R_X86_64_64
#elif defined(__aarch64__)
#define R_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB R_AARCH64_GLOB_DAT
#define R_ABS R_AARCH64_ABS64
#else
#error "rebind.c: unsupported architecture"
#endif

#if __WORDSIZE == 64
#define BW_ELF(f) ELF64_##f
#else
#define BW_ELF(f) ELF32_##f
#endif

#define MAX_OBJECTS 1024   /* objects patched per dlopen; more are left alone */
#define MAX_SELF_SYMS 2048 /* the shim's dynamic symbols considered */

/* The parts of an object's dynamic section we read. */
struct dyn {
    ElfW(Addr) base;
    const ElfW(Sym) *sym;
    const char *str;
    const uint32_t *gnu_hash;
    const ElfW(Word) *sysv_hash;
    const ElfW(Rela) *rela, *jmprel;
    size_t relasz, jmprelsz;
};

/* glibc relocates d_ptr in place on most targets, not on all: accept both. */
static const void *dptr(ElfW(Addr) base, ElfW(Addr) p)
{
    return (const void *)(p < base ? p + base : p);
}

static void read_dyn(ElfW(Addr) base, const ElfW(Dyn) *d, struct dyn *out)
{
    memset(out, 0, sizeof *out);
    out->base = base;
    for (; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: out->sym = dptr(base, d->d_un.d_ptr); break;
        case DT_STRTAB: out->str = dptr(base, d->d_un.d_ptr); break;
        case DT_GNU_HASH: out->gnu_hash = dptr(base, d->d_un.d_ptr); break;
        case DT_HASH: out->sysv_hash = dptr(base, d->d_un.d_ptr); break;
        case DT_RELA: out->rela = dptr(base, d->d_un.d_ptr); break;
        case DT_RELASZ: out->relasz = d->d_un.d_val; break;
        case DT_JMPREL: out->jmprel = dptr(base, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: out->jmprelsz = d->d_un.d_val; break;
        default: break;
        }
    }
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static unsigned long sysv_hash(const char *s)
{
    unsigned long h = 0, g;
    for (; *s; s++) {
        h = (h << 4) + (unsigned char)*s;
        g = h & 0xf0000000;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

/* The symbol named name in d's hash table, or NULL. */
static const ElfW(Sym) *lookup(const struct dyn *d, const char *name)
{
    if (d->gnu_hash) {
        const uint32_t *h = d->gnu_hash;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
        const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(h + 4) + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t hash = gnu_hash(name);
        uint32_t i = buckets[hash % nbuckets];
        if (i < symoffset)
            return NULL;
        for (;; i++) {
            uint32_t h2 = chain[i - symoffset];
            if ((h2 | 1) == (hash | 1) && strcmp(name, d->str + d->sym[i].st_name) == 0)
                return &d->sym[i];
            if (h2 & 1)
                return NULL;
        }
    }
    if (d->sysv_hash) {
        const ElfW(Word) *h = d->sysv_hash;
        ElfW(Word) nbucket = h[0];
        const ElfW(Word) *bucket = h + 2, *chain = bucket + nbucket;
        for (ElfW(Word) i = bucket[sysv_hash(name) % nbucket]; i != STN_UNDEF; i = chain[i])
            if (strcmp(name, d->str + d->sym[i].st_name) == 0)
                return &d->sym[i];
    }
    return NULL;
}

static struct dyn self;            /* the shim's own dynamic section */
static const ElfW(Dyn) *self_ld;
static size_t self_nsyms;          /* entries of its symbol table */

/* The number of entries of d's dynamic symbol table, from its hash table. */
static size_t count_syms(const struct dyn *d)
{
    if (d->sysv_hash)
        return d->sysv_hash[1];
    const uint32_t *h = d->gnu_hash;
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], last = 0;
    const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(h + 4) + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    for (uint32_t b = 0; b < nbuckets; b++)
        if (buckets[b] > last)
            last = buckets[b];
    if (last < symoffset)
        return symoffset;
    while (!(chain[last - symoffset] & 1))
        last++;
    return last + 1;
}

/* Finds the shim's own object once. Returns 0, or -1 when it cannot be read. */
static int load_self(void)
{
    if (self_ld)
        return 0;
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)load_self, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return -1;
    read_dyn(lm->l_addr, lm->l_ld, &self);
    if (!self.sym || !self.str || (!self.gnu_hash && !self.sysv_hash))
        return -1;
    self_nsyms = count_syms(&self);
    if (self_nsyms > MAX_SELF_SYMS)
        self_nsyms = MAX_SELF_SYMS;
    self_ld = lm->l_ld;
    return 0;
}

/* True when sym is one of the shim's hooks: a function it defines and exports. */
static bool is_hook(const ElfW(Sym) *sym)
{
    return sym->st_shndx != SHN_UNDEF && BW_ELF(ST_TYPE)(sym->st_info) == STT_FUNC &&
           BW_ELF(ST_VISIBILITY)(sym->st_other) == STV_DEFAULT;
}

/*
 * Marks in fwd the hooks whose real function the shim finds in the global
 * scope (dlsym RTLD_NEXT). A hook of a function that only a local scope
 * holds (a libssl that came in with the DEEPBIND library alone) could not
 * forward the call: such names are left bound as they are. Runs before the
 * walk, because dlsym must not be called under the loader's lock.
 */
static void find_forwardable(bool *fwd)
{
    for (size_t i = 1; i < self_nsyms; i++)
        fwd[i] = is_hook(&self.sym[i]) && dlsym(RTLD_NEXT, self.str + self.sym[i].st_name) != NULL;
}

/* The shim's definition of the function name, or 0 when it does not hook it
 * or could not forward it (fwd, from find_forwardable). */
static ElfW(Addr) hook_for(const char *name, const bool *fwd)
{
    const ElfW(Sym) *s = lookup(&self, name);
    size_t i = s ? (size_t)(s - self.sym) : 0;
    if (!s || i >= self_nsyms || !fwd[i])
        return 0;
    return self.base + s->st_value;
}

/* The object's RELRO range, made writable on first need and restored after. */
struct relro {
    uintptr_t lo, hi;
    int opened;
};

static int make_writable(struct relro *r, uintptr_t where)
{
    if (where < r->lo || where >= r->hi || r->opened)
        return 0;
    if (mprotect((void *)r->lo, r->hi - r->lo, PROT_READ | PROT_WRITE) != 0)
        return -1;
    r->opened = 1;
    return 0;
}

/* Rewrites the imports of hooked names in n relocations. Returns how many. */
static int patch_relocs(const struct dyn *d, const ElfW(Rela) *rel, size_t n, struct relro *r,
                        const bool *fwd)
{
    int patched = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned type = BW_ELF(R_TYPE)(rel[i].r_info);
        size_t si = BW_ELF(R_SYM)(rel[i].r_info);
        if (si == 0 || (type != R_SLOT && type != R_GLOB && type != R_ABS))
            continue;
        const ElfW(Sym) *s = &d->sym[si];
        if (s->st_shndx != SHN_UNDEF)
            continue;   /* the object's own definition: DEEPBIND keeps it */
        ElfW(Addr) hook = hook_for(d->str + s->st_name, fwd);
        if (!hook)
            continue;
        ElfW(Addr) want = hook + (type == R_ABS ? (ElfW(Addr))rel[i].r_addend : 0);
        ElfW(Addr) *where = (ElfW(Addr) *)(d->base + rel[i].r_offset);
        if (*where == want || make_writable(r, (uintptr_t)where) != 0)
            continue;
        __atomic_store_n(where, want, __ATOMIC_RELEASE);
        patched++;
    }
    return patched;
}

/* Patches one loaded object; returns the number of references rebound. */
static int patch_object(const struct dl_phdr_info *info, const bool *fwd)
{
    const ElfW(Dyn) *ld = NULL;
    struct relro r = {0, 0, 0};
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_DYNAMIC)
            ld = (const ElfW(Dyn) *)(info->dlpi_addr + p->p_vaddr);
        if (p->p_type == PT_GNU_RELRO) {
            r.lo = (info->dlpi_addr + p->p_vaddr) & ~(uintptr_t)(page - 1);
            r.hi = (info->dlpi_addr + p->p_vaddr + p->p_memsz + page - 1) & ~(uintptr_t)(page - 1);
        }
    }
    if (!ld || ld == self_ld)
        return 0;
    struct dyn d;
    read_dyn(info->dlpi_addr, ld, &d);
    if (!d.sym || !d.str)
        return 0;
    int n = patch_relocs(&d, d.rela, d.relasz / sizeof(ElfW(Rela)), &r, fwd) +
            patch_relocs(&d, d.jmprel, d.jmprelsz / sizeof(ElfW(Rela)), &r, fwd);
    if (r.opened)
        mprotect((void *)r.lo, r.hi - r.lo, PROT_READ);
    return n;
}

/* What one walk collects: the dynamic sections of the objects to patch. */
struct walk {
    struct link_map *first;
    const ElfW(Dyn) *lds[MAX_OBJECTS];
    int n_lds, started;
    bool fwd[MAX_SELF_SYMS];
    bw_rebind_result res;
};

/*
 * dl_iterate_phdr holds the loader's lock around its callbacks, so the link
 * map chain cannot change under us: the first call collects the objects from
 * the opened one to the end of its namespace's chain (one dlopen appends what
 * it loads there), every call patches its object when it is one of them.
 */
static int visit(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct walk *w = ctx;
    if (!w->started) {
        w->started = 1;
        for (struct link_map *m = w->first; m && w->n_lds < MAX_OBJECTS; m = m->l_next)
            w->lds[w->n_lds++] = m->l_ld;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn) *ld = (const ElfW(Dyn) *)(info->dlpi_addr + p->p_vaddr);
        for (int j = 0; j < w->n_lds; j++) {
            if (w->lds[j] != ld)
                continue;
            int n = patch_object(info, w->fwd);
            w->res.objects += n > 0;
            w->res.references += n;
            break;
        }
    }
    return 0;
}

int bw_rebind_after_dlopen(void *handle, bw_rebind_result *res)
{
    int saved = errno;
    struct walk walk = {0}, *w = &walk;
    memset(res, 0, sizeof *res);
    if (load_self() != 0 || dlinfo(handle, RTLD_DI_LINKMAP, &w->first) != 0 || !w->first) {
        errno = saved;
        return -1;
    }
    find_forwardable(w->fwd);
    dl_iterate_phdr(visit, w);
    *res = w->res;
    errno = saved;
    return 0;
}
