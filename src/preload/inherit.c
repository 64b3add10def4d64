/*
 * inherit.c - connections that survive an exec.
 *
 * A slot belongs to the socket: one the old image left open (no
 * close-on-exec; exec.c gave back the others) still holds its slot, owned
 * by this process (pid and start time do not change at exec). The new
 * image's shim adopts them at start-up: every connected TCP socket it
 * finds among its descriptors is tracked again, and takes over one slot
 * this process already holds in its bulkhead, as many as there are. A
 * process that did not come from an exec owns no slot yet, so nothing is
 * tracked or created in one (a socket inherited from a program without the
 * shim, or accepted by inetd, stays untracked, as before). Slots the
 * process holds beyond what it adopted belonged to sockets that did not
 * survive, and go back. Costs one /proc/self/fd listing at start-up, and
 * a look through the state only when connected sockets are found.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bw_proc.h"
#include "bw_sys.h"
#include "guard.h"
#include "shim.h"

#define ADOPT_ENTRIES 64   /* bulkheads followed; slots in more stay until exit */
#define ADOPT_FDS 256       /* inherited sockets looked at */

struct adoption {
    int n;
    bw_entry *entry[ADOPT_ENTRIES];   /* bulkheads where this process holds slots */
    uint32_t adopted[ADOPT_ENTRIES];
    int n_fds;
    int fds[ADOPT_FDS];               /* connected TCP sockets found */
};

/* The adopted count of e, NULL when this process holds no slot there. */
static uint32_t *count_for(struct adoption *a, const bw_entry *e)
{
    for (int i = 0; i < a->n; i++)
        if (a->entry[i] == e)
            return &a->adopted[i];
    return NULL;
}

/* Notes fd when it is a connected TCP socket nobody tracks yet. */
static void note_fd(int fd, struct adoption *a)
{
    struct stat st;
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int type = 0;
    socklen_t tl = sizeof type;
    if (a->n_fds < ADOPT_FDS && !bw_fdt_get(fd) &&
        bw_raw_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 && S_ISSOCK(st.st_mode) &&
        bw_real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM &&
        getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
        (peer.ss_family == AF_INET || peer.ss_family == AF_INET6))
        a->fds[a->n_fds++] = fd;
}

/* Lists this image's descriptors (raw getdents64 on /proc/self/fd). */
static void scan_fds(struct adoption *a)
{
    int dir = (int)bw_raw_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/fd",
                                  O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (dir < 0)
        return;
    char buf[4096];
    long n;
    while ((n = bw_raw_syscall(SYS_getdents64, dir, (long)buf, sizeof buf, 0, 0, 0)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            char *end;
            long fd = strtol(d->d_name, &end, 10);
            if (!*end && end != d->d_name && fd != dir && fd <= INT32_MAX)
                note_fd((int)fd, a);
        }
    }
    bw_raw_syscall(SYS_close, dir, 0, 0, 0, 0, 0);
}

/* Finds the bulkheads in which this process (pid, start) holds slots. */
static void find_owned(bw_state *st, int32_t pid, uint64_t start, struct adoption *a)
{
    for (size_t i = 0; i < st->n_entries && a->n < ADOPT_ENTRIES; i++) {
        bw_entry *e = &st->entries[i];
        if (__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE) == BW_ENTRY_READY &&
            bw_bulkhead_owned(&e->bulkhead, pid, start) > 0) {
            a->entry[a->n] = e;
            a->adopted[a->n++] = 0;
        }
    }
}

void bw_adopt_inherited(void)
{
    int saved = errno;
    struct adoption a;
    a.n = a.n_fds = 0;
    scan_fds(&a);
    bw_cfg_ref *ref = NULL;
    const bw_config *cfg = a.n_fds ? bw_shim_config_hold(&ref) : NULL;
    bw_state *st = cfg ? bw_shim_state(cfg) : NULL;
    int32_t pid = bw_self_pid();
    if (st)
        find_owned(st, pid, bw_proc_start_time(pid), &a);
    for (int i = 0; a.n && i < a.n_fds; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        if (getpeername(a.fds[i], (struct sockaddr *)&peer, &len) != 0)
            continue;
        bw_conn *c = bw_track_inherited(a.fds[i], (struct sockaddr *)&peer, len);
        uint32_t *n = c ? count_for(&a, c->bulkhead_entry) : NULL;
        if (n && bw_guard_bulkhead_adopt(c, *n))
            (*n)++;
        else if (c)
            bw_forget_fd(a.fds[i]);   /* not one the old image counted: leave it alone */
    }
    for (int i = 0; i < a.n; i++)
        bw_guard_bulkhead_drop_excess(a.entry[i], a.adopted[i]);
    if (cfg)
        bw_cfg_drop(ref);
    errno = saved;
}
