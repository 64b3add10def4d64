/*
 * passfd.c - sockets handed to another process with SCM_RIGHTS.
 *
 * A slot belongs to the socket (its open file description), not to the
 * process that connected it. When the sender closes its last descriptor of
 * a socket it passed on, the socket may live on in the receiver: the slot
 * is then kept, on a list of this process, with the socket's identity
 * (addresses and inode, noted when it was sent). At this process's next
 * connect the list is reconciled: the kernel is asked (sock_diag, by raw
 * system calls) whether each socket is still open anywhere, and the slots
 * of those closed everywhere go back. A slot kept when this process exits
 * is reclaimed with its other slots (dead owner); one more than the list
 * holds is given back at once, as before.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bw_sys.h"
#include "guard.h"
#include "nonblock.h"
#include "shim.h"

#define KEPT_MAX 256

struct kept {
    bw_entry *entry;
    bool untracked;
    int32_t owner;
    uint64_t inode;
    struct sockaddr_storage local, peer;
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept kept[KEPT_MAX];
static atomic_int n_kept;

/* Notes who c's socket (fd) is, once: it is being sent to another process. */
static void note_one(int fd, bw_conn *c)
{
    if (atomic_load(&c->passed))
        return;
    struct stat st;
    socklen_t ll = sizeof c->pass_local, pl = sizeof c->pass_peer;
    if (fstat(fd, &st) != 0 || getsockname(fd, (struct sockaddr *)&c->pass_local, &ll) != 0 ||
        getpeername(fd, (struct sockaddr *)&c->pass_peer, &pl) != 0)
        return;   /* not connected (yet): nothing to keep for it */
    c->pass_inode = st.st_ino;
    atomic_store(&c->passed, true);
}

void bw_passfd_note(const struct msghdr *msg)
{
    if (!bw_enter())
        return;
    int saved = errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cm);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof fd, sizeof fd);
            bw_nonblock_forget(fd);   /* the receiver shares its description */
            bw_conn *c = bw_fdt_get(fd);
            if (c)
                note_one(fd, c);
        }
    }
    errno = saved;
    bw_leave();
}

bool bw_passfd_keep(bw_conn *c)
{
    if (!atomic_load(&c->passed) || !c->holds_slot || !c->bulkhead_entry ||
        c->owner != bw_self_pid())
        return false;
    pthread_mutex_lock(&kept_lock);
    int n = atomic_load(&n_kept);
    bool ok = n < KEPT_MAX;
    if (ok) {
        kept[n] = (struct kept){c->bulkhead_entry, c->slot_untracked, c->owner, c->pass_inode,
                                c->pass_local, c->pass_peer};
        atomic_store(&n_kept, n + 1);
        c->holds_slot = false;   /* the list holds it now */
    }
    pthread_mutex_unlock(&kept_lock);
    return ok;
}

void bw_passfd_reconcile(void)
{
    if (atomic_load_explicit(&n_kept, memory_order_relaxed) == 0 ||
        pthread_mutex_trylock(&kept_lock) != 0)
        return;   /* nothing kept, or another thread is at it */
    int n = atomic_load(&n_kept);
    for (int i = 0; i < n;) {
        if (bw_sys_tcp_held(&kept[i].local, &kept[i].peer, kept[i].inode) != 0) {
            i++;     /* still open somewhere, or unknown: never give back on a guess */
            continue;
        }
        bw_guard_slot_give_back(kept[i].entry, kept[i].untracked, kept[i].owner);
        kept[i] = kept[--n];
    }
    atomic_store(&n_kept, n);
    pthread_mutex_unlock(&kept_lock);
}

/* The kept slots are the parent's: the child has none of them. */
void bw_passfd_atfork_child(void)
{
    pthread_mutex_init(&kept_lock, NULL);
    atomic_store(&n_kept, 0);
}
