/* proc.c - process identity for slot owners, read from /proc (see bw_proc.h). */
#include <errno.h>
#include <stdio.h>

#include "bw_proc.h"
#include "bw_sys.h"

uint64_t bw_proc_start_time(int32_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int saved = errno;
    ssize_t n = bw_sys_read_small(path, buf, sizeof buf);
    errno = saved;
    return n > 0 ? bw_proc_parse_start_time(buf) : 0;
}

bool bw_proc_alive(int32_t pid, uint64_t start, void *ctx)
{
    (void)ctx;
    if (pid <= 0)
        return false;
    int saved = errno;
    bool gone = bw_sys_probe_pid(pid) != 0 && errno == ESRCH;
    errno = saved;
    if (gone)
        return false;
    uint64_t s = bw_proc_start_time(pid);
    return s == 0 || start == 0 || s == start;
}
