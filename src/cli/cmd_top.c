/*
 * cmd_top.c - `breakwater top [-c FILE] [--count N]`: the shared state as a
 * table refreshed every second (top_table.h).
 *
 * On a terminal: the alternate screen, redrawn every second and when the
 * window changes size, cut to its width and height; q or Ctrl-C ends it
 * (the screen and the terminal mode are restored). The first frame shows
 * the state at once with "-" for the rates, which need two samples.
 * Not a terminal (a pipe, a file): plain text, no escape sequences; it
 * samples, waits one second, prints one table of rates and exits, so a
 * script gets one measured table. --count N: N tables, one a second (on a
 * terminal: exit after N refreshes).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "state_view.h"
#include "top_table.h"

#define TOP_USAGE "breakwater top [-c FILE] [--count N]"

static volatile sig_atomic_t stop_flag, resized_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_winch(int sig)
{
    (void)sig;
    resized_flag = 1;
}

static void terminal_size(int *cols, int *rows)
{
    struct winsize ws;
    *cols = 80;
    *rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

static void title_of(const bw_view *v, char *out, size_t len)
{
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(out, len, "breakwater top - %s - %s - every 1 s", bw_view_config_name(v), when);
}

/* Takes a snapshot into s (freeing what s held). 0, or 1 after printing why. */
static int sample(bw_view *v, bw_top_snap *s)
{
    bw_top_snap_free(s);
    if (bw_view_rebuild(v) != 0)
        return 1;
    if (bw_top_snap_take(v, s) != 0) {
        bw_cli_error("top: out of memory");
        return 1;
    }
    return 0;
}

/* Sleeps ms, or less when a key, a signal or a resize comes. Returns the
 * key read ('\0' if none). */
static char wait_tick(int ms, bool keys)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int64_t end = bw_view_now_ms() + ms;
    for (;;) {
        int left = (int)(end - bw_view_now_ms());
        if (left <= 0 || stop_flag || resized_flag)
            return '\0';
        int rc = poll(&p, keys ? 1 : 0, left);
        if (rc > 0) {
            char c = '\0';
            if (read(STDIN_FILENO, &c, 1) != 1)
                keys = false;   /* stdin closed: keep refreshing without keys */
            else
                return c;
        }
    }
}

/* Plain text: a table of rates every second, count of them. */
static int run_plain(bw_view *v, long count)
{
    bw_top_snap prev = {0}, cur = {0};
    int rc = sample(v, &prev);
    for (long i = 0; rc == 0 && i < count && !stop_flag; i++) {
        wait_tick(1000, false);
        if ((rc = sample(v, &cur)) != 0)
            break;
        char title[PATH_MAX + 96];
        title_of(v, title, sizeof title);
        if (i)
            putchar('\n');
        bw_top_render(stdout, title, &prev, &cur, 0, 0);
        if (fflush(stdout) != 0)
            rc = 1;
        bw_top_snap tmp = prev;
        prev = cur;
        cur = tmp;
    }
    bw_top_snap_free(&prev);
    bw_top_snap_free(&cur);
    return rc;
}

/* The terminal: redraws until q, a signal, or count refreshes. */
static int run_terminal(bw_view *v, long count)
{
    struct termios saved, raw;
    bool keys = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (keys) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    fputs("\033[?1049h\033[?25l", stdout);
    bw_top_snap prev = {0}, cur = {0};
    bool have_prev = false;
    int rc = sample(v, &cur);
    for (long frames = 0; rc == 0 && !stop_flag;) {
        int cols, rows;
        terminal_size(&cols, &rows);
        char title[PATH_MAX + 96];
        title_of(v, title, sizeof title);
        fputs("\033[H\033[2J", stdout);
        bw_top_render(stdout, title, have_prev ? &prev : NULL, &cur, cols, rows - 1);
        fflush(stdout);
        if (count > 0 && frames >= count)
            break;
        char c = wait_tick(1000, keys);
        if (c == 'q' || c == 'Q')
            break;
        if (resized_flag) {   /* redraw the same numbers at the new size */
            resized_flag = 0;
            continue;
        }
        bw_top_snap tmp = prev;
        prev = cur;
        cur = tmp;
        have_prev = true;
        rc = sample(v, &cur);
        frames++;
    }
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    bw_top_snap_free(&prev);
    bw_top_snap_free(&cur);
    return rc;
}

int bw_cmd_top(int argc, char **argv)
{
    long count = 0;
    const char *n_arg = bw_view_take_option(&argc, argv, "--count", true);
    if (n_arg) {
        char *end;
        count = strtol(n_arg, &end, 10);
        if (*end || count <= 0 || count > 1000000) {
            bw_cli_error("top: --count takes a number of tables (1 or more)\nusage: %s", TOP_USAGE);
            return 2;
        }
    }
    const char *config, *pos[1];
    int npos;
    if (bw_view_args(argc, argv, TOP_USAGE, &config, NULL, pos, 0, &npos) != 0)
        return 2;
    bw_view v;
    int rc = bw_view_open(config, &v);
    if (rc == BW_VIEW_PROCESS) {
        bw_cli_error("top: %s has state = process: each process keeps its own state; "
                     "nothing shared to show", bw_view_config_name(&v));
        rc = 1;
    } else if (rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;   /* no SA_RESTART: poll returns, the loop ends */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sa.sa_handler = on_winch;
        sigaction(SIGWINCH, &sa, NULL);
        if (isatty(STDOUT_FILENO))
            rc = run_terminal(&v, count);
        else
            rc = run_plain(&v, count ? count : 1);
    }
    bw_view_close(&v);
    return rc;
}
