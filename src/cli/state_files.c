/*
 * state_files.c - the state files of one config across layout versions, and
 * the processes that map each (see state_files.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_files.h"

/* The layout version a directory entry's name gives, when it is one of
 * stem's state files (stem is the bare file name): 1 for the name without
 * suffix, N for "-vN"; 0 for anything else (temporary files included). */
static int version_of(const char *name, const char *stem)
{
    size_t n = strlen(stem);
    if (strncmp(name, stem, n) != 0)
        return 0;
    const char *rest = name + n;
    if (!*rest)
        return 1;
    if (rest[0] != '-' || rest[1] != 'v' || !isdigit((unsigned char)rest[2]))
        return 0;
    char *end;
    long v = strtol(rest + 2, &end, 10);
    return *end || v <= 0 || v > 1000000 ? 0 : (int)v;
}

/* Adds pid to every file whose path ends the maps line. */
static void note_user(bw_state_file *files, size_t n, const char *line, long pid)
{
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < n; i++) {
        bw_state_file *f = &files[i];
        size_t pl = strlen(f->path);
        if (len <= pl || line[len - pl - 1] != ' ' || strncmp(line + len - pl, f->path, pl) != 0)
            continue;
        if (f->n_pids > 0 && f->last_pid == pid)
            continue;   /* the same process, another mapping line */
        f->last_pid = (pid_t)pid;
        if (f->n_pids < BW_STATE_FILE_PIDS)
            f->pids[f->n_pids] = pid;
        f->n_pids++;
    }
}

/* Fills the pids of every file from /proc/PID/maps (the processes this user
 * may look at: all of them for root). */
static void find_users(bw_state_file *files, size_t n)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    struct dirent *d;
    char path[64], *line = NULL;
    size_t cap = 0;
    while ((d = readdir(proc))) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid())
            continue;   /* not a process, or this tool, which maps the file itself */
        snprintf(path, sizeof path, "/proc/%ld/maps", pid);
        FILE *maps = fopen(path, "re");
        if (!maps)
            continue;   /* gone meanwhile, or not ours to read */
        while (getline(&line, &cap, maps) > 0)
            if (strstr(line, "breakwater-"))
                note_user(files, n, line, pid);
        fclose(maps);
    }
    free(line);
    closedir(proc);
}

size_t bw_state_files_find(const bw_config *cfg, bw_state_file *out, size_t max)
{
    char stem[PATH_MAX];
    bw_state_path_stem(cfg, stem, sizeof stem);
    const char *base = strrchr(stem, '/') + 1;   /* the stem always has STATE_DIR/ */
    DIR *dir = opendir(cfg->state_dir);
    if (!dir)
        return 0;
    size_t n = 0;
    struct dirent *d;
    while ((d = readdir(dir)) && n < max) {
        int v = version_of(d->d_name, base);
        if (!v)
            continue;
        bw_state_file *f = &out[n];
        memset(f, 0, sizeof *f);
        if (snprintf(f->path, sizeof f->path, "%s/%s", cfg->state_dir, d->d_name) >=
            (int)sizeof f->path)
            continue;
        f->version = v;
        f->this_build = v == BW_STATE_VERSION && strcmp(d->d_name, base) != 0;
        f->unversioned = strcmp(d->d_name, base) == 0;
        n++;
    }
    closedir(dir);
    find_users(out, n);
    return n;
}

bool bw_state_files_others(const bw_state_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!files[i].this_build)
            return true;
    return false;
}

void bw_state_file_describe(FILE *out, const bw_state_file *f)
{
    fprintf(out, "%s: layout v%d%s, ", f->path, f->version,
            f->this_build ? " (this build)" : f->unversioned ? " (builds before 0.2)" : "");
    if (f->n_pids == 0) {
        fputs("used by no process", out);
        return;
    }
    fprintf(out, "used by %zu process%s (pid", f->n_pids, f->n_pids == 1 ? "" : "es");
    for (size_t i = 0; i < f->n_pids && i < BW_STATE_FILE_PIDS; i++)
        fprintf(out, "%s%ld", i ? ", " : (f->n_pids > 1 ? "s " : " "), (long)f->pids[i]);
    fputs(f->n_pids > BW_STATE_FILE_PIDS ? ", ...)" : ")", out);
}
