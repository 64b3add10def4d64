/* cmd_run.c - `breakwater run`: exec a command with the shim preloaded. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "elf_probe.h"

/*
 * Finds libbreakwater.so: BREAKWATER_LIBRARY if set (for packagers), else
 * next to this executable (the build tree), else, relative to it,
 * ../lib/breakwater/ (make install) or ../lib/MULTIARCH/ (the Debian
 * package: /usr/bin/breakwater and /usr/lib/x86_64-linux-gnu/). Relative
 * to the executable, so a tree installed under any root or DESTDIR finds
 * its own library. Returns 0 and fills out (PATH_MAX bytes), or -1.
 */
int bw_find_library(char *out)
{
    const char *env = getenv("BREAKWATER_LIBRARY");
    if (env && env[0]) {
        snprintf(out, PATH_MAX, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    const char *dir = dirname(self);
    static const char *const candidates[] = {"%s/libbreakwater.so",
                                             "%s/../lib/breakwater/libbreakwater.so",
                                             "%s/../lib/" BW_MULTIARCH "/libbreakwater.so"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, candidates[i], dir);
        if (access(path, R_OK) == 0 && realpath(path, out))
            return 0;
    }
    return -1;
}

/* One warning on stderr when command is a program the shim cannot reach. */
static void warn_uncovered(const char *command)
{
    char path[PATH_MAX];
    bw_elf_facts f;
    if (bw_program_path(command, path, sizeof path) != 0 || bw_elf_probe(path, &f) != 0 ||
        !f.is_elf || !f.is_64)
        return;
    if (f.go)
        bw_cli_error("warning: %s is a Go program: Go makes its own system calls, so its "
                     "connections are not covered (see 'breakwater doctor')", path);
    else if (!f.has_interp)
        bw_cli_error("warning: %s is statically linked: LD_PRELOAD has no effect, so its "
                     "connections are not covered (see 'breakwater doctor')", path);
}

int bw_cmd_run(int argc, char **argv)
{
    const char *config = NULL;
    int i = bw_cli_program_args(argc, argv, "run", "breakwater run [-c FILE] [--] COMMAND [ARG...]",
                                &config);
    if (i < 0)
        return 2;
    char lib[PATH_MAX];
    if (bw_find_library(lib) != 0) {
        bw_cli_error("run: cannot find libbreakwater.so next to this program or in "
                     "../lib/breakwater or ../lib/" BW_MULTIARCH);
        return 1;
    }
    if (config) {
        char abs[PATH_MAX];
        if (!realpath(config, abs)) {
            bw_cli_error("run: config '%s': %s", config, strerror(errno));
            return 1;
        }
        setenv("BREAKWATER_CONFIG", abs, 1);
    }
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
    char *preload = malloc(len);
    if (!preload) {
        bw_cli_error("run: out of memory");
        return 1;
    }
    snprintf(preload, len, "%s%s%s", lib, old && old[0] ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    warn_uncovered(argv[i]);
    execvp(argv[i], argv + i);
    bw_cli_error("run: cannot run '%s': %s", argv[i], strerror(errno));
    return 1;
}
