#!/bin/bash
# Hooked calls made from another shared library's constructor: libctor.so's
# constructor connects to the echo server, round-trips a few bytes, dup()s,
# dup2()s and closes descriptors, and tries a refused port. It runs linked into
# the program (DT_NEEDED) and preloaded before and after libbreakwater.so; the
# output must equal the run without the shim.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_faultd" -6 --max-seconds 200 echo
DEAD=$(free_port)
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
cat >"$T/ctor.c" <<'C'
/* libctor.so: its constructor does socket I/O before main (and maybe before the
 * shim's own constructor). Ports come from BW_CTOR_PORT and BW_CTOR_DEAD. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Echoes msg through 127.0.0.1:port; prints what happened, prefixed by who. */
void bw_ctor_echo(const char *who, int port, const char *msg)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    char buf[64] = "";
    size_t n = strlen(msg), got = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("%s: connect: %s\n", who, strerror(errno));
        close(fd);
        return;
    }
    int d = dup(fd);                       /* write on a dup, read on the original */
    if (write(d, msg, n) != (ssize_t)n)
        printf("%s: write failed\n", who);
    close(d);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += r;
    }
    int p[2];
    if (pipe(p) == 0) {                    /* dup2 a pipe over the socket, close all */
        dup2(p[0], fd);
        close(p[0]);
        close(p[1]);
    }
    close(fd);
    printf("%s: echoed %zu of %zu: %s\n", who, got, n, buf);
}

__attribute__((constructor)) static void bw_ctor_init(void)
{
    const char *p = getenv("BW_CTOR_PORT"), *d = getenv("BW_CTOR_DEAD");
    if (p)
        bw_ctor_echo("ctor", atoi(p), "hello-from-ctor");
    if (d)
        bw_ctor_echo("ctor-dead", atoi(d), "x");
    fflush(stdout);
}
C
cat >"$T/main.c" <<'C'
/* main: does the same round trip from main(), after the constructors. */
#include <stdio.h>
#include <stdlib.h>
void bw_ctor_echo(const char *who, int port, const char *msg);
int main(void)
{
    bw_ctor_echo("main", atoi(getenv("BW_CTOR_PORT")), "hello-from-main");
    return 0;
}
C
cat >"$T/plain.c" <<'C'
/* plain: prints one line; libctor.so is only preloaded into it. */
#include <stdio.h>
int main(void)
{
    puts("plain main");
    return 0;
}
C
CF="-std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2"
gcc $CF -shared -fPIC -o "$T/libctor.so" "$T/ctor.c" || fail "cannot build libctor.so"
gcc $CF -o "$T/linked" "$T/main.c" -L"$T" -lctor -Wl,-rpath,"$T" || fail "cannot build linked"
gcc $CF -o "$T/plain" "$T/plain.c" || fail "cannot build plain"
export BW_CTOR_PORT=$PORT BW_CTOR_DEAD=$DEAD
# Refused connects to DEAD may open its breaker (state is shared between runs):
# log lines about that address are expected; nothing else may be logged.
BW_LOG_OK="127\.0\.0\.1:$DEAD"
run_modes linked "$T/linked"
assert_eq "linked output" "ctor: echoed 15 of 15: hello-from-ctor
ctor-dead: connect: Connection refused
main: echoed 15 of 15: hello-from-main
exit status 0" "$(cat "$T/linked.plain.out")"
# libctor.so preloaded after and before the shim, with and without a config.
env -u LD_PRELOAD "$T/plain" >"$T/ref" || fail "plain fails"
for order in after before; do
    for cfg in none "$BW_CFG"; do
        # A sanitizer runtime (BW_PRELOAD_PREFIX) stays first, ahead of both.
        if [ $order = after ]; then pre="$BW_LIB:$T/libctor.so"; else pre="$T/libctor.so:$BW_LIB"; fi
        pre="${BW_PRELOAD_PREFIX:+$BW_PRELOAD_PREFIX:}$pre"
        if [ "$cfg" = none ]; then
            timeout 60 env -u BREAKWATER_CONFIG LD_PRELOAD="$pre" "$T/plain" >"$T/out" 2>"$T/err"
        else
            timeout 60 env BREAKWATER_CONFIG="$cfg" LD_PRELOAD="$pre" "$T/plain" >"$T/out" 2>"$T/err"
        fi
        rc=$?
        [ $rc -eq 0 ] || { cat "$T/err" >&2; fail "preload $order ($cfg): exit $rc"; }
        assert_eq "preload $order ($cfg)" "ctor: echoed 15 of 15: hello-from-ctor
ctor-dead: connect: Connection refused
plain main" "$(cat "$T/out")"
        ! grep '^breakwater\[' "$T/err" | grep -Evq "$BW_LOG_OK" || fail "breakwater logged: $(cat "$T/err")"
    done
done
note "constructor-time connect/dup/dup2/close work with libctor.so linked, preloaded after and before"
