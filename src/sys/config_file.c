/*
 * config_file.c - bw_config_load: reads the config file into memory and hands
 * it to the parser (config_load.c) with its fstat, so that what is checked
 * (type, size, mode) is the very file that is parsed. Raw system calls: in
 * the shim, open/read/close are the program's hooks (bw_sys.h).
 */
#include "bw_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bw_sys.h"

__attribute__((format(printf, 4, 5)))
static int file_error(bw_diag_fn diag, void *ctx, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (diag)
        diag(ctx, path, 0, BW_DIAG_ERROR, msg);
    return -1;
}

static void close_fd(int fd)
{
    int saved = errno;
    bw_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    errno = saved;
}

/* Reads up to size bytes of fd into a new buffer (*len set). Returns it, or
 * NULL with errno set. A file growing meanwhile is read up to size. */
static char *read_all(int fd, size_t size, size_t *len)
{
    char *buf = malloc(size + 1);
    size_t got = 0;
    if (!buf)
        return NULL;
    while (got < size) {
        ssize_t r = bw_raw_syscall(SYS_read, fd, (long)(buf + got), (long)(size - got), 0, 0, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

int bw_config_load(const char *path, bw_config **out, bw_diag_fn diag, void *ctx)
{
    struct stat st;
    char abs[PATH_MAX], *buf = NULL;
    size_t len = 0;
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not hang; it is then refused */
    int fd = (int)bw_raw_syscall(SYS_openat, AT_FDCWD, (long)path,
                                 O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0, 0, 0);
    if (fd < 0)
        return file_error(diag, ctx, path, "cannot open: %s", strerror(errno));
    if (bw_raw_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) < 0) {
        int e = errno;
        close_fd(fd);
        return file_error(diag, ctx, path, "cannot stat: %s", strerror(e));
    }
    if (S_ISREG(st.st_mode) && st.st_size <= BW_CONFIG_MAX_FILE &&
        !(buf = read_all(fd, (size_t)st.st_size, &len))) {
        int e = errno;
        close_fd(fd);
        return file_error(diag, ctx, path, "cannot read: %s", strerror(e));
    }
    close_fd(fd);
    if (!realpath(path, abs)) {
        int e = errno;
        free(buf);
        return file_error(diag, ctx, path, "cannot resolve the path: %s", strerror(e));
    }
    int r = bw_config_parse(path, abs, buf ? buf : "", len, &st, out, diag, ctx);
    free(buf);
    return r;
}
