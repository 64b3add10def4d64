/*
 * state_map.c - maps the state region: the shared file of SPEC §7, or a
 * private one. The descriptor used to map the file is closed at once; a
 * mapping outlives it, so programs that close every descriptor keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bw_log.h"
#include "bw_state.h"
#include "shim.h"

static bw_state state;
static _Atomic int state_ready;          /* 0 not yet, 1 mapping, 2 ready, 3 failed */

void bw_state_path(const bw_config *cfg, char *out, size_t outlen)
{
    char tag[17];
    if (cfg->path[0])
        snprintf(tag, sizeof tag, "%016" PRIx64, bw_hash64(cfg->path, strlen(cfg->path), 0));
    else
        snprintf(tag, sizeof tag, "builtin");
    snprintf(out, outlen, "%s/breakwater-%u-%s", cfg->state_dir, (unsigned)geteuid(), tag);
}

static int map_private(const char *config_path)
{
    size_t size = bw_state_size(BW_STATE_ENTRIES);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    char why[8];
    bw_state_format(mem, size, BW_STATE_ENTRIES, false, config_path);
    return bw_state_attach(&state, mem, size, false, why, sizeof why);
}

/* Creates the file under a temporary name, formats it, and links it into
 * place, so no process ever maps a half-made file. Returns an open fd or -1. */
static int create_file(const char *path, const char *config_path)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = bw_real.open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t size = bw_state_size(BW_STATE_ENTRIES);
    void *mem = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem != MAP_FAILED) {
        bw_state_format(mem, size, BW_STATE_ENTRIES, true, config_path);
        munmap(mem, size);
    }
    int linked = mem != MAP_FAILED ? link(tmp, path) : -1;
    int err = errno;
    unlink(tmp);
    bw_real.close(fd);
    if (linked != 0 && err != EEXIST) {
        errno = err;
        return -1;
    }
    return bw_real.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);   /* ours or a racer's */
}

/* Maps the shared file of cfg. Returns 0, or -1 with a reason in why. */
static int map_shared(const bw_config *cfg, char *why, size_t whylen)
{
    char path[PATH_MAX];
    bw_state_path(cfg, path, sizeof path);
    int fd = bw_real.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        fd = create_file(path, cfg->path);
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
        return -1;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0)
        bad = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (st.st_uid != geteuid())
        bad = "owned by another user";
    else if (st.st_mode & 077)
        bad = "readable or writable by other users";
    else if ((size_t)st.st_size < sizeof(bw_state_header))
        bad = "truncated";
    void *mem = MAP_FAILED;
    if (!bad) {
        mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED)
            bad = strerror(errno);
    }
    bw_real.close(fd);
    char reason[128];
    if (!bad) {
        if (bw_state_attach(&state, mem, (size_t)st.st_size, true, reason, sizeof reason) == 0)
            return 0;
        munmap(mem, (size_t)st.st_size);
        bad = reason;
    }
    if (snprintf(why, whylen, "%s: %s", path, bad) >= (int)whylen)
        why[whylen - 1] = '\0';   /* a long path: the message is cut, still one line */
    return -1;
}

bw_state *bw_shim_state(const bw_config *cfg)
{
    int r = atomic_load_explicit(&state_ready, memory_order_acquire);
    if (r == 2)
        return &state;
    if (r != 0)
        return NULL;    /* being mapped by another thread, or failed: run stateless */
    int expected = 0;
    if (!atomic_compare_exchange_strong(&state_ready, &expected, 1))
        return NULL;
    int saved = errno;
    int ok = -1;
    if (cfg->state == BW_STATE_SHARED) {
        char why[PATH_MAX + 128];
        ok = map_shared(cfg, why, sizeof why);
        if (ok != 0)
            bw_log(BW_LOG_WARN, "shared state unusable (%s); using process state", why);
    }
    if (ok != 0)
        ok = map_private(cfg->path);
    atomic_store_explicit(&state_ready, ok == 0 ? 2 : 3, memory_order_release);
    errno = saved;
    return ok == 0 ? &state : NULL;
}

void bw_shim_state_atfork_child(void)
{
    if (atomic_load(&state_ready) == 2 && !state.shared)
        bw_state_reinit_locks(&state);
}
