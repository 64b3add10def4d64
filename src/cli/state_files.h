/*
 * state_files.h - a config's state files of every layout version (SPEC §7:
 * STATE_DIR/breakwater-UID-HASH-vN, and the name without a suffix that
 * builds before 0.2 used) and the processes that map each, found in
 * /proc/PID/maps. During a rolling upgrade this is what `status` shows: which
 * programs still run an older build, and on which file.
 */
#ifndef BW_CLI_STATE_FILES_H
#define BW_CLI_STATE_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "bw_config.h"
#include "bw_state.h"

#define BW_STATE_FILE_PIDS 16   /* pids listed per file (all are counted) */

typedef struct bw_state_file {
    char path[PATH_MAX];
    int version;                /* layout version; 1 for the name without suffix */
    bool this_build;            /* version == BW_STATE_VERSION */
    bool unversioned;           /* the name without suffix of builds before 0.2 */
    pid_t pids[BW_STATE_FILE_PIDS];
    size_t n_pids;              /* processes mapping it (may exceed the list) */
    pid_t last_pid;             /* the last one counted (a process maps it once or more) */
} bw_state_file;

/* Fills out with at most max state files of cfg found in its state_dir, in
 * directory order, with the processes that map them (this one left out).
 * Returns how many. */
size_t bw_state_files_find(const bw_config *cfg, bw_state_file *out, size_t max);

/* True when a file of another layout version than this build's is among them. */
bool bw_state_files_others(const bw_state_file *files, size_t n);

/* "PATH: layout vN (this build), used by 2 processes (pids 12, 34)", no newline. */
void bw_state_file_describe(FILE *out, const bw_state_file *f);

#endif
