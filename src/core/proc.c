/* proc.c - process identity for slot owners (see bw_proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bw_proc.h"

uint64_t bw_proc_start_time(int32_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    errno = saved;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   /* the command name may hold spaces and ')' */
    unsigned long long v = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu", &v) != 1)
        return 0;
    return v;
}

bool bw_proc_alive(int32_t pid, uint64_t start, void *ctx)
{
    (void)ctx;
    if (pid <= 0)
        return false;
    int saved = errno;
    bool gone = kill(pid, 0) != 0 && errno == ESRCH;
    errno = saved;
    if (gone)
        return false;
    uint64_t s = bw_proc_start_time(pid);
    return s == 0 || start == 0 || s == start;
}
