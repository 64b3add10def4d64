#!/bin/bash
# t_retry_nonblock_mode.sh - connect() learns a socket's blocking mode from
# the calls that set it, not by asking the kernel (issue 18): under
# nonblocking = native with retries, a blocking socket is retried inside
# connect() (3 attempts, refused) and a non-blocking one is left to the
# program (1 attempt, EINPROGRESS), whichever way the mode was set: socket
# flags, fcntl, ioctl(FIONBIO), through a dup, in a fork child, by a raw
# syscall(). A socket whose mode the shim saw set costs no fcntl(F_GETFL).
# A blocking attempt with no retry after it and a connect_timeout_ms the
# kernel's own (tcp_syn_retries) reaches first gets no temporary SO_SNDTIMEO;
# a shorter one still does (set, then put back).
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$T/nb_mode" \
    "$RETRY_CLIENTS/nb_mode.c" || fail "nb_mode does not compile"
retry_cfg "$T/nb.ini" "nonblocking = native" "retries = 2" "backoff_initial_ms = 20" \
    "jitter = none" "breaker = off"
port=$(free_port)   # nobody listens: every attempt is refused

# check HOW EXPECTED ATTEMPTS [F_GETFL calls]
check() {
    local st="$T/$1.st" out
    out=$(BREAKWATER_CONFIG="$T/nb.ini" shim strace -f -e trace=connect,fcntl -o "$st" \
          timeout 20 "$T/nb_mode" "$1" "$port") || fail "$1: nb_mode failed"
    assert_eq "$1: result" "$2" "$out"
    assert_eq "$1: attempts" "$3" "$(conns "$st" "$port" | wc -l)"
    if [ $# -ge 4 ]; then
        assert_eq "$1: fcntl(F_GETFL) calls" "$4" "$(grep -c 'F_GETFL' "$st")"
    fi
    note "$1: $out after $3 attempt(s)"
}
check block     "fail errno=ECONNREFUSED" 3 0
check flag      "inprogress"              1 0
check fcntl_on  "inprogress"              1 1   # the program's own F_GETFL
check fcntl_off "fail errno=ECONNREFUSED" 3 0
check ioctl_on  "inprogress"              1 0
check ioctl_off "fail errno=ECONNREFUSED" 3 0
check dup_on    "inprogress"              1
check fork_on   "inprogress"              1
check raw_off   "fail errno=ECONNREFUSED" 3

# sndtimeo TIMEOUT_MS: SO_SNDTIMEO calls of a refused blocking connect, retries = 0.
sndtimeo() {
    retry_cfg "$T/st$1.ini" "retries = 0" "connect_timeout_ms = $1" "breaker = off"
    BREAKWATER_CONFIG="$T/st$1.ini" shim strace -f -e trace=setsockopt -o "$T/st$1.st" \
        timeout 20 "$T/nb_mode" block "$port" >/dev/null || fail "nb_mode failed"
    grep -c SO_SNDTIMEO "$T/st$1.st"
}
kernel_ms=$(( ((2 << $(cat /proc/sys/net/ipv4/tcp_syn_retries)) - 1) * 1000 ))
assert_eq "connect_timeout_ms = $kernel_ms (the kernel's): SO_SNDTIMEO calls" 0 "$(sndtimeo "$kernel_ms")"
# One: the limit stays lent to a socket that is closed without a send (shim.h).
assert_eq "connect_timeout_ms = 1000: SO_SNDTIMEO calls" 1 "$(sndtimeo 1000)"
echo "ok"
