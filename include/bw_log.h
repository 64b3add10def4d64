/*
 * bw_log.h - one line per event: "breakwater[PID]: LEVEL: MESSAGE" (SPEC §8).
 *
 * The core formats; where the line goes is a sink the caller installs (the
 * shim writes with its real write(), the CLI with stdio). Formatting uses a
 * stack buffer only, so logging allocates nothing.
 */
#ifndef BW_LOG_H
#define BW_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include "bw_config.h"

#define BW_LOG_LINE_MAX 1024

/* Receives one complete line, newline included, and its level. */
typedef void (*bw_log_sink)(enum bw_log_level level, const char *line, size_t len);

/* The PID a line names: asked of the caller each time (the shim passes a raw
 * getpid, right in a fork or clone child), so the core makes no system call. */
typedef int32_t (*bw_log_pid)(void);

/* Sets the threshold, the sink and the PID source; a NULL sink drops
 * everything, a NULL source names PID 0. */
void bw_log_setup(enum bw_log_level threshold, bw_log_sink sink, bw_log_pid pid);

/* Current threshold (BW_LOG_OFF when logging is off). */
enum bw_log_level bw_log_threshold(void);

/* True when a message at level would be written. */
static inline bool bw_log_enabled(enum bw_log_level level)
{
    return level != BW_LOG_OFF && level <= bw_log_threshold();
}

/* Formats and emits one line at level, when enabled. errno is preserved. */
void bw_log(enum bw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a level name; returns false (and leaves *out alone) when unknown. */
bool bw_log_level_parse(const char *s, enum bw_log_level *out);

/*
 * A token bucket for rate-limited messages: at most burst lines at once,
 * refilled at per_sec. Returns true when a line may be written at now_ms.
 * Not locked: a lost update costs at most one extra or one missing line.
 */
typedef struct bw_ratelimit {
    int64_t last_ms;
    uint32_t tokens;
    uint32_t suppressed;
} bw_ratelimit;

bool bw_ratelimit_allow(bw_ratelimit *rl, int64_t now_ms, uint32_t per_sec, uint32_t burst);

#endif
