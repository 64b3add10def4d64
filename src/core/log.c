/* log.c - formatting of log lines and the level threshold (see bw_log.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bw_log.h"
#include "bw_sys.h"

/* Set at start-up and on a reload while other threads log: atomics, read
 * relaxed (a line logged under the old threshold or sink is fine; a torn
 * value is not). */
static _Atomic enum bw_log_level threshold = BW_LOG_WARN;
static _Atomic(bw_log_sink) sink;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};

void bw_log_setup(enum bw_log_level t, bw_log_sink s)
{
    atomic_store_explicit(&threshold, t, memory_order_relaxed);
    atomic_store_explicit(&sink, s, memory_order_release);
}

enum bw_log_level bw_log_threshold(void)
{
    return atomic_load_explicit(&sink, memory_order_relaxed)
               ? atomic_load_explicit(&threshold, memory_order_relaxed)
               : BW_LOG_OFF;
}

bool bw_log_level_parse(const char *s, enum bw_log_level *out)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum bw_log_level)i;
            return true;
        }
    }
    return false;
}

void bw_log(enum bw_log_level level, const char *fmt, ...)
{
    bw_log_sink out = atomic_load_explicit(&sink, memory_order_acquire);
    if (!out || !bw_log_enabled(level))
        return;
    int saved = errno;
    char line[BW_LOG_LINE_MAX];
    int n = snprintf(line, sizeof line, "breakwater[%ld]: %s: ", (long)bw_sys_getpid(),
                     level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;   /* truncated: still one whole line */
    /* Names from the environment or a file may hold control bytes: one
     * event stays one line, and no escape sequence reaches a terminal. */
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[len++] = '\n';
    line[len] = '\0';
    out(level, line, len);
    errno = saved;
}

bool bw_ratelimit_allow(bw_ratelimit *rl, int64_t now_ms, uint32_t per_sec, uint32_t burst)
{
    if (now_ms > rl->last_ms) {
        uint64_t add = (uint64_t)(now_ms - rl->last_ms) * per_sec / 1000;
        if (add > 0) {
            rl->tokens = add + rl->tokens > burst ? burst : (uint32_t)(add + rl->tokens);
            rl->last_ms = now_ms;
        }
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens--;
    return true;
}
