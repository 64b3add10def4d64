/*
 * vfork.c - the vfork() hook: the child runs on its parent's memory and
 * stack until it execs or exits, so the shim must not touch anything there
 * (reentry.c): the child's close()s would otherwise release the parent's
 * records, slots and epoll facts. Python's subprocess does exactly this
 * (vfork, then close_range(3, ~0) in the child).
 *
 * Written in assembly, as glibc's own: a C wrapper's frame would be popped
 * by the child's return and then overwritten while the parent still needs
 * its return address. The return address waits in a register (each process
 * has its own) across the system call. The child sets the thread-local flag
 * bw_vfork_child; it lives in the TLS block of the thread that called vfork,
 * which stays suspended meanwhile, so no other thread of the parent sees
 * it, and the parent clears it when it resumes.
 *
 * posix_spawn() needs nothing here: glibc's child (clone with CLONE_VM)
 * makes only internal calls that no hook sees, up to the exec.
 */
#include <errno.h>
#include <unistd.h>

#include "shim.h"

/* The error path of the assembly: errno, -1. */
__attribute__((used, visibility("hidden"))) int bw_vfork_failed(int err)
{
    errno = err;
    return -1;
}

#if defined(__x86_64__)
__asm__(
    "    .text\n"
    "    .globl vfork\n"
    "    .type vfork, @function\n"
    "vfork:\n"
    "    subq $8, %rsp\n"                          /* the parent, before: aligned for a call */
    "    call bw_sndtimeo_settle_all\n"            /* no SO_SNDTIMEO stays lent (shim.h) */
    "    addq $8, %rsp\n"
    "    popq %rdi\n"                              /* return address, off the shared stack */
    "    movl $58, %eax\n"                         /* SYS_vfork */
    "    syscall\n"
    "    pushq %rdi\n"
    "    movq bw_vfork_child@gottpoff(%rip), %rcx\n"
    "    cmpq $-4095, %rax\n"
    "    jae 2f\n"
    "    testq %rax, %rax\n"
    "    jnz 1f\n"
    "    movb $1, %fs:(%rcx)\n"                    /* the child */
    "    ret\n"
    "1:  movb $0, %fs:(%rcx)\n"                    /* the parent, resumed */
    "    ret\n"
    "2:  negl %eax\n"
    "    movl %eax, %edi\n"
    "    jmp bw_vfork_failed\n"
    "    .size vfork, .-vfork\n");
#else
/* Elsewhere a plain fork(): a valid vfork (the child may do no less), and
 * its child has memory of its own, which fork.c's handlers keep right. */
BW_EXPORT pid_t vfork(void)
{
    return fork();
}
#endif
