/*
 * lib_search.c - where the dynamic loader would find a library, and which
 * file the kernel would run for a command (see elf_probe.h).
 */
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_probe.h"

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#endif

/* out = dir/name when that file is an ELF object of this machine. */
static bool try_dir(const char *dir, size_t dirlen, const char *name, char *out, size_t outlen)
{
    bw_elf_facts f;
    int n = snprintf(out, outlen, "%.*s/%s", (int)dirlen, dir, name);
    return n > 0 && (size_t)n < outlen && access(out, R_OK) == 0 &&
           bw_elf_probe(out, &f) == 0 && f.is_elf && f.is_64;
}

/* Tries each directory of a ':'-separated list, $ORIGIN replaced by origin. */
static bool try_list(const char *list, const char *origin, const char *name, char *out, size_t outlen)
{
    while (list && *list) {
        size_t n = strcspn(list, ":");
        char dir[PATH_MAX];
        if (n >= 7 && strncmp(list, "$ORIGIN", 7) == 0 && origin)
            snprintf(dir, sizeof dir, "%s%.*s", origin, (int)(n - 7), list + 7);
        else if (n >= 9 && strncmp(list, "${ORIGIN}", 9) == 0 && origin)
            snprintf(dir, sizeof dir, "%s%.*s", origin, (int)(n - 9), list + 9);
        else
            snprintf(dir, sizeof dir, "%.*s", (int)n, list);
        if (n > 0 && try_dir(dir, strlen(dir), name, out, outlen))
            return true;
        list += n + (list[n] == ':');
    }
    return false;
}

/* The directories of one ld.so.conf file, following "include GLOB". */
static bool try_conf(const char *conf, const char *name, char *out, size_t outlen, int depth)
{
    FILE *fp = depth < 4 ? fopen(conf, "re") : NULL;
    if (!fp)
        return false;
    char line[PATH_MAX];
    bool found = false;
    while (!found && fgets(line, sizeof line, fp)) {
        char *s = line + strspn(line, " \t");
        s[strcspn(s, "#\r\n")] = '\0';
        for (char *e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (!*s)
            continue;
        if (strncmp(s, "include", 7) == 0 && (s[7] == ' ' || s[7] == '\t')) {
            glob_t g;
            if (glob(s + 8 + strspn(s + 8, " \t"), 0, NULL, &g) == 0)
                for (size_t i = 0; !found && i < g.gl_pathc; i++)
                    found = try_conf(g.gl_pathv[i], name, out, outlen, depth + 1);
            globfree(&g);
        } else {
            found = try_dir(s, strlen(s), name, out, outlen);
        }
    }
    fclose(fp);
    return found;
}

int bw_elf_find_library(const char *name, const char *from, const char *runpath, char *out,
                        size_t outlen)
{
    if (strchr(name, '/'))
        return snprintf(out, outlen, "%s", name) < (int)outlen && access(out, R_OK) == 0 ? 0 : -1;
    char origin[PATH_MAX];
    snprintf(origin, sizeof origin, "%s", from);
    const char *dir = dirname(origin);
    static const char sys[] = "/lib/" MULTIARCH ":/usr/lib/" MULTIARCH ":/lib64:/usr/lib64:/lib:/usr/lib";
    if (try_list(runpath, dir, name, out, outlen) ||
        try_list(getenv("LD_LIBRARY_PATH"), NULL, name, out, outlen) ||
        try_conf("/etc/ld.so.conf", name, out, outlen, 0) ||
        try_list(sys, NULL, name, out, outlen))
        return 0;
    return -1;
}

/* path of a command name, searched in PATH. */
static int search_path(const char *cmd, char *out, size_t outlen)
{
    if (strchr(cmd, '/'))
        return snprintf(out, outlen, "%s", cmd) < (int)outlen && access(out, F_OK) == 0 ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        int len = snprintf(out, outlen, "%.*s/%s", (int)n, n ? path : ".", cmd);
        if (len > 0 && (size_t)len < outlen && access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

int bw_program_path(const char *command, char *out, size_t outlen)
{
    char cur[PATH_MAX];
    if (search_path(command, cur, sizeof cur) != 0)
        return -1;
    for (int hops = 0; hops < 3; hops++) {
        char line[PATH_MAX] = "";
        FILE *fp = fopen(cur, "re");
        if (fp) {
            if (!fgets(line, sizeof line, fp))
                line[0] = '\0';
            fclose(fp);
        }
        if (hops == 2 || strncmp(line, "#!", 2) != 0)
            break;
        char *save, *interp = strtok_r(line + 2, " \t\r\n", &save);
        char *arg = strtok_r(NULL, " \t\r\n", &save);
        if (!interp)
            break;
        if (strcmp(basename(interp), "env") == 0 && arg && arg[0] != '-')
            interp = arg;
        if (search_path(interp, cur, sizeof cur) != 0)
            return -1;
    }
    char real[PATH_MAX];
    if (!realpath(cur, real) || strlen(real) >= outlen)
        return -1;
    memcpy(out, real, strlen(real) + 1);
    return 0;
}
