/*
 * signals.c - which of the program's signal handlers restart system calls.
 *
 * The kernel restarts a blocking connect() interrupted by a handler
 * installed with SA_RESTART, but not one bounded by a send timeout: the
 * timeout that bounds a blocking attempt (attempt.c) would turn every such
 * signal into EINTR, which the program never sees without the shim (SPEC
 * section 6). The shim cannot learn which signal interrupted it, so it keeps
 * the set of signals whose handler lacks SA_RESTART: while that set is empty,
 * any interruption was a restartable one (or a stop and continue, which the
 * kernel restarts too) and the shim goes on waiting; otherwise it returns
 * EINTR, as the kernel does for a handler without SA_RESTART.
 *
 * Fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) stay out
 * of that set: the kernel raises them on the faulting instruction of the
 * thread itself, never while it sleeps in a system call, so their handlers
 * interrupt no wait. Crash handlers are installed without SA_RESTART as a
 * rule: sanitizer runtimes (ASan's and TSan's SIGSEGV, SIGBUS and SIGFPE,
 * through the preloaded sigaction), Python's faulthandler, crash reporters.
 * Counted, one of them would turn every SA_RESTART interruption of a bounded
 * connect into EINTR for the program, and the connect, closed before it
 * completed, into a breaker failure. The one difference left: such a signal
 * sent from elsewhere (kill()) does not cut the shim's wait short where the
 * kernel would have (the wait's own limit still ends it).
 *
 * The installers are observed only: each call goes to libc unchanged, then
 * the handler now in force is read back from the kernel's view.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "shim.h"

typedef void (*bw_handler)(int);

static _Atomic uint64_t no_restart;   /* bit s-1: signal s has a handler without SA_RESTART */

/* glibc's own entry point, called directly: no dlsym, which a sanitizer
 * runtime calling sigaction while it starts (before us in the preload list)
 * must not meet. */
extern int __sigaction(int, const struct sigaction *, struct sigaction *);

static int next_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
    return __sigaction(sig, sa, old);
}

/* True for a signal the kernel raises for a fault of the thread's own
 * instruction (above): its handler never interrupts a system call. */
static bool is_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
           sig == SIGTRAP || sig == SIGSYS;
}

/* Reads sig's disposition back and notes whether its handler restarts calls. */
static void note(int sig)
{
    if (sig < 1 || sig > 64 || is_fault(sig))
        return;
    int saved = errno;
    struct sigaction cur;
    if (next_sigaction(sig, NULL, &cur) == 0) {
        bool handler = cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN;
        uint64_t bit = 1ULL << (sig - 1);
        if (handler && !(cur.sa_flags & SA_RESTART))
            atomic_fetch_or(&no_restart, bit);
        else
            atomic_fetch_and(&no_restart, ~bit);
    }
    errno = saved;
}

bool bw_signals_restart(void)
{
    return atomic_load_explicit(&no_restart, memory_order_relaxed) == 0;
}

BW_EXPORT int sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
    int ret = next_sigaction(sig, sa, old);
    if (ret == 0 && sa)
        note(sig);
    return ret;
}

/* signal() and its relatives install through libc's internal sigaction, which
 * no hook sees: each is passed on, then read back. */
#define OBSERVED_INSTALLER(name)                                   \
    BW_EXPORT bw_handler name(int sig, bw_handler h)               \
    {                                                              \
        static bw_handler (*next)(int, bw_handler);                \
        if (!next)                                                 \
            next = (bw_handler(*)(int, bw_handler))dlsym(RTLD_NEXT, #name); \
        if (!next) {                                               \
            errno = ENOSYS;                                        \
            return SIG_ERR;                                        \
        }                                                          \
        bw_handler ret = next(sig, h);                             \
        if (ret != SIG_ERR)                                        \
            note(sig);                                             \
        return ret;                                                \
    }

OBSERVED_INSTALLER(signal)
OBSERVED_INSTALLER(bsd_signal)
OBSERVED_INSTALLER(sysv_signal)
OBSERVED_INSTALLER(__sysv_signal)
OBSERVED_INSTALLER(sigset)
