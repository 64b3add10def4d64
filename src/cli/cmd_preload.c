/*
 * cmd_preload.c - host-wide mode: `breakwater install-preload [--library
 * PATH]` and `breakwater uninstall-preload` add the library to, and take it
 * out of, /etc/ld.so.preload, which the dynamic loader reads at every exec
 * (setuid programs, sudo's and systemd's scrubbed environments included).
 *
 * A broken entry there breaks every program on the host, so nothing is
 * written before the library has passed three checks: it and every
 * directory above it can only be changed by root (else any user who could
 * replace it would own every process); /etc/breakwater.ini, which every
 * process will read, is valid; and a test process started with the library
 * preloaded really maps it and exits 0. The file is then replaced
 * atomically (a temporary file in /etc, fsync, rename), so no exec ever
 * reads half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bw_config.h"
#include "cli.h"

#define PRELOAD_FILE "/etc/ld.so.preload"
#define SYSTEM_CONFIG "/etc/breakwater.ini"
#define PRELOAD_MAX (64 * 1024)
#define TEST_WAIT_MS 10000

/* Why path (a file, or a directory above it) could be changed by someone
 * other than root, or NULL when it cannot. */
static const char *untrusted(const char *path, bool is_file)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return strerror(errno);
    if (is_file && !S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_uid != 0)
        return "not owned by root";
    bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir)
        return "writable by group or others";
    return NULL;
}

/* Checks lib and each directory above it. 0, or 1 after saying why not. */
static int check_owner_chain(const char *lib)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", lib);
    for (bool file = true;; file = false) {
        const char *why = untrusted(path, file);
        if (why) {
            bw_cli_error("install-preload: %s: %s; a library every program loads must be "
                         "changeable by root only", path, why);
            return 1;
        }
        if (strcmp(path, "/") == 0)
            return 0;
        char *slash = strrchr(path, '/');
        if (slash == path)
            path[1] = '\0';
        else
            *slash = '\0';
    }
}

static void print_diag(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                       const char *msg)
{
    (void)ctx;
    if (sev == BW_DIAG_ERROR)
        bw_cli_error("%s:%d: error: %s", file, line, msg);
}

/* /etc/breakwater.ini, if present, must load: every process will read it. */
static int check_system_config(void)
{
    if (access(SYSTEM_CONFIG, F_OK) != 0)
        return 0;
    bw_config *cfg = NULL;
    if (bw_config_load(SYSTEM_CONFIG, &cfg, print_diag, NULL) != 0) {
        bw_cli_error("install-preload: " SYSTEM_CONFIG " is invalid (above); every program "
                     "would read it: fix it first ('breakwater check')");
        return 1;
    }
    bw_config_free(cfg);
    return 0;
}

/*
 * Starts /bin/sh with lib preloaded (and the environment a host process
 * has: no BREAKWATER_CONFIG) and has it check that its own mappings hold
 * lib. 0 when it did and exited 0 within the time limit; 1 after saying
 * what went wrong.
 */
static int check_loads(const char *lib)
{
    pid_t pid = fork();
    if (pid < 0) {
        bw_cli_error("install-preload: fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setenv("LD_PRELOAD", lib, 1);
        unsetenv("BREAKWATER_CONFIG");
        unsetenv("BREAKWATER_DISABLE");
        execl("/bin/sh", "sh", "-c", "grep -qF \"$0\" /proc/$$/maps", lib, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 || waited >= TEST_WAIT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            bw_cli_error("install-preload: a test process with %s preloaded did not finish "
                         "within %d s; not installing", lib, TEST_WAIT_MS / 1000);
            return 1;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        bw_cli_error("install-preload: a test process with %s preloaded was killed by "
                     "signal %d; not installing", lib, WTERMSIG(status));
    else
        bw_cli_error("install-preload: %s does not load into a test process (exit %d); "
                     "not installing", lib, WEXITSTATUS(status));
    return 1;
}

/* Reads the preload file into buf (NUL-terminated). 0 (absent: empty), or
 * 1 after saying why not. */
static int read_preload(char *buf, size_t size)
{
    buf[0] = '\0';
    int fd = open(PRELOAD_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (n < 0 || (size_t)n >= size - 1) {
        bw_cli_error("%s: %s", PRELOAD_FILE, n < 0 ? strerror(err) : "too long");
        return 1;
    }
    buf[n] = '\0';
    return 0;
}

/*
 * Replaces the preload file by text, atomically: a temporary file beside
 * it, written, synced and renamed over it (empty text removes the file).
 * 0, or 1 after saying why not (the old file is then untouched).
 */
static int write_preload(const char *text)
{
    if (!text[0]) {
        if (unlink(PRELOAD_FILE) != 0 && errno != ENOENT) {
            bw_cli_error("%s: %s", PRELOAD_FILE, strerror(errno));
            return 1;
        }
        return 0;
    }
    char tmp[] = "/etc/.ld.so.preload.breakwater.XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        bw_cli_error("cannot create a file in /etc: %s", strerror(errno));
        return 1;
    }
    size_t len = strlen(text);
    bool ok = fchmod(fd, 0644) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int err = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, PRELOAD_FILE) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        bw_cli_error("cannot replace %s: %s", PRELOAD_FILE, strerror(err));
        return 1;
    }
    int dir = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    return 0;
}

/* True when the token [tok, tok+len) is a breakwater library: lib itself,
 * or (lib NULL) any path ending in /libbreakwater.so. */
static bool is_ours(const char *tok, size_t len, const char *lib)
{
    if (lib)
        return strlen(lib) == len && strncmp(tok, lib, len) == 0;
    static const char name[] = "/libbreakwater.so";
    size_t n = sizeof name - 1;
    return len >= n && strncmp(tok + len - n, name, n) == 0;
}

/*
 * Copies the preload text in to out without the entries is_ours(lib)
 * picks (ld.so separates entries by white space or ':'); a line left
 * empty by that is dropped. Returns how many entries were dropped.
 */
static int drop_entries(const char *in, char *out, const char *lib)
{
    int dropped = 0;
    *out = '\0';
    for (const char *line = in; *line;) {
        size_t linelen = strcspn(line, "\n");
        char kept[PRELOAD_MAX] = "";
        size_t k = 0;
        bool any = false;
        for (size_t i = 0; i < linelen;) {
            size_t sep = strspn(line + i, " \t:");
            i += sep;
            size_t tl = strcspn(line + i, " \t:\n");
            if (tl > linelen - i)
                tl = linelen - i;
            if (!tl)
                break;
            if (is_ours(line + i, tl, lib)) {
                dropped++;
                any = true;
            } else {
                k += (size_t)snprintf(kept + k, sizeof kept - k, "%s%.*s", k ? " " : "", (int)tl,
                                      line + i);
            }
            i += tl;
        }
        if (!any)
            strncat(out, line, linelen);                 /* untouched */
        else
            strcat(out, kept);
        if (!any || k)
            strcat(out, "\n");
        line += linelen + (line[linelen] == '\n');
    }
    return dropped;
}

static int must_be_root(const char *cmd)
{
    if (geteuid() == 0)
        return 0;
    bw_cli_error("%s: %s belongs to root: run this as root", cmd, PRELOAD_FILE);
    return 1;
}

int bw_cmd_install_preload(int argc, char **argv)
{
    const char *given = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--library") == 0 && i + 1 < argc) {
            given = argv[++i];
        } else {
            bw_cli_error("install-preload: unexpected argument '%s'\n"
                         "usage: breakwater install-preload [--library PATH]", argv[i]);
            return 2;
        }
    }
    if (must_be_root("install-preload"))
        return 1;
    char lib[PATH_MAX];
    if (given ? !realpath(given, lib) : bw_find_library(lib) != 0) {
        bw_cli_error("install-preload: %s: %s", given ? given : "libbreakwater.so",
                     given ? strerror(errno) : "not found (see 'breakwater help run')");
        return 1;
    }
    if (check_owner_chain(lib) || check_system_config() || check_loads(lib))
        return 1;
    static char text[PRELOAD_MAX + PATH_MAX + 2], rest[PRELOAD_MAX];
    if (read_preload(text, PRELOAD_MAX))
        return 1;
    if (drop_entries(text, rest, lib) > 0) {
        printf("%s already lists %s\n", PRELOAD_FILE, lib);
        return 0;
    }
    size_t len = strlen(text);
    snprintf(text + len, sizeof text - len, "%s%s\n", len && text[len - 1] != '\n' ? "\n" : "", lib);
    if (write_preload(text))
        return 1;
    printf("added %s to %s: programs started from now on load it (running ones do not)\n",
           lib, PRELOAD_FILE);
    return 0;
}

int bw_cmd_uninstall_preload(int argc, char **argv)
{
    if (argc > 1) {
        bw_cli_error("uninstall-preload: unexpected argument '%s'\n"
                     "usage: breakwater uninstall-preload", argv[1]);
        return 2;
    }
    if (must_be_root("uninstall-preload"))
        return 1;
    static char text[PRELOAD_MAX], rest[PRELOAD_MAX];
    if (read_preload(text, sizeof text))
        return 1;
    int dropped = drop_entries(text, rest, NULL);
    if (dropped == 0) {
        printf("%s lists no libbreakwater.so: nothing to do\n", PRELOAD_FILE);
        return 0;
    }
    if (write_preload(rest[strspn(rest, " \t\n")] ? rest : ""))
        return 1;
    printf("removed %d libbreakwater.so entr%s from %s: programs started from now on run "
           "without it\n", dropped, dropped == 1 ? "y" : "ies", PRELOAD_FILE);
    return 0;
}
