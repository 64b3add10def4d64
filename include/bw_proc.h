/*
 * bw_proc.h - who owns what: a process is named by its pid and its start
 * time, so that a pid the kernel hands out again does not inherit the
 * bulkhead slots of a dead process.
 */
#ifndef BW_PROC_H
#define BW_PROC_H

#include <stdbool.h>
#include <stdint.h>

/* The start time (field 22) in the text of a /proc/PID/stat, 0 when it has none. */
uint64_t bw_proc_parse_start_time(const char *stat);

/* Start time of process pid (field 22 of /proc/PID/stat), 0 when unknown.
 * src/sys: raw system calls, no hook, no lock, no cancellation point. */
uint64_t bw_proc_start_time(int32_t pid);

/*
 * True while process pid started at start runs (a bw_bulkhead_alive_fn;
 * ctx unused). Unknown start times (0) count as alive: never take back
 * slots on a guess.
 */
bool bw_proc_alive(int32_t pid, uint64_t start, void *ctx);

#endif
