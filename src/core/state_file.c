/*
 * state_file.c - where the state region lives: the shared file of SPEC §7
 * (STATE_DIR/breakwater-UID-HASH-vN), or private memory. The descriptor used to
 * map the file is closed at once; a mapping outlives it, so programs that
 * close every descriptor keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bw_hash.h"
#include "bw_state.h"

void bw_state_path_stem(const bw_config *cfg, char *out, size_t outlen)
{
    char tag[17];
    if (cfg->path[0])
        snprintf(tag, sizeof tag, "%016" PRIx64, bw_hash(cfg->path, strlen(cfg->path), 0));
    else
        snprintf(tag, sizeof tag, "builtin");
    snprintf(out, outlen, "%s/breakwater-%u-%s", cfg->state_dir, (unsigned)geteuid(), tag);
}

void bw_state_path(const bw_config *cfg, char *out, size_t outlen)
{
    char stem[PATH_MAX];
    bw_state_path_stem(cfg, stem, sizeof stem);
    snprintf(out, outlen, "%s-v%d", stem, BW_STATE_VERSION);
}

int bw_state_map_private(const char *config_path, bw_state *st)
{
    size_t size = bw_state_size(BW_STATE_ENTRIES);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;   /* errno from mmap: the caller says why */
    char why[8];
    bw_state_format(mem, size, BW_STATE_ENTRIES, false, config_path);
    return bw_state_attach(st, mem, size, false, why, sizeof why);
}

/* Creates the file under a temporary name, formats it, and links it into
 * place, so no process ever maps a half-made file. Returns an open fd or -1. */
static int create_file(const char *path, const char *config_path)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t size = bw_state_size(BW_STATE_ENTRIES);
    void *mem = MAP_FAILED;
    /* Every block allocated before the first byte is touched: on a full file
     * system this fails here, cleanly, instead of a SIGBUS at some later
     * store into a hole. (The file is still private: glibc's emulation for
     * file systems without fallocate is safe on it.) */
    int err = posix_fallocate(fd, 0, (off_t)size);
    if (err == 0)
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    else
        errno = err;
    if (mem != MAP_FAILED) {
        bw_state_format(mem, size, BW_STATE_ENTRIES, true, config_path);
        munmap(mem, size);
    }
    int linked = mem != MAP_FAILED ? link(tmp, path) : -1;
    err = errno;
    unlink(tmp);
    close(fd);
    if (linked != 0 && err != EEXIST) {
        errno = err;
        return -1;
    }
    return open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);   /* ours, or a racer's */
}

/* Why an open state file may not be used, or NULL when it may. */
static const char *unusable(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return strerror(errno);
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid())
        return "owned by another user";
    if (st->st_mode & 077)
        return "readable or writable by other users";
    if ((size_t)st->st_size < sizeof(bw_state_header))
        return "truncated";
    return NULL;
}

/*
 * A file made by an older build, or truncated and re-extended, may have
 * holes: the first store into one on a full file system is a SIGBUS. Fills
 * them with the fallocate system call, which allocates blocks and never
 * writes data (safe while others have the file mapped). Returns NULL, or why
 * the file may not be used.
 */
static const char *fill_holes(int fd, const struct stat *st)
{
    if ((uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
        return NULL;
    int r;
    do
        r = (int)syscall(SYS_fallocate, fd, 0, (off_t)0, st->st_size);
    while (r != 0 && errno == EINTR);
    if (r == 0 || errno == EOPNOTSUPP)
        return NULL;   /* no fallocate here: the shim's SIGBUS guard still covers it */
    return errno == ENOSPC ? "has unallocated blocks and the file system is full"
                           : "has unallocated blocks that cannot be allocated";
}

int bw_state_map_file(const char *path, const char *config_path, bool create, bw_state *st,
                      char *why, size_t whylen)
{
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create)
        fd = create_file(path, config_path);
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
        return -1;
    }
    struct stat sb;
    const char *bad = unusable(fd, &sb);
    if (!bad)
        bad = fill_holes(fd, &sb);
    void *mem = MAP_FAILED;
    if (!bad) {
        mem = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED)
            bad = strerror(errno);
    }
    close(fd);
    char reason[128];
    if (!bad) {
        if (bw_state_attach(st, mem, (size_t)sb.st_size, true, reason, sizeof reason) == 0)
            return 0;
        munmap(mem, (size_t)sb.st_size);
        bad = reason;
    }
    if (snprintf(why, whylen, "%s: %s", path, bad) >= (int)whylen)
        why[whylen - 1] = '\0';   /* a long path: the message is cut, still one line */
    return -1;
}
