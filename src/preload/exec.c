/*
 * exec.c - the exec family. A slot belongs to the socket, and exec closes
 * every descriptor marked close-on-exec: a connection all of whose
 * descriptors are so marked ends with the old image, and nothing in the
 * new one would give its slot back (the process, and so the slot's owner,
 * stays the same). Its slot therefore goes back just before the real exec,
 * and is taken again if the exec fails (the program still holds the
 * socket, so it is counted even past the limit).
 *
 * Descriptors the new image inherits keep their slots (the new image's
 * shim does not know them: those slots come back when the process exits).
 * In a vfork child nothing is touched: its descriptors are its own copies
 * and the records are the parent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "guard.h"
#include "shim.h"

#define EXEC_MAX 256   /* close-on-exec connections handled; more keep their slots */

struct exec_plan {
    int n;                        /* tracked close-on-exec descriptors taken out */
    int fds[EXEC_MAX];
    bw_conn *recs[EXEC_MAX];
    bool released[EXEC_MAX];      /* recs[i]'s slot given back (first copy only) */
};

/* How many of the first n entries of p refer to c. */
static int copies(const struct exec_plan *p, int n, const bw_conn *c)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += p->recs[i] == c;
    return k;
}

/* Takes the tracked close-on-exec descriptors out of the table and gives
 * back the slots of connections that have no other descriptor. */
static void before_exec(struct exec_plan *p)
{
    p->n = 0;
    for (int fd = bw_fdt_next(0, ~0U); fd >= 0 && p->n < EXEC_MAX;
         fd = bw_fdt_next((unsigned)fd + 1, ~0U)) {
        int fl = bw_real.fcntl(fd, F_GETFD);
        if (fl < 0 || !(fl & FD_CLOEXEC))
            continue;
        bw_conn *c = bw_fdt_take(fd);
        if (!c)
            continue;
        p->fds[p->n] = fd;
        p->recs[p->n] = c;
        p->released[p->n++] = false;
    }
    for (int i = 0; i < p->n; i++) {
        bw_conn *c = p->recs[i];
        /* refs counts descriptors (and writes in flight): all of them close. */
        if (copies(p, i, c) == 0 && copies(p, p->n, c) == atomic_load(&c->refs) &&
            c->holds_slot) {
            bw_conn_release_slot(c);
            p->released[i] = true;
        }
    }
}

/* The exec failed: the descriptors are still open; all goes back as it was. */
static void after_failed_exec(struct exec_plan *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->released[i])
            bw_guard_bulkhead_retake(p->recs[i]);
        bw_conn *old = bw_fdt_set(p->fds[i], p->recs[i]);
        if (old && old != p->recs[i])
            bw_conn_unref(old);
    }
}

/* Runs exec (a call of one of the real exec functions) between the two. */
#define EXEC_WITH_PLAN(call)                         \
    do {                                             \
        bw_sndtimeo_settle_all();                    \
        if (!bw_enter())                             \
            return call;                             \
        struct exec_plan plan;                       \
        before_exec(&plan);                          \
        int ret_ = call;                             \
        int err_ = errno;                            \
        after_failed_exec(&plan);                    \
        bw_leave();                                  \
        errno = err_;                                \
        return ret_;                                 \
    } while (0)

BW_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    EXEC_WITH_PLAN(bw_real.execve(path, argv, envp));
}

BW_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    EXEC_WITH_PLAN(bw_real.execvpe(file, argv, envp));
}

BW_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    EXEC_WITH_PLAN(bw_real.fexecve(fd, argv, envp));
}

/* posix_spawn's child (glibc's internal clone and exec; system's and popen's
 * too) passes no hook: the new program may inherit a socket, so a lent
 * SO_SNDTIMEO goes back first. */
BW_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    bw_sndtimeo_settle_all();
    return bw_real.posix_spawn(pid, path, fa, attr, argv, envp);
}

BW_EXPORT int system(const char *cmd)
{
    bw_sndtimeo_settle_all();
    return bw_real.system(cmd);
}

BW_EXPORT FILE *popen(const char *cmd, const char *type)
{
    bw_sndtimeo_settle_all();
    return bw_real.popen(cmd, type);
}

BW_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    bw_sndtimeo_settle_all();
    return bw_real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* glibc's execv, execvp and execl* call its internal execve, which no hook
 * sees: they are rebuilt on the two above. */
BW_EXPORT int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

BW_EXPORT int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

/* Collects execl's variadic list (after arg0) into argv; *envp gets the
 * pointer after the terminating NULL when want_env. Returns argc. */
#define COLLECT_ARGS(arg0, argv, envp, want_env)                       \
    size_t argc_ = 1;                                                  \
    va_list ap_;                                                       \
    va_start(ap_, arg0);                                               \
    while (va_arg(ap_, char *))                                        \
        argc_++;                                                       \
    va_end(ap_);                                                       \
    char *argv[argc_ + 1];                                             \
    char *const *envp = environ;                                       \
    argv[0] = (char *)(arg0);                                          \
    va_start(ap_, arg0);                                               \
    for (size_t i_ = 1; i_ <= argc_; i_++)                             \
        argv[i_] = va_arg(ap_, char *);                                \
    if (want_env)                                                      \
        envp = va_arg(ap_, char *const *);                             \
    va_end(ap_)

BW_EXPORT int execl(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, envp, false);
    return execve(path, argv, envp);
}

BW_EXPORT int execle(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, envp, true);
    return execve(path, argv, envp);
}

BW_EXPORT int execlp(const char *file, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, envp, false);
    return execvpe(file, argv, envp);
}
