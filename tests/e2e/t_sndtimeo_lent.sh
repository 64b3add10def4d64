#!/bin/bash
# t_sndtimeo_lent.sh - the SO_SNDTIMEO that bounds a blocking connect attempt
# is the shim's only until the program could see it (issue 18): after a
# retried connect (connect_timeout_ms = 300; the first attempt refused, a
# later one connects), with no SO_SNDTIMEO of the program's own and with one
# (700 ms), the program's own value is what
#  - its blocking sends see: none blocks until a signal cuts it (3 s), 700 ms
#    ends a send after 700 ms (never the shim's 300 ms);
#  - getsockopt(SO_SNDTIMEO) returns, as the first call after connect;
#  - a new program sees on the inherited socket, after exec, fork + exec,
#    vfork + exec, posix_spawn and system();
#  - a process handed the socket by SCM_RIGHTS sees.
# And with no value of its own, a socket closed without a send costs one
# setsockopt (the limit), not two (t_retry_nonblock_mode.sh counts that).
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o "$T/stc" \
    "$(dirname "$0")/clients/sndtimeo_client.c" || fail "sndtimeo_client does not compile"
retry_cfg "$T/lent.ini" "connect_timeout_ms = 300" "retries = 5" "backoff_initial_ms = 100" \
    "jitter = none" "breaker = off"

# run OWN_MS MODE: the client under the shim and strace; OUT gets its output.
# Fails unless its connect took two attempts or more, all under the shim.
run() {
    traced "$T/lent.ini" "$T/$2$1.st" timeout 20 "$T/stc" "$1" "$2" >"$T/$2$1.out" \
        2>"$T/$2$1.err" || { cat "$T/$2$1.err" >&2; fail "$2 $1: the client failed"; }
    OUT=$(cat "$T/$2$1.out")
    local port n
    port=$(sed -n 's/^port=//p' <<<"$OUT")
    [ -n "$port" ] || fail "$2 $1: no port in: $OUT"
    n=$(conns "$T/$2$1.st" "$port" | wc -l)
    [ "$n" -ge 2 ] || fail "$2 $1: $n connect attempt(s), expected a retried connect"
    note "own $1, $2: $(tr '\n' ' ' <<<"$OUT")($n attempts)"
}
val() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" <<<"$OUT" | head -n 1; }
between() { [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1: $2 not in [$3, $4]"; }

# Sends first, nothing else on the socket before them.
run 0 send
assert_eq "no own SO_SNDTIMEO: the send blocks until the signal" EINTR "$(val end)"
between "no own SO_SNDTIMEO: the longest send's ms" "$(val max_ms)" 2500 8000
assert_eq "no own SO_SNDTIMEO: getsockopt after the sends" 0 "$(val get)"
# (A send that moves a few bytes returns early: the longest is the timeout.)
run 700 send
between "own 700 ms: the longest send's ms" "$(val max_ms)" 650 1900
assert_eq "own 700 ms: getsockopt after the sends" 700 "$(val get)"

# getsockopt first.
for own in 0 700; do
    run "$own" get
    assert_eq "own $own: getsockopt, first after connect" "$own" "$(val get)"
done

# Another program, or another process, gets the socket next.
for mode in exec fork vfork spawn system; do
    for own in 0 700; do
        run "$own" "$mode"
        assert_eq "own $own, $mode: the new program's getsockopt" "$own" "$(val child_get)"
    done
done
for own in 0 700; do
    run "$own" pass
    assert_eq "own $own: the SCM_RIGHTS receiver's getsockopt" "$own" "$(val recv_get)"
done
echo "ok"
