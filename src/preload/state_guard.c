/*
 * state_guard.c - a shared state file shrunk under the program never kills it.
 *
 * The shim keeps no descriptor open (SPEC §7), so it cannot fstat the file
 * before each use; and any check of the size is stale by the time the next
 * store lands (the file may be truncated between the two). A SIGBUS is the
 * one reliable signal: a store or load into a page of the mapping that lies
 * beyond the file's end raises it. So, while a shared file is mapped, a
 * SIGBUS handler is installed; a fault inside the mapping is repaired by
 * mapping a private zero page over the faulting page (the faulting
 * instruction then completes on it) and noted, and the shim switches to
 * process state at its next look at the state (state_map.c). One page at a
 * time: a page another thread already repaired and wrote to is never
 * wiped by a later fault elsewhere. A SIGBUS anywhere else is the
 * program's: it goes to the handler the program had, or kills as it would
 * have without the shim.
 *
 * Limits: a program that installs its own SIGBUS handler after the shim's
 * replaces it (its handler then sees such faults, as without the shim).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static _Atomic uintptr_t guard_lo, guard_hi;   /* the mapping: [lo, hi) */
static _Atomic int tripped;
static uintptr_t page_size;
static struct sigaction previous;              /* the program's SIGBUS action */

/* Hands a SIGBUS that is not ours to what the program had installed. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    bool sent = si->si_code <= 0;   /* by kill() and friends, not by a fault */
    bool ignored = !(previous.sa_flags & SA_SIGINFO) && previous.sa_handler == SIG_IGN;
    if (sent && ignored)
        return;                     /* as the program asked */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    if (previous.sa_flags & SA_RESETHAND)
        sigaction(SIGBUS, &dfl, NULL);   /* what the kernel would have done for it */
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (!(previous.sa_flags & SA_SIGINFO) && !ignored && previous.sa_handler != SIG_DFL) {
        previous.sa_handler(sig);
        return;
    }
    /* Default (or ignored, which the kernel does not honour for a fault):
     * restore it; a fault then recurs on return and kills as without us, a
     * signal sent by kill() is sent again and does the same. */
    sigaction(SIGBUS, &dfl, NULL);
    if (sent)
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    uintptr_t lo = atomic_load(&guard_lo), hi = atomic_load(&guard_hi);
    if (si->si_code > 0 && a >= lo && a < hi) {
        uintptr_t page = a & ~(page_size - 1);
        void *r = (void *)syscall(SYS_mmap, page, page_size, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (r != MAP_FAILED) {
            atomic_store(&tripped, 1);
            return;   /* the access is retried on the zero pages */
        }
    }
    chain(sig, si, uc);
}

int bw_state_guard_install(void *base, size_t size)
{
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    atomic_store(&guard_lo, (uintptr_t)base);
    atomic_store(&guard_hi, (uintptr_t)base + size);
    /* SA_ONSTACK: on the program's alternate stack, if it has one. */
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &previous);
}

bool bw_state_guard_tripped(void)
{
    return atomic_load_explicit(&tripped, memory_order_relaxed) != 0;
}
