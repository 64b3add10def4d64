/*
 * dlopen.c - the dlopen and dlmopen hooks: objects loaded with RTLD_DEEPBIND
 * are bound to the shim too (rebind.c does the binding).
 *
 * glibc's dlopen looks at its return address to find the calling object: a
 * relative name is searched in the caller's RPATH/RUNPATH and the namespace
 * is the caller's. A C wrapper would make the shim the caller. So the entry
 * points are a few instructions of assembly that jump, stack untouched, to
 * the real function for every call without RTLD_DEEPBIND (and for dlmopen
 * into another namespace, where the shim is not loaded and cannot be bound:
 * that namespace has a libc of its own). Only a DEEPBIND open of the base
 * namespace reaches C, which searches a bare name in the caller's own path
 * first, so the object found is the one the caller would have got.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bw_log.h"
#include "rebind.h"
#include "shim.h"

#define BW_STR2(x) #x
#define BW_STR(x) BW_STR2(x)

/* The real functions; read by the assembly entry points, 0 until resolved. */
void *(*bw_dlopen_next)(const char *, int);
void *(*bw_dlmopen_next)(Lmid_t, const char *, int);

void *bw_dlopen_deep(const char *file, int mode);
void *bw_dlmopen_deep(Lmid_t lmid, const char *file, int mode);

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl dlopen\n.type dlopen,@function\n"
        "dlopen:\n"
        "  testl $" BW_STR(RTLD_DEEPBIND) ", %esi\n"
        "  jnz bw_dlopen_deep\n"
        "  movq bw_dlopen_next(%rip), %rax\n"
        "  testq %rax, %rax\n"
        "  jz bw_dlopen_deep\n"
        "  jmp *%rax\n"
        ".size dlopen, .-dlopen\n"
        ".globl dlmopen\n.type dlmopen,@function\n"
        "dlmopen:\n"
        "  testq %rdi, %rdi\n"                     /* LM_ID_BASE is 0 */
        "  jnz 1f\n"
        "  testl $" BW_STR(RTLD_DEEPBIND) ", %edx\n"
        "  jnz bw_dlmopen_deep\n"
        "1:movq bw_dlmopen_next(%rip), %rax\n"
        "  testq %rax, %rax\n"
        "  jz bw_dlmopen_deep\n"
        "  jmp *%rax\n"
        ".size dlmopen, .-dlmopen\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl dlopen\n.type dlopen,%function\n"
        "dlopen:\n"
        "  tbnz w1, #3, bw_dlopen_deep\n"          /* RTLD_DEEPBIND is 8: bit 3 */
        "  adrp x16, bw_dlopen_next\n"
        "  ldr x16, [x16, #:lo12:bw_dlopen_next]\n"
        "  cbz x16, bw_dlopen_deep\n"
        "  br x16\n"
        ".size dlopen, .-dlopen\n"
        ".globl dlmopen\n.type dlmopen,%function\n"
        "dlmopen:\n"
        "  cbnz x0, 1f\n"
        "  tbnz w2, #3, bw_dlmopen_deep\n"
        "1:adrp x16, bw_dlmopen_next\n"
        "  ldr x16, [x16, #:lo12:bw_dlmopen_next]\n"
        "  cbz x16, bw_dlmopen_deep\n"
        "  br x16\n"
        ".size dlmopen, .-dlmopen\n");
#else
#error "dlopen.c: unsupported architecture"
#endif

static void resolve(void)
{
    if (!__atomic_load_n(&bw_dlopen_next, __ATOMIC_ACQUIRE))
        __atomic_store_n(&bw_dlopen_next, dlsym(RTLD_NEXT, "dlopen"), __ATOMIC_RELEASE);
    if (!__atomic_load_n(&bw_dlmopen_next, __ATOMIC_ACQUIRE))
        __atomic_store_n(&bw_dlmopen_next, dlsym(RTLD_NEXT, "dlmopen"), __ATOMIC_RELEASE);
}

/* Resolved before main, so that the entry points rarely take the slow path. */
__attribute__((constructor)) static void dlopen_constructor(void)
{
    resolve();
}

/* A search list as dlinfo(RTLD_DI_SERINFO) gives it. */
union serinfo {
    Dl_serinfo si;
    char bytes[4096];   /* a longer list is not searched: the name is used as given */
};

/* The search list of the object containing addr. Returns 0, or -1. */
static int search_list(const void *addr, union serinfo *u)
{
    Dl_info info;
    struct link_map *lm = NULL;
    Dl_serinfo size;
    if (!dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm ||
        dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) != 0 || size.dls_size > sizeof *u)
        return -1;
    u->si.dls_size = size.dls_size;
    u->si.dls_cnt = size.dls_cnt;
    return dlinfo(lm, RTLD_DI_SERINFO, &u->si);
}

/*
 * The path a bare file name would be found at when the object containing
 * caller dlopens it. Its search list (RPATH, LD_LIBRARY_PATH, RUNPATH, then
 * the system directories) is searched up to where it ends like the shim's
 * own list: that common tail, with the ld.so cache before it (which no
 * list shows), the real dlopen searches the same way from anywhere. Returns
 * file itself when it has a slash or is not found there.
 */
static const char *for_caller(const char *file, const void *caller, char *buf, size_t len)
{
    union serinfo mine, theirs;
    const char *found = file;
    if (!file || strchr(file, '/'))
        return file;
    if (search_list(caller, &theirs) == 0 && search_list((const void *)for_caller, &mine) == 0) {
        unsigned n = theirs.si.dls_cnt, m = mine.si.dls_cnt;
        while (n > 0 && m > 0 && strcmp(theirs.si.dls_serpath[n - 1].dls_name,
                                        mine.si.dls_serpath[m - 1].dls_name) == 0)
            n--, m--;
        for (unsigned i = 0; i < n && found == file; i++) {
            int k = snprintf(buf, len, "%s/%s", theirs.si.dls_serpath[i].dls_name, file);
            if (k > 0 && (size_t)k < len && access(buf, F_OK) == 0)
                found = buf;
        }
    }
    return found;
}

/* Binds what the open of name loaded to the shim, and says so. */
static void cover(void *handle, const char *name)
{
    bw_rebind_result r;
    bw_shim_init();
    if (bw_rebind_after_dlopen(handle, &r) != 0)
        bw_log(BW_LOG_WARN, "%s was loaded with RTLD_DEEPBIND and cannot be bound to "
               "breakwater: its connections are not covered", name ? name : "(main program)");
    else
        bw_log(BW_LOG_DEBUG, "%s loaded with RTLD_DEEPBIND: %d references in %d objects bound "
               "to breakwater", name ? name : "(main program)", r.references, r.objects);
}

/* A DEEPBIND open of the base namespace, as the calling object would do it. */
static void *open_deep(Lmid_t lmid, const char *file, int mode, const void *caller)
{
    void *h;
    if (file && !strchr(file, '/')) {
        /* Already loaded under that name: the name wins over any search. */
        h = lmid == LM_ID_BASE ? bw_dlopen_next(file, mode | RTLD_NOLOAD)
                               : bw_dlmopen_next(lmid, file, mode | RTLD_NOLOAD);
        if (h) {
            cover(h, file);
            return h;
        }
    }
    char buf[PATH_MAX];
    const char *path = for_caller(file, caller, buf, sizeof buf);
    h = lmid == LM_ID_BASE ? bw_dlopen_next(path, mode) : bw_dlmopen_next(lmid, path, mode);
    if (h)
        cover(h, file);
    return h;
}

/*
 * Reached from the dlopen entry point for RTLD_DEEPBIND, or before the real
 * function was resolved; the return address is still the program's caller.
 */
void *bw_dlopen_deep(const char *file, int mode)
{
    const void *caller = __builtin_return_address(0);
    resolve();
    if (!bw_dlopen_next)
        return NULL;
    if (!(mode & RTLD_DEEPBIND))
        return bw_dlopen_next(file, mode);
    return open_deep(LM_ID_BASE, file, mode, caller);
}

/* As bw_dlopen_deep, for dlmopen(LM_ID_BASE, ..., RTLD_DEEPBIND). */
void *bw_dlmopen_deep(Lmid_t lmid, const char *file, int mode)
{
    const void *caller = __builtin_return_address(0);
    resolve();
    if (!bw_dlmopen_next)
        return NULL;
    if (lmid != LM_ID_BASE || !(mode & RTLD_DEEPBIND))
        return bw_dlmopen_next(lmid, file, mode);
    return open_deep(lmid, file, mode, caller);
}
