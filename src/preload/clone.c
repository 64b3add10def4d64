/*
 * clone.c - clone() called by the program itself with CLONE_VM: a child
 * that runs on its parent's memory, as a vfork child does (vfork.c), and
 * must likewise touch nothing the shim shares until it execs or exits: its
 * close()s would release the parent's records and slots.
 *
 * With CLONE_VFORK (and without CLONE_SETTLS) the child runs on the TLS
 * block of the thread that called clone, which the kernel keeps suspended
 * until the child execs or exits: the child's first act, before the
 * program's function, is to set bw_vfork_child there, and the parent puts
 * it back as it was when clone returns. The child's start and function are
 * kept on the child's own stack (as glibc's clone does), not on the
 * parent's frame.
 *
 * Without CLONE_VFORK the child and the calling thread would run at once
 * on one TLS block, so the flag would stop the parent too: such a child
 * (and one with a TLS block of its own, CLONE_SETTLS) is passed through as
 * it is. glibc's posix_spawn calls its internal clone, which no hook sees.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "shim.h"

typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);

/* What the child runs, kept just under its stack's top. */
struct child_start {
    int (*fn)(void *);
    void *arg;
};

/* The child's entry: it is a vfork child from its first instruction on. */
static int child_entry(void *p)
{
    struct child_start *s = p;
    bw_vfork_child = true;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return s->fn(s->arg);
}

/*
 * clone() of the program: a CLONE_VM | CLONE_VFORK child (not a thread, no
 * TLS of its own) starts as a vfork child; every other clone is the real
 * call as it is. The optional arguments (parent_tid, tls, child_tid) are
 * passed on as they came, as glibc reads them.
 */
BW_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    pid_t *ptid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *ctid = va_arg(ap, pid_t *);
    va_end(ap);
    clone_fn real = bw_real.clone;
    if (!(flags & CLONE_THREAD))
        bw_sndtimeo_settle_all();   /* a process: it may come to share a socket */
    if ((flags & (CLONE_VM | CLONE_VFORK | CLONE_THREAD | CLONE_SETTLS)) !=
            (CLONE_VM | CLONE_VFORK) || !fn || !stack)
        return real(fn, stack, flags, arg, ptid, tls, ctid);
    /* The stack grows down: the start goes just under its top, 16-aligned. */
    uintptr_t top = ((uintptr_t)stack - sizeof(struct child_start)) & ~(uintptr_t)15;
    struct child_start *s = (struct child_start *)top;
    s->fn = fn;
    s->arg = arg;
    bool was = bw_vfork_child;
    int ret = real(child_entry, s, flags, s, ptid, tls, ctid);
    int err = errno;
    bw_vfork_child = was;   /* the child has exec'd or exited: the flag is ours again */
    errno = err;
    return ret;
}
