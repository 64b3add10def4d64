/* raw.c - system calls by number, with inline assembly (see bw_sys.h):
 * syscall(2) itself would land in the shim's own syscall() hook. */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bw_sys.h"

long bw_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    ret = x0;
#else
#error "bw_raw_syscall: unsupported architecture"
#endif
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

ssize_t bw_sys_read_small(const char *path, char *buf, size_t len)
{
    int saved = errno;
    int fd = (int)bw_raw_syscall(SYS_openat, AT_FDCWD, (long)path,
                                 O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0, 0, 0);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = bw_raw_syscall(SYS_read, fd, (long)buf, (long)(len - 1), 0, 0, 0);
    while (n < 0 && errno == EINTR);
    int err = errno;
    bw_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    if (n < 0) {
        errno = err;
        return -1;
    }
    buf[n] = '\0';
    errno = saved;
    return n;
}

int32_t bw_sys_getpid(void)
{
    return (int32_t)bw_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

bool bw_sys_random(void *buf, size_t len)
{
    /* GRND_NONBLOCK: at early boot, with no entropy yet, the caller falls back. */
    return bw_raw_syscall(SYS_getrandom, (long)buf, (long)len, GRND_NONBLOCK, 0, 0, 0) == (long)len;
}

int bw_sys_probe_pid(int32_t pid)
{
    return (int)bw_raw_syscall(SYS_kill, pid, 0, 0, 0, 0, 0);
}

void bw_sys_clock(clockid_t clock, struct timespec *ts)
{
    clock_gettime(clock, ts);
}
