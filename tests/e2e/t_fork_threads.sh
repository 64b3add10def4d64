#!/bin/bash
# Fork while other threads are inside the shim (socket_wrapper's deadlock test):
# 8 threads loop connect/write/read/close against the echo server while the main
# thread forks 50 times; each child makes one echo round trip and _exit(0)s.
# Under the shim (every mode, `timeout 60`): no deadlock, every child exits 0.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT" "max_connections = 100"
cat >"$T/forkthreads.c" <<'C'
/* forkthreads PORT: 8 echo-looping threads, 50 forks each doing one echo. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_port;
static volatile int g_stop;

/* One connect/write/read/close round trip; 0 on success. */
static int echo_once(const char *msg)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(g_port) };
    char buf[64];
    size_t n = strlen(msg), got = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = 20 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write(fd, msg, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    return got == n && memcmp(buf, msg, n) == 0 ? 0 : -1;
}

static void *loop(void *arg)
{
    long fails = 0, i;
    for (i = 0; !g_stop && i < 100000; i++)
        if (echo_once("thread-ping") != 0)
            fails++;
    (void)arg;
    return (void *)fails;
}

int main(int argc, char **argv)
{
    pthread_t t[8];
    int ok = 0;
    if (argc != 2)
        return 2;
    g_port = atoi(argv[1]);
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, loop, NULL);
    for (int i = 0; i < 50; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(echo_once("child-ping") == 0 ? 0 : 1);
        if (pid < 0) {
            perror("fork");
            continue;
        }
        int st = 0, done = 0;
        for (int k = 0; k < 2000 && !done; k++) {   /* at most 20 s per child */
            if (waitpid(pid, &st, WNOHANG) == pid)
                done = 1;
            else
                usleep(10000);
        }
        if (!done) {
            fprintf(stderr, "child %d (pid %d) hangs\n", i, (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            ok++;
        } else {
            fprintf(stderr, "child %d status %#x\n", i, st);
        }
    }
    g_stop = 1;
    long fails = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        fails += (long)r;
    }
    printf("children ok %d of 50\nthread failures %ld\n", ok, fails);
    return ok == 50 && fails == 0 ? 0 : 1;
}
C
gcc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/forkthreads" "$T/forkthreads.c" -pthread ||
    fail "cannot build forkthreads"
BW_RUN_TIMEOUT=60 run_modes fork "$T/forkthreads" "$PORT"
assert_eq "result" $'children ok 50 of 50\nthread failures 0\nexit status 0' "$(cat "$T/fork.cli_c.out")"
note "50 forks beside 8 busy threads, no deadlock, in every mode"
